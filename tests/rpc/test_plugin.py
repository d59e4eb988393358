"""The ``rpc`` twistd plugin: options, wiring, and graceful shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from twisted.python import usage

from netsuite.rpc._tap import Options
from tests.helpers import TWISTD, TwistdProcess


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_defaults() -> None:
    options = parse()
    assert options["xmlrpc"] == "tcp:8808"
    assert options["amp"] == "tcp:8809"
    assert options["jsonrpc"] == "tcp:8085"
    assert options["gob"] is None
    assert options["grpc"] == "tcp:50051"
    assert options["grace"] == 5.0
    assert options["max-request"] == 1024 * 1024
    assert options["max-depth"] == 100
    assert options["explicit"] == set()


def test_listener_options() -> None:
    options = parse("--xmlrpc", "none", "--amp", "9001", "--jsonrpc", "tcp:0:interface=127.0.0.1",
                    "--gob", "tcp:0", "--grpc", "NONE", "--grace", "0.5")
    assert options["xmlrpc"] is None
    assert options["amp"] == "tcp:9001"
    assert options["jsonrpc"] == "tcp:0:interface=127.0.0.1"
    assert options["gob"] == "tcp:0"
    assert options["grpc"] is None
    assert options["grace"] == 0.5
    assert options["explicit"] == {"amp", "jsonrpc", "gob"}


@pytest.mark.parametrize("argv", [
    ["--amp", "70000"],
    ["--amp", ""],
    ["--grace", "-1"],
    ["--max-request", "0"],
    ["--xmlrpc", "none", "--amp", "none", "--jsonrpc", "none", "--grpc", "none"],
])
def test_bad_options(argv: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        parse(*argv)


# --- makeService wiring and the shutdown tracker, in memory ------------------------------

def test_make_service_wires_listeners() -> None:
    from twisted.internet.testing import MemoryReactor

    from netsuite.rpc._tap import makeService

    reactor = MemoryReactor()
    service = makeService(parse("--xmlrpc", "none", "--grpc", "none", "--amp", "tcp:0",
                                "--jsonrpc", "tcp:0", "--max-request", "2048"), reactor=reactor)
    assert set(service.listeners) == {"amp", "jsonrpc"}
    service.startService()
    assert len(reactor.tcpServers) == 2
    factories = {service.listeners[label].factory.wrapped.__class__.__name__
                 for label in service.listeners}
    assert factories == {"AmpFactory", "JsonRpcFactory"}
    assert service.listeners["jsonrpc"].factory.wrapped.max_request == 2048
    assert service.listeners["amp"].factory.wrapped.max_box == 2048


def test_tracker_graceful_then_abort_after_grace() -> None:
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from netsuite.rpc._tap import ConnectionTracker, RpcStats
    from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory

    stats = RpcStats()
    tracker = ConnectionTracker(stats)
    factory = tracker.wrap(jsonrpc_factory(), "jsonrpc")
    idle, busy = factory.buildProtocol(None), factory.buildProtocol(None)
    transports = [StringTransport(), StringTransport()]
    for p, t in zip((idle, busy), transports, strict=True):
        p.makeConnection(t)
    busy.dataReceived(b'{"method":"Algorithm.Sum","params":[{"X":1')
    assert stats.connections_open == {"jsonrpc": 2}
    clock = Clock()
    done = tracker.close_all(2.0, clock)
    assert transports[0].disconnecting and not transports[1].disconnecting
    idle.connectionLost(None)
    assert stats.connections_open == {"jsonrpc": 1}
    assert not done.called
    clock.advance(2.0)
    assert transports[1].disconnected  # aborted
    busy.connectionLost(None)
    assert done.called and stats.closed_at_shutdown == 1
    assert stats.connections_total == {"jsonrpc": 2}


def test_tracker_finishes_early_when_requests_complete() -> None:
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from netsuite.rpc._tap import ConnectionTracker, RpcStats
    from netsuite.rpc.amp._protocol import amp_factory

    tracker = ConnectionTracker(RpcStats())
    busy = tracker.wrap(amp_factory(), "amp").buildProtocol(None)
    transport = StringTransport()
    busy.makeConnection(transport)
    request = (b"\x00\x04_ask\x00\x011\x00\x08_command\x00\x03Sum"
               b"\x00\x01x\x00\x012\x00\x01y\x00\x013\x00\x00")
    busy.dataReceived(request[:12])
    clock = Clock()
    done = tracker.close_all(5.0, clock)
    busy.dataReceived(request[12:])
    assert b"total\x00\x015" in transport.value() and transport.disconnecting
    busy.connectionLost(None)
    assert done.called and not clock.getDelayedCalls()


# --- the plugin as a subprocess -------------------------------------------------------------

LOCAL = "tcp:0:interface=127.0.0.1"
SUM_JSON = b'{"method":"Algorithm.Sum","params":[{"X":20,"Y":22}],"id":"z"}'
SUM_BOX = (b"\x00\x04_ask\x00\x01a\x00\x08_command\x00\x03Sum"
           b"\x00\x01x\x00\x012\x00\x01y\x00\x012\x00\x00")


def recv_until_closed(sock: socket.socket, timeout: float = 15) -> bytes:
    """Everything received until the server closes (an abort -- RST -- counts as closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def probe(ports: dict[str, int]) -> None:
    """One whole call on the JSON-RPC and AMP ports given; each connection half-closed after
    its request, so the answer comes and then the server's close (once this returns, the
    server has forgotten these connections)."""
    if "jsonrpc" in ports:
        with socket.create_connection(("127.0.0.1", ports["jsonrpc"]), timeout=10) as s:
            s.sendall(SUM_JSON)
            s.shutdown(socket.SHUT_WR)
            assert recv_until_closed(s) == b'{"id":"z","result":42,"error":null}\n'
    if "amp" in ports:
        with socket.create_connection(("127.0.0.1", ports["amp"]), timeout=10) as s:
            s.sendall(SUM_BOX)
            s.shutdown(socket.SHUT_WR)
            assert recv_until_closed(s) == (
                b"\x00\x07_answer\x00\x01a\x00\x05total\x00\x014\x00\x00")


def test_twistd_serves_every_transport_and_shuts_down_gracefully() -> None:
    with TwistdProcess("rpc", "--xmlrpc", LOCAL, "--amp", LOCAL, "--jsonrpc", LOCAL,
                       "--gob", LOCAL, "--grpc", "none", "--grace", "10") as proc:
        ports = {label: proc.port(label) for label in ("xmlrpc", "amp", "jsonrpc", "gob")}
        # Each transport answers.
        probe(ports)
        body = (b"<?xml version='1.0'?><methodCall><methodName>Algorithm.Sum</methodName>"
                b"<params><param><value><int>1</int></value></param><param><value><int>2"
                b"</int></value></param></params></methodCall>")
        with socket.create_connection(("127.0.0.1", ports["xmlrpc"]), timeout=10) as s:
            s.sendall(b"POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
            assert b"<int>3</int>" in recv_until_closed(s)
        # Requests in flight when SIGTERM arrives: half a JSON-RPC request, half an AMP box.
        js = socket.create_connection(("127.0.0.1", ports["jsonrpc"]), timeout=10)
        am = socket.create_connection(("127.0.0.1", ports["amp"]), timeout=10)
        idle = socket.create_connection(("127.0.0.1", ports["jsonrpc"]), timeout=10)
        js.sendall(SUM_JSON[:20])
        am.sendall(SUM_BOX[:20])
        probe(ports)  # a later connection answered: the server has accepted the ones above
        proc.process.send_signal(signal.SIGTERM)
        proc.wait_for(r"rpc: stopped listening; 3 connection\(s\) open")
        assert recv_until_closed(idle) == b""  # idle: closed at once
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", ports["jsonrpc"]), timeout=5).close()
        js.sendall(SUM_JSON[20:])
        am.sendall(SUM_BOX[20:])
        assert recv_until_closed(js) == b'{"id":"z","result":42,"error":null}\n'
        assert recv_until_closed(am).endswith(b"total\x00\x014\x00\x00")
        js.close()
        am.close()
        idle.close()
        assert proc.process.wait(timeout=15) in (0, -signal.SIGTERM)


def test_twistd_grace_period_closes_stuck_connections() -> None:
    with TwistdProcess("rpc", "--xmlrpc", "none", "--amp", "none", "--jsonrpc", LOCAL,
                       "--grpc", "none", "--grace", "0.5") as proc:
        port = proc.port("jsonrpc")
        stuck = socket.create_connection(("127.0.0.1", port), timeout=10)
        stuck.sendall(SUM_JSON[:10])
        probe({"jsonrpc": port})
        start = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)
        assert recv_until_closed(stuck) == b""
        assert proc.process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - start < 10
        stuck.close()
        proc.stop()
        assert "grace period over, closing 1 connection(s)" in proc.log


def test_twistd_without_grpcio(tmp_path: Path) -> None:
    """grpcio missing: the default gRPC listener is skipped with one log line, the rest is
    served; an explicit --grpc is a usage error."""
    stub = tmp_path / "stub" / "grpc"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('grpcio hidden by a test stub')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "stub")}
    with TwistdProcess("rpc", "--xmlrpc", "none", "--amp", LOCAL, "--jsonrpc", "none",
                       env=env) as proc:
        proc.wait_for(r"grpc: not served \(grpcio or netsuite.rpc.grpc._protocol not installed")
        probe({"amp": proc.port("amp")})
    explicit = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "rpc", "--xmlrpc", "none", "--amp", LOCAL, "--grpc",
         LOCAL], env=env, capture_output=True, text=True, timeout=60)
    assert explicit.returncode != 0
    assert "--grpc needs grpcio" in explicit.stdout + explicit.stderr


