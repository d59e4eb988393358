"""Plain data <-> protobuf messages, driven by the type model (see ``_descriptors``).

:func:`put` sets a message field from plain data (a method's result, a client's
arguments); :func:`get` reads one back as plain data with the Python names (a call's
arguments, a client's result).  Both follow the shapes :mod:`._descriptors` declares:
repeated fields, maps, messages for structs, one-field wrapper messages where protobuf
cannot nest, absent fields for ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    STR,
    ListOf,
    MapOf,
    Optional,
    Struct,
    TypeSpec,
)

__all__ = ["SCALARS", "get", "put"]

#: The scalar specs: a protobuf scalar field each.
SCALARS = frozenset((INT64, FLOAT64, BOOL, STR, BYTES))
_SCALARS = SCALARS


def put(message: Any, name: str, spec: TypeSpec, value: Any) -> None:
    """Set field ``name`` of ``message`` (of type ``spec``) to plain ``value``."""
    if value is None:
        return  # absent
    if isinstance(spec, Optional):
        spec = spec.inner
        if isinstance(spec, ListOf | MapOf):  # held by a wrapper message
            wrapper = getattr(message, name)
            wrapper.SetInParent()
            put(wrapper, "items", spec, value)
            return
    if spec in _SCALARS:
        setattr(message, name, value)
    elif isinstance(spec, Struct):
        _put_element(getattr(message, name), spec, value)
    elif isinstance(spec, ListOf):
        repeated = getattr(message, name)
        if spec.item in _SCALARS:
            repeated.extend(value)
        else:
            for item in value:
                _put_element(repeated.add(), spec.item, item)
    elif isinstance(spec, MapOf):
        mapping = getattr(message, name)
        if spec.value in _SCALARS:
            mapping.update(value)
        else:
            for key, item in value.items():
                _put_element(mapping[key], spec.value, item)
    else:  # pragma: no cover - every spec is handled above
        raise TypeError(f"not a TypeSpec: {spec!r}")


def _put_element(sub: Any, spec: TypeSpec, value: Any) -> None:
    """Fill ``sub``, the message standing for a struct or a wrapped value."""
    sub.SetInParent()
    if isinstance(spec, Struct):
        get_value = value.get if isinstance(value, Mapping) else (
            lambda key: getattr(value, key, None))
        for f in spec.fields:
            put(sub, f.name, f.spec, get_value(f.name))
    elif isinstance(spec, Optional):
        put(sub, "value", spec, value)
    elif value is not None:
        put(sub, "items", spec, value)


def get(message: Any, name: str, spec: TypeSpec) -> Any:
    """Field ``name`` of ``message`` (of type ``spec``) as plain data (``None``: absent
    optional)."""
    if isinstance(spec, Optional):
        if not message.HasField(name):
            return None
        spec = spec.inner
        if isinstance(spec, ListOf | MapOf):
            return get(getattr(message, name), "items", spec)
    if spec in _SCALARS:
        return getattr(message, name)
    if isinstance(spec, Struct):
        return _get_element(getattr(message, name), spec)
    if isinstance(spec, ListOf):
        repeated = getattr(message, name)
        if spec.item in _SCALARS:
            return list(repeated)
        return [_get_element(item, spec.item) for item in repeated]
    if isinstance(spec, MapOf):
        mapping = getattr(message, name)
        if spec.value in _SCALARS:
            return dict(mapping)
        return {key: _get_element(item, spec.value) for key, item in mapping.items()}
    raise TypeError(f"not a TypeSpec: {spec!r}")  # pragma: no cover


def _get_element(sub: Any, spec: TypeSpec) -> Any:
    if isinstance(spec, Struct):
        return {f.name: get(sub, f.name, f.spec) for f in spec.fields}
    if isinstance(spec, Optional):
        return get(sub, "value", spec)
    return get(sub, "items", spec)
