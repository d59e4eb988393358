"""The RPC service core: lookup errors with Go's texts, signature checks, int64 semantics."""

from __future__ import annotations

import pytest

from netsuite.rpc import (
    INT64_MAX,
    INT64_MIN,
    SERVICE,
    IllFormedName,
    Int64Overflow,
    InvalidParams,
    Registry,
    UnknownMethod,
    UnknownService,
)


def test_sum_positional_and_struct() -> None:
    assert SERVICE.call("Algorithm.Sum", [1, 2]) == 3
    assert SERVICE.call("Algorithm.Sum", {"X": 5, "Y": -7}) == -2
    assert SERVICE.call("Algorithm.Sum", {"x": 5, "y": 7}) == 12


def test_sum_int64_edges() -> None:
    assert SERVICE.call("Algorithm.Sum", [INT64_MAX, 0]) == INT64_MAX
    assert SERVICE.call("Algorithm.Sum", [INT64_MIN, 0]) == INT64_MIN
    with pytest.raises(Int64Overflow, match="overflow"):
        SERVICE.call("Algorithm.Sum", [INT64_MAX, 1])
    with pytest.raises(Int64Overflow):
        SERVICE.call("Algorithm.Sum", [INT64_MIN, -1])


def test_get_skill_is_the_books_string() -> None:
    assert SERVICE.call("Programmer.GetSkill", ["a", "b"]) == "Skill1:a，Skill2b"
    assert SERVICE.call("Programmer.GetSkill", {"Java": "J", "Go": "G"}) == "Skill1:J，Skill2G"


@pytest.mark.parametrize(
    ("name", "error", "text"),
    [
        ("Nope.Sum", UnknownService, "rpc: can't find service Nope.Sum"),
        ("Algorithm.Nope", UnknownMethod, "rpc: can't find method Algorithm.Nope"),
        ("nodot", IllFormedName, "rpc: service/method request ill-formed: nodot"),
    ],
)
def test_lookup_errors_use_go_texts(name: str, error: type, text: str) -> None:
    with pytest.raises(error) as info:
        SERVICE.call(name, [1, 2])
    assert str(info.value) == text


@pytest.mark.parametrize(
    "args",
    [[1], [1, 2, 3], ["1", 2], [True, 1], [1.5, 1], [2**63, 0], {"X": 1}, {"X": 1, "Z": 2},
     {"X": 1, "x": 2, "Y": 3}, "12", None],
)
def test_bad_params(args: object) -> None:
    with pytest.raises(InvalidParams):
        SERVICE.call("Algorithm.Sum", args)  # type: ignore[arg-type]


def test_go_struct_semantics() -> None:
    """Go's decoders fold case, ignore unknown fields and zero missing ones."""
    assert SERVICE.call("Algorithm.Sum", {"x": 1, "Extra": 9}, go_struct=True) == 1
    assert SERVICE.call("Programmer.GetSkill", {"JAVA": "j"}, go_struct=True) == "Skill1:j，Skill2"
    with pytest.raises(InvalidParams):
        SERVICE.call("Algorithm.Sum", {"X": "1"}, go_struct=True)


def test_register_own_method() -> None:
    registry = Registry()

    @registry.register("Algorithm.Mul", [("x", int), ("y", int)], int, "Multiply.")
    def mul(x: int, y: int) -> int:
        return x * y

    assert registry.call("Algorithm.Mul", [6, 7]) == 42
    assert registry.names() == ["Algorithm.Mul"]
    with pytest.raises(Int64Overflow):
        registry.call("Algorithm.Mul", [2**62, 4])
    with pytest.raises(ValueError):
        registry.register("Algorithm.Mul", [], int, "again")
    with pytest.raises(ValueError):
        registry.register("NoDot", [], int, "bad")


def test_param_parse() -> None:
    method = SERVICE.lookup("Algorithm.Sum")
    assert [p.parse(t) for p, t in zip(method.params, ["12", "-0x10"], strict=True)] == [12, -16]
    with pytest.raises(InvalidParams):
        method.params[0].parse("twelve")
    assert [p.go_name for p in method.params] == ["X", "Y"]


def test_observers_see_every_call() -> None:
    registry = Registry()
    registry.register("Algorithm.Sum", [("x", int), ("y", int)], int, "Add.")(
        lambda x, y: x + y
    )
    seen: list[tuple[str, str, str]] = []
    registry.observers.append(lambda t, m, o, s: seen.append((t, m, o)) if s >= 0 else None)
    assert registry.call("Algorithm.Sum", [1, 2], transport="amp") == 3
    with pytest.raises(InvalidParams):
        registry.call("Algorithm.Sum", [1], transport="xmlrpc")
    with pytest.raises(UnknownMethod):
        registry.call("Algorithm.Div", [1, 2], transport="jsonrpc")
    with pytest.raises(Int64Overflow):
        registry.call("Algorithm.Sum", [INT64_MAX, 1])
    assert seen == [
        ("amp", "Algorithm.Sum", "ok"),
        ("xmlrpc", "Algorithm.Sum", "bad-params"),
        ("jsonrpc", "Algorithm.Div", "unknown-method"),
        ("direct", "Algorithm.Sum", "application-error"),
    ]


def test_refused_tells_observers() -> None:
    registry = Registry()
    registry.refused("A.B", InvalidParams("x"), transport="amp")  # no observer: nothing to do
    seen: list[tuple[str, str, str, float]] = []
    registry.observers.append(lambda *a: seen.append(a))
    registry.refused("A.B", InvalidParams("x"), transport="amp")
    registry.refused("A.C", UnknownMethod("A.C"), transport="jsonrpc")
    assert seen == [("amp", "A.B", "bad-params", 0.0), ("jsonrpc", "A.C", "unknown-method", 0.0)]
