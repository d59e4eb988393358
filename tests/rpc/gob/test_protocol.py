"""net/rpc over gob: the server protocol in memory, the CONNECT sniffer, loopback with our
client (HTTP CONNECT and raw, TLS), hostile input."""

from __future__ import annotations

import xmlrpc.client

import pytest
import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, endpoints, reactor, threads
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport

from netsuite.rpc import SERVICE, Registry
from netsuite.rpc.gob._client import call as gob_call
from netsuite.rpc.gob._client import connect
from netsuite.rpc.gob._codec import (
    INT,
    STRING,
    Decoder,
    Encoder,
    Field,
    GobError,
    Struct,
    encode_uint,
)
from netsuite.rpc.gob._http import with_go_http_connect
from netsuite.rpc.gob._protocol import (
    CONNECTED,
    INVALID_REQUEST,
    REQUEST,
    GobRpcProtocol,
    GobStats,
    gob_factory,
)
from tests.rpc.gob.test_codec import GOLDEN

ARGS = Struct("Args", (Field("X", INT), Field("Y", INT)))
SKILL_ARGS = Struct("Args", (Field("Java", STRING), Field("Go", STRING)))


def request(enc: Encoder, name: str, seq: int, args_type: Struct, args: dict) -> bytes:
    return enc.encode(REQUEST, {"ServiceMethod": name, "Seq": seq}) + enc.encode(args_type, args)


def served(factory=None) -> tuple[GobRpcProtocol, StringTransport]:
    factory = factory or gob_factory(SERVICE)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def answers(data: bytes) -> list[tuple[dict, object]]:
    values = [v for _, v in Decoder().messages(data)]
    return list(zip(values[::2], values[1::2], strict=True))


# ---------------------------------------------------------------- in memory


def test_go_request_stream_is_answered() -> None:
    protocol, transport = served()
    protocol.dataReceived(GOLDEN["request_sum"][1])
    assert answers(transport.value()) == [
        ({"ServiceMethod": "Algorithm.Sum", "Seq": 0, "Error": ""}, 3),
        ({"ServiceMethod": "Algorithm.Sum", "Seq": 1, "Error": ""}, 295),
    ]
    assert not transport.disconnecting


def test_get_skill_with_the_books_comma() -> None:
    protocol, transport = served()
    enc = Encoder()
    protocol.dataReceived(request(enc, "Programmer.GetSkill", 9, SKILL_ARGS,
                                  {"Java": "J", "Go": "G"}))
    assert answers(transport.value()) == [
        ({"ServiceMethod": "Programmer.GetSkill", "Seq": 9, "Error": ""}, "Skill1:J，Skill2G")]


def test_errors_use_go_texts_and_keep_the_connection() -> None:
    factory = gob_factory(SERVICE)
    protocol, transport = served(factory)
    enc = Encoder()
    protocol.dataReceived(
        request(enc, "Nope.Sum", 1, ARGS, {"X": 1})
        + request(enc, "Algorithm.Mul", 2, ARGS, {"X": 1})
        + request(enc, "NoDot", 3, ARGS, {"X": 1})
        + request(enc, "Algorithm.Sum", 4, ARGS, {"X": 2**63 - 1, "Y": 1})
        + request(enc, "Algorithm.Sum", 5, SKILL_ARGS, {"Java": "x"})
        + request(enc, "Algorithm.Sum", 6, ARGS, {"X": 40, "Y": 2}))
    got = answers(transport.value())
    assert [h["Seq"] for h, _ in got] == [1, 2, 3, 4, 5, 6]
    assert got[0][0]["Error"] == "rpc: can't find service Nope.Sum"
    assert got[1][0]["Error"] == "rpc: can't find method Algorithm.Mul"
    assert got[2][0]["Error"] == "rpc: service/method request ill-formed: NoDot"
    assert "overflow" in got[3][0]["Error"]
    assert got[4][0]["Error"]  # a string where an int belongs
    assert all(body == {} for _, body in got[:5])  # Go's invalidRequest struct{}
    assert got[5] == ({"ServiceMethod": "Algorithm.Sum", "Seq": 6, "Error": ""}, 42)
    assert not transport.disconnecting
    assert factory.stats.calls == 6 and factory.stats.call_errors == 5


