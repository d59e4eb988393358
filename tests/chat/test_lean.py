"""Lean TCP connections (log prefix, repr, fileno made when asked) and the heap trimmer."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.task import Clock

from netsuite.chat import _heap
from netsuite.chat._heap import HeapTrimmer
from netsuite.chat._lean import LeanPort, LeanServer, lean_tcp
from netsuite.chat._protocol import ChatProtocol
from netsuite.chat._tap import Options, makeService
from tests.chat.test_loopback import connect


def _server_side(service: Any) -> list[Any]:
    return [m.transport for m in service.room.members.values()]


@pytest_twisted.ensureDeferred
async def test_chat_service_accepts_lean_connections_that_behave_like_twisteds() -> None:
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1"])
    service = makeService(options, reactor)
    service.startService()
    try:
        port = await service.listener.whenListening
        assert isinstance(port, LeanPort)
        number = port.getHost().port
        a, b = await connect(port, "alice"), await connect(port, "bob")
        first, second = _server_side(service)
        assert isinstance(first, LeanServer)
        # What Twisted would have stored, made on demand; nothing per connection kept.
        assert first.logPrefix() == f"ChatProtocol,{first.sessionno},127.0.0.1"
        assert repr(first) == f"<ChatProtocol #{first.sessionno} on {number}>"
        assert first.getPeer().host == "127.0.0.1"
        assert first.getPeer().port == a.transport.getHost().port
        assert first.fileno() == first.socket.fileno() > 0
        assert not {"logstr", "repstr", "fileno", "hostname", "client"} & set(vars(first))
        assert first.client[0] is second.client[0]  # one host string for both
        # and they carry the chat as before
        a.sendLine(b"hello")
        await b.wait_for(lambda line: line == "MSG alice hello")
        a.transport.loseConnection()
        await a.closed
        await b.wait_for(lambda line: line.startswith("PART alice"))  # the server saw it
        assert first.fileno() == -1  # closed: the descriptor's default
        assert "protocol" not in vars(first)
        assert first.logPrefix().startswith("ChatProtocol,")  # still answers after close
        assert repr(first).startswith("<ChatProtocol #")
    finally:
        await service.stopService()
    await b.closed


def test_lean_tcp_leaves_non_posix_reactors_alone() -> None:
    clock = Clock()
    assert lean_tcp(clock) is clock
    lean = lean_tcp(reactor)
    assert lean is not reactor
    assert lean.seconds is not None and lean.callLater == reactor.callLater


def test_protocol_keeps_one_string_for_a_lower_case_nick_and_makes_its_prefix_late() -> None:
    from netsuite.chat.testing import FakeChat

    chat = FakeChat()
    alice = chat.connect("alice")
    proto: ChatProtocol = alice.protocol
    assert proto.key is proto.nick
    assert proto.msg_prefix == b""  # no message yet
    alice.send("/nick Alice\n")
    assert proto.key == "alice" and proto.nick == "Alice"
    bob = chat.connect("bob")
    alice.send("hi\n")
    assert "MSG Alice hi" in bob.take()
    assert proto.msg_prefix == b"MSG Alice "


def test_heap_trimmer_trims_once_per_every_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(_heap, "malloc_trim", lambda pad: calls.append(pad) or 1)
    trimmer = HeapTrimmer(every=1000)
    assert not trimmer.check(999)
    assert trimmer.check(1000)
    assert not trimmer.check(1999)
    assert trimmer.check(2500)
    assert calls == [0, 0] and trimmer.trims == 2


def test_heap_trimmer_without_malloc_trim_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heap, "malloc_trim", None)
    trimmer = HeapTrimmer(every=10)
    assert not trimmer.check(100)
    assert trimmer.trims == 0


def test_the_real_malloc_trim_can_be_called() -> None:
    if _heap.malloc_trim is None:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    assert _heap.malloc_trim(0) in (0, 1)


def test_idle_sweep_trims_after_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    from netsuite.chat.testing import FakeChat

    calls: list[int] = []
    monkeypatch.setattr(_heap, "malloc_trim", lambda pad: calls.append(pad) or 1)
    chat = FakeChat(idle_timeout=60)
    alice, bob = chat.connect("alice"), chat.connect("bob")
    chat.room.heap.every = 1000
    for _ in range(50):
        alice.send("x" * 40 + "\n")
    assert "MSG alice " + "x" * 40 in bob.take()
    chat.clock.advance(1)  # the sweep
    assert calls == [0]
    chat.clock.advance(1)  # nothing more written since: no trim
    assert calls == [0]


@pytest_twisted.ensureDeferred
async def test_lean_port_serves_plain_protocols_too() -> None:
    """Reads go through one shared buffer: big and small ones, in order, then EOF."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
    from twisted.internet.protocol import Factory, Protocol

    payload = bytes(range(256)) * 1200  # 300 KiB: several reads of the shared 64 KiB
    got: defer.Deferred[bytes] = defer.Deferred()
    server_done: defer.Deferred[None] = defer.Deferred()

    class Echo(Protocol):
        def dataReceived(self, data: bytes) -> None:
            assert type(data) is bytes
            self.transport.write(data)

        def connectionLost(self, reason: Any = None) -> None:
            server_done.callback(None)

    class Catch(Protocol):
        received = b""

        def dataReceived(self, data: bytes) -> None:
            self.received += data
            if len(self.received) == len(payload):
                got.callback(self.received)

    port = lean_tcp(reactor).listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    client = await connectProtocol(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), Catch())
    client.transport.write(payload[:10])
    client.transport.write(payload[10:])
    assert await got == payload
    client.transport.loseConnection()
    await server_done  # the server read the end of the stream
    await port.stopListening()


def test_lean_server_keeps_ipv4_and_ipv6_peers() -> None:
    server = LeanServer.__new__(LeanServer)  # just the address handling
    server.client = ("127.0.0.1", 40001)
    assert server.client == ("127.0.0.1", 40001) and server.hostname == "127.0.0.1"
    server.client = ("::1", 40002, 0, 0)
    assert server.client == ("::1", 40002, 0, 0) and server.hostname == "::1"
