"""Checking values against the type model: wire values in, plain data out.

:func:`check` turns a decoded wire value into the Python value a method receives (strict,
with the path of a bad value in the :class:`~netsuite.rpc.InvalidParams`);
:func:`to_plain` turns a method's result into plain data for an encoder (a wrong result is
an :class:`~netsuite.rpc.InternalError`).  A value that plainly has its type is checked by
closures compiled once per type (:mod:`._typecompile`); anything else is walked here.
Both are re-exported by :mod:`netsuite.rpc._types`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from netsuite.rpc._errors import Int64Overflow, InternalError, InvalidParams, RpcError
from netsuite.rpc._limits import MAX_DEPTH
from netsuite.rpc._typecompile import CHECKS, PLAINS, Doubt, compiled
from netsuite.rpc._types import (
    INT64,
    INT64_MAX,
    INT64_MIN,
    STR,
    Bool,
    Bytes,
    Float64,
    Int64,
    ListOf,
    MapOf,
    Optional,
    Str,
    Struct,
    TypeSpec,
    type_name,
)

__all__ = ["check", "to_plain"]


def check(spec: TypeSpec, value: Any, path: str, *, max_depth: int | None = None) -> Any:
    """``value`` (decoded from a wire) as the Python value a method receives.

    Structs come as a mapping of field names (or as an instance already) and are built;
    ``float`` takes an ``int``; everything else must already have its type.  A mismatch is
    :class:`~netsuite.rpc.InvalidParams` naming the path (``p.x: expected int64, got str``).
    """
    kind = type(value)
    if (kind is int and spec is INT64 and INT64_MIN <= value <= INT64_MAX) or (
            kind is str and spec is STR):
        return value  # the common case, without a walk
    if max_depth is None:
        checked = _compiled(CHECKS, spec, value, False)
        if checked is not _UNSEEN:
            return checked
    return _Walk(InvalidParams, False, _depth(max_depth)).walk(spec, value, path, 0)


def to_plain(spec: TypeSpec, value: Any, path: str = "result", *,
             max_depth: int | None = None) -> Any:
    """A method's result as plain data for an encoder: structs become ``dict`` s of field
    names, lists ``list`` s, an optional's ``None`` stays ``None``.

    A value of the wrong type is :class:`~netsuite.rpc.InternalError` naming the path; an
    integer outside the signed 64-bit range is :class:`~netsuite.rpc.Int64Overflow`.
    """
    kind = type(value)
    if (kind is int and spec is INT64 and INT64_MIN <= value <= INT64_MAX) or (
            kind is str and spec is STR):
        return value  # the common case, without a walk
    if max_depth is None:
        checked = _compiled(PLAINS, spec, value, True)
        if checked is not _UNSEEN:
            return checked
    return _Walk(InternalError, True, _depth(max_depth)).walk(spec, value, path, 0)


_UNSEEN: Any = object()


def _compiled(cache: dict[TypeSpec, Any], spec: TypeSpec, value: Any, plain: bool) -> Any:
    """``value`` through the compiled checker of ``spec``; ``_UNSEEN`` when it must be
    walked (the checker doubts it, or the type has none)."""
    checker = cache.get(spec, _UNSEEN)
    if checker is _UNSEEN:
        checker = compiled(spec, plain)
    if checker is not None:
        try:
            return checker(value)
        except Doubt:
            pass  # the walk says what is wrong
    return _UNSEEN


def _depth(max_depth: int | None) -> int:
    return MAX_DEPTH if max_depth is None else max_depth


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, Mapping):
        return "struct"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__qualname__


@attrs.frozen
class _Walk:
    """One walk over a value: :func:`check` (to Python values) or :func:`to_plain`."""

    error: type[RpcError]
    plain: bool
    max_depth: int

    def fail(self, path: str, spec: TypeSpec, value: Any) -> RpcError:
        return self.error(f"{path}: expected {type_name(spec)}, got {_kind(value)}")

    def walk(self, spec: TypeSpec, value: Any, path: str, depth: int) -> Any:
        if depth > self.max_depth:
            raise self.error(f"{path}: nested deeper than {self.max_depth} levels")
        handler = _HANDLERS.get(type(spec))
        if handler is None:
            raise TypeError(f"not a TypeSpec: {spec!r}")
        return handler(self, spec, value, path, depth)

    def int64(self, spec: TypeSpec, value: Any, path: str, depth: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, spec, value)
        if not INT64_MIN <= value <= INT64_MAX:
            text = f"{path}: {value} is outside the signed 64-bit range"
            raise Int64Overflow(f"integer overflow: {text}") if self.plain else self.error(
                f"{path}: expected int64, {value} is outside the signed 64-bit range")
        return int(value)

    def float64(self, spec: TypeSpec, value: Any, path: str, depth: int) -> float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise self.error(f"{path}: {value} is too large for float64") from None
        raise self.fail(path, spec, value)

    def bool_(self, spec: TypeSpec, value: Any, path: str, depth: int) -> bool:
        if isinstance(value, bool):
            return value
        raise self.fail(path, spec, value)

    def str_(self, spec: TypeSpec, value: Any, path: str, depth: int) -> str:
        if isinstance(value, str):
            return value
        raise self.fail(path, spec, value)

    def bytes_(self, spec: TypeSpec, value: Any, path: str, depth: int) -> bytes:
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        raise self.fail(path, spec, value)

    def list_(self, spec: ListOf, value: Any, path: str, depth: int) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise self.fail(path, spec, value)
        return [self.walk(spec.item, v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]

    def map_(self, spec: MapOf, value: Any, path: str, depth: int) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, spec, value)
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise self.error(f"{path}: map key {k!r} is not a string")
            out[k] = self.walk(spec.value, v, f"{path}[{json.dumps(k, ensure_ascii=False)}]",
                               depth + 1)
        return out

    def optional(self, spec: Optional, value: Any, path: str, depth: int) -> Any:
        if value is None:
            return None
        return self.walk(spec.inner, value, path, depth)

    def struct(self, spec: Struct, value: Any, path: str, depth: int) -> Any:
        if isinstance(value, spec.cls):
            given = {f.name: getattr(value, f.attr) for f in spec.fields}
        elif isinstance(value, Mapping):
            given = dict(value)
            known = {f.name for f in spec.fields}
            for key in given:
                if key not in known:
                    raise self.error(f"{path}: unknown field {key}")
        else:
            raise self.fail(path, spec, value)
        values: dict[str, Any] = {}
        for f in spec.fields:
            if f.name in given:
                values[f.name] = self.walk(f.spec, given[f.name], f"{path}.{f.name}", depth + 1)
            elif f.required:
                raise self.error(f"{path}: missing field {f.name}")
            elif self.plain:
                default = f.default
                values[f.name] = self.walk(
                    f.spec, default.factory() if isinstance(default, attrs.Factory) else default,
                    f"{path}.{f.name}", depth + 1)
        if self.plain:
            return values
        try:
            return spec.cls(**values)
        except (TypeError, ValueError) as e:  # the class's own validators
            raise self.error(f"{path}: {e}") from None


_HANDLERS: Final[dict[type, Callable[..., Any]]] = {
    Int64: _Walk.int64,
    Float64: _Walk.float64,
    Bool: _Walk.bool_,
    Str: _Walk.str_,
    Bytes: _Walk.bytes_,
    ListOf: _Walk.list_,
    MapOf: _Walk.map_,
    Optional: _Walk.optional,
    Struct: _Walk.struct,
}
