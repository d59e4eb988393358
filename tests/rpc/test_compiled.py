"""What is compiled once per type or method gives exactly what the general path gives;
answers go straight to the socket only where nothing transforms them."""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from twisted.internet import tcp
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOProtocol

from netsuite.rpc import Int64Overflow, InternalError, InvalidParams, Registry, RpcError
from netsuite.rpc._limits import MAX_DEPTH
from netsuite.rpc._paced import PacedProtocol
from netsuite.rpc._sendnow import socket_connection
from netsuite.rpc._typecheck import _Walk
from netsuite.rpc._typecompile import compiled
from netsuite.rpc._types import INT64, ListOf, check, spec_from_annotation, to_plain


@dataclasses.dataclass
class Point:
    x: int
    y: int


def _named(instance: Any, attribute: Any, value: str) -> None:
    if not value:
        raise ValueError("a shape needs a name")


@attrs.define
class Shape:
    name: str = attrs.field(validator=_named)
    points: list[Point]
    tags: dict[str, float] = attrs.Factory(dict)
    blob: bytes = b""
    note: str | None = None
    flag: bool = False


SPECS = [spec_from_annotation(t, "test") for t in
         (Shape, Point, list[Point], dict[str, list[int]], int | None, float, bytes, bool, str)]

scalars = (st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats()
           | st.text(max_size=3) | st.binary(max_size=3)
           | st.binary(max_size=3).map(bytearray))
keys = st.sampled_from(["name", "points", "tags", "blob", "note", "flag", "x", "y", "z"])
values = scalars | st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(keys | st.text(max_size=2) | st.integers(0, 2), inner,
                                     max_size=4)),
    max_leaves=12)


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        value = run()
    except RpcError as e:
        return type(e).__name__, str(e)
    return "value", (type(value), value)


@given(values)
@example(3)
@example({0: [1]})
@example({"x": 1, "y": 2})
@example({"name": "a", "points": [{"x": 1, "y": 2}], "tags": {"t": 2}, "note": "n"})
def test_compiled_checks_agree_with_the_walk(value: Any) -> None:
    for spec in SPECS:
        assert _outcome(lambda: check(spec, value, "p")) == _outcome(  # noqa: B023
            lambda: _Walk(InvalidParams, False, MAX_DEPTH).walk(spec, value, "p", 0))  # noqa: B023
        assert _outcome(lambda: to_plain(spec, value)) == _outcome(  # noqa: B023
            lambda: _Walk(InternalError, True, MAX_DEPTH).walk(spec, value, "result", 0))  # noqa: B023


def test_compiled_struct_builds_and_fills_defaults() -> None:
    spec = spec_from_annotation(Shape, "test")
    shape = check(spec, {"name": "tri", "points": [{"x": 1, "y": 2}], "tags": {"a": 1}}, "p")
    assert shape == Shape("tri", [Point(1, 2)], {"a": 1.0})
    assert type(shape.tags["a"]) is float
    assert to_plain(spec, shape) == {"name": "tri", "points": [{"x": 1, "y": 2}],
                                     "tags": {"a": 1.0}, "blob": b"", "note": None,
                                     "flag": False}
    with pytest.raises(InvalidParams, match="p: a shape needs a name"):
        check(spec, {"name": "", "points": []}, "p")
    with pytest.raises(InvalidParams, match=r"p.points\[1\].y: expected int64, got bool"):
        check(spec, {"name": "a", "points": [{"x": 1, "y": 2}, {"x": 1, "y": True}]}, "p")
    with pytest.raises(Int64Overflow):
        to_plain(spec, Shape("a", [Point(2**63, 0)]))


def test_a_type_deeper_than_the_limit_is_only_walked() -> None:
    spec: Any = INT64
    for _ in range(MAX_DEPTH + 1):
        spec = ListOf(spec)
    assert compiled(spec, False) is None
    value: Any = 1
    for _ in range(MAX_DEPTH + 1):
        value = [value]
    with pytest.raises(InvalidParams, match="nested deeper than"):
        check(spec, value, "p")
    assert check(spec, [], "p") == []


def test_compiled_call_matches_bind_and_run() -> None:
    registry = Registry()

    @registry.method("T.Add")
    def add(type: int, check: str = "x") -> int:  # names of the generated code's builtins
        return type + len(check)

    @registry.method("T.Later")
    def later(x: int) -> Deferred[int]:
        return succeed(x)

    @registry.method("T.Bad")
    def bad(x: int) -> int:
        return "no"  # type: ignore[return-value]

    @registry.method("T.Wait")
    async def wait(x: int) -> int:
        return x * 2

    method = registry.lookup("T.Add")
    assert method.fast_call is not None
    assert method.fast_call(1, "ab") == 3 == registry.start("T.Add", [1, "ab"])
    for args in ([True, "a"], [1, 2], [2**63, "a"]):
        with pytest.raises(InvalidParams) as fast:
            method.fast_call(*args)
        with pytest.raises(InvalidParams) as general:
            registry.start("T.Add", args)
        assert str(fast.value) == str(general.value)
    assert registry.lookup("T.Later").fast_call(5) == 5  # type: ignore[misc]
    with pytest.raises(InternalError):
        registry.lookup("T.Bad").fast_call(1)  # type: ignore[misc]
    assert registry.lookup("T.Wait").fast_call(4) == 8  # type: ignore[misc]


def test_no_compiled_call_for_what_needs_the_registry() -> None:
    registry = Registry()

    @registry.method("T.Slow", timeout=1.0)
    async def slow(x: int) -> int:
        return x

    registry.register("T.Odd", [("not-a-name", int)], int, "")(lambda **kw: 1)
    assert registry.lookup("T.Slow").fast_call is None
    assert registry.lookup("T.Odd").fast_call is None
    assert registry.call("T.Odd", [1]) == 1


def test_answers_go_to_the_socket_only_under_plain_wrappers() -> None:
    connection = tcp.Connection.__new__(tcp.Connection)
    plain = ProtocolWrapper(WrappingFactory(Factory()), Protocol())
    plain.transport = connection
    assert socket_connection(plain) is connection
    tls = TLSMemoryBIOProtocol.__new__(TLSMemoryBIOProtocol)  # encrypts what it is given
    tls.transport = connection
    wrapped_tls = ProtocolWrapper(WrappingFactory(Factory()), Protocol())
    wrapped_tls.transport = tls
    assert socket_connection(wrapped_tls) is None
    assert socket_connection(StringTransport()) is None


def test_send_answers_falls_back_to_the_transport() -> None:
    protocol = PacedProtocol()
    protocol.makeConnection(StringTransport())
    connection = tcp.Connection.__new__(tcp.Connection)  # not connected, no buffer fields
    protocol._socket = connection
    protocol.send_answers(b"one")  # a connection without Twisted's buffer fields
    connection._tempDataLen = 0
    protocol.send_answers(b"two")  # not connected: never its socket
    assert protocol.transport.value() == b"onetwo"  # type: ignore[attr-defined]
