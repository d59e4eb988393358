"""XML-RPC over HTTP, in memory: the twisted.web site, its fast path, limits and faults."""

from __future__ import annotations

import gzip
import xmlrpc.client
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from netsuite.rpc import SERVICE, ApplicationError, Registry
from netsuite.rpc.xmlrpc._encode import encode_call
from netsuite.rpc.xmlrpc._protocol import LINGER, LINGER_IDLE, XmlRpcSite, xmlrpc_factory

SUM = xmlrpc.client.dumps((1, 2), "Algorithm.Sum").encode()
PEER = IPv4Address("TCP", "127.0.0.1", 40000)


def post(body: bytes, path: bytes = b"/RPC2", version: bytes = b"HTTP/1.1",
         headers: bytes = b"") -> bytes:
    """A POST request with a Content-Length."""
    return (b"POST %s %s\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (path, version, len(body), headers, body))


class HalfClosingTransport(StringTransport):
    """A StringTransport that can also shut its write side (as TCP and TLS transports can)."""

    write_closed = False

    def loseWriteConnection(self) -> None:
        self.write_closed = True


def connect(site: XmlRpcSite | None = None) -> tuple[XmlRpcSite, object, StringTransport]:
    """A site on a Clock and one in-memory connection to it."""
    site = site or xmlrpc_factory(SERVICE, reactor=Clock())
    proto = site.buildProtocol(PEER)
    transport = HalfClosingTransport(peerAddress=PEER)
    proto.makeConnection(transport)
    return site, proto, transport


def responses(data: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Split HTTP/1.1 responses with Content-Length: (status, headers, body) each."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", len(rest)))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def test_sum_answered_and_connection_kept() -> None:
    site, proto, transport = connect()
    proto.dataReceived(post(SUM))
    proto.dataReceived(post(SUM))
    answers = responses(transport.value())
    assert [a[0] for a in answers] == [200, 200]
    assert all(xmlrpc.client.loads(a[2])[0] == (3,) for a in answers)
    assert answers[0][1][b"content-type"] == b"text/xml"
    assert not transport.disconnecting
    assert site.stats.requests == 2 and site.stats.fast_path == 2


def fault_of(body: bytes) -> tuple[int, str]:
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(body)
    return info.value.faultCode, info.value.faultString


def result_of(body: bytes) -> object:
    return xmlrpc.client.loads(body, use_builtin_types=True)[0][0]


def rpc(site: XmlRpcSite, name: str, *params: object) -> bytes:
    """The response body of one call through the site's dispatcher."""
    body, close = site.dispatcher.handle(encode_call(name, list(params)))
    assert not close
    return body


@pytest.fixture
def site() -> XmlRpcSite:
    return xmlrpc_factory(SERVICE, reactor=Clock())


# -- the dispatcher: results, faults, introspection, multicall ------------------------------


def test_results_positional_struct_and_i8(site: XmlRpcSite) -> None:
    assert result_of(rpc(site, "Algorithm.Sum", 1, 2)) == 3
    assert result_of(rpc(site, "Algorithm.Sum", {"X": 2**31 - 1, "Y": 1})) == 2**31
    assert b"<i8>2147483648</i8>" in rpc(site, "Algorithm.Sum", {"x": 2**31 - 1, "y": 1})
    assert result_of(rpc(site, "Algorithm.Sum", -(2**63), 2**63 - 1)) == -1
    assert result_of(rpc(site, "Programmer.GetSkill", "J", "G")) == "Skill1:J，Skill2G"
    assert result_of(rpc(site, "Programmer.GetSkill", {"Java": "<", "Go": "&"})) == \
        "Skill1:<，Skill2&"


@pytest.mark.parametrize("name, params, code, text", [
    ("Algorithm.Sum", [2**62, 2**62], -32500, "overflow"),
    ("Algorithm.Sum", [-(2**63), -1], -32500, "overflow"),
    ("Algorithm.Sum", [1], -32602, "takes 2 arguments"),
    ("Algorithm.Sum", ["1", 2], -32602, "x: expected int64, got string"),
    ("Algorithm.Sum", [True, 2], -32602, "x: expected int64, got bool"),
    ("Algorithm.Sum", [{"X": 1}], -32602, "missing member"),
    ("Algorithm.Sum", [{"X": 1, "Y": 2, "Z": 3}], -32602, "unexpected member"),
    ("Programmer.GetSkill", [1, "a"], -32602, "java: expected string, got integer"),
    ("Algorithm.Mul", [1, 2], -32601, "rpc: can't find method Algorithm.Mul"),
    ("Nope.Sum", [], -32601, "rpc: can't find service Nope.Sum"),
    ("NoDot", [], -32601, "rpc: service/method request ill-formed: NoDot"),
    ("system.nothing", [], -32601, "can't find"),
    ("system.methodHelp", [], -32602, "one string"),
    ("system.methodHelp", ["No.Such"], -32601, "can't find service"),
    ("system.methodSignature", [1], -32602, "one string"),
    ("system.listMethods", [1], -32602, "no arguments"),
    ("system.multicall", [], -32602, "one array"),
    ("system.multicall", [[{}] * 1001], -32602, "at most 1000"),
])
def test_faults(site: XmlRpcSite, name: str, params: list, code: int, text: str) -> None:
    got_code, got_text = fault_of(rpc(site, name, *params))
    assert got_code == code
    assert text in got_text


