"""gob with Go's real types: the rich methods of tests/rpc/wiremethods.py in memory (requests
built as Go's encoder builds them), bad input at every depth, and Go's own net/rpc client
with its own structs over rpc.DialHTTP and rpc.Dial."""

from __future__ import annotations

import math
import subprocess

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import endpoints, reactor, threads

from netsuite.rpc.gob._codec import (
    BYTES,
    FLOAT,
    INT,
    STRING,
    Decoder,
    Encoder,
    Field,
    Map,
    Slice,
    Struct,
    StructValue,
)
from netsuite.rpc.gob._http import with_go_http_connect
from netsuite.rpc.gob._protocol import gob_factory
from netsuite.rpc.gob._typed import args_type, from_gob, gob_type
from tests.rpc.gob.test_go import GO, go_bin, go_env  # noqa: F401 (fixtures)
from tests.rpc.gob.test_protocol import answers, request, served
from tests.rpc.wiremethods import REGISTRY, Item, Point

POINT = Struct("Point", (Field("X", INT), Field("Y", INT)))
MOVE = Struct("MoveArgs", (Field("P", POINT), Field("By", Slice(INT))))


def call(name: str, args_t, args, seq: int = 1) -> tuple[dict, object]:
    protocol, transport = served(gob_factory(REGISTRY))
    protocol.dataReceived(request(Encoder(), name, seq, args_t, args))
    assert not transport.disconnecting
    [answer] = answers(transport.value())
    return answer


def test_struct_and_slice_arguments_and_a_struct_reply() -> None:
    header, reply = call("Geo.Move", MOVE, {"P": {"X": 1, "Y": 2}, "By": [3, 4]})
    assert header["Error"] == ""
    assert reply == {"X": 4, "Y": 6}
    assert reply.gob_type.name == "Point"


def test_every_type_round_trips_as_go_declares_it() -> None:
    # args_type's fields read the Python names (as our client sends them).
    items = [{"sku": "a", "qty": 2, "price": 1.5, "tags": ["t"], "meta": {"k": 1},
              "blob": b"\x00\xff", "note": "n"},
             {"sku": "b", "qty": 1, "price": 2.0}]  # nil slice, map, bytes and note
    header, reply = call("Shop.Total", args_type(REGISTRY.lookup("Shop.Total")),
                         {"items": items, "discount": 0.0, "vip": True})
    assert header["Error"] == ""
    assert reply["Total"] == 5.0 and reply["Count"] == 3 and reply["Skus"] == ["a", "b"]
    assert reply["Flags"] == {"vip": True, "empty": False}
    assert reply["First"] == {"X": 2, "Y": 1}
    assert reply["Corners"] == [{"X": 2, "Y": 1}, {"X": 1, "Y": 0}]
    assert reply["Note"] == "n"
    assert len(reply["Digest"]) == 4


def test_reply_types_are_gos() -> None:
    total = REGISTRY.lookup("Shop.Total")
    receipt = gob_type(total.result)
    assert [(f.name, f.type) for f in receipt.fields][:5] == [
        ("Total", FLOAT), ("Count", INT), ("Skus", Slice(STRING)),
        ("Flags", Map(STRING, gob_type(REGISTRY.lookup("Shop.Echo").params[3].spec))),
        ("Digest", BYTES)]
    assert args_type(REGISTRY.lookup("Algorithm.Sum")).name == "Args"


def test_optional_left_out_and_zero_are_none() -> None:
    echo = args_type(REGISTRY.lookup("Shop.Echo"))
    header, reply = call("Shop.Echo", echo, {"data": b"abc", "scale": 2.0, "ok": True})
    assert header["Error"] == ""
    assert reply == {"len": [3.0], "label": [0.0], "scale": [2.0, 4.0], "ok": [1.0]}


def test_none_result_is_the_zero_value_of_its_type() -> None:
    find = args_type(REGISTRY.lookup("Shop.Find"))
    assert call("Shop.Find", find, {"sku": "known"})[1] == {"X": 1, "Y": 2}
    header, reply = call("Shop.Find", find, {"sku": "other"})
    assert header["Error"] == "" and reply == {"X": 0, "Y": 0}


def test_nan_and_infinities_travel() -> None:
    echo = args_type(REGISTRY.lookup("Shop.Echo"))
    _, reply = call("Shop.Echo", echo, {"scale": math.inf})
    assert reply["scale"] == [math.inf, math.inf]
    _, reply = call("Shop.Echo", echo, {"scale": math.nan})
    assert math.isnan(reply["scale"][0])


