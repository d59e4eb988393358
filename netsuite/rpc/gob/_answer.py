"""Answering net/rpc gob calls: decoded arguments in, ``Response`` + reply messages out.

One :class:`GobAnswers` per connection (it owns that connection's outgoing gob stream, so
each type is defined once per connection, as Go's server does).  A call's arguments are
the struct of the method's parameters (see :mod:`netsuite.rpc.gob._typed`), read the way
Go's decoder reads a struct; a non-struct value is the one parameter of a one-parameter
method.  The reply is a value of the method's result type; an error is
``Response.Error`` with the error's text and, as Go's server sends, an empty struct as the
body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._core import CallContext, Method, Registry, RpcError
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    STR,
    Optional,
    TypeSpec,
    check,
    zero_value,
)
from netsuite.rpc.gob._codec import (
    INT,
    STRING,
    UINT,
    Encoder,
    Field,
    GobError,
    Struct,
    StructValue,
    encode_int,
    encode_uint,
)
from netsuite.rpc.gob._typed import (
    from_gob,
    from_gob_struct,
    go_name,
    gob_type,
    params_struct,
)
from netsuite.rpc.gob._varint import _BYTE

__all__ = ["INVALID_REQUEST", "REQUEST", "RESPONSE", "GobAnswers"]

log = Logger()

REQUEST = Struct("Request", (Field("ServiceMethod", STRING), Field("Seq", UINT)))
RESPONSE = Struct("Response", (Field("ServiceMethod", STRING), Field("Seq", UINT),
                               Field("Error", STRING)))
#: The empty struct Go's server sends as the body of an error response.
INVALID_REQUEST = Struct("", ())

_INT_BODY = encode_int(INT.id) + b"\x00"  # type id + singleton delta
_STRING_BODY = encode_int(STRING.id) + b"\x00"


@attrs.frozen
class _Entry:
    """How one registered method travels on gob."""

    method: Method
    params: Any  # the parameters as one struct spec
    positional: bool  # every parameter is required: arguments go positionally
    reply: Callable[[Encoder, Any], bytes]
    #: (Go name, name, spec) of every parameter when all are required scalars: arguments
    #: sent under their Go names are checked and passed without the general conversion.
    scalars: tuple[tuple[str, str, TypeSpec], ...] | None


def _reply_encoder(method: Method) -> Callable[[Encoder, Any], bytes]:
    """The function writing a result of ``method`` as its reply message(s)."""
    spec = method.result
    if spec is INT64:
        def int_reply(encoder: Encoder, result: Any) -> bytes:
            value = encode_int(result)  # at most 9 bytes: the message is under 128
            return _BYTE[len(value) + 2] + _INT_BODY + value
        return int_reply

    if spec is STR:
        def string_reply(encoder: Encoder, result: Any) -> bytes:
            data = result.encode("utf-8", "surrogateescape")
            return _frame(_STRING_BODY + encode_uint(len(data)) + data)
        return string_reply

    reply_type = gob_type(spec)
    zero = zero_value(spec.inner) if isinstance(spec, Optional) else None

    def typed_reply(encoder: Encoder, result: Any) -> bytes:
        # gob cannot send a nil value: a None result goes as the zero value of its type.
        return encoder.encode(reply_type, zero if result is None else result)
    return typed_reply


def _frame(payload: bytes) -> bytes:
    return encode_uint(len(payload)) + payload


class GobAnswers:
    """The answering side of one gob connection (see the module docstring)."""

    def __init__(self, registry: Registry, stats: Any, label: str) -> None:
        self.registry = registry
        self.stats = stats
        self.label = label
        self.encoder = Encoder()
        self._entries: dict[str, _Entry] = {}
        self._prefixes: dict[str, bytes] = {}
        # (method, wire type) -> whether the struct shares a field with the parameters;
        # bounded by the stream's type limit times the registry's size.
        self._matched: dict[tuple[str, Any], bool] = {}

    def _entry(self, name: str) -> _Entry | None:
        entry = self._entries.get(name)
        if entry is None and name in self.registry:
            method = self.registry.lookup(name)
            scalars = tuple((go_name(p.name), p.name, p.spec) for p in method.params)
            if not all(p.required and p.spec in _SCALARS for p in method.params):
                scalars = None
            entry = self._entries[name] = _Entry(
                method, params_struct(method), all(p.required for p in method.params),
                _reply_encoder(method), scalars)
        return entry

    def arguments(self, name: str, value: Any, gob_type: Any) -> Any:
        """The call's arguments as :meth:`Registry.call` takes them, from the decoded value
        (:class:`RpcError` for arguments Go's decoder would refuse, or not UTF-8)."""
        entry = self._entry(name)
        if entry is None:  # the registry answers with Go's text for an unknown name
            return value if isinstance(value, dict) else (value,)
        if isinstance(value, StructValue):
            key = (name, gob_type)
            matched = self._matched.get(key)
            if matched is None:
                matched = self._matched[key] = _fields_match(entry.method, value)
            if not matched:
                # Go's decoder refuses a struct with no field in common with the args type.
                raise RpcError("gob: type mismatch: no fields matched compiling decoder "
                               f"for {name} arguments")
            args = from_gob_struct(entry.params, value, "")
            if entry.positional:
                return [args[p.name] for p in entry.method.params]
            return args
        params = entry.method.params
        if len(params) != 1:
            return (value,)  # the registry says how many it takes
        return (from_gob(params[0].spec, value, params[0].name),)

    def start(self, name: str, seq: int, value: Any, gob_type: Any,
              context: CallContext | None = None) -> bytes | Deferred[bytes]:
        """Start the call: the bytes of its answer, or a Deferred firing with them once the
        call ends (it fails only with ``CancelledError``, when cancelled)."""
        try:
            entry = self._entries.get(name)
            kwargs = _scalar_args(entry.scalars, value) if entry and entry.scalars else None
            if kwargs is not None:  # the common case: checked here, run directly
                result = self.registry.run(entry.method, kwargs, transport="gob",  # type: ignore[union-attr]
                                           context=context)
            else:
                args = self.arguments(name, value, gob_type)
                result = self.registry.start(name, args, go_struct=True, transport="gob",
                                             context=context)
        except RpcError as e:
            return self.error(name, seq, str(e))
        return self.answer(name, seq, result)

    def answer(self, name: str, seq: int, result: Any) -> bytes | Deferred[bytes]:
        """The answer to a call that returned ``result`` (plain data, or a Deferred)."""
        if type(result) is Deferred:
            return result.addCallbacks(self._replied, self._failed, callbackArgs=(name, seq),
                                       errbackArgs=(name, seq))
        return self.reply(name, seq, result)

    def _replied(self, result: Any, name: str, seq: int) -> bytes:
        return self.reply(name, seq, result)

    def _failed(self, failure: Failure, name: str, seq: int) -> bytes:
        failure.trap(RpcError)  # anything else (CancelledError) passes through
        return self.error(name, seq, str(failure.value))

    def reply(self, name: str, seq: int, result: Any) -> bytes:
        """A successful answer: the Response header, then the result as its Go type."""
        entry = self._entries.get(name) or self._entry(name)
        assert entry is not None
        try:
            out: list[bytes] = []
            prefix = self._prefixes.get(name)
            if prefix is None:
                prefix = self._prefix(name, out)
            if seq:
                seq_bytes = encode_uint(seq)
                out += (encode_uint(len(prefix) + len(seq_bytes) + 2), prefix, b"\x01",
                        seq_bytes, b"\x00")
            else:
                out += (encode_uint(len(prefix) + 1), prefix, b"\x00")
            out.append(entry.reply(self.encoder, result))
        except GobError as e:
            log.error("{label}: {method} returned a result gob cannot carry: {error}",
                      label=self.label, method=name, error=e)
            return self.error(name, seq, "internal error")
        self.stats.calls += 1
        return b"".join(out)

    def replier(self, name: str) -> Callable[[bytes, Any], bytes] | None:
        """For a method returning an ``int`` whose answers this connection has sent before:
        a function ``(Seq's varint, result) -> answer bytes`` writing what :meth:`reply`
        writes (without its counting and error handling: :class:`GobError` for a result
        gob cannot carry); ``None`` for any other method."""
        entry = self._entries.get(name)
        prefix = self._prefixes.get(name)
        if entry is None or prefix is None or len(prefix) > 100:
            return None
        if entry.method.result is not INT64:
            return None
        head = prefix + b"\x01"  # then Seq's varint, then the end of the struct
        size = len(head) + 1
        tails = [b"\x00" + _BYTE[n + 2] + _INT_BODY for n in range(10)]

        def int_reply(seq: bytes, value: int) -> bytes:
            if not -(1 << 63) <= value < (1 << 63):
                raise GobError(f"{value} does not fit in a signed 64-bit integer")
            u = (~value << 1) | 1 if value < 0 else value << 1  # as encode_int
            if u < 0x80:
                data = _BYTE[u]
            else:
                width = (u.bit_length() + 7) >> 3
                data = bytes((256 - width,)) + u.to_bytes(width, "big")
            if seq:
                return b"".join((_BYTE[size + len(seq)], head, seq, tails[len(data)], data))
            return b"".join((_BYTE[size - 1], prefix, tails[len(data)], data))  # Seq 0
        return int_reply

    def _prefix(self, name: str, out: list[bytes]) -> bytes:
        """The start of a Response header for ``name`` (a registered, non-empty name):
        its type id and ServiceMethod field; sends the Response type first if needed."""
        tid = self.encoder.type_id(RESPONSE, out)
        raw = name.encode("utf-8", "surrogateescape")
        prefix = self._prefixes[name] = encode_int(tid) + b"\x01" + encode_uint(len(raw)) + raw
        return prefix

    def error(self, name: str, seq: int, text: str) -> bytes:
        """An error answer: ``Response.Error`` set, an empty struct as the body."""
        self.stats.calls += 1
        self.stats.call_errors += 1
        return (self.encoder.encode(RESPONSE, {"ServiceMethod": name, "Seq": seq,
                                               "Error": text})
                + self.encoder.encode(INVALID_REQUEST, {}))


def _scalar_args(scalars: tuple[tuple[str, str, TypeSpec], ...], value: Any
                 ) -> dict[str, Any] | None:
    """Keyword arguments from a struct that has every parameter under its Go name (else
    ``None``: the general path handles it)."""
    if type(value) is not StructValue:
        return None
    kwargs = {}
    for go, name, spec in scalars:
        item = value.get(go, _ABSENT)
        if item is _ABSENT:
            return None
        if spec is STR and type(item) is str and not item.isascii():
            item = from_gob(STR, item, name)
        kwargs[name] = check(spec, item, name)
    return kwargs


_ABSENT = object()
_SCALARS = frozenset((INT64, FLOAT64, BOOL, BYTES, STR))


def _fields_match(method: Method, struct: dict[str, Any]) -> bool:
    """Whether a struct shares a field with ``method``'s parameters."""
    params = method.params
    return not params or bool({p.name.lower() for p in params}
                              & {k.lower() for k in struct})
