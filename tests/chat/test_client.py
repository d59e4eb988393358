"""The ``netsuite chat`` client: formatting and heartbeats on a Clock, then as a real process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from netsuite._cli import CommandFailed
from netsuite.chat._client import ChatClient, format_event
from netsuite.chat._wire import parse_event
from tests.helpers import TwistdProcess, make_pki

NETSUITE = str(Path(sys.executable).with_name("netsuite"))


@pytest.mark.parametrize(("line", "shown"), [
    ("MSG alice hi there", "<alice> hi there"),
    ("ACTION alice waves", "* alice waves"),
    ("PRIV bob psst", "<bob> (private) psst"),
    ("JOIN bob", "* bob joined"),
    ("PART bob quit see you", "* bob left (quit see you)"),
    ("NICK guest1 alice", "* guest1 is now known as alice"),
    ("WHO a b c", "* connected: a, b, c"),
    ("INFO hello", "- hello"),
    ("ERR nick-in-use bob is already taken", "! bob is already taken (nick-in-use)"),
    ("BYE idle-timeout", "* server closing the connection: idle-timeout"),
    ("MSG eve \x1b[2Jboo", "<eve> ?[2Jboo"),
])
def test_format(line: str, shown: str) -> None:
    assert format_event(parse_event(line)) == shown


class Harness:
    def __init__(self, nick: str | None = "alice") -> None:
        self.clock = Clock()
        self.shown: list[str] = []
        self.client = ChatClient(self.clock, self.shown.append, nick,
                                 local_time=lambda t: f"T{t:g}")
        self.transport = StringTransport()
        self.client.makeConnection(self.transport)

    def server(self, *lines: str) -> None:
        for line in lines:
            self.client.dataReceived(line.encode() + b"\n")

    def sent(self) -> list[str]:
        value = self.transport.value().decode().splitlines()
        self.transport.clear()
        return value


def test_nick_requested_after_welcome_and_ready() -> None:
    h = Harness()
    h.server("WELCOME guest1")
    assert h.sent() == ["/nick alice"]
    assert not h.client.ready.called
    h.server("NICK guest1 alice")
    assert h.client.ready.called and h.client.nick == "alice"
    assert h.shown == ["T0 * connected as guest1", "T0 * guest1 is now known as alice"]


def test_nick_in_use_fails_clearly() -> None:
    h = Harness()
    h.server("WELCOME guest1", "ERR nick-in-use alice is already taken")
    assert h.transport.disconnecting
    h.client.connectionLost(None)
    failure = h.client.done.result
    h.client.done.addErrback(lambda f: None)
    assert failure.check(CommandFailed)
    assert "nickname alice refused" in str(failure.value)


def test_heartbeat_every_second_and_pongs_hidden() -> None:
    h = Harness(nick=None)
    h.server("WELCOME guest1")
    for _ in range(3):
        h.clock.advance(1)
        assert h.sent() == ["/ping"]
        h.server("PONG")
    h.client.send_user_line(b"/ping")
    h.server("PONG")
    assert h.shown == ["T0 * connected as guest1", "T3 * pong"]


def test_dead_after_five_silent_seconds() -> None:
    h = Harness(nick=None)
    h.server("WELCOME guest1")
    h.clock.advance(4)
    assert not h.transport.disconnecting
    h.server("PONG")  # anything resets the silence
    h.clock.advance(4)
    assert not h.transport.disconnecting
    h.clock.advance(1)
    assert h.transport.disconnecting  # aborted at 5 s of silence
    h.client.connectionLost(None)
    failure = h.client.done.result
    h.client.done.addErrback(lambda f: None)
    assert str(failure.value) == "the server is not answering: nothing received for 5 s"


def test_quit_and_end_of_input_exit_cleanly() -> None:
    h = Harness(nick=None)
    h.server("WELCOME guest1")
    h.client.send_user_line(b"hello")
    h.client.send_user_line(b"")
    h.client.end_of_input()
    assert h.sent() == ["hello", "/quit"]
    h.server("BYE quit")
    h.client.connectionLost(None)
    assert h.client.done.called and h.client.done.result is None


def test_server_closing_is_a_failure() -> None:
    h = Harness(nick=None)
    h.server("WELCOME guest1", "BYE shutdown")
    h.client.connectionLost(None)
    failure = h.client.done.result
    h.client.done.addErrback(lambda f: None)
    assert "shutdown" in str(failure.value)


def test_overlong_input_line_not_sent() -> None:
    h = Harness(nick=None)
    h.server("WELCOME guest1")
    h.client.send_user_line(b"x" * 5000)
    assert h.sent() == []
    assert "not sent" in h.shown[-1]


def run_client(port: int, stdin: bytes, *args: str, timeout: float = 30):
    return subprocess.run([NETSUITE, "chat", f"127.0.0.1:{port}", *args], input=stdin,
                          capture_output=True, timeout=timeout)


def test_client_process_against_server() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1") as server:
        port = server.port("chat")
        peer = socket.create_connection(("127.0.0.1", port))
        try:
            peer.settimeout(10)
            peer.sendall(b"/nick bob\n")
            result = run_client(port, b"hello bob\n/me waves\n/who\n", "--nick", "alice")
            assert result.returncode == 0, result.stderr
            out = result.stdout.decode()
            assert "* guest2 is now known as alice" in out
            assert "* connected: bob, alice" in out
            assert out.splitlines()[-1].endswith("* server closing the connection: quit")
            data = b""
            while b"PART alice quit" not in data:
                data += peer.recv(4096)
            assert b"MSG alice hello bob\nACTION alice waves\n" in data
            taken = run_client(port, b"", "--nick", "BOB")
            assert taken.returncode == 1
            assert b"nickname BOB refused" in taken.stderr
        finally:
            peer.close()


def test_client_exit_codes_without_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = run_client(port, b"")
    assert refused.returncode == 1 and b"cannot connect" in refused.stderr
    assert run_client(port, b"", "--nick", "bad nick").returncode == 2
    assert subprocess.run([NETSUITE, "chat", "nocolon"], capture_output=True).returncode == 2


def test_client_declares_silent_server_dead() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts; nobody ever answers
        start = time.monotonic()
        result = run_client(listener.getsockname()[1], b"")
        took = time.monotonic() - start
    assert result.returncode == 1
    assert result.stderr.decode().strip().endswith(
        "the server is not answering: nothing received for 5 s")
    assert 4.5 < took < 15


def test_client_over_tls(tls_files) -> None:
    with TwistdProcess("chat", "--port", tls_files.server_description()) as server:
        port = server.port("chat")
        ok = run_client(port, b"/who\n", "--tls", "--insecure", "--nick", "sec")
        assert ok.returncode == 0, ok.stderr
        assert "* connected: sec" in ok.stdout.decode()
        unverified = run_client(port, b"/who\n", "--tls")  # self-signed: not trusted
        assert unverified.returncode == 1
        lines = unverified.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f"netsuite chat: TLS error: certificate verify failed (127.0.0.1:{port})"), lines
        assert run_client(port, b"", "--insecure").returncode == 2
        trusted = run_client(port, b"/who\n", "--tls", "--ca", str(tls_files.cert))
        assert trusted.returncode == 0, trusted.stderr


@pytest_twisted.ensureDeferred
async def test_client_certificate_for_mutual_tls(tmp_path: Path) -> None:
    """--cert/--key present a client certificate; a server requiring one refuses without."""
    from twisted.internet import reactor, ssl, threads

    from netsuite.chat import ChatFactory

    pki = make_pki(tmp_path)
    server_cert = ssl.PrivateCertificate.loadPEM(
        pki.server.key.read_text() + pki.server.cert.read_text())
    ca = ssl.Certificate.loadPEM(pki.ca.read_bytes())
    options = server_cert.options(ca)  # requires a client certificate signed by the CA
    port = reactor.listenSSL(0, ChatFactory(reactor), options, interface="127.0.0.1")
    number = port.getHost().port

    async def client(*args: str) -> tuple[bytes, bytes, int]:
        # in a thread: the reactor under pytest-twisted does not reap child processes
        done = await threads.deferToThread(
            subprocess.run, [NETSUITE, "chat", f"127.0.0.1:{number}", "--tls", "--ca",
                             str(pki.ca), *args], input=b"", capture_output=True, timeout=30)
        return done.stdout, done.stderr, done.returncode

    try:
        out, err, code = await client("--cert", str(pki.client.cert), "--key",
                                      str(pki.client.key), "--nick", "m")
        assert code == 0, err
        assert "* guest1 is now known as m" in out.decode()
        out, err, code = await client()
        assert code == 1
        lines = err.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("netsuite chat: TLS error: "), lines
        out, err, code = await client("--cert", str(pki.client.cert))  # no --key
        assert code == 2
    finally:
        await port.stopListening()


def test_ctrl_c_exits_130_without_blame() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1") as server:
        port = server.port("chat")
        proc = subprocess.Popen([NETSUITE, "chat", f"127.0.0.1:{port}", "--nick", "cc"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            server.wait_for(r"chat nick guest1 -> cc")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130
        assert err == b"", err
        assert b"closed the connection" not in out and b"Traceback" not in out
        server.wait_for(r"chat drop cc .*: disconnected")


@pytest.mark.parametrize(("line", "shown"), [
    ("ROOM dev", "* you are in room dev"),
    ("ROOMS dev:2 lobby:10", "* rooms: dev (2), lobby (10)"),
    ("PART bob moved", "* bob left (moved)"),
])
def test_format_rooms(line: str, shown: str) -> None:
    assert format_event(parse_event(line)) == shown


def test_history_shown_with_its_own_time_and_room_in_prompt() -> None:
    h = Harness(nick=None)  # its clock says 0
    h.server("WELCOME guest1", "ROOM dev", "HIST 1970-01-01T00:16:40.250Z MSG bob earlier",
             "HIST 1970-01-01T00:16:41.000Z ACTION bob waves", "HIST garbage MSG eve x")
    assert h.shown == ["T0 * connected as guest1", "T0 * you are in room dev",
                       "T1000.25 <bob> earlier", "T1001 * bob waves", "T0 <eve> x"]
    assert h.client.prompt() == "[dev] guest1> "
    h.server("ROOM lobby", "NICK guest1 al")
    assert h.client.prompt() == "[lobby] al> "


@pytest_twisted.ensureDeferred
async def test_terminal_ui_lines_and_end_of_input() -> None:
    """The prompt thread with prompt_toolkit's pipe input (no terminal needed)."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput
    from twisted.internet import defer, reactor

    from netsuite.chat._terminal import TerminalUI

    got: list[bytes] = []
    ended: defer.Deferred[None] = defer.Deferred()
    with create_pipe_input() as pipe:
        ui = TerminalUI(reactor, got.append, lambda: ended.callback(None), lambda: "> ",
                        input=pipe, output=DummyOutput())
        ui.start()
        ui.output("printed above the prompt")
        pipe.send_text("hello\r/join dev\r")
        pipe.send_text("\x04")  # Ctrl-D on an empty line: end of input
        await ended.addTimeout(10, reactor)
        await ui.finished
    assert got == [b"hello", b"/join dev"]
