"""netsuite.rpc.testing: a registry served in memory on each wire, typed values end to end."""

from __future__ import annotations

import math

import pytest

from netsuite.rpc import ApplicationError, InternalError, InvalidParams, UnknownMethod
from netsuite.rpc.testing import WIRES, connected_client
from tests.rpc.richservice import Bundle, Point, build, sample_items


@pytest.mark.parametrize("wire", WIRES)
def test_typed_values_round_trip(wire: str) -> None:
    registry, _ = build()
    client = connected_client(registry, wire=wire)
    assert client.result(client.call("Rich.Move", Point(1, 2), [3, 4])) == Point(4, 6)
    assert client.result(client.call("Rich.Flip", p=Point(1, 2))) == Point(2, 1)
    assert client.result(client.call("Rich.Count", {"a": 1, "b": 2})) == {"a": 2, "b": 4}
    items = sample_items()
    bundle = client.result(client.call("Rich.Pack", items, {"x": 1}, note="hi"))
    assert bundle == Bundle(items, {"x": 1}, 2.75, True, "hi")
    assert client.result(client.call("Rich.Pack", [], {})) == Bundle([], {}, 0, False, None)
    assert client.result(client.call("Rich.Bytes", b"\x00\x01\xfe")) == b"\xfe\x01\x00"
    assert client.result(client.call("Rich.Half", 3.0)) == 1.5
    assert client.result(client.call("Rich.Maybe")) is None
    assert client.result(client.call("Rich.Maybe", 4)) == 5
    assert client.result(client.call("Rich.Who")).startswith(wire + " ")


@pytest.mark.parametrize("wire", WIRES)
def test_errors_in_the_core_s_terms(wire: str) -> None:
    registry, _ = build()
    client = connected_client(registry, wire=wire)
    with pytest.raises(ApplicationError, match="no x left") as info:
        client.result(client.call("Rich.Fail", "x"))
    if wire != "xmlrpc":  # XML-RPC faults carry a number only
        assert info.value.code == "OUT_OF_STOCK"
    with pytest.raises(InternalError):
        client.result(client.call("Rich.Boom"))
    with pytest.raises(UnknownMethod):
        registry.lookup("Rich.Nope")
    with pytest.raises(InvalidParams, match="x: expected float64, got string"):
        client.call("Rich.Half", "x")
    if wire != "amp":  # JSON and XML-RPC have no infinity: refused before sending
        with pytest.raises(InternalError, match="cannot carry"):
            client.call("Rich.Half", math.inf)
    else:
        assert client.result(client.call("Rich.Half", math.inf)) == math.inf


@pytest.mark.parametrize("wire", WIRES)
def test_slow_calls_wait_and_disconnect_cancels(wire: str) -> None:
    registry, probe = build()
    client = connected_client(registry, wire=wire)
    slow = client.call("Rich.Slow", 7)
    with pytest.raises(AssertionError, match="still running"):
        client.result(slow)
    if wire != "xmlrpc":  # XML-RPC answers in order: the fast call waits for the slow one
        assert client.result(client.call("Rich.Fast", 8)) == 8
    probe.release_all()
    assert client.result(slow) == 7
    client.call("Rich.Slow", 9)
    assert probe.started == [7, 9]
    client.close()
    assert probe.cancelled == [9]
