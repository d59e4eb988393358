"""Typed values as AMP argument bytes, and the matching Twisted ``amp.Argument`` s.

One value of each type travels as (Twisted's own argument types, so a plain ``amp.AMP``
client with the command classes of :func:`argument` reads and writes the same bytes):

- ``int``: Integer (decimal); ``float``: Float (``str(x)``: ``1.5``, ``nan``, ``inf``);
  ``bool``: Boolean (``True`` / ``False``); ``str``: Unicode (UTF-8); ``bytes``: String;
- ``list[T]``: ListOf(T) for scalars and lists of them (each item a 2-byte length and its
  bytes); AmpList of the struct's boxes for a list of structs; AmpList of ``value`` boxes
  for any other item type (maps, optionals, lists of those);
- ``dict[str, T]``: AmpList of ``key`` (Unicode) / ``value`` boxes;
- a dataclass / attrs class: AmpList of one box, one key per field;
- ``None`` (``T | None``): the key is left out of its box.

:func:`decoder` turns bytes into plain data (dicts for structs and maps) for the type
model's check; :func:`encoder` turns plain data (``to_plain`` output) into bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.protocols import amp

from netsuite.rpc._errors import InternalError, InvalidParams
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

__all__ = ["MAX_VALUE", "SCALAR_PARSERS", "ResultTooLong", "argument", "decoder", "encoder",
           "pair", "parser"]

MAX_VALUE = 65535

Decode = Callable[[bytes, str], Any]
Encode = Callable[[Any], bytes]


class ResultTooLong(InternalError):
    """A value over AMP's 65535-byte limit (the whole result or a part of it)."""


def pair(key: bytes, value: bytes) -> bytes:
    """One ``key, value`` pair of a box (lengths checked)."""
    if len(value) > MAX_VALUE:
        raise ResultTooLong(f"a value of {len(value)} bytes is over AMP's {MAX_VALUE}-byte "
                            "value limit")
    return len(key).to_bytes(2, "big") + key + len(value).to_bytes(2, "big") + value


def _inner(spec: TypeSpec) -> TypeSpec:
    return spec.inner if isinstance(spec, Optional) else spec


def _flat(spec: TypeSpec) -> bool:
    """Whether ListOf can carry items of ``spec`` (scalars and lists of them)."""
    if spec in (INT64, FLOAT64, BOOL, STR, BYTES):
        return True
    return isinstance(spec, ListOf) and _flat(spec.item)


def _boxes(data: bytes, path: str) -> list[dict[bytes, bytes]]:
    """The boxes of an AmpList value."""
    boxes: list[dict[bytes, bytes]] = []
    box: dict[bytes, bytes] = {}
    pos, size = 0, len(data)
    while pos < size:
        if size - pos < 2:
            raise InvalidParams(f"{path}: truncated AmpList")
        klen = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if klen == 0:
            boxes.append(box)
            box = {}
            continue
        end = pos + klen
        if end + 2 > size:
            raise InvalidParams(f"{path}: truncated AmpList")
        vlen = int.from_bytes(data[end : end + 2], "big")
        if end + 2 + vlen > size:
            raise InvalidParams(f"{path}: truncated AmpList")
        box[data[pos:end]] = data[end + 2 : end + 2 + vlen]
        pos = end + 2 + vlen
    if box:
        raise InvalidParams(f"{path}: truncated AmpList")
    return boxes


def _items(data: bytes, path: str) -> list[bytes]:
    """The items of a ListOf value."""
    items: list[bytes] = []
    pos, size = 0, len(data)
    while pos < size:
        if size - pos < 2:
            raise InvalidParams(f"{path}: truncated ListOf")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + n > size:
            raise InvalidParams(f"{path}: truncated ListOf")
        items.append(data[pos : pos + n])
        pos += n
    return items


