"""The adapter in memory, and the Twisted internals it relies on (these tests fail loudly
when a Twisted release changes them)."""

from __future__ import annotations

import dataclasses
import inspect

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel
from zope.interface import implementer

from netsuite.chat.web import WebSocketLineTransport, WebStats
from netsuite.chat.web._frames import text_frame_header


def test_twisted_internals_used_by_the_upgrade() -> None:
    from twisted.web import _websocket_impl as impl

    fields = [f.name for f in dataclasses.fields(impl._WebSocketWireProtocol)]
    assert fields[:3] == ["_wsconn", "_bootstrap", "_wsp"]
    assert "transport" in fields
    for name in ("dataReceived", "makeConnection", "connectionLost"):
        assert callable(getattr(impl._WebSocketWireProtocol, name)), name
    assert callable(impl.serverBootstrap)
    assert callable(HTTPChannel._protocolUpgradeForWebsockets)
    assert callable(HTTPChannel.rawDataReceived)  # replaced per channel to pass on early frames
    # Twisted's resource is what our accept() mirrors: it must still upgrade this way.
    source = inspect.getsource(impl.WebSocketResource.render_GET)
    assert "_protocolUpgradeForWebsockets" in source and "_WebSocketWireProtocol(" in source


@implementer(IHalfCloseableProtocol)
class Recorder(Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.half_closed = False

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def readConnectionLost(self) -> None:
        self.half_closed = True
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


class FakeWire:
    """Stands in for Twisted's wire protocol: the TCP transport beneath."""

    def __init__(self) -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5555))

    @property
    def closed_with(self) -> int | None:
        """The status of the close frame written last, once the socket is closing."""
        value = self.transport.value()
        if not self.transport.disconnecting or value[-4:-2] != b"\x88\x02":
            return None
        return int.from_bytes(value[-2:], "big")


class FakeChannel:
    def __init__(self, wire: FakeWire) -> None:
        self.transport = wire.transport

    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...
    def stopProducing(self) -> None: ...


def connected(max_line: int = 10) -> tuple[WebSocketLineTransport, Recorder, FakeWire, WebStats]:
    wire, stats = FakeWire(), WebStats()
    factory = Factory.forProtocol(Recorder)
    adapter = WebSocketLineTransport(factory, FakeChannel(wire), max_line, stats)
    adapter.negotiationStarted(wire)
    adapter.negotiationFinished()
    return adapter, adapter.protocol, wire, stats


def test_chunks_become_one_line_each_message() -> None:
    adapter, protocol, _, stats = connected()
    adapter.part(b"ab", False)
    adapter.part(b"cd", True)
    adapter.part(b"\xc3\xa9\n", True)
    assert protocol.data == []  # handed over at the end of the read
    adapter.received()
    adapter.part(b"x\r\n", True)
    adapter.received()
    assert protocol.data == [b"abcd\n\xc3\xa9\n", b"x\r\n"]
    assert stats.clients == 1 and stats.connections == 1


def test_exact_limit_with_line_end_is_accepted() -> None:
    adapter, protocol, wire, _ = connected(max_line=4)
    adapter.part(b"abcd\r\n", True)
    adapter.part(b"abcd", True)
    adapter.received()
    assert protocol.data == [b"abcd\r\nabcd\n"]
    assert adapter.accepting and wire.closed_with is None


def test_too_long_stops_reading_mid_message() -> None:
    adapter, protocol, wire, stats = connected(max_line=4)
    adapter.part(b"ok", True)
    adapter.part(b"abc", False)
    adapter.part(b"defgh", False)  # passes max_line + 2 before the message ends
    assert not adapter.accepting
    assert wire.transport.producerState == "paused"  # no more is read from the socket
    # the line before comes first, then the protocol's own too-long rule answers
    assert protocol.data == [b"ok\n", b"x" * 5 + b"\n"]
    assert adapter.close_code == 1009
    assert stats.closed == {"too-big": 1}


def test_bad_stream_half_closes_with_its_code() -> None:
    adapter, protocol, wire, stats = connected()
    adapter.stream_failed(1007)
    assert protocol.data == [b"\xff\n"]  # answered with ERR bad-encoding by the protocol
    assert protocol.half_closed
    assert wire.closed_with == 1007
    assert stats.closed == {"bad-encoding": 1}


def test_writes_go_out_as_text_messages_and_stop_once_closing() -> None:
    adapter, _, wire, stats = connected()
    adapter.write(b"MSG a hi\n")
    adapter.writeSequence([b"MSG b x\n", b"MSG b y\n"])
    adapter.loseConnection()
    adapter.write(b"late\n")
    assert server_messages(wire.transport.value()[:-4]) == ["MSG a hi\n", "MSG b x\nMSG b y\n"]
    assert wire.closed_with == 1000
    adapter.connectionLost(None)
    assert stats.clients == 0


def server_messages(data: bytes) -> list[str]:
    """What a real client (wsproto's) reads from these server bytes."""
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import TextMessage

    client = Connection(ConnectionType.CLIENT)
    client.receive_data(data)
    events = list(client.events())
    assert all(isinstance(e, TextMessage) and e.message_finished for e in events), events
    return [e.data for e in events]


def test_text_frame_header_for_every_length_form() -> None:
    sizes = [1, 125, 126, 127, 65535, 65536, 200_000]
    payloads = [b"x" * (size - 1) + b"\n" for size in sizes]
    data = b"".join(text_frame_header(len(p)) + p for p in payloads)
    assert server_messages(data) == [p.decode() for p in payloads]


def test_no_data_frame_after_the_peer_closed() -> None:
    adapter, _, wire, _ = connected()
    wire.transport.disconnecting = True  # Twisted answered the peer's close and is closing
    adapter.write(b"MSG a too late\n")
    assert wire.transport.value() == b""


def test_output_producer_reports_a_full_socket() -> None:
    adapter, *_ = connected()
    channel = adapter._channel
    paused: list[str] = []

    class Producer:
        def pauseProducing(self) -> None:
            paused.append("pause")

        def resumeProducing(self) -> None:
            paused.append("resume")

        def stopProducing(self) -> None:
            paused.append("stop")

    socket = channel.transport
    socket.registerProducer(channel, True)  # as the HTTP channel is, before the upgrade
    adapter.registerProducer(Producer(), True)
    assert adapter.writable
    socket.producer.pauseProducing()  # the socket is full
    assert not adapter.writable  # pings go unanswered now
    socket.producer.resumeProducing()
    assert adapter.writable and paused == ["pause", "resume"]
    adapter.unregisterProducer()
    assert socket.producer is None
