"""Encoding Python values as gob, driven by explicit type descriptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netsuite.rpc.gob._errors import GobError
from netsuite.rpc.gob._varint import (
    encode_float,
    encode_int,
    encode_uint,
)
from netsuite.rpc.gob._wiretypes import (
    _BUILTINS,
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
    Builtin,
    GobType,
    Map,
    Opaque,
    Slice,
    Struct,
    _zero,
    go_type_string,
)

__all__ = ["Encoder", "encode_stream"]

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
                elem(_zero_if_none(elem_t, item), out)
        return enc_seq
    if isinstance(t, Map):
        key_t, elem_t = t.key, t.elem

        def enc_map(v: Any, out: list) -> None:
            out.append(encode_uint(len(v)))
            kenc, venc = encoder._compile(key_t), encoder._compile(elem_t)
            for key, item in v.items():
                kenc(key, out)
                venc(_zero_if_none(elem_t, item), out)
        return enc_map
    if isinstance(t, Struct):
        fields = [(f.key or f.name, f.type) for f in t.fields]

        def enc_struct(v: Any, out: list) -> None:
            get = v.get if isinstance(v, Mapping) else (lambda name: getattr(v, name, None))
            last = -1
            for i, (key, field_t) in enumerate(fields):
                item = get(key)
                if _is_zero(field_t, item):
                    continue
                out.append(encode_uint(i - last))
                last = i
                encoder._compile(field_t)(item, out)
            out.append(b"\x00")
        return enc_struct
    raise GobError(f"unsupported type {t!r}")


def _zero_if_none(t: GobType, item: Any) -> Any:
    """An element of a slice or map: gob has no nil elements, so ``None`` (a nil pointer
    in Go) is sent as the zero value."""
    if item is not None:
        return item
    zero = _zero(t)
    if zero is None:  # a struct, slice or map
        return [] if isinstance(t, Slice) else {}
    return zero


def _as_int(v: Any) -> int:
    if isinstance(v, float) or not hasattr(v, "__index__"):
        raise GobError(f"expected an integer, got {type(v).__name__}")
    return v.__index__()


def encode_stream(values: Sequence[tuple[GobType, Any]]) -> bytes:
    """A whole stream carrying ``values`` in order (a convenience for tests and tools)."""
    enc = Encoder()
    return b"".join(enc.encode(t, v) for t, v in values)
