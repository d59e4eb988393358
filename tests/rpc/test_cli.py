"""``netsuite call``: argument parsing by registered types, results as JSON, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import endpoints

from netsuite._cli import CommandFailed, UsageFailure, build_parser
from netsuite.rpc import SERVICE
from netsuite.rpc._cli import CLIENTS, run
from netsuite.rpc.amp._protocol import amp_factory
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory

NETSUITE = str(Path(sys.executable).with_name("netsuite"))
FACTORIES = {"amp": amp_factory, "jsonrpc": jsonrpc_factory}


def parse(*argv: str) -> Any:
    parser, _ = build_parser("call")
    return parser.parse_args(list(argv))


async def serve(transport: str, description: str = "tcp:0:interface=127.0.0.1") -> Any:
    from twisted.internet import reactor

    return await endpoints.serverFromString(reactor, description).listen(
        FACTORIES[transport](SERVICE))


async def call(*argv: str) -> int:
    from twisted.internet import reactor

    return await run(reactor, parse(*argv))


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("transport", ["amp", "jsonrpc"])
async def test_results_printed_as_json(transport: str, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    port = await serve(transport)
    target = f"127.0.0.1:{port.getHost().port}"
    try:
        assert await call(transport, target, "Algorithm.Sum", "-5", "0x10") == 0
        assert await call(transport, target, "Programmer.GetSkill", "Java", "Go") == 0
        assert await call(transport, target, "Algorithm.Sum", "-9223372036854775808", "0") == 0
        out = capsys.readouterr().out.splitlines()
        assert [json.loads(line) for line in out] == [11, "Skill1:Java，Skill2Go",
                                                      -9223372036854775808]
        assert out[1] == '"Skill1:Java，Skill2Go"'
        with pytest.raises(CommandFailed, match=r"Algorithm\.Sum failed: .*overflow"):
            await call(transport, target, "Algorithm.Sum", "9223372036854775807", "1")
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("transport", ["amp", "jsonrpc"])
async def test_tls(transport: str, tls_files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    port = await serve(transport, tls_files.server_description())
    target = f"127.0.0.1:{port.getHost().port}"
    try:
        assert await call(transport, "--tls", "--insecure", target, "Algorithm.Sum", "1", "2") == 0
        assert capsys.readouterr().out == "3\n"
        with pytest.raises(CommandFailed, match="TLS error: certificate verify failed"):
            await call(transport, "--tls", "--timeout", "5", target, "Algorithm.Sum", "1", "2")
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(("argv", "message"), [
    (["amp", "127.0.0.1", "Algorithm.Sum", "1", "2"], "HOST:PORT"),
    (["amp", "127.0.0.1:1", "Algorithm.Mul", "1", "2"], "Algorithm.Mul is not known here"),
    (["amp", "127.0.0.1:1", "Algorithm.Sum", "1"], "takes 2 argument"),
    (["amp", "127.0.0.1:1", "Algorithm.Sum", "1", "two"], "'two' is not an integer"),
    (["amp", "127.0.0.1:1", "Algorithm.Sum", "1", str(2**63)], "64-bit"),
    (["amp", "--insecure", "127.0.0.1:1", "Algorithm.Sum", "1", "2"], "--insecure"),
])
async def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageFailure, match=message):
        await call(*argv)


@pytest_twisted.ensureDeferred
async def test_refused_and_missing_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandFailed, match="connection refused"):
        await call("jsonrpc", "127.0.0.1:1", "Algorithm.Sum", "1", "2")
    monkeypatch.setitem(CLIENTS, "grpc", "netsuite.rpc._no_such_client")
    with pytest.raises(CommandFailed, match="grpc transport is not available"):
        await call("grpc", "127.0.0.1:1", "Algorithm.Sum", "1", "2")


@pytest_twisted.ensureDeferred
async def test_timeout() -> None:
    from twisted.internet import protocol, reactor

    silent = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        protocol.Factory.forProtocol(protocol.Protocol))
    try:
        with pytest.raises(CommandFailed, match="timed out"):
            await call("jsonrpc", "--timeout", "0.3", f"127.0.0.1:{silent.getHost().port}",
                       "Algorithm.Sum", "1", "2")
    finally:
        await silent.stopListening()


def test_every_transport_in_the_table() -> None:
    assert set(CLIENTS) == {"xmlrpc", "amp", "jsonrpc", "gob", "grpc"}


def test_exit_statuses_end_to_end() -> None:
    """The console script itself: unknown transport 2, refused 1, help lists the methods."""
    bad = subprocess.run([NETSUITE, "call", "smtp", "127.0.0.1:1", "Algorithm.Sum", "1", "2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    refused = subprocess.run([NETSUITE, "call", "amp", "127.0.0.1:1", "Algorithm.Sum", "1", "2"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0 and "connection refused" in refused.stderr
    usage = subprocess.run([NETSUITE, "call", "--help"], capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 0 and "Programmer.GetSkill(java: string, go: string)" in usage.stdout


def test_grpc_failure_is_one_line_on_stderr() -> None:
    """grpcio's own log lines (C core) must not add to the one-line reason."""
    import os
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def answer_plain_http() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer_plain_http, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    try:
        failed = subprocess.run(
            [NETSUITE, "call", "--tls", "--timeout", "5", "grpc",
             f"127.0.0.1:{server.getsockname()[1]}", "Algorithm.Sum", "1", "2"],
            capture_output=True, text=True, env=env, timeout=60)
    finally:
        server.close()
    assert failed.returncode == 1
    assert failed.stderr.startswith("netsuite call: ")
    assert failed.stderr.strip().count("\n") == 0, failed.stderr


