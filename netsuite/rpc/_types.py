"""The RPC type model: what a method's parameters and result may be, with no wire knowledge.

A :class:`TypeSpec` tree is built once, at registration, from a method's annotations
(:func:`spec_from_annotation`): ``int`` (signed 64-bit), ``float``, ``bool``, ``str``,
``bytes``, ``list[T]``, ``dict[str, T]``, ``T | None`` and dataclasses or attrs classes
whose fields are these types (nested, not recursive).  Anything else is a ``TypeError``
naming where it was found.

Every call then goes through two pure functions (in :mod:`netsuite.rpc._typecheck`,
re-exported here): :func:`check` turns a decoded wire value
(plain ``dict``/``list``/scalars) into the Python value the method receives -- strictly:
``bool`` is never an int, an int is never a ``bool``, an int is a float only where a float is
wanted -- raising :class:`~netsuite.rpc.InvalidParams` with the path of the bad value
(``p.x: expected int64``); :func:`to_plain` turns the method's result back into plain data
for an encoder, and a result of the wrong type is an
:class:`~netsuite.rpc.InternalError` naming its path.  NaN and infinities are floats
here; a wire that cannot carry them refuses them in its own codec.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Final

import attrs

__all__ = [
    "BOOL",
    "BYTES",
    "FLOAT64",
    "INT64",
    "INT64_MAX",
    "INT64_MIN",
    "MISSING",
    "STR",
    "Bool",
    "Bytes",
    "Field",
    "Float64",
    "Int64",
    "ListOf",
    "MapOf",
    "Optional",
    "Str",
    "Struct",
    "TypeSpec",
    "check",
    "go_type_name",
    "spec_from_annotation",
    "to_plain",
    "type_name",
    "zero_value",
]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


class _Missing:
    """The marker of a field or parameter without a default."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: No default: the value must be given.
MISSING: Final = _Missing()


class TypeSpec:
    """Base of every type description."""

    __slots__ = ()


@attrs.frozen(cache_hash=True)
class Int64(TypeSpec):
    """A signed 64-bit integer (Python ``int``)."""


@attrs.frozen(cache_hash=True)
class Float64(TypeSpec):
    """A 64-bit float (Python ``float``; an ``int`` given for it is converted)."""


@attrs.frozen(cache_hash=True)
class Bool(TypeSpec):
    """``True`` or ``False``, never an integer."""


@attrs.frozen(cache_hash=True)
class Str(TypeSpec):
    """A Unicode string."""


@attrs.frozen(cache_hash=True)
class Bytes(TypeSpec):
    """A byte string."""


INT64: Final = Int64()
FLOAT64: Final = Float64()
BOOL: Final = Bool()
STR: Final = Str()
BYTES: Final = Bytes()


@attrs.frozen(cache_hash=True)
class ListOf(TypeSpec):
    """``list[item]``."""

    item: TypeSpec


@attrs.frozen(cache_hash=True)
class MapOf(TypeSpec):
    """``dict[str, value]``: keys are always strings."""

    value: TypeSpec


@attrs.frozen(cache_hash=True)
class Optional(TypeSpec):
    """``inner | None``."""

    inner: TypeSpec


@attrs.frozen(cache_hash=True)
class Field:
    """One field of a :class:`Struct`.

    ``name`` is its name on the wire and in the class's constructor; ``attr`` the attribute
    that holds it (differs only for an attrs private attribute: ``_x`` is built as ``x``).
    ``default`` is :data:`MISSING`, a value, or an ``attrs.Factory``; a field with a default
    may be left out (the class fills it in).
    """

    name: str
    spec: TypeSpec
    default: Any = MISSING
    attr: str = attrs.field(default=attrs.Factory(lambda self: self.name, takes_self=True))

    @property
    def required(self) -> bool:
        """Whether the field must be given."""
        return self.default is MISSING


@attrs.frozen(cache_hash=True)
class Struct(TypeSpec):
    """A dataclass or attrs class: its fields in declaration order."""

    cls: type = attrs.field(repr=lambda c: c.__qualname__)
    name: str
    fields: tuple[Field, ...]


# --------------------------------------------------------------------------- annotations

_SCALARS: Final[dict[Any, TypeSpec]] = {
    int: INT64, float: FLOAT64, bool: BOOL, str: STR, bytes: BYTES,
}


def _show(annotation: Any) -> str:
    """``set[int]``, ``Point``, ``None``: an annotation as a reader wrote it."""
    if annotation is type(None) or annotation is None:
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def spec_from_annotation(annotation: Any, where: str) -> TypeSpec:
    """The :class:`TypeSpec` of a resolved annotation (from ``typing.get_type_hints``).

    ``where`` names what is annotated for the error (``parameter 'p' of Geo.Move``); an
    unsupported annotation is ``TypeError("parameter 'p' of Geo.Move: unsupported type
    set[int]")``, a struct that contains itself ``TypeError(... recursive struct Node)``.
    """
    return _spec(annotation, where, ())


