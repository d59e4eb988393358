"""``netsuite chat`` on a real terminal (tmux): the input line stays at the bottom while
lines arrive, the prompt shows the room, history has its time, Ctrl-C exits 130."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import TwistdProcess

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (apt-get install tmux)"),
]

NETSUITE = str(Path(sys.executable).with_name("netsuite"))


class Pane:
    """A tmux session on a private server socket, 100x16."""

    def __init__(self, command: str) -> None:
        self.socket = f"netsuite-test-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "16", command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=True, timeout=10,
                              env={**os.environ, "TERM": "xterm"}).stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def screen(self) -> list[str]:
        return [line.rstrip() for line in self._tmux("capture-pane", "-p", "-t", "t").splitlines()]

    def wait(self, test: Callable[[list[str]], bool], timeout: float = 10) -> list[str]:
        """The screen, once ``test(screen)`` holds (polled until ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                raise TimeoutError("screen never matched:\n" + "\n".join(screen))
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


def last_line(screen: list[str]) -> str:
    lines = [x for x in screen if x]
    return lines[-1] if lines else ""


def read_until(sock: socket.socket, text: bytes) -> bytes:
    data = b""
    sock.settimeout(10)
    while text not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_terminal_input_line_stays_at_the_bottom() -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1") as server:
        port = server.port("chat")
        bob = socket.create_connection(("127.0.0.1", port))
        pane = Pane(f"{NETSUITE} chat 127.0.0.1:{port} --nick alice; echo EXIT=$?; sleep 60")
        try:
            bob.sendall(b"/nick bob\nsaid before alice came\n")
            read_until(bob, b"NICK guest1 bob\n")
            screen = pane.wait(lambda s: last_line(s) == "[lobby] alice>" and any(
                x.endswith("<bob> said before alice came") for x in s))
            history = [x for x in screen if x.endswith("<bob> said before alice came")]
            assert len(history) == 1 and history[0][:4].isdigit()  # shown with its time
            pane.keys("half typed")
            pane.wait(lambda s: last_line(s) == "[lobby] alice> half typed")
            bob.sendall(b"hello while you type\n")
            # The line arrives above the input line, which keeps what was typed (not clobbered):
            screen = pane.wait(lambda s: any(x.endswith("<bob> hello while you type") for x in s)
                               and last_line(s) == "[lobby] alice> half typed")
            shown = [x for x in screen if x]
            assert not any("half typed" in x for x in shown[:-1])
            pane.keys(" and done", "Enter")
            assert b"MSG alice half typed and done\n" in read_until(bob, b"and done\n")
            pane.keys("/join dev", "Enter")
            pane.wait(lambda s: last_line(s) == "[dev] alice>")
            assert b"PART alice moved\n" in read_until(bob, b"PART alice moved\n")
            pane.keys("C-c")
            screen = pane.wait(lambda s: "EXIT=130" in s)
            assert not any("Traceback" in x or "closed the connection" in x for x in screen)
        finally:
            pane.close()
            bob.close()
