"""The WebSocket upgrade, on Twisted's own implementation (``twisted.web.websocket``).

Twisted's public API (``WebSocketResource`` and the ``WebSocketProtocol`` it drives)
reassembles every message in memory before handing it over, with no size limit, and
turns a text message that is not UTF-8 into a close without telling the application.
The chat needs both bounded, and reads many small frames: so this module, and only this
module, uses the private class behind ``WebSocketResource`` (its wire protocol, which
keeps Twisted's handshake, upgrade of the HTTP channel and closing handshake) and reads
the client's frames with :class:`~netsuite.chat.web._frames.InboundFrames`:

* message data goes to the application **chunk by chunk as it arrives** (``part``),
  so the application can refuse a message as soon as it is too long, before anything
  is allocated for the rest of it; after each read, ``received`` tells it the read is
  done (so it can hand a batch of lines on at once);
* a broken incoming stream (bad UTF-8: 1007, a protocol error: 1002) goes to the
  application (``stream_failed``) instead of an immediate close, so it can say why
  before it closes with that code;
* pings are answered only while the socket can take more (``writable``): a client
  that sends pings and never reads cannot fill the server's memory with pongs (RFC 6455
  lets a pong answer only the latest ping);
* frames a client sent in the same packet as its handshake are read too (Twisted
  would leave them in the HTTP channel's buffer).

``tests/chat/web/test_upgrade.py`` fails loudly if the Twisted internals used here
change.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.web._websocket_impl import (  # the one place private internals are used
    _WebSocketWireProtocol,
    serverBootstrap,
)
from twisted.web.server import NOT_DONE_YET, Request
from wsproto import ConnectionType
from wsproto.events import AcceptConnection
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from netsuite.chat.web._frames import InboundFrames, close_frame, pong_frame

__all__ = ["MessageSink", "accept"]


class MessageSink(Protocol):
    """A WebSocket application as :func:`accept` drives it.

    The ``WebSocketProtocol`` methods of ``twisted.web.websocket`` (``negotiationStarted``,
    ``negotiationFinished``, ``pongReceived``, ``connectionLost``) plus the ones below,
    which take the place of ``textMessageReceived`` and ``bytesMessageReceived``.
    """

    #: False once the application wants no more input (the rest is discarded unread).
    accepting: bool
    #: False while the socket's send buffer is full: pings then go unanswered.
    writable: bool

    def negotiationStarted(self, transport: Any) -> None: ...
    def negotiationFinished(self) -> None: ...
    def pongReceived(self, payload: bytes) -> None: ...
    def connectionLost(self, reason: object) -> None: ...

    def part(self, data: bytes, finished: bool) -> None:
        """The next chunk of a message (text already checked to be UTF-8 so far);
        ``finished`` on its last chunk."""

    def received(self) -> None:
        """Everything in the last read has been handed over."""

    def stream_failed(self, code: int) -> None:
        """The incoming stream cannot be read any further; RFC 6455 wants a close with
        ``code`` (1007 for bad UTF-8 in a text message, 1002 for a protocol error)."""


class _ChunkedWire(_WebSocketWireProtocol):  # type: ignore[type-arg]
    """Twisted's server-side wire protocol, reading frames with :class:`InboundFrames`."""

    def dataReceived(self, data: bytes) -> None:
        sink: MessageSink = self._wsp
        if not sink.accepting:
            return
        self.frames.feed(data)
        sink.received()

    # -- FrameSink ------------------------------------------------------------------------

    def part(self, data: bytes, finished: bool) -> None:
        self._wsp.part(data, finished)

    def ping(self, payload: bytes) -> None:
        if self._wsp.writable:
            self.transport.write(pong_frame(payload))

    def close(self, code: int | None, reason: str) -> None:
        """The peer's close: answer it with the same status and close the socket."""
        self.transport.write(close_frame(code))
        self.transport.loseConnection()

    def failed(self, code: int) -> None:
        self._wsp.stream_failed(code)


def accept(request: Request, sink: MessageSink) -> bytes | int:
    """Upgrade ``request`` to a WebSocket driven by ``sink``; return the ``render`` result.

    As ``WebSocketResource.render_GET``, except that a request that is not a valid
    WebSocket handshake gets 400 with a one-line reason (and no error in the log), and
    the connection reads its frames as described above.
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
    channel = request.channel
    transport = channel.transport
    assert transport is not None
    # wsproto's connection object is not kept: frames are read by InboundFrames and
    # written by netsuite (see _frames.py), which saves ~1.5 KiB per client.
    wire = _ChunkedWire(None, serverBootstrap, sink)
    wire.frames = InboundFrames(wire)
    channel._protocolUpgradeForWebsockets(wire)
    # The upgraded request is never finished: the HTTP channel need not keep it.
    if request in channel.requests:
        channel.requests.remove(request)
    # Frames that came in the same read as the handshake are still in the HTTP channel's
    # line buffer; it passes them on as raw data once this request is rendered.
    channel.rawDataReceived = wire.dataReceived
    transport.write(reply)
    sink.negotiationFinished()
    return NOT_DONE_YET
