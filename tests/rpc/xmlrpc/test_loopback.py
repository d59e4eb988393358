"""XML-RPC over real loopback sockets: the stdlib client, raw sockets for bad input, TLS, our
``netsuite call xmlrpc`` client, and the twistd plugin."""

from __future__ import annotations

import http.client
import signal
import socket
import struct
import subprocess
import sys
import xmlrpc.client
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from OpenSSL import SSL
from twisted.internet import defer, endpoints, protocol, reactor
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.threads import deferToThread
from twisted.web import pages, server

from netsuite._cli import CommandFailed, build_parser
from netsuite.rpc import SERVICE, RpcError
from netsuite.rpc._cli import run
from netsuite.rpc.xmlrpc._client import XmlRpcFault, XmlRpcProtocolError, call
from netsuite.rpc.xmlrpc._protocol import XmlRpcSite, xmlrpc_factory
from tests.helpers import TwistdProcess
from tests.rpc.xmlrpc.test_codec import BILLION_LAUGHS, EXTERNAL_ENTITY

SUM = SERVICE.lookup("Algorithm.Sum")
SKILL = SERVICE.lookup("Programmer.GetSkill")
TIMEOUT = 10


class Server:
    """A listening XML-RPC site and the connections it accepted (closed at teardown)."""

    def __init__(self, site: XmlRpcSite, port: Any) -> None:
        self.site = site
        self.listening = port
        self.port = port.getHost().port
        self.url = f"http://127.0.0.1:{self.port}/RPC2"
        self.channels: list[Any] = []

    def proxy(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(self.url, use_builtin_types=True)


async def listen(site: Any, description: str = "tcp:0:interface=127.0.0.1") -> Server:
    port = await endpoints.serverFromString(reactor, description).listen(site)
    srv = Server(site, port)
    build = site.buildProtocol

    def tracking(addr: Any) -> Any:
        channel = build(addr)
        srv.channels.append(channel)
        return channel

    site.buildProtocol = tracking
    return srv


async def close(srv: Server) -> None:
    await srv.listening.stopListening()
    for channel in srv.channels:
        transport = getattr(channel, "transport", None)
        if transport is not None and transport.connected:
            transport.abortConnection()


@pytest_twisted.async_yield_fixture
async def srv() -> AsyncIterator[Server]:
    server_ = await listen(xmlrpc_factory(SERVICE))
    yield server_
    await close(server_)


def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
    """Run blocking client code off the reactor thread, with a timeout."""
    return deferToThread(function, *args, **kwargs).addTimeout(TIMEOUT, reactor)


def stdlib_session(url: str) -> dict[str, Any]:
    """Everything the stdlib client sees, on one keep-alive connection."""
    proxy = xmlrpc.client.ServerProxy(url, use_builtin_types=True)
    out: dict[str, Any] = {}
    with proxy:
        out["sum"] = proxy.Algorithm.Sum(1, 2)
        out["struct"] = proxy.Algorithm.Sum({"X": 40, "Y": 2})
        out["i8"] = proxy.Algorithm.Sum(2**31 - 1, 2**31 - 1)
        out["skill"] = proxy.Programmer.GetSkill("Java", "Go")
        out["skill_struct"] = proxy.Programmer.GetSkill({"Java": "a&b", "Go": "<c>"})
        out["methods"] = proxy.system.listMethods()
        out["signature"] = proxy.system.methodSignature("Algorithm.Sum")
        out["help"] = proxy.system.methodHelp("Programmer.GetSkill")
        faults = {}
        for label, function in [
            ("overflow", lambda: _overflow(url)),
            ("unknown", lambda: proxy.Algorithm.Nope(1)),
            ("params", lambda: proxy.Algorithm.Sum("1", "2")),
        ]:
            try:
                function()
            except xmlrpc.client.Fault as fault:
                faults[label] = (fault.faultCode, fault.faultString)
        out["faults"] = faults
        multi = xmlrpc.client.MultiCall(proxy)
        multi.Algorithm.Sum(1, 1)
        multi.Programmer.GetSkill("x", "y")
        multi.Algorithm.Sum("a", 1)
        results = []
        answers = multi()
        for index in range(3):
            try:
                results.append(answers[index])
            except xmlrpc.client.Fault as fault:
                results.append(fault.faultCode)
        out["multicall"] = results
    return out


def _overflow(url: str) -> None:
    """Sum overflow needs 64-bit arguments, which the stdlib client cannot send: post <i8>."""
    body = (b"<?xml version='1.0'?><methodCall><methodName>Algorithm.Sum</methodName><params>"
            b"<param><value><i8>9223372036854775807</i8></value></param>"
            b"<param><value><i8>1</i8></value></param></params></methodCall>")
    host, port = url.split("/")[2].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    connection.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    xmlrpc.client.loads(connection.getresponse().read())


@pytest_twisted.ensureDeferred
async def test_stdlib_client(srv: Server) -> None:
    out = await in_thread(stdlib_session, srv.url)
    assert out["sum"] == 3 and out["struct"] == 42
    assert out["i8"] == 2**32 - 2
    assert out["skill"] == "Skill1:Java，Skill2Go"
    assert out["skill_struct"] == "Skill1:a&b，Skill2<c>"
    assert "Algorithm.Sum" in out["methods"] and "system.multicall" in out["methods"]
    assert out["signature"] == [["int", "int", "int"]]
    assert out["help"] == SKILL.help
    assert out["faults"]["overflow"][0] == -32500
    assert "outside the signed 64-bit range" in out["faults"]["overflow"][1]
    assert out["faults"]["unknown"] == (-32601, "rpc: can't find method Algorithm.Nope")
    assert out["faults"]["params"][0] == -32602
    assert out["multicall"] == [2, "Skill1:x，Skill2y", -32602]
    assert srv.site.stats.requests == 12


def keep_alive(port: int) -> list[Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    body = xmlrpc.client.dumps((1, 2), "Algorithm.Sum").encode()
    results = []
    for _ in range(2):
        connection.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
        response = connection.getresponse()
        results.append((response.status, response.getheader("Connection"),
                        xmlrpc.client.loads(response.read())[0][0]))
        results.append(connection.sock.getsockname())
    connection.close()
    return results


@pytest_twisted.ensureDeferred
async def test_keep_alive_two_requests_one_connection(srv: Server) -> None:
    first, address1, second, address2 = await in_thread(keep_alive, srv.port)
    assert first == second == (200, None, 3)
    assert address1 == address2
    assert len(srv.channels) == 1


def raw_exchange(port: int, data: bytes, *, shut: bool = False, reset: bool = False) -> bytes:
    """Send ``data``, then read the answer until the server closes (or for a while)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"</methodResponse>" in b"".join(chunks):
                break
        return b"".join(chunks)
    finally:
        sock.close()


def post(body: bytes, headers: bytes = b"") -> bytes:
    return (b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (len(body), headers, body))


GOOD = xmlrpc.client.dumps((20, 22), "Algorithm.Sum").encode()


async def assert_still_serving(srv: Server) -> None:
    answer = await in_thread(raw_exchange, srv.port, post(GOOD))
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"<int>42</int>" in answer


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("body, code", [
    (BILLION_LAUGHS, -32700),
    (EXTERNAL_ENTITY, -32700),
    (b"<methodCall><methodName>Algorithm.Sum</methodName><params>", -32700),
    (b"\x00\x01\x02 not xml", -32700),
    (b"<methodCall><methodName>Algorithm.Sum</methodName><params><param><value>"
     b"<int>1.5</int></value></param></params></methodCall>", -32600),
])
async def test_bad_bodies_get_faults_then_good_calls_work(srv: Server, body: bytes,
                                                          code: int) -> None:
    answer = await in_thread(raw_exchange, srv.port, post(body))
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(payload)
    assert info.value.faultCode == code
    await assert_still_serving(srv)


@pytest_twisted.ensureDeferred
async def test_content_length_over_limit_is_413(srv: Server) -> None:
    body = b"<" * (1024 * 1024 + 1)
    answer = await in_thread(raw_exchange, srv.port, post(body))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"larger than 1048576 bytes" in answer
    assert srv.site.stats.too_large == 1 and srv.site.stats.requests == 0
    await assert_still_serving(srv)


@pytest_twisted.ensureDeferred
async def test_chunked_body_over_limit_is_413(srv: Server) -> None:
    chunk = b"x" * 65536
    data = (b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 17 + b"0\r\n\r\n")
    answer = await in_thread(raw_exchange, srv.port, data)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert srv.site.stats.too_large == 1
    await assert_still_serving(srv)


@pytest_twisted.ensureDeferred
async def test_abrupt_close_mid_body_then_good_call(srv: Server) -> None:
    await in_thread(raw_exchange, srv.port, post(GOOD)[:-20], reset=True)
    await in_thread(raw_exchange, srv.port, post(GOOD)[:-20], shut=True)
    await assert_still_serving(srv)


@pytest_twisted.ensureDeferred
async def test_our_client(srv: Server) -> None:
    assert await call(reactor, "127.0.0.1", srv.port, SUM, [2**40, 2], tls=False,
                      insecure=False, timeout=TIMEOUT) == 2**40 + 2
    assert await call(reactor, "localhost", srv.port, SKILL, ["<J>", "&G"], tls=False,
                      insecure=False, timeout=TIMEOUT) == "Skill1:<J>，Skill2&G"
    with pytest.raises(XmlRpcFault) as info:
        await call(reactor, "127.0.0.1", srv.port, SUM, [2**63 - 1, 1], tls=False,
                   insecure=False, timeout=TIMEOUT)
    assert info.value.code == -32500
    assert isinstance(info.value, RpcError)
    assert str(info.value).startswith("XML-RPC fault -32500: integer overflow")
    with pytest.raises(XmlRpcFault, match="-32602"):
        await call(reactor, "127.0.0.1", srv.port, SUM, [1], tls=False, insecure=False,
                   timeout=TIMEOUT)


@pytest_twisted.ensureDeferred
async def test_our_client_over_tls(tls_files: Any) -> None:
    srv = await listen(xmlrpc_factory(SERVICE), tls_files.server_description())
    try:
        assert await call(reactor, "127.0.0.1", srv.port, SUM, [1, 2], tls=True,
                          insecure=True, timeout=TIMEOUT) == 3
        with pytest.raises(SSL.Error, match="certificate verify failed"):
            await call(reactor, "127.0.0.1", srv.port, SUM, [1, 2], tls=True, insecure=False,
                       timeout=TIMEOUT)
    finally:
        await close(srv)


class _Silent(protocol.Protocol):
    """Accepts and never answers."""


class _Hangup(protocol.Protocol):
    """Closes as soon as the request starts arriving."""

    def dataReceived(self, data: bytes) -> None:
        self.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_our_client_errors() -> None:
    other = server.Site(pages.notFound())  # 404 for /RPC2
    other.log = lambda request: None
    srv = await listen(other)
    silent = await listen(protocol.Factory.forProtocol(_Silent))
    hangup = await listen(protocol.Factory.forProtocol(_Hangup))
    try:
        with pytest.raises(ConnectionError, match="closed the connection before answering"):
            await call(reactor, "127.0.0.1", hangup.port, SUM, [1, 2], tls=False,
                       insecure=False, timeout=TIMEOUT)
        with pytest.raises(XmlRpcProtocolError, match="HTTP 404"):
            await call(reactor, "127.0.0.1", srv.port, SUM, [1, 2], tls=False, insecure=False,
                       timeout=TIMEOUT)
        with pytest.raises(TimeoutError, match=r"within 0\.3s"):
            await call(reactor, "127.0.0.1", silent.port, SUM, [1, 2], tls=False,
                       insecure=False, timeout=0.3)
        free = srv.port
    finally:
        await close(srv)
        await close(silent)
        await close(hangup)
    with pytest.raises(ConnectionRefusedError):
        await call(reactor, "127.0.0.1", free, SUM, [1, 2], tls=False, insecure=False,
                   timeout=TIMEOUT)


def plugin_calls(port: int) -> tuple[Any, ...]:
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    with proxy:
        return proxy.Algorithm.Sum(1, 2), proxy.system.listMethods()


@pytest_twisted.ensureDeferred
async def test_twistd_plugin_serves_xmlrpc_quietly() -> None:
    with TwistdProcess("rpc", "--xmlrpc", "tcp:0:interface=127.0.0.1", "--amp", "none",
                       "--jsonrpc", "none", "--grpc", "none", "--max-request", "2000") as twistd:
        port = await in_thread(twistd.port, "xmlrpc")
        total, names = await in_thread(plugin_calls, port)
        assert total == 3 and "Programmer.GetSkill" in names
        await in_thread(plugin_calls, port)
        # --max-request bounds XML-RPC bodies too.
        big = xmlrpc.client.dumps(("x" * 2000, "y"), "Programmer.GetSkill").encode()
        answer = await in_thread(raw_exchange, port, post(big))
        assert answer.startswith(b"HTTP/1.1 413 ") and b"larger than 2000 bytes" in answer
        assert twistd.stop() in (0, -signal.SIGTERM)  # twistd re-raises SIGTERM on exit
    assert "xmlrpc listening on 127.0.0.1:" in twistd.log
    assert "Starting factory <netsuite.rpc.xmlrpc._protocol" not in twistd.log
    assert "POST /RPC2" not in twistd.log  # no access log line per request


def flood_without_reading(port: int) -> tuple[int, socket.socket]:
    """Send big calls and never read the answers; how many were sent before we blocked."""
    body = xmlrpc.client.dumps(("x" * 50000, "y"), "Programmer.GetSkill").encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(2)  # blocked this long: the server has stopped reading
    sent = 0
    try:
        while sent < 2000:
            sock.sendall(post(body))
            sent += 1
    except TimeoutError:
        pass
    return sent, sock


@pytest_twisted.ensureDeferred
async def test_slow_reader_is_paused_not_buffered(srv: Server) -> None:
    sent, sock = await in_thread(flood_without_reading, srv.port)
    try:
        # The server stopped reading once its send buffer filled: a few MB sit in kernel
        # buffers, and the server itself holds at most about one answer.
        assert sent < 400
        (channel,) = srv.channels
        assert channel._waitingForTransport
        transport = channel.transport
        pending = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        assert pending < 256 * 1024
        await assert_still_serving(srv)
    finally:
        sock.close()


def sigterm_mid_request(twistd: TwistdProcess, port: int) -> tuple[bytes, bytes]:
    """SIGTERM while one connection is idle and another is half-way through a request."""
    idle = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    busy = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        request = post(GOOD)
        busy.sendall(request[:-10])
        idle.sendall(post(GOOD))
        idle.recv(65536)  # answered: both connections are known to the server now
        twistd.process.send_signal(signal.SIGTERM)
        twistd.wait_for("stopped listening")
        idle_rest = idle.recv(65536)  # EOF: the idle connection is closed at once
        busy.sendall(request[-10:])
        answer = b""
        while chunk := busy.recv(65536):
            answer += chunk
        return idle_rest, answer
    finally:
        idle.close()
        busy.close()


@pytest_twisted.ensureDeferred
async def test_sigterm_answers_the_request_in_progress() -> None:
    with TwistdProcess("rpc", "--xmlrpc", "tcp:0:interface=127.0.0.1", "--amp", "none",
                       "--jsonrpc", "none", "--grpc", "none", "--grace", "10") as twistd:
        port = await in_thread(twistd.port, "xmlrpc")
        idle_rest, answer = await in_thread(sigterm_mid_request, twistd, port)
        assert idle_rest == b""
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"<int>42</int>" in answer
        assert b"Connection: close" in answer
        assert await in_thread(twistd.stop) in (0, -signal.SIGTERM)


class _Stalled(protocol.Protocol):
    """Starts a request and never finishes it."""

    def connectionMade(self) -> None:
        self.transport.write(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n<me")


@pytest_twisted.ensureDeferred
async def test_many_stalled_and_junk_connections_do_not_stall_others(srv: Server) -> None:
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", srv.port)
    stalled = await defer.gatherResults([
        endpoint.connect(protocol.Factory.forProtocol(_Stalled)) for _ in range(100)])
    junk = await defer.gatherResults([
        endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol)) for _ in range(20)])
    for index, client in enumerate(junk):
        client.transport.write(bytes(range(256)) * (index + 1))
    try:
        for _ in range(3):
            assert await call(reactor, "127.0.0.1", srv.port, SUM, [20, 22], tls=False,
                              insecure=False, timeout=5) == 42
        assert srv.site.stats.requests == 3
    finally:
        for client in [*stalled, *junk]:
            client.transport.abortConnection()


def stdlib_gzip_call(url: str) -> int:
    transport = xmlrpc.client.Transport()
    transport.encode_threshold = 0  # gzip every request body
    with xmlrpc.client.ServerProxy(url, transport=transport) as proxy:
        return proxy.Algorithm.Sum(40, 2)


@pytest_twisted.ensureDeferred
async def test_stdlib_client_gzip_bodies(srv: Server) -> None:
    assert await in_thread(stdlib_gzip_call, srv.url) == 42
    assert srv.site.stats.requests == 1 and srv.site.stats.fast_path == 0


@pytest_twisted.ensureDeferred
async def test_our_client_over_ipv6() -> None:
    srv = await listen(xmlrpc_factory(SERVICE), r"tcp6:0:interface=\:\:1")
    try:
        assert await call(reactor, "::1", srv.port, SKILL, ["J", "G"], tls=False,
                          insecure=False, timeout=TIMEOUT) == "Skill1:J，Skill2G"
    finally:
        await close(srv)


# -- netsuite call xmlrpc ----------------------------------------------------------------


async def netsuite_call(*argv: str) -> int:
    parser, _ = build_parser("call")
    return await run(reactor, parser.parse_args(["xmlrpc", *argv]))


@pytest_twisted.ensureDeferred
async def test_netsuite_call_xmlrpc(srv: Server, tls_files: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = f"127.0.0.1:{srv.port}"
    assert await netsuite_call(target, "Algorithm.Sum", "2147483647", "1") == 0
    assert await netsuite_call(target, "Programmer.GetSkill", "<J>", "&G") == 0
    assert capsys.readouterr().out.splitlines() == ["2147483648", '"Skill1:<J>，Skill2&G"']
    with pytest.raises(CommandFailed, match=r"Algorithm\.Sum failed: XML-RPC fault -32500: "
                                            r"integer overflow"):
        await netsuite_call(target, "Algorithm.Sum", "9223372036854775807", "1")
    tls = await listen(xmlrpc_factory(SERVICE), tls_files.server_description())
    try:
        tls_target = f"127.0.0.1:{tls.port}"
        assert await netsuite_call("--tls", "--insecure", tls_target, "Algorithm.Sum",
                                   "1", "2") == 0
        assert capsys.readouterr().out == "3\n"
        with pytest.raises(CommandFailed, match="TLS error: certificate verify failed"):
            await netsuite_call("--tls", tls_target, "Algorithm.Sum", "1", "2")
    finally:
        await close(tls)
    free = tls.port
    with pytest.raises(CommandFailed, match="connection refused"):
        await netsuite_call(f"127.0.0.1:{free}", "Algorithm.Sum", "1", "2")


def run_console(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("netsuite")), "call", "xmlrpc",
                           *argv], capture_output=True, text=True, timeout=60)


@pytest_twisted.ensureDeferred
async def test_netsuite_call_xmlrpc_exit_statuses(srv: Server) -> None:
    target = f"127.0.0.1:{srv.port}"
    ok = await in_thread(run_console, target, "Algorithm.Sum", "1", "2")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "3\n", "")
    fault = await in_thread(run_console, target, "Algorithm.Sum", "9223372036854775807", "1")
    assert fault.returncode == 1 and fault.stdout == ""
    assert fault.stderr.strip().startswith("netsuite call: Algorithm.Sum failed: XML-RPC fault")
    assert len(fault.stderr.strip().splitlines()) == 1
