"""The gob server's fast path: a whole call (header and body) read in one step.

After a connection's first calls have gone the general way (type definitions read, the
``rpc.Request`` type and each method's argument type known), a client such as Go's sends
every further call as two messages of the same shape: the header (the stream's
``Request`` type id, ``ServiceMethod``, ``Seq``) and the body (the type id of that method's
argument struct, then its fields).  :class:`FastCalls` compiles, per method, a reader for
that shape -- a struct whose every field is one of the method's scalar parameters under
its Go name, with the matching wire type -- and reads such a call straight into the
method's keyword arguments, with no intermediate values.

Anything else -- another shape, a message that is not complete yet, a value the reader
does not expect -- makes :meth:`FastCalls.parse` return ``None`` without consuming
anything, and the general path (which reports errors) reads it.  What the fast path
accepts it reads exactly as the general path would: the same values, the same checks.

Also here, for both paths: :func:`read_header` (an ``rpc.Request`` header of the stream's
own ``Request`` type, read without the generic decoder) and the framing helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsuite.rpc._core import Method, RpcError
from netsuite.rpc._types import BOOL, BYTES, FLOAT64, INT64, STR, TypeSpec, check
from netsuite.rpc.gob._decode import Decoder, _decoder_for
from netsuite.rpc.gob._errors import GobError
from netsuite.rpc.gob._typed import from_gob, go_name
from netsuite.rpc.gob._varint import decode_int, decode_uint
from netsuite.rpc.gob._wiretypes import BOOL as GOB_BOOL
from netsuite.rpc.gob._wiretypes import BYTES as GOB_BYTES
from netsuite.rpc.gob._wiretypes import FLOAT, INT, STRING, UINT, GobType, Struct, _zero

__all__ = [
    "REQUEST_FIELDS",
    "FastCall",
    "FastCalls",
    "bytes_needed",
    "read_header",
    "seq_value",
    "skip_type_id",
]

#: The wire type each scalar parameter type is read from on the fast path.
_WIRE: dict[TypeSpec, GobType] = {INT64: INT, STR: STRING, FLOAT64: FLOAT, BOOL: GOB_BOOL,
                                  BYTES: GOB_BYTES}
#: Most methods compiled per connection (each entry is small; the bound keeps it so).
MAX_COMPILED = 256

REQUEST_FIELDS = [("ServiceMethod", STRING), ("Seq", UINT)]
_Reader = Callable[[bytes, int, int], "dict[str, Any] | None"]


def seq_value(seq: bytes) -> int:
    """The Seq whose varint :meth:`FastCalls.parse` returned."""
    if len(seq) > 1:
        return int.from_bytes(seq[1:], "big")
    return seq[0] if seq else 0


def bytes_needed(rest: bytes) -> int:
    """How many bytes the incomplete message starting ``rest`` needs in all (its count and
    payload; or one more byte while the count itself is incomplete)."""
    first = rest[0]
    if first < 0x80:
        return 1 + first
    n = 256 - first
    if len(rest) < 1 + n:
        return 1 + n
    return 1 + n + int.from_bytes(rest[1 : 1 + n], "big")


def skip_type_id(payload: bytes) -> bytes:
    """``payload`` after its leading type id."""
    return payload[decode_int(payload, 0)[1]:]


def read_header(payload: bytes, pos: int) -> tuple[str, int]:
    """Decode an ``rpc.Request{ServiceMethod string; Seq uint64}`` value (Go's field
    order, already checked against the stream's definition) without the generic decoder."""
    name, seq, field, end = "", 0, -1, len(payload)
    try:
        while True:
            delta = payload[pos]
            if delta < 0x80:
                pos += 1
            else:
                delta, pos = decode_uint(payload, pos)
            if delta == 0:
                break
            field += delta
            if field == 0:
                n = payload[pos]
                if n < 0x80:
                    pos += 1
                else:
                    n, pos = decode_uint(payload, pos)
                if pos + n > end:
                    raise GobError(f"length {n} runs past the end of the message")
                name = payload[pos : pos + n].decode("utf-8", "surrogateescape")
                pos += n
            elif field == 1:
                seq, pos = decode_uint(payload, pos)
            else:
                raise GobError(f"field number {field} out of range for rpc.Request")
    except IndexError:
        raise GobError("unexpected end of data inside a request header") from None
    if pos != end:
        raise GobError(f"{end - pos} bytes of extra data after a request header")
    return name, seq


class FastCall:
    """One method's compiled call shape: its argument type id and field reader."""

    __slots__ = ("body_id", "method", "name", "read", "reply")

    def __init__(self, name: str, method: Method, body_id: bytes, read: _Reader) -> None:
        self.name = name
        self.method = method
        self.body_id = body_id
        self.read = read
        #: ``(Seq's varint, result) -> answer bytes`` once known
        #: (:meth:`~netsuite.rpc.gob._answer.GobAnswers.replier`).
        self.reply: Callable[[bytes, Any], bytes] | None = None


def _reader(method: Method, wire: Struct, stream: Decoder) -> _Reader | None:
    """The function reading ``wire`` (the client's argument struct) into ``method``'s
    keyword arguments, or ``None`` when the fast path cannot take this pair."""
    params = method.params
    by_go = {go_name(p.name): p for p in params}
    fields = wire.fields
    if len(fields) != len(params) or not all(p.required for p in params):
        return None
    names: list[str] = []
    decoders: list[Any] = []  # None: an int read inline
    zeros: dict[str, Any] = {}
    checked: list[tuple[str, TypeSpec]] = []  # values the type check still looks at
    for field in fields:
        param = by_go.get(field.name)
        if param is None or _WIRE.get(param.spec) is not field.type:
            return None
        names.append(param.name)
        zeros[param.name] = _zero(field.type)
        if field.type is INT:
            decoders.append(None)  # a gob int is a signed 64-bit value: nothing to check
        else:
            decoders.append(_decoder_for(field.type, stream))
            checked.append((param.name, param.spec))
    nfields = len(names)

    def read(buf: bytes, pos: int, end: int) -> dict[str, Any] | None:
        kwargs = dict(zeros)
        field = -1
        try:
            while True:
                delta = buf[pos]
                pos += 1
                if delta == 0:
                    break
                if delta >= 0x80:
                    return None
                field += delta
                if field >= nfields:
                    return None
                dec = decoders[field]
                if dec is None:
                    u = buf[pos]
                    if u < 0x80:
                        pos += 1
                    else:
                        width = 256 - u
                        if width > 8 or pos + 1 + width > end:
                            return None
                        u = int.from_bytes(buf[pos + 1 : pos + 1 + width], "big")
                        pos += 1 + width
                    kwargs[names[field]] = ~(u >> 1) if u & 1 else u >> 1
                else:
                    kwargs[names[field]], pos = dec(buf, pos, 1)
        except (IndexError, GobError):
            return None
        if pos != end:
            return None
        for name, spec in checked:
            value = kwargs[name]
            if spec is STR and not value.isascii():
                value = from_gob(STR, value, name)  # not UTF-8: InvalidParams
            kwargs[name] = check(spec, value, name)
        return kwargs

    return read


class FastCalls:
    """The fast path of one connection (see the module docstring)."""

    def __init__(self, max_message: int) -> None:
        #: The encoded type id of the client's ``rpc.Request`` (once known; else ``b""``).
        self.header_id = b""
        self.max_message = max_message
        self._calls: dict[bytes, FastCall | None] = {}

    def learn(self, name: str, method: Method, payload: bytes, wire: Any, stream: Decoder
              ) -> None:
        """Compile the shape of a call just read the general way (``payload``: its body
        message; ``wire``: the argument struct type), if the fast path can take it."""
        key = name.encode("utf-8", "surrogateescape")
        if key in self._calls or len(self._calls) >= MAX_COMPILED:
            return
        read = _reader(method, wire, stream) if isinstance(wire, Struct) else None
        if read is None:
            self._calls[key] = None  # this method's calls go the general way
            return
        start = payload[0]
        id_len = 1 if start < 0x80 else 1 + 256 - start
        self._calls[key] = FastCall(name, method, payload[:id_len], read)

    def parse(self, buf: bytes, pos: int, end: int
              ) -> tuple[int, FastCall, bytes, dict[str, Any] | RpcError] | None:
        """Read the call starting at ``pos`` if it has the shape of one compiled: ``(end of
        the call, its method, Seq as sent -- its varint, ``b""`` for 0 --, keyword arguments
        or the error refusing them)``; ``None`` (nothing read) for anything else."""
        header_id = self.header_id
        try:
            count = buf[pos]
            if (count >= 0x80 or count > self.max_message
                    or not buf.startswith(header_id, pos + 1)):
                return None
            head_end = pos + 1 + count
            p = pos + 1 + len(header_id)
            if buf[p] != 1:  # ServiceMethod first, not empty
                return None
            n = buf[p + 1]
            p += 2
            call = self._calls.get(buf[p : p + n]) if n < 0x80 else None
            if call is None:
                return None
            p += n
            if buf[p] == 0:  # Seq 0 is left out
                seq = b""
                p += 1
            elif buf[p] == 1:
                first = buf[p + 1]
                if first < 0x80:
                    width = 0
                    if not first:  # 0 sent, not left out: not Go's encoding
                        return None
                else:
                    width = 256 - first
                    if width > 8 or not buf[p + 2] or (width == 1 and buf[p + 2] < 0x80):
                        return None  # not a minimal varint: the general path reads it
                seq = buf[p + 1 : p + 2 + width]
                p += 2 + width
                if buf[p] != 0:
                    return None
                p += 1
            else:
                return None
            if p != head_end:
                return None
            count = buf[head_end]
            if count >= 0x80:
                if count < 0xFE:  # a count in 3 or more bytes: not a small call
                    return None
                width = 256 - count
                body = head_end + 1 + width
                count = int.from_bytes(buf[head_end + 1 : body], "big")
            else:
                body = head_end + 1
            body_end = body + count
            if (not 0 < count <= self.max_message or body_end > end
                    or not buf.startswith(call.body_id, body)):
                return None
        except (IndexError, GobError):
            return None
        try:
            kwargs = call.read(buf, body + len(call.body_id), body_end)
        except RpcError as e:
            return body_end, call, seq, e
        if kwargs is None:
            return None
        return body_end, call, seq, kwargs