def test_stop_service_runs_other_children_alongside_the_grace_period() -> None:
    from twisted.application.service import Service
    from twisted.internet import defer
    from twisted.internet.testing import MemoryReactorClock, StringTransport

    from netsuite.rpc import SERVICE
    from netsuite.rpc._tap import RpcService
    from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory

    reactor = MemoryReactorClock()
    service = RpcService(SERVICE, 5.0, reactor)
    service.add_listener("jsonrpc", "tcp:0", jsonrpc_factory())
    slow_stop: defer.Deferred[None] = defer.Deferred()

    class Slow(Service):
        def stopService(self) -> defer.Deferred[None]:
            super().stopService()
            return slow_stop

    slow = Slow()
    slow.setServiceParent(service)
    service.startService()
    busy = service.listeners["jsonrpc"].factory.buildProtocol(None)
    transport = StringTransport()
    busy.makeConnection(transport)
    busy.dataReceived(b'{"method":')
    stopped = service.stopService()
    assert not slow.running  # asked to stop at once, not after the grace period
    assert not stopped.called
    reactor.advance(5.0)
    assert transport.disconnected  # aborted when the grace period ran out
    busy.connectionLost(None)
    assert not stopped.called
    slow_stop.callback(None)
    assert stopped.called
    assert service.stats.closed_at_shutdown == 1