@pytest.mark.parametrize(("args_t", "args", "error"), [
    (Struct("MoveArgs", (Field("P", Struct("P", (Field("X", STRING),))),)), {"P": {"X": "1"}},
     "p.x: expected int64, got string"),
    (Struct("MoveArgs", (Field("P", POINT), Field("By", Slice(STRING)))),
     {"P": {}, "By": ["1"]}, "by[0]: expected int64, got string"),
    (Struct("MoveArgs", (Field("P", INT),)), {"P": 5}, "p: expected Point, got integer"),
    (Struct("TotalArgs", (Field("Items", Slice(Struct("Item", (Field("Meta", Map(STRING,
                                                                                 STRING)),)))),)),
     {"Items": [{"Meta": {"k": "v"}}]}, 'items[0].meta["k"]: expected int64, got string'),
    (Struct("TotalArgs", (Field("Items", Slice(Struct("Item", (Field("Blob", STRING),)))),)),
     {"Items": [{"Blob": "x"}]}, "items[0].blob: expected []byte, got string"),
    (Struct("TotalArgs", (Field("Vip", INT),)), {"Vip": 1}, "vip: expected bool, got integer"),
    (Struct("Other", (Field("Q", INT),)), {"Q": 1},
     "gob: type mismatch: no fields matched compiling decoder for Geo.Move arguments"),
])
def test_wrong_types_at_every_depth_name_the_path(args_t, args, error) -> None:
    name = "Shop.Total" if args_t.name == "TotalArgs" else "Geo.Move"
    header, reply = call(name, args_t, args)
    assert error in header["Error"]
    assert reply == {}


def test_invalid_utf8_in_a_string_is_a_bad_params_answer() -> None:
    protocol, transport = served(gob_factory(REGISTRY))
    enc = Encoder()
    bad = "\udcff".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    items = Struct("TotalArgs", (Field("Items", Slice(Struct("Item", (Field("Sku", STRING),)))),))
    protocol.dataReceived(request(enc, "Shop.Total", 1, items, {"Items": [{"Sku": "ok"},
                                                                           {"Sku": bad}]}))
    protocol.dataReceived(request(enc, "Geo.Move", 2, MOVE, {"P": {"X": 1}, "By": [1, 1]}))
    (h1, _), (h2, r2) = answers(transport.value())
    assert h1["Error"] == "items[1].sku: invalid UTF-8 in a string"
    assert h2["Error"] == "" and r2 == {"X": 2, "Y": 1}


def test_application_error_and_internal_error_texts() -> None:
    fail = args_type(REGISTRY.lookup("Shop.Fail"))
    assert call("Shop.Fail", fail, {"reason": "no"})[0]["Error"] == "refused: no"
    crash = args_type(REGISTRY.lookup("Shop.Crash"))
    assert call("Shop.Crash", crash, {"x": 1})[0]["Error"] == "internal error"


def test_types_are_defined_once_per_connection() -> None:
    protocol, transport = served(gob_factory(REGISTRY))
    enc = Encoder()
    for seq in range(3):
        protocol.dataReceived(request(enc, "Geo.Move", seq, MOVE, {"P": {"X": seq}, "By": [0, 0]}))
    first = transport.value()
    transport.clear()
    protocol.dataReceived(request(enc, "Geo.Move", 9, MOVE, {"P": {"X": 9}, "By": [0, 0]}))
    again = transport.value()
    # Definitions (negative type ids) only in the first answers: later ones are values only.
    decoder = Decoder()
    values = [v for _, v in decoder.messages(first + again)]
    assert [v["X"] for v in values[1::2]] == [0, 1, 2, 9]
    assert len(again) < len(first) / 3


def test_overdeep_value_closes_the_connection() -> None:
    protocol, transport = served(gob_factory(REGISTRY, max_depth=10))
    deep: object = INT
    value: object = 1
    for _ in range(12):
        deep, value = Slice(deep), [value]
    protocol.dataReceived(request(Encoder(), "Geo.Move", 1, Struct("MoveArgs",
                                                                     (Field("By", deep),)),
                                  {"By": value}))
    assert transport.disconnecting
    [(header, _)] = answers(transport.value())
    assert "nesting deeper than 10" in header["Error"], header


