"""The batched port's logic with a fake batch and socket (deterministic), and MessageBatch."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor

from netsuite.udpecho import EchoProtocol, RateLimiter, _mmsg
from netsuite.udpecho._port import MAX_ROUNDS, BatchEchoPort, EchoPort

needs_mmsg = pytest.mark.skipif(not _mmsg.available(), reason="recvmmsg/sendmmsg need Linux")


class FakeBatch:
    """Stands in for MessageBatch: datagrams are (bytes, (host, port)) pairs."""

    def __init__(self, rounds: list[list[tuple[bytes, tuple[str, int]]] | OSError],
                 refuse: dict[int, int] | None = None) -> None:
        self.rounds = rounds
        self.current: list[tuple[bytes, tuple[str, int]]] = []
        self.size = 8
        self.queued = 0
        self.echoed: list[int] = []
        self.replied: list[int] = []
        self.flushed: list[list[tuple[str, int]]] = []
        self.refuse = refuse or {}  # queued position -> errno
        self.receives = 0
        self.pending: list[int] = []

    def receive(self, fd: int) -> int:
        self.receives += 1
        self.queued = 0
        self.pending: list[int] = []
        if not self.rounds:
            return 0
        item = self.rounds.pop(0)
        if isinstance(item, OSError):
            raise item
        self.current = item
        return len(item)

    def lengths(self, n: int) -> list[int]:
        return [len(data) for data, _ in self.current[:n]]

    def source_port(self, i: int) -> int:
        return self.current[i][1][1]

    def source_key(self, i: int) -> bytes:
        return socket.inet_aton(self.current[i][1][0])

    def data(self, i: int) -> bytes:
        return self.current[i][0]

    def source(self, i: int) -> tuple[str, int]:
        return self.current[i][1]

    def queue_echo(self, i: int, length: int) -> None:
        assert length == len(self.current[i][0])
        self.echoed.append(i)
        self.pending.append(i)
        self.queued += 1

    def queue_reply(self, i: int) -> None:
        self.replied.append(i)
        self.pending.append(i)
        self.queued += 1

    def flush(self, fd: int) -> tuple[int, list[int]]:
        total, self.queued = self.queued, 0
        failed = [self.refuse[j] for j in range(total) if j in self.refuse]
        self.flushed.append([self.current[i][1] for i in self.pending])
        return total - len(failed), failed


class FakeSocket:
    def __init__(self, error: OSError | None = None) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.error = error

    def sendto(self, data: bytes, addr: Any) -> int:
        if self.error is not None:
            raise self.error
        self.sent.append((data, addr))
        return len(data)


def make_port(batch: FakeBatch, rate: int = 0, reply: bytes | None = None,
              max_size: int = 100, sock: FakeSocket | None = None
              ) -> tuple[BatchEchoPort, EchoProtocol, FakeSocket]:
    protocol = EchoProtocol(RateLimiter(rate, Clock()), reply=reply, max_size=max_size)
    port = BatchEchoPort(0, protocol, "127.0.0.1", 8, MemoryReactor())
    port.protocol = protocol
    port._batch = batch  # type: ignore[assignment]
    port._fd = 3
    port.socket = sock or FakeSocket()
    return port, protocol, port.socket


A = ("127.0.0.1", 5000)
B = ("127.0.0.2", 5001)


def test_rules_apply_to_each_datagram_of_a_batch_in_order() -> None:
    batch = FakeBatch([[
        (b"ok", A), (b"port", ("127.0.0.1", 7)), (b"x" * 101, A), (b"ok2", B),
        (b"zero", ("127.0.0.3", 0)), (b"y" * 100, B),
    ]])
    port, protocol, _ = make_port(batch)
    port.doRead()
    assert batch.echoed == [0, 3, 5]
    assert batch.flushed == [[A, B, B]]
    stats = protocol.stats
    assert (stats.received, stats.answered, stats.dropped_port, stats.dropped_size,
            stats.dropped_rate, stats.send_failed) == (6, 3, 2, 1, 0, 0)


def test_rate_limit_is_exact_across_batches() -> None:
    # 3 batches of 4 from one address, 2 from another; rate 5 per window (a frozen clock).
    rounds: list[Any] = [[(b"a", A)] * 4 + [(b"b", B)] * 2 for _ in range(3)]
    batch = FakeBatch(rounds)
    port, protocol, sock = make_port(batch, rate=5)
    port.doRead()
    assert protocol.stats.received == 18
    assert protocol.stats.dropped_rate == (12 - 5) + (6 - 5)
    assert protocol.stats.answered == 10
    answered = [addr for round_ in batch.flushed for addr in round_]
    answered += [addr for _, addr in sock.sent]  # the last batch had a single answer
    assert answered.count(A) == 5 and answered.count(B) == 5
    # The limiter keys on the address bytes, never on the port.
    assert len(protocol.limiter) == 2


def test_single_answer_goes_through_sendto() -> None:
    batch = FakeBatch([[(b"one", A), (b"x" * 500, B)]])
    port, protocol, sock = make_port(batch)
    port.doRead()
    assert sock.sent == [(b"one", A)]
    assert batch.flushed == []
    assert protocol.stats.answered == 1
    assert protocol.stats.dropped_size == 1


def test_fixed_reply_is_queued_not_echoed() -> None:
    batch = FakeBatch([[(b"a", A), (b"b", B)], [(b"c", A)]])
    port, protocol, sock = make_port(batch, reply=b"I am server")
    port.doRead()
    assert batch.echoed == []
    assert batch.replied == [0, 1, 0]
    assert sock.sent == [(b"I am server", A)]
    assert protocol.stats.answered == 3


def test_refused_answers_are_counted_once_and_the_rest_sent() -> None:
    batch = FakeBatch([[(b"a", A), (b"b", B), (b"c", A)]], refuse={1: errno.ENOBUFS})
    port, protocol, _ = make_port(batch)
    port.doRead()
    assert protocol.stats.answered == 2
    assert protocol.stats.send_failed == 1


def test_sendto_refused_counts_send_failed() -> None:
    batch = FakeBatch([[(b"a", A)]])
    port, protocol, _ = make_port(batch, sock=FakeSocket(OSError(errno.EAGAIN, "full")))
    port.doRead()
    assert protocol.stats.send_failed == 1
    assert protocol.stats.answered == 0


def test_read_stops_when_empty_and_after_max_rounds() -> None:
    batch = FakeBatch([[(b"a", A)], [(b"b", A)]])
    port, _, _ = make_port(batch)
    port.doRead()
    assert batch.receives == 3  # two batches, then the empty socket
    endless = FakeBatch([[(b"a", A)] for _ in range(MAX_ROUNDS + 5)])
    port, protocol, _ = make_port(endless)
    port.doRead()
    assert endless.receives == MAX_ROUNDS
    assert protocol.stats.received == MAX_ROUNDS


def test_refused_read_is_ignored_other_errors_raise() -> None:
    port, _, _ = make_port(FakeBatch([OSError(errno.ECONNREFUSED, "refused")]))
    port.doRead()  # nothing raised: ICMP news is not the server's problem
    port, _, _ = make_port(FakeBatch([OSError(errno.EBADF, "bad fd")]))
    with pytest.raises(OSError):
        port.doRead()


@needs_mmsg
def test_flush_reports_each_refused_answer_once(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _mmsg.MessageBatch(8, socket.AF_INET)
    calls: list[tuple[int, int]] = []
    script = iter([2, -1, 1, -1])  # 2 sent, #3 refused, #4 sent, #5 refused

    def fake_sendmmsg(fd: int, at: int, count: int, flags: int) -> int:
        calls.append((at, count))
        return next(script)

    monkeypatch.setattr(batch, "_sendmmsg", fake_sendmmsg)
    monkeypatch.setattr(_mmsg.ctypes, "get_errno", lambda: errno.ENOBUFS)
    for i in range(5):
        batch.queue_echo(i, 10)
    assert batch.flush(99) == (3, [errno.ENOBUFS, errno.ENOBUFS])
    assert [count for _, count in calls] == [5, 3, 2, 1]
    assert batch.queued == 0


@needs_mmsg
def test_message_batch_reads_addresses_and_sizes_over_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        server.setblocking(False)
        client.bind(("127.0.0.1", 0))
        batch = _mmsg.MessageBatch(4, socket.AF_INET)
        assert batch.receive(server.fileno()) == 0  # empty: no error
        payloads = [b"a", b"", b"c" * 1000, b"d" * 65507, b"e"]
        for payload in payloads:
            client.sendto(payload, server.getsockname())
        got: list[bytes] = []
        while len(got) < len(payloads):
            n = batch.receive(server.fileno())
            assert 1 <= n <= 4
            assert batch.lengths(n) == [len(p) for p in payloads[len(got):len(got) + n]]
            for i in range(n):
                assert batch.source(i) == client.getsockname()
                assert batch.source_port(i) == client.getsockname()[1]
                assert batch.source_key(i) == socket.inet_aton("127.0.0.1")
                got.append(batch.data(i))
        assert got == payloads


def test_message_batch_rejects_a_size_below_one() -> None:
    if not _mmsg.available():
        pytest.skip("recvmmsg/sendmmsg need Linux")
    with pytest.raises(ValueError):
        _mmsg.MessageBatch(0, socket.AF_INET)


class ScriptedSocket(FakeSocket):
    """recvfrom hands out scripted datagrams, then the given error."""

    def __init__(self, datagrams: list[tuple[bytes, Any]], end: OSError) -> None:
        super().__init__()
        self.datagrams = list(datagrams)
        self.end = end

    def recvfrom(self, size: int) -> tuple[bytes, Any]:
        assert size == 65536
        if not self.datagrams:
            raise self.end
        return self.datagrams.pop(0)


def test_one_by_one_port_applies_the_rules_inline() -> None:
    protocol = EchoProtocol(RateLimiter(2, Clock()), max_size=10)
    port = EchoPort(0, protocol, interface="127.0.0.1", reactor=MemoryReactor())
    port.socket = ScriptedSocket(
        [(b"a", A), (b"b", ("127.0.0.1", 19)), (b"c" * 11, A), (b"d", A), (b"e", A),
         (b"f", B)], OSError(errno.EAGAIN, "empty"))
    port.doRead()
    assert port.socket.sent == [(b"a", A), (b"d", A), (b"f", B)]
    stats = protocol.stats
    assert (stats.received, stats.answered, stats.dropped_port, stats.dropped_size,
            stats.dropped_rate) == (6, 3, 1, 1, 1)
    port.socket = ScriptedSocket([], OSError(errno.EBADF, "bad fd"))
    with pytest.raises(OSError):
        port.doRead()