def _scalar(kind: str, parse: Callable[[bytes], Any]) -> Decode:
    def decode(data: bytes, path: str) -> Any:
        try:
            return parse(data)
        except (ValueError, UnicodeDecodeError):
            raise InvalidParams(f"{path}: expected {kind}, got {data[:32]!r}") from None

    return decode


def _bool(data: bytes) -> bool:
    if data == b"True":
        return True
    if data == b"False":
        return False
    raise ValueError(data)


def _float(data: bytes) -> float:
    return float(data.decode("ascii"))


def _int(data: bytes) -> int:
    return int(data.decode("ascii"))


_SCALAR_DECODERS: dict[TypeSpec, Decode] = {
    INT64: _scalar("int64", _int),
    FLOAT64: _scalar("float64", _float),
    BOOL: _scalar("bool", _bool),
    STR: _scalar("UTF-8 string", lambda b: b.decode("utf-8")),
    BYTES: lambda data, path: data,
}


#: ``(parse, kind)`` of a scalar argument (``parse`` raises ValueError on bad bytes).
SCALAR_PARSERS: dict[TypeSpec, tuple[Callable[[bytes], Any], str]] = {
    INT64: (int, "int64"),
    FLOAT64: (_float, "float64"),
    BOOL: (_bool, "bool"),
    STR: (bytes.decode, "UTF-8 string"),
    BYTES: (bytes, "bytes"),
}


def parser(spec: TypeSpec, path: str) -> tuple[Callable[[bytes], Any], str]:
    """``(parse, kind)`` of a top-level argument: ``parse(bytes)`` raises ``ValueError`` for a
    scalar that does not parse (say ``expected KIND``), InvalidParams for the rest."""
    found = SCALAR_PARSERS.get(_inner(spec))
    if found is not None:
        return found
    decode = decoder(spec)
    return (lambda data: decode(data, path)), "value"


def _box_decoder(fields: list[tuple[str, TypeSpec]]) -> Callable[[dict[bytes, bytes], str],
                                                                  dict[str, Any]]:
    parts = [(name.encode(), name, decoder(spec), isinstance(spec, Optional))
             for name, spec in fields]
    known = {part[0] for part in parts}

    def decode(box: dict[bytes, bytes], path: str) -> dict[str, Any]:
        for key in box:
            if key not in known:
                raise InvalidParams(f"{path}: unknown field {key.decode('utf-8', 'replace')}")
        return {name: dec(box[key], f"{path}.{name}") if key in box else None
                for key, name, dec, optional in parts if optional or key in box}

    return decode


def decoder(spec: TypeSpec) -> Decode:
    """``(bytes, path) -> plain value`` for ``spec`` (InvalidParams naming the path)."""
    spec = _inner(spec)
    scalar = _SCALAR_DECODERS.get(spec)
    if scalar is not None:
        return scalar
    if isinstance(spec, Struct):
        box = _box_decoder([(f.name, f.spec) for f in spec.fields])

        def struct(data: bytes, path: str) -> Any:
            boxes = _boxes(data, path)
            if len(boxes) != 1:
                raise InvalidParams(f"{path}: expected one box, got {len(boxes)}")
            return box(boxes[0], path)

        return struct
    if isinstance(spec, MapOf):
        value = decoder(spec.value)

        def mapping(data: bytes, path: str) -> Any:
            out: dict[str, Any] = {}
            for box in _boxes(data, path):
                key = _SCALAR_DECODERS[STR](box.get(b"key", b""), f"{path} key")
                out[key] = value(box[b"value"], f"{path}[{key!r}]") if b"value" in box else None
            return out

        return mapping
    if isinstance(spec, ListOf):
        item = _inner(spec.item)
        if isinstance(item, Struct):
            box = _box_decoder([(f.name, f.spec) for f in item.fields])
            return lambda data, path: [box(b, f"{path}[{i}]")
                                       for i, b in enumerate(_boxes(data, path))]
        each = decoder(spec.item)
        if _flat(spec.item):
            return lambda data, path: [each(b, f"{path}[{i}]")
                                       for i, b in enumerate(_items(data, path))]
        return lambda data, path: [each(b[b"value"], f"{path}[{i}]") if b"value" in b else None
                                   for i, b in enumerate(_boxes(data, path))]
    raise TypeError(f"no AMP form for {spec!r}")  # pragma: no cover - the model has no more


