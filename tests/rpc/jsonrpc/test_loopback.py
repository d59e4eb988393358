"""JSON-RPC over real loopback sockets: raw bytes, TLS, our client, and Go's jsonrpc client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, protocol, utils

from netsuite.rpc import SERVICE, RpcError
from netsuite.rpc.jsonrpc._client import call
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory


class Raw(protocol.Protocol):
    """Collects everything received; waits for N lines or for the close."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._waiting: list[tuple[int, defer.Deferred[list[str]]]] = []

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._check()

    def lines(self) -> list[str]:
        return self.data.decode().split("\n")[:-1]

    def _check(self) -> None:
        for n, d in list(self._waiting):
            if self.data.count(b"\n") >= n:
                self._waiting.remove((n, d))
                d.callback(self.lines())

    def wait_lines(self, n: int, timeout: float = 10) -> defer.Deferred[list[str]]:
        from twisted.internet import reactor

        d: defer.Deferred[list[str]] = defer.Deferred()
        self._waiting.append((n, d))
        self._check()
        return d.addTimeout(timeout, reactor)

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(None)


async def listen(description: str = "tcp:0:interface=127.0.0.1", **kwargs: Any) -> Any:
    from twisted.internet import reactor

    return await endpoints.serverFromString(reactor, description).listen(
        jsonrpc_factory(SERVICE, **kwargs))


async def raw_connect(port: Any) -> Raw:
    from twisted.internet import reactor

    return await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(
        protocol.Factory.forProtocol(Raw))


def req(i: int, x: int = 1, y: int = 2) -> bytes:
    return json.dumps({"method": "Algorithm.Sum", "params": [{"X": x, "Y": y}], "id": i}).encode()


@pytest_twisted.ensureDeferred
async def test_split_merged_pipelined_and_errors_over_tcp() -> None:
    from twisted.internet import reactor

    port = await listen()
    try:
        raw = await raw_connect(port)
        first = req(0)
        raw.transport.write(first[:7])
        await deferLater(reactor, 0.05)
        raw.transport.write(first[7:] + req(1) + b"\n" + req(2)[:-3])
        await deferLater(reactor, 0.05)
        raw.transport.write(req(2)[-3:] + b'{"method":"Nope.X","params":[],"id":3}'
                            + b'{"method":"Algorithm.Sum","id":4}')
        lines = await raw.wait_lines(5)
        answers = {json.loads(line)["id"]: json.loads(line) for line in lines}
        assert [answers[i]["result"] for i in range(3)] == [3, 3, 3]
        assert answers[3]["error"] == "rpc: can't find service Nope.X"
        assert answers[4]["error"] == "jsonrpc: request body missing params"
        raw.transport.write(b'{"method": nope}')
        await raw.closed.addTimeout(10, reactor)
        # The server still serves others.
        other = await raw_connect(port)
        other.transport.write(req(9, 40, 2))
        assert json.loads((await other.wait_lines(1))[0])["result"] == 42
        other.transport.loseConnection()
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_oversized_and_abrupt_close_then_still_serving() -> None:
    from twisted.internet import reactor

    port = await listen(max_request=4096)
    try:
        raw = await raw_connect(port)
        raw.transport.write(b'{"method":"Algorithm.Sum","params":[{"X":"' + b"9" * 10000)
        await raw.closed.addTimeout(10, reactor)
        assert "over 4096 bytes" in json.loads(raw.lines()[0])["error"]
        half = await raw_connect(port)
        half.transport.write(req(1)[:10])
        half.transport.abortConnection()
        assert await call(reactor, "127.0.0.1", port.getHost().port,
                          SERVICE.lookup("Algorithm.Sum"), [2, 3], timeout=10) == 5
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_our_client_over_tls(tls_files: Any) -> None:
    from twisted.internet import reactor

    port = await listen(tls_files.server_description())
    try:
        skill = await call(reactor, "127.0.0.1", port.getHost().port,
                           SERVICE.lookup("Programmer.GetSkill"), ["J", "G"], tls=True,
                           insecure=True, timeout=10)
        assert skill == "Skill1:J，Skill2G"
        with pytest.raises(RpcError, match="overflow"):
            await call(reactor, "127.0.0.1", port.getHost().port,
                       SERVICE.lookup("Algorithm.Sum"), [2**63 - 1, 1], tls=True,
                       insecure=True, timeout=10)
    finally:
        await port.stopListening()


def deferLater(reactor: Any, seconds: float) -> defer.Deferred[None]:
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)


