"""Properties of the JSON object stream decoder: chunking never matters, limits always hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsuite.rpc.jsonrpc._codec import JsonObjectStream, JsonStreamError, RawFloat, dump_exact

scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=8)
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=12)
objects = st.dictionaries(st.text(max_size=6), values, max_size=4)
separators = st.sampled_from(["", " ", "\n", "\r\n", "\t ", "  \n"])


def feed_all(chunks: list[bytes], **limits: Any) -> list[Any]:
    stream = JsonObjectStream(**limits)
    out: list[Any] = []
    for chunk in chunks:
        out.extend(stream.feed(chunk))
    assert not stream.partial
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(objects, separators), min_size=1, max_size=5),
       st.booleans(), st.lists(st.integers(1, 40), max_size=40))
def test_any_chunking_same_objects(items: list[tuple[dict[str, Any], str]], ascii_only: bool,
                                   cuts: list[int]) -> None:
    text = "".join(json.dumps(obj, ensure_ascii=ascii_only) + sep for obj, sep in items)
    data = text.encode()
    chunks = []
    pos = 0
    for cut in cuts:
        chunks.append(data[pos:pos + cut])
        pos += cut
    chunks.append(data[pos:])
    expected = [obj for obj, _ in items]
    assert feed_all([data]) == expected
    assert feed_all(chunks) == expected
    assert feed_all([data[i:i + 1] for i in range(len(data))]) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=10))
def test_random_bytes_never_escape_or_overbuffer(noise: bytes, cuts: list[int]) -> None:
    for data in (noise, b'{"method":"A.B","params":[' + noise, b'{"a":"' + noise):
        stream = JsonObjectStream(max_size=200, max_depth=5)
        pos = 0
        try:
            for cut in [*cuts, len(data)]:
                stream.feed(data[pos:pos + cut])
                pos += cut
                assert len(stream._pending) <= 200 + 50
        except JsonStreamError as e:
            assert e.kind in ("malformed", "not-an-object", "too-big", "too-deep")


def test_byte_at_a_time_is_linear() -> None:
    """A 1 MiB request trickling in byte by byte must not rescan what it already saw."""
    import time

    data = b'{"a":"' + b"x\\\"" * 100_000 + b'","b":[' + b"[1]," * 20_000 + b'2]}'
    stream = JsonObjectStream(max_size=2_000_000)
    start = time.perf_counter()
    out = []
    for i in range(0, len(data), 7):
        out.extend(stream.feed(data[i:i + 7]))
    assert len(out) == 1 and len(out[0]["b"]) == 20_001
    assert time.perf_counter() - start < 10


def test_raw_float_keeps_text() -> None:
    [obj] = feed_all([b'{"a":1.50,"b":-0.0,"c":1E+400,"d":[2e-5]}'])
    assert type(obj["a"]) is RawFloat and obj["a"] == 1.5
    assert dump_exact(obj) == '{"a":1.50,"b":-0.0,"c":1E+400,"d":[2e-5]}'


@pytest.mark.parametrize(("data", "kind"), [
    (b'{"a":1,}', "malformed"),
    (b'{"a":NaN}', "malformed"),
    (b'{"a":-Infinity}', "malformed"),
    (b'{"a":[}', "malformed"),
    (b'{"a":{"b":1]', "malformed"),
    (b"[1]", "not-an-object"),
    (b"x", "not-an-object"),
    (b'{"a":' + b"[" * 10 + b"]" * 10 + b"}", "too-deep"),
    (b'{"a":"' + b"x" * 300, "too-big"),
])
def test_errors(data: bytes, kind: str) -> None:
    stream = JsonObjectStream(max_size=200, max_depth=5)
    with pytest.raises(JsonStreamError) as e:
        stream.feed(b'{"ok":1}' + data)
    assert e.value.kind == kind
    assert e.value.values == [{"ok": 1}]  # type: ignore[attr-defined]


def test_huge_integer_is_an_error_not_a_crash() -> None:
    """Past Python's integer digit limit (4300) json refuses the number: malformed."""
    stream = JsonObjectStream()
    with pytest.raises(JsonStreamError) as e:
        stream.feed(b'{"a":1' + b"0" * 5000 + b"}")
    assert e.value.kind == "malformed"
