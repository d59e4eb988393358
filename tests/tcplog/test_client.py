"""``netsuite send`` against the line log over loopback (plain, TLS), and its failures."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.logger import formatEvent, globalLogPublisher

from netsuite._cli import CommandFailed, UsageFailure, build_parser
from netsuite._stdin import FdLines, StdinLines
from netsuite.tcplog._client import run
from netsuite.tcplog._tap import Options, makeService
from tests.helpers import TLSFiles, TwistdProcess


@pytest.fixture
def logged() -> Iterator[list[str]]:
    lines: list[str] = []

    def observer(event: dict) -> None:
        if event.get("log_namespace", "").startswith("netsuite.tcplog._protocol"):
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    yield lines
    globalLogPublisher.removeObserver(observer)


async def start_server(*argv: str) -> Any:
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", *argv])
    service = makeService(options, reactor=reactor)
    service.startService()
    await service.whenListening
    return service


async def send(stdin: bytes, *argv: str) -> int:
    parser, _ = build_parser("send")
    args = parser.parse_args(list(argv))
    args.stdin = io.BytesIO(stdin)
    return await run(reactor, args)


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Let the reactor run until ``condition()`` holds (the server logs asynchronously)."""
    from twisted.internet import task

    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await task.deferLater(reactor, 0.01, lambda: None)
        waited += 0.01


@pytest_twisted.ensureDeferred
async def test_sends_lines_until_exit(logged: list[str], capsys: Any) -> None:
    service = await start_server()
    try:
        port = service.port.getHost().port
        code = await send(b"hello\r\nw\xc3\xb6rld\nexit\nnot sent\n", f"127.0.0.1:{port}")
        assert code == 0
        assert capsys.readouterr().out == "sent 6 bytes\nsent 7 bytes\n"
        await until(lambda: any(line.startswith("disconnect") for line in logged))
        texts = [line.split(": ", 1)[1] for line in logged if ": " in line]
        assert texts == ["hello", "wörld"]
        assert service.stats.lines == 2
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_end_of_input_sends_last_partial_line(logged: list[str], capsys: Any) -> None:
    service = await start_server()
    try:
        port = service.port.getHost().port
        assert await send(b"a\nlast", "--quiet", f"127.0.0.1:{port}") == 0
        assert capsys.readouterr().out == ""
        await until(lambda: any(line.startswith("disconnect") for line in logged))
        assert [line.split(": ", 1)[1] for line in logged if ": " in line] == ["a", "last"]
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_server_closing_is_a_failure(capsys: Any) -> None:
    service = await start_server("--max-line", "10")
    try:
        port = service.port.getHost().port
        big = b"x" * 100 + b"\n"
        with pytest.raises(CommandFailed, match="closed the connection"):
            await send(big * 5000, f"127.0.0.1:{port}")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_refused_and_bad_target() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(CommandFailed, match=f"cannot connect to 127.0.0.1:{dead}: connection "
                       "refused"):
        await send(b"x\n", f"127.0.0.1:{dead}")
    with pytest.raises(UsageFailure):
        await send(b"x\n", "no-port")


@pytest_twisted.ensureDeferred
async def test_tls_verified_then_insecure(tls_files: TLSFiles, logged: list[str],
                                          capsys: Any) -> None:
    options = Options()
    options.parseOptions(["--port", tls_files.server_description()])
    service = makeService(options, reactor=reactor)
    service.startService()
    await service.whenListening
    try:
        port = service.port.getHost().port
        with pytest.raises(CommandFailed, match="TLS error: certificate verify failed"):
            await send(b"secret\n" * 3, "--tls", f"localhost:{port}")
        assert capsys.readouterr().out == ""  # nothing claimed sent before the handshake
        assert await send(b"secret\n", "--tls", "--insecure", f"localhost:{port}") == 0
        await until(lambda: any(line.endswith(": secret") for line in logged))
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_stdin_lines_from_a_pipe_are_bounded() -> None:
    """The reader thread holds at most ``buffered`` lines ahead of the consumer."""
    read, write = os.pipe()
    with os.fdopen(write, "wb") as w:
        w.write(b"1\n2\n3\n4\n5")
    with os.fdopen(read, "rb") as stream:
        lines = StdinLines(reactor, stream, buffered=2)
        await until(lambda: len(lines._queue.pending) == 2)
        lines._thread.join(0.2)
        assert lines._thread.is_alive()  # blocked: the consumer has not taken any
        assert len(lines._queue.pending) == 2
        got = [await lines.get() for _ in range(7)]
    assert got == [b"1\n", b"2\n", b"3\n", b"4\n", b"5", None, None]


