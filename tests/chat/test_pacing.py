"""Input pacing vs. stalled members: one slow, silent or half-open member cannot hold up the room.

The room stops reading input while a member's socket is full, so that members that are
merely behind catch up.  These tests pin down the bound on that: a member is waited for
only while it drains, a TLS connection that has not finished its handshake never, and the
room as a whole holds input back only briefly (``docs/chat.md``, "Slow consumers and
back-pressure").
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.internet.interfaces import INegotiated
from zope.interface import implementer

from netsuite.chat import RoomLimits
from tests.chat.harness import Chat, Client, Transport
from tests.chat.test_loopback import LineClient, close_all, connect, listen

pytestmark = pytest.mark.timeout(60)

GRACE = RoomLimits().congestion_grace
HOLD = RoomLimits().congestion_hold
REGAIN = RoomLimits().congestion_regain
SHARE = REGAIN / (1 + REGAIN)  # the most of the time the room may hold input back


# -- the rule, in memory (StringTransport + Clock) ---------------------------------------


def held(chat: Chat, a: Client, c: Client, text: str, step: float = 0.005,
         limit: float = 5.0) -> float:
    """Send ``text`` from ``a``; seconds until ``c`` has it (the room's hold on input)."""
    start = chat.clock.seconds()
    a.send(text + "\n")
    while f"MSG alice {text}" not in c.take():
        assert chat.clock.seconds() - start < limit, "input held back too long"
        chat.advance(step)
    return chat.clock.seconds() - start


def test_a_member_that_stops_draining_is_waited_for_only_briefly() -> None:
    chat = Chat()
    a, b, c = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
    b.protocol.pauseProducing()  # bob's socket is full (and stays so)
    a.send("first\n")  # ends the turn: the next one sees bob full
    wait = held(chat, a, c, "second")
    assert GRACE * 0.9 <= wait <= GRACE + 0.02
    # bob made no progress since: nobody waits for him any more, however long he stays
    assert held(chat, a, c, "third") == 0
    chat.advance(10)
    assert held(chat, a, c, "fourth") == 0
    assert not b.closed


def test_each_drain_is_progress_and_is_waited_for_again() -> None:
    chat = Chat()
    a, b, c = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
    b.take()
    b.protocol.pauseProducing()
    a.send("one\n")
    chat.advance(1)  # bob is stale
    b.protocol.resumeProducing()  # ... then drains: progress
    assert b.take() == ["MSG alice one"]
    b.protocol.pauseProducing()  # and is full again at once
    a.send("two\n")
    assert GRACE * 0.9 <= held(chat, a, c, "three") <= GRACE + 0.02


def test_members_going_full_one_after_another_do_not_add_up() -> None:
    """A fresh allowance per member was the bug: each new full member stalled everyone."""
    chat = Chat()
    a, c = chat.connect("alice"), chat.connect("carol")
    waits = []
    for i in range(20):
        stuck = chat.connect(f"stuck{i}")
        stuck.protocol.pauseProducing()  # never reads
        a.send(f"m{i}\n")
        waits.append(held(chat, a, c, f"ping{i}"))
        chat.advance(0.01)
    assert max(waits) <= GRACE + 0.02
    # the room's hold allowance is shared: over the whole run the room held input back
    # for at most its share of the time
    assert sum(waits) <= HOLD + SHARE * (chat.clock.seconds() - 1_000_000)


def test_a_member_draining_just_enough_cannot_hold_the_room_for_long() -> None:
    """A trickle reader that drains every 40 ms counts as progressing, but the room holds
    input back at most ``congestion_hold`` at a stretch and its share of the time."""
    chat = Chat()
    a, b, c = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
    b.protocol.pauseProducing()
    trickle = task.LoopingCall(lambda: (b.protocol.resumeProducing(),
                                        b.protocol.pauseProducing()))
    trickle.clock = chat.clock
    trickle.start(0.04)
    start = chat.clock.seconds()
    waits = [held(chat, a, c, f"m{i}", step=0.002) for i in range(30)]
    trickle.stop()
    assert max(waits) <= HOLD + 0.01
    assert sum(waits) <= HOLD + SHARE * (chat.clock.seconds() - start) + 0.05
    assert max(waits) >= GRACE  # it was waited for, though: it drains


@implementer(INegotiated)
class TLSTransport(Transport):
    """Like Twisted's TLS transport: provides INegotiated (ALPN)."""

    negotiatedProtocol = None


def test_tls_member_is_not_waited_for_before_its_handshake() -> None:
    chat = Chat()
    a, c = chat.connect("alice"), chat.connect("carol")
    transport = TLSTransport(50000)
    proto = chat.factory.buildProtocol(transport.getPeer())
    transport.protocol = proto
    proto.makeConnection(transport)
    proto.pauseProducing()  # what the TLS transport does before the handshake
    chat.turn()
    assert not proto.ready
    a.send("hello\n")
    assert held(chat, a, c, "now") == 0
    proto.handshakeCompleted()
    proto.resumeProducing()
    assert proto.ready and b"MSG alice now\n" in transport.value()
    proto.pauseProducing()  # from now on a full socket is waited for (briefly)
    a.send("x\n")
    assert GRACE * 0.9 <= held(chat, a, c, "y") <= GRACE + 0.02


class BufferedTransport(Transport):
    """Like Twisted's: a write that passes its 64 KiB buffer pauses the producer."""

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(data) > 64 * 1024 and self.producer is not None:
            self.producer.pauseProducing()


def test_a_big_backlog_drains_in_chunks_each_one_progress() -> None:
    chat = Chat()
    a, c = chat.connect("alice"), chat.connect("carol")
    transport = BufferedTransport(50001)
    proto = chat.factory.buildProtocol(transport.getPeer())
    transport.protocol = proto
    proto.makeConnection(transport)
    chat.turn()
    proto.pauseProducing()
    a.send("start\n")
    chat.advance(GRACE + 0.01)  # stale: its backlog grows
    line = "x" * 1000
    for i in range(400):
        a.send(f"{i} {line}\n")
    assert 300_000 < proto._queued < 500_000
    before = len(transport.value())
    proto.resumeProducing()  # drains a chunk, is full again: progress, waited for again
    written = len(transport.value()) - before
    assert 64 * 1024 < written < 64 * 1024 + 4096
    assert proto._paused and proto._queue
    a.send("more\n")
    assert GRACE * 0.9 <= held(chat, a, c, "after") <= GRACE + 0.02
    while proto._queue:  # every chunk, in order, nothing lost
        proto.resumeProducing()
    proto.resumeProducing()
    got = transport.value().decode().splitlines()
    msgs = [x for x in got if x.startswith("MSG alice ")]
    assert msgs[1:401] == [f"MSG alice {i} {line}" for i in range(400)]
    assert msgs[-2:] == ["MSG alice more", "MSG alice after"]


def test_stalled_member_is_dropped_at_max_backlog_and_nothing_more_is_held() -> None:
    chat = Chat(max_backlog=4000)
    a, b, c = chat.connect("alice"), chat.connect("bob"), chat.connect("carol")
    b.protocol.pauseProducing()
    a.send("start\n")
    chat.advance(GRACE + 0.01)
    for i in range(100):
        a.send(f"message {i:04d} " + "x" * 40 + "\n")
        assert b.transport.aborted or b.protocol._queued <= 4000
    assert b.transport.aborted
    got = c.take()
    assert "PART bob slow-consumer" in got
    assert len([line for line in got if line.startswith("MSG alice message")]) == 100
    assert chat.stats.drops == {"slow-consumer": 1}
    assert not chat.room.fanout._paused


# -- over real sockets -------------------------------------------------------------------


class Pinger(LineClient):
    """Sends ``/ping N`` one after another; keeps each round trip's time."""

    def __init__(self) -> None:
        super().__init__()
        self.rtts: list[float] = []
        self._sent = 0.0
        self._n = 0
        self.running = False

    def ping(self) -> None:
        self._n += 1
        self._sent = time.monotonic()
        self.sendLine(b"/ping %d" % self._n)

    def lineReceived(self, line: bytes) -> None:
        if line == b"PONG %d" % self._n:
            self.rtts.append(time.monotonic() - self._sent)
            if self.running:
                self.ping()
        super().lineReceived(line)


async def chatter_with_stalled_peers(port: Any, stalled: Any, tls: bool = False,
                                     count: int = 8, every: float = 0.25) -> list[float]:
    """Alice floods the room, carol pings; ``stalled(i)`` opens a stuck connection every
    ``every`` seconds.  Returns carol's round-trip times."""
    alice = await connect(port, "alice", tls=tls)
    carol = Pinger()
    from twisted.internet.endpoints import connectProtocol

    from netsuite._endpoints import client_endpoint

    endpoint = client_endpoint(reactor, "127.0.0.1", port.getHost().port, tls=tls, insecure=tls)
    await connectProtocol(endpoint, carol)
    await carol.wait_for(lambda line: line.startswith("WELCOME "))
    line = b"chatter " + b"z" * 200

    def flood() -> None:
        if alice.transport.connected:
            alice.transport.write(b"".join(line + b"\n" for _ in range(100)))

    flooding = task.LoopingCall(flood)
    flooding.start(0.01)
    carol.running = True
    carol.ping()
    sockets = []
    try:
        for i in range(count):
            sockets.append(stalled(i))
            d: defer.Deferred[None] = defer.Deferred()
            reactor.callLater(every, d.callback, None)
            await d
        carol.running = False
        await carol.wait_for(lambda text: text == f"PONG {carol._n}")
    finally:
        flooding.stop()
        for s in sockets:
            s.close()
    await close_all(port, alice, carol)
    return carol.rtts


def never_reader(port: Any) -> socket.socket:
    """A TCP connection that never reads (tiny receive buffer) and sends nothing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port.getHost().port))
    return s


# Far below the old stall (2 s per stuck connection), robust on a loaded 2-core machine.
RTT_BOUND = 0.5


@pytest_twisted.ensureDeferred
async def test_connections_that_never_read_do_not_stall_the_room() -> None:
    factory, port = await listen(RoomLimits(max_backlog=256 * 1024))
    rtts = await chatter_with_stalled_peers(port, lambda i: never_reader(port))
    assert len(rtts) >= 10
    assert max(rtts) < RTT_BOUND, sorted(rtts)[-5:]
    # the stuck connections did fill up (and were dropped at the backlog limit)
    assert factory.stats.drops.get("slow-consumer", 0) >= 1


@pytest_twisted.ensureDeferred
async def test_tls_connections_without_handshake_do_not_stall_the_room(tls_files: Any) -> None:
    factory, port = await listen(RoomLimits(max_backlog=256 * 1024),
                                 description=tls_files.server_description())
    rtts = await chatter_with_stalled_peers(port, lambda i: never_reader(port), tls=True)
    assert len(rtts) >= 10
    assert max(rtts) < RTT_BOUND, sorted(rtts)[-5:]
    assert factory.stats.drops.get("slow-consumer", 0) >= 1


@pytest_twisted.ensureDeferred
async def test_never_reader_dropped_at_backlog_with_bounded_memory() -> None:
    """Default pacing: a never-reading member is dropped (``PART NICK slow-consumer``) once
    its backlog passes --max-backlog (memory stays bounded); the others get everything."""
    limit = 128 * 1024
    factory, port = await listen(RoomLimits(max_backlog=limit))
    sender, fast = await connect(port, "sender"), await connect(port, "fast")
    at_drop: list[int] = []
    drop_slow = factory.room.drop_slow

    def record(member: Any) -> None:
        at_drop.append(member._queued)  # the backlog that passed the limit
        drop_slow(member)

    factory.room.drop_slow = record  # type: ignore[method-assign]
    slow = never_reader(port)
    try:
        await fast.wait_for(lambda line: line.startswith("JOIN guest"))
        slow_nick = fast.lines[-1].split()[1]
        part = f"PART {slow_nick} slow-consumer"
        started = time.monotonic()
        sent = 0
        while part not in fast.lines and sent < 200_000:
            for _ in range(1000):
                sender.sendLine(b"%d %s" % (sent, b"y" * 200))
                sent += 1
            last = f"MSG sender {sent - 1} {'y' * 200}"
            await fast.wait_for(lambda line, last=last: line == last, timeout=30)
        await fast.wait_for(lambda line: line == part)
        assert time.monotonic() - started < 10
        assert len([x for x in fast.lines if x.startswith("MSG sender ")]) == sent
        assert factory.stats.drops.get("slow-consumer") == 1
        # dropped as its backlog passed the limit, by at most one turn's output (64 KiB)
        assert len(at_drop) == 1 and limit < at_drop[0] <= limit + 68 * 1024
        assert not factory.room.fanout._paused
    finally:
        slow.close()
    await close_all(port, sender, fast)
