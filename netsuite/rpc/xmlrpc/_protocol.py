"""XML-RPC over HTTP: a twisted.web :class:`Site` serving ``POST /RPC2`` from a :class:`Registry`.

Wire behaviour (the whole of it: ``docs/rpc.md``, "XML-RPC"):

* ``POST /RPC2`` with a ``methodCall`` body; other paths 404, other methods on ``/RPC2``
  405 (``Allow: POST``).  Answers are ``200 text/xml`` ``methodResponse`` documents, faults
  included.  HTTP/1.1 connections stay open (keep-alive); HTTP/1.0 closes after each answer.
* Params are positional, or a single ``<struct>`` whose members are the parameter names or
  their Go field names (``X``/``Y``, ``Java``/``Go``).
* Faults (fault code interoperability): -32700 parse error (not well-formed, DOCTYPE or
  entity declaration, nesting deeper than ``max_depth`` -- the last also closes the
  connection), -32600 well-formed but not XML-RPC, -32601 unknown method, -32602 bad params,
  -32603 internal error, -32500 application error (``Algorithm.Sum`` overflow).
* ``system.listMethods``, ``system.methodHelp``, ``system.methodSignature``,
  ``system.multicall`` (at most ``max_multicall`` calls; a nested multicall is a fault entry).
* A body over ``max_body`` bytes (1 MiB) is refused with ``413`` and the connection closed,
  before parsing and before buffering past the limit: at once for a ``Content-Length`` over
  it, as soon as the count passes it for a chunked body.
* No access log line per request.

Speed: a request that arrives whole in one read on an idle connection (the common case for
keep-alive clients) is answered straight from the channel's ``dataReceived`` without
building a twisted.web ``Request``; everything else (partial reads, pipelining, chunked
bodies, other paths and methods, ``Expect``, ``Content-Encoding``, ``Connection: close``)
takes the ordinary twisted.web path.  Both paths share one :class:`XmlRpcDispatcher`, so
they answer alike.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.logger import Logger
from twisted.web import http, server
from zope.interface import implementer

from netsuite._endpoints import describe_address
from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST, CallContext, Registry
from netsuite.rpc._paced import CLOSED, DRAINING, OPEN, IGracefulClose, context_of
from netsuite.rpc._sendnow import send_now
from netsuite.rpc.xmlrpc._answer import (
    DEFAULT_MAX_MULTICALL,
    Limits,
    Stats,
    XmlRpcDispatcher,
)
from netsuite.rpc.xmlrpc._resource import Root, XmlRpcRequest, XmlRpcResource

__all__ = [
    "DEFAULT_MAX_MULTICALL",
    "Limits",
    "Stats",
    "XmlRpcDispatcher",
    "XmlRpcSite",
    "xmlrpc_factory",
]

log = Logger()

DEFAULT_IDLE_TIMEOUT = 60.0
#: After a 413 the connection drains (discards) input so the client, still sending its body,
#: reads the answer instead of a reset: until the client closes, for at most LINGER seconds,
#: and no longer than LINGER_IDLE seconds without input (nginx's lingering close).
LINGER = 30.0
LINGER_IDLE = 5.0


_FAST_PREFIX = b"POST /RPC2 HTTP/1.1\r\n"
# Header lines the fast path handles: a token name and a value of visible characters.
_SIMPLE_HEADERS = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[\x21-\x7e][\x20-\x7e]*\r\n)*")
# Headers that need twisted.web's own handling.
_SLOW_HEADERS = frozenset((b"transfer-encoding", b"expect", b"connection",
                           b"content-encoding"))
#: Distinct header blocks remembered by the fast path (then it starts again).
_MAX_HEADS = 64


@implementer(IGracefulClose, IHalfCloseableProtocol)
class _XmlRpcChannel(http.HTTPChannel):
    """HTTP/1.1 channel with the body limit enforced early and a fast path for whole requests.

    Requests on one connection are answered in order: while a call answered on the fast
    path runs, the channel stops reading and keeps what arrives (twisted.web does the same
    for the requests it handles).  A client that half-closes gets the answers of every
    complete request it sent, then the close; one that disconnects has its call cancelled.
    """

    site: XmlRpcSite
    _refused = False
    state: str = OPEN
    _linger: Any = None
    _linger_idle: Any = None
    _context: CallContext | None = None
    _running: Deferred[Any] | None = None  # a fast-path call still running
    _kept: list[bytes] | None = None  # input that arrived meanwhile
    _input_ended = False

    def call_context(self) -> CallContext:
        """The :class:`CallContext` of this connection's calls (built once)."""
        if self._context is None:
            self._context = context_of("xmlrpc", self.transport)
        return self._context

    def readConnectionLost(self) -> None:
        """The client shut its write side: answer what it sent, then close."""
        self._input_ended = True
        self._finish_if_done()

    def writeConnectionLost(self) -> None:
        self.loseConnection()

    def _finish_if_done(self) -> None:
        if (self._input_ended and self._running is None and not self._kept
                and not self._handlingRequest and not self._dataBuffer
                and not self._refused):  # a request only partly received is dropped
            self.loseConnection()

    def graceful_close(self) -> None:
        """Shutting down: close now if idle, else once the request in progress is answered.

        Called by the rpc service's connection tracker on SIGTERM (``--grace``).
        """
        if self.state != OPEN:
            return
        self.state = DRAINING
        if self._refused:
            return
        if (not self._handlingRequest and not self.requests and self.line_mode
                and not self._buffer):
            self.loseConnection()
        else:
            self.persistent = False

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        if self.state == DRAINING:
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
            return False
        return super().checkPersistence(request, version)

    def dataReceived(self, data: bytes) -> None:
        if self._running is not None:  # a call of the fast path runs: keep the input
            self._kept = [*(self._kept or []), data]
            return
        if self._linger is not None:
            self._linger_idle.reset(LINGER_IDLE)  # still sending its refused body
            return
        if self._refused or self.transport.disconnecting:
            # Draining a refused body, or closing (after a 400, an HTTP/1.0 answer...):
            # whatever else arrives is not read as requests.
            return
        if (
            not self._handlingRequest
            and not self.requests
            and self.line_mode
            and not self._buffer
            and self.state == OPEN
            and data.startswith(_FAST_PREFIX)
        ):
            answer = self.site._fast(data, self.call_context)
            if answer is not None:
                self.resetTimeout()
                if type(answer) is Deferred:
                    self._wait_for(answer)
                    return
                self._fast_written(answer)  # type: ignore[arg-type]
                return
        super().dataReceived(data)
        if self._input_ended:
            self._finish_if_done()

    def _fast_written(self, answer: tuple[bytes, bool]) -> None:
        send_now(self.transport, answer[0])
        if answer[1]:
            self.persistent = False
            self.loseConnection()

    def _wait_for(self, answer: Deferred[tuple[bytes, bool]]) -> None:
        """A fast-path call that runs on: stop reading until it is answered."""
        self._running = answer
        self.transport.pauseProducing()

        def done(result: tuple[bytes, bool]) -> None:
            self._running = None
            if self.state == CLOSED:
                return
            self._fast_written(result)
            if self.transport.disconnecting:
                return
            kept, self._kept = self._kept, None
            self.transport.resumeProducing()
            if kept:
                self.dataReceived(b"".join(kept))
            self._finish_if_done()

        answer.addCallback(done).addErrback(lambda f: None)

    def requestDone(self, request: Any) -> None:
        super().requestDone(request)
        if self._input_ended:
            self._finish_if_done()
        # twisted.web pauses reading when the transport's buffer fills only if no request is
        # being handled; an answer written synchronously fills it *while* handling, and
        # requestDone then reads on.  A client that sends and never reads would make us
        # buffer answers without bound: stop reading until the transport drains (its
        # resumeProducing resumes us).
        if self._waitingForTransport and self.transport is not None and self.transport.connected:
            self._networkProducer.pauseProducing()

    def lineReceived(self, line: bytes) -> None:
        if not self._refused:
            super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        # twisted.web closes without a word on a request or header line over MAX_LENGTH.
        self._respondToBadRequestAndDisconnect()

    def _maybeChooseTransferDecoder(self, header: bytes, data: bytes) -> bool:
        # A Content-Length of more than 18 digits is over any body limit, and one of 4300+
        # digits would make twisted.web's int() raise out of dataReceived: refuse it here.
        if header == b"Content-Length" and data.isdigit() and len(data) > 18:
            self.refuse_too_large()
            return False
        return super()._maybeChooseTransferDecoder(header, data)

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > self.site.limits.max_body:
            self.refuse_too_large()
            return
        super().allHeadersReceived()

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if not self._refused:
            super().allContentReceived()

    def refuse_too_large(self) -> None:
        """Answer 413, stop reading the request, and close once the client has the answer.

        The write side is shut at once; input is drained (discarded) while it keeps coming
        (:data:`LINGER_IDLE`), for at most :data:`LINGER` seconds, so the client is not
        reset before it reads the 413.
        """
        if self._refused:
            return
        self._refused = True
        site = self.site
        site.stats.too_large += 1
        limit = site.limits.max_body
        log.info("xmlrpc: refused a request body over {limit} bytes from {peer}; closing",
                 limit=limit, peer=describe_address(self.transport.getPeer()))
        text = f"request body larger than {limit} bytes\n".encode()
        self.transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text)
        )
        self.setTimeout(None)
        try:
            self.transport.loseWriteConnection()
        except (AttributeError, NotImplementedError):
            self.loseConnection()
            return
        self._linger = self.callLater(LINGER, self._abort)
        self._linger_idle = self.callLater(LINGER_IDLE, self._abort)

    def _abort(self) -> None:
        self._stop_lingering()
        self.transport.abortConnection()

    def _stop_lingering(self) -> None:
        for timer in (self._linger, self._linger_idle):
            if timer is not None and timer.active():
                timer.cancel()
        self._linger = self._linger_idle = None

    def connectionLost(self, reason: Any) -> None:
        self.state = CLOSED
        self._stop_lingering()
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
        super().connectionLost(reason)