def test_missing_fields_are_zero_and_unknown_fields_ignored_like_go() -> None:
    protocol, transport = served()
    enc = Encoder()
    odd = Struct("Other", (Field("y", INT), Field("Extra", STRING)))
    protocol.dataReceived(request(enc, "Algorithm.Sum", 1, odd, {"y": 5, "Extra": "z"}))
    assert answers(transport.value())[0][1] == 5


def test_calls_reach_registry_observers_as_gob() -> None:
    registry = Registry()

    @registry.register("Echo.Twice", [("s", str)], str, "twice")
    def twice(s: str) -> str:
        return s * 2

    seen = []
    registry.observers.append(lambda *a: seen.append(a[:3]))
    protocol, transport = served(gob_factory(registry))
    enc = Encoder()
    protocol.dataReceived(request(enc, "Echo.Twice", 1, Struct("A", (Field("S", STRING),)),
                                  {"S": "ab"}))
    assert answers(transport.value())[0][1] == "abab"
    assert seen == [("gob", "Echo.Twice", "ok")]


def stream_of_calls() -> tuple[bytes, bytes]:
    enc = Encoder()
    data = b"".join(request(enc, "Algorithm.Sum", i, ARGS, {"X": i, "Y": -3})
                    for i in range(6))
    data += request(enc, "Programmer.GetSkill", 6, SKILL_ARGS, {"Java": "é", "Go": ""})
    protocol, transport = served()
    protocol.dataReceived(data)
    return data, transport.value()


STREAM, EXPECTED = stream_of_calls()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=30))
def test_any_split_of_the_stream_gives_the_same_answers(cuts) -> None:
    protocol, transport = served()
    points = sorted(set(cuts))
    last = 0
    for point in [*points, len(STREAM)]:
        protocol.dataReceived(STREAM[last:point])
        last = point
    assert transport.value() == EXPECTED


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_input_never_raises_and_closes_or_waits(data) -> None:
    factory = gob_factory(SERVICE)
    protocol, transport = served(factory)
    protocol.dataReceived(data)
    assert transport.disconnecting or factory.stats.protocol_errors == 0


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_stream_never_raises(data) -> None:
    stream = bytearray(STREAM)
    for _ in range(data.draw(st.integers(1, 3))):
        stream[data.draw(st.integers(0, len(stream) - 1))] = data.draw(st.integers(0, 255))
    protocol, _transport = served()
    protocol.dataReceived(bytes(stream))  # answers or a closed connection, never an exception


def test_garbage_closes_the_connection() -> None:
    factory = gob_factory(SERVICE)
    protocol, transport = served(factory)
    protocol.dataReceived(b"\x03\xff\xff\xff")
    assert transport.disconnecting
    assert factory.stats.protocol_errors == 1
    protocol.dataReceived(GOLDEN["request_sum"][1])  # ignored once closing
    assert transport.value() == b""


def test_header_that_is_not_a_request_closes() -> None:
    protocol, transport = served()
    protocol.dataReceived(Encoder().encode(INT, 5))
    assert transport.disconnecting


def test_oversized_message_is_refused_from_its_count() -> None:
    factory = gob_factory(SERVICE, max_message=1000)
    protocol, transport = served(factory)
    protocol.dataReceived(encode_uint(1001))  # refused before any payload arrives
    assert transport.disconnecting
    assert factory.stats.protocol_errors == 1


