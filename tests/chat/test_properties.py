"""Property-based tests of the chat parsers: chunking, random and mutated input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netsuite.chat._wire import Event, is_valid_nick, parse_event
from tests.chat.harness import Chat

LINES = st.lists(
    st.one_of(
        # no lone surrogates (category Cs): they have no UTF-8 encoding, so no client can
        # send them (the long profile found '\ud800')
        st.text(alphabet=st.characters(exclude_characters="\n\r/", exclude_categories=("Cs",)),
                max_size=30),
        st.sampled_from(["/who", "/ping", "/ping t", "/me hops", "/msg b hi", "//x", "/nick zed",
                         "/nick b", "/bogus", "", "/help"]),
    ),
    max_size=25,
)


def run(chunks: list[bytes]) -> tuple[list[str], list[str], bool]:
    chat = Chat(max_line=64)
    a, b = chat.connect("a"), chat.connect("b")
    a.take(), b.take()
    for chunk in chunks:
        a.send(chunk)
    return a.take(), b.take(), a.closed


def cut(data: bytes, points: list[int]) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in points})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return [c for c in out if c]


@settings(max_examples=150, deadline=None)
@given(LINES, st.lists(st.integers(min_value=0), max_size=20), st.booleans())
def test_any_split_gives_the_same_events(lines: list[str], points: list[int], crlf: bool) -> None:
    data = "".join(line + ("\r\n" if crlf else "\n") for line in lines).encode()
    whole = run([data])
    assert run(cut(data, points)) == whole
    assert run([bytes([x]) for x in data]) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=12))
def test_random_bytes_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    chat = Chat(max_line=64)
    a, b = chat.connect("a"), chat.connect("b")
    for chunk in chunks:
        a.send(chunk)
        assert len(a.protocol._buf) <= 65
    for line in a.take():
        assert line.split(" ", 1)[0] in Event.ARITY
    if a.closed:
        assert any(line.startswith("PART a ") for line in b.take())
    else:
        b.send("/who\n")
        assert b.take()[-1].startswith("WHO ")


@settings(max_examples=200, deadline=None)
@given(LINES, st.integers(min_value=0), st.binary(min_size=1, max_size=4))
def test_mutated_stream(lines: list[str], where: int, junk: bytes) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    where %= len(data) + 1
    chat = Chat(max_line=64)
    a, b = chat.connect("a"), chat.connect("b")
    a.send(data[:where] + junk + data[where:])
    b.send("/ping still here\n")
    assert b.take()[-1] == "PONG still here"


@given(st.text(max_size=40))
def test_nick_rule(name: str) -> None:
    ok = 1 <= len(name) <= 32 and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    assert is_valid_nick(name) == ok


def test_parse_event() -> None:
    assert parse_event("MSG bob hi there") == Event("MSG", ["bob", "hi there"])
    assert parse_event("PART bob quit see you") == Event("PART", ["bob", "quit see you"])
    assert parse_event("WHO a b c") == Event("WHO", ["a b c"])
    assert parse_event("PONG") == Event("PONG", [""])
    assert parse_event("ERR nick-in-use x is taken") == Event("ERR", ["nick-in-use",
                                                                      "x is taken"])
    assert parse_event("FUTURE a b") == Event("FUTURE", ["a b"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10))
def test_client_survives_any_server_bytes(chunks: list[bytes]) -> None:
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from netsuite.chat._client import ChatClient

    shown: list[str] = []
    client = ChatClient(Clock(), shown.append, "alice", local_time=lambda t: "T")
    client.makeConnection(StringTransport())
    for chunk in chunks:
        client.dataReceived(chunk)
    for line in shown:
        assert line.startswith("T ")
        assert not any(ord(c) < 32 and c != "\t" for c in line)
