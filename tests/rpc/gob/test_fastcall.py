"""The gob server's fast path answers exactly as the general path: same bytes, same counts,
same refusals -- whatever the split of the input and whatever the arguments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import StringTransport

from netsuite.rpc import Registry
from netsuite.rpc._core import algorithm_sum
from netsuite.rpc.gob._codec import (
    BOOL,
    BYTES,
    FLOAT,
    INT,
    STRING,
    Decoder,
    Encoder,
    Field,
    Struct,
)
from netsuite.rpc.gob._protocol import REQUEST, GobRpcProtocol, gob_factory

ARGS = Struct("Args", (Field("X", INT), Field("Y", INT)))
NAMED = Struct("Named", (Field("Name", STRING),))
MIXED = Struct("Mixed", (Field("F", FLOAT), Field("B", BOOL), Field("Data", BYTES),
                         Field("N", INT)))
OTHER = Struct("Other", (Field("A", INT), Field("B", INT)))  # no field of Sum's


def service() -> Registry:
    reg = Registry()
    reg.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum")(algorithm_sum)

    @reg.register("Text.Hello", [("name", str)], str, "greeting")
    def hello(name: str) -> str:
        return f"hello {name}"

    @reg.register("Mix.Describe", [("f", float), ("b", bool), ("data", bytes), ("n", int)],
                  str, "all four")
    def describe(f: float, b: bool, data: bytes, n: int) -> str:
        return f"{f!r} {b} {data!r} {n}"

    @reg.register("Async.Double", [("x", int)], int, "async")
    async def double(x: int) -> int:
        return 2 * x

    @reg.register("Fail.Always", [("x", int)], int, "raises")
    def fail(x: int) -> int:
        raise ValueError("boom")

    return reg


def served(reg: Registry, fast: bool, **options: Any) -> tuple[GobRpcProtocol,
                                                              StringTransport]:
    protocol = gob_factory(reg, **options).buildProtocol(None)
    if not fast:
        protocol._fast.parse = lambda *args: None  # type: ignore[method-assign]
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def calls(items: list[tuple[str, Struct, dict[str, Any]]], first_seq: int = 0) -> bytes:
    enc = Encoder()
    return b"".join(enc.encode(REQUEST, {"ServiceMethod": name, "Seq": first_seq + i})
                    + enc.encode(kind, args) for i, (name, kind, args) in enumerate(items))


def both(data: bytes, chunk: int, reg: Registry | None = None, **options: Any
         ) -> tuple[bytes, bytes]:
    """The output of a server with and without the fast path, fed ``data`` in chunks."""
    reg = reg or service()
    outputs = []
    for fast in (False, True):
        protocol, transport = served(reg, fast, **options)
        for i in range(0, len(data), chunk):
            protocol.dataReceived(data[i : i + chunk])
        outputs.append(transport.value())
        stats = protocol.stats
        outputs.append(repr((stats.calls, stats.call_errors, stats.protocol_errors,
                             transport.disconnecting)).encode())
    return outputs[0] + outputs[1], outputs[2] + outputs[3]


MIX = [
    ("Algorithm.Sum", ARGS, {"X": 1, "Y": 2}),
    ("Algorithm.Sum", ARGS, {"X": 0, "Y": 0}),  # both fields left out on the wire
    ("Algorithm.Sum", ARGS, {"X": -(2**63), "Y": 2**63 - 1}),
    ("Algorithm.Sum", ARGS, {"X": 2**63 - 1, "Y": 1}),  # overflow: an error answer
    ("Text.Hello", NAMED, {"Name": "wörld"}),
    ("Text.Hello", NAMED, {"Name": ""}),
    ("Mix.Describe", MIXED, {"F": 1.5, "B": True, "Data": b"\x00\xff", "N": -3}),
    ("Mix.Describe", MIXED, {"F": 0.0, "B": False, "Data": b"", "N": 0}),
    ("Async.Double", Struct("A", (Field("X", INT),)), {"X": 21}),
    ("Fail.Always", Struct("F", (Field("X", INT),)), {"X": 1}),
    ("Algorithm.Mul", ARGS, {"X": 1, "Y": 2}),  # unknown
    ("Algorithm.Sum", OTHER, {"A": 1, "B": 2}),  # no field in common: Go's refusal
]


@pytest.mark.parametrize("chunk", [1, 3, 17, 1 << 20])
def test_fast_path_answers_byte_for_byte_like_the_general_path(chunk: int) -> None:
    general, fast = both(calls(MIX * 3, first_seq=120), chunk)
    assert fast == general
    assert b"Algorithm.Sum" in fast


def test_fast_path_is_taken_after_the_first_call() -> None:
    reg = service()
    protocol, transport = served(reg, True)
    taken = []
    parse = protocol._fast.parse

    def spy(buf: bytes, pos: int, end: int) -> Any:
        found = parse(buf, pos, end)
        taken.append(found is not None)
        return found

    protocol._fast.parse = spy  # type: ignore[method-assign]
    protocol.dataReceived(calls([("Algorithm.Sum", ARGS, {"X": i, "Y": 1}) for i in range(5)]))
    assert sum(taken) == 4  # the first call defines the types and goes the general way
    values = [v for _, v in Decoder().messages(transport.value())]
    assert values[1::2] == [1, 2, 3, 4, 5]


def test_invalid_utf8_refused_on_the_fast_path_too() -> None:
    enc = Encoder()
    data = b"".join(
        enc.encode(REQUEST, {"ServiceMethod": "Text.Hello", "Seq": i})
        + enc.encode(NAMED, {"Name": name})
        for i, name in enumerate(["ok", "bad \udcff", "ok again"]))
    general, fast = both(data, 1 << 20)
    assert fast == general
    assert b"UTF-8" in fast or b"utf-8" in fast


def test_message_limit_holds_on_the_fast_path() -> None:
    # A body over max_message after the shape is known: refused (connection closed) alike.
    long = "x" * 300
    data = calls([("Text.Hello", NAMED, {"Name": "a"}), ("Text.Hello", NAMED, {"Name": long})])
    general, fast = both(data, 1 << 20, max_message=200)
    assert fast == general
    assert fast.endswith(b"True)")  # closed


def test_max_inflight_still_applies() -> None:
    from twisted.internet.defer import Deferred

    reg = Registry()
    waiting: list[Deferred[int]] = []

    @reg.register("Slow.Wait", [("x", int)], int, "waits")
    def wait(x: int) -> Deferred[int]:
        waiting.append(Deferred())
        return waiting[-1]

    one = Struct("W", (Field("X", INT),))
    protocol, transport = served(reg, True, max_inflight=2)
    protocol.dataReceived(calls([("Slow.Wait", one, {"X": i}) for i in range(5)]))
    assert len(waiting) == 2 and protocol.queued
    assert transport.value() == b""
    waiting[0].callback(7)
    assert len(waiting) == 3
    assert [v for _, v in Decoder().messages(transport.value())][1::2] == [7]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)),
                min_size=1, max_size=8),
       st.integers(0, 2**64 - 1), st.integers(1, 64))
def test_sum_calls_alike_for_any_ints_and_seqs(pairs: list[tuple[int, int]], seq: int,
                                              chunk: int) -> None:
    seq = min(seq, 2**64 - 1 - len(pairs))
    data = calls([("Algorithm.Sum", ARGS, {"X": x, "Y": y}) for x, y in pairs], first_seq=seq)
    general, fast = both(data, chunk)
    assert fast == general


def test_compiled_shapes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from netsuite.rpc.gob import _fastcall

    monkeypatch.setattr(_fastcall, "MAX_COMPILED", 1)
    protocol, transport = served(service(), True)
    protocol.dataReceived(calls([("Algorithm.Sum", ARGS, {"X": 1, "Y": 2}),
                                 ("Text.Hello", NAMED, {"Name": "a"})] * 2))
    assert list(protocol._fast._calls) == [b"Algorithm.Sum"]
    values = [v for _, v in Decoder().messages(transport.value())]
    assert values[1::2] == [3, "hello a", 3, "hello a"]


@pytest.mark.parametrize("seq", [b"\x00", b"\xff\x05", b"\xfe\x00\x85", b"\xff\x85",
                                 b"\xf7\x01\x00\x00\x00\x00\x00\x00\x00\x00"])
def test_unusual_seq_varints_answered_alike(seq: bytes) -> None:
    # Seq 0 sent rather than left out, non-minimal and over-long varints: Go's encoder
    # never writes them; the general path reads (or refuses) them, both paths alike.
    enc = Encoder()
    first = calls([("Algorithm.Sum", ARGS, {"X": 1, "Y": 1})])
    enc.encode(REQUEST, {"ServiceMethod": "x", "Seq": 1})  # define the types on enc too
    enc.encode(ARGS, {"X": 1})
    header_id = b"\xff\x82"  # the first user type id (65): rpc.Request
    header = header_id + b"\x01\x0dAlgorithm.Sum\x01" + seq + b"\x00"
    crafted = bytes((len(header),)) + header + enc.encode(ARGS, {"X": 2, "Y": 3})
    # Twice after two ordinary calls: the second time the compiled reply writer is in use.
    normal = (enc.encode(REQUEST, {"ServiceMethod": "Algorithm.Sum", "Seq": 7})
              + enc.encode(ARGS, {"X": 3, "Y": 4}))
    data = first + normal + crafted * 2
    general, fast = both(data, 1 << 20)
    assert fast == general