def test_oversized_body_gets_an_error_answer_then_close() -> None:
    factory = gob_factory(SERVICE, max_message=1000)
    protocol, transport = served(factory)
    enc = Encoder()
    protocol.dataReceived(enc.encode(REQUEST, {"ServiceMethod": "Algorithm.Sum", "Seq": 8})
                          + encode_uint(50_000))
    [(header, _body)] = answers(transport.value())
    assert header["Seq"] == 8 and "exceeds the limit" in header["Error"]
    assert transport.disconnecting


def test_slow_reader_pauses_reading() -> None:
    protocol, transport = served()
    assert transport.producer is protocol
    protocol.pauseProducing()
    assert transport.producerState == "paused"
    protocol.resumeProducing()
    assert transport.producerState == "producing"


def test_graceful_close_closes_after_answers() -> None:
    protocol, transport = served()
    protocol.dataReceived(GOLDEN["request_sum"][1])
    protocol.graceful_close()
    assert transport.disconnecting
    assert len(answers(transport.value())) == 2


def test_invalid_request_type_is_the_empty_struct() -> None:
    assert INVALID_REQUEST.fields == () and INVALID_REQUEST.name == ""


# ---------------------------------------------------------------- CONNECT sniffing


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason=None) -> None:
        self.lost = True


class RecordingFactory(Factory):
    def __init__(self) -> None:
        self.built: list[Recorder] = []
        self.started = 0

    def buildProtocol(self, addr):
        p = Recorder()
        self.built.append(p)
        return p

    def startFactory(self) -> None:
        self.started += 1


def sniffed(http=None):
    http = http or RecordingFactory()
    factory = with_go_http_connect(http, SERVICE)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return factory, http, protocol, transport


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_connect_then_gob(chunk) -> None:
    _, http, protocol, transport = sniffed()
    data = b"CONNECT /_goRPC_ HTTP/1.0\n\n" + GOLDEN["request_sum"][1]
    for i in range(0, len(data), chunk):
        protocol.dataReceived(data[i : i + chunk])
    out = transport.value()
    assert out.startswith(CONNECTED)
    assert [b for _, b in answers(out[len(CONNECTED) :])] == [3, 295]
    assert http.built == []


def test_connect_with_crlf_and_headers() -> None:
    _, _, protocol, transport = sniffed()
    protocol.dataReceived(b"CONNECT /_goRPC_ HTTP/1.0\r\nHost: x\r\n\r\n"
                          + GOLDEN["request_sum"][1])
    assert transport.value().startswith(b"HTTP/1.0 200 Connected to Go RPC\n\n")
    assert len(answers(transport.value()[len(CONNECTED) :])) == 2


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_everything_else_goes_to_http_untouched(chunk) -> None:
    _factory, http, protocol, transport = sniffed()
    data = (b"POST /RPC2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /_goRPC_ HTTP/1.1\r\n\r\n")  # pipelined: the second is HTTP's business
    for i in range(0, len(data), chunk):
        protocol.dataReceived(data[i : i + chunk])
    [inner] = http.built
    assert inner.data == data
    assert inner.transport is transport
    protocol.connectionLost(None)
    assert inner.lost


