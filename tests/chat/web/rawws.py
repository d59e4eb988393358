"""A tiny raw WebSocket client for tests: it frames by hand, so it can send what a
well-behaved client never would (oversize messages, bad UTF-8, odd fragments)."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    """One client frame (masked, as RFC 6455 requires of clients, unless ``mask=False``)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else _xor(payload, key)
    return head + key + body


def _xor(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    whole = int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return whole.to_bytes(n, "big")


def handshake(path: str = "/ws", host: str = "127.0.0.1", origin: str | None = None,
              key: str | None = None) -> bytes:
    """The client's opening handshake."""
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawWebSocket(protocol.Protocol):
    """Sends a handshake, then frames; collects the server's messages and text lines."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.status: int | None = None
        self.head = b""
        self.body = b""
        self.buf = b""
        self.messages: list[tuple[int, bytes]] = []  # (opcode, payload), pings excluded
        self.lines: list[str] = []
        self.close_code: int | None = None
        self.answered: defer.Deferred[int] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._waiters: list[tuple[Callable[[str], bool], defer.Deferred[str]]] = []
        self._partial: tuple[int, bytes] | None = None

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = self.head[:end], self.head[end + 4:]
            self.head = head
            self.status = int(head.split(b" ", 2)[1])
            self.answered.callback(self.status)
            data = rest
            if self.status != 101:
                self.body += data
                return
        elif self.status != 101:
            self.body += data
            return
        self.buf += data
        while self._frame():
            pass

    def _frame(self) -> bool:
        buf = self.buf
        if len(buf) < 2:
            return False
        fin, opcode, n, at = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return False
            n, at = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n, at = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < at + n:
            return False
        payload, self.buf = buf[at:at + n], buf[at + n:]
        if opcode == CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.messages.append((opcode, payload))
            return True
        if opcode == PING:
            self.transport.write(frame(PONG, payload))
            return True
        if opcode == CONT:
            assert self._partial is not None
            opcode, payload = self._partial[0], self._partial[1] + payload
        if not fin:
            self._partial = (opcode, payload)
            return True
        self._partial = None
        self.messages.append((opcode, payload))
        if opcode == TEXT:
            text = payload.decode("utf-8")
            assert text.endswith("\n"), f"server message not whole lines: {text!r}"
            for line in text[:-1].split("\n"):
                self.lines.append(line)
                for test, d in list(self._waiters):
                    if test(line):
                        self._waiters.remove((test, d))
                        d.callback(line)
        return True

    def connectionLost(self, reason: Any = None) -> None:
        if not self.answered.called:
            self.answered.errback(ConnectionError("closed before the handshake answer"))
        for _, d in self._waiters:
            d.errback(ConnectionError(f"closed; lines were {self.lines}"))
        self._waiters = []
        self.closed.callback(None)

    # -- for tests ------------------------------------------------------------------------

    def send(self, opcode: int, payload: bytes | str, fin: bool = True) -> None:
        if isinstance(payload, str):
            payload = payload.encode()
        self.transport.write(frame(opcode, payload, fin))

    def text(self, line: str | bytes) -> None:
        self.send(TEXT, line)

    def wait_for(self, test: Callable[[str], bool] | str,
                 timeout: float = 10) -> defer.Deferred[str]:
        """The first line (already received or still to come) passing ``test`` (or equal
        to it, given a string)."""
        check = (lambda line: line == test) if isinstance(test, str) else test
        for line in self.lines:
            if check(line):
                return defer.succeed(line)
        d: defer.Deferred[str] = defer.Deferred()
        self._waiters.append((check, d))
        return d.addTimeout(timeout, reactor)

    def wait_closed(self, timeout: float = 10) -> defer.Deferred[None]:
        done: defer.Deferred[None] = defer.Deferred()
        self.closed.addBoth(lambda _: done.called or done.callback(None))
        return done.addTimeout(timeout, reactor)

    def close(self) -> defer.Deferred[None]:
        if self.transport.connected:
            self.transport.loseConnection()
        return self.wait_closed()


async def open_ws(port: int, *, origin: str | None = None, path: str = "/ws",
                  host: str | None = None, welcome: bool = True) -> RawWebSocket:
    """Connect and handshake; with ``welcome``, also wait for the ``WELCOME`` line."""
    host = host or f"127.0.0.1:{port}"
    client = RawWebSocket(handshake(path, host, origin))
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    await client.answered.addTimeout(10, reactor)
    if welcome:
        assert client.status == 101, (client.status, client.head, client.body)
        await client.wait_for(lambda line: line.startswith("WELCOME "))
    return client