def test_i8_beyond_64_bits_is_bad_params(site: XmlRpcSite) -> None:
    body = (b"<methodCall><methodName>Algorithm.Sum</methodName><params>"
            b"<param><value><i8>9223372036854775808</i8></value></param>"
            b"<param><value><int>1</int></value></param></params></methodCall>")
    code, text = fault_of(site.dispatcher.handle(body)[0])
    assert code == -32602 and "outside the signed 64-bit range" in text


def test_parse_errors_and_invalid_requests(site: XmlRpcSite) -> None:
    assert fault_of(site.dispatcher.handle(b"<methodCall")[0])[0] == -32700
    assert fault_of(site.dispatcher.handle(b"<!DOCTYPE x><methodCall/>")[0])[0] == -32700
    assert fault_of(site.dispatcher.handle(b"<methodResponse/>")[0])[0] == -32600
    assert site.stats.parse_errors == 3 and site.stats.faults == 3


def test_internal_error_and_application_error_of_a_users_method() -> None:
    registry = Registry()

    @registry.register("Box.Boom", [], int, "Always fails.")
    def boom() -> int:
        raise ZeroDivisionError("secret detail")

    @registry.register("Box.Refuse", [("why", str)], str, "Refuses.")
    def refuse(why: str) -> str:
        raise ApplicationError(f"refused: {why}")

    @registry.register("Box.Control", [], str, "Returns a NUL.")
    def control() -> str:
        return "a\x00"

    seen: list[tuple[str, str, str]] = []
    registry.observers.append(lambda t, m, o, s: seen.append((t, m, o)))
    site = xmlrpc_factory(registry, reactor=Clock())
    code, text = fault_of(rpc(site, "Box.Boom"))
    assert code == -32603 and "secret" not in text
    assert fault_of(rpc(site, "Box.Refuse", "no")) == (-32500, "refused: no")
    assert fault_of(rpc(site, "Box.Control"))[0] == -32603
    assert seen[0] == ("xmlrpc", "Box.Boom", "internal")
    assert seen[1] == ("xmlrpc", "Box.Refuse", "application-error")
    assert "Box.Boom" in result_of(rpc(site, "system.listMethods"))
    assert "Algorithm.Sum" not in result_of(rpc(site, "system.listMethods"))


def test_introspection(site: XmlRpcSite) -> None:
    names = result_of(rpc(site, "system.listMethods"))
    assert names == ["Algorithm.Sum", "Programmer.GetSkill", "system.listMethods",
                     "system.methodHelp", "system.methodSignature", "system.multicall"]
    assert result_of(rpc(site, "system.methodSignature", "Algorithm.Sum")) == [
        ["int", "int", "int"]]
    assert result_of(rpc(site, "system.methodSignature", "Programmer.GetSkill")) == [
        ["string", "string", "string"]]
    assert result_of(rpc(site, "system.methodSignature", "system.multicall")) == [
        ["array", "array"]]
    assert result_of(rpc(site, "system.methodHelp", "Algorithm.Sum")) == \
        SERVICE.lookup("Algorithm.Sum").help
    assert "multicall" in result_of(rpc(site, "system.methodHelp", "system.multicall"))


def test_multicall(site: XmlRpcSite) -> None:
    calls = [
        {"methodName": "Algorithm.Sum", "params": [1, 2]},
        {"methodName": "Algorithm.Sum", "params": [{"X": 2**40, "Y": 1}]},
        {"methodName": "Algorithm.Sum", "params": [2**62, 2**62]},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "system.listMethods"},
        {"methodName": 5, "params": []},
        "not a struct",
        {"methodName": "Nope.X", "params": []},
    ]
    results = result_of(rpc(site, "system.multicall", calls))
    assert results[0] == [3]
    assert results[1] == [2**40 + 1]
    assert results[2]["faultCode"] == -32500
    assert results[3] == {"faultCode": -32601,
                          "faultString": "system.multicall cannot be called from "
                                         "system.multicall"}
    assert "Algorithm.Sum" in results[4][0]
    assert results[5]["faultCode"] == results[6]["faultCode"] == -32602
    assert results[7]["faultCode"] == -32601
    assert result_of(rpc(site, "system.multicall",
                         [{"methodName": "Algorithm.Sum", "params": [1, 1]}] * 1000)) == \
        [[2]] * 1000