def test_connect_elsewhere_goes_to_http() -> None:
    _, http, protocol, _ = sniffed()
    protocol.dataReceived(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    assert http.built[0].data.startswith(b"CONNECT example.com:443")


@pytest.mark.parametrize("method", [b"GET", b"POST", b"HEAD"])
def test_other_method_on_gorpc_path_gets_405(method) -> None:
    _, http, protocol, transport = sniffed()
    protocol.dataReceived(method + b" /_goRPC_ HTTP/1.1\r\nHost: x\r\n\r\n")
    out = transport.value()
    assert out.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert out.endswith(b"\r\n\r\n405 must CONNECT\n")
    assert transport.disconnecting
    assert http.built == []


def test_factory_start_and_stop_reach_the_http_factory() -> None:
    factory, http, _, _ = sniffed()
    factory.doStart()
    assert http.started == 1
    factory.doStop()


def test_raw_listener_also_accepts_the_connect_preamble() -> None:
    protocol, transport = served()
    protocol.dataReceived(b"CONNECT /_goRPC_ HTTP/1.0\n\n" + GOLDEN["request_sum"][1])
    out = transport.value()
    assert out.startswith(CONNECTED)
    assert len(answers(out[len(CONNECTED) :])) == 2


def test_raw_listener_refuses_connect_elsewhere() -> None:
    protocol, transport = served()
    protocol.dataReceived(b"CONNECT /elsewhere HTTP/1.0\n\n")
    assert transport.disconnecting


# ---------------------------------------------------------------- loopback


@pytest_twisted.async_yield_fixture
async def http_and_gob_port():
    from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory

    stats = GobStats()
    factory = with_go_http_connect(xmlrpc_factory(SERVICE, reactor=reactor), SERVICE,
                                   stats=stats)
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)
    yield port.getHost().port, stats
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_loopback_dialhttp_and_xmlrpc_share_the_port(http_and_gob_port) -> None:
    port, stats = http_and_gob_port
    sum_method = SERVICE.lookup("Algorithm.Sum")
    skill = SERVICE.lookup("Programmer.GetSkill")
    assert await gob_call(reactor, "127.0.0.1", port, sum_method, [1, 2], tls=False,
                          insecure=False, timeout=10) == 3
    assert await gob_call(reactor, "127.0.0.1", port, skill, ["J", "G"], tls=False,
                          insecure=False, timeout=10) == "Skill1:J，Skill2G"
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    assert await threads.deferToThread(proxy.Algorithm.Sum, 20, 22) == 42
    assert stats.calls == 2


@pytest_twisted.ensureDeferred
async def test_loopback_200_concurrent_calls_on_one_connection(http_and_gob_port) -> None:
    port, _ = http_and_gob_port
    client = await connect(reactor, "127.0.0.1", port, timeout=10)
    method = SERVICE.lookup("Algorithm.Sum")
    try:
        results = await defer.gatherResults([client.call(method, [i, i]) for i in range(200)])
    finally:
        client.close()
    assert results == [2 * i for i in range(200)]


@pytest_twisted.ensureDeferred
async def test_loopback_remote_error_and_overflow(http_and_gob_port) -> None:
    from netsuite.rpc import RpcError

    port, _ = http_and_gob_port
    client = await connect(reactor, "127.0.0.1", port, timeout=10)
    try:
        with pytest.raises(RpcError, match="overflow"):
            await client.call(SERVICE.lookup("Algorithm.Sum"), [2**63 - 1, 1])
        assert await client.call(SERVICE.lookup("Algorithm.Sum"), [-1, -2]) == -3
    finally:
        client.close()


@pytest_twisted.ensureDeferred
async def test_loopback_hostile_client_does_not_disturb_others(http_and_gob_port) -> None:
    port, stats = http_and_gob_port
    good = await connect(reactor, "127.0.0.1", port, timeout=10)
    bad = await connect(reactor, "127.0.0.1", port, timeout=10)
    closed = defer.Deferred()
    original = bad.protocol.connectionLost

    def lost(reason=None):
        original(reason)
        closed.callback(None)

    bad.protocol.connectionLost = lost
    bad.protocol.transport.write(encode_uint(1 << 30))  # a 1 GiB message: refused at once
    await closed
    try:
        assert await good.call(SERVICE.lookup("Algorithm.Sum"), [1, 1]) == 2
    finally:
        good.close()
    assert stats.protocol_errors == 1


