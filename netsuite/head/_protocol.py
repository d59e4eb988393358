"""The HEAD client on the wire: a raw :class:`Protocol` and its :class:`ClientFactory`.

The protocol writes one request when connected and reads until the end of the response
head (``\\r\\n\\r\\n`` or ``\\n\\n``).  A HEAD response has no body whatever Content-Length
says, so it then closes the connection itself rather than wait for the server to.
Interim ``1xx`` heads (``103 Early Hints``, ``100 Continue``) are skipped.  The outcome is
the ``finished`` Deferred: a :class:`ResponseHead`, or a failure with
:class:`HeadTooLarge`, :class:`MalformedResponse` or :class:`ConnectionClosedEarly`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.python.failure import Failure

from netsuite.head._parse import (
    DEFAULT_MAX_HEAD,
    HeadTooLarge,
    MalformedResponse,
    ResponseHead,
    find_head_end,
    parse_head,
)

__all__ = ["ConnectionClosedEarly", "HeadClientFactory", "HeadProtocol"]


class ConnectionClosedEarly(Exception):
    """The connection closed before the response head was complete."""


class HeadProtocol(Protocol):
    """Send ``request``; fire ``finished`` with the response head (see the module doc)."""

    def __init__(self, request: bytes, max_head: int = DEFAULT_MAX_HEAD) -> None:
        self.request = request
        self.max_head = max_head
        self.finished: defer.Deferred[ResponseHead] = defer.Deferred(self._cancel)
        self._buffer = b""
        self._searched = 0
        self._consumed = 0  # bytes of interim (1xx) heads already skipped

    def _cancel(self, _: defer.Deferred[ResponseHead]) -> None:
        if self.transport is not None:
            self.transport.abortConnection()

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return  # a body the server should not have sent, or more after the head
        self._buffer += data
        while not self.finished.called:
            if self._buffer and not b"HTTP/".startswith(self._buffer[:5]):
                self._fail(MalformedResponse(
                    f"not an HTTP response (starts {self._buffer[:20]!r})"))
                return
            end = find_head_end(self._buffer, self._searched)
            if end is None:
                if self._consumed + len(self._buffer) > self.max_head:
                    self._fail(HeadTooLarge(f"response head larger than {self.max_head} bytes"))
                else:
                    self._searched = len(self._buffer)
                return
            if self._consumed + end > self.max_head:
                self._fail(HeadTooLarge(f"response head larger than {self.max_head} bytes"))
                return
            try:
                head = parse_head(self._buffer[:end])
            except MalformedResponse as error:
                self._fail(error)
                return
            if 100 <= head.status < 200 and head.status != 101:
                self._consumed += end
                self._buffer = self._buffer[end:]
                self._searched = 0
                continue
            self._buffer = b""
            self.finished.callback(head)
            self.transport.loseConnection()

    def _fail(self, error: Exception) -> None:
        self._buffer = b""
        self.finished.errback(Failure(error))
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.finished.called:
            return
        if reason.check(ConnectionDone, ConnectionLost) is None:
            self.finished.errback(reason)  # a TLS error, say: the caller names it
            return
        what = "mid-head" if self._buffer or self._consumed else "before any response"
        self.finished.errback(Failure(ConnectionClosedEarly(f"connection closed {what}")))


class HeadClientFactory(ClientFactory):
    """Builds one :class:`HeadProtocol` (``protocol_instance``) for one request."""

    def __init__(self, request: bytes, max_head: int = DEFAULT_MAX_HEAD) -> None:
        self.request = request
        self.max_head = max_head
        self.protocol_instance: HeadProtocol | None = None

    def buildProtocol(self, addr: Any) -> HeadProtocol:
        proto = HeadProtocol(self.request, self.max_head)
        proto.factory = self
        self.protocol_instance = proto
        return proto