# -- HTTP: paths, methods, keep-alive, both paths alike -----------------------------------


def test_other_paths_404_and_get_405(site: XmlRpcSite) -> None:
    for request, status in [
        (post(SUM, path=b"/"), 404),
        (post(SUM, path=b"/RPC3"), 404),
        (post(SUM, path=b"/RPC2/x"), 404),
        (b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"PUT /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    ]:
        _, proto, transport = connect(site)
        proto.dataReceived(request)
        (answer,) = responses(transport.value())
        assert answer[0] == status, request
        if status == 405:
            assert answer[1][b"allow"] == b"POST"
        proto.connectionLost(None)
    assert site.stats.requests == 0


def test_query_string_ignored_and_slow_path_same_answer(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM, path=b"/RPC2?x=1"))
    (slow,) = responses(transport.value())
    transport.clear()
    proto.dataReceived(post(SUM))
    (fast,) = responses(transport.value())
    assert site.stats.fast_path == 1 and site.stats.requests == 2
    assert slow[0] == fast[0] == 200
    assert slow[2] == fast[2]
    assert slow[1][b"content-type"] == fast[1][b"content-type"] == b"text/xml"


def test_pipelined_requests_answered_in_order(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    other = encode_call("Algorithm.Sum", [5, 5])
    proto.dataReceived(post(SUM) + post(other) + post(SUM))
    assert [result_of(a[2]) for a in responses(transport.value())] == [3, 10, 3]
    assert not transport.disconnecting


def test_connection_keep_alive_header_takes_the_fast_path(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM, headers=b"Connection: Keep-Alive\r\n"))
    proto.dataReceived(post(SUM, headers=b"Connection: keep-alive, Upgrade\r\n"))
    assert [result_of(a[2]) for a in responses(transport.value())] == [3, 3]
    assert site.stats.fast_path == 1 and site.stats.requests == 2
    assert not transport.disconnecting


def test_http10_closes_after_answer(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM, version=b"HTTP/1.0"))
    assert result_of(responses(transport.value())[0][2]) == 3
    assert transport.disconnecting


def test_connection_close_header_honoured(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM, headers=b"Connection: close\r\n"))
    (answer,) = responses(transport.value())
    assert result_of(answer[2]) == 3 and answer[1][b"connection"] == b"close"
    assert transport.disconnecting


