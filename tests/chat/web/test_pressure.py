"""WebSocket clients that push the server: never reading (slow consumer, server memory
flat), ping floods, and a storm of half-finished handshakes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from tests.chat.web.rawws import PING, frame, handshake, open_ws
from tests.chat.web.server import WebChat
from tests.helpers import TwistdProcess


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def recv_until(sock: socket.socket, marker: bytes, limit: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + limit
    while marker not in seen:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {seen[-300:]!r}")
        seen += chunk
    return seen


def never_reading_ws(port: int) -> socket.socket:
    """A WebSocket client that reads its handshake answer and WELCOME, then nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(handshake("/ws", f"127.0.0.1:{port}"))
    recv_until(sock, b"WELCOME ")
    return sock


def test_never_reading_client_dropped_as_slow_consumer_memory_flat() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--web",
                       "tcp:0:interface=127.0.0.1", "--max-backlog", "262144") as server:
        tcp_port, web_port = server.port("chat"), server.port("chat-web")
        watcher = socket.create_connection(("127.0.0.1", tcp_port), timeout=20)
        recv_until(watcher, b"ROOM lobby")
        sleeper = never_reading_ws(web_port)
        nick = recv_until(watcher, b"\n", 20)  # JOIN of the sleeper
        sender = socket.create_connection(("127.0.0.1", tcp_port), timeout=20)
        sender.sendall(b"/nick sender\n")
        joined = recv_until(watcher, b"NICK ")
        sleeper_nick = (nick + joined).split(b"JOIN ", 1)[1].split(b"\n", 1)[0].decode()
        before = rss_kib(server.process.pid)
        line = b"x" * 250 + b"\n"
        sent = 0
        part = f"PART {sleeper_nick} slow-consumer".encode()
        seen = b""
        found = False
        while not found and sent < 40_000_000:
            sender.sendall(line * 400)
            sent += len(line) * 400
            watcher.setblocking(False)
            try:
                while not found:
                    chunk = watcher.recv(1 << 20)
                    if not chunk:
                        break
                    seen = seen[-100:] + chunk
                    found = part in seen
            except BlockingIOError:
                pass
            watcher.setblocking(True)
        if not found:
            seen += recv_until(watcher, part)
        grown = rss_kib(server.process.pid) - before
        assert part in seen
        assert sent >= 1_000_000  # it took a real flood, not a hiccup
        assert grown < 8 * 1024, f"server grew {grown} KiB for {sent} bytes sent"
        sleeper.settimeout(20)  # the server closed it (after our unread data drains)
        try:
            while sleeper.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        for sock in (watcher, sender, sleeper):
            sock.close()


def test_ping_flood_from_a_client_that_never_reads_stays_bounded() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--web",
                       "tcp:0:interface=127.0.0.1") as server:
        web_port = server.port("chat-web")
        flooder = never_reading_ws(web_port)
        before = rss_kib(server.process.pid)
        pings = frame(PING, b"p" * 125) * 1000  # 131 KB of pings, each owed a 127-byte pong
        flooder.settimeout(0.5)
        pushed = 0
        try:
            while pushed < 40_000_000:
                flooder.sendall(pings)
                pushed += len(pings)
        except (TimeoutError, BlockingIOError):
            pass  # the server stopped reading us: fine too
        grown = rss_kib(server.process.pid) - before
        assert grown < 8 * 1024, f"server grew {grown} KiB after {pushed} bytes of pings"
        other = never_reading_ws(web_port)  # still serving others
        other.close()
        flooder.close()


class _Partial(protocol.Protocol):
    """Sends the first lines of a WebSocket handshake and never finishes it."""

    def __init__(self) -> None:
        self.lost: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")

    def connectionLost(self, reason: object = None) -> None:
        self.lost.callback(None)


@pytest_twisted.ensureDeferred
async def test_storm_of_half_finished_handshakes() -> None:
    chat = await WebChat.start(timeout=1.0)
    try:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", chat.web_port)
        storm = [_Partial() for _ in range(300)]
        await defer.gatherResults([connectProtocol(endpoint, p) for p in storm])
        # Others are served meanwhile, WebSocket and TCP alike.
        ws = chat.track(await open_ws(chat.web_port))
        tcp = await chat.tcp_client("nc")
        ws.text("through the storm")
        await tcp.wait_for("MSG guest1 through the storm")
        # The server closes every half-finished handshake by itself.
        await defer.gatherResults([p.lost for p in storm]).addTimeout(15, reactor)
        assert chat.web.stats.clients == 1
        ws.text("/ping after")
        await ws.wait_for("PONG after")  # the chat connection outlived the HTTP timeout
    finally:
        await chat.stop()
