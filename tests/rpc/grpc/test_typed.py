"""gRPC for any registered method: grpcio clients that learn the messages from server
reflection (no generated code), the health service, deadlines and cancellation, malformed
requests, mutual TLS, and NOT_SERVING while a SIGTERM's grace period runs."""

from __future__ import annotations

import signal
import threading
from typing import Any

import grpc
import pytest
import pytest_twisted
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from twisted.internet import reactor, threads

import tests.rpc.wiremethods as wm
from netsuite.rpc.grpc._protocol import GrpcService
from tests.helpers import TwistdProcess
from tests.rpc.wiremethods import REGISTRY


@pytest_twisted.async_yield_fixture
async def rich_server():
    service = GrpcService(REGISTRY, "tcp:0:interface=127.0.0.1", reactor, grace=1)
    service.startService()
    port = await service.whenListening
    yield f"127.0.0.1:{port}", service
    await service.stopService()


class Reflected:
    """A grpcio client whose messages come from the server's reflection."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.database)

    def stub(self, name: str) -> tuple[Any, Any]:
        """The callable of ``Service.Method`` and its request class."""
        service, _, method = name.rpartition(".")
        desc = self.pool.FindServiceByName(f"netsuite.{service}").methods_by_name[method]
        request_class = message_factory.GetMessageClass(desc.input_type)
        reply_class = message_factory.GetMessageClass(desc.output_type)
        return self.channel.unary_unary(f"/netsuite.{service}/{method}",
                                        request_serializer=request_class.SerializeToString,
                                        response_deserializer=reply_class.FromString), request_class

    def call(self, name: str, params: dict, timeout: float = 10, **kw: Any) -> Any:
        stub, request_class = self.stub(name)
        return stub(json_format.ParseDict(params, request_class()), timeout=timeout, **kw)

    def future(self, name: str, params: dict, **kw: Any) -> Any:
        stub, request_class = self.stub(name)
        return stub.future(json_format.ParseDict(params, request_class()), **kw)


def in_thread(target: str, work: Any, credentials: Any = None) -> Any:
    """Run blocking grpcio client code in a thread (the server needs the reactor)."""
    def run() -> Any:
        channel = (grpc.secure_channel(target, credentials, options=[
            ("grpc.ssl_target_name_override", "localhost")]) if credentials
                   else grpc.insecure_channel(target))
        with channel:
            return work(channel)
    return threads.deferToThread(run)


def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("no error")


@pytest_twisted.ensureDeferred
async def test_reflection_describes_every_service_and_rich_calls_work(rich_server) -> None:
    target, _ = rich_server

    def work(channel: grpc.Channel) -> Any:
        client = Reflected(channel)
        services = set(client.database.get_services())
        moved = client.call("Geo.Move", {"p": {"x": 1, "y": 2}, "by": [3, 4]})
        receipt = client.call("Shop.Total", {
            "items": [{"sku": "a", "qty": 2, "price": 1.5, "tags": ["t"], "meta": {"k": 4},
                       "blob": "AAE=", "note": "fragile"},
                      {"sku": "b", "qty": 1, "price": 2.0}],
            "discount": 0.5, "vip": True}).receipt
        echo = client.call("Shop.Echo", {"data": "AAEC", "scale": "Infinity", "ok": True})
        found = client.call("Shop.Find", {"sku": "known"})
        missing = client.call("Shop.Find", {"sku": "other"})
        total = client.call("Algorithm.Sum", {"x": 1, "y": 2}).total
        return services, moved, receipt, echo, found, missing, total

    services, moved, receipt, echo, found, missing, total = await in_thread(target, work)
    assert {"netsuite.Algorithm", "netsuite.Geo", "netsuite.Programmer", "netsuite.Shop",
            "netsuite.Slow", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
            "grpc.reflection.v1.ServerReflection"} <= services
    assert (moved.result.x, moved.result.y) == (4, 6)
    assert receipt.total == 2.5 and receipt.count == 3 and list(receipt.skus) == ["a", "b"]
    assert dict(receipt.flags) == {"vip": True, "empty": False}
    assert receipt.digest and (receipt.first.x, receipt.first.y) == (2, 4)
    assert [(c.x, c.y) for c in receipt.corners] == [(2, 1), (1, 0)]
    assert receipt.HasField("note") and receipt.note == "fragile"
    assert list(echo.result["len"].items) == [3.0]
    assert list(echo.result["scale"].items) == [float("inf")] * 2
    assert found.HasField("result") and not missing.HasField("result")
    assert total == 3


@pytest_twisted.ensureDeferred
async def test_reflection_v1_serves_the_same_answers(rich_server) -> None:
    target, _ = rich_server

    def work(channel: grpc.Channel) -> Any:
        stream = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="netsuite.Geo")]
        return list(stream(iter(requests), timeout=10))

    listed, file = await in_thread(target, work)
    names = {s.name for s in listed.list_services_response.service}
    assert "netsuite.Geo" in names and "grpc.reflection.v1.ServerReflection" in names
    assert file.file_descriptor_response.file_descriptor_proto


@pytest_twisted.ensureDeferred
async def test_health_serving_for_every_service(rich_server) -> None:
    target, _ = rich_server

    def work(channel: grpc.Channel) -> Any:
        stub = health_pb2_grpc.HealthStub(channel)
        statuses = [stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
                    for name in ("", "netsuite.Geo", "netsuite.Algorithm")]
        unknown = code_of(lambda: stub.Check(health_pb2.HealthCheckRequest(service="x.Y"),
                                             timeout=10))
        return statuses, unknown

    statuses, unknown = await in_thread(target, work)
    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 3
    assert unknown[0] is grpc.StatusCode.NOT_FOUND


@pytest_twisted.ensureDeferred
async def test_status_codes(rich_server) -> None:
    target, _ = rich_server

    def work(channel: grpc.Channel) -> Any:
        client = Reflected(channel)
        return [
            code_of(lambda: client.call("Shop.Fail", {"reason": "closed"})),
            code_of(lambda: client.call("Geo.Move", {"p": {}, "by": [1]})),
            code_of(lambda: client.call("Shop.Crash", {"x": 1})),
            code_of(lambda: client.call("Algorithm.Sum", {"x": 2**63 - 1, "y": 1})),
            code_of(lambda: channel.unary_unary("/netsuite.Geo/Jump")(b"", timeout=10)),
            code_of(lambda: channel.unary_unary("/netsuite.Geo/Move")(b"\xff\xff\xff",
                                                                      timeout=10)),
            # field 1 (p) as a string holding invalid UTF-8 in Point.x's place: not a Point
            code_of(lambda: channel.unary_unary("/netsuite.Programmer/GetSkill")(
                b"\x0a\x02\xff\xfe", timeout=10)),
        ]

    codes = await in_thread(target, work)
    assert codes[0] == (grpc.StatusCode.FAILED_PRECONDITION, "refused: closed")
    assert codes[1] == (grpc.StatusCode.FAILED_PRECONDITION, "by needs 2 numbers, got 1")
    assert codes[2] == (grpc.StatusCode.INTERNAL, "internal error")
    assert codes[3][0] is grpc.StatusCode.OUT_OF_RANGE
    assert codes[4][0] is grpc.StatusCode.UNIMPLEMENTED
    assert codes[5][0] is grpc.StatusCode.INVALID_ARGUMENT and "malformed" in codes[5][1]
    assert codes[6][0] is grpc.StatusCode.INVALID_ARGUMENT


@pytest_twisted.ensureDeferred
async def test_a_slow_call_does_not_hold_up_fast_ones(rich_server) -> None:
    target, _ = rich_server

    def work(channel: grpc.Channel) -> Any:
        client = Reflected(channel)
        slow = client.future("Slow.Wait", {"seconds": 3, "tag": "slow"}, timeout=20)
        fast = [client.call("Algorithm.Sum", {"x": i, "y": 1}).total for i in range(20)]
        return slow.done(), fast, slow.result().result

    done_early, fast, slow = await in_thread(target, work)
    assert not done_early and fast == [i + 1 for i in range(20)] and slow == "slow"


@pytest_twisted.ensureDeferred
async def test_deadline_and_client_cancel_cancel_the_call(rich_server) -> None:
    target, service = rich_server

    def work(channel: grpc.Channel) -> Any:
        client = Reflected(channel)
        deadline = code_of(lambda: client.future("Slow.Hang", {"tag": "deadline"},
                                                 timeout=0.3).result())
        for _ in range(1000):  # the server's side of the deadline: that call cancelled
            if "deadline" in wm.CANCELLED and not service.runner.in_flight:
                break
            threading.Event().wait(0.01)
        cancelled = client.future("Slow.Hang", {"tag": "client"}, timeout=10)
        for _ in range(1000):  # cancel once the server runs it (not before it is sent)
            if service.runner.in_flight:
                break
            threading.Event().wait(0.01)
        cancelled.cancel()
        return deadline

    deadline = await in_thread(target, work)
    assert deadline[0] is grpc.StatusCode.DEADLINE_EXCEEDED
    await _eventually(lambda: "deadline" in wm.CANCELLED)
    await _eventually(lambda: "client" in wm.CANCELLED)
    await _eventually(lambda: service.runner.in_flight == 0)


async def _eventually(check: Any, timeout: float = 10) -> None:
    """Wait (polling on the reactor) until ``check()`` is true; fail after ``timeout``."""
    from twisted.internet import task

    waited = 0.0
    while not check():
        if waited > timeout:
            raise AssertionError("condition never became true")
        await task.deferLater(reactor, 0.05)
        waited += 0.05


@pytest_twisted.ensureDeferred
async def test_mutual_tls_peer_certificate_reaches_the_method(pki) -> None:
    service = GrpcService(REGISTRY, pki.mtls_description(), reactor, grace=1)
    service.startService()
    try:
        port = await service.whenListening
        target = f"127.0.0.1:{port}"
        ca = pki.ca.read_bytes()
        with_cert = grpc.ssl_channel_credentials(ca, pki.client.key.read_bytes(),
                                                 pki.client.cert.read_bytes())
        peer = await in_thread(target, lambda ch: Reflected(ch).call("Shop.Whoami", {}).result,
                               with_cert)
        assert peer.transport == "grpc" and peer.has_certificate
        assert list(peer.names) == [pki.client_name]
        without = grpc.ssl_channel_credentials(ca)
        refused = await in_thread(
            target, lambda ch: code_of(lambda: ch.unary_unary("/netsuite.Algorithm/Sum")(
                b"", timeout=5)), without)
        assert refused[0] is grpc.StatusCode.UNAVAILABLE
    finally:
        await service.stopService()


@pytest.mark.parametrize("extra", [(), ("--reactor=asyncio",)], ids=["default", "asyncio"])
def test_deadlines_and_not_serving_after_sigterm_while_a_call_runs(extra) -> None:
    with TwistdProcess("rpc", "--service", "tests.rpc.wireservice", "--xmlrpc", "none",
                       "--amp", "none", "--jsonrpc", "none", "--grace", "10",
                       "--grpc", "tcp:0:interface=127.0.0.1", extra_twistd=extra) as server:
        target = f"127.0.0.1:{server.port('grpc')}"
        with grpc.insecure_channel(target) as channel:
            client = Reflected(channel)
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="netsuite.Slow")
            serving = health_pb2.HealthCheckResponse.SERVING
            assert health.Check(request, timeout=10).status == serving
            late = code_of(lambda: client.call("Slow.Hang", {"tag": "x"}, timeout=0.3))
            assert late[0] is grpc.StatusCode.DEADLINE_EXCEEDED
            failed = code_of(lambda: client.call("Slow.Late", {}))  # its own 0.2 s timeout
            assert failed == (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            slow = client.future("Slow.Wait", {"seconds": 4, "tag": "finished"}, timeout=30)
            assert client.call("Geo.Move", {"p": {"x": 1}, "by": [1, 1]}).result.x == 2
            server.process.send_signal(signal.SIGTERM)
            statuses = set()
            for _ in range(100):
                status = health.Check(request, timeout=10).status
                statuses.add(status)
                if status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                threading.Event().wait(0.02)
            assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
            refused = code_of(lambda: client.call("Geo.Move", {"p": {}, "by": [0, 0]}))
            assert refused[0] is grpc.StatusCode.UNAVAILABLE
            assert slow.result().result == "finished"
        # twistd re-raises the signal after a clean shutdown: exit status -SIGTERM.
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
        server.stop()
        assert "Traceback" not in server.log, server.log
