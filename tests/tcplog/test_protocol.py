"""TCP line log: framing and logging in memory (StringTransport), any chunking."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher

from netsuite.tcplog import LineLogFactory, Stats, render_line


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Every log line netsuite.tcplog emits during the test."""
    lines: list[str] = []

    def observer(event: dict) -> None:
        if event.get("log_namespace", "").startswith("netsuite.tcplog"):
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    yield lines
    globalLogPublisher.removeObserver(observer)


def connect(factory: LineLogFactory, peer: object = None):
    peer = peer or IPv4Address("TCP", "192.0.2.7", 40000)
    proto = factory.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    proto.makeConnection(transport)
    return proto, transport


def test_connect_lines_disconnect(logged: list[str]) -> None:
    factory = LineLogFactory()
    proto, transport = connect(factory)
    proto.dataReceived(b"hello\r\nworld\n\nlast")
    proto.connectionLost(None)
    assert logged == [
        "connect 192.0.2.7:40000",
        "192.0.2.7:40000: hello",
        "192.0.2.7:40000: world",
        "192.0.2.7:40000: ",
        "192.0.2.7:40000: last",
        "disconnect 192.0.2.7:40000",
    ]
    assert transport.value() == b""  # never answers
    assert factory.stats == Stats(connections=1, connected=0, lines=4, bytes=18)


def test_ipv6_address_in_brackets(logged: list[str]) -> None:
    proto, _ = connect(LineLogFactory(), IPv6Address("TCP", "::1", 5555))
    proto.dataReceived(b"x\n")
    assert logged[:2] == ["connect [::1]:5555", "[::1]:5555: x"]


def test_invalid_utf8_logged_escaped_connection_stays(logged: list[str]) -> None:
    factory = LineLogFactory()
    proto, transport = connect(factory)
    proto.dataReceived(b"caf\xe9\nok \xc3\xa9\n")
    assert logged[1:] == ["192.0.2.7:40000: caf\\xe9", "192.0.2.7:40000: ok é"]
    assert not transport.disconnecting
    assert factory.stats.bad_encoding == 1


def test_control_characters_escaped() -> None:
    assert render_line(b"a\x1b[2Jb\tc\rd\x00") == ("a\\x1b[2Jb\tc\\x0dd\\x00", True)
    assert render_line(b"\xff") == ("\\xff", False)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_at_limit_is_fine(logged: list[str], ending: bytes) -> None:
    factory = LineLogFactory(max_line=10)
    proto, transport = connect(factory)
    proto.dataReceived(b"x" * 10 + ending)
    assert logged[-1] == "192.0.2.7:40000: " + "x" * 10
    assert not transport.disconnecting


@pytest.mark.parametrize("data", [b"x" * 11 + b"\n", b"x" * 11 + b"\r\n", b"x" * 12,
                                  b"ok\n" + b"y" * 5000 + b"\nnever\n"])
def test_over_long_line_logged_as_error_and_closed(logged: list[str], data: bytes) -> None:
    factory = LineLogFactory(max_line=10)
    proto, transport = connect(factory)
    proto.dataReceived(data)
    assert transport.disconnecting
    proto.dataReceived(b"after\n")
    proto.connectionLost(None)
    assert "192.0.2.7:40000: line too long (more than 10 bytes), closing" in logged
    assert not any("never" in line or "after" in line or "yyy" in line for line in logged)
    assert logged[-1] == "disconnect 192.0.2.7:40000"
    assert factory.stats.too_long == 1


def test_pending_carriage_return_not_yet_too_long(logged: list[str]) -> None:
    proto, transport = connect(LineLogFactory(max_line=10))
    proto.dataReceived(b"x" * 10 + b"\r")
    assert not transport.disconnecting
    proto.dataReceived(b"\n")
    assert logged[-1] == "192.0.2.7:40000: " + "x" * 10


def test_one_byte_over_the_limit_without_line_end_closes_at_once(logged: list[str]) -> None:
    """max_line + 1 bytes pending that are not ``...\\r``: too long already (as in chat),
    and never silently dropped if the client then disconnects."""
    factory = LineLogFactory(max_line=10)
    proto, transport = connect(factory)
    proto.dataReceived(b"x" * 11)
    assert transport.disconnecting
    proto.connectionLost(None)
    assert logged[-2:] == ["192.0.2.7:40000: line too long (more than 10 bytes), closing",
                           "disconnect 192.0.2.7:40000"]
    assert factory.stats.too_long == 1


def test_other_clients_unaffected(logged: list[str]) -> None:
    factory = LineLogFactory(max_line=10)
    bad, bad_transport = connect(factory, IPv4Address("TCP", "192.0.2.1", 1))
    good, good_transport = connect(factory, IPv4Address("TCP", "192.0.2.2", 2))
    bad.dataReceived(b"z" * 100)
    good.dataReceived(b"fine\n")
    assert bad_transport.disconnecting and not good_transport.disconnecting
    assert "192.0.2.2:2: fine" in logged
    assert factory.stats.connected == 2


lines_strategy = st.lists(
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(lines_strategy, st.booleans(), st.data())
def test_any_chunking_logs_the_same(lines: list[bytes], crlf: bool, data: st.DataObject) -> None:
    stream = b"".join(line + (b"\r\n" if crlf else b"\n") for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]

    def run(parts: list[bytes]) -> list[str]:
        seen: list[str] = []

        def observer(event: dict) -> None:
            if event.get("log_namespace", "").startswith("netsuite.tcplog"):
                seen.append(formatEvent(event))

        globalLogPublisher.addObserver(observer)
        try:
            factory = LineLogFactory(max_line=15)
            proto, _ = connect(factory)
            for part in parts:
                proto.dataReceived(part)
            proto.connectionLost(None)
        finally:
            globalLogPublisher.removeObserver(observer)
        return seen

    assert run(chunks) == run([stream])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=10))
def test_random_input_never_raises(chunks: list[bytes]) -> None:
    factory = LineLogFactory(max_line=16)
    proto, transport = connect(factory)
    for chunk in chunks:
        proto.dataReceived(chunk)
    assert len(proto._buffer) <= 17
    proto.connectionLost(None)
    assert transport.value() == b""
    assert factory.stats.connected == 0
