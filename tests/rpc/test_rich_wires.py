"""Rich, async methods on real loopback sockets, called by clients nobody here wrote:
stdlib ``xmlrpc.client``, Twisted's own ``amp.AMP`` with command classes written below from
the type table, and raw JSON over a socket.  Concurrency, cancellation on disconnect,
``max_inflight`` under a flood, half-close, and bad input at every depth."""

from __future__ import annotations

import json
import socket
import ssl
import xmlrpc.client
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, protocol, reactor, task
from twisted.internet.threads import deferToThread
from twisted.protocols import amp

from netsuite.rpc import ApplicationError, InvalidParams, Registry
from netsuite.rpc._tracker import ConnectionTracker, RpcStats
from netsuite.rpc.amp._protocol import amp_factory, command_for
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory
from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory
from tests.helpers import PKI
from tests.rpc.richservice import Probe, build

TIMEOUT = 10


class Served:
    """One registry served on XML-RPC, AMP and JSON-RPC (ports), its probe."""

    def __init__(self, registry: Registry, probe: Probe) -> None:
        self.registry = registry
        self.probe = probe
        self.ports: dict[str, Any] = {}
        self.factories: dict[str, Any] = {}

    def port(self, wire: str) -> int:
        return self.ports[wire].getHost().port  # type: ignore[no-any-return]


async def serve(max_inflight: int = 100) -> Served:
    registry, probe = build()
    served = Served(registry, probe)
    served.factories = {
        "xmlrpc": xmlrpc_factory(registry),
        "amp": amp_factory(registry, max_inflight=max_inflight),
        "jsonrpc": jsonrpc_factory(registry, max_inflight=max_inflight),
    }
    for wire, factory in served.factories.items():
        served.ports[wire] = await endpoints.TCP4ServerEndpoint(
            reactor, 0, interface="127.0.0.1").listen(factory)
    return served


async def stop(served: Served) -> None:
    served.probe.release_all()
    for port in served.ports.values():
        await defer.maybeDeferred(port.stopListening)


@pytest_twisted.async_yield_fixture
async def srv() -> AsyncIterator[Served]:
    served = await serve()
    yield served
    await stop(served)


def raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def read_lines(sock: socket.socket, count: int, buffer: list[bytes]) -> list[dict[str, Any]]:
    """``count`` JSON lines from ``sock`` (``buffer`` keeps what is left over)."""
    data = b"".join(buffer)
    while data.count(b"\n") < count:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    lines = data.split(b"\n")
    buffer[:] = [b"\n".join(lines[count:])]
    return [json.loads(line) for line in lines[:count]]


# -- XML-RPC: the stdlib client ----------------------------------------------------------------


def xmlrpc_session(port: int) -> dict[str, Any]:
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2", allow_none=True,
                                      use_builtin_types=True)
    out: dict[str, Any] = {}
    out["move"] = proxy.Rich.Move({"x": 1, "y": 2}, [3, 4])
    out["flip"] = proxy.Rich.Flip({"x": 1, "y": 2})
    out["named"] = proxy.Rich.Move({"p": {"x": 1, "y": 2}, "by": [1, 1]})
    out["count"] = proxy.Rich.Count({"a": 1})
    out["pack"] = proxy.Rich.Pack(
        [{"sku": "a", "price": 1.5, "tags": ["t"], "photo": b"\x00\xff",
          "where": {"x": 1, "y": 2}}, {"sku": "b", "price": 2, "where": None}],
        {"n": 2**30}, None)
    out["bytes"] = proxy.Rich.Bytes(b"\x01\x02")
    out["maybe"] = (proxy.Rich.Maybe(), proxy.Rich.Maybe(1))
    out["big"] = proxy.Rich.Count({"a": 2**30})
    out["signature"] = proxy.system.methodSignature("Rich.Pack")
    faults = {}
    for name, call in [
        ("fail", lambda: proxy.Rich.Fail("x")),
        ("boom", lambda: proxy.Rich.Boom()),
        ("late", lambda: proxy.Rich.Late()),
        ("depth", lambda: proxy.Rich.Move({"x": "1", "y": 2}, [1, 2])),
        ("deeper", lambda: proxy.Rich.Pack([{"sku": "a", "price": 1, "tags": ["t", 5]}], {})),
        ("map", lambda: proxy.Rich.Count({"a": "one"})),
        ("nan", lambda: proxy.Rich.Half(float("nan"))),
    ]:
        try:
            call()
        except xmlrpc.client.Fault as fault:
            faults[name] = (fault.faultCode, fault.faultString)
    out["faults"] = faults
    return out