GO_CLIENT = textwrap.dedent("""
    package main

    import (
        "fmt"
        "net/rpc/jsonrpc"
        "os"
        "sync"
    )

    type Args struct{ X, Y int }
    type Skills struct{ Java, Go string }

    func main() {
        client, err := jsonrpc.Dial("tcp", os.Args[1])
        if err != nil {
            fmt.Println("dial:", err)
            os.Exit(1)
        }
        var sum int
        err = client.Call("Algorithm.Sum", Args{40, 2}, &sum)
        fmt.Println("sum", sum, err)
        var skill string
        err = client.Call("Programmer.GetSkill", Skills{"Java", "Go"}, &skill)
        fmt.Println("skill", skill, err)
        err = client.Call("Algorithm.Sum", Args{9223372036854775807, 1}, &sum)
        fmt.Println("overflow", err)
        err = client.Call("Algorithm.Nope", Args{}, &sum)
        fmt.Println("nope", err)
        err = client.Call("Nope.Sum", Args{}, &sum)
        fmt.Println("noservice", err)
        var wg sync.WaitGroup
        bad := 0
        var mu sync.Mutex
        for i := 0; i < 200; i++ {
            wg.Add(1)
            go func(i int) {
                defer wg.Done()
                var r int
                if err := client.Call("Algorithm.Sum", Args{i, i}, &r); err != nil || r != 2*i {
                    mu.Lock()
                    bad++
                    mu.Unlock()
                }
            }(i)
        }
        wg.Wait()
        fmt.Println("concurrent bad", bad)
        client.Close()
    }
""")


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (apt-get install golang-go) -- Go interop not checked")
    work = tmp_path_factory.mktemp("gojsonrpc")
    (work / "main.go").write_text(GO_CLIENT)
    (work / "go.mod").write_text("module jsonrpcclient\n\ngo 1.19\n")
    # The build cache is shared with the other Go interop tests (a temporary directory).
    cache = os.environ.get("NETSUITE_GOCACHE",
                           str(Path(tempfile.gettempdir()) / "netsuite-gocache"))
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOCACHE": cache,
           "HOME": str(work), "GOPATH": str(work / "gopath"), "CGO_ENABLED": "0"}
    built = subprocess.run([go, "build", "-o", str(work / "client"), "."], cwd=work, env=env,
                           capture_output=True, text=True, timeout=110)
    assert built.returncode == 0, built.stderr
    return work / "client"


@pytest_twisted.ensureDeferred
async def test_go_jsonrpc_client_interop(go_client: Path) -> None:
    from twisted.internet import reactor

    port = await listen()
    try:
        out, err, code = await utils.getProcessOutputAndValue(
            str(go_client), [f"127.0.0.1:{port.getHost().port}"], env=dict(os.environ),
            reactor=reactor)
        lines = out.decode().splitlines()
        assert code == 0, (out, err)
        assert lines == [
            "sum 42 <nil>",
            "skill Skill1:Java，Skill2Go <nil>",
            "overflow integer overflow: 9223372036854775807 + 1 is outside the signed 64-bit "
            "range",
            "nope rpc: can't find method Algorithm.Nope",
            "noservice rpc: can't find service Nope.Sum",
            "concurrent bad 0",
        ]
    finally:
        await port.stopListening()


# --- slow reader / flood: bounded buffers, nothing lost, others served -------------------------

class Flooder(protocol.Protocol):
    """Writes a burst of requests without reading any answer until told to."""

    def __init__(self, burst: bytes) -> None:
        self.burst = burst
        self.received = b""
        self.closed: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.pauseProducing()  # do not read the answers
        self.transport.write(self.burst)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(None)


async def check_slow_reader(factory: Any, burst: bytes, probe: Any, answered: Any) -> None:
    """A peer flooding requests without reading: the server stops reading it (its own
    buffer stays small), serves another client meanwhile, and loses no answer."""
    import socket

    from twisted.internet import reactor

    servers: list[Any] = []
    paused: defer.Deferred[None] = defer.Deferred()
    build = factory.buildProtocol

    def buildProtocol(addr: Any) -> Any:
        p = build(addr)
        servers.append(p)
        pause = p.pauseProducing

        def pauseProducing() -> None:
            pause()
            if not paused.called:
                paused.callback(None)

        p.pauseProducing = pauseProducing
        return p

    factory.buildProtocol = buildProtocol
    port = await endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)
    try:
        flooder = Flooder(burst)
        await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(
            protocol.Factory.forProtocol(lambda: flooder))
        await deferLater(reactor, 0)
        assert servers[0].transport.getTcpNoDelay()  # answers are not held back by Nagle
        servers[0].transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        await paused.addTimeout(20, reactor)
        server_transport = servers[0].transport
        pending = len(server_transport.dataBuffer) + sum(map(len, server_transport._tempDataBuffer))
        assert pending < 512 * 1024
        await probe(port.getHost().port)  # someone else is served meanwhile
        servers[0].transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        flooder.transport.resumeProducing()
        await answered(flooder)
        flooder.transport.loseConnection()
        await flooder.closed
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_slow_reader_flood() -> None:
    from twisted.internet import reactor

    n = 15000
    burst = b"".join(req(i) for i in range(n))

    async def probe(port_number: int) -> None:
        assert await call(reactor, "127.0.0.1", port_number, SERVICE.lookup("Algorithm.Sum"),
                          [1, 1], timeout=10) == 2

    async def answered(flooder: Flooder) -> None:
        while flooder.received.count(b"\n") < n:
            await deferLater(reactor, 0.01)
        ids = [json.loads(line)["id"] for line in flooder.received.splitlines()]
        assert ids == list(range(n))

    await check_slow_reader(jsonrpc_factory(SERVICE), burst, probe, answered)


@pytest_twisted.ensureDeferred
async def test_unix_socket_endpoint(tmp_path: Path) -> None:
    from twisted.internet import reactor

    path = tmp_path / "rpc.sock"
    port = await listen(f"unix:{path}")
    try:
        raw = await endpoints.UNIXClientEndpoint(reactor, str(path)).connect(
            protocol.Factory.forProtocol(Raw))
        raw.transport.write(req(5, 2, 3))
        assert json.loads((await raw.wait_lines(1))[0]) == {"id": 5, "result": 5, "error": None}
        raw.transport.loseConnection()
        await raw.closed
    finally:
        await port.stopListening()