class XmlRpcSite(server.Site):
    """The XML-RPC site: ``/RPC2`` only, quiet (no access log), limits in :attr:`limits`.

    :attr:`stats` holds the counters (:class:`Stats`), :attr:`dispatcher` the
    :class:`XmlRpcDispatcher` shared by the fast path and the twisted.web resource.
    """

    protocol = _XmlRpcChannel
    requestFactory = XmlRpcRequest
    noisy = False  # no "Starting factory" lines: the listener logs its own line

    def __init__(self, registry: Registry, *, limits: Limits | None = None,
                 timeout: float | None = DEFAULT_IDLE_TIMEOUT, reactor: Any = None) -> None:
        self.limits = limits or Limits()
        self.stats = Stats()
        self.dispatcher = XmlRpcDispatcher(registry, self.limits, self.stats)
        super().__init__(Root(XmlRpcResource(self.dispatcher)), timeout=timeout,
                         reactor=reactor, parsePOSTFormSubmission=False)
        self._date_second = -1
        self._date = b""
        self._server_header = b"Server: " + server.version + b"\r\n"
        self._heads: dict[bytes, int] = {}  # header lines -> _content_length of them

    def log(self, request: Any) -> None:
        """No access log line per request (it costs ~20% of throughput)."""

    def _fast(self, data: bytes, context: Any = None
              ) -> tuple[bytes, bool] | Deferred[tuple[bytes, bool]] | None:
        """The whole HTTP response to ``data`` if it is exactly one simple ``POST /RPC2``,
        and whether to close the connection after it (or a Deferred of both, while the
        method runs); ``None`` for anything else."""
        end = data.find(b"\r\n\r\n", len(_FAST_PREFIX) - 2)
        if end < 0 or end > 8192:
            return None
        headers = data[len(_FAST_PREFIX) : end + 2]
        length = self._heads.get(headers)
        if length is None:
            # A client sends the same header lines again and again: read them once.
            length = _content_length(headers)
            if len(self._heads) >= _MAX_HEADS:
                self._heads.clear()
            self._heads[headers] = length
        if length < 0 or length > self.limits.max_body or len(data) - end - 4 != length:
            return None
        self.stats.fast_path += 1
        answer = self.dispatcher.handle(data[end + 4 :], context)
        if type(answer) is Deferred:
            return answer.addCallback(self._http_response)
        return self._http_response(answer)  # type: ignore[arg-type]

    def _http_response(self, answer: tuple[bytes, bool]) -> tuple[bytes, bool]:
        body, close = answer
        now = int(self.reactor.seconds())
        if now != self._date_second:
            self._date_second = now
            self._date = b"Date: " + http.datetimeToString(now) + b"\r\n"
        return b"".join((
            b"HTTP/1.1 200 OK\r\n", self._server_header, self._date,
            b"Connection: close\r\n" if close else b"",
            b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(body), body,
        )), close


