"""The chat server over real loopback sockets: fan-out, slow consumers, resets, limits, TLS."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import connectProtocol, serverFromString
from twisted.protocols.basic import LineOnlyReceiver

from netsuite._endpoints import client_endpoint
from netsuite.chat import ChatFactory, RoomLimits


class LineClient(LineOnlyReceiver):
    """Collects lines; :meth:`wait_for` fires when a line satisfying a test arrives."""

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.waiters: list[tuple[Any, defer.Deferred[str]]] = []
        self.closed: defer.Deferred[None] = defer.Deferred()

    def lineReceived(self, line: bytes) -> None:
        text = line.decode()
        self.lines.append(text)
        for test, d in list(self.waiters):
            if test(text):
                self.waiters.remove((test, d))
                d.callback(text)

    def wait_for(self, test: Any, timeout: float = 10) -> defer.Deferred[str]:
        for line in self.lines:
            if test(line):
                return defer.succeed(line)
        d: defer.Deferred[str] = defer.Deferred()
        self.waiters.append((test, d))
        return d.addTimeout(timeout, reactor)

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(None)


async def listen(tmp_limits: RoomLimits | None = None, description: str | None = None):
    factory = ChatFactory(reactor, tmp_limits or RoomLimits())
    port = await serverFromString(reactor, description or "tcp:0:interface=127.0.0.1").listen(
        factory)
    return factory, port


async def connect(port: Any, nick: str | None = None, tls: bool = False) -> LineClient:
    client = LineClient()
    endpoint = client_endpoint(reactor, "127.0.0.1", port.getHost().port, tls=tls, insecure=tls)
    await connectProtocol(endpoint, client)
    await client.wait_for(lambda line: line.startswith("WELCOME "))
    if nick:
        client.sendLine(f"/nick {nick}".encode())
        await client.wait_for(lambda line: line.endswith(f" {nick}") and line.startswith("NICK"))
    return client


async def close_all(port: Any, *clients: LineClient) -> None:
    for c in clients:
        if c.transport.connected:
            c.transport.loseConnection()
    await defer.gatherResults([c.closed for c in clients])
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_fan_out_to_many_clients() -> None:
    factory, port = await listen()
    clients = [await connect(port, f"u{i}") for i in range(8)]
    for i, c in enumerate(clients):
        for k in range(50):
            c.sendLine(f"from u{i} #{k}".encode())
    for i, c in enumerate(clients):
        last = {j: f"MSG u{j} from u{j} #49" for j in range(8) if j != i}
        for line in last.values():
            await c.wait_for(lambda text, line=line: text == line)
        got = [x for x in c.lines if x.startswith("MSG ")]
        assert len(got) == 7 * 50
        assert not any(x.startswith(f"MSG u{i} ") for x in got)
        for j in last:  # per-sender order kept
            mine = [x for x in got if x.startswith(f"MSG u{j} ")]
            assert mine == [f"MSG u{j} from u{j} #{k}" for k in range(50)]
    assert factory.stats.clients == 8
    await close_all(port, *clients)


@pytest_twisted.ensureDeferred
async def test_slow_consumer_dropped_others_keep_full_speed() -> None:
    limits = RoomLimits(max_backlog=64 * 1024)
    factory, port = await listen(limits)
    sender, fast = await connect(port, "sender"), await connect(port, "fast")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    try:
        slow.connect_ex(("127.0.0.1", port.getHost().port))
        await fast.wait_for(lambda line: line.startswith("JOIN guest"))
        slow_nick = fast.lines[-1].split()[1]
        payload = "y" * 200
        part = f"PART {slow_nick} slow-consumer"
        sent = 0
        while part not in fast.lines and sent < 200_000:  # until the kernel buffers are full
            for _ in range(2000):
                sender.sendLine(f"{sent} {payload}".encode())
                sent += 1
            last = f"MSG sender {sent - 1} {payload}"
            await fast.wait_for(lambda line, last=last: line == last, timeout=30)
        await fast.wait_for(lambda line: line == part)
        assert len([x for x in fast.lines if x.startswith("MSG sender ")]) == sent
        assert factory.stats.drops.get("slow-consumer") == 1
        assert sender.transport.connected and fast.transport.connected
    finally:
        slow.close()
    await close_all(port, sender, fast)


@pytest_twisted.ensureDeferred
async def test_abrupt_disconnect_mid_line() -> None:
    factory, port = await listen()
    a = await connect(port, "a")
    raw = socket.create_connection(("127.0.0.1", port.getHost().port))
    try:
        await a.wait_for(lambda line: line.startswith("JOIN "))
        raw.sendall(b"half a li")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        raw.close()  # RST
    await a.wait_for(lambda line: line.startswith("PART guest") and "disconnected" in line)
    a.sendLine(b"/ping alive")
    await a.wait_for(lambda line: line == "PONG alive")
    assert factory.stats.clients == 1
    await close_all(port, a)


@pytest_twisted.ensureDeferred
async def test_max_clients_over_sockets() -> None:
    factory, port = await listen(RoomLimits(max_clients=2))
    a, b = await connect(port, "a"), await connect(port, "b")
    extra = LineClient()
    await connectProtocol(client_endpoint(reactor, "127.0.0.1", port.getHost().port), extra)
    await extra.closed
    assert extra.lines[0].startswith("ERR max-clients ")
    assert extra.lines[1:] == ["BYE max-clients"]
    a.sendLine(b"still fine")
    await b.wait_for(lambda line: line == "MSG a still fine")
    assert factory.stats.clients == 2
    await close_all(port, a, b)


@pytest_twisted.ensureDeferred
async def test_tls_listener(tls_files: Any) -> None:
    _factory, port = await listen(description=tls_files.server_description())
    a, b = await connect(port, "a", tls=True), await connect(port, "b", tls=True)
    a.sendLine("über TLS".encode())
    await b.wait_for(lambda line: line == "MSG a über TLS")
    await close_all(port, a, b)


@pytest_twisted.ensureDeferred
async def test_flood_over_sockets() -> None:
    _factory, port = await listen(RoomLimits(flood=5))
    a, b = await connect(port, "a"), await connect(port, "b")
    a.transport.write(b"".join(b"m%d\n" % i for i in range(50)))
    await a.wait_for(lambda line: line.startswith("ERR flood "))
    a.sendLine(b"/ping x")
    assert len([x for x in b.lines if x.startswith("MSG a ")]) <= 10
    await close_all(port, a, b)


def test_protocol_instances_are_small() -> None:
    proto = ChatFactory(reactor).buildProtocol(None)
    assert not hasattr(proto, "__dict__")


pytestmark = pytest.mark.timeout(60)


@pytest_twisted.ensureDeferred
async def test_half_closed_client_still_gets_its_answers() -> None:
    factory, port = await listen()
    watcher = await connect(port, "w")

    def scripted() -> bytes:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=10) as s:
            s.sendall(b"/nick script\n/who\n")
            s.shutdown(socket.SHUT_WR)  # like `printf ... | nc -N`
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data

    from twisted.internet import threads

    data = await threads.deferToThread(scripted)
    assert b"WHO w script\n" in data
    await watcher.wait_for(lambda line: line == "PART script disconnected")
    assert factory.stats.clients == 1
    await close_all(port, watcher)