@pytest_twisted.ensureDeferred
async def test_xmlrpc_stdlib_client(srv: Served) -> None:
    out = await deferToThread(xmlrpc_session, srv.port("xmlrpc"))
    assert out["move"] == {"x": 4, "y": 6}
    assert out["flip"] == {"x": 2, "y": 1}
    assert out["named"] == {"x": 2, "y": 3}
    assert out["count"] == {"a": 2}
    pack = out["pack"]
    assert pack["total"] == 3.5 and pack["ok"] is True and pack["note"] is None
    assert pack["counts"] == {"n": 2**30}
    assert pack["items"][0] == {"sku": "a", "price": 1.5, "tags": ["t"], "photo": b"\x00\xff",
                                "where": {"x": 1, "y": 2}}
    assert pack["items"][1]["photo"] is None and pack["items"][1]["tags"] == []
    assert out["bytes"] == b"\x02\x01"
    assert out["maybe"] == (None, 2)
    assert out["big"] == {"a": 2**31}  # past 32 bits: <i8>, read by the stdlib
    assert out["signature"] == [["struct", "array", "struct", "string"]]
    faults = out["faults"]
    assert faults["fail"] == (-32500, "no x left")
    assert faults["boom"] == (-32603, "internal error in Rich.Boom")
    assert faults["late"] == (-32500, "deadline exceeded")
    assert faults["depth"] == (-32602, "p.x: expected int64, got string")
    assert faults["deeper"] == (-32602, "items[0].tags[1]: expected string, got integer")
    assert faults["map"] == (-32602, 'words["a"]: expected int64, got string')
    assert faults["nan"] == (-32600, "invalid XML-RPC request: invalid double 'nan'")


