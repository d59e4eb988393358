"""Serve a registry in memory, on a real wire, for your own tests.

:func:`connected_client` connects a client to a server of your registry through an
in-memory transport (:mod:`twisted.test.iosim`): the bytes are the real AMP, JSON-RPC or
XML-RPC wire, no socket is opened and nothing waits on the clock::

    from netsuite.rpc import Registry
    from netsuite.rpc.testing import connected_client

    registry = Registry()

    @registry.method("Geo.Move")
    async def move(p: Point, by: list[int]) -> Point:
        ...

    def test_move() -> None:
        client = connected_client(registry, wire="jsonrpc")
        d = client.call("Geo.Move", Point(1, 2), by=[3, 4])
        assert client.result(d) == Point(4, 6)

Arguments are given positionally or by name, as Python values of the method's types;
results come back as the same types (a dataclass result is an instance again).  Errors are
the core's: :class:`~netsuite.rpc.InvalidParams`, :class:`~netsuite.rpc.ApplicationError`
(with the wire's ``code`` where it has one), :class:`~netsuite.rpc.UnknownMethod`,
:class:`~netsuite.rpc.InternalError`.  A call that waits (its method awaits something)
goes on when you make that something happen (fire a Deferred, advance a Clock) and call
:meth:`MemoryClient.flush`.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.test import iosim

from netsuite.rpc._core import (
    ApplicationError,
    InternalError,
    InvalidParams,
    Method,
    Registry,
    RpcError,
    UnknownMethod,
)
from netsuite.rpc._types import check, to_plain

__all__ = ["WIRES", "MemoryClient", "connected_client"]

#: The wires :func:`connected_client` speaks with errors in the core's terms (kinds, codes).
#: ``gob`` works too, but Go's ``net/rpc`` carries errors as text only: there every error
#: is an :class:`~netsuite.rpc.RpcError` with the server's text.
WIRES = ("amp", "jsonrpc", "xmlrpc")


def _error(kind: str, text: str, code: str | None = None) -> RpcError:
    if kind == "bad-params":
        return InvalidParams(text)
    if kind == "unknown-method":
        return UnknownMethod(text.rpartition(" ")[2] or text)
    if kind == "application":
        error = ApplicationError(text)
        if code:
            error.code = code
        return error
    return InternalError(text)


class MemoryClient:
    """A client of a registry served in memory (see the module docstring)."""

    def __init__(self, registry: Registry, wire: str, client: Any, pump: iosim.IOPump,
                 server: Any) -> None:
        self.registry = registry
        self.wire = wire
        self.pump = pump
        #: The server's protocol (``server.running``: the calls running now).
        self.server = server
        self._client = client

    def call(self, name: str, *args: Any, **kwargs: Any) -> Deferred[Any]:
        """Call ``name``; a Deferred of the result (of the method's result type).  Arguments
        of the wrong type raise :class:`~netsuite.rpc.InvalidParams` here, unsent."""
        method = self.registry.lookup(name)
        names = [p.name for p in method.params]
        bound = dict(zip(names, args, strict=False)) | kwargs
        plain = {p.name: to_plain(p.spec, check(p.spec, bound[p.name], p.name), p.name)
                 for p in method.params if p.name in bound}
        try:
            d = self._client.send(method, plain)
        except ValueError as e:  # a value the wire cannot carry (NaN in JSON, say)
            raise InternalError(str(e)) from None
        self.flush()
        return d.addCallback(lambda value: check(method.result, value, "result"))

    def flush(self) -> None:
        """Move every byte waiting in either direction."""
        self.pump.flush()

    def result(self, d: Deferred[Any]) -> Any:
        """The result of a call that has ended (raises its error; ``AssertionError`` if it
        is still running)."""
        self.flush()
        out: list[Any] = []

        def seen(result: Any) -> Any:
            out.append(result)
            return result

        d.addBoth(seen)
        if not out:
            raise AssertionError("the call is still running")
        if isinstance(out[0], Failure):
            d.addErrback(lambda _: None)
            out[0].raiseException()
        return out[0]

    def close(self) -> None:
        """Disconnect (the server cancels the calls still running)."""
        self.pump.clientIO.loseConnection()
        self.flush()


class _AmpClient(Protocol):
    """AMP boxes written and read here, so every error code reaches the caller."""

    def __init__(self) -> None:
        self._waiting: dict[bytes, tuple[Method, Deferred[Any]]] = {}
        self._next = 0
        self._buffer = b""

    def send(self, method: Method, plain: dict[str, Any]) -> Deferred[Any]:
        from netsuite.rpc.amp._values import encoder, pair

        self._next += 1
        tag = b"%d" % self._next
        box = [pair(b"_command", method.name.encode()), pair(b"_ask", tag)]
        box += [pair(p.name.encode(), encoder(p.spec)(plain[p.name])) for p in method.params
                if plain.get(p.name) is not None]
        d: Deferred[Any] = Deferred()
        self._waiting[tag] = (method, d)
        self.transport.write(b"".join(box) + b"\x00\x00")  # type: ignore[union-attr]
        return d

    def dataReceived(self, data: bytes) -> None:
        from netsuite.rpc.amp._values import decoder

        self._buffer += data
        while True:
            box, end = _one_box(self._buffer)
            if box is None:
                return
            self._buffer = self._buffer[end:]
            if b"_answer" in box:
                method, d = self._waiting.pop(box[b"_answer"])
                raw = box.get(method.result_name.encode())
                d.callback(None if raw is None else decoder(method.result)(raw, "result"))
                continue
            method, d = self._waiting.pop(box[b"_error"])
            code = box[b"_error_code"].decode("ascii", "replace")
            text = box[b"_error_description"].decode("utf-8", "replace")
            kind = {"BAD_PARAMS": "bad-params", "UNKNOWN": "internal",
                    "UNHANDLED": "unknown-method"}.get(code, "application")
            d.errback(_error(kind, text, code))


def _one_box(data: bytes) -> tuple[dict[bytes, bytes] | None, int]:
    """The first whole box of ``data`` and where it ends (``None``: not whole yet)."""
    box: dict[bytes, bytes] = {}
    pos = 0
    while len(data) - pos >= 2:
        klen = int.from_bytes(data[pos : pos + 2], "big")
        if klen == 0:
            return box, pos + 2
        vpos = pos + 2 + klen
        if len(data) < vpos + 2:
            break
        end = vpos + 2 + int.from_bytes(data[vpos : vpos + 2], "big")
        if len(data) < end:
            break
        box[data[pos + 2 : vpos]] = data[vpos + 2 : end]
        pos = end
    return None, 0


_JSON_KINDS = {-32602: "bad-params", -32601: "unknown-method", -32000: "application",
               -32603: "internal"}


class _JsonRpcClient(Protocol):
    def __init__(self) -> None:
        self._waiting: dict[int, tuple[Method, Deferred[Any]]] = {}
        self._next = 0
        self._buffer = b""

    def send(self, method: Method, plain: dict[str, Any]) -> Deferred[Any]:
        from netsuite.rpc.jsonrpc._values import dump_value

        self._next += 1
        d: Deferred[Any] = Deferred()
        self._waiting[self._next] = (method, d)
        params = dump_value(plain)
        self.transport.write(  # type: ignore[union-attr]
            f'{{"jsonrpc":"2.0","method":{json.dumps(method.name)},"params":{params},'
            f'"id":{self._next}}}\n'.encode())
        return d

    def dataReceived(self, data: bytes) -> None:
        from netsuite.rpc.jsonrpc._values import from_json

        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            answer = json.loads(line)
            method, d = self._waiting.pop(answer["id"])
            if "error" in answer:
                error = answer["error"]
                d.errback(_error(_JSON_KINDS.get(error["code"], "internal"), error["message"],
                                 error.get("data")))
            else:
                d.callback(from_json(method.result, answer["result"], "result"))


_XML_KINDS = {-32602: "bad-params", -32601: "unknown-method", -32500: "application",
              -32603: "internal"}


class _XmlRpcClient(Protocol):
    """HTTP/1.1 keep-alive, one request at a time (XML-RPC answers in order)."""

    def __init__(self) -> None:
        self._waiting: list[Deferred[Any]] = []
        self._buffer = b""

    def send(self, method: Method, plain: dict[str, Any]) -> Deferred[Any]:
        from netsuite.rpc.xmlrpc._encode import encode_call

        body = encode_call(method.name, [plain[p.name] for p in method.params
                                         if p.name in plain])
        self.transport.write(  # type: ignore[union-attr]
            b"POST /RPC2 HTTP/1.1\r\nHost: memory\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        d: Deferred[Any] = Deferred()
        self._waiting.append(d)
        return d

    def dataReceived(self, data: bytes) -> None:
        from netsuite.rpc.xmlrpc._codec import Fault, parse_response

        self._buffer += data
        while True:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            if len(rest) < length:
                return
            body, self._buffer = rest[:length], rest[length:]
            d = self._waiting.pop(0)
            try:
                d.callback(parse_response(body))
            except Fault as fault:
                d.errback(_error(_XML_KINDS.get(fault.code, "internal"), fault.string))


def connected_client(registry: Registry, wire: str = "jsonrpc", *,
                     max_inflight: int | None = None) -> MemoryClient:
    """A :class:`MemoryClient` connected to ``registry`` served on ``wire`` (``amp``,
    ``jsonrpc``, ``xmlrpc`` or ``gob``) in memory."""
    if wire == "amp":
        from netsuite.rpc.amp._protocol import amp_factory

        factory: Any = amp_factory(registry)
        client: Any = _AmpClient()
        client_protocol = client
    elif wire == "jsonrpc":
        from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory

        factory = jsonrpc_factory(registry)
        client = client_protocol = _JsonRpcClient()
    elif wire == "xmlrpc":
        from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory

        factory = xmlrpc_factory(registry, reactor=MemoryReactorClock(), idle_timeout=None)
        client = client_protocol = _XmlRpcClient()
    elif wire == "gob":  # errors: RpcError with Go's text (see WIRES)
        from netsuite.rpc.gob._client import GobClientProtocol
        from netsuite.rpc.gob._protocol import gob_factory

        factory = gob_factory(registry)
        client = client_protocol = GobClientProtocol(raw=True)
    else:
        raise ValueError(f"wire must be one of {', '.join(WIRES)}, gob, not {wire!r}")
    if max_inflight is not None:
        factory.max_inflight = max_inflight
    server = factory.buildProtocol(None)
    if max_inflight is not None and hasattr(server, "max_inflight"):
        server.max_inflight = max_inflight
    server_transport = iosim.FakeTransport(server, isServer=True)
    client_transport = iosim.FakeTransport(client_protocol, isServer=False)
    pump = iosim.connect(server, server_transport, client_protocol, client_transport,
                         greet=True)
    return MemoryClient(registry, wire, client, pump, server)
