"""UDP echo: the protocol and the rate limiter, in memory (fake datagram transport, Clock)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from netsuite.udpecho import BLOCKED_SOURCE_PORTS, EchoProtocol, RateLimiter, Stats, format_stats


class FakeDatagramTransport:
    """Records ``write(data, addr)``; no ``socket``, so the protocol uses ``write``."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.written: list[tuple[bytes, Any]] = []
        self.fail = fail

    def write(self, data: bytes, addr: Any = None) -> None:
        if self.fail is not None:
            raise self.fail
        self.written.append((data, addr))


def make(rate: int = 1000, reply: bytes | None = None, max_size: int = 65507,
         max_sources: int = 100) -> tuple[EchoProtocol, FakeDatagramTransport, Clock]:
    clock = Clock()
    clock.advance(1000)
    proto = EchoProtocol(RateLimiter(rate, clock, max_sources), reply=reply, max_size=max_size)
    transport = FakeDatagramTransport()
    proto.makeConnection(transport)
    return proto, transport, clock


def test_echoes_exact_bytes() -> None:
    proto, transport, _ = make()
    payload = bytes(range(256))
    proto.datagramReceived(payload, ("10.0.0.1", 5000))
    assert transport.written == [(payload, ("10.0.0.1", 5000))]
    assert proto.stats == Stats(received=1, answered=1)


def test_empty_datagram_is_echoed() -> None:
    proto, transport, _ = make()
    proto.datagramReceived(b"", ("10.0.0.1", 5000))
    assert transport.written == [(b"", ("10.0.0.1", 5000))]


def test_fixed_reply() -> None:
    proto, transport, _ = make(reply=b"I am server")
    proto.datagramReceived(b"x", ("10.0.0.1", 5000))
    assert transport.written == [(b"I am server", ("10.0.0.1", 5000))]


@pytest.mark.parametrize("port", sorted(BLOCKED_SOURCE_PORTS))
def test_blocked_source_ports_never_answered(port: int) -> None:
    proto, transport, _ = make(reply=b"I am server")
    proto.datagramReceived(b"hello", ("10.0.0.1", port))
    assert transport.written == []
    assert proto.stats == Stats(received=1, dropped_port=1)


def test_blocked_ports_are_the_contract() -> None:
    assert frozenset({0, 7, 13, 17, 19}) == BLOCKED_SOURCE_PORTS


def test_oversized_not_answered() -> None:
    proto, transport, _ = make(max_size=10)
    proto.datagramReceived(b"x" * 10, ("10.0.0.1", 5000))
    proto.datagramReceived(b"x" * 11, ("10.0.0.1", 5000))
    assert transport.written == [(b"x" * 10, ("10.0.0.1", 5000))]
    assert proto.stats == Stats(received=2, answered=1, dropped_size=1)


def test_rate_limit_per_source_ip_and_window() -> None:
    proto, transport, clock = make(rate=3)
    for port in range(5000, 5005):  # one IP, several ports: the limit is per address
        proto.datagramReceived(b"a", ("10.0.0.1", port))
    proto.datagramReceived(b"b", ("10.0.0.2", 5000))
    assert len(transport.written) == 4
    assert proto.stats.dropped_rate == 2
    clock.advance(1.0)
    proto.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert len(transport.written) == 5
    assert proto.stats == Stats(received=7, answered=5, dropped_rate=2)


def test_rate_zero_is_unlimited() -> None:
    proto, transport, _ = make(rate=0)
    for _ in range(5000):
        proto.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert len(transport.written) == 5000


def test_reply_limited_and_filtered_too() -> None:
    proto, transport, _ = make(rate=1, reply=b"I am server")
    proto.datagramReceived(b"a", ("10.0.0.1", 5000))
    proto.datagramReceived(b"a", ("10.0.0.1", 5000))
    proto.datagramReceived(b"a", ("10.0.0.2", 19))
    assert transport.written == [(b"I am server", ("10.0.0.1", 5000))]


def test_send_failure_counted_not_raised() -> None:
    proto, _, _ = make()
    proto.transport = FakeDatagramTransport(fail=OSError(105, "No buffer space available"))
    proto._sendto = proto.transport.write
    proto.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert proto.stats == Stats(received=1, send_failed=1)


def test_stats_line_format() -> None:
    stats = Stats(received=9, answered=5, dropped_size=1, dropped_rate=2, dropped_port=1)
    assert format_stats(stats) == (
        "udpecho stats: received=9 answered=5 dropped_size=1 dropped_rate=2 dropped_port=1"
    )


def test_limiter_memory_bounded_under_spoofed_flood() -> None:
    """100,000 distinct sources in one window: the table never exceeds its cap."""
    clock = Clock()
    limiter = RateLimiter(rate=5, clock=clock, max_sources=1000)
    answered = 0
    for i in range(100_000):
        answered += limiter.allow(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        assert len(limiter) <= 1000
    # 1000 tracked sources answered once each, plus one shared overflow budget of 5.
    assert answered == 1000 + 5
    clock.advance(1)
    assert limiter.allow("192.0.2.1")
    assert len(limiter) == 1


def test_limiter_tracked_sources_keep_their_budget_when_full() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, clock=clock, max_sources=1)
    assert limiter.allow("a")
    assert limiter.allow("b")  # overflow budget
    assert limiter.allow("c")  # overflow budget
    assert not limiter.allow("d")  # overflow budget spent
    assert limiter.allow("a")  # "a" still has its own
    assert not limiter.allow("a")


def test_limiter_survives_wall_clock_going_back() -> None:
    clock = Clock()
    clock.advance(10_000)
    limiter = RateLimiter(rate=1, clock=clock)
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.rightNow = 5_000.0  # the wall clock was set back
    assert limiter.allow("a")


def test_limiter_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1, Clock())
    with pytest.raises(ValueError):
        RateLimiter(1, Clock(), max_sources=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=64), st.integers(0, 65535),
                          st.sampled_from(["10.0.0.1", "10.0.0.2", "::1", "::ffff:1.2.3.4"]),
                          st.floats(0, 0.5)), max_size=60),
       st.integers(0, 4), st.one_of(st.none(), st.binary(max_size=16)))
def test_any_traffic_keeps_invariants(traffic: list[tuple[bytes, int, str, float]], rate: int,
                                      reply: bytes | None) -> None:
    proto, transport, clock = make(rate=rate, reply=reply, max_size=32, max_sources=2)
    for data, port, host, delay in traffic:
        clock.advance(delay)
        proto.datagramReceived(data, (host, port))
    stats = proto.stats
    assert stats.received == len(traffic)
    assert stats.received == (stats.answered + stats.dropped_port + stats.dropped_size
                              + stats.dropped_rate + stats.send_failed)
    assert len(transport.written) == stats.answered
    assert len(proto.limiter) <= 2
    for (data, addr) in transport.written:
        assert addr[1] not in BLOCKED_SOURCE_PORTS
        if reply is None:
            assert len(data) <= 32
        else:
            assert data == reply


def test_flood_from_one_source_does_not_starve_another() -> None:
    proto, transport, _ = make(rate=100)
    for i in range(10_000):
        proto.datagramReceived(b"flood", ("198.51.100.1", 1024 + i % 50_000))
    proto.datagramReceived(b"hello", ("203.0.113.9", 4000))
    assert transport.written[-1] == (b"hello", ("203.0.113.9", 4000))
    assert proto.stats.dropped_rate == 10_000 - 100
    assert len(proto.limiter) == 2