def post(body: bytes) -> bytes:
    return (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def call_xml(name: str, *values: str) -> bytes:
    params = "".join(f"<param><value>{v}</value></param>" for v in values)
    return (f"<?xml version='1.0'?><methodCall><methodName>{name}</methodName>"
            f"<params>{params}</params></methodCall>").encode()


def xmlrpc_hostile(port: int) -> list[bytes]:
    out = []
    for body in [
        b"<?xml version='1.0' encoding='U-TF-8'?><methodCall><methodName>Rich.Fast"
        b"</methodName></methodCall>",
        call_xml("Rich.Bytes", "<string>\xff</string>".encode("latin-1").decode("latin-1")),
        b"<?xml version='1.0'?><methodCall><methodName>Rich.Half</methodName><params><param>"
        b"<value><string>\xff\xfe</string></value></param></params></methodCall>",
        call_xml("Rich.Count", "<array><data><value>" * 3 + "</value></data></array>" * 3),
        call_xml("Rich.Count", "<array><data><value>" * 40 + "</value></data></array>" * 40),
    ]:
        with raw(port) as sock:
            sock.sendall(post(body))
            sock.shutdown(socket.SHUT_WR)
            out.append(read_all(sock))
    return out


@pytest_twisted.ensureDeferred
async def test_xmlrpc_hostile_bodies_are_faults(srv: Served) -> None:
    answers = await deferToThread(xmlrpc_hostile, srv.port("xmlrpc"))
    assert b"200 OK" in answers[0] and b"<int>-32700</int>" in answers[0]
    assert b"unknown encoding" in answers[0]
    assert b"<int>-32602</int>" in answers[1]  # a string where bytes are wanted
    assert b"<int>-32700</int>" in answers[2]  # invalid UTF-8
    assert b"<int>-32602</int>" in answers[3] and b"words: expected map" in answers[3]
    assert b"<int>-32700</int>" in answers[4] and b"Connection: close" in answers[4]


# -- AMP: Twisted's own client, commands written from the type table --------------------------

POINT = [(b"x", amp.Integer()), (b"y", amp.Integer())]


class Move(amp.Command):
    commandName = b"Rich.Move"
    arguments = [(b"p", amp.AmpList(POINT)), (b"by", amp.ListOf(amp.Integer()))]
    response = [(b"result", amp.AmpList(POINT))]


class Flip(amp.Command):
    commandName = b"Flip"  # the short name: no other service has it
    arguments = [(b"p", amp.AmpList(POINT))]
    response = [(b"result", amp.AmpList(POINT))]


ITEM = [(b"sku", amp.Unicode()), (b"price", amp.Float()),
        (b"tags", amp.ListOf(amp.Unicode(), optional=True)),
        (b"photo", amp.String(optional=True)), (b"where", amp.AmpList(POINT, optional=True))]
COUNTS = amp.AmpList([(b"key", amp.Unicode()), (b"value", amp.Integer())])


class Pack(amp.Command):
    commandName = b"Rich.Pack"
    arguments = [(b"items", amp.AmpList(ITEM)), (b"counts", COUNTS),
                 (b"note", amp.Unicode(optional=True))]
    response = [(b"result", amp.AmpList([
        (b"items", amp.AmpList(ITEM)), (b"counts", COUNTS), (b"total", amp.Float()),
        (b"ok", amp.Boolean()), (b"note", amp.Unicode(optional=True))]))]


class Maybe(amp.Command):
    commandName = b"Rich.Maybe"
    arguments = [(b"n", amp.Integer(optional=True))]
    response = [(b"result", amp.Integer(optional=True))]


class Bytes(amp.Command):
    commandName = b"Rich.Bytes"
    arguments = [(b"data", amp.String())]
    response = [(b"result", amp.String())]


class OutOfStock(Exception):
    pass


class Fail(amp.Command):
    commandName = b"Rich.Fail"
    arguments = [(b"sku", amp.Unicode())]
    response = [(b"result", amp.Integer())]
    errors = {OutOfStock: b"OUT_OF_STOCK"}


class Boom(amp.Command):
    commandName = b"Rich.Boom"
    response = [(b"result", amp.Integer())]


class Late(amp.Command):
    commandName = b"Rich.Late"
    response = [(b"result", amp.Integer())]
    errors = {ApplicationError: b"APPLICATION"}


class Slow(amp.Command):
    commandName = b"Rich.Slow"
    arguments = [(b"n", amp.Integer())]
    response = [(b"result", amp.Integer())]


class Fast(amp.Command):
    commandName = b"Rich.Fast"
    arguments = [(b"n", amp.Integer())]
    response = [(b"result", amp.Integer())]


class BadMove(amp.Command):
    commandName = b"Rich.Move"
    arguments = [(b"p", amp.AmpList([(b"x", amp.Unicode()), (b"y", amp.Integer())])),
                 (b"by", amp.ListOf(amp.Integer()))]
    response = [(b"result", amp.AmpList(POINT))]
    errors = {InvalidParams: b"BAD_PARAMS"}


async def amp_client(port: int) -> amp.AMP:
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    return await endpoint.connect(protocol.Factory.forProtocol(amp.AMP))


@pytest_twisted.ensureDeferred
async def test_amp_with_twisted_commands(srv: Served) -> None:
    client = await amp_client(srv.port("amp"))
    try:
        assert await client.callRemote(Move, p=[{"x": 1, "y": 2}], by=[3, 4]) == {
            "result": [{"x": 4, "y": 6}]}
        assert await client.callRemote(Flip, p=[{"x": 1, "y": 2}]) == {
            "result": [{"x": 2, "y": 1}]}
        items = [{"sku": "a", "price": 1.5, "tags": ["t"], "photo": b"\x00",
                  "where": [{"x": 1, "y": 2}]},
                 {"sku": "b", "price": 2.0, "tags": None, "photo": None, "where": None}]
        result = (await client.callRemote(Pack, items=items, counts=[{"key": "n",
                                                                       "value": 2**40}]))
        [bundle] = result["result"]
        assert bundle["total"] == 3.5 and bundle["ok"] is True and bundle["note"] is None
        assert bundle["counts"] == [{"key": "n", "value": 2**40}]
        assert bundle["items"][0] == items[0]
        assert bundle["items"][1]["tags"] == [] and bundle["items"][1]["photo"] is None
        assert await client.callRemote(Maybe) == {"result": None}
        assert await client.callRemote(Maybe, n=1) == {"result": 2}
        assert await client.callRemote(Bytes, data=b"\xff\x00") == {"result": b"\x00\xff"}
        with pytest.raises(OutOfStock, match="no x left"):
            await client.callRemote(Fail, sku="x")
        with pytest.raises(amp.UnknownRemoteError):
            await client.callRemote(Boom)
        with pytest.raises(ApplicationError, match="deadline exceeded"):
            await client.callRemote(Late)
        with pytest.raises(InvalidParams, match=r"p\.x: expected int64"):
            await client.callRemote(BadMove, p=[{"x": "one", "y": 2}], by=[1, 2])
        # A slow call does not hold up a fast one on the same connection.
        slow = client.callRemote(Slow, n=1)
        assert await client.callRemote(Fast, n=2) == {"result": 2}
        assert not slow.called
        srv.probe.release_all()
        assert await slow == {"result": 1}
    finally:
        client.transport.loseConnection()


@pytest_twisted.ensureDeferred
async def test_amp_disconnect_cancels_running_calls(srv: Served) -> None:
    client = await amp_client(srv.port("amp"))
    slow = client.callRemote(Slow, n=5)
    slow.addErrback(lambda f: None)
    await srv.probe.until(lambda: 5 in srv.probe.started)
    # A reset: the client is gone (a clean FIN alone is a half-close, which is answered).
    client.transport.abortConnection()
    await srv.probe.until(lambda: srv.probe.cancelled == [5])
    assert srv.probe.running == 0


def amp_bad_boxes(port: int) -> bytes:
    def pair(key: bytes, value: bytes) -> bytes:
        return len(key).to_bytes(2, "big") + key + len(value).to_bytes(2, "big") + value

    boxes = [
        pair(b"_command", b"Rich.Bytes") + pair(b"_ask", b"1") + b"\x00\x00",  # missing
        pair(b"_command", b"Rich.Fast") + pair(b"_ask", b"2") + pair(b"n", b"1.5")
        + b"\x00\x00",
        pair(b"_command", b"Rich.Fail") + pair(b"_ask", b"3") + pair(b"sku", b"\xff\xfe")
        + b"\x00\x00",
        pair(b"_command", b"Rich.Move") + pair(b"_ask", b"4") + pair(b"p", b"\x00\x01")
        + pair(b"by", b"") + b"\x00\x00",  # a truncated AmpList
        pair(b"_command", b"Rich.Fast") + pair(b"_ask", b"5") + pair(b"n", b"7") + b"\x00\x00",
    ]
    with raw(port) as sock:
        sock.sendall(b"".join(boxes))
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


@pytest_twisted.ensureDeferred
async def test_amp_bad_values_are_bad_params_and_half_close_answers_all(srv: Served) -> None:
    data = await deferToThread(amp_bad_boxes, srv.port("amp"))
    assert data.count(b"BAD_PARAMS") == 4
    assert b"missing argument data" in data
    assert b"n: expected int64" in data
    assert b"sku: expected UTF-8 string" in data
    assert b"p: truncated AmpList" in data
    assert b"\x00\x07_answer\x00\x015\x00\x06result\x00\x017\x00\x00" in data


# -- JSON-RPC: raw JSON over a socket ---------------------------------------------------------


def jsonrpc_rich(port: int) -> list[dict[str, Any]]:
    requests = [
        {"method": "Rich.Move", "params": [{"P": {"X": 1, "y": 2}, "BY": [3, 4]}], "id": 1},
        {"method": "Rich.Pack", "params": [{"items": [{"sku": "a", "price": 1, "tags": ["t"],
                                                      "photo": "AP8=", "where": None}],
                                            "counts": {"n": 2}}], "id": 2},
        {"method": "Rich.Bytes", "params": [{"data": "AAEC"}], "id": 3},
        {"method": "Rich.Bytes", "params": [{"data": "!!"}], "id": 4},
        {"method": "Rich.Move", "params": [{"p": {"x": "1"}, "by": [1]}], "id": 5},
        {"method": "Rich.Pack", "params": [{"items": [{"sku": "a", "price": 1, "tags": [1]}],
                                            "counts": {}}], "id": 6},
        {"method": "Rich.Fail", "params": [{"sku": "x"}], "id": 7},
        {"method": "Rich.Boom", "params": [{}], "id": 8},
        {"method": "Rich.Late", "params": [{}], "id": 9},
        {"method": "Rich.Half", "params": [{"x": 1e308}], "id": 10},
        {"method": "Rich.Maybe", "params": [{}], "id": 11},
        {"method": "Rich.Flip", "params": [{"p": {"x": 5, "y": 6}}], "id": 12},
        {"jsonrpc": "2.0", "method": "Rich.Flip", "params": [{"x": 5, "y": 6}], "id": 13},
        {"jsonrpc": "2.0", "method": "Rich.Fail", "params": {"sku": "y"}, "id": 14},
    ]
    with raw(port) as sock:
        sock.sendall(b"".join(json.dumps(r).encode() for r in requests))
        sock.shutdown(socket.SHUT_WR)  # as `echo ... | nc` does
        lines = read_all(sock).splitlines()
    return [json.loads(line) for line in lines]


@pytest_twisted.ensureDeferred
async def test_jsonrpc_raw_socket_typed_and_half_close(srv: Served) -> None:
    answers = {a["id"]: a for a in await deferToThread(jsonrpc_rich, srv.port("jsonrpc"))}
    assert len(answers) == 14  # every request answered before the close, the late one too
    assert answers[1]["result"] == {"x": 4, "y": 6}
    bundle = answers[2]["result"]
    assert bundle["items"] == [{"sku": "a", "price": 1.0, "tags": ["t"], "photo": "AP8=",
                                "where": None}]
    assert bundle["counts"] == {"n": 2} and bundle["total"] == 1.0
    assert answers[3]["result"] == "AgEA"
    assert answers[4]["error"] == "data: expected a base64 string"
    assert answers[5]["error"] == "p.x: expected int64, got string"
    assert answers[6]["error"] == "items[0].tags[0]: expected string, got integer"
    assert answers[7]["error"] == "no x left"
    assert answers[8]["error"] == "internal error"
    assert answers[9]["error"] == "deadline exceeded"
    assert answers[10]["result"] == 5e307
    assert answers[11] == {"id": 11, "result": None, "error": None}
    assert answers[12]["result"] == {"x": 6, "y": 5}
    assert answers[13]["result"] == {"x": 6, "y": 5}
    assert answers[14]["error"] == {"code": -32000, "message": "no y left",
                                    "data": "OUT_OF_STOCK"}


def jsonrpc_out_of_order(port: int, probe_started: Any) -> list[int]:
    with raw(port) as sock:
        sock.sendall(b'{"method":"Rich.Slow","params":[{"n":1}],"id":1}'
                     b'{"method":"Rich.Fast","params":[{"n":2}],"id":2}')
        buffer: list[bytes] = []
        first = read_lines(sock, 1, buffer)
        probe_started()  # release the slow one (from the reactor thread)
        second = read_lines(sock, 1, buffer)
    return [first[0]["id"], second[0]["id"]]


@pytest_twisted.ensureDeferred
async def test_jsonrpc_answers_out_of_order(srv: Served) -> None:
    def release() -> None:
        reactor.callFromThread(srv.probe.release_all)

    assert await deferToThread(jsonrpc_out_of_order, srv.port("jsonrpc"), release) == [2, 1]


def jsonrpc_bad_input(port: int) -> list[bytes]:
    out = []
    for data in [
        b'{"method":"Rich.Half","params":[{"x":NaN}],"id":1}',
        b'{"method":"Rich.Count","params":[{"words":' + b'[' * 101 + b']' * 101 + b'}],"id":2}',
        b'{"method":"Rich.Bytes","params":[{"data":"\xff\xfe"}],"id":3}',
        b'{"method":"Rich.Count","params":[{"words":{"a":"' + b"x" * (1 << 20) + b'"}}],"id":4}',
    ]:
        with raw(port) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            out.append(read_all(sock))
    return out


@pytest_twisted.ensureDeferred
async def test_jsonrpc_bad_input(srv: Served) -> None:
    nan, deep, utf8, big = await deferToThread(jsonrpc_bad_input, srv.port("jsonrpc"))
    assert b'"id":null' in nan and b"jsonrpc:" in nan  # NaN is not JSON: one error, close
    assert b"nested" in deep or b"deep" in deep
    assert json.loads(utf8)["error"] == "data: expected a base64 string"
    assert b'"id":null' in big and (b"larger" in big or b"bytes" in big)


# -- max_inflight under a flood ----------------------------------------------------------------


def flood(port: int, payload: bytes, expect: int) -> bytes:
    with raw(port) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = read_all(sock)
    assert data, "no answer"
    return data


@pytest.mark.parametrize("wire", ["jsonrpc", "amp"])
@pytest_twisted.ensureDeferred
async def test_max_inflight_holds_calls_running_at_the_limit(wire: str) -> None:
    served = await serve(max_inflight=5)
    probe = served.probe
    count = 300
    if wire == "jsonrpc":
        payload = b"".join(b'{"method":"Rich.Slow","params":[{"n":%d}],"id":%d}' % (i, i)
                           for i in range(count))
    else:
        payload = b"".join(b"\x00\x08_command\x00\x09Rich.Slow\x00\x04_ask\x00\x04%04d"
                           b"\x00\x01n\x00\x04%04d\x00\x00" % (i, i) for i in range(count))
    try:
        reading = deferToThread(flood, served.port(wire), payload, count)
        while len(probe.started) < count:
            await probe.until(lambda: probe.running == 5 or len(probe.started) == count)
            assert probe.running <= 5
            probe.release_all()
        probe.release_all()
        data = await reading
    finally:
        await stop(served)
    assert probe.peak == 5  # never more than the limit at once, though 300 were sent at once
    assert sorted(probe.started) == list(range(count))
    if wire == "jsonrpc":
        assert len(data.splitlines()) == count
    else:
        assert data.count(b"_answer") == count


# -- CallContext under mutual TLS, shutdown grace, command_for, XML-RPC pipelining ------------


def who_over_mtls(port: int, pki: PKI) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as plain:
        with context.wrap_socket(plain, server_hostname="localhost") as sock:
            sock.sendall(b'{"method":"Rich.Who","params":[{}],"id":1}')
            local = sock.getsockname()
            line = sock.makefile("rb").readline()
    return {"answer": json.loads(line), "local": f"{local[0]}:{local[1]}"}


@pytest_twisted.ensureDeferred
async def test_call_context_carries_the_client_certificate(pki: PKI) -> None:
    registry, _ = build()
    port = await endpoints.serverFromString(reactor, pki.mtls_description()).listen(
        jsonrpc_factory(registry))
    try:
        out = await deferToThread(who_over_mtls, port.getHost().port, pki)
    finally:
        await defer.maybeDeferred(port.stopListening)
    assert out["answer"]["result"] == f"jsonrpc {out['local']} {pki.client_name}"


def send_slow(port: int) -> bytes:
    with raw(port) as sock:
        sock.sendall(b'{"method":"Rich.Slow","params":[{"n":1}],"id":1}')
        try:
            return read_all(sock)
        except ConnectionResetError:  # aborted when the grace period ended
            return b""


@pytest.mark.parametrize("release", [True, False])
@pytest_twisted.ensureDeferred
async def test_grace_waits_for_running_calls_then_cancels_them(release: bool) -> None:
    registry, probe = build()
    tracker = ConnectionTracker(RpcStats())
    port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        tracker.wrap(jsonrpc_factory(registry), "jsonrpc"))
    try:
        answer = deferToThread(send_slow, port.getHost().port)
        await probe.until(lambda: probe.running == 1)
        await task.deferLater(reactor, 0, lambda: None)  # one turn: the call is now tracked
        closing = tracker.close_all(0.5 if not release else 10, reactor)
        if release:
            probe.release_all()  # the call ends within the grace period: answered, closed
        await closing
        data = await answer
    finally:
        await defer.maybeDeferred(port.stopListening)
    if release:
        assert json.loads(data)["result"] == 1 and probe.cancelled == []
    else:
        assert data == b"" and probe.cancelled == [1]