# ---------------------------------------------------------------- any method, every wire

from tests.helpers import TwistdProcess  # noqa: E402

LOCAL = "tcp:0:interface=127.0.0.1"
WIRES = ("xmlrpc", "amp", "jsonrpc", "gob", "grpc")


@pytest.fixture(scope="module")
def rich_twistd():
    with TwistdProcess("rpc", "--service", "tests.rpc.wireservice", "--xmlrpc", LOCAL,
                       "--amp", LOCAL, "--jsonrpc", LOCAL, "--gob", LOCAL,
                       "--grpc", LOCAL) as server:
        yield {wire: f"127.0.0.1:{server.port(wire)}" for wire in WIRES}


def netsuite(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NETSUITE, *argv], capture_output=True, text=True, timeout=60)


MOVE = '{"p": {"x": 1, "y": 2}, "by": [3, 4]}'


@pytest.mark.parametrize(("wire", "argv", "expected"), [
    ("jsonrpc", [MOVE], {"x": 4, "y": 6}),
    ("grpc", [MOVE], {"x": 4, "y": 6}),
    ("gob", [MOVE], {"X": 4, "Y": 6}),  # gob replies carry Go's field names
    ("xmlrpc", ['{"x": 1, "y": 2}', "[3, 4]"], {"x": 4, "y": 6}),
])
def test_a_method_not_known_here_with_json_arguments(rich_twistd, wire, argv, expected) -> None:
    done = netsuite("call", wire, rich_twistd[wire], "Geo.Move", *argv)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


def test_amp_needs_the_types_of_a_method_not_known_here(rich_twistd) -> None:
    refused = netsuite("call", "amp", rich_twistd["amp"], "Geo.Move", MOVE)
    assert refused.returncode == 2 and "--service" in refused.stderr
    known = netsuite("call", "--service", "tests.rpc.wireservice", "amp", rich_twistd["amp"],
                     "Geo.Move", '{"x": 1, "y": 2}', "[3, 4]")
    assert known.returncode == 0, known.stderr
    assert json.loads(known.stdout) == {"x": 4, "y": 6}


@pytest.mark.parametrize("wire", WIRES)
def test_known_rich_method_on_every_wire(rich_twistd, wire) -> None:
    done = netsuite("call", "--service", "tests.rpc.wireservice", wire, rich_twistd[wire],
                    "Geo.Move", '{"x": 1, "y": 2}', "[3, 4]")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"x": 4, "y": 6}


