"""Decoding gob streams: self-describing, every count bounded before allocation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST
from netsuite.rpc.gob._errors import GobError
from netsuite.rpc.gob._varint import (
    _decode_float,
    decode_int,
    decode_uint,
    split_message,
)
from netsuite.rpc.gob._wiretypes import (
    _PREDEFINED,
    _WIRE_T,
    BOOL,
    BYTES,
    COMPLEX,
    FIRST_USER_ID,
    FLOAT,
    INT,
    INTERFACE,
    STRING,
    UINT,
    Array,
    Field,
    GobType,
    Map,
    Opaque,
    Slice,
    Struct,
    StructValue,
    _zero,
    go_type_string,
)

__all__ = ["Decoder"]

_Dec = Callable[[bytes, int, int], tuple[Any, int]]


_RESERVED_IDS = frozenset(range(9, FIRST_USER_ID)) - {16, 17, 18, 19, 20, 21, 22, 23, 24}
_INTERNAL_IDS = frozenset((16, 17, 18, 19, 20, 21, 22, 23, 24))


class Decoder:
    """One direction of a gob stream: remembers the types it defines, decodes its values.

    Feed it whole messages (see :func:`split_message`): :meth:`decode_message` returns
    ``None`` for a type definition and ``(type, value)`` for a value.  A definition may
    name types defined after it (Go sends the outer type first); every type a value uses
    must be defined by the time the value arrives.  At most ``max_types`` definitions, of
    ``max_type_bytes`` bytes in all, are kept per stream (so a stream's type table stays
    bounded however long it lives).
    """

    def __init__(self, *, max_depth: int = MAX_DEPTH, max_types: int = 1024,
                 max_type_bytes: int = MAX_REQUEST) -> None:
        self.max_depth = max_depth
        self.max_types = max_types
        self.max_type_bytes = max_type_bytes
        self._type_bytes = 0
        self._types: dict[int, GobType] = dict(_PREDEFINED)
        self._pending: dict[int, tuple[str, str, tuple[int, ...]]] = {}
        self._resolving: set[int] = set()
        self._array_len: dict[int, int] = {}
        self._decoders: dict[int, _Dec] = {}
        self._compiled: dict[GobType, _Dec] = {}
        self._wire_decoder = _decoder_for(_WIRE_T, self)

    def decode_message(self, payload: bytes) -> tuple[GobType, Any] | None:
        """Decode one message's payload (without its byte count)."""
        tid, pos = decode_int(payload, 0)
        if tid < 0:
            self._define(-tid, payload, pos)
            return None
        dec = self._decoders.get(tid)
        if dec is None:
            if tid in _INTERNAL_IDS:
                raise GobError(f"value of internal type id {tid}")
            dec = self._decoders[tid] = _decoder_for(self.resolve(tid), self)
        t = self._types[tid]
        if not isinstance(t, Struct):
            if pos >= len(payload) or payload[pos] != 0:
                raise GobError("corrupted data: non-zero delta for a singleton value")
            pos += 1
        try:
            value, pos = dec(payload, pos, 0)
        except IndexError:
            raise GobError("unexpected end of data inside a value") from None
        except RecursionError:
            raise GobError("value nested too deeply") from None
        if pos != len(payload):
            raise GobError(f"{len(payload) - pos} bytes of extra data after a value")
        return t, value

    def messages(self, stream: bytes, max_message: int = MAX_REQUEST
                 ) -> Iterator[tuple[GobType, Any]]:
        """Every value in a complete stream of messages (a convenience for tests and tools)."""
        pos = 0
        while pos < len(stream):
            found = split_message(stream, pos, max_message)
            if found is None:
                raise GobError("stream ends inside a message")
            start, pos = found
            item = self.decode_message(bytes(stream[start:pos]))
            if item is not None:
                yield item

    def resolve(self, tid: int) -> GobType:
        """The type this stream knows by ``tid``; :class:`GobError` if it is not defined."""
        found = self._types.get(tid)
        if found is not None:
            return found
        pending = self._pending.get(tid)
        if pending is None:
            raise GobError(f"undefined type id {tid}")
        if tid in self._resolving:
            raise GobError(f"type {tid} is defined in terms of itself")
        if len(self._resolving) >= self.max_depth:
            raise GobError(f"type {tid}: nesting deeper than {self.max_depth}")
        self._resolving.add(tid)
        try:
            kind, name, refs = pending
            elems = [self.resolve(i) for i in refs]
            t: GobType
            if kind == "SliceT":
                t = Slice(elems[0], name)
            elif kind == "ArrayT":
                t = Array(elems[0], self._array_len[tid], name)
            elif kind == "MapT":
                t = Map(elems[0], elems[1], name)
            else:  # pragma: no cover - only the kinds above are pending
                raise GobError(f"unknown type kind {kind}")
        finally:
            self._resolving.discard(tid)
        self._types[tid] = t
        del self._pending[tid]
        return t

    def _define(self, tid: int, payload: bytes, pos: int) -> None:
        if tid < FIRST_USER_ID:
            raise GobError(f"type definition for reserved id {tid}")
        if tid in self._types or tid in self._pending:
            raise GobError(f"duplicate type id {tid}")
        if len(self._types) + len(self._pending) - len(_PREDEFINED) >= self.max_types:
            raise GobError(f"more than {self.max_types} type definitions on one stream")
        self._type_bytes += len(payload)
        if self._type_bytes > self.max_type_bytes:
            raise GobError(f"type definitions on one stream exceed {self.max_type_bytes} bytes")
        try:
            wire, pos = self._wire_decoder(payload, pos, 0)
        except IndexError:
            raise GobError("unexpected end of data inside a type definition") from None
        if pos != len(payload):
            raise GobError("extra data after a type definition")
        set_fields = [(k, v) for k, v in wire.items() if v is not None]
        if len(set_fields) != 1:
            raise GobError(f"type definition {tid} must describe exactly one kind of type")
        kind, body = set_fields[0]
        common = body["CommonType"] or {}
        name = common.get("Name", "")

        def ref(i: int) -> int:
            if i <= 0 or i in _RESERVED_IDS or i in _INTERNAL_IDS:
                raise GobError(f"type definition {tid} uses invalid type id {i}")
            return i

        if kind == "StructT":
            fields = []
            for f in body["Field"] or ():
                fields.append((f["Name"], ref(f["Id"])))
            self._types[tid] = _WireStruct(name, tuple(fields), self)
        elif kind == "SliceT":
            self._pending[tid] = (kind, name, (ref(body["Elem"]),))
        elif kind == "ArrayT":
            length = body["Len"]
            if length < 0:
                raise GobError(f"array type {tid} with negative length {length}")
            self._array_len[tid] = length
            self._pending[tid] = (kind, name, (ref(body["Elem"]),))
        elif kind == "MapT":
            self._pending[tid] = (kind, name, (ref(body["Key"]), ref(body["Elem"])))
        else:
            self._types[tid] = Opaque(name, kind[:-1])


