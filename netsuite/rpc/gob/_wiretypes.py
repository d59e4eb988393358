"""Gob type descriptions (the Go types a stream carries) and the predefined wire types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "BOOL",
    "BYTES",
    "COMPLEX",
    "FIRST_USER_ID",
    "FLOAT",
    "INT",
    "INTERFACE",
    "STRING",
    "UINT",
    "Array",
    "Builtin",
    "Field",
    "GobType",
    "Map",
    "Opaque",
    "Slice",
    "Struct",
    "StructValue",
    "go_type_string",
]

#: The first type id a stream may define (0-64 are reserved by Go).
FIRST_USER_ID = 65



class GobType:
    """Base of type descriptions: every type has a Go ``name`` (may be empty)."""

    name: str


@attrs.frozen
class Builtin(GobType):
    """One of gob's predefined types (``bool``, ``int``, ``string``...), with its fixed id."""

    id: int
    name: str


BOOL = Builtin(1, "bool")
INT = Builtin(2, "int")
UINT = Builtin(3, "uint")
FLOAT = Builtin(4, "float")
BYTES = Builtin(5, "[]byte")
STRING = Builtin(6, "string")
COMPLEX = Builtin(7, "complex")
INTERFACE = Builtin(8, "interface")
_BUILTINS = {t.id: t for t in (BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX, INTERFACE)}


@attrs.frozen
class Field:
    """A struct field: its Go name and type; ``key`` is the name an encoded value (a mapping
    or an object) holds it by, if not ``name`` (the Python name of a typed field)."""

    name: str
    type: GobType
    key: str | None = None


@attrs.frozen
class Struct(GobType):
    """A Go struct type: a name and its exported fields in order."""

    name: str
    fields: tuple[Field, ...] = attrs.field(converter=tuple)


@attrs.frozen
class Slice(GobType):
    """A slice type ``[]elem``."""

    elem: GobType
    name: str = ""


@attrs.frozen
class Array(GobType):
    """An array type ``[length]elem``."""

    elem: GobType
    length: int
    name: str = ""


@attrs.frozen
class Map(GobType):
    """A map type ``map[key]elem``."""

    key: GobType
    elem: GobType
    name: str = ""


@attrs.frozen
class Opaque(GobType):
    """A GobEncoder / BinaryMarshaler / TextMarshaler type: its value is a byte string."""

    name: str
    kind: str  # "GobEncoder", "BinaryMarshaler" or "TextMarshaler"


class StructValue(dict):  # type: ignore[type-arg]
    """A decoded struct: field name -> value, with the wire type in ``gob_type``."""

    __slots__ = ("gob_type",)

    def __init__(self, gob_type: Struct, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.gob_type = gob_type


def _zero(t: GobType) -> Any:
    if t is BOOL:
        return False
    if t is INT or t is UINT:
        return 0
    if t is FLOAT:
        return 0.0
    if t is COMPLEX:
        return 0j
    if t is STRING:
        return ""
    if t is BYTES or isinstance(t, Opaque):
        return b""
    return None


def go_type_string(t: GobType) -> str:
    """A Go-like spelling of a type, for error messages."""
    if isinstance(t, Builtin):
        return t.name
    if t.name:
        return t.name
    if isinstance(t, Slice):
        return "[]" + go_type_string(t.elem)
    if isinstance(t, Array):
        return f"[{t.length}]" + go_type_string(t.elem)
    if isinstance(t, Map):
        return f"map[{go_type_string(t.key)}]{go_type_string(t.elem)}"
    if isinstance(t, Struct):
        inner = "; ".join(f"{f.name} {go_type_string(f.type)}" for f in t.fields)
        return "struct { " + inner + " }" if inner else "struct {}"
    return t.name


# The wire types of type definitions, predefined on every stream (ids as in Go's type.go).
_COMMON = Struct("CommonType", (Field("Name", STRING), Field("Id", INT)))
_ARRAY_T = Struct("arrayType", (Field("CommonType", _COMMON), Field("Elem", INT),
                                Field("Len", INT)))
_SLICE_T = Struct("sliceType", (Field("CommonType", _COMMON), Field("Elem", INT)))
_FIELD_T = Struct("fieldType", (Field("Name", STRING), Field("Id", INT)))
_FIELDS_T = Slice(_FIELD_T)
_STRUCT_T = Struct("structType", (Field("CommonType", _COMMON), Field("Field", _FIELDS_T)))
_MAP_T = Struct("mapType", (Field("CommonType", _COMMON), Field("Key", INT), Field("Elem", INT)))
_GOBENC_T = Struct("gobEncoderType", (Field("CommonType", _COMMON),))
_WIRE_T = Struct("wireType", (
    Field("ArrayT", _ARRAY_T), Field("SliceT", _SLICE_T), Field("StructT", _STRUCT_T),
    Field("MapT", _MAP_T), Field("GobEncoderT", _GOBENC_T),
    Field("BinaryMarshalerT", _GOBENC_T), Field("TextMarshalerT", _GOBENC_T),
))
_PREDEFINED: dict[int, GobType] = {
    **_BUILTINS, 16: _WIRE_T, 17: _ARRAY_T, 18: _COMMON, 19: _SLICE_T, 20: _STRUCT_T,
    21: _FIELD_T, 22: _FIELDS_T, 23: _MAP_T, 24: _GOBENC_T,
}
_WIRE_FIELDS = {t: i for i, t in enumerate(("ArrayT", "SliceT", "StructT", "MapT"))}
