"""UDP echo over real loopback sockets: the service in-process, and the twistd plugin."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.protocol import DatagramProtocol

from netsuite.udpecho._tap import Options, makeService
from tests.helpers import TwistdProcess, has_ipv6


class Collector(DatagramProtocol):
    """Client side: hands out replies through Deferreds."""

    def __init__(self) -> None:
        self.replies: defer.DeferredQueue[tuple[bytes, Any]] = defer.DeferredQueue()

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.replies.put((data, addr))


def start(*argv: str) -> Any:
    options = Options()
    options.parseOptions(["--port", "0", *argv])
    service = makeService(options, reactor=reactor)
    service.startService()
    return service


async def reply_or_none(client: Collector, timeout: float = 0.3) -> bytes | None:
    d = client.replies.get()
    d.addTimeout(timeout, reactor)
    try:
        data, _ = await d
    except defer.TimeoutError:
        return None
    return data


@pytest_twisted.ensureDeferred
async def test_largest_datagram_round_trips() -> None:
    service = start()
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1", maxPacketSize=65536)
    try:
        server = service.port.getHost()
        payload = bytes(i % 251 for i in range(65507))
        port.write(payload, ("127.0.0.1", server.port))
        data, addr = await client.replies.get().addTimeout(5, reactor)
        assert data == payload
        assert addr == ("127.0.0.1", server.port)
        assert service.stats.answered == 1
    finally:
        await port.stopListening()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_max_size_and_reply_over_loopback() -> None:
    service = start("--max-size", "1000", "--reply", "I am server")
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1", maxPacketSize=65536)
    try:
        target = ("127.0.0.1", service.port.getHost().port)
        port.write(b"x" * 1001, target)
        port.write(b"y", target)
        assert await reply_or_none(client, 5) == b"I am server"
        assert await reply_or_none(client) is None
        assert service.stats.dropped_size == 1
        assert service.stats.answered == 1
    finally:
        await port.stopListening()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_rate_limit_over_loopback() -> None:
    service = start("--rate", "5")
    client = Collector()
    port = reactor.listenUDP(0, client, interface="127.0.0.1")
    try:
        target = ("127.0.0.1", service.port.getHost().port)
        for i in range(20):
            port.write(b"%d" % i, target)
        got = []
        while (data := await reply_or_none(client, 1.0)) is not None:
            got.append(data)
        # All 20 arrive well within one window (unless a window boundary falls inside).
        assert 5 <= len(got) <= 10
        assert service.stats.received == 20
        assert service.stats.dropped_rate == 20 - len(got)
    finally:
        await port.stopListening()
        await service.stopService()


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback on this machine")
@pytest_twisted.ensureDeferred
async def test_ipv6_loopback() -> None:
    service = start("--interface", "::1")
    client = Collector()
    port = reactor.listenUDP(0, client, interface="::1")
    try:
        assert service.port.getHost().host == "::1"
        port.write(b"six", ("::1", service.port.getHost().port))
        assert await reply_or_none(client, 5) == b"six"
    finally:
        await port.stopListening()
        await service.stopService()


def test_options_reject_bad_values() -> None:
    from twisted.python.usage import UsageError

    for argv in (["--interface", "localhost"], ["--port", "70000"], ["--rate", "-1"],
                 ["--max-size", "0"], ["--max-size", "70000"], ["--stats-interval", "-1"]):
        with pytest.raises(UsageError):
            Options().parseOptions(argv)
    options = Options()
    options.parseOptions(["--interface", "::", "--reply", "I am server", "--rate", "0"])
    assert options["interface"] == "::"
    assert options["reply"] == "I am server"
    assert options["rate"] == 0
    assert options["port"] == 8023
    assert options["max-size"] == 65507


STATS = re.compile(r"udpecho stats: received=(\d+) answered=(\d+) dropped_size=(\d+) "
                   r"dropped_rate=(\d+) dropped_port=(\d+)")


def test_twistd_plugin_echoes_and_logs_stats_on_sigterm() -> None:
    with TwistdProcess("udpecho", "--port", "0", "--stats-interval", "0.2") as proc:
        port = proc.port("udpecho")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"hello", ("127.0.0.1", port))
            assert s.recvfrom(100) == (b"hello", ("127.0.0.1", port))
        proc.wait_for(r"udpecho stats: received=1 answered=1 ")
        # twistd re-raises the signal after a clean shutdown, so -SIGTERM is normal.
        assert proc.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Main loop terminated." in proc.log
    signalled = next(i for i, line in enumerate(proc.lines) if "SIGTERM" in line)
    after = [m.groups() for line in proc.lines[signalled:] if (m := STATS.search(line))]
    assert after == [("1", "1", "0", "0", "0")]


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback on this machine")
@pytest_twisted.ensureDeferred
async def test_ipv6_wildcard_answers_ipv6_and_ipv4() -> None:
    service = start("--interface", "::")
    six, four = Collector(), Collector()
    port6 = reactor.listenUDP(0, six, interface="::1")
    port4 = reactor.listenUDP(0, four, interface="127.0.0.1")
    try:
        number = service.port.getHost().port
        port6.write(b"via six", ("::1", number))
        assert await reply_or_none(six, 5) == b"via six"
        v6only = Path("/proc/sys/net/ipv6/bindv6only").read_text().strip() == "1"
        port4.write(b"via four", ("127.0.0.1", number))
        assert await reply_or_none(four, 1 if v6only else 5) == (None if v6only else b"via four")
    finally:
        await port6.stopListening()
        await port4.stopListening()
        await service.stopService()