def test_fd_lines_splits_lines_and_pieces() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "wb") as w:
        w.write(b"one\r\n\nabcdefghij\nend")
    try:
        lines = FdLines(read)
        got = [lines.readline(4) for _ in range(8)]
    finally:
        os.close(read)
    assert got == [b"one\r", b"\n", b"\n", b"abcd", b"efgh", b"ij\n", b"end", b""]


def test_console_script_with_real_stdin() -> None:
    script = str(Path(sys.executable).with_name("netsuite"))
    with TwistdProcess("tcplog", "--port", "tcp:0:interface=127.0.0.1") as proc:
        port = proc.port("tcplog")
        result = subprocess.run([script, "send", f"127.0.0.1:{port}"], input=b"one\ntwo\n",
                                capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"sent 4 bytes\nsent 4 bytes\n"
        proc.wait_for(r": two$")
        proc.wait_for(r"disconnect ")
        assert proc.stop(signal.SIGTERM) in (0, -signal.SIGTERM)


def test_console_script_server_closing_while_stdin_is_open() -> None:
    """The server closes while the reader thread waits on a still-open stdin: exit status 1
    and one line on stderr (not an interpreter abort over the stdin buffer's lock)."""
    script = str(Path(sys.executable).with_name("netsuite"))
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = subprocess.Popen([script, "send", f"127.0.0.1:{port}"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            server.settimeout(30)
            connection, _ = server.accept()
            connection.close()
            client.wait(timeout=30)  # stdin stays open (communicate() would close it)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            assert client.stdin is not None and client.stderr is not None
            client.stdin.close()
            err = client.stderr.read()
            client.stderr.close()
            client.stdout.close()  # type: ignore[union-attr]
    assert client.returncode == 1, err
    assert err.decode().splitlines() == [f"netsuite send: 127.0.0.1:{port} closed the connection"]


@pytest_twisted.ensureDeferred
async def test_server_closing_while_input_is_idle() -> None:
    """No input is coming, yet the client notices at once that the server went away."""
    from twisted.internet.endpoints import serverFromString
    from twisted.internet.protocol import Factory, Protocol

    class Closer(Protocol):
        def connectionMade(self) -> None:
            reactor.callLater(0.05, self.transport.loseConnection)

    listening = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        Factory.forProtocol(Closer))
    read, write = os.pipe()
    try:
        parser, _ = build_parser("send")
        args = parser.parse_args([f"127.0.0.1:{listening.getHost().port}"])
        args.stdin = os.fdopen(read, "rb")
        attempt = defer.ensureDeferred(run(reactor, args))
        attempt.addTimeout(5, reactor)
        with pytest.raises(CommandFailed, match="closed the connection"):
            await attempt
    finally:
        os.close(write)  # ends the reader thread
        await listening.stopListening()


@pytest.mark.parametrize("stdin, out, texts", [
    (b"abcdefghijklmnopqrst\nexit\n", "sent 21 bytes\n", ["abcdefghijklmnopqrst"]),
    (b"abcdefghijkl", "sent 13 bytes\n", ["abcdefghijkl"]),
    (b"ab\nabcdefgh", "sent 3 bytes\nsent 9 bytes\n", ["ab", "abcdefgh"]),
    (b"exitexitexit\n", "sent 13 bytes\n", ["exitexitexit"]),
])
@pytest_twisted.ensureDeferred
async def test_lines_longer_than_one_read(logged: list[str], capsys: Any,
                                          monkeypatch: pytest.MonkeyPatch, stdin: bytes,
                                          out: str, texts: list[str]) -> None:
    """A line longer than one read of stdin is still sent as one line."""
    import netsuite._stdin as stdin_module
    import netsuite.tcplog._client as client

    monkeypatch.setattr(stdin_module, "MAX_READ", 8)
    monkeypatch.setattr(client, "MAX_READ", 8)
    service = await start_server()
    try:
        port = service.port.getHost().port
        assert await send(stdin, f"127.0.0.1:{port}") == 0
        assert capsys.readouterr().out == out
        await until(lambda: any(line.startswith("disconnect") for line in logged))
        assert [line.split(": ", 1)[1] for line in logged if ": " in line] == texts
    finally:
        await service.stopService()
