"""``twistd rpc --workers N``: real supervisor and worker processes on loopback."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import ssl
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path

import pytest
from twisted.python import usage

from netsuite.rpc._tap import Options
from tests.helpers import TLSFiles, TwistdProcess

LOOPBACK = "tcp:0:interface=127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_until(conn: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = conn.recv(4096)
        assert chunk, data
        data += chunk
    return data


def jsonrpc_pid(connect: Callable[[], socket.socket]) -> int:
    with connect() as conn:
        conn.sendall(b'{"method":"Worker.Pid","params":[{}],"id":1}\n')
        return int(json.loads(_read_until(conn, b"\n"))["result"])


def amp_pid(port: int) -> int:
    def pair(key: bytes, value: bytes) -> bytes:
        return len(key).to_bytes(2, "big") + key + len(value).to_bytes(2, "big") + value

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(pair(b"_command", b"Worker.Pid") + pair(b"_ask", b"1") + b"\x00\x00")
        data = _read_until(conn, b"\x00\x00")
    fields, at = {}, 0
    while data[at:at + 2] != b"\x00\x00":
        size = int.from_bytes(data[at:at + 2], "big")
        key = data[at + 2:at + 2 + size]
        at += 2 + size
        size = int.from_bytes(data[at:at + 2], "big")
        fields[key] = data[at + 2:at + 2 + size]
        at += 2 + size
    assert fields[b"_answer"] == b"1", fields
    (value,) = [v for k, v in fields.items() if not k.startswith(b"_")]
    return int(value)


def xmlrpc_pid(port: int) -> int:
    with xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2") as proxy:
        return int(proxy.Worker.Pid())  # type: ignore[arg-type]


def pids_seen(call: Callable[[], int], limit: float = 15) -> set[int]:
    """Call until two distinct worker pids answered (or ``limit`` seconds)."""
    seen: set[int] = set()
    deadline = time.monotonic() + limit
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(call())
    return seen


def wait_count(process: TwistdProcess, pattern: str, count: int, timeout: float = 20) -> None:
    """Wait until ``count`` log lines match ``pattern``."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while sum(1 for line in process.lines if regex.search(line)) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"fewer than {count} lines match {pattern!r}:\n{process.log}"
        try:
            line = process._queue.get(timeout=remaining)
        except queue.Empty:
            continue
        assert line is not None, f"twistd exited; log:\n{process.log}"
        process.lines.append(line)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_two_workers_share_every_listener_and_stop_on_sigterm() -> None:
    grpc_port = free_port()
    with TwistdProcess("rpc", "--workers", "2", "--grace", "2", "--xmlrpc", LOOPBACK,
                       "--amp", LOOPBACK, "--jsonrpc", LOOPBACK,
                       "--grpc", f"tcp:{grpc_port}:interface=127.0.0.1",
                       "--service", "tests.rpc.pidservice") as supervisor:
        ports = {label: supervisor.port(label) for label in ("xmlrpc", "amp", "jsonrpc")}
        supervisor.wait_for(r"rpc worker 0 started")
        supervisor.wait_for(r"rpc worker 1 started")
        for index in (0, 1):
            supervisor.wait_for(rf"rpc worker {index} serving")
        # every worker binds the one gRPC port itself (SO_REUSEPORT)
        wait_count(supervisor, rf"grpc listening on 127.0.0.1:{grpc_port} ", 2)

        def jsonrpc() -> int:
            return jsonrpc_pid(lambda: socket.create_connection(
                ("127.0.0.1", ports["jsonrpc"]), timeout=10))

        workers = pids_seen(jsonrpc)
        assert len(workers) == 2 and supervisor.process.pid not in workers
        assert pids_seen(lambda: amp_pid(ports["amp"])) == workers
        assert pids_seen(lambda: xmlrpc_pid(ports["xmlrpc"])) == workers

        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

        started = time.monotonic()
        assert supervisor.stop() in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 2 + 5  # --grace, and process start-up slack
        assert all(gone(pid) for pid in workers), workers


def test_workers_share_a_unix_listener(tmp_path: Path) -> None:
    path = tmp_path / "rpc.sock"
    with TwistdProcess("rpc", "--workers", "2", "--xmlrpc", "none", "--amp", "none",
                       "--grpc", "none", "--jsonrpc", f"unix:{path}",
                       "--service", "tests.rpc.pidservice") as supervisor:
        for index in (0, 1):
            supervisor.wait_for(rf"rpc worker {index} serving")

        def connect() -> socket.socket:
            conn = socket.socket(socket.AF_UNIX)
            conn.settimeout(10)
            conn.connect(str(path))
            return conn

        workers = pids_seen(lambda: jsonrpc_pid(connect))
        assert len(workers) == 2
        assert supervisor.stop() in (0, -signal.SIGTERM)
        assert all(gone(pid) for pid in workers), workers


@pytest.mark.parametrize(("grpc_listener", "message"), [
    ("tcp:0", "--workers above 1 needs a fixed --grpc port, not 0"),
    ("unix:/tmp/netsuite-grpc.sock", "--workers above 1 needs --grpc on a TCP port"),
])
def test_workers_refuse_a_grpc_listener_they_cannot_share(grpc_listener: str,
                                                          message: str) -> None:
    with pytest.raises(usage.UsageError) as error:
        Options().parseOptions(["--workers", "2", "--grpc", grpc_listener])
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    Options().parseOptions(["--workers", "1", "--grpc", "tcp:0"])  # one process: fine


def test_workers_must_be_positive() -> None:
    with pytest.raises(usage.UsageError):
        Options().parseOptions(["--workers", "0"])


def test_workers_keep_tls(tls_files: TLSFiles) -> None:
    with TwistdProcess("rpc", "--workers", "2", "--xmlrpc", "none", "--amp", "none",
                       "--grpc", "none", "--jsonrpc", tls_files.server_description(),
                       "--service", "tests.rpc.pidservice") as supervisor:
        port = supervisor.port("jsonrpc")
        for index in (0, 1):
            supervisor.wait_for(rf"rpc worker {index} serving")
        context = ssl.create_default_context(cafile=str(tls_files.cert))

        def connect() -> socket.socket:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            return context.wrap_socket(raw, server_hostname="localhost")

        assert len(pids_seen(lambda: jsonrpc_pid(connect))) == 2


def test_a_worker_killed_is_started_again_and_serves() -> None:
    with TwistdProcess("rpc", "--workers", "2", "--xmlrpc", "none", "--amp", "none",
                       "--grpc", "none", "--jsonrpc", LOOPBACK,
                       "--service", "tests.rpc.pidservice") as supervisor:
        port = supervisor.port("jsonrpc")
        for index in (0, 1):
            supervisor.wait_for(rf"rpc worker {index} serving")

        def jsonrpc() -> int:
            return jsonrpc_pid(lambda: socket.create_connection(("127.0.0.1", port), timeout=10))

        workers = pids_seen(jsonrpc)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        supervisor.wait_for(r"rpc worker [01] ended .*starting it again")
        wait_count(supervisor, r"rpc worker [01] serving", 3)
        now = pids_seen(jsonrpc)
        assert len(now) == 2 and victim not in now and (workers - {victim}) < now, (workers, now)
        assert gone(victim)
        assert supervisor.stop() in (0, -signal.SIGTERM)
        assert all(gone(pid) for pid in now), now
