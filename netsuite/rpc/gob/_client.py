"""A Go ``net/rpc`` (gob) client on Twisted: ``netsuite call gob HOST:PORT METHOD ARGS...``.

Like Go's ``rpc.DialHTTP`` it first sends ``CONNECT /_goRPC_ HTTP/1.0`` and waits for
``HTTP/1.0 200 Connected to Go RPC``; ``raw=True`` skips that, like ``rpc.Dial`` (needed
for a Go server started with ``rpc.Accept``; netsuite's own ``--gob`` listener accepts
both).  Arguments go as a struct ``Args`` whose fields are the method's Go field names
(``X``, ``Y`` / ``Java``, ``Go``), as the book's Go clients send them; calls on one
connection are pipelined and matched to their answers by ``Seq``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from netsuite._endpoints import client_endpoint
from netsuite.rpc._core import MAX_REQUEST, Method, RpcError
from netsuite.rpc._types import to_plain
from netsuite.rpc.gob._codec import BOOL as GOB_BOOL
from netsuite.rpc.gob._codec import (
    FLOAT,
    INT,
    STRING,
    Decoder,
    Encoder,
    Field,
    GobError,
    GobType,
    Slice,
    Struct,
    split_message,
)
from netsuite.rpc.gob._fastcall import bytes_needed
from netsuite.rpc.gob._protocol import REQUEST
from netsuite.rpc.gob._typed import args_type, from_gob

__all__ = ["GobClient", "GobClientProtocol", "args_type", "call", "call_json", "connect",
           "json_type"]

CONNECT = b"CONNECT /_goRPC_ HTTP/1.0\n\n"
CONNECTED_STATUS = b"200 Connected to Go RPC"


class ConnectionClosed(ConnectionError):
    """The server closed the connection before answering."""


def json_type(value: Any) -> GobType | None:
    """The gob type a JSON value travels as when the method is not known here: integers
    ``int64``, numbers ``float64``, ``bool``, ``string``, arrays slices (of the first
    element's type; ``float64`` if numbers are mixed), objects structs whose field names are
    the keys as given (a Go server wants them exported: ``{"X": 1}``; netsuite's matches
    them ignoring case).  ``None`` (or an empty array) for a field left out."""
    if isinstance(value, bool):
        return GOB_BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        kinds = [t for t in map(json_type, value) if t is not None]
        if not kinds:
            return None
        if FLOAT in kinds and INT in kinds:
            return Slice(FLOAT)
        return Slice(kinds[0])
    if isinstance(value, dict):
        fields = [(str(k), json_type(v)) for k, v in value.items()]
        return Struct("", tuple(Field(k, t) for k, t in fields if t is not None))
    return None


#: Largest answer the client accepts: above the server's request limit, since an answer
#: may be a little longer than the request it answers (GetSkill's skill line).
MAX_ANSWER = 16 * MAX_REQUEST


class GobClientProtocol(Protocol):
    """The client side of one net/rpc gob connection."""

    def __init__(self, raw: bool = False, max_message: int = MAX_ANSWER) -> None:
        self.raw = raw
        self.max_message = max_message
        self.ready: defer.Deferred[GobClientProtocol] = defer.Deferred()
        self._handshaken = raw
        self._buffer = b""  # the start of an incomplete message (or HTTP answer)
        self._pieces: list[bytes] = []  # what arrived after it, not yet joined
        self._held = 0
        self._wanted = 0  # total length at which the held bytes can make progress
        self._encoder = Encoder()
        self._decoder = Decoder()
        self._seq = 0
        self._calls: dict[int, defer.Deferred[Any]] = {}
        self._header: dict[str, Any] | None = None
        self._error: BaseException | None = None

    def connectionMade(self) -> None:
        if self.raw:
            self.ready.callback(self)
        else:
            self.transport.write(CONNECT)

    def dataReceived(self, data: bytes) -> None:
        if self._error is not None:
            return  # failed: closing
        if self._buffer:
            self._pieces.append(data)
            self._held += len(data)
            if len(self._buffer) + self._held < self._wanted:
                return  # a large answer still arriving: join its pieces once, not per read
            buf = self._buffer + b"".join(self._pieces)
            self._pieces, self._held = [], 0
        else:
            buf = data
        try:
            if not self._handshaken:
                end = buf.find(b"\n\n")
                end_crlf = buf.find(b"\r\n\r\n")
                if end < 0 and end_crlf < 0:
                    if len(buf) > 8192:
                        raise GobError("over-long HTTP response to CONNECT")
                    self._buffer, self._wanted = buf, len(buf) + 1
                    return
                cut = min(e for e in (end, end_crlf) if e >= 0)
                status_line = buf[: buf.find(b"\n")].rstrip(b"\r")
                status = status_line.partition(b" ")[2]
                if status != CONNECTED_STATUS:
                    raise GobError("unexpected HTTP response: "
                                   + status.decode("latin-1", "replace"))
                buf = buf[cut + (2 if cut == end else 4):]
                self._handshaken = True
                self.ready.callback(self)
            pos = 0
            while True:
                found = split_message(buf, pos, self.max_message)
                if found is None:
                    break
                start, pos = found
                self._message(buf[start:pos])
            self._buffer = buf[pos:]
            self._wanted = bytes_needed(self._buffer) if self._buffer else 0
        except GobError as e:
            self._buffer = b""
            self._fail(e)
            self.transport.loseConnection()

    def _message(self, payload: bytes) -> None:
        item = self._decoder.decode_message(payload)
        if item is None:
            return
        _, value = item
        if self._header is None:
            if not isinstance(value, dict) or type(value.get("Seq")) is not int:
                raise GobError("response header is not an rpc.Response")
            self._header = value
            return
        header, self._header = self._header, None
        d = self._calls.pop(header["Seq"], None)
        if d is None:
            return  # Go's client also ignores an answer to no call
        error = header.get("Error") or ""
        if error:
            d.errback(RpcError(error))
        else:
            d.callback(value)

    def call(self, name: str, struct_type: Struct, args: dict[str, Any]) -> defer.Deferred[Any]:
        """Send one call; the Deferred fires with the reply or fails with :class:`RpcError`."""
        if self._error is not None:
            return defer.fail(self._error)
        seq = self._seq
        self._seq += 1
        d: defer.Deferred[Any] = defer.Deferred()
        self._calls[seq] = d
        self.transport.write(self._encoder.encode(REQUEST, {"ServiceMethod": name, "Seq": seq})
                             + self._encoder.encode(struct_type, args))
        return d

    def send(self, method: Method, plain: dict[str, Any]) -> defer.Deferred[Any]:
        """Call ``method`` with plain arguments by name (``netsuite.rpc.testing``); the
        reply as plain data with the Python names."""
        d = self.call(method.name, args_type(method), plain)
        return d.addCallback(lambda reply: from_gob(method.result, reply, "result"))

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        if not self.ready.called:
            self.ready.errback(error)
        calls, self._calls = self._calls, {}
        for d in calls.values():
            d.errback(error)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._fail(ConnectionClosed(f"connection closed: {reason.getErrorMessage()}"))


class GobClient:
    """A connected net/rpc gob client: :meth:`call` as often as wanted, then :meth:`close`."""

    def __init__(self, protocol: GobClientProtocol) -> None:
        self.protocol = protocol

    def call(self, method: Method, args: list[Any]) -> defer.Deferred[Any]:
        """Call ``method`` with positional ``args`` (sent as the Go struct of its
        parameters); the reply as plain data with the Python names."""
        plain = {p.name: to_plain(p.spec, a, p.name) for p, a in zip(method.params, args,
                                                                    strict=True)}
        d = self.protocol.call(method.name, args_type(method), plain)
        d.addCallback(lambda reply: from_gob(method.result, reply, "result"))
        return d

    def call_json(self, name: str, params: dict[str, Any]) -> defer.Deferred[Any]:
        """Call a method not known here with a JSON object of its parameters (see
        :func:`json_type`); the reply as decoded (structs with their Go field names)."""
        struct_type = json_type(params)
        assert isinstance(struct_type, Struct)
        return self.protocol.call(name, struct_type, params)

    def close(self) -> None:
        """Close the connection."""
        self.protocol.transport.loseConnection()


async def connect(reactor: Any, host: str, port: int, *, tls: bool = False,
                  insecure: bool = False, timeout: float = 30, raw: bool = False) -> GobClient:
    """Connect (and do the CONNECT handshake unless ``raw``)."""
    endpoint = client_endpoint(reactor, host, port, tls=tls, insecure=insecure, timeout=timeout)
    factory = Factory.forProtocol(lambda: GobClientProtocol(raw=raw))
    protocol = await endpoint.connect(factory)
    ready = protocol.ready
    ready.addTimeout(timeout, reactor)
    try:
        await ready
    except BaseException:
        protocol.transport.abortConnection()
        raise
    return GobClient(protocol)


async def _one_call(reactor: Any, host: str, port: int, tls: Any, insecure: bool,
                    timeout: float, raw: bool, send: Any) -> object:
    """Connect, make one call (``send(client)`` -> its Deferred), close; ``timeout`` bounds
    the connection and the answer each."""
    deferred = defer.ensureDeferred(
        connect(reactor, host, port, tls=tls, insecure=insecure, timeout=timeout, raw=raw))
    deferred.addTimeout(timeout, reactor)
    client = await deferred
    try:
        d = send(client)
        d.addTimeout(timeout, reactor)
        return await d
    finally:
        client.close()


async def call(reactor: Any, host: str, port: int, method: Method, args: list, *, tls: Any,
               insecure: bool, timeout: float, raw: bool = False) -> object:
    """One call over a fresh connection (the ``netsuite call gob`` contract)."""
    return await _one_call(reactor, host, port, tls, insecure, timeout, raw,
                           lambda client: client.call(method, args))


async def call_json(reactor: Any, host: str, port: int, name: str, params: dict[str, Any], *,
                    tls: Any, timeout: float, raw: bool = False) -> object:
    """One call of a method not known here, JSON arguments (``netsuite call gob``)."""
    return await _one_call(reactor, host, port, tls or False, False, timeout, raw,
                           lambda client: client.call_json(name, params))
