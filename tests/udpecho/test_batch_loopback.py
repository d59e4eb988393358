"""The batched port over real loopback sockets, and the fallback to Twisted's own port."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.python import usage

from netsuite.udpecho import EchoProtocol, RateLimiter, _mmsg
from netsuite.udpecho._port import BatchEchoPort, EchoPort, listen_echo
from netsuite.udpecho._tap import Options, UDPEchoService, makeService
from tests.helpers import has_ipv6
from tests.udpecho.test_loopback import Collector, reply_or_none

pytestmark = pytest.mark.skipif(not _mmsg.available(), reason="recvmmsg/sendmmsg need Linux")


def start(*argv: str) -> Any:
    options = Options()
    options.parseOptions(["--port", "0", "--batch", "32", *argv])
    service = makeService(options, reactor=reactor)
    service.startService()
    assert isinstance(service.port, BatchEchoPort)
    return service


async def collect(client: Collector, count: int, timeout: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    while len(got) < count and (data := await reply_or_none(client, timeout)) is not None:
        got.append(data)
    return got


@pytest_twisted.ensureDeferred
async def test_many_datagrams_from_many_sources_all_answered_to_their_sender() -> None:
    service = start("--rate", "0")
    # 8 x 15 datagrams stay within the default socket receive buffer.
    clients = [Collector() for _ in range(8)]
    ports = [reactor.listenUDP(0, c, interface="127.0.0.1") for c in clients]
    try:
        target = ("127.0.0.1", service.port.getHost().port)
        for round_ in range(15):  # all written before the reactor reads any: real batches
            for k, port in enumerate(ports):
                port.write(b"c%d-%d" % (k, round_), target)
        for k, client in enumerate(clients):
            got = await collect(client, 15)
            assert got == [b"c%d-%d" % (k, r) for r in range(15)]
        stats = service.stats
        assert (stats.received, stats.answered, stats.send_failed) == (120, 120, 0)
    finally:
        for port in ports:
            await port.stopListening()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_rate_limit_is_exact_under_batching() -> None:
    # A frozen clock: one window for the whole test, so the count is exact.
    protocol = EchoProtocol(RateLimiter(7, Clock()))
    service = UDPEchoService(protocol, port=0, reactor=reactor, batch=32)
    service.startService()
    assert isinstance(service.port, BatchEchoPort)
    near, far = Collector(), Collector()
    near_port = reactor.listenUDP(0, near, interface="127.0.0.1")
    far_port = reactor.listenUDP(0, far, interface="127.0.0.2")
    try:
        target = ("127.0.0.1", service.port.getHost().port)
        for i in range(40):
            near_port.write(b"n%d" % i, target)
        for i in range(3):
            far_port.write(b"f%d" % i, target)
        assert await collect(near, 40, 1.0) == [b"n%d" % i for i in range(7)]
        assert await collect(far, 3) == [b"f0", b"f1", b"f2"]
        stats = service.stats
        assert (stats.received, stats.answered, stats.dropped_rate) == (43, 10, 33)
    finally:
        await near_port.stopListening()
        await far_port.stopListening()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_oversize_reply_and_largest_datagram_in_batches() -> None:
    service = start("--rate", "0", "--max-size", "65507")
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1", maxPacketSize=65536)
    small = start("--rate", "0", "--max-size", "100", "--reply", "I am server")
    try:
        port.write(b"z" * 65507, ("127.0.0.1", service.port.getHost().port))
        assert await reply_or_none(client, 5) == b"z" * 65507
        target = ("127.0.0.1", small.port.getHost().port)
        for payload in (b"a" * 101, b"b", b"c" * 100, b"d" * 5000, b""):
            port.write(payload, target)
        assert await collect(client, 3) == [b"I am server"] * 3
        assert await reply_or_none(client) is None
        assert (small.stats.received, small.stats.answered, small.stats.dropped_size) == (5, 3, 2)
    finally:
        await port.stopListening()
        await service.stopService()
        await small.stopService()


@pytest_twisted.ensureDeferred
async def test_blocked_source_ports_never_answered_in_batches() -> None:
    service = start("--rate", "0")
    target = ("127.0.0.1", service.port.getHost().port)
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1")
    blocked = []
    try:
        for number in (7, 13, 17, 19):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            blocked.append(s)
            s.bind(("127.0.0.1", number))  # root in CI; a clear error otherwise
            s.setblocking(False)
            s.sendto(b"loop?", target)
        port.write(b"fine", target)
        assert await reply_or_none(client, 5) == b"fine"
        for s in blocked:
            with pytest.raises(BlockingIOError):
                s.recv(100)
        assert (service.stats.dropped_port, service.stats.answered) == (4, 1)
    finally:
        for s in blocked:
            s.close()
        await port.stopListening()
        await service.stopService()


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback on this machine")
@pytest_twisted.ensureDeferred
async def test_ipv6_loopback_in_batches() -> None:
    service = start("--interface", "::1", "--rate", "2")
    client = Collector()
    port = reactor.listenUDP(0, client, interface="::1")
    try:
        for i in range(5):
            port.write(b"six%d" % i, ("::1", service.port.getHost().port))
        got = await collect(client, 5, 1.0)
        assert got[:2] == [b"six0", b"six1"]
        assert 2 <= len(got) <= 4  # two per window; a window may end during the test
        assert service.stats.answered == len(got)
        assert service.stats.dropped_rate == 5 - len(got)
    finally:
        await port.stopListening()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_falls_back_to_twisted_port_when_batching_is_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mmsg, "available", lambda: False)
    options = Options()
    options.parseOptions(["--port", "0", "--batch", "32"])
    service = makeService(options, reactor=reactor)
    service.startService()
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1")
    try:
        assert type(service.port) is EchoPort
        port.write(b"plain", ("127.0.0.1", service.port.getHost().port))
        assert await reply_or_none(client, 5) == b"plain"
    finally:
        await port.stopListening()
        await service.stopService()


class RecordingReactor:
    """Not a POSIX reactor: only listenUDP, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def listenUDP(self, port: int, protocol: Any, interface: str = "",
                  maxPacketSize: int = 8192) -> str:
        self.calls.append((port, protocol, interface, maxPacketSize))
        return "twisted-port"


def test_batch_one_and_other_reactors_use_listen_udp() -> None:
    protocol = EchoProtocol(RateLimiter(0, Clock()))
    fake = RecordingReactor()
    assert listen_echo(fake, 0, protocol, "127.0.0.1", 32) == "twisted-port"
    assert listen_echo(fake, 0, protocol, "127.0.0.1", 1) == "twisted-port"
    assert fake.calls == [(0, protocol, "127.0.0.1", 65536)] * 2
    port = listen_echo(reactor, 0, protocol, "127.0.0.1", 1)
    try:
        assert type(port) is EchoPort
    finally:
        port.stopListening()
    options = Options()
    with pytest.raises(usage.UsageError, match="positive"):
        options.parseOptions(["--batch", "0"])


@pytest_twisted.ensureDeferred
async def test_stop_listening_releases_the_batch() -> None:
    service = start()
    port = service.port
    await service.stopService()
    assert port._batch is None