def _spec(annotation: Any, where: str, seen: tuple[type, ...]) -> TypeSpec:
    scalar = _SCALARS.get(annotation) if isinstance(annotation, type) else None
    if scalar is not None:
        return scalar
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return ListOf(_spec(args[0], where, seen))
    if origin is dict and len(args) == 2:
        if args[0] is not str:
            raise TypeError(f"{where}: unsupported type {_show(annotation)} (map keys must be str)")
        return MapOf(_spec(args[1], where, seen))
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and len(args) == 2:
            return Optional(_spec(inner[0], where, seen))
        raise TypeError(f"{where}: unsupported type {_show(annotation)} (a union other than "
                        "T | None)")
    if isinstance(annotation, type) and origin is None and (
            dataclasses.is_dataclass(annotation) or attrs.has(annotation)):
        return _struct(annotation, where, seen)
    raise TypeError(f"{where}: unsupported type {_show(annotation)}")


def _struct(cls: type, where: str, seen: tuple[type, ...]) -> Struct:
    if cls in seen:
        raise TypeError(f"{where}: recursive struct {cls.__qualname__} is not supported")
    seen = (*seen, cls)
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:
        raise TypeError(f"{where}: cannot resolve the annotations of {cls.__qualname__}: "
                        f"{e}") from None
    fields: list[Field] = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if not f.init:
                raise TypeError(f"{where}: field {cls.__qualname__}.{f.name} is not an "
                                "__init__ parameter (init=False is not supported)")
            default: Any = MISSING
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = attrs.Factory(f.default_factory)
            spec = _spec(hints[f.name], f"{where} (field {cls.__qualname__}.{f.name})", seen)
            fields.append(Field(f.name, spec, default))
    else:
        for a in attrs.fields(cls):
            if not a.init:
                raise TypeError(f"{where}: field {cls.__qualname__}.{a.name} is not an "
                                "__init__ parameter (init=False is not supported)")
            alias = getattr(a, "alias", None) or a.name.lstrip("_")
            default = MISSING if a.default is attrs.NOTHING else a.default
            spec = _spec(hints[a.name], f"{where} (field {cls.__qualname__}.{a.name})", seen)
            fields.append(Field(alias, spec, default, attr=a.name))
    return Struct(cls, cls.__name__, tuple(fields))


# --------------------------------------------------------------------------- names

def go_type_name(spec: TypeSpec) -> str:
    """Go's spelling: ``int64``, ``float64``, ``bool``, ``string``, ``[]byte``, ``[]T``,
    ``map[string]T``, ``*T`` for an optional, the struct's name."""
    if isinstance(spec, Optional):
        return "*" + go_type_name(spec.inner)
    return type_name(spec)


def type_name(spec: TypeSpec) -> str:
    """The name in error texts: as :func:`go_type_name`, but ``T | nil`` for an optional."""
    scalar = _SCALAR_NAMES.get(type(spec))
    if scalar is not None:
        return scalar
    if isinstance(spec, ListOf):
        return "[]" + go_type_name(spec.item)
    if isinstance(spec, MapOf):
        return "map[string]" + go_type_name(spec.value)
    if isinstance(spec, Optional):
        return type_name(spec.inner) + " | nil"
    if isinstance(spec, Struct):
        return spec.name
    raise TypeError(f"not a TypeSpec: {spec!r}")


_SCALAR_NAMES: Final[dict[type, str]] = {
    Int64: "int64", Float64: "float64", Bool: "bool", Str: "string", Bytes: "[]byte",
}


# --------------------------------------------------------------------------- values

def zero_value(spec: TypeSpec) -> Any:
    """Go's zero value of a type, as plain data: ``0``, ``0.0``, ``False``, ``""``, ``b""``,
    an empty list or map, ``None`` for an optional, a struct's fields zeroed (or left out
    where the field has a default)."""
    if isinstance(spec, Struct):
        return {f.name: zero_value(f.spec) for f in spec.fields if f.required}
    if isinstance(spec, ListOf):
        return []
    if isinstance(spec, MapOf):
        return {}
    try:
        return _SCALAR_ZEROS[type(spec)]
    except KeyError:
        raise TypeError(f"not a TypeSpec: {spec!r}") from None


_SCALAR_ZEROS: Final[dict[type, Any]] = {
    Int64: 0, Float64: 0.0, Bool: False, Str: "", Bytes: b"", Optional: None,
}


# The value functions live beside, in their own module; they are part of this API.
from netsuite.rpc._typecheck import check, to_plain  # noqa: E402