def _content_length(headers: bytes) -> int:
    """The Content-Length of a request whose header lines (each ending CRLF) the fast path
    can take; -1 if it cannot (no or a repeated length, a header needing twisted.web)."""
    if _SIMPLE_HEADERS.fullmatch(headers) is None:
        return -1
    length = -1
    for line in headers.split(b"\r\n")[:-1]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"content-length":
            value = value.strip()
            if length >= 0 or not value.isdigit() or len(value) > 18:
                return -1
            length = int(value)
        elif name in _SLOW_HEADERS:
            if name != b"connection" or value.strip().lower() != b"keep-alive":
                return -1
    return length


def xmlrpc_factory(registry: Registry, *, reactor: Any = None, max_body: int = MAX_REQUEST,
                   max_depth: int = MAX_DEPTH, max_multicall: int = DEFAULT_MAX_MULTICALL,
                   idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT) -> XmlRpcSite:
    """The XML-RPC protocol factory: a twisted.web :class:`XmlRpcSite` serving ``POST /RPC2``.

    ``max_body`` bytes per request body (413 past it), ``max_depth`` levels of element
    nesting, ``max_multicall`` calls per ``system.multicall``; a connection idle for
    ``idle_timeout`` seconds is closed (``None``: never).  Counters are in ``.stats``.
    """
    limits = Limits(max_body=max_body, max_depth=max_depth, max_multicall=max_multicall)
    return XmlRpcSite(registry, limits=limits, timeout=idle_timeout, reactor=reactor)

