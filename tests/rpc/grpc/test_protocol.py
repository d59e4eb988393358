"""gRPC: the .proto and its committed generated code, the servicer (in process, any registry
method), TLS, and the twistd-hosted server under both reactors with a grpcio client."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import grpc
import pytest
import pytest_twisted
from twisted.internet import reactor

from netsuite.rpc import SERVICE, InvalidParams, Registry, RpcError
from netsuite.rpc.grpc._client import GrpcUnavailable, call
from netsuite.rpc.grpc._generated import netsuite_pb2, netsuite_pb2_grpc
from netsuite.rpc.grpc._protocol import (
    GrpcService,
    ListenAddress,
    grpc_method,
    grpc_methods,
    parse_description,
)
from tests.helpers import TwistdProcess

PROTO = Path(__file__).parents[3] / "netsuite" / "rpc" / "netsuite.proto"
GENERATED = PROTO.parent / "grpc" / "_generated"


# ---------------------------------------------------------------- the contract


def test_proto_is_exactly_the_contract() -> None:
    statements = [line.strip() for line in PROTO.read_text().splitlines()
                  if line.strip() and not line.strip().startswith("//")]
    assert statements == [
        'syntax = "proto3";',
        "package netsuite;",
        "service Algorithm  { rpc Sum (SumRequest) returns (SumReply); }",
        "service Programmer { rpc GetSkill (SkillRequest) returns (SkillReply); }",
        "message SumRequest   { int64 x = 1; int64 y = 2; }",
        "message SumReply     { int64 total = 1; }",
        "message SkillRequest { string java = 1; string go = 2; }",
        "message SkillReply   { string skill = 1; }",
    ]


def test_committed_generated_code_is_current(tmp_path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) regenerates the code")
    import importlib.util

    spec = importlib.util.spec_from_file_location("regenerate", GENERATED / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path)

    def descriptor(path: Path) -> str:
        return re.search(r"AddSerializedFile\((b'.*')\)", path.read_text()).group(1)

    assert descriptor(tmp_path / "netsuite_pb2.py") == descriptor(GENERATED / "netsuite_pb2.py")
    assert "AlgorithmStub" in (GENERATED / "netsuite_pb2_grpc.py").read_text()


def test_book_methods_have_exactly_the_generated_messages() -> None:
    from google.protobuf import descriptor_pb2

    entries = {e.path: e for e in grpc_methods(SERVICE)}
    pairs = [(entries["/netsuite.Algorithm/Sum"], netsuite_pb2.SumRequest, netsuite_pb2.SumReply),
             (entries["/netsuite.Programmer/GetSkill"], netsuite_pb2.SkillRequest,
              netsuite_pb2.SkillReply)]
    for entry, request, reply in pairs:
        for built, generated in ((entry.request_class, request), (entry.reply_class, reply)):
            mine, theirs = descriptor_pb2.DescriptorProto(), descriptor_pb2.DescriptorProto()
            built.DESCRIPTOR.CopyToProto(mine)
            generated.DESCRIPTOR.CopyToProto(theirs)
            assert mine == theirs
            assert built.DESCRIPTOR.full_name == generated.DESCRIPTOR.full_name
    wire = netsuite_pb2.SumRequest(x=1, y=-2).SerializeToString()
    assert entries["/netsuite.Algorithm/Sum"].request_class.FromString(wire).y == -2


def test_other_methods_get_messages_from_their_signature() -> None:
    registry = Registry()

    @registry.register("Text.Repeat", [("word", str), ("times", int)], str, "repeat",
                       result_name="text")
    def repeat(word: str, times: int) -> str:
        return word * times

    entry = grpc_method(registry.lookup("Text.Repeat"))
    assert entry.path == "/netsuite.Text/Repeat"
    fields = [(f.name, f.number) for f in entry.request_class.DESCRIPTOR.fields]
    assert fields == [("word", 1), ("times", 2)]
    assert entry.reply_class.DESCRIPTOR.fields[0].name == "text"


@pytest.mark.parametrize(("description", "address", "tls"), [
    ("tcp:50051", "0.0.0.0:50051", False),
    ("tcp:0:interface=127.0.0.1", "127.0.0.1:0", False),
    ("tcp:port=7:interface=127.0.0.1", "127.0.0.1:7", False),
    ("tcp6:0:interface=\\:\\:1", "[::1]:0", False),
    ("tcp6:8", "[::]:8", False),
    ("ssl:0:privateKey=k.pem:certKey=c.pem", "0.0.0.0:0", True),
    ("unix:/tmp/x.sock", "unix:/tmp/x.sock", False),
])
def test_parse_description(description, address, tls) -> None:
    parsed = parse_description(description)
    assert parsed.address == address
    assert (parsed.private_key is not None) == tls


@pytest.mark.parametrize("description", ["udp:5", "tcp:x", "tcp:70000", "ssl:0",
                                         "tcp:0:bogus=1", "unix:"])
def test_parse_description_refuses(description) -> None:
    with pytest.raises(ValueError):
        parse_description(description)


# ---------------------------------------------------------------- in process


def registry_with_extras() -> Registry:
    registry = Registry()
    for method in SERVICE:
        registry.register(method.name, [(p.name, p.type) for p in method.params],
                          method.result, method.help,
                          result_name=method.result_name)(method.function)

    @registry.register("Check.Positive", [("n", int)], int, "n if positive")
    def positive(n: int) -> int:
        if n <= 0:
            raise InvalidParams("n must be positive")
        return n

    @registry.register("Check.Boom", [], int, "always fails")
    def boom() -> int:
        raise KeyError("bug")

    return registry


@pytest_twisted.async_yield_fixture
async def grpc_server():
    registry = registry_with_extras()
    service = GrpcService(registry, "tcp:0:interface=127.0.0.1", reactor, grace=1)
    service.startService()
    port = await service.whenListening
    yield registry, port, service
    await service.stopService()


def method(registry: Registry, name: str):
    return registry.lookup(name)


@pytest_twisted.ensureDeferred
async def test_calls_and_status_codes(grpc_server) -> None:
    registry, port, service = grpc_server
    kw = {"tls": False, "insecure": False, "timeout": 10}
    assert await call(reactor, "127.0.0.1", port, method(registry, "Algorithm.Sum"),
                      [-7, 2], **kw) == -5
    assert await call(reactor, "127.0.0.1", port, method(registry, "Programmer.GetSkill"),
                      ["J", "G"], **kw) == "Skill1:J，Skill2G"
    assert await call(reactor, "127.0.0.1", port, method(registry, "Check.Positive"),
                      [4], **kw) == 4
    with pytest.raises(RpcError, match=r"^OUT_OF_RANGE: integer overflow"):
        await call(reactor, "127.0.0.1", port, method(registry, "Algorithm.Sum"),
                   [2**63 - 1, 1], **kw)
    with pytest.raises(RpcError, match=r"^INVALID_ARGUMENT: n must be positive"):
        await call(reactor, "127.0.0.1", port, method(registry, "Check.Positive"), [0], **kw)
    with pytest.raises(RpcError, match=r"^INTERNAL: internal error"):
        await call(reactor, "127.0.0.1", port, method(registry, "Check.Boom"), [], **kw)
    other = Registry()
    other.register("Algorithm.Mul", [("x", int), ("y", int)], int, "")(lambda x, y: x * y)
    with pytest.raises(RpcError, match=r"^UNIMPLEMENTED"):
        await call(reactor, "127.0.0.1", port, other.lookup("Algorithm.Mul"), [1, 2], **kw)
    assert service.stats.calls == 6 and service.stats.call_errors == 3


@pytest_twisted.ensureDeferred
async def test_observers_see_grpc_calls(grpc_server) -> None:
    registry, port, _ = grpc_server
    seen = []
    registry.observers.append(lambda *a: seen.append(a[:3]))
    await call(reactor, "127.0.0.1", port, method(registry, "Algorithm.Sum"), [1, 1],
               tls=False, insecure=False, timeout=10)
    assert seen == [("grpc", "Algorithm.Sum", "ok")]


@pytest_twisted.ensureDeferred
async def test_unreachable_server_is_a_connection_error() -> None:
    with pytest.raises(GrpcUnavailable):
        await call(reactor, "127.0.0.1", 1, SERVICE.lookup("Algorithm.Sum"), [1, 2],
                   tls=False, insecure=False, timeout=3)


@pytest_twisted.ensureDeferred
async def test_tls_from_an_ssl_description(tls_files) -> None:
    service = GrpcService(SERVICE, tls_files.server_description(), reactor, grace=1)
    service.startService()
    try:
        port = await service.whenListening
        assert await call(reactor, "127.0.0.1", port, SERVICE.lookup("Algorithm.Sum"),
                          [20, 22], tls=True, insecure=True, timeout=10) == 42
        with pytest.raises((RpcError, GrpcUnavailable)):  # self-signed: not trusted
            await call(reactor, "127.0.0.1", port, SERVICE.lookup("Algorithm.Sum"), [1, 2],
                       tls=True, insecure=False, timeout=5)
    finally:
        await service.stopService()


def test_listen_address_credentials_need_the_files(tmp_path) -> None:
    address = ListenAddress("0.0.0.0:0", "0.0.0.0", 0, str(tmp_path / "missing.pem"))
    with pytest.raises(OSError):
        address.credentials()


# ---------------------------------------------------------------- under twistd


def twistd_grpc(*extra: str) -> TwistdProcess:
    return TwistdProcess("rpc", "--xmlrpc", "none", "--amp", "none", "--jsonrpc", "none",
                         "--grpc", "tcp:0:interface=127.0.0.1", extra_twistd=extra)


@pytest.mark.parametrize(("extra", "kind"), [((), "thread-pool server"),
                                             (("--reactor=asyncio",), "grpc.aio")])
def test_twistd_hosted_server_under_both_reactors(extra, kind) -> None:
    with twistd_grpc(*extra) as server:
        port = server.port("grpc")
        assert kind in server.wait_for(r"grpc listening on").string
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            algorithm = netsuite_pb2_grpc.AlgorithmStub(channel)
            programmer = netsuite_pb2_grpc.ProgrammerStub(channel)
            assert algorithm.Sum(netsuite_pb2.SumRequest(x=1, y=2), timeout=10).total == 3
            reply = programmer.GetSkill(netsuite_pb2.SkillRequest(java="J", go="G"), timeout=10)
            assert reply.skill == "Skill1:J，Skill2G"
            futures = [algorithm.Sum.future(netsuite_pb2.SumRequest(x=i, y=i), timeout=10)
                       for i in range(50)]
            assert [f.result().total for f in futures] == [2 * i for i in range(50)]
            with pytest.raises(grpc.RpcError) as overflow:
                algorithm.Sum(netsuite_pb2.SumRequest(x=2**63 - 1, y=1), timeout=10)
            assert overflow.value.code() is grpc.StatusCode.OUT_OF_RANGE
            with pytest.raises(grpc.RpcError) as unknown:
                channel.unary_unary("/netsuite.Algorithm/Mul")(b"", timeout=10)
            assert unknown.value.code() is grpc.StatusCode.UNIMPLEMENTED
        # twistd re-raises the signal after a clean shutdown: exit status -SIGTERM.
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
        assert "Server Shut Down" in server.log
        assert "Traceback" not in server.log


@pytest.mark.parametrize("extra", [(), ("--reactor=asyncio",)], ids=["default", "asyncio"])
def test_port_in_use_stops_start_up(extra) -> None:
    import socket
    import subprocess

    from tests.helpers import TWISTD

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [TWISTD, "-n", "--pidfile=", *extra, "rpc", "--xmlrpc", "none", "--amp", "none",
             "--jsonrpc", "none", "--grpc", f"tcp:{port}:interface=127.0.0.1"],
            capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"grpc cannot listen on tcp:{port}" in done.stdout + done.stderr


def test_netsuite_call_grpc_end_to_end() -> None:
    import subprocess
    import sys

    netsuite = str(Path(sys.executable).with_name("netsuite"))
    with twistd_grpc() as server:
        target = f"127.0.0.1:{server.port('grpc')}"
        ok = subprocess.run([netsuite, "call", "grpc", target, "Algorithm.Sum", "1", "2"],
                            capture_output=True, text=True, timeout=30)
        assert (ok.returncode, ok.stdout) == (0, "3\n")
        skill = subprocess.run([netsuite, "call", "grpc", target, "Programmer.GetSkill", "J",
                                "G"], capture_output=True, text=True, timeout=30)
        assert skill.stdout == '"Skill1:J，Skill2G"\n'
        overflow = subprocess.run([netsuite, "call", "grpc", target, "Algorithm.Sum",
                                   str(2**63 - 1), "1"], capture_output=True, text=True,
                                  timeout=30)
        assert overflow.returncode == 1
        assert "OUT_OF_RANGE" in overflow.stderr and len(overflow.stderr.splitlines()) == 1