@pytest.mark.parametrize("wire", ["xmlrpc", "jsonrpc", "gob", "grpc"])
def test_known_method_with_bytes_floats_and_an_optional(rich_twistd, wire) -> None:
    done = netsuite("call", "--service", "tests.rpc.wireservice", wire, rich_twistd[wire],
                    "Shop.Echo", "abcd", "null", "1.5", "true")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"len": [4.0], "label": [0.0], "scale": [1.5, 3.0],
                                       "ok": [1.0]}


@pytest.mark.parametrize("wire", ["jsonrpc", "grpc", "gob"])
def test_remote_errors_are_one_line(rich_twistd, wire) -> None:
    failed = netsuite("call", wire, rich_twistd[wire], "Shop.Fail", '{"reason": "closed"}')
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0 and "refused: closed" in failed.stderr


@pytest.mark.parametrize("wire", ["xmlrpc", "grpc"])
def test_list(rich_twistd, wire) -> None:
    done = netsuite("call", wire, rich_twistd[wire], "--list")
    assert done.returncode == 0, done.stderr
    assert "Geo.Move" in done.stdout and "Shop.Total" in done.stdout
    assert "Algorithm.Sum" in done.stdout


@pytest.mark.parametrize("wire", ["amp", "jsonrpc", "gob"])
def test_list_where_the_wire_cannot_tell(wire) -> None:
    done = netsuite("call", wire, "127.0.0.1:1", "--list")
    assert done.returncode == 2 and "cannot list" in done.stderr


def test_grpc_over_mutual_tls(pki) -> None:
    with TwistdProcess("rpc", "--service", "tests.rpc.wireservice", "--xmlrpc", "none",
                       "--amp", "none", "--jsonrpc", "none",
                       "--grpc", pki.mtls_description()) as server:
        target = f"localhost:{server.port('grpc')}"
        ok = netsuite("call", "--tls", "--ca", str(pki.ca), "--cert", str(pki.client.cert),
                      "--key", str(pki.client.key), "grpc", target, "Shop.Whoami", "{}")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["names"] == [pki.client_name]
        refused = netsuite("call", "--tls", "--ca", str(pki.ca), "--timeout", "5", "grpc",
                           target, "Shop.Whoami", "{}")
        assert refused.returncode == 1
        assert refused.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("wire", ["gob", "grpc"])
def test_ctrl_c_exits_130_quietly(wire) -> None:
    """A call waiting on a server that never answers: SIGINT ends it with 130, no blame."""
    import signal
    import socket

    silent = socket.create_server(("127.0.0.1", 0))
    try:
        proc = subprocess.Popen([NETSUITE, "call", wire, f"127.0.0.1:{silent.getsockname()[1]}",
                                 "Algorithm.Sum", "1", "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        conn, _ = silent.accept()  # the client is connected and waiting for its answer
        with conn:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=8)  # well before the 10 s call timeout
    finally:
        silent.close()
    assert proc.returncode == 130
    assert out == "" and err == ""


@pytest_twisted.ensureDeferred
async def test_grpc_tls_verify_failure_and_ca(tls_files: Any, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    from twisted.internet import reactor

    from netsuite.rpc.grpc._protocol import GrpcService

    service = GrpcService(SERVICE, tls_files.server_description(), reactor, grace=0)
    service.startService()
    try:
        target = f"localhost:{await service.whenListening}"
        with pytest.raises(CommandFailed, match=r"^TLS error: certificate verify failed "
                                                r"\(localhost:\d+\) \(--ca FILE"):
            await call("grpc", "--tls", "--timeout", "5", target, "Algorithm.Sum", "1", "2")
        assert await call("grpc", "--tls", "--ca", str(tls_files.cert), target,
                          "Algorithm.Sum", "1", "2") == 0
        assert await call("grpc", "--tls", "--insecure", target, "Algorithm.Sum", "2", "2") == 0
        assert capsys.readouterr().out == "3\n4\n"
    finally:
        await service.stopService()