@pytest_twisted.ensureDeferred
async def test_raw_gob_over_tls(tls_files) -> None:
    factory = gob_factory(SERVICE)
    port = await endpoints.serverFromString(
        reactor, tls_files.server_description()).listen(factory)
    try:
        for raw in (True, False):
            client = await connect(reactor, "127.0.0.1", port.getHost().port, tls=True,
                                   insecure=True, timeout=10, raw=raw)
            try:
                assert await client.call(SERVICE.lookup("Algorithm.Sum"), [5, 6]) == 11
            finally:
                client.close()
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_client_reports_refused_connection() -> None:
    from twisted.internet.error import ConnectionRefusedError

    probe = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        Factory.forProtocol(Protocol))
    free = probe.getHost().port
    await probe.stopListening()
    with pytest.raises(ConnectionRefusedError):
        await gob_call(reactor, "127.0.0.1", free, SERVICE.lookup("Algorithm.Sum"), [1, 2],
                       tls=False, insecure=False, timeout=5)


def test_gob_error_is_a_value_error() -> None:
    assert issubclass(GobError, ValueError)


def test_depth_limit_is_configurable() -> None:
    from netsuite.rpc.gob._codec import Slice

    nested = Struct("Args", (Field("X", Slice(Slice(Slice(INT)))),))
    enc = Encoder()
    data = request(enc, "Algorithm.Sum", 1, nested, {"X": [[[1]]]})
    factory = gob_factory(SERVICE, max_depth=3)
    protocol, transport = served(factory)
    protocol.dataReceived(data)
    assert transport.disconnecting and factory.stats.protocol_errors == 1
    protocol, transport = served(gob_factory(SERVICE, max_depth=10))
    protocol.dataReceived(data)
    assert not transport.disconnecting  # answered (a type error), connection kept
    assert answers(transport.value())[0][0]["Error"]


def test_silent_connection_on_the_http_port_times_out() -> None:
    from twisted.internet.task import Clock

    http = RecordingFactory()
    http.timeout = 30
    http.reactor = Clock()
    _, _, protocol, transport = sniffed(http)
    http.reactor.advance(29)
    assert not transport.disconnecting
    http.reactor.advance(2)
    assert transport.disconnecting
    # Once handed over, the timer is gone (HTTP's own idle timeout applies).
    _, _, protocol, transport = sniffed(http)
    protocol.dataReceived(b"POST /RPC2 HTTP/1.1\r\n")
    http.reactor.advance(100)
    assert not transport.disconnecting
    assert not http.reactor.getDelayedCalls()


@pytest.mark.parametrize("bad_header", [
    b"\x01\x03abc\x05\x01\x00",       # field 5 of a 2-field Request
    b"\x01\x09abc\x00",               # name longer than the message
    b"\x01\x03abc\x01\x05\x00\x07",   # extra bytes after the header
    b"\x01\x03ab",                    # cut short
])
def test_fast_header_path_rejects_malformed_headers(bad_header) -> None:
    protocol, transport = served()
    protocol.dataReceived(GOLDEN["request_sum"][1])  # defines Go's Request type (id 66)
    assert len(answers(transport.value())) == 2
    header = encode_uint(66 << 1) + bad_header
    protocol.dataReceived(encode_uint(len(header)) + header)
    assert transport.disconnecting


@pytest_twisted.ensureDeferred
async def test_twistd_serves_gob_on_both_listeners_and_closes_them_on_sigterm() -> None:
    import signal

    from tests.helpers import TwistdProcess

    with TwistdProcess("rpc", "--xmlrpc", "tcp:0:interface=127.0.0.1",
                       "--gob", "tcp:0:interface=127.0.0.1", "--amp", "none",
                       "--jsonrpc", "none", "--grpc", "none") as server:
        ports = {label: server.port(label) for label in ("xmlrpc", "gob")}
        for port in ports.values():
            assert await gob_call(reactor, "127.0.0.1", port, SERVICE.lookup("Algorithm.Sum"),
                                  [40, 2], tls=False, insecure=False, timeout=10) == 42
        clients = [await connect(reactor, "127.0.0.1", port, timeout=10)
                   for port in ports.values()]
        closed = []
        for client in clients:
            d = defer.Deferred()
            original = client.protocol.connectionLost

            def lost(reason=None, original=original, d=d):
                original(reason)
                d.callback(None)

            client.protocol.connectionLost = lost
            closed.append(d)
        server.process.send_signal(signal.SIGTERM)
        # Idle gob connections are closed at once, well inside the 5 s grace period.
        await defer.gatherResults(closed).addTimeout(4, reactor)
        server.stop()
    assert "Server Shut Down" in server.log


