"""The WebSocket upgrade, on Twisted's own implementation (``twisted.web.websocket``).

Twisted's public API (``WebSocketResource`` and the ``WebSocketProtocol`` it drives)
reassembles every message in memory before handing it over, with no size limit, and
turns a text message that is not UTF-8 into a close without telling the application.
The chat needs both bounded: so this module, and only this module, uses the private
class behind ``WebSocketResource`` (its wire protocol over ``wsproto``) and replaces
two things:

* message data goes to the application **chunk by chunk as it arrives** (``part``),
  so the application can refuse a message as soon as it is too long, before
  anything is allocated for the rest of it;
* a failure of the incoming stream that ``wsproto`` reports (bad UTF-8: 1007, a
  protocol error: 1002) goes to the application (``stream_failed``) instead of an
  immediate close, so it can say why before it closes with that code.

It also hands over frames that a client sent in the same packet as its handshake (Twisted
would leave them in the HTTP channel's buffer).  Everything else (the handshake checks,
pings, the close handshake, the TCP upgrade of the HTTP channel) is Twisted's.
``tests/chat/web/test_upgrade.py`` fails loudly if the Twisted internals used here change.
"""

from __future__ import annotations

from typing import Protocol

from twisted.web._websocket_impl import (  # the one place private internals are used
    _handleEvent,
    _WebSocketWireProtocol,
    serverBootstrap,
)
from twisted.web.server import NOT_DONE_YET, Request
from wsproto import ConnectionType
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping
from wsproto.handshake import H11Handshake
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

__all__ = ["MessageSink", "accept"]


class MessageSink(Protocol):
    """A WebSocket application as :func:`accept` drives it.

    The ``WebSocketProtocol`` methods of ``twisted.web.websocket`` (``negotiationStarted``,
    ``negotiationFinished``, ``pongReceived``, ``connectionLost``) plus the two below, which
    take the place of ``textMessageReceived`` and ``bytesMessageReceived``.
    """

    #: False once the application wants no more input (the rest is discarded unread).
    accepting: bool
    #: False while the socket's send buffer is full: pings then go unanswered (RFC 6455
    #: lets a pong answer only the latest ping), so pings cannot fill the server's memory.
    writable: bool

    def negotiationStarted(self, transport: _WebSocketWireProtocol) -> None: ...
    def negotiationFinished(self) -> None: ...
    def pongReceived(self, payload: bytes) -> None: ...
    def connectionLost(self, reason: object) -> None: ...

    def part(self, data: str | bytes, finished: bool) -> None:
        """The next chunk of a message: ``str`` for text (already decoded), ``bytes``
        for binary; ``finished`` on its last chunk."""

    def stream_failed(self, code: int) -> None:
        """The incoming stream cannot be read any further; RFC 6455 wants a close with
        ``code`` (1007 for bad UTF-8 in a text message, 1002 for a protocol error)."""


class _ChunkedWire(_WebSocketWireProtocol):  # type: ignore[type-arg]
    """Twisted's server-side wire protocol, handing over messages chunk by chunk."""

    def dataReceived(self, data: bytes) -> None:
        sink: MessageSink = self._wsp
        if not sink.accepting:
            return
        conn = self._wsconn
        try:
            conn.receive_data(data)
        except LocalProtocolError:  # data after the close: nothing left to read
            return
        for event in conn.events():
            if isinstance(event, Message):
                sink.part(event.data, event.message_finished)
            elif isinstance(event, CloseConnection) and conn.state is ConnectionState.OPEN:
                # A close *frame* from the peer moves the state on; still OPEN means
                # wsproto failed to parse what came in.
                sink.stream_failed(event.code)
            elif isinstance(event, Ping) and not sink.writable:
                continue
            else:
                _handleEvent(event, self)
            if not sink.accepting:
                return


def accept(request: Request, sink: MessageSink) -> bytes | int:
    """Upgrade ``request`` to a WebSocket driven by ``sink``; return the ``render`` result.

    As ``WebSocketResource.render_GET``, except that a request that is not a valid
    WebSocket handshake gets 400 with a one-line reason (and no error in the log), and
    the connection uses the chunked wire protocol above.
    """
    handshake = H11Handshake(ConnectionType.SERVER)
    headers = [(name, value)
               for name, values in request.requestHeaders.getAllRawHeaders()
               for value in values]
    try:
        handshake.initiate_upgrade_connection(headers, request.path)
    except RemoteProtocolError as e:
        request.setResponseCode(400)
        request.setHeader("content-type", "text/plain; charset=utf-8")
        return f"not a WebSocket handshake: {e}\n".encode()
    reply = handshake.send(AcceptConnection())
    connection = handshake.connection
    transport = request.channel.transport
    assert connection is not None and transport is not None
    wire = _ChunkedWire(connection, serverBootstrap, sink)
    channel = request.channel
    channel._protocolUpgradeForWebsockets(wire)
    # Frames that came in the same read as the handshake are still in the HTTP channel's
    # line buffer; it passes them on as raw data once this request is rendered.
    channel.rawDataReceived = wire.dataReceived
    transport.write(reply)
    sink.negotiationFinished()
    return NOT_DONE_YET