_SCALAR_ENCODERS: dict[TypeSpec, Encode] = {
    INT64: lambda v: b"%d" % v,
    FLOAT64: lambda v: str(float(v)).encode("ascii"),
    BOOL: lambda v: b"True" if v else b"False",
    STR: lambda v: v.encode("utf-8"),
    BYTES: bytes,
}


def _box_encoder(fields: list[tuple[str, TypeSpec]]) -> Callable[[dict[str, Any]], bytes]:
    parts = [(name.encode(), name, encoder(spec)) for name, spec in fields]

    def encode(value: dict[str, Any]) -> bytes:
        out = [pair(key, enc(value[name])) for key, name, enc in parts
               if value.get(name) is not None]
        out.append(b"\x00\x00")
        return b"".join(out)

    return encode


def encoder(spec: TypeSpec) -> Encode:
    """``plain value -> bytes`` for ``spec`` (``None`` is the caller's: leave the key out)."""
    spec = _inner(spec)
    scalar = _SCALAR_ENCODERS.get(spec)
    if scalar is not None:
        return scalar
    if isinstance(spec, Struct):
        return _box_encoder([(f.name, f.spec) for f in spec.fields])
    if isinstance(spec, MapOf):
        box = _box_encoder([("key", STR), ("value", spec.value)])
        return lambda value: b"".join(box({"key": k, "value": v}) for k, v in value.items())
    if isinstance(spec, ListOf):
        item = _inner(spec.item)
        if isinstance(item, Struct):
            box = encoder(item)
            return lambda value: b"".join(box(v) for v in value)
        each = encoder(spec.item)
        if _flat(spec.item):
            def items(value: list[Any]) -> bytes:
                parts = [each(v) for v in value]
                for p in parts:
                    if len(p) > MAX_VALUE:
                        raise ResultTooLong(f"a list item of {len(p)} bytes is over AMP's "
                                            f"{MAX_VALUE}-byte value limit")
                return b"".join(len(p).to_bytes(2, "big") + p for p in parts)

            return items
        boxed = _box_encoder([("value", spec.item)])
        return lambda value: b"".join(boxed({"value": v}) for v in value)
    raise TypeError(f"no AMP form for {spec!r}")  # pragma: no cover


def argument(spec: TypeSpec, optional: bool = False) -> amp.Argument:
    """The Twisted ``amp.Argument`` that reads and writes ``spec`` as above (for clients)."""
    if isinstance(spec, Optional):
        return argument(spec.inner, True)
    simple = {INT64: amp.Integer, FLOAT64: amp.Float, BOOL: amp.Boolean, STR: amp.Unicode,
              BYTES: amp.String}.get(spec)
    if simple is not None:
        return simple(optional=optional)
    if isinstance(spec, Struct):
        return amp.AmpList(_subargs(spec), optional=optional)
    if isinstance(spec, MapOf):
        return amp.AmpList([(b"key", amp.Unicode()), (b"value", argument(spec.value))],
                           optional=optional)
    if isinstance(spec, ListOf):
        item = _inner(spec.item)
        if isinstance(item, Struct):
            return amp.AmpList(_subargs(item), optional=optional)
        if _flat(spec.item):
            return amp.ListOf(argument(spec.item), optional=optional)
        return amp.AmpList([(b"value", argument(spec.item))], optional=optional)
    raise TypeError(f"no AMP form for {spec!r}")  # pragma: no cover


def _subargs(spec: Struct) -> list[tuple[bytes, amp.Argument]]:
    return [(f.name.encode(), argument(f.spec, not f.required)) for f in spec.fields]
