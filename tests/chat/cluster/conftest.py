"""A real Redis for the cluster tests, and chat nodes as ``twistd chat`` processes.

Each :class:`RedisServer` is Debian's ``redis-server`` on a free loopback port, with its
files in a temporary directory and nothing saved; it is ready once it has said so and
answered ``PING``.  Without ``redis-server`` on the PATH the cluster tests are skipped
(``apt-get install redis-server``); nothing else in the suite needs Redis.
"""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TwistdProcess

REDIS = shutil.which("redis-server")

#: For the test modules that need Redis (``pytestmark = [needs_redis, ...]``).
needs_redis = pytest.mark.skipif(
    REDIS is None, reason="redis-server is not installed (apt-get install redis-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``; :meth:`restart` brings it back empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> None:
        assert REDIS is not None
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True)
        ready: queue.Queue[bool] = queue.Queue()
        out = self.process.stdout
        assert out is not None

        def read() -> None:
            for line in out:
                if "Ready to accept connections" in line:
                    ready.put(True)
            ready.put(False)

        threading.Thread(target=read, daemon=True).start()
        if not ready.get(timeout=timeout):
            raise RuntimeError("redis-server exited before it was ready")
        assert self.ping(timeout), "redis-server does not answer PING"

    def ping(self, timeout: float = 5) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")

    def command(self, *args: str) -> bytes:
        """One command, its raw reply (for setting up faults)."""
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            parts.append(f"${len(a.encode())}\r\n{a}\r\n".encode())
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"".join(parts))
            return s.recv(65536)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop, and start again on the same port with empty memory."""
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis for one test alone (for the tests that stop or restart it)."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


class Node(TwistdProcess):
    """``twistd chat --cluster URL`` on a free loopback port (in step with Redis when
    returned, unless ``wait`` is false: then call :meth:`ready`)."""

    def __init__(self, url: str, name: str, *args: str, node_timeout: float = 3,
                 wait: bool = True, extra_twistd: tuple[str, ...] = ()) -> None:
        port = [] if "--port" in args else ["--port", "tcp:0:interface=127.0.0.1"]
        super().__init__("chat", *port, "--cluster", url, "--cluster-name", name,
                         "--node-timeout", str(node_timeout), *args,
                         extra_twistd=extra_twistd)
        self.chat = 0
        if wait:
            self.ready()

    def ready(self) -> Node:
        """Wait until it listens and is in step with Redis."""
        self.chat = self.port("chat")
        self.wait_for("in step with")
        return self

    @classmethod
    def many(cls, count: int, url: str, name: str, *args: str) -> list[Node]:
        """``count`` nodes, started at once (then waited for)."""
        started = [cls(url, name, *args, wait=False) for _ in range(count)]
        return [node.ready() for node in started]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