def test_expect_continue(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    request = post(SUM, headers=b"Expect: 100-continue\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    proto.dataReceived(head + b"\r\n\r\n")
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.clear()
    proto.dataReceived(body)
    assert result_of(responses(transport.value())[0][2]) == 3


def test_chunked_body_answered(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(SUM[i:i + 50]), SUM[i:i + 50])
                       for i in range(0, len(SUM), 50)) + b"0\r\n\r\n"
    proto.dataReceived(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + chunked)
    assert result_of(responses(transport.value())[0][2]) == 3


def test_gzip_request_bodies(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(gzip.compress(SUM), headers=b"Content-Encoding: gzip\r\n"))
    (answer,) = responses(transport.value())
    assert result_of(answer[2]) == 3
    for body, encoding, status in [
        (zlib.compress(SUM), b"deflate", 415),
        (b"not gzip", b"gzip", 400),
        (gzip.compress(SUM)[:-9], b"gzip", 400),
        (gzip.compress(SUM) + b"junk", b"x-gzip", 400),
    ]:
        _, proto, transport = connect(site)
        proto.dataReceived(post(body, headers=b"Content-Encoding: " + encoding + b"\r\n"))
        (answer,) = responses(transport.value())
        assert answer[0] == status, (body, encoding)
        assert not transport.disconnecting


def test_gzip_bomb_refused_without_inflating_it(site: XmlRpcSite) -> None:
    bomb = gzip.compress(b"<" * (64 * 1024 * 1024))  # 64 MiB in ~64 kB
    assert len(bomb) < 1024 * 1024
    _, proto, transport = connect(site)
    proto.dataReceived(post(bomb, headers=b"Content-Encoding: gzip\r\n"))
    (answer,) = responses(transport.value())
    assert answer[0] == 413 and b"once decompressed" in answer[2]
    assert transport.disconnecting
    assert site.stats.too_large == 1 and site.stats.requests == 0


# -- limits -------------------------------------------------------------------------------


def test_content_length_over_limit_refused_at_once(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                       % (1024 * 1024 + 1))
    (answer,) = responses(transport.value())
    assert answer[0] == 413 and answer[1][b"connection"] == b"close"
    assert site.stats.too_large == 1 and site.stats.requests == 0
    assert transport.write_closed and not transport.disconnecting
    # The body that follows is drained, never buffered; the connection closes once the
    # client has been quiet for LINGER_IDLE seconds...
    transport.clear()
    for _ in range(3):
        site.reactor.advance(LINGER_IDLE - 1)
        proto.dataReceived(b"x" * 65536)
    assert transport.value() == b""
    assert proto._buffer == b"" and not proto._dataBuffer
    assert not transport.disconnected
    site.reactor.advance(LINGER_IDLE)
    assert transport.disconnected  # aborted (StringTransport: abortConnection)


def test_refused_connection_lingers_at_most_linger_seconds(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    for _ in range(int(LINGER)):
        site.reactor.advance(1)
        proto.dataReceived(b"x" * 1024)
    assert transport.disconnected
    assert not site.reactor.getDelayedCalls() or all(
        call.func.__name__ == "_updateLogDateTime" for call in site.reactor.getDelayedCalls())


@pytest.mark.parametrize("path", [b"/RPC2", b"/elsewhere"])
def test_absurd_content_length_is_413_not_a_traceback(site: XmlRpcSite, path: bytes) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(b"POST %s HTTP/1.1\r\nContent-Length: %s\r\nHost: x\r\n\r\n<methodCall>"
                       % (path, b"9" * 5000))
    (answer,) = responses(transport.value())
    assert answer[0] == 413 and transport.write_closed
    assert site.stats.too_large == 1


def test_exactly_the_limit_is_accepted() -> None:
    site = xmlrpc_factory(SERVICE, reactor=Clock(), max_body=len(SUM))
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM))
    assert result_of(responses(transport.value())[0][2]) == 3
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM + b" "))
    assert responses(transport.value())[0][0] == 413


def test_chunked_body_counted_as_it_arrives(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"<" * 65536
    for _ in range(16):
        proto.dataReceived(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    assert transport.value() == b""  # exactly 1 MiB so far: still fine
    request = proto.requests[0]
    assert request.content.tell() == 1024 * 1024
    proto.dataReceived(b"1\r\nx\r\n")
    (answer,) = responses(transport.value())
    assert answer[0] == 413
    assert site.stats.too_large == 1 and site.stats.requests == 0
    proto.dataReceived(b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk))
    assert request.content.tell() == 1024 * 1024  # nothing more kept
    assert responses(transport.value())[0][0] == 413 and len(responses(transport.value())) == 1


def test_too_deep_is_a_fault_then_close(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    deep = (b"<methodCall><methodName>a.b</methodName><params><param>"
            + b"<value><array><data>" * 40 + b"</data></array></value>" * 40
            + b"</param></params></methodCall>")
    proto.dataReceived(post(deep))
    (answer,) = responses(transport.value())
    assert fault_of(answer[2]) == (-32700, "parse error: elements nested deeper than 100 levels")
    assert answer[1][b"connection"] == b"close"
    assert transport.disconnecting
    assert site.stats.depth_closes == 1
    # The slow path does the same.
    _, proto, transport = connect(site)
    request = post(deep)
    proto.dataReceived(request[:10])
    proto.dataReceived(request[10:])
    assert fault_of(responses(transport.value())[0][2])[0] == -32700
    assert transport.disconnecting


def test_idle_connection_times_out() -> None:
    clock = Clock()
    site = xmlrpc_factory(SERVICE, reactor=clock, idle_timeout=10)
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM))
    clock.advance(9)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting


def test_graceful_close_idle_and_busy(site: XmlRpcSite) -> None:
    _, idle, idle_transport = connect(site)
    idle.dataReceived(post(SUM))
    idle.graceful_close()
    assert idle_transport.disconnecting
    _, busy, transport = connect(site)
    request = post(SUM)
    busy.dataReceived(request[:-5])
    busy.graceful_close()
    assert not transport.disconnecting
    busy.dataReceived(request[-5:])
    (answer,) = responses(transport.value())
    assert result_of(answer[2]) == 3 and answer[1][b"connection"] == b"close"
    assert transport.disconnecting


