"""The type model's checks compiled once per type: the walk of :mod:`._typecheck` without
its bookkeeping, for the values that pass.

:func:`compiled` turns a :class:`~netsuite.rpc._types.TypeSpec` into one closure per node,
built once and kept: ``checker(value)`` returns what the walk would return for a value that
is plainly of its type (exact ``int``/``str``/``list``/``dict``..., every struct field
known, the class's constructor content) and raises :class:`Doubt` for anything else --
a wrong type, an int out of range, a missing field, a subclass, a constructor refusing.
The caller then walks the value as before, so errors (their class, text and path) come
from the walk alone and the closures carry no path.  A type nested deeper than the depth
limit gets no closures (``None``): only the walk knows which values hit the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from netsuite.rpc._limits import MAX_DEPTH
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    INT64_MAX,
    INT64_MIN,
    STR,
    ListOf,
    MapOf,
    Optional,
    Struct,
    TypeSpec,
)

__all__ = ["CHECKS", "PLAINS", "Doubt", "compiled"]

Checker = Callable[[Any], Any]


class Doubt(Exception):
    """The value is not plainly of its type: walk it for the exact outcome."""


_DOUBT = Doubt()


def _int64(value: Any) -> Any:
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    raise _DOUBT


def _float64(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            raise _DOUBT from None
    raise _DOUBT


def _bool(value: Any) -> Any:
    if value is True or value is False:
        return value
    raise _DOUBT


def _str(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _DOUBT


def _bytes(value: Any) -> Any:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is bytearray:
        return bytes(value)
    raise _DOUBT


_SCALARS: dict[TypeSpec, Checker] = {INT64: _int64, FLOAT64: _float64, BOOL: _bool,
                                     STR: _str, BYTES: _bytes}


def _depth(spec: TypeSpec) -> int:
    """The deepest nesting a value of ``spec`` can have (as the walk counts it)."""
    if isinstance(spec, ListOf):
        return 1 + _depth(spec.item)
    if isinstance(spec, MapOf):
        return 1 + _depth(spec.value)
    if isinstance(spec, Optional):
        return _depth(spec.inner)
    if isinstance(spec, Struct):
        return 1 + max((_depth(f.spec) for f in spec.fields), default=-1)
    return 0


def _list(item: Checker) -> Checker:
    def check(value: Any) -> Any:
        kind = type(value)
        if kind is list or kind is tuple:
            return [item(v) for v in value]
        raise _DOUBT

    return check


def _map(item: Checker) -> Checker:
    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise _DOUBT
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _DOUBT
            out[k] = item(v)
        return out

    return check


def _optional(inner: Checker) -> Checker:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _struct(spec: Struct, plain: bool) -> Checker:
    cls = spec.cls
    fields = [(f.name, f.attr, _build(f.spec, plain), f.required, f.default)
              for f in spec.fields]
    known = frozenset(f.name for f in spec.fields)

    def check(value: Any) -> Any:
        if isinstance(value, cls):
            given = {name: getattr(value, attr) for name, attr, *_ in fields}
        elif type(value) is dict:
            if not known.issuperset(value):
                raise _DOUBT  # an unknown field
            given = value
        else:
            raise _DOUBT
        values = {}
        for name, _, field, required, default in fields:
            if name in given:
                values[name] = field(given[name])
            elif required:
                raise _DOUBT
            elif plain:
                values[name] = field(default.factory() if isinstance(default, attrs.Factory)
                                     else default)
        if plain:
            return values
        try:
            return cls(**values)
        except (TypeError, ValueError):  # the class's own validators: the walk says why
            raise _DOUBT from None

    return check


def _build(spec: TypeSpec, plain: bool) -> Checker:
    scalar = _SCALARS.get(spec)
    if scalar is not None:
        return scalar
    if isinstance(spec, ListOf):
        return _list(_build(spec.item, plain))
    if isinstance(spec, MapOf):
        return _map(_build(spec.value, plain))
    if isinstance(spec, Optional):
        return _optional(_build(spec.inner, plain))
    if isinstance(spec, Struct):
        return _struct(spec, plain)
    raise TypeError(f"not a TypeSpec: {spec!r}")


#: The checkers made so far, by type (``None``: nested too deep), for check / to_plain.
CHECKS: dict[TypeSpec, Checker | None] = {}
PLAINS: dict[TypeSpec, Checker | None] = {}


def compiled(spec: TypeSpec, plain: bool) -> Checker | None:
    """The checker of ``spec``: for :func:`~._typecheck.check` (``plain`` false: structs
    built) or :func:`~._typecheck.to_plain` (``plain``: structs as dicts, defaults
    filled in); ``None`` for a type nested deeper than the limit."""
    cache = PLAINS if plain else CHECKS
    try:
        return cache[spec]
    except KeyError:
        pass
    checker = _build(spec, plain) if _depth(spec) <= MAX_DEPTH else None
    cache[spec] = checker
    return checker
