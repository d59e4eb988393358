"""Connections tracked by wrapping: counted, relayed faithfully, nothing patched."""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol, IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from netsuite.rpc._tracker import ConnectionTracker, RpcStats, TrackedConnection
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory


@implementer(IHalfCloseableProtocol, IHandshakeListener)
class Listening(Protocol):
    def __init__(self) -> None:
        self.events: list[str] = []

    def readConnectionLost(self) -> None:
        self.events.append("read-lost")

    def writeConnectionLost(self) -> None:
        self.events.append("write-lost")

    def handshakeCompleted(self) -> None:
        self.events.append("handshake")


def test_wrapper_relays_half_close_and_handshake_only_when_the_protocol_takes_them() -> None:
    tracker = ConnectionTracker(RpcStats())
    wrapper = tracker.wrap(Factory.forProtocol(Listening), "x").buildProtocol(None)
    wrapper.makeConnection(StringTransport())
    assert IHalfCloseableProtocol.providedBy(wrapper) and IHandshakeListener.providedBy(wrapper)
    wrapper.handshakeCompleted()
    wrapper.readConnectionLost()
    wrapper.writeConnectionLost()
    assert wrapper.wrappedProtocol.events == ["handshake", "read-lost", "write-lost"]

    plain = tracker.wrap(Factory.forProtocol(Protocol), "y").buildProtocol(None)
    plain.makeConnection(StringTransport())
    assert not IHalfCloseableProtocol.providedBy(plain)
    assert not IHandshakeListener.providedBy(plain)


def test_tracking_counts_and_patches_nothing() -> None:
    stats = RpcStats()
    tracker = ConnectionTracker(stats)
    factory = tracker.wrap(jsonrpc_factory(), "jsonrpc")
    assert factory.wrapped.__class__.__name__ == "JsonRpcFactory"
    wrapper = factory.buildProtocol(None)
    assert isinstance(wrapper, TrackedConnection)
    inner = wrapper.wrappedProtocol
    transport = StringTransport()
    wrapper.makeConnection(transport)
    assert "connectionLost" not in vars(inner)  # tracked by the wrapper, not patched
    assert list(tracker.protocols) == [wrapper] and stats.connections_open == {"jsonrpc": 1}
    wrapper.dataReceived(b'{"method":"Algorithm.Sum","params":[{"X":1,"Y":2}],"id":1}\n')
    assert b'"result":3' in transport.value()
    wrapper.connectionLost(None)
    assert tracker.protocols == {} and stats.connections_open == {"jsonrpc": 0}
    assert stats.connections_total == {"jsonrpc": 1}
