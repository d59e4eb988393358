"""Gob's numbers and message framing: unsigned/signed varints, floats, message bounds."""

from __future__ import annotations

import struct as _struct

from netsuite.rpc._core import MAX_REQUEST
from netsuite.rpc.gob._errors import GobError

__all__ = [
    "decode_int",
    "decode_uint",
    "encode_float",
    "encode_int",
    "encode_uint",
    "split_message",
]


_BYTE = [bytes((i,)) for i in range(0x80)]


def encode_uint(value: int) -> bytes:
    """Go's unsigned varint: one byte below 128, else the negated byte count + big-endian."""
    if value < 0x80:
        if value < 0:
            raise GobError(f"cannot encode negative {value} as unsigned")
        return _BYTE[value]
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


def split_message(buf: bytes | bytearray, pos: int = 0, max_message: int = MAX_REQUEST
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


