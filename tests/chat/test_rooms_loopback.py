"""Rooms and history against a real ``twistd chat`` process, with plain blocking sockets."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from tests.helpers import TwistdProcess

pytestmark = pytest.mark.timeout(60)

HISTORY_BYTES = 400


class Raw:
    """A raw TCP chat connection: ``send`` a line, ``until`` a line comes (lines kept)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.lines: list[str] = []

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def until(self, wanted: str, timeout: float = 10) -> list[str]:
        """The lines not taken yet, up to and including the first equal to (or matching)
        ``wanted``."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            for i in range(start, len(self.lines)):
                if self.lines[i] == wanted or re.fullmatch(wanted, self.lines[i]):
                    got = self.lines[:i + 1]
                    del self.lines[:i + 1]
                    return got
            start = len(self.lines)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"{wanted!r} not received; got {self.lines}") from None
            if not chunk:
                raise EOFError(f"closed before {wanted!r}; got {self.lines}")
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines.extend(x.decode() for x in done)

    def sync(self) -> list[str]:
        """Everything up to the answer of a ``/ping`` sent now."""
        self.send("/ping sync")
        return self.until("PONG sync")[:-1]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--history", "5",
                       "--history-bytes", str(HISTORY_BYTES)) as server:
        yield server.port("chat")


def connect(port: int, nick: str, room: str | None = None) -> Raw:
    c = Raw(port)
    c.until(r"WELCOME guest\d+")
    c.send(f"/nick {nick}")
    c.until(f"NICK .* {nick}")
    if room:
        c.send(f"/join {room}")
        c.until(f"ROOM {room}")
    return c


HIST = r"HIST \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "


def test_history_across_reconnects(port: int) -> None:
    a = connect(port, "hist_a", "recon")
    for i in range(7):
        a.send(f"line {i}")
    a.send("/me leaves")
    a.sync()
    a.close()
    b = connect(port, "hist_b")
    b.send("/join #recon")
    got = b.until("ROOM recon") + b.sync()
    assert got[0] == "ROOM recon"
    assert [re.sub(HIST, "HIST * ", x) for x in got[1:]] == [
        "HIST * MSG hist_a line 3", "HIST * MSG hist_a line 4", "HIST * MSG hist_a line 5",
        "HIST * MSG hist_a line 6", "HIST * ACTION hist_a leaves"]
    b.send("still here")
    b.send("/join lobby")
    b.until("ROOM lobby")
    b.close()
    c = connect(port, "hist_c", "recon")
    assert c.sync()[-1].endswith("MSG hist_b still here")  # the room outlived everyone
    c.close()


def test_history_byte_bound(port: int) -> None:
    a = connect(port, "bytes_a", "bytes")
    text = "z" * 150
    for _ in range(5):
        a.send(text)
    a.sync()
    b = connect(port, "bytes_b", "bytes")
    replay = b.sync()
    size = sum(len(x) + 1 for x in replay)
    assert replay and all(re.fullmatch(HIST + f"MSG bytes_a {text}", x) for x in replay)
    assert size <= HISTORY_BYTES and size + len(replay[0]) + 1 > HISTORY_BYTES  # 2 of 5 fit
    a.close()
    b.close()


def test_max_rooms() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--max-rooms",
                       "3") as server:
        port = server.port("chat")
        a, b = connect(port, "rooms_a"), connect(port, "rooms_b")
        a.send("/join one")
        a.send("kept")  # history keeps "one" alive after a leaves
        a.send("/join lobby")
        b.send("/join two")
        assert b.until(r"ROOM .*")[-1] == "ROOM two"
        a.send("/join three")  # lobby, one, two exist: a fourth is refused
        assert a.until(r"ERR .*")[-1] == (
            "ERR max-rooms there are already 3 rooms; join one of them (/rooms)")
        a.send("/rooms")
        assert a.until(r"ROOMS .*")[-1] == "ROOMS lobby:1 two:1"
        b.send("/join lobby")  # "two" had no history: gone, so there is room for "three"
        b.until("ROOM lobby")
        a.send("/join three")
        assert a.until(r"(ROOM|ERR) .*")[-1] == "ROOM three"
        a.send("/ping alive")
        assert a.until("PONG alive")
        a.close()
        b.close()


def test_nick_change_seen_only_by_its_room(port: int) -> None:
    a = connect(port, "nick_a", "nickroom")
    b = connect(port, "nick_b", "nickroom")
    c = connect(port, "nick_c")
    a.sync()
    c.sync()
    a.send("/nick nick_a2")
    assert a.until("NICK nick_a nick_a2")
    assert b.until("NICK nick_a nick_a2")
    assert all("nick_a2" not in x for x in c.sync())
    c.send("/msg nick_a2 across rooms")
    assert a.until("PRIV nick_c across rooms")
    for x in (a, b, c):
        x.close()