def test_oversize_slice_count_is_refused_before_allocation() -> None:
    protocol, transport = served(gob_factory(REGISTRY))
    enc = Encoder()
    data = request(enc, "Geo.Move", 1, MOVE, {"P": {"X": 1}, "By": [1, 2]})
    # Rewrite the By count (2) as 2**40: the message stays tiny, the count is refused.
    data = data.replace(b"\x02\x02\x04\x00", b"\x02\xfb\x01\x00\x00\x00\x00\x00\x04\x00")
    protocol.dataReceived(data)
    assert transport.disconnecting


GOB_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats()
    | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=10)


@given(spec_name=st.sampled_from(["Geo.Move", "Shop.Total", "Shop.Echo"]), value=GOB_VALUES)
def test_from_gob_never_raises_anything_but_bad_params(spec_name, value) -> None:
    from netsuite.rpc import InvalidParams

    method = REGISTRY.lookup(spec_name)
    for param in method.params:
        try:
            converted = from_gob(param.spec, value, param.name)
            param.check(converted)
        except InvalidParams:
            pass


@given(p=st.builds(Point, st.integers(-2**63, 2**63 - 1), st.integers(-2**63, 2**63 - 1)),
       by=st.lists(st.integers(-2**62, 2**62), min_size=2, max_size=2))
def test_move_round_trips_any_int64(p, by) -> None:
    header, reply = call("Geo.Move", MOVE, {"P": {"X": p.x, "Y": p.y}, "By": by})
    if -2**63 <= p.x + by[0] < 2**63 and -2**63 <= p.y + by[1] < 2**63:
        assert reply == {"X": p.x + by[0], "Y": p.y + by[1]}
    else:
        assert "overflow" in header["Error"]


def test_item_dataclass_builds_from_a_go_struct() -> None:
    spec = REGISTRY.lookup("Shop.Total").params[0].spec
    value = [StructValue(Struct("Item", ()), {"Sku": "s", "qty": 1, "Price": 1.0, "Tags": None,
                                               "Meta": None, "Blob": b"", "Note": ""})]
    assert REGISTRY.lookup("Shop.Total").params[0].check(from_gob(spec, value, "items")) == [
        Item("s", 1, 1.0, [], {}, b"", None)]


# ---------------------------------------------------------------- Go's own client


@pytest_twisted.async_yield_fixture
async def rich_ports():
    from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory

    http = with_go_http_connect(xmlrpc_factory(REGISTRY, reactor=reactor), REGISTRY)
    where = "tcp:0:interface=127.0.0.1"
    http_port = await endpoints.serverFromString(reactor, where).listen(http)
    raw_port = await endpoints.serverFromString(reactor, where).listen(gob_factory(REGISTRY))
    yield http_port.getHost().port, raw_port.getHost().port
    await http_port.stopListening()
    await raw_port.stopListening()


RICH_LINES = ["ok move 4 6", "ok total 6.25 3d1f57c9", "ok echo", "ok inf", "ok optional",
              "ok errors", "ok concurrent 100"]