def test_client_matches_answers_by_seq_in_any_order() -> None:
    from netsuite.rpc import RpcError
    from netsuite.rpc.gob._client import GobClientProtocol, args_type
    from netsuite.rpc.gob._protocol import RESPONSE

    client = GobClientProtocol(raw=True)
    client.makeConnection(StringTransport())
    sum_method = SERVICE.lookup("Algorithm.Sum")
    calls = [client.call("Algorithm.Sum", args_type(sum_method), {"X": i, "Y": 0})
             for i in range(3)]
    results: dict[int, object] = {}
    for i, d in enumerate(calls):
        d.addBoth(lambda r, i=i: results.__setitem__(i, r))
    enc = Encoder()
    answers_out = (enc.encode(RESPONSE, {"ServiceMethod": "Algorithm.Sum", "Seq": 2})
                   + enc.encode(INT, 20)
                   + enc.encode(RESPONSE, {"ServiceMethod": "Algorithm.Sum", "Seq": 0,
                                           "Error": "nope"})
                   + enc.encode(INVALID_REQUEST, {})
                   + enc.encode(RESPONSE, {"ServiceMethod": "Algorithm.Sum", "Seq": 1})
                   + enc.encode(INT, 10))
    client.dataReceived(answers_out)
    assert results[2] == 20 and results[1] == 10
    assert results[0].check(RpcError) and str(results[0].value) == "nope"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=80), max_size=12))
def test_sniffer_any_split_gives_the_same_answers(cuts) -> None:
    data = b"CONNECT /_goRPC_ HTTP/1.0\r\nHost: x\r\n\r\n" + GOLDEN["request_sum"][1]
    _, http, protocol, transport = sniffed()
    last = 0
    for point in [*sorted(set(cuts)), len(data)]:
        protocol.dataReceived(data[last:point])
        last = max(last, point)
    out = transport.value()
    assert out.startswith(CONNECTED) and http.built == []
    assert [b for _, b in answers(out[len(CONNECTED) :])] == [3, 295]


@pytest_twisted.ensureDeferred
async def test_connect_on_a_tls_xmlrpc_port(tls_files) -> None:
    from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory

    factory = with_go_http_connect(xmlrpc_factory(SERVICE, reactor=reactor), SERVICE)
    port = await endpoints.serverFromString(
        reactor, tls_files.server_description()).listen(factory)
    try:
        assert await gob_call(reactor, "127.0.0.1", port.getHost().port,
                              SERVICE.lookup("Programmer.GetSkill"), ["a", "b"], tls=True,
                              insecure=True, timeout=10) == "Skill1:a，Skill2b"
    finally:
        await port.stopListening()


def test_netsuite_call_gob_end_to_end() -> None:
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import TwistdProcess

    netsuite = str(Path(sys.executable).with_name("netsuite"))
    with TwistdProcess("rpc", "--xmlrpc", "tcp:0:interface=127.0.0.1",
                       "--gob", "tcp:0:interface=127.0.0.1", "--amp", "none",
                       "--jsonrpc", "none", "--grpc", "none") as server:
        for label in ("xmlrpc", "gob"):
            target = f"127.0.0.1:{server.port(label)}"
            ok = subprocess.run([netsuite, "call", "gob", target, "Algorithm.Sum", "1", "2"],
                                capture_output=True, text=True, timeout=30)
            assert (ok.returncode, ok.stdout) == (0, "3\n")
        overflow = subprocess.run([netsuite, "call", "gob", target, "Algorithm.Sum",
                                   str(2**63 - 1), "1"], capture_output=True, text=True,
                                  timeout=30)
        assert overflow.returncode == 1 and "overflow" in overflow.stderr


