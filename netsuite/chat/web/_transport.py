"""A WebSocket connection presented to the chat's line protocol as a byte-stream transport.

The chat protocol (``ChatProtocol``, built by ``ChatFactory.buildProtocol``) is the same
object for a TCP client and a browser: this adapter is its transport, so every TCP rule
(line limits, bad encoding, flood, idle timeout, slow consumers, max clients, ``BYE``
before the close) holds unchanged on the WebSocket.

Wire (client to server): each message, text or binary, is one line; a trailing ``\\n``
is optional.  A message whose line (without that ``\\n`` and a ``\\r`` before it) is over
``max_line`` bytes is refused as soon as it is seen to be too long, before the rest of
it is read: the protocol answers ``ERR line-too-long`` and ``BYE line-too-long``, then the
WebSocket closes with status 1009.  A text message that is not UTF-8 gets
``ERR bad-encoding`` and a close with status 1007 (RFC 6455 does not allow reading on); a
binary message that is not UTF-8 gets ``ERR bad-encoding`` and the connection stays, as
on TCP.

Wire (server to client): each write of the protocol, which is always one or more whole
lines, goes out as one text message.  Those frames (and the close frame) are written
here, not by ``wsproto``:
the chat's output is already UTF-8 bytes, encoded once for the whole room, and a server
frame is only a 2-10 byte header before them (no mask), so this saves decoding and
re-encoding every delivery for every member.

Flow control: the protocol's producer is registered with the socket beneath (in place of
the HTTP channel, which is done once the connection is a WebSocket), so a browser that
stops reading fills the socket and the protocol's backlog rule
(``--max-backlog``) drops it, as it drops a TCP client.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableProtocol,
    IProtocolFactory,
    IPushProducer,
    ITransport,
)
from zope.interface import implementer

from netsuite.chat.web._frames import close_frame, text_frame_header
from netsuite.chat.web._stats import WebStats

__all__ = ["CLOSE_BAD_DATA", "CLOSE_TOO_BIG", "WebSocketLineTransport"]

#: RFC 6455 close status for a message too big to process.
CLOSE_TOO_BIG = 1009
#: RFC 6455 close status for data not consistent with the message type (bad UTF-8).
CLOSE_BAD_DATA = 1007


@implementer(IPushProducer)
class _Output:
    """Registered with the socket for the line protocol's producer: passes on the socket's
    pause and resume, and remembers whether the socket is full."""

    __slots__ = ("full", "producer")

    def __init__(self, producer: IPushProducer) -> None:
        self.producer = producer
        self.full = False

    def pauseProducing(self) -> None:
        self.full = True
        self.producer.pauseProducing()

    def resumeProducing(self) -> None:
        self.full = False
        self.producer.resumeProducing()

    def stopProducing(self) -> None:
        self.producer.stopProducing()


@implementer(ITransport, IConsumer, IPushProducer)
class WebSocketLineTransport:
    """One WebSocket chat connection: the application of Twisted's WebSocket wire protocol
    (see :class:`~netsuite.chat.web._upgrade.MessageSink`) and the transport of a line
    protocol built by ``factory``."""

    __slots__ = (
        "_channel", "_closing", "_lines", "_output", "_parts", "_size", "_stats", "_tcp",
        "accepting",
        "close_code", "factory", "max_line", "peer", "protocol",
    )

    def __init__(self, factory: IProtocolFactory, channel: Any, max_line: int,
                 stats: WebStats) -> None:
        self.factory = factory
        self.max_line = max_line
        self.protocol: Any = None
        self.accepting = True
        self.close_code = 1000
        self.peer: IAddress = channel.transport.getPeer()
        self._channel = channel  # the HTTP channel the WebSocket came in on
        self._stats = stats
        self._tcp: Any = None  # the TCP (or TLS) transport beneath the WebSocket
        self._output: _Output | None = None
        self._parts: list[bytes] = []  # chunks of the message in progress
        self._size = 0
        self._lines: list[bytes] = []  # whole lines of this read, not handed over yet
        self._closing = False

    # -- the WebSocket application ------------------------------------------------------

    def negotiationStarted(self, transport: Any) -> None:
        self._tcp = transport.transport

    def negotiationFinished(self) -> None:
        self._stats.connected()
        self.protocol = self.factory.buildProtocol(self.peer)
        self.protocol.makeConnection(self)

    def part(self, data: bytes, finished: bool) -> None:
        """A chunk of a client message; a whole message becomes one line for the protocol."""
        size = self._size + len(data)
        if size > self.max_line + 2:  # room for "\r\n"; checked exactly below
            self._refuse(CLOSE_TOO_BIG)
            return
        self._size = size
        if not finished:
            self._parts.append(data)
            return
        parts, self._parts, self._size = self._parts, [], 0
        if parts:
            parts.append(data)
            data = b"".join(parts)
        if data[-1:] != b"\n":
            data += b"\n"
        body = len(data) - (2 if data[-2:] == b"\r\n" else 1)
        if body > self.max_line:
            self._refuse(CLOSE_TOO_BIG)
            return
        self._lines.append(data)

    def received(self) -> None:
        """The end of one read: its whole lines go to the protocol in one call, as the
        lines of one TCP read do."""
        lines = self._lines
        if lines and self.protocol is not None:
            self._lines = []
            self.protocol.dataReceived(lines[0] if len(lines) == 1 else b"".join(lines))

    def stream_failed(self, code: int) -> None:
        self._refuse(code)

    def pongReceived(self, payload: bytes) -> None:
        pass

    @property
    def writable(self) -> bool:
        """False while the socket's send buffer is full (pings then go unanswered)."""
        return self._output is None or not self._output.full

    def connectionLost(self, reason: Any) -> None:
        self.accepting = False
        self._closing = True
        self._parts = []
        self._lines = []
        if self.protocol is not None:
            self._stats.disconnected()
            protocol, self.protocol = self.protocol, None
            protocol.connectionLost(reason)

    def _refuse(self, code: int) -> None:
        """Read nothing more from this client and have the protocol close it with ``code``:
        ``ERR line-too-long`` for 1009 (a line just over the limit makes the protocol
        say so), ``ERR bad-encoding`` for 1007, then the protocol's own close."""
        self.received()  # the lines before this message come first
        self.accepting = False
        self._parts = []
        self.close_code = code
        self._stats.refused_message(code)
        self._tcp.pauseProducing()
        protocol = self.protocol
        if code == CLOSE_TOO_BIG:
            protocol.dataReceived(b"x" * (self.max_line + 1) + b"\n")
            return
        if code == CLOSE_BAD_DATA:
            protocol.dataReceived(b"\xff\n")  # answered with ERR bad-encoding
        half_close = IHalfCloseableProtocol(protocol, None)
        if half_close is not None:
            half_close.readConnectionLost()  # BYE-less close after what it is owed
        else:
            self.loseConnection()

    # -- ITransport for the line protocol -----------------------------------------------

    def write(self, data: bytes) -> None:
        if self._closing or not data:
            return
        tcp = self._tcp
        if tcp.disconnecting:  # the close handshake is done (the peer closed first)
            self._closing = True
            return
        tcp.writeSequence((text_frame_header(len(data)), data))

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if self._closing:
            return
        self._closing = True
        tcp = self._tcp
        if tcp.disconnecting:  # the peer's close was answered: nothing more to send
            return
        tcp.write(close_frame(self.close_code))
        tcp.loseConnection()

    def abortConnection(self) -> None:
        self._closing = True
        self._tcp.abortConnection()

    def getPeer(self) -> IAddress:
        return self.peer

    def getHost(self) -> IAddress:
        return self._channel.transport.getHost()

    # -- IConsumer: the protocol's output producer ---------------------------------------

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        # The socket reports to the protocol directly: the HTTP channel that was its
        # producer is done once the connection is a WebSocket.
        self._output = _Output(producer)
        tcp = self._tcp
        tcp.unregisterProducer()
        tcp.registerProducer(self._output, True)

    def unregisterProducer(self) -> None:
        if self._output is not None:
            self._output = None
            self._tcp.unregisterProducer()

    # -- IPushProducer: the protocol pausing its input ------------------------------------

    def pauseProducing(self) -> None:
        if self._tcp is not None:
            self._tcp.pauseProducing()

    def resumeProducing(self) -> None:
        if self.accepting and self._tcp is not None:
            self._tcp.resumeProducing()

    def stopProducing(self) -> None:
        self.loseConnection()