@pytest.mark.skipif(GO is None, reason="Go is not installed (apt-get install golang-go)")
@pytest.mark.parametrize("raw", [False, True], ids=["DialHTTP", "Dial"])
@pytest_twisted.ensureDeferred
async def test_go_client_with_its_own_structs(go_bin, rich_ports, raw) -> None:  # noqa: F811
    http_port, raw_port = rich_ports
    argv = [str(go_bin / "gobrich"), "-addr", f"127.0.0.1:{raw_port if raw else http_port}"]
    if raw:
        argv.append("-raw")
    done = await threads.deferToThread(subprocess.run, argv, capture_output=True, text=True,
                                       timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == RICH_LINES


# ---------------------------------------------------------------- calls that take time


def wait_args(seconds: float, tag: str) -> tuple[Struct, dict]:
    return args_type(REGISTRY.lookup("Slow.Wait")), {"seconds": seconds, "tag": tag}


def test_a_slow_call_does_not_hold_up_a_fast_one_answers_by_seq() -> None:
    protocol, transport = served(gob_factory(REGISTRY))
    enc = Encoder()
    import tests.rpc.wiremethods as wm

    hang = args_type(REGISTRY.lookup("Slow.Hang"))
    protocol.dataReceived(request(enc, "Slow.Hang", 1, hang, {"tag": "a"})
                          + request(enc, "Geo.Move", 2, MOVE, {"P": {"X": 1}, "By": [1, 1]}))
    [(header, reply)] = answers(transport.value())
    assert header["Seq"] == 2 and reply == {"X": 2, "Y": 1}
    assert len(protocol.running) == 1
    protocol.connectionLost(None)  # the client goes: its running call is cancelled
    assert wm.CANCELLED[-1] == "a"
    assert not protocol.running


def test_max_inflight_stops_reading_until_a_call_ends() -> None:
    import tests.rpc.wiremethods as wm

    factory = gob_factory(REGISTRY, max_inflight=2)
    protocol, transport = served(factory)
    enc = Encoder()
    hang = args_type(REGISTRY.lookup("Slow.Hang"))
    data = b"".join(request(enc, "Slow.Hang", i, hang, {"tag": f"m{i}"}) for i in range(3))
    data += request(enc, "Geo.Move", 9, MOVE, {"P": {"X": 1}, "By": [1, 1]})
    protocol.dataReceived(data)
    assert len(protocol.running) == 2 and protocol.queued
    assert transport.producerState == "paused"
    assert answers(transport.value()) == []
    # One call ends (cancelled here): the third starts, still nothing answered but Move waits.
    next(iter(protocol.running)).cancel()
    assert len(protocol.running) == 2 and protocol.queued
    next(iter(protocol.running)).cancel()
    [(header, _)] = answers(transport.value())
    assert header["Seq"] == 9 and not protocol.queued
    assert transport.producerState == "producing"
    protocol.connectionLost(None)
    assert {"m0", "m1", "m2"} <= set(wm.CANCELLED)


@pytest_twisted.ensureDeferred
async def test_registration_timeout_is_an_error_answer(rich_ports) -> None:
    _, raw_port = rich_ports
    late = args_type(REGISTRY.lookup("Slow.Late"))
    enc = Encoder()
    payload = request(enc, "Slow.Late", 4, late, {}) + request(enc, "Geo.Move", 5, MOVE,
                                                                {"P": {"X": 1}, "By": [0, 0]})
    got = answers(await threads.deferToThread(raw_call, raw_port, payload, False))
    assert [(h["Seq"], h["Error"]) for h, _ in got] == [(5, ""), (4, "deadline exceeded")]


def raw_call(port: int, payload: bytes, http: bool) -> bytes:
    """Send ``payload`` (after Go's CONNECT preamble if ``http``), shut the write side, read
    everything until the server closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if http:
            s.sendall(b"CONNECT /_goRPC_ HTTP/1.0\n\n")
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    if http:
        assert data.startswith(b"HTTP/1.0 200 Connected to Go RPC\n\n")
        data = data[len(b"HTTP/1.0 200 Connected to Go RPC\n\n"):]
    return data


@pytest.mark.parametrize("http", [False, True], ids=["Dial", "DialHTTP"])
@pytest_twisted.ensureDeferred
async def test_half_close_answers_every_request_then_closes(rich_ports, http) -> None:
    http_port, raw_port = rich_ports
    enc = Encoder()
    wait_t, wait_v = wait_args(0.2, "slow")
    payload = (request(enc, "Slow.Wait", 1, wait_t, wait_v)
               + request(enc, "Geo.Move", 2, MOVE, {"P": {"X": 5}, "By": [1, 1]})
               + request(enc, "Algorithm.Sum", 3, Struct("Args", (Field("X", INT),
                                                                   Field("Y", INT))),
                         {"X": 1, "Y": 2}))
    data = await threads.deferToThread(raw_call, http_port if http else raw_port, payload, http)
    got = answers(data)
    assert [h["Seq"] for h, _ in got] == [2, 3, 1]  # the slow one last, by Seq
    assert [v for _, v in got] == [{"X": 6, "Y": 1}, 3, "slow"]


def test_netsuite_rpc_testing_speaks_gob() -> None:
    from netsuite.rpc import RpcError
    from netsuite.rpc.testing import connected_client

    client = connected_client(REGISTRY, wire="gob")
    assert client.result(client.call("Geo.Move", Point(1, 2), [3, 4])) == Point(4, 6)
    assert client.result(client.call("Shop.Find", "other")) == Point(0, 0)  # gob: no nil
    with pytest.raises(RpcError, match="refused: no"):
        client.result(client.call("Shop.Fail", "no"))
    hang = client.call("Slow.Hang", "memory")
    failures: list = []
    hang.addErrback(failures.append)
    client.close()  # the server cancels the running call; the client's call fails
    import tests.rpc.wiremethods as wm

    assert "memory" in wm.CANCELLED
    assert failures and "connection closed" in str(failures[0].value)
