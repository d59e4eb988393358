"""AMP transport: Twisted's own ``amp.AMP`` client against our lean responder."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, endpoints, protocol
from twisted.internet.testing import StringTransport
from twisted.protocols import amp
from twisted.test import iosim

from netsuite.rpc import (
    INT64_MAX,
    INT64_MIN,
    SERVICE,
    GetSkill,
    Int64Overflow,
    InvalidParams,
    Registry,
    Sum,
    command_for,
)
from netsuite.rpc.amp._protocol import AmpRpcProtocol, amp_factory


def box(**pairs: bytes) -> bytes:
    """Encode one AMP box (keys given as Python names; ``_x`` keys keep their underscore)."""
    return amp.AmpBox({k.encode(): v for k, v in pairs.items()}).serialize()


def parse_boxes(data: bytes) -> list[dict[bytes, bytes]]:
    """Complete boxes in ``data`` (a plain reading of the AMP framing; a partial tail fails)."""
    boxes: list[dict[bytes, bytes]] = []
    current: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        klen = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if klen == 0:
            boxes.append(current)
            current = {}
            continue
        key = data[pos:pos + klen]
        pos += klen
        vlen = int.from_bytes(data[pos:pos + 2], "big")
        current[key] = data[pos + 2:pos + 2 + vlen]
        pos += 2 + vlen
        assert pos <= len(data), "truncated box"
    assert not current, "truncated box"
    return boxes


def connect(factory: Any = None) -> tuple[amp.AMP, AmpRpcProtocol, iosim.IOPump]:
    factory = factory or amp_factory()
    server = factory.buildProtocol(None)
    client = amp.AMP()
    _, _, pump = iosim.connectedServerAndClient(lambda: server, lambda: client)
    return client, server, pump


def results(*deferreds: defer.Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    for d in deferreds:
        d.addBoth(out.append)
    return out


def raw_server(**kwargs: Any) -> tuple[AmpRpcProtocol, StringTransport]:
    server = amp_factory(**kwargs).buildProtocol(None)
    transport = StringTransport()
    server.makeConnection(transport)
    return server, transport


# --- in memory, with Twisted's client ---------------------------------------------------

def test_sum_and_getskill_in_memory() -> None:
    client, _, pump = connect()
    out = results(client.callRemote(Sum, x=1, y=2),
                  client.callRemote(GetSkill, java="Java", go="Go"),
                  client.callRemote(Sum, x=INT64_MIN, y=INT64_MAX))
    pump.flush()
    assert out == [{"total": 3}, {"skill": "Skill1:Java，Skill2Go"}, {"total": -1}]


def test_overflow_is_error_code_overflow() -> None:
    client, _, pump = connect()
    out = results(client.callRemote(Sum, x=INT64_MAX, y=1),
                  client.callRemote(Sum, x=INT64_MIN, y=-1))
    pump.flush()
    for failure in out:
        assert failure.check(Int64Overflow)
        assert "overflow" in str(failure.value)


def test_many_requests_in_flight() -> None:
    client, _, pump = connect()
    out = results(*[client.callRemote(Sum, x=i, y=i) for i in range(500)])
    pump.flush()
    assert out == [{"total": 2 * i} for i in range(500)]


def test_unknown_command_unhandled_and_connection_stays() -> None:
    class Nope(amp.Command):
        arguments = [(b"x", amp.Integer())]
        response: list[Any] = []

    client, _, pump = connect()
    out = results(client.callRemote(Nope, x=1), client.callRemote(Sum, x=2, y=3))
    pump.flush()
    assert out[0].check(amp.UnhandledCommand)
    assert out[1] == {"total": 5}


def test_bad_params_code() -> None:
    class BadSum(amp.Command):
        commandName = b"Sum"
        arguments = [(b"x", amp.Unicode()), (b"y", amp.Integer())]
        response = [(b"total", amp.Integer())]
        errors = {InvalidParams: b"BAD_PARAMS"}

    client, _, pump = connect()
    out = results(client.callRemote(BadSum, x="twelve", y=1),
                  client.callRemote(BadSum, x=str(2**63), y=1),
                  client.callRemote(Sum, x=1, y=1))
    pump.flush()
    assert out[0].check(InvalidParams) and "x" in str(out[0].value)
    assert out[1].check(InvalidParams) and "64-bit" in str(out[1].value)
    assert out[2] == {"total": 2}


def test_full_method_name_and_user_method() -> None:
    registry = Registry()

    @registry.register("Calc.Mul", [("a", int), ("b", int)], int, "multiply",
                       result_name="product")
    def mul(a: int, b: int) -> int:
        return a * b

    Mul = command_for(registry.lookup("Calc.Mul"))

    class FullName(Mul):  # type: ignore[valid-type, misc]
        commandName = b"Calc.Mul"

    client, _, pump = connect(amp_factory(registry))
    out = results(client.callRemote(Mul, a=6, b=7), client.callRemote(FullName, a=2, b=3))
    pump.flush()
    assert out == [{"product": 42}, {"product": 6}]


def test_result_too_long_is_an_error_not_a_crash() -> None:
    client, _, pump = connect()
    big = "j" * 40000
    out = results(client.callRemote(GetSkill, java=big, go=big), client.callRemote(Sum, x=1, y=0))
    pump.flush()
    # Twisted's client reports codes its Command does not declare as UNKNOWN; the text stays.
    assert out[0].check(amp.RemoteAmpError) and "65535-byte value limit" in str(out[0].value)
    assert out[1] == {"total": 1}
    server, transport = raw_server()
    server.dataReceived(box(_command=b"GetSkill", _ask=b"1", java=big.encode(), go=big.encode()))
    assert parse_boxes(transport.value())[0][b"_error_code"] == b"RESULT_TOO_LONG"


# --- raw boxes: framing, limits, malformed input ----------------------------------------

def test_no_ask_means_no_answer() -> None:
    server, transport = raw_server()
    server.dataReceived(box(_command=b"Sum", x=b"1", y=b"2"))
    assert transport.value() == b""
    server.dataReceived(box(_command=b"Sum", _ask=b"a", x=b"1", y=b"2"))
    assert parse_boxes(transport.value()) == [{b"_answer": b"a", b"total": b"3"}]


def test_missing_argument_bad_params() -> None:
    server, transport = raw_server()
    server.dataReceived(box(_command=b"Sum", _ask=b"1", x=b"1"))
    [answer] = parse_boxes(transport.value())
    assert answer[b"_error"] == b"1" and answer[b"_error_code"] == b"BAD_PARAMS"
    assert b"missing argument y" in answer[b"_error_description"]
    assert not transport.disconnecting


def test_invalid_utf8_bad_params() -> None:
    server, transport = raw_server()
    server.dataReceived(box(_command=b"GetSkill", _ask=b"1", java=b"\xff", go=b""))
    [answer] = parse_boxes(transport.value())
    assert answer[b"_error_code"] == b"BAD_PARAMS"


def test_oversized_key_closes() -> None:
    server, transport = raw_server()
    server.dataReceived(b"\x00\x04_ask\x00\x01z" + b"\x01\x00" + b"k" * 256)
    [answer] = parse_boxes(transport.value())
    assert answer[b"_error"] == b"z" and answer[b"_error_code"] == b"TOO_LONG"
    assert transport.disconnecting


def test_box_over_limit_closes_before_buffering_it() -> None:
    server, transport = raw_server(max_box=1000)
    server.dataReceived(b"\x00\x01a" + b"\xff\xff")  # announces a 65535-byte value
    assert transport.disconnecting
    assert server._pending_size == 0 and not server._pending


def test_many_pairs_over_limit_closes() -> None:
    server, transport = raw_server(max_box=1000)
    pair = b"\x00\x01k\x00\x0a" + b"v" * 10
    for _ in range(100):
        server.dataReceived(pair)
        if transport.disconnecting:
            break
    assert transport.disconnecting
    assert server._pending_size + sum(len(v) for v in server._box.values()) < 1000


@pytest.mark.parametrize("data", [
    box(_answer=b"1", total=b"3"),
    box(_error=b"1", _error_code=b"X", _error_description=b"y"),
    box(foo=b"bar"),
    b"\x00\x00",
])
def test_not_a_command_closes(data: bytes) -> None:
    server, transport = raw_server()
    server.dataReceived(data + box(_command=b"Sum", _ask=b"2", x=b"1", y=b"1"))
    assert transport.disconnecting
    assert transport.value() == b""


def test_internal_error_is_unknown_and_connection_stays() -> None:
    registry = Registry()

    @registry.register("Bad.Boom", [], int, "raises")
    def boom() -> int:
        raise RuntimeError("bug")

    server = amp_factory(registry).buildProtocol(None)
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(box(_command=b"Boom", _ask=b"1") + box(_command=b"Boom", _ask=b"2"))
    answers = parse_boxes(transport.value())
    assert [a[b"_error_code"] for a in answers] == [b"UNKNOWN", b"UNKNOWN"]
    assert not transport.disconnecting


def test_slow_reader_pauses_reading() -> None:
    server, transport = raw_server()
    assert transport.producer is server
    server.pauseProducing()
    assert transport.producerState == "paused"
    server.resumeProducing()
    assert transport.producerState == "producing"


def test_graceful_close_finishes_the_box_in_progress() -> None:
    server, transport = raw_server()
    request = box(_command=b"Sum", _ask=b"7", x=b"2", y=b"2")
    server.dataReceived(request[:10])
    server.graceful_close()
    assert not transport.disconnecting
    server.dataReceived(request[10:] + box(_command=b"Sum", _ask=b"8", x=b"1", y=b"1"))
    assert parse_boxes(transport.value()) == [{b"_answer": b"7", b"total": b"4"}]
    assert transport.disconnecting


def test_graceful_close_waits_for_a_request_trickling_in() -> None:
    server, transport = raw_server()
    request = box(_command=b"Sum", _ask=b"7", x=b"2", y=b"2")
    server.dataReceived(request[:1])
    server.graceful_close()
    for i in range(1, len(request)):
        assert not transport.disconnecting
        server.dataReceived(request[i:i + 1])
    assert parse_boxes(transport.value()) == [{b"_answer": b"7", b"total": b"4"}]
    assert transport.disconnecting


def test_value_trickling_in_is_linear() -> None:
    """A 64 KiB value arriving a byte at a time must not be re-joined on every byte."""
    import time

    server, transport = raw_server()
    request = box(_command=b"GetSkill", _ask=b"1", java=b"j" * 65000, go=b"g")
    start = time.perf_counter()
    for i in range(len(request)):
        server.dataReceived(request[i:i + 1])
    assert time.perf_counter() - start < 5
    assert parse_boxes(transport.value())[0][b"_answer"] == b"1"


def test_graceful_close_idle_closes_at_once() -> None:
    server, transport = raw_server()
    server.graceful_close()
    assert transport.disconnecting


# --- properties ----------------------------------------------------------------------------

def _stream(n: int) -> bytes:
    return b"".join(box(_command=b"Sum", _ask=str(i).encode(), x=str(i).encode(), y=b"1")
                    for i in range(n))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(1, 60), max_size=30))
def test_any_chunking_same_answers(n: int, cuts: list[int]) -> None:
    data = _stream(n)
    server, transport = raw_server()
    pos = 0
    for cut in cuts:
        server.dataReceived(data[pos:pos + cut])
        pos += cut
    server.dataReceived(data[pos:])
    answers = parse_boxes(transport.value())
    assert answers == [{b"_answer": str(i).encode(), b"total": str(i + 1).encode()}
                       for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 399))
def test_random_and_mutated_input_never_raises(noise: bytes, at: int) -> None:
    valid = _stream(3)
    for data in (noise, valid[:at] + noise + valid[at:]):
        server, transport = raw_server(max_box=300)
        server.dataReceived(data)
        assert server._pending_size <= 300 + 4
        # Whatever came back is well-formed AMP.
        for answer in parse_boxes(transport.value()):
            assert b"_answer" in answer or b"_error" in answer


# --- loopback --------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_loopback_with_twisted_amp(tls_files: Any) -> None:
    from twisted.internet import reactor

    for description, client_ep in (
        ("tcp:0:interface=127.0.0.1", lambda p: endpoints.TCP4ClientEndpoint(
            reactor, "127.0.0.1", p)),
        (tls_files.server_description(), lambda p: endpoints.wrapClientTLS(
            __import__("twisted.internet.ssl", fromlist=["x"]).CertificateOptions(verify=False),
            endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", p))),
    ):
        port = await endpoints.serverFromString(reactor, description).listen(amp_factory(SERVICE))
        try:
            client = await client_ep(port.getHost().port).connect(
                protocol.Factory.forProtocol(amp.AMP))
            try:
                answers = await defer.gatherResults(
                    [client.callRemote(Sum, x=i, y=1) for i in range(50)])
                assert answers == [{"total": i + 1} for i in range(50)]
                assert await client.callRemote(GetSkill, java="J", go="G") == {
                    "skill": "Skill1:J，Skill2G"}
                with pytest.raises(Int64Overflow):
                    await client.callRemote(Sum, x=INT64_MAX, y=INT64_MAX)
            finally:
                client.transport.loseConnection()
        finally:
            await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_loopback_abrupt_close_mid_request_then_next_client_served() -> None:
    from twisted.internet import reactor

    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        amp_factory())
    try:
        raw = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port
                                                 ).connect(protocol.Factory.forProtocol(
                                                     protocol.Protocol))
        raw.transport.write(box(_command=b"Sum", _ask=b"1", x=b"1", y=b"2")[:9])
        raw.transport.abortConnection()
        client = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port
                                                    ).connect(protocol.Factory.forProtocol(
                                                        amp.AMP))
        try:
            assert await client.callRemote(Sum, x=40, y=2) == {"total": 42}
        finally:
            client.transport.loseConnection()
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_slow_reader_flood_bounded_and_nothing_lost() -> None:
    from twisted.internet import reactor, task

    from tests.rpc.jsonrpc.test_loopback import Flooder, check_slow_reader

    n = 15000
    burst = _stream(n)

    async def probe(port_number: int) -> None:
        client = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port_number).connect(
            protocol.Factory.forProtocol(amp.AMP))
        try:
            assert await client.callRemote(Sum, x=1, y=1) == {"total": 2}
        finally:
            client.transport.loseConnection()

    async def answered(flooder: Flooder) -> None:
        while flooder.received.count(b"\x00\x07_answer") < n:
            await task.deferLater(reactor, 0.01, lambda: None)
        assert parse_boxes(flooder.received) == [
            {b"_answer": str(i).encode(), b"total": str(i + 1).encode()} for i in range(n)]

    await check_slow_reader(amp_factory(SERVICE), burst, probe, answered)


def test_observers_see_every_outcome() -> None:
    registry = Registry()
    registry.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum",
                      result_name="total")(SERVICE.lookup("Algorithm.Sum").function)
    seen: list[tuple[str, str, str]] = []
    registry.observers.append(lambda t, m, o, s: seen.append((t, m, o)))
    server = amp_factory(registry).buildProtocol(None)
    server.makeConnection(StringTransport())
    server.dataReceived(box(_command=b"Sum", _ask=b"1", x=b"1", y=b"2")
                        + box(_command=b"Sum", _ask=b"2", x=b"one", y=b"2")
                        + box(_command=b"Sum", _ask=b"3", x=str(INT64_MAX).encode(), y=b"2")
                        + box(_command=b"Nope", _ask=b"4"))
    assert seen == [("amp", "Algorithm.Sum", "ok"), ("amp", "Algorithm.Sum", "bad-params"),
                    ("amp", "Algorithm.Sum", "application-error"),
                    ("amp", "Nope", "unknown-method")]
