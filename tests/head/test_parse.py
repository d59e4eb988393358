"""HEAD client: targets, requests, head parsing, and the protocol in memory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from netsuite._endpoints import TargetError
from netsuite.head import (
    ConnectionClosedEarly,
    HeadProtocol,
    HeadTooLarge,
    MalformedResponse,
    ResponseHead,
    Target,
    build_request,
    find_head_end,
    parse_head,
    parse_target,
)


@pytest.mark.parametrize("text, expected", [
    ("example.com:8080", Target("example.com:8080", "example.com", 8080)),
    ("[::1]:80", Target("[::1]:80", "::1", 80)),
    ("http://example.com", Target("http://example.com", "example.com", 80)),
    ("HTTP://Example.com:81/a/b?x=1&y#frag",
     Target("HTTP://Example.com:81/a/b?x=1&y#frag", "example.com", 81, "/a/b?x=1&y")),
    ("https://[::1]/x", Target("https://[::1]/x", "::1", 443, "/x", tls=True)),
    ("https://h:8443", Target("https://h:8443", "h", 8443, "/", tls=True)),
])
def test_parse_target(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", [
    "example.com", "::1:80", "[::1]", "h:0", "h:99999", "ftp://h/", "http://", "http://h:x/",
    "http://u:p@h/", "http://h/a b", "http://h/\x00", "http://h/é", "", "http://h:0/",
])
def test_bad_targets(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)


def test_requests() -> None:
    assert build_request(parse_target("h:81")) == b"HEAD / HTTP/1.0\r\n\r\n"
    assert build_request(parse_target("http://h/x?y"), http11=True) == (
        b"HEAD /x?y HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert b"\r\nHost: [::1]:8080\r\n" in build_request(parse_target("[::1]:8080"), http11=True)
    assert b"\r\nHost: [::1]\r\n" in build_request(parse_target("https://[::1]/"), http11=True)
    assert b"\r\nHost: h:443\r\n" in build_request(parse_target("http://h:443/"), http11=True)


def test_find_head_end() -> None:
    assert find_head_end(b"HTTP/1.0 200 OK\r\nA: b\r\n") is None
    assert find_head_end(b"HTTP/1.0 200 OK\r\n\r\nbody") == 19
    assert find_head_end(b"HTTP/1.0 200 OK\n\nbody") == 17
    assert find_head_end(b"HTTP/1.0 200 OK\r\n\nbody") == 18
    data = b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n"
    assert find_head_end(data, start=len(data) - 1) == len(data)


def test_parse_head() -> None:
    head = parse_head(b"HTTP/1.1 404 Not Found\r\nServer: x\r\nX-Long: a\r\n  b\r\n"
                      b"Set-Cookie: 1\r\nSet-Cookie: 2\r\nEmpty:\r\n\r\n")
    assert head == ResponseHead("HTTP/1.1", 404, "Not Found", (
        ("Server", "x"), ("X-Long", "a b"), ("Set-Cookie", "1"), ("Set-Cookie", "2"),
        ("Empty", "")))
    assert head.status_line == "HTTP/1.1 404 Not Found"
    assert parse_head(b"HTTP/1.0 200\n\n").status_line == "HTTP/1.0 200"
    assert parse_head(b"HTTP/1.0 200 caf\xe9\n\n").reason == "café"
    assert parse_head(b"HTTP/1.0 200 OK\nServer : x\n\n").headers == (("Server", "x"),)


@pytest.mark.parametrize("head", [
    b"\r\n\r\n", b"HTTP/1.1 2000 OK\r\n\r\n", b"HTTP/1.1 OK\r\n\r\n", b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
])
def test_malformed_heads(head: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_head(head)


def connect(max_head: int = 1024) -> tuple[HeadProtocol, StringTransport, list]:
    proto = HeadProtocol(b"HEAD / HTTP/1.0\r\n\r\n", max_head)
    transport = StringTransport()
    proto.makeConnection(transport)
    outcome: list = []
    proto.finished.addBoth(outcome.append)
    return proto, transport, outcome


def test_protocol_sends_request_and_stops_at_end_of_head() -> None:
    proto, transport, outcome = connect()
    assert transport.value() == b"HEAD / HTTP/1.0\r\n\r\n"
    proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n")
    assert outcome == []
    proto.dataReceived(b"\r\n")  # no body, whatever Content-Length says
    assert outcome == [ResponseHead("HTTP/1.1", 200, "OK", (("Content-Length", "100000"),))]
    assert transport.disconnecting  # we close; we do not wait for the server
    proto.dataReceived(b"stray body bytes")
    proto.connectionLost(Failure(ConnectionDone()))
    assert len(outcome) == 1


def test_protocol_skips_interim_heads() -> None:
    proto, _, outcome = connect()
    proto.dataReceived(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                       b"HTTP/1.1 204 No Content\r\n\r\n")
    assert outcome[0].status == 204


@pytest.mark.parametrize("data, error, text", [
    (b"x" * 2000, MalformedResponse, "not an HTTP response"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 2000, HeadTooLarge, "larger than 1024"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 1010 + b"\r\n\r\n", HeadTooLarge, "larger"),
    (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", MalformedResponse, "bad header line"),
])
def test_protocol_errors_abort(data: bytes, error: type, text: str) -> None:
    proto, transport, outcome = connect()
    proto.dataReceived(data)
    assert isinstance(outcome[0], Failure)
    assert outcome[0].check(error)
    assert text in str(outcome[0].value)
    assert transport.disconnecting


@pytest.mark.parametrize("data, text", [(b"", "before any response"), (b"HTTP/1.1 2", "mid-head")])
def test_protocol_close_before_end(data: bytes, text: str) -> None:
    proto, _, outcome = connect()
    proto.dataReceived(data)
    proto.connectionLost(Failure(ConnectionDone()))
    assert outcome[0].check(ConnectionClosedEarly)
    assert text in str(outcome[0].value)


def test_protocol_other_connection_errors_pass_through() -> None:
    proto, _, outcome = connect()
    proto.connectionLost(Failure(ValueError("tls says no")))
    assert outcome[0].check(ValueError)


response_strategy = st.builds(
    lambda status, headers, nl: (f"HTTP/1.1 {status} R{nl}".encode()
                                 + b"".join(f"{n}: {v}{nl}".encode() for n, v in headers)
                                 + nl.encode()),
    st.integers(200, 599),
    st.lists(st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True),
                       st.from_regex(r"[ -~]{0,20}", fullmatch=True).map(str.strip)),
             max_size=8),
    st.sampled_from(["\r\n", "\n"]),
)


@settings(max_examples=200, deadline=None)
@given(response_strategy, st.data())
def test_any_split_gives_the_same_head(response: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(response)), max_size=8)))
    chunks = [response[a:b] for a, b in zip([0, *cuts], [*cuts, len(response)], strict=True)]
    proto, _, outcome = connect(max_head=65536)
    for chunk in chunks:
        proto.dataReceived(chunk)
    assert outcome == [parse_head(response)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_random_input_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    proto, _, outcome = connect(max_head=512)
    for chunk in [b"HTTP/1.1 ", *chunks]:
        proto.dataReceived(chunk)
        assert len(proto._buffer) <= 512 + 300
    proto.connectionLost(Failure(ConnectionDone()))
    assert len(outcome) == 1
    if isinstance(outcome[0], Failure):
        assert outcome[0].check(MalformedResponse, HeadTooLarge, ConnectionClosedEarly)


def test_failure_reasons() -> None:
    from OpenSSL import SSL
    from twisted.internet import defer, error

    from netsuite.head._cli import describe_failure

    def reason(exc: BaseException) -> str:
        return describe_failure(Failure(exc), 2.5)

    assert reason(error.ConnectingCancelledError(None)) == "timed out after 2.5 s"
    assert reason(defer.TimeoutError()) == "timed out after 2.5 s"
    assert reason(error.ConnectionRefusedError()) == "connection refused"
    assert reason(error.DNSLookupError("x")) == "cannot resolve host name"
    assert describe_failure(
        Failure(SSL.Error([("SSL routines", "", "certificate verify failed")])), 2.5, "h:443"
    ) == ("TLS error: certificate verify failed (h:443) "
          "(--ca FILE trusts your CA; --insecure skips the check)")
    assert reason(MalformedResponse("bad status line")) == "malformed response: bad status line"
