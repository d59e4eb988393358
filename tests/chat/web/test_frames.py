"""The inbound frame parser, in memory: against wsproto's client encoder (any split of
the bytes), and every protocol error RFC 6455 names for a server."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from netsuite.chat.web._frames import InboundFrames, unmask
from tests.chat.web.rawws import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.current = b""
        self.events: list[tuple] = []

    def part(self, data: bytes, finished: bool) -> None:
        self.current += data
        if finished:
            self.messages.append(("msg", self.current))
            self.current = b""

    def ping(self, payload: bytes) -> None:
        self.events.append(("ping", payload))

    def close(self, code: int | None, reason: str) -> None:
        self.events.append(("close", code, reason))

    def failed(self, code: int) -> None:
        self.events.append(("failed", code))


def parse(data: bytes, splits: list[int] = ()) -> Sink:
    sink = Sink()
    parser = InboundFrames(sink)
    last = 0
    for cut in [*sorted(set(splits)), len(data)]:
        parser.feed(data[last:cut])
        last = cut
    return sink


message = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=300), st.integers(1, 4)),
    st.tuples(st.just("binary"), st.binary(max_size=300), st.integers(1, 4)),
    st.tuples(st.just("ping"), st.binary(max_size=125), st.just(1)),
)


@given(st.lists(message, max_size=8), st.lists(st.integers(0, 4000), max_size=12))
def test_any_stream_from_a_real_client_in_any_split(messages, splits) -> None:
    client = Connection(ConnectionType.CLIENT)
    data = b""
    expected = []
    for kind, body, pieces in messages:
        if kind == "ping":
            data += client.send(Ping(body))
            continue
        event = TextMessage if kind == "text" else BytesMessage
        raw = body.encode() if kind == "text" else body
        step = max(1, len(body) // pieces)
        chunks = [body[i:i + step] for i in range(0, len(body), step)] or [body]
        for i, chunk in enumerate(chunks):
            data += client.send(event(data=chunk, message_finished=i == len(chunks) - 1))
        expected.append(("msg", raw))
    sink = parse(data, [s for s in splits if s <= len(data)])
    assert sink.messages == expected
    assert [e for e in sink.events if e[0] == "failed"] == []
    assert [e[1] for e in sink.events] == [b for k, b, _ in messages if k == "ping"]


def test_utf8_checked_across_fragments_and_reads() -> None:
    e = "é".encode()
    data = frame(TEXT, b"ok " + e[:1], fin=False) + frame(CONT, e[1:] + b"!")
    assert parse(data, list(range(len(data)))).messages == [("msg", "ok é!".encode())]
    bad = frame(TEXT, b"fine", fin=False) + frame(CONT, b"\xff")
    assert parse(bad).events == [("failed", 1007)]
    truncated = frame(TEXT, b"cut " + e[:1])  # a character cut by the end of the message
    assert parse(truncated).events == [("failed", 1007)]
    assert parse(frame(BINARY, b"\xff")).messages == [("msg", b"\xff")]  # not checked


def raw_frame(first: int, payload: bytes, masked: bool = True) -> bytes:
    return bytes([first, (0x80 if masked else 0) | len(payload)]) + (
        b"\0\0\0\0" if masked else b"") + payload


@pytest.mark.parametrize(("data", "code"), [
    (raw_frame(0x81, b"x", masked=False), 1002),  # unmasked
    (raw_frame(0x80 | 0x40 | TEXT, b"x"), 1002),  # reserved bit
    (raw_frame(0x83, b"x"), 1002),  # reserved data opcode
    (raw_frame(0x8B, b"x"), 1002),  # reserved control opcode
    (raw_frame(PING, b"x"), 1002),  # fragmented control frame
    (bytes([0x89, 0x80 | 126]) + struct.pack("!H", 126) + b"\0" * 130, 1002),  # long control
    (raw_frame(0x80 | CONT, b"x"), 1002),  # continuation without a message
    (raw_frame(TEXT, b"a") + raw_frame(0x81, b"b"), 1002),  # new message mid-message
    (bytes([0x82, 0xFF]) + b"\xff" * 8 + b"\0" * 4, 1002),  # 64-bit length with top bit
    (raw_frame(0x88, b"\x03"), 1002),  # one-byte close payload
    (raw_frame(0x88, struct.pack("!H", 1005)), 1002),  # status a peer may not send
    (raw_frame(0x88, struct.pack("!H", 999)), 1002),
    (raw_frame(0x88, struct.pack("!H", 1000) + b"\xff"), 1007),  # reason not UTF-8
])
def test_protocol_errors(data: bytes, code: int) -> None:
    sink = parse(data + frame(TEXT, b"never read"))
    assert sink.events == [("failed", code)]
    assert sink.messages == []


def test_control_frames_between_fragments_and_the_close() -> None:
    data = (frame(TEXT, b"a", fin=False) + frame(PING, b"p") + frame(PONG, b"q")
            + frame(CONT, b"b") + frame(CLOSE, struct.pack("!H", 1001) + b"away")
            + frame(TEXT, b"after the close"))
    sink = parse(data, [3, 9, 20])
    assert sink.messages == [("msg", b"ab")]
    assert sink.events == [("ping", b"p"), ("close", 1001, "away")]
    assert parse(frame(CLOSE, b"")).events == [("close", None, "")]


def test_payload_handed_over_as_it_arrives() -> None:
    """A big frame is passed on in pieces as they come, not held until it is whole."""
    sink = Sink()
    parser = InboundFrames(sink)
    data = frame(BINARY, b"z" * 100_000)
    parser.feed(data[:5000])
    assert 4000 < len(sink.current) < 5000
    parser.feed(data[5000:])
    assert sink.messages == [("msg", b"z" * 100_000)]


@given(st.binary(max_size=64), st.binary(min_size=4, max_size=4), st.integers(0, 3))
def test_unmask_is_xor_with_the_rotated_key(data: bytes, key: bytes, offset: int) -> None:
    expected = bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))
    assert unmask(data, key, offset) == expected


def test_close_event_from_wsproto_client_is_understood() -> None:
    client = Connection(ConnectionType.CLIENT)
    data = client.send(CloseConnection(code=1000, reason="bye"))
    assert parse(data).events == [("close", 1000, "bye")]
