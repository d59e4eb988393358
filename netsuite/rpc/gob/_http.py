"""Go's ``rpc.DialHTTP`` beside an HTTP site: one port, HTTP for browsers, gob after CONNECT.

Go's ``rpc.DialHTTP`` first sends ``CONNECT /_goRPC_ HTTP/1.0`` and a blank line, and
expects ``HTTP/1.0 200 Connected to Go RPC`` and a blank line back.
:func:`with_go_http_connect` wraps an HTTP factory (the XML-RPC site) so that a connection
whose first request is that CONNECT speaks gob, a non-CONNECT request for ``/_goRPC_`` gets
Go's ``405 must CONNECT`` (and a close), and anything else goes to the HTTP factory untouched
-- including the bytes already read.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IAddress, IHalfCloseableProtocol, IProtocolFactory
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST, Registry
from netsuite.rpc._paced import OPEN, IGracefulClose
from netsuite.rpc.gob._connect import (
    CONNECTED,
    GOB_RPC_PATH,
    MAX_SNIFF,
    end_of_head,
    may_be_gorpc,
)
from netsuite.rpc.gob._protocol import GobRpcFactory, GobStats

__all__ = ["GoConnectFactory", "with_go_http_connect"]

log = Logger()


@implementer(IGracefulClose, IHalfCloseableProtocol)
class _ConnectSniffer(Protocol):
    """Reads the first request line: Go's CONNECT becomes gob, anything else goes to HTTP."""

    @property
    def state(self) -> str:
        """The state of the protocol this connection turned into (``open`` until then)."""
        return getattr(self._inner, "state", OPEN)

    def __init__(self, factory: GoConnectFactory, addr: IAddress) -> None:
        self.factory = factory
        self.addr = addr
        self._buffer = b""
        self._inner: Protocol | None = None
        self._timer: Any = None

    def connectionMade(self) -> None:
        # Until it is HTTP's (whose idle timeout then applies) or gob's, a connection that
        # sends no complete first line is closed after the HTTP factory's idle timeout.
        http = self.factory.http_factory
        timeout = getattr(http, "timeout", None)
        clock = getattr(http, "reactor", None)
        if timeout and clock is not None:
            self._timer = clock.callLater(timeout, self._idle)

    def _idle(self) -> None:
        self._timer = None
        if self._inner is None:
            self._inner = Protocol()
            self.transport.loseConnection()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def dataReceived(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.dataReceived(data)
            return
        buf = self._buffer + data
        self._buffer = buf
        line_end = buf.find(b"\n")
        if line_end < 0:
            if len(buf) > MAX_SNIFF or not may_be_gorpc(buf):
                self._hand_over(self.factory.http_factory.buildProtocol(self.addr), buf)
            return
        parts = buf[:line_end].rstrip(b"\r").split(b" ")
        if len(parts) != 3 or parts[1] != GOB_RPC_PATH:
            self._hand_over(self.factory.http_factory.buildProtocol(self.addr), buf)
            return
        method, _, version = parts
        if method != b"CONNECT":
            self._refuse(version)
            return
        head_end = end_of_head(buf, line_end + 1)
        if head_end is None:
            if len(buf) > MAX_SNIFF:
                self._refuse_too_long()
            return
        self.transport.write(CONNECTED)
        self._hand_over(self.factory.gob_factory.buildProtocol(self.addr), buf[head_end:])

    def _hand_over(self, inner: Protocol | None, data: bytes) -> None:
        self._buffer = b""
        self._cancel_timer()
        if inner is None:
            self.transport.loseConnection()
            return
        self._inner = inner
        # From now on every read is the inner protocol's: skip this hop.
        self.dataReceived = inner.dataReceived  # type: ignore[method-assign]
        inner.makeConnection(self.transport)
        if data:
            inner.dataReceived(data)

    def _refuse(self, version: bytes) -> None:
        """Go's ServeHTTP answer to anything but CONNECT on the RPC path; then close."""
        proto = version if version in (b"HTTP/1.0", b"HTTP/1.1") else b"HTTP/1.0"
        body = b"405 must CONNECT\n"
        self._buffer = b""
        self._cancel_timer()
        self._inner = Protocol()  # swallow whatever else arrives
        self.transport.write(
            proto + b" 405 Method Not Allowed\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body
        )
        self.transport.loseConnection()

    def _refuse_too_long(self) -> None:
        self._buffer = b""
        self._cancel_timer()
        self._inner = Protocol()
        self.transport.write(b"HTTP/1.0 431 Request Header Fields Too Large\r\n"
                             b"Connection: close\r\n\r\n")
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_timer()
        if self._inner is not None:
            self._inner.connectionLost(reason)

    # IHalfCloseableProtocol: the client shut its write side.  gob (and an HTTP channel
    # that can) answers what it received first; anything else sees the end as a close.
    def readConnectionLost(self) -> None:
        inner = self._inner
        if inner is not None and IHalfCloseableProtocol.providedBy(inner):
            inner.readConnectionLost()
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        inner = self._inner
        if inner is not None and IHalfCloseableProtocol.providedBy(inner):
            inner.writeConnectionLost()
        else:
            self.transport.loseConnection()

    def graceful_close(self) -> None:
        """Shutdown: let the protocol this connection turned into finish, or close now."""
        closer = getattr(self._inner, "graceful_close", None)
        if closer is not None:
            closer()
        elif self._inner is None or type(self._inner) is Protocol:
            self.transport.loseConnection()


@implementer(IProtocolFactory)
class GoConnectFactory:
    """Wraps an HTTP factory: Go's ``CONNECT /_goRPC_`` speaks gob, the rest is HTTP."""

    def __init__(self, http_factory: IProtocolFactory, gob: GobRpcFactory) -> None:
        self.http_factory = http_factory
        self.gob_factory = gob

    @property
    def max_inflight(self) -> int:
        """Most gob calls running at once per connection (``--max-inflight``)."""
        return self.gob_factory.max_inflight

    @max_inflight.setter
    def max_inflight(self, value: int) -> None:
        self.gob_factory.max_inflight = value

    @property
    def stats(self) -> GobStats:
        """The gob transport's counters."""
        return self.gob_factory.stats

    def buildProtocol(self, addr: IAddress) -> Protocol:
        sniffer = _ConnectSniffer(self, addr)
        sniffer.factory = self  # type: ignore[assignment]
        return sniffer

    def doStart(self) -> None:
        self.http_factory.doStart()
        self.gob_factory.doStart()

    def doStop(self) -> None:
        self.http_factory.doStop()
        self.gob_factory.doStop()

    def __getattr__(self, name: str) -> Any:
        # Anything else (a Site's attributes, say) is the HTTP factory's.
        return getattr(self.http_factory, name)


def with_go_http_connect(http_factory: IProtocolFactory, registry: Registry, *,
                         max_message: int = MAX_REQUEST, max_depth: int = MAX_DEPTH,
                         stats: GobStats | None = None) -> GoConnectFactory:
    """Wrap ``http_factory`` so the same port also answers Go's ``rpc.DialHTTP``."""
    gob = GobRpcFactory(registry, max_message=max_message, max_depth=max_depth, stats=stats,
                        label="gob-http", accept_connect=False)
    return GoConnectFactory(http_factory, gob)