def test_bad_http_gets_400_and_others_unaffected(site: XmlRpcSite) -> None:
    _, bad, bad_transport = connect(site)
    bad.dataReceived(b"POST /RPC2 HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    assert bad_transport.value().startswith(b"HTTP/1.1 400")
    _, good, transport = connect(site)
    good.dataReceived(post(SUM))
    assert result_of(responses(transport.value())[0][2]) == 3


@pytest.mark.parametrize("head", [
    b"POST /RPC2 HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n",
])
def test_overlong_line_gets_400_then_close(site: XmlRpcSite, head: bytes) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(head)
    assert transport.value() == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert transport.disconnecting


def test_nothing_read_after_a_400(site: XmlRpcSite) -> None:
    # Found by hypothesis: more data after the 400 once made twisted.web's channel read
    # an end of headers for a request line it had refused.
    _, proto, transport = connect(site)
    proto.dataReceived(b"\x00\r\n")
    assert transport.value() == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    proto.dataReceived(b"\r\n\r\n" + post(SUM))
    assert transport.value() == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert site.stats.requests == 0


def test_abrupt_close_mid_body_then_good_call(site: XmlRpcSite) -> None:
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM)[:-10])
    proto.connectionLost(Failure(ConnectionDone()))
    _, proto, transport = connect(site)
    proto.dataReceived(post(SUM))
    assert result_of(responses(transport.value())[0][2]) == 3


# -- properties --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 400), max_size=8))
def test_any_split_gives_the_same_answers(cuts: list[int]) -> None:
    stream = post(SUM) + post(encode_call("Programmer.GetSkill", ["a", "b"])) + post(SUM)
    _, whole, whole_transport = connect()
    whole.dataReceived(stream)
    _, split, split_transport = connect()
    start = 0
    for cut in sorted(set(cuts)):
        split.dataReceived(stream[start:cut])
        start = max(start, cut)
    split.dataReceived(stream[start:])
    expected = [a[2] for a in responses(whole_transport.value())]
    assert len(expected) == 3
    assert [a[2] for a in responses(split_transport.value())] == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 300), st.binary(max_size=10))
def test_mutated_bodies_always_get_an_answer(junk: bytes, cut: int, insert: bytes) -> None:
    base = encode_call("Algorithm.Sum", [1, {"X": [1, "a"]}])
    for body in (junk, base[:cut] + insert + base[cut:]):
        _, proto, transport = connect()
        proto.dataReceived(post(body))
        (answer,) = responses(transport.value())
        assert answer[0] == 200
        try:
            xmlrpc.client.loads(answer[2])
        except xmlrpc.client.Fault as fault:
            assert fault.faultCode in (-32700, -32600, -32601, -32602)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_out_of_the_channel(data: bytes) -> None:
    _, proto, transport = connect()
    proto.dataReceived(data)
    proto.dataReceived(b"\r\n\r\n")
    assert len(transport.value()) < 4096
    proto.connectionLost(Failure(ConnectionDone()))


header_names = st.sampled_from([b"Content-Length", b"content-length", b"Transfer-Encoding",
                                b"Expect", b"Connection", b"Content-Encoding", b"Host",
                                b"X-Junk", b"Bad Name", b""])
header_values = st.sampled_from([b"0", b"5", b"1048577", b"9" * 5000, b"-1", b"chunked",
                                 b"identity", b"gzip", b"100-continue", b"close",
                                 b"keep-alive", b"", b"\x00", b"\xff\xfe", b" 12 "])


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([b"POST /RPC2 HTTP/1.1", b"POST /RPC2 HTTP/1.0", b"GET /RPC2 HTTP/1.1",
                        b"POST / HTTP/1.1", b"POST /RPC2 HTTP/9.9", b"POST /RPC2"]),
       st.lists(st.tuples(header_names, header_values), max_size=5),
       st.binary(max_size=64), st.booleans())
def test_random_headers_always_get_an_answer_or_a_close(request_line: bytes,
                                                        headers: list[tuple[bytes, bytes]],
                                                        body: bytes, split: bool) -> None:
    site, proto, transport = connect()
    data = request_line + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers)
    data += b"\r\n" + body
    if split:
        for index in range(0, len(data), 7):
            proto.dataReceived(data[index:index + 7])
    else:
        proto.dataReceived(data)
    if transport.disconnecting:  # a real transport would now close and tell the protocol
        proto.connectionLost(Failure(ConnectionDone()))
    else:
        site.reactor.advance(100)  # any idle or linger timer fires
        assert transport.disconnecting or not site.reactor.getDelayedCalls()
        proto.connectionLost(Failure(ConnectionDone()))
    out = transport.value()
    assert out == b"" or out.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "))