@pytest_twisted.ensureDeferred
async def test_command_for_any_method_with_twisted_client(srv: Served) -> None:
    Packed = command_for(srv.registry.lookup("Rich.Pack"), full_name=True)
    assert Packed.commandName == b"Rich.Pack"
    client = await amp_client(srv.port("amp"))
    try:
        items = [{"sku": "a", "price": 1.0, "tags": ["x"], "photo": None, "where": None}]
        [bundle] = (await client.callRemote(Packed, items=items,
                                            counts=[{"key": "k", "value": 1}]))["result"]
        assert bundle["total"] == 1.0 and bundle["items"][0]["tags"] == ["x"]
        # A code the command does not declare (the method's own OUT_OF_STOCK) reaches a
        # Twisted client as UnknownRemoteError, with the text.
        with pytest.raises(amp.UnknownRemoteError, match="no z left"):
            await client.callRemote(command_for(srv.registry.lookup("Rich.Fail")), sku="z")
    finally:
        client.transport.loseConnection()


def xmlrpc_pipelined(port: int) -> bytes:
    with raw(port) as sock:
        sock.sendall(b"".join(post(call_xml("Rich.Fast", f"<int>{i}</int>")) for i in range(3))
                     + post(call_xml("Rich.Half", "<double>3.0</double>")))
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


@pytest_twisted.ensureDeferred
async def test_xmlrpc_pipelined_then_half_closed_gets_every_answer_in_order(
        srv: Served) -> None:
    data = await deferToThread(xmlrpc_pipelined, srv.port("xmlrpc"))
    assert data.count(b"HTTP/1.1 200 OK") == 4
    positions = [data.index(v) for v in (b"<int>0</int>", b"<int>1</int>", b"<int>2</int>",
                                         b"<double>1.5</double>")]
    assert positions == sorted(positions)
