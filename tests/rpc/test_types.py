"""The type model: annotations to specs, strict checks with paths, results to plain data."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsuite.rpc import INT64_MAX, INT64_MIN, Int64Overflow, InternalError, InvalidParams
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    MISSING,
    STR,
    Field,
    ListOf,
    MapOf,
    Optional,
    Struct,
    check,
    go_type_name,
    spec_from_annotation,
    to_plain,
    type_name,
    zero_value,
)


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    scale: float = 1.0
    note: str | None = None


@attrs.define
class Item:
    sku: str
    qty: int = 1
    blob: bytes = b""
    _secret: bool = False


@dataclasses.dataclass
class Node:
    value: int
    next: Node | None = None


@dataclasses.dataclass
class BadField:
    ids: set[int]


def spec(annotation: Any) -> Any:
    return spec_from_annotation(annotation, "parameter 'p' of Geo.Move")


# ---------------------------------------------------------------- annotations

@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int, INT64), (float, FLOAT64), (bool, BOOL), (str, STR), (bytes, BYTES),
        (list[int], ListOf(INT64)), (dict[str, float], MapOf(FLOAT64)),
        (int | None, Optional(INT64)), (typing.Optional[str], Optional(STR)),  # noqa: UP045
        (list[dict[str, bytes | None]], ListOf(MapOf(Optional(BYTES)))),
    ],
)
def test_spec_of_supported_annotations(annotation: Any, expected: Any) -> None:
    assert spec(annotation) == expected


def test_spec_of_dataclass_nested_with_defaults() -> None:
    shape = spec(Shape)
    assert isinstance(shape, Struct) and shape.cls is Shape and shape.name == "Shape"
    names = [f.name for f in shape.fields]
    assert names == ["name", "points", "tags", "scale", "note"]
    point = shape.fields[1].spec
    assert point == ListOf(Struct(Point, "Point", (Field("x", INT64), Field("y", INT64))))
    assert shape.fields[0].required and not shape.fields[2].required
    assert isinstance(shape.fields[2].default, attrs.Factory)
    assert shape.fields[3].default == 1.0 and shape.fields[4].default is None
    assert shape.fields[4].spec == Optional(STR)


def test_spec_of_attrs_class_uses_init_names() -> None:
    item = spec(Item)
    assert [(f.name, f.attr, f.default) for f in item.fields] == [
        ("sku", "sku", MISSING), ("qty", "qty", 1), ("blob", "blob", b""),
        ("secret", "_secret", False)]


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        (set[int], "set[int]"), (tuple[int, int], "tuple[int, int]"), (dict[int, str],
         "dict[int, str]"), (int | str, "int | str"), (list, "list"), (Any, "Any"),
        (complex, "complex"), (type(None), "None"), (list[set[int]], "set[int]"),
    ],
)
def test_unsupported_annotation_names_the_parameter(annotation: Any, shown: str) -> None:
    with pytest.raises(TypeError) as info:
        spec(annotation)
    text = str(info.value)
    assert text.startswith("parameter 'p' of Geo.Move")
    assert f"unsupported type {shown}" in text


def test_unsupported_field_names_the_field() -> None:
    with pytest.raises(TypeError, match=r"field BadField.ids\): unsupported type set\[int\]"):
        spec(BadField)


def test_recursive_struct_is_refused() -> None:
    with pytest.raises(TypeError, match="recursive struct Node"):
        spec(Node)


# ---------------------------------------------------------------- check

@pytest.mark.parametrize(
    ("s", "value", "error"),
    [
        (INT64, True, "p: expected int64, got bool"),
        (INT64, 1.0, "p: expected int64, got float"),
        (INT64, "1", "p: expected int64, got string"),
        (INT64, 2**63, "p: expected int64, 9223372036854775808 is outside the signed 64-bit"),
        (INT64, -(2**63) - 1, "p: expected int64, -9223372036854775809 is outside"),
        (BOOL, 1, "p: expected bool, got integer"),
        (BOOL, 0, "p: expected bool, got integer"),
        (FLOAT64, True, "p: expected float64, got bool"),
        (FLOAT64, "1.5", "p: expected float64, got string"),
        (FLOAT64, 10**400, "p: 1000"),
        (STR, b"x", "p: expected string, got bytes"),
        (BYTES, "x", "p: expected []byte, got string"),
        (ListOf(INT64), "12", "p: expected []int64, got string"),
        (ListOf(INT64), [1, "2"], "p[1]: expected int64, got string"),
        (MapOf(STR), {"a": 1}, 'p["a"]: expected string, got integer'),
        (MapOf(STR), {1: "a"}, "p: map key 1 is not a string"),
        (MapOf(STR), [], "p: expected map[string]string, got list"),
        (Optional(INT64), "x", "p: expected int64, got string"),
    ],
)
def test_check_refuses_with_path(s: Any, value: Any, error: str) -> None:
    with pytest.raises(InvalidParams) as info:
        check(s, value, "p")
    assert str(info.value).startswith(error)


def test_check_struct_paths() -> None:
    shape = spec(Shape)
    with pytest.raises(InvalidParams, match=r"^p\.points\[1\]\.x: expected int64, got bool$"):
        check(shape, {"name": "a", "points": [{"x": 1, "y": 2}, {"x": True, "y": 2}]}, "p")
    with pytest.raises(InvalidParams, match=r"^p\.points\[0\]: missing field y$"):
        check(shape, {"name": "a", "points": [{"x": 1}]}, "p")
    with pytest.raises(InvalidParams, match=r"^p: unknown field colour$"):
        check(shape, {"name": "a", "points": [], "colour": "red"}, "p")
    with pytest.raises(InvalidParams, match=r'^p\.tags\["k"\]: expected string, got null$'):
        check(shape, {"name": "a", "points": [], "tags": {"k": None}}, "p")
    with pytest.raises(InvalidParams, match=r"^p: expected Shape, got list$"):
        check(shape, [], "p")


def test_check_builds_instances_with_defaults() -> None:
    shape = check(spec(Shape), {"name": "tri", "points": [{"x": 1, "y": 2}], "scale": 2}, "p")
    assert shape == Shape("tri", [Point(1, 2)], {}, 2.0, None)
    assert type(shape.scale) is float  # an int is converted where a float is wanted
    item = check(spec(Item), {"sku": "a", "secret": True}, "p")
    assert item == Item("a", 1, b"", True)


def test_check_accepts_and_rechecks_instances() -> None:
    assert check(spec(Point), Point(1, 2), "p") == Point(1, 2)
    with pytest.raises(InvalidParams, match=r"^p\.x: expected int64, got string$"):
        check(spec(Point), Point("1", 2), "p")  # type: ignore[arg-type]


def test_check_scalars_pass_through() -> None:
    assert check(INT64, INT64_MAX, "p") == INT64_MAX
    assert check(INT64, INT64_MIN, "p") == INT64_MIN
    assert check(FLOAT64, 3, "p") == 3.0 and type(check(FLOAT64, 3, "p")) is float
    assert math.isnan(check(FLOAT64, math.nan, "p"))
    assert check(FLOAT64, -math.inf, "p") == -math.inf
    assert check(BOOL, False, "p") is False
    assert check(BYTES, bytearray(b"ab"), "p") == b"ab"
    assert check(Optional(STR), None, "p") is None
    assert check(ListOf(STR), ("a", "b"), "p") == ["a", "b"]


def test_check_depth_is_bounded() -> None:
    deep: Any = INT64
    value: Any = 1
    for _ in range(5):
        deep, value = ListOf(deep), [value]
    assert check(deep, value, "p", max_depth=5) == value
    with pytest.raises(InvalidParams, match="nested deeper than 4 levels"):
        check(deep, value, "p", max_depth=4)


# ---------------------------------------------------------------- to_plain

def test_to_plain_of_struct_results() -> None:
    shape = Shape("sq", [Point(0, 0), Point(1, 1)], {"c": "red"})
    assert to_plain(spec(Shape), shape) == {
        "name": "sq", "points": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "tags": {"c": "red"},
        "scale": 1.0, "note": None}
    assert to_plain(spec(Item), Item("a", secret=True)) == {
        "sku": "a", "qty": 1, "blob": b"", "secret": True}
    # A mapping is accepted for a struct result, its defaults filled in.
    assert to_plain(spec(Shape), {"name": "x", "points": []})["tags"] == {}


def test_to_plain_refuses_wrong_results_as_internal() -> None:
    with pytest.raises(InternalError, match=r"^result\.points\[0\]\.y: expected int64, got str"):
        to_plain(spec(Shape), Shape("sq", [Point(0, "0")]))  # type: ignore[arg-type]
    with pytest.raises(InternalError, match=r"^result: expected string, got null"):
        to_plain(STR, None)
    with pytest.raises(Int64Overflow, match="outside the signed 64-bit range"):
        to_plain(ListOf(INT64), [INT64_MAX + 1])


def test_round_trip_of_plain_data() -> None:
    shape = Shape("s", [Point(1, 2)], {"a": "b"}, 0.5, "n")
    plain = to_plain(spec(Shape), shape)
    assert check(spec(Shape), plain, "p") == shape


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10))
def test_check_answers_any_value_with_a_value_or_invalid_params(value: Any) -> None:
    """Whatever a wire decodes, check gives a value of the type or InvalidParams."""
    for s in (INT64, FLOAT64, BOOL, STR, BYTES, ListOf(INT64), MapOf(Optional(STR)),
              spec(Shape)):
        try:
            result = check(s, value, "p")
        except InvalidParams as e:
            assert str(e).startswith("p")
        else:
            assert to_plain(s, result) is not None or isinstance(s, Optional)


# ---------------------------------------------------------------- names

@pytest.mark.parametrize(
    ("s", "go", "name"),
    [
        (INT64, "int64", "int64"), (FLOAT64, "float64", "float64"), (BOOL, "bool", "bool"),
        (STR, "string", "string"), (BYTES, "[]byte", "[]byte"),
        (ListOf(INT64), "[]int64", "[]int64"), (MapOf(ListOf(STR)), "map[string][]string",
                                               "map[string][]string"),
        (Optional(INT64), "*int64", "int64 | nil"), (ListOf(Optional(STR)), "[]*string",
                                                     "[]*string"),
    ],
)
def test_type_names(s: Any, go: str, name: str) -> None:
    assert go_type_name(s) == go
    assert type_name(s) == name


def test_struct_names_and_zero_values() -> None:
    assert type_name(spec(Point)) == go_type_name(spec(Point)) == "Point"
    assert zero_value(spec(Shape)) == {"name": "", "points": []}
    assert [zero_value(s) for s in (INT64, FLOAT64, BOOL, STR, BYTES, Optional(INT64))] == [
        0, 0.0, False, "", b"", None]