@pytest_twisted.ensureDeferred
async def test_client_that_never_reads_is_paused_not_buffered() -> None:
    import socket

    from twisted.internet import task

    served_protocols: list[GobRpcProtocol] = []
    factory = gob_factory(SERVICE)
    build = factory.buildProtocol

    def build_small(addr):
        protocol = build(addr)
        made = protocol.connectionMade

        def connection_made():
            protocol.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
            made()

        protocol.connectionMade = connection_made
        served_protocols.append(protocol)
        return protocol

    factory.buildProtocol = build_small
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)

    class Flooder(Protocol):
        def connectionMade(self) -> None:
            self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.transport.pauseProducing()  # never reads an answer

    try:
        flooder = await endpoints.TCP4ClientEndpoint(
            reactor, "127.0.0.1", port.getHost().port).connect(Factory.forProtocol(Flooder))
        enc = Encoder()
        flood = b"".join(request(enc, "Algorithm.Sum", i, ARGS, {"X": i, "Y": 1})
                         for i in range(30_000))
        flooder.transport.write(flood)
        [server] = served_protocols
        for _ in range(100):  # wait (at most 5 s) for the server to stop reading
            await task.deferLater(reactor, 0.05, lambda: None)
            if server.transport.producerPaused:
                break
        assert server.transport.producerPaused
        # Paused means no more reading: no progress while the client still does not read.
        calls = server.stats.calls
        await task.deferLater(reactor, 0.5, lambda: None)
        assert server.stats.calls == calls < 30_000
        unsent = len(server.transport.dataBuffer) + server.transport._tempDataLen
        assert unsent < 256 * 1024  # bounded, though 30,000 calls' answers were asked for
        # Everyone else is still served.
        assert await gob_call(reactor, "127.0.0.1", port.getHost().port,
                              SERVICE.lookup("Algorithm.Sum"), [2, 2], tls=False,
                              insecure=False, timeout=10) == 4
        flooder.transport.abortConnection()
    finally:
        await port.stopListening()


def test_malformed_body_gets_an_error_answer_then_close() -> None:
    protocol, transport = served()
    enc = Encoder()
    header = enc.encode(REQUEST, {"ServiceMethod": "Algorithm.Sum", "Seq": 4})
    protocol.dataReceived(header + b"\x03\x04\x00\xff")  # an int cut short
    [(answer, _)] = answers(transport.value())
    assert answer["Seq"] == 4 and answer["Error"].startswith("rpc: request body refused")
    assert transport.disconnecting


def test_message_trickling_in_byte_by_byte_is_answered() -> None:
    protocol, transport = served()
    enc = Encoder()
    data = request(enc, "Programmer.GetSkill", 1, SKILL_ARGS, {"Java": "x" * 50_000, "Go": "y"})
    for i in range(len(data)):  # linear work: pieces are joined once the message can be whole
        protocol.dataReceived(data[i : i + 1])
    [(header, skill)] = answers(transport.value())
    assert header["Seq"] == 1 and skill == "Skill1:" + "x" * 50_000 + "，Skill2y"


@pytest_twisted.ensureDeferred
async def test_client_assembles_a_large_answer() -> None:
    registry = Registry()

    @registry.register("Big.Make", [("n", int)], str, "n x's")
    def make(n: int) -> str:
        return "x" * n

    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        gob_factory(registry))
    try:
        client = await connect(reactor, "127.0.0.1", port.getHost().port, timeout=10)
        try:
            method = registry.lookup("Big.Make")
            big, small = await defer.gatherResults([client.call(method, [3_000_000]),
                                                    client.call(method, [3])])
        finally:
            client.close()
    finally:
        await port.stopListening()
    assert len(big) == 3_000_000 and small == "xxx"
