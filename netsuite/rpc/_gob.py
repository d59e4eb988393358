"""A codec for Go's ``encoding/gob`` wire format: pure functions and classes, no networking.

A gob *stream* is a sequence of messages, each an unsigned byte count followed by that many
bytes.  A message either defines a type (a negative type id, then a ``wireType`` value) or
carries a value (a positive type id, then the value).  Types are defined once per stream, so
an :class:`Encoder` and a :class:`Decoder` each belong to one direction of one connection.

Encoding (Python value -> gob) is driven by explicit type descriptions -- the Go side of a
gob stream always knows its types, and so must we::

    POINT = Struct("Point", (Field("X", INT), Field("Y", INT)))
    Encoder().encode(POINT, {"X": 22, "Y": 33})   # the bytes of Go's doc example

Decoding (gob -> Python) needs no description: the stream describes itself.  Values come
back as ``bool``, ``int`` (signed and unsigned), ``float``, ``complex``, ``bytes``, ``str``
(Go strings are bytes; invalid UTF-8 is kept with ``surrogateescape``), ``list`` (slices
and arrays), ``dict`` (maps) and :class:`StructValue` (a ``dict`` of field name -> value,
with ``.gob_type``).  A struct field that was not sent (Go omits zero fields) is filled with
its zero value: ``0``, ``False``, ``""``, ``b""``... and ``None`` for a nil slice, map or
struct.  Values of GobEncoder / BinaryMarshaler / TextMarshaler types come back as ``bytes``.
Non-nil interface values are refused (net/rpc never sends them).

Every decode is bounded: a message is limited to ``max_message`` bytes (1 MiB by default)
*before* it is buffered; string, slice, array and map counts are checked against the bytes
left in the message before anything is allocated; nesting is limited to ``max_depth``
(100) levels.  Anything malformed raises :class:`GobError`, never anything else.
"""

from __future__ import annotations

import struct as _struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST

__all__ = [
    "BOOL",
    "BYTES",
    "COMPLEX",
    "FLOAT",
    "INT",
    "INTERFACE",
    "MAX_DEPTH",
    "MAX_MESSAGE",
    "STRING",
    "UINT",
    "Array",
    "Builtin",
    "Decoder",
    "Encoder",
    "Field",
    "GobError",
    "GobType",
    "Map",
    "Opaque",
    "Slice",
    "Struct",
    "StructValue",
    "decode_int",
    "decode_uint",
    "encode_float",
    "encode_int",
    "encode_uint",
    "split_message",
]

#: Default limit on one message (its byte count), checked before buffering it.  (The
#: default nesting limit of values and type definitions is the core's ``MAX_DEPTH``.)
MAX_MESSAGE = MAX_REQUEST
#: The first type id a stream may define (0-64 are reserved by Go).
FIRST_USER_ID = 65


class GobError(ValueError):
    """Malformed, hostile or unsupported gob data.  The stream cannot be trusted after it."""


# --------------------------------------------------------------------------- integers


def encode_uint(value: int) -> bytes:
    """Go's unsigned varint: one byte below 128, else the negated byte count + big-endian."""
    if value < 0x80:
        if value < 0:
            raise GobError(f"cannot encode negative {value} as unsigned")
        return bytes((value,))
    if value >> 64:
        raise GobError(f"{value} does not fit in 64 bits")
    n = (value.bit_length() + 7) >> 3
    return bytes((256 - n,)) + value.to_bytes(n, "big")


def encode_int(value: int) -> bytes:
    """Go's signed varint: bit 0 says whether bits 1.. are complemented."""
    if not -(1 << 63) <= value < (1 << 63):
        raise GobError(f"{value} does not fit in a signed 64-bit integer")
    return encode_uint((~value << 1) | 1 if value < 0 else value << 1)


def encode_float(value: float) -> bytes:
    """A float64, its IEEE-754 bits byte-reversed, sent as an unsigned integer."""
    return encode_uint(int.from_bytes(_struct.pack("<d", value), "big"))


