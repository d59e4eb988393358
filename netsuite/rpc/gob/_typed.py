"""The type model on gob: Go's real types for a method's parameters and result.

Each :class:`~netsuite.rpc._types.TypeSpec` travels as the Go type a ``net/rpc`` client
declares for it: ``int64``, ``float64``, ``bool``, ``string``, ``[]byte``, ``[]T``,
``map[string]T``, a struct whose field names are the Python names with the first letter
upper-cased (``sku`` -> ``Sku``), and ``T | None`` as ``*T`` (nil: the field is left out,
as Go's encoder leaves it out; Go's encoder also leaves out zero values, so an optional
received as its zero value -- ``0``, ``""``, empty -- is ``None`` too).  A call's arguments
are one struct of the parameters (``MoveArgs{P Point; By []int64}``); the reply is a value
of the result type.

:func:`gob_type` gives the gob description of a spec (for the :class:`Encoder`; its struct
fields carry the Python name as ``key``, so results need no renaming);
:func:`from_gob` turns a decoded gob value back into plain data with Python names, the way
Go's decoder fills a struct: fields matched by name (exactly, then ignoring case), unknown
fields ignored, a field not sent takes its zero value.  Strings must be UTF-8 (a Go string
may hold any bytes; a method receives text).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from netsuite.rpc._errors import InvalidParams
from netsuite.rpc._registry import Method
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    STR,
    ListOf,
    MapOf,
    Optional,
    TypeSpec,
    zero_value,
)
from netsuite.rpc._types import Struct as SpecStruct
from netsuite.rpc.gob._wiretypes import BOOL as GOB_BOOL
from netsuite.rpc.gob._wiretypes import BYTES as GOB_BYTES
from netsuite.rpc.gob._wiretypes import (
    FLOAT,
    INT,
    STRING,
    Field,
    GobType,
    Map,
    Slice,
    Struct,
    StructValue,
)

__all__ = ["args_type", "from_gob", "go_name", "gob_type", "params_struct"]

_SCALARS: dict[TypeSpec, GobType] = {INT64: INT, FLOAT64: FLOAT, BOOL: GOB_BOOL, STR: STRING,
                                     BYTES: GOB_BYTES}


def go_name(name: str) -> str:
    """A Go field name: the first letter upper-cased (``sku`` -> ``Sku``)."""
    return name[:1].upper() + name[1:]


@functools.cache
def gob_type(spec: TypeSpec) -> GobType:
    """The gob type of ``spec`` (an optional is its inner type: Go's pointers are
    transparent to gob; nil is a field left out)."""
    scalar = _SCALARS.get(spec)
    if scalar is not None:
        return scalar
    if isinstance(spec, Optional):
        return gob_type(spec.inner)
    if isinstance(spec, ListOf):
        return Slice(gob_type(spec.item))
    if isinstance(spec, MapOf):
        return Map(STRING, gob_type(spec.value))
    if isinstance(spec, SpecStruct):
        return Struct(spec.name, tuple(Field(go_name(f.name), gob_type(f.spec), key=f.name)
                                       for f in spec.fields))
    raise TypeError(f"not a TypeSpec: {spec!r}")


def params_struct(method: Method) -> SpecStruct:
    """The parameters of ``method`` as one struct spec (the arguments' Go struct)."""
    from netsuite.rpc._types import Field as SpecField

    return SpecStruct(dict, args_name(method),
                      tuple(SpecField(p.name, p.spec, p.default) for p in method.params))


def args_name(method: Method) -> str:
    """The Go name of a method's arguments struct: ``Args`` for the book's Sum (as the
    book's Go client names it), else ``<Method>Args`` (``MoveArgs``)."""
    return "Args" if method.name == "Algorithm.Sum" else method.method + "Args"


def args_type(method: Method) -> Struct:
    """The gob struct a client sends a method's arguments in (``Args{X, Y int64}``)."""
    return gob_type(params_struct(method))


def _needs_walk(spec: TypeSpec) -> bool:
    """Whether decoded gob data of this spec differs from the plain data a check expects
    (structs: Go names; strings: UTF-8 to verify; nil slices and maps; optionals)."""
    return not (spec is INT64 or spec is FLOAT64 or spec is BOOL or spec is BYTES)


def from_gob(spec: TypeSpec, value: Any, path: str) -> Any:
    """A decoded gob value as the plain data :func:`~netsuite.rpc._types.check` takes.

    Struct fields are renamed from their Go names; a field the sender left out (Go leaves
    out zero values) gets its zero value -- or is left out where the Python field has a
    default --; a nil slice or map is empty; a string that is not UTF-8 is
    :class:`InvalidParams` naming its path.  Types are not checked here: ``check`` does
    that next, with the same paths.
    """
    if spec is STR:
        if type(value) is str and not value.isascii():
            _check_utf8(value, path)
        return value
    if not _needs_walk(spec):
        return value
    if isinstance(spec, Optional):
        # gob leaves out nil pointers and zero values alike: both are None here.
        if value is None or (type(value) is not StructValue and not value):
            return None
        return from_gob(spec.inner, value, path)
    if isinstance(spec, ListOf):
        if value is None:
            return []
        if not isinstance(value, list):
            return value
        if not _needs_walk(spec.item):
            return value
        return [from_gob(spec.item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(spec, MapOf):
        if value is None:
            return {}
        if not isinstance(value, dict):
            return value
        for key in value:
            if type(key) is str and not key.isascii():
                _check_utf8(key, f"{path} (a key)")
        if not _needs_walk(spec.value):
            return value
        return {k: from_gob(spec.value, v, f"{path}[{k!r}]") for k, v in value.items()}
    if isinstance(spec, SpecStruct):
        if value is None:
            return zero_value(spec)
        if not isinstance(value, Mapping):
            return value
        return from_gob_struct(spec, value, path)
    return value


def from_gob_struct(spec: SpecStruct, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A decoded gob struct as a mapping of ``spec``'s Python field names (see
    :func:`from_gob`); ``path`` is the struct's own path (``""`` for a call's arguments,
    whose fields are then named by themselves)."""
    folded: dict[str, Any] | None = None
    out: dict[str, Any] = {}
    for f in spec.fields:
        name = go_name(f.name)
        if name in value:
            item = value[name]
        else:
            if folded is None:
                folded = {str(k).lower(): v for k, v in value.items()}
            lower = f.name.lower()
            if lower in folded:
                item = folded[lower]
            elif f.required:
                item = zero_value(f.spec)
            else:
                continue
        out[f.name] = from_gob(f.spec, item, f"{path}.{f.name}" if path else f.name)
    return out


def _check_utf8(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParams(f"{path}: invalid UTF-8 in a string") from None