class _WireStruct(Struct):
    """A struct type received on a stream; its field types are resolved through the stream."""

    def __init__(self, name: str, field_ids: tuple[tuple[str, int], ...], decoder: Decoder):
        object.__setattr__(self, "field_ids", field_ids)
        object.__setattr__(self, "_decoder", decoder)
        object.__setattr__(self, "name", name)

    @property  # type: ignore[override]
    def fields(self) -> tuple[Field, ...]:
        return tuple(Field(n, self._decoder.resolve(i)) for n, i in self.field_ids)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __repr__(self) -> str:
        return f"Struct({self.name!r}, {[n for n, _ in self.field_ids]})"


def _decoder_for(t: GobType, stream: Decoder) -> _Dec:
    """A function ``(buf, pos, depth) -> (value, pos)`` decoding one value of type ``t``."""
    dec = stream._compiled.get(t)
    if dec is None:
        dec = stream._compiled[t] = _make_decoder(t, stream)
    return dec


def _make_decoder(t: GobType, stream: Decoder) -> _Dec:
    max_depth = stream.max_depth
    if t is BOOL:
        def dec_bool(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            u, pos = decode_uint(buf, pos)
            if u > 1:
                raise GobError(f"invalid bool {u}")
            return u == 1, pos
        return dec_bool
    if t is INT:
        def dec_int(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            u = buf[pos]  # IndexError: reported as GobError by decode_message
            if u < 0x80:
                pos += 1
            else:
                u, pos = decode_uint(buf, pos)
            return (~(u >> 1) if u & 1 else u >> 1), pos
        return dec_int
    if t is UINT:
        def dec_uint(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            u = buf[pos]
            if u < 0x80:
                return u, pos + 1
            return decode_uint(buf, pos)
        return dec_uint
    if t is FLOAT:
        return lambda buf, pos, depth: _decode_float(buf, pos)
    if t is COMPLEX:
        def dec_complex(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            re, pos = _decode_float(buf, pos)
            im, pos = _decode_float(buf, pos)
            return complex(re, im), pos
        return dec_complex
    if t is STRING or t is BYTES or isinstance(t, Opaque):
        as_text = t is STRING

        def dec_bytes(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            n, pos = decode_uint(buf, pos)
            end = pos + n
            if end > len(buf):
                raise GobError(f"length {n} runs past the end of the message")
            data = buf[pos:end]
            return (data.decode("utf-8", "surrogateescape") if as_text else bytes(data)), end
        return dec_bytes
    if t is INTERFACE:
        def dec_interface(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            n, pos = decode_uint(buf, pos)
            if n:
                raise GobError("non-nil interface values are not supported")
            return None, pos
        return dec_interface
    if isinstance(t, Slice | Array):
        elem_t = t.elem
        length = t.length if isinstance(t, Array) else None
        elem_dec: list[_Dec] = []

        def dec_seq(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            if depth >= max_depth:
                raise GobError(f"nesting deeper than {max_depth}")
            n, pos = decode_uint(buf, pos)
            if n > len(buf) - pos:
                raise GobError(f"count {n} exceeds the {len(buf) - pos} bytes left")
            if length is not None and n != length:
                raise GobError(f"array length {n}, type says {length}")
            if not elem_dec:
                elem_dec.append(_decoder_for(elem_t, stream))
            dec = elem_dec[0]
            items = []
            append = items.append
            depth += 1
            for _ in range(n):
                item, pos = dec(buf, pos, depth)
                append(item)
            return items, pos
        return dec_seq
    if isinstance(t, Map):
        key_t, val_t = t.key, t.elem
        kv_dec: list[_Dec] = []

        def dec_map(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
            if depth >= max_depth:
                raise GobError(f"nesting deeper than {max_depth}")
            n, pos = decode_uint(buf, pos)
            if 2 * n > len(buf) - pos:
                raise GobError(f"count {n} exceeds the {len(buf) - pos} bytes left")
            if not kv_dec:
                kv_dec.extend((_decoder_for(key_t, stream), _decoder_for(val_t, stream)))
            kdec, vdec = kv_dec
            result: dict[Any, Any] = {}
            depth += 1
            for _ in range(n):
                key, pos = kdec(buf, pos, depth)
                value, pos = vdec(buf, pos, depth)
                try:
                    result[key] = value
                except TypeError:
                    raise GobError("map key of an unhashable type") from None
            return result, pos
        return dec_map
    if isinstance(t, Struct):
        return _struct_decoder(t, stream)
    raise GobError(f"cannot decode type {t!r}")


def _struct_decoder(t: Struct, stream: Decoder) -> _Dec:
    max_depth = stream.max_depth
    if isinstance(t, _WireStruct):
        field_ids = t.field_ids
        names = [n for n, _ in field_ids]
        types = [stream.resolve(i) for _, i in field_ids]
    else:
        names = [f.name for f in t.fields]
        types = [f.type for f in t.fields]
    zeros = {}
    for n, ft in zip(names, types, strict=True):
        zeros[n] = _zero(ft)
    nfields = len(names)
    decoders: list[_Dec] = []

    def dec_struct(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
        if depth >= max_depth:
            raise GobError(f"nesting deeper than {max_depth}")
        if not decoders and nfields:
            # Compiled on first use, so a recursive struct type refers to itself lazily.
            decoders.extend(_decoder_for(ft, stream) for ft in types)
        value = StructValue(t, zeros)
        field = -1
        depth += 1
        while True:
            delta = buf[pos]
            if delta < 0x80:
                pos += 1
            else:
                delta, pos = decode_uint(buf, pos)
            if delta == 0:
                return value, pos
            field += delta
            if field >= nfields:
                raise GobError(f"field number {field} out of range for {go_type_string(t)}")
            value[names[field]], pos = decoders[field](buf, pos, depth)

    return dec_struct