def decode_uint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at ``pos``: ``(value, new position)``; :class:`GobError`."""
    try:
        first = buf[pos]
    except IndexError:
        raise GobError("unexpected end of data reading an unsigned integer") from None
    if first < 0x80:
        return first, pos + 1
    n = 256 - first
    if n > 8:
        raise GobError(f"invalid unsigned integer: {n}-byte count")
    end = pos + 1 + n
    if end > len(buf):
        raise GobError("unexpected end of data inside an unsigned integer")
    return int.from_bytes(buf[pos + 1 : end], "big"), end


def decode_int(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a signed varint at ``pos``: ``(value, new position)``; :class:`GobError`."""
    u, pos = decode_uint(buf, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos


def _decode_float(buf: bytes, pos: int) -> tuple[float, int]:
    u, pos = decode_uint(buf, pos)
    return _struct.unpack("<d", u.to_bytes(8, "big"))[0], pos


def split_message(buf: bytes | bytearray, pos: int = 0, max_message: int = MAX_MESSAGE
                  ) -> tuple[int, int] | None:
    """Find the message starting at ``pos`` of a stream buffer.

    Returns ``(start, end)`` of its payload, or ``None`` if more bytes are needed.  A byte
    count over ``max_message`` (or a zero count) raises :class:`GobError` at once, before
    anything is buffered for it.
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    if first < 0x80:
        count, start = first, pos + 1
    else:
        n = 256 - first
        if n > 8:
            raise GobError(f"invalid message length: {n}-byte count")
        if pos + 1 + n > len(buf):
            return None
        count, start = int.from_bytes(buf[pos + 1 : pos + 1 + n], "big"), pos + 1 + n
    if count > max_message:
        raise GobError(f"message of {count} bytes exceeds the limit of {max_message}")
    if count == 0:
        raise GobError("empty message")
    end = start + count
    if end > len(buf):
        return None
    return start, end


# --------------------------------------------------------------------------- types


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
    """A struct field: its name and type."""

    name: str
    type: GobType


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

# --------------------------------------------------------------------------- encoding

_Enc = Callable[[Any, list], None]


class Encoder:
    """One direction of a gob stream: assigns type ids and sends each definition once.

    :meth:`encode` returns the bytes to write for one value: any type definitions not yet
    sent on this stream (each its own message, as Go sends them), then the value message.
    """

    def __init__(self, *, first_id: int = FIRST_USER_ID) -> None:
        # Go numbers types per process, not per stream, so its first id may be above 65;
        # ``first_id`` lets tests reproduce a Go stream byte for byte.
        self._ids: dict[GobType, int] = {t: t.id for t in _BUILTINS.values()}
        self._next_id = first_id
        self._encoders: dict[GobType, _Enc] = {}

    def type_id(self, t: GobType, out: list[bytes] | None = None) -> int:
        """The id of ``t`` on this stream, appending its definition messages to ``out``."""
        found = self._ids.get(t)
        if found is not None:
            return found
        if t is INTERFACE or isinstance(t, Builtin):
            raise GobError(f"cannot send values of type {t.name}")
        if out is None:
            raise GobError(f"type {go_type_string(t)} has not been sent on this stream")
        # Element types first (Go requires inner ids to be defined before use).
        if isinstance(t, Struct):
            inner = [self.type_id(f.type, out) for f in t.fields]
        elif isinstance(t, Slice | Array):
            inner = [self.type_id(t.elem, out)]
        elif isinstance(t, Map):
            inner = [self.type_id(t.key, out), self.type_id(t.elem, out)]
        elif isinstance(t, Opaque):
            inner = []
        else:
            raise GobError(f"unsupported type {t!r}")
        tid = self._next_id
        self._next_id += 1
        self._ids[t] = tid
        # Go names unnamed composite types by their spelling ("[]string"); structs stay "".
        name = t.name or ("" if isinstance(t, Struct) else go_type_string(t))
        common = {"Name": name, "Id": tid}
        if isinstance(t, Struct):
            wire = {"StructT": {"CommonType": common, "Field": [
                {"Name": f.name, "Id": i} for f, i in zip(t.fields, inner, strict=True)]}}
        elif isinstance(t, Slice):
            wire = {"SliceT": {"CommonType": common, "Elem": inner[0]}}
        elif isinstance(t, Array):
            wire = {"ArrayT": {"CommonType": common, "Elem": inner[0], "Len": t.length}}
        elif isinstance(t, Map):
            wire = {"MapT": {"CommonType": common, "Key": inner[0], "Elem": inner[1]}}
        else:
            assert isinstance(t, Opaque)
            wire = {t.kind + "T": {"CommonType": common}}
        parts: list[bytes] = [encode_int(-tid)]
        self._compile(_WIRE_T)(wire, parts)
        out.append(_frame(b"".join(parts)))
        return tid

    def encode(self, t: GobType, value: Any) -> bytes:
        """The messages that send ``value`` as type ``t`` (definitions first if needed)."""
        out: list[bytes] = []
        tid = self.type_id(t, out)
        parts: list[bytes] = [encode_int(tid)]
        if not isinstance(t, Struct):
            parts.append(b"\x00")  # a non-struct top-level value is a one-field struct
        try:
            self._compile(t)(value, parts)
        except GobError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise GobError(f"cannot encode {value!r} as {go_type_string(t)}: {e}") from e
        out.append(_frame(b"".join(parts)))
        return b"".join(out)

    def _compile(self, t: GobType) -> _Enc:
        enc = self._encoders.get(t)
        if enc is None:
            enc = _encoder_for(t, self)
            self._encoders[t] = enc
        return enc


def _frame(payload: bytes) -> bytes:
    return encode_uint(len(payload)) + payload


def _is_zero(t: GobType, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(t, Array):
        return False  # arrays are always sent
    if isinstance(t, Struct):
        return False  # Go sends non-nil struct fields (even all-zero ones)
    if isinstance(t, Slice | Map):
        return len(value) == 0
    return not value


def _encoder_for(t: GobType, encoder: Encoder) -> _Enc:
    if t is BOOL:
        return lambda v, out: out.append(b"\x01" if v else b"\x00")
    if t is INT:
        return lambda v, out: out.append(encode_int(_as_int(v)))
    if t is UINT:
        return lambda v, out: out.append(encode_uint(_as_int(v)))
    if t is FLOAT:
        return lambda v, out: out.append(encode_float(float(v)))
    if t is COMPLEX:
        def enc_complex(v: Any, out: list) -> None:
            c = complex(v)
            out.append(encode_float(c.real) + encode_float(c.imag))
        return enc_complex
    if t is STRING:
        def enc_string(v: Any, out: list) -> None:
            if not isinstance(v, str):
                raise GobError(f"expected a string, got {type(v).__name__}")
            data = v.encode("utf-8", "surrogateescape")
            out.append(encode_uint(len(data)) + data)
        return enc_string
    if t is BYTES or isinstance(t, Opaque):
        def enc_bytes(v: Any, out: list) -> None:
            data = bytes(v)
            out.append(encode_uint(len(data)) + data)
        return enc_bytes
    if t is INTERFACE:
        def enc_interface(v: Any, out: list) -> None:
            if v is not None:
                raise GobError("only nil interface values can be encoded")
            out.append(b"\x00")
        return enc_interface
    if isinstance(t, Slice | Array):
        elem_t = t.elem
        length = t.length if isinstance(t, Array) else None

        def enc_seq(v: Any, out: list) -> None:
            items = list(v)
            if length is not None and len(items) != length:
                raise GobError(f"array of length {length} given {len(items)} elements")
            out.append(encode_uint(len(items)))
            elem = encoder._compile(elem_t)
            for item in items:
                elem(item, out)
        return enc_seq
    if isinstance(t, Map):
        key_t, elem_t = t.key, t.elem

        def enc_map(v: Any, out: list) -> None:
            out.append(encode_uint(len(v)))
            kenc, venc = encoder._compile(key_t), encoder._compile(elem_t)
            for key, item in v.items():
                kenc(key, out)
                venc(item, out)
        return enc_map
    if isinstance(t, Struct):
        fields = t.fields

        def enc_struct(v: Any, out: list) -> None:
            get = v.get if isinstance(v, Mapping) else (lambda name: getattr(v, name, None))
            last = -1
            for i, f in enumerate(fields):
                item = get(f.name)
                if _is_zero(f.type, item):
                    continue
                out.append(encode_uint(i - last))
                last = i
                encoder._compile(f.type)(item, out)
            out.append(b"\x00")
        return enc_struct
    raise GobError(f"unsupported type {t!r}")


def _as_int(v: Any) -> int:
    if isinstance(v, float) or not hasattr(v, "__index__"):
        raise GobError(f"expected an integer, got {type(v).__name__}")
    return v.__index__()


# --------------------------------------------------------------------------- decoding

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
                 max_type_bytes: int = MAX_MESSAGE) -> None:
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

    def messages(self, stream: bytes, max_message: int = MAX_MESSAGE
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
        if tid in self._resolving or len(self._resolving) >= self.max_depth:
            raise GobError(f"type {tid} is defined in terms of itself")
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


def encode_stream(values: Sequence[tuple[GobType, Any]]) -> bytes:
    """A whole stream carrying ``values`` in order (a convenience for tests and tools)."""
    enc = Encoder()
    return b"".join(enc.encode(t, v) for t, v in values)
