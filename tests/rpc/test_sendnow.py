"""send_now: straight to an idle TCP socket, in order with what the transport buffers, and
never around a transport that changes what is written (TLS, a test transport)."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import defer, endpoints, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from netsuite.rpc._sendnow import send_now


def test_a_test_transport_is_written_the_ordinary_way() -> None:
    transport = StringTransport()
    send_now(transport, b"abc")
    assert transport.value() == b"abc"


class _Rewriting(ProtocolWrapper):
    """A wrapper that changes what is written (as TLS does)."""

    def write(self, data: bytes) -> None:
        self.transport.write(data.upper())


class _Sender(Protocol):
    direct: list[bool]

    def connectionMade(self) -> None:
        real = self.transport
        while isinstance(real, ProtocolWrapper):
            real = real.transport
        send_now(self.transport, b"hello ")
        self.factory.direct.append(not real.dataBuffer and not real._tempDataLen)
        # Far more than a socket takes at once: the rest is buffered, then sent in order.
        send_now(self.transport, self.factory.big)
        send_now(self.transport, b" end")
        self.transport.loseConnection()


class _Receiver(Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(b"".join(self.data))


async def _exchange(wrap: type[ProtocolWrapper] | None) -> tuple[bytes, list[bool], bytes]:
    factory: Any = Factory.forProtocol(_Sender)
    factory.big = bytes(range(256)) * 32768  # 8 MiB
    factory.direct = []
    served: Any = factory
    if wrap is not None:
        served = WrappingFactory(factory)
        served.protocol = wrap
    port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(served)
    try:
        receiver = _Receiver()
        await endpoints.connectProtocol(
            endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), receiver)
        received = await receiver.done
    finally:
        await port.stopListening()
    return received, factory.direct, factory.big


@pytest_twisted.ensureDeferred
async def test_idle_socket_gets_the_bytes_at_once_and_in_order() -> None:
    received, direct, big = await _exchange(None)
    assert direct == [True]  # nothing was left in the transport's buffer
    assert received == b"hello " + big + b" end"


@pytest_twisted.ensureDeferred
async def test_a_forwarding_wrapper_is_seen_through() -> None:
    received, direct, big = await _exchange(ProtocolWrapper)
    assert direct == [True]
    assert received == b"hello " + big + b" end"


@pytest_twisted.ensureDeferred
async def test_a_wrapper_that_rewrites_is_not_bypassed() -> None:
    received, direct, big = await _exchange(_Rewriting)
    assert direct == [False]  # went through the wrapper's write, buffered by the transport
    assert received == b"HELLO " + big.upper() + b" END"
