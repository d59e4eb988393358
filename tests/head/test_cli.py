"""``netsuite head`` against real loopback servers (twisted.web, broken ones, HTTPS, IPv6)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.web import resource, server

from netsuite._cli import UsageFailure, build_parser
from netsuite.head._cli import run
from tests.helpers import PKI, TLSFiles, has_ipv6


class Page(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        if request.path == b"/missing":
            request.setResponseCode(404)
        request.setHeader(b"X-Path", request.path)
        request.setHeader(b"X-Host", request.getHeader(b"host") or b"-")
        request.setHeader(b"X-Version", request.clientproto)
        return b"hello " * 100


class Scripted(Protocol):
    """Answers the first bytes of a request with ``factory.answer(self)``."""

    def dataReceived(self, data: bytes) -> None:
        if not getattr(self, "answered", False):
            self.answered = True
            self.factory.answer(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.open.discard(self)

    def connectionMade(self) -> None:
        self.factory.open.add(self)


def scripted(answer: Callable[[Protocol], None]) -> Factory:
    factory = Factory.forProtocol(Scripted)
    factory.answer = answer
    factory.open = set()
    return factory


@pytest_twisted.async_yield_fixture
async def listen() -> AsyncIterator[Callable[..., Any]]:
    """Start listeners on port 0; close them (and their connections) afterwards."""
    ports: list[Any] = []
    factories: list[Any] = []

    async def start(factory: Any, description: str = "tcp:0:interface=127.0.0.1") -> int:
        port = await serverFromString(reactor, description).listen(factory)
        ports.append(port)
        factories.append(factory)
        return port.getHost().port

    yield start
    for factory in factories:
        for proto in list(getattr(factory, "open", ())):
            proto.transport.abortConnection()
    for port in ports:
        await port.stopListening()


async def head(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser, _ = build_parser("head")
    code = await run(reactor, parser.parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out, err


def site() -> server.Site:
    return server.Site(Page())


@pytest_twisted.ensureDeferred
async def test_twisted_web_http10_and_http11(listen: Any, capsys: Any) -> None:
    port = await listen(site())
    code, out, err = await head(capsys, f"127.0.0.1:{port}")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "HTTP/1.0 200 OK"
    assert "X-Version: HTTP/1.0" in lines and "X-Host: -" in lines
    assert any(line.startswith("Content-Length:") for line in lines)
    assert err == ""

    code, out, _ = await head(capsys, "--http1.1", f"http://127.0.0.1:{port}/missing?q=1")
    assert code == 0  # a 404 is an answer
    lines = out.splitlines()
    assert lines[0] == "HTTP/1.1 404 Not Found"
    assert f"X-Host: 127.0.0.1:{port}" in lines
    assert "X-Path: /missing" in lines


@pytest_twisted.ensureDeferred
async def test_json_output_for_many_targets(listen: Any, capsys: Any) -> None:
    port = await listen(site())
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    dead = refused.getsockname()[1]
    refused.close()
    targets = [f"http://127.0.0.1:{port}/p{i}" for i in range(30)] + [f"127.0.0.1:{dead}"]
    code, out, err = await head(capsys, "--json", "--concurrency", "7", *targets)
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["target"] for r in records) == sorted(targets)
    good = [r for r in records if r["error"] is None]
    assert len(good) == 30
    for record in good:
        assert record["status"] == 200 and record["reason"] == "OK"
        path = "/" + record["target"].split("/", 3)[3]
        assert ["X-Path", path] in record["headers"]
        assert record["elapsed_ms"] >= 0
    bad = next(r for r in records if r["error"])
    assert bad["status"] is None and bad["error"] == "connection refused"
    assert err.strip() == f"netsuite head: 127.0.0.1:{dead}: connection refused"


@pytest_twisted.ensureDeferred
async def test_content_length_without_body_does_not_wait(listen: Any, capsys: Any) -> None:
    def answer(proto: Protocol) -> None:
        proto.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")

    port = await listen(scripted(answer))
    started = time.monotonic()
    code, out, _ = await head(capsys, "--timeout", "5", f"127.0.0.1:{port}")
    assert code == 0
    assert out.splitlines() == ["HTTP/1.1 200 OK", "Content-Length: 1000000"]
    assert time.monotonic() - started < 2


@pytest_twisted.ensureDeferred
async def test_never_answering_server_times_out(listen: Any, capsys: Any) -> None:
    port = await listen(scripted(lambda proto: None))
    started = time.monotonic()
    code, out, err = await head(capsys, "--timeout", "0.3", f"127.0.0.1:{port}")
    assert code == 1
    assert out == ""
    assert err.strip() == f"netsuite head: 127.0.0.1:{port}: timed out after 0.3 s"
    assert time.monotonic() - started < 3


@pytest_twisted.ensureDeferred
async def test_one_mib_of_header_is_an_error(listen: Any, capsys: Any) -> None:
    def answer(proto: Protocol) -> None:
        proto.transport.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")

    port = await listen(scripted(answer))
    code, _, err = await head(capsys, f"127.0.0.1:{port}")
    assert code == 1
    assert "response head larger than 65536 bytes" in err


@pytest_twisted.ensureDeferred
async def test_close_mid_head(listen: Any, capsys: Any) -> None:
    def answer(proto: Protocol) -> None:
        proto.transport.write(b"HTTP/1.1 200 OK\r\nServer: half")
        proto.transport.loseConnection()

    port = await listen(scripted(answer))
    code, _, err = await head(capsys, f"127.0.0.1:{port}")
    assert code == 1
    assert err.strip() == f"netsuite head: 127.0.0.1:{port}: connection closed mid-head"


@pytest_twisted.ensureDeferred
async def test_garbage_is_malformed(listen: Any, capsys: Any) -> None:
    port = await listen(scripted(lambda proto: proto.transport.write(b"SSH-2.0-OpenSSH\r\n")))
    code, _, err = await head(capsys, f"127.0.0.1:{port}")
    assert code == 1
    assert "malformed response: not an HTTP response" in err


@pytest_twisted.ensureDeferred
async def test_https_self_signed(listen: Any, capsys: Any, tls_files: TLSFiles) -> None:
    port = await listen(site(), tls_files.server_description())
    code, out, err = await head(capsys, f"https://localhost:{port}/")
    assert code == 1
    assert out == ""
    assert f"https://localhost:{port}/: TLS error: " in err
    assert "certificate verify failed" in err

    code, out, err = await head(capsys, "--insecure", "--http1.1", f"https://localhost:{port}/")
    assert code == 0, err
    assert out.splitlines()[0] == "HTTP/1.1 200 OK"
    assert f"X-Host: localhost:{port}" in out.splitlines()


@pytest_twisted.ensureDeferred
async def test_tls_options(listen: Any, capsys: Any, pki: PKI) -> None:
    """--ca trusts a private CA; --tls makes HOST:PORT targets TLS; errors are one line."""
    port = await listen(site(), pki.server.server_description())
    code, out, err = await head(capsys, "--ca", str(pki.ca), f"https://localhost:{port}/")
    assert code == 0, err
    assert out.splitlines()[0] == "HTTP/1.0 200 OK"

    code, out, err = await head(capsys, "--tls", "--ca", str(pki.ca), f"localhost:{port}")
    assert code == 0, err

    code, out, err = await head(capsys, "--tls", f"localhost:{port}")
    assert code == 1
    assert err == (f"netsuite head: localhost:{port}: TLS error: certificate verify failed "
                   f"(localhost:{port}) (--ca FILE trusts your CA; --insecure skips the "
                   "check)\n")

    with pytest.raises(UsageFailure, match="--ca only makes sense with --tls"):
        await head(capsys, "--ca", str(pki.ca), f"localhost:{port}")


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback on this machine")
@pytest_twisted.ensureDeferred
async def test_ipv6(listen: Any, capsys: Any) -> None:
    port = await listen(site(), r"tcp6:0:interface=\:\:1")
    code, out, err = await head(capsys, "--http1.1", f"[::1]:{port}", f"http://[::1]:{port}/v6")
    assert code == 0, err
    assert f"X-Host: [::1]:{port}" in out.splitlines()
    assert "X-Path: /v6" in out.splitlines()


@pytest_twisted.ensureDeferred
async def test_bad_target_is_usage_error(capsys: Any) -> None:
    with pytest.raises(UsageFailure, match="expected HOST:PORT"):
        await head(capsys, "127.0.0.1:80", "nohostport")


def test_console_script_exit_codes() -> None:
    script = str(Path(sys.executable).with_name("netsuite"))
    bad = subprocess.run([script, "head", "not a target"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    assert "error:" in bad.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    refused = subprocess.run([script, "head", f"127.0.0.1:{dead}"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"netsuite head: 127.0.0.1:{dead}: connection refused"


@pytest_twisted.ensureDeferred
async def test_targets_from_file(listen: Any, capsys: Any, tmp_path: Path) -> None:
    port = await listen(site())
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# local\n\nhttp://127.0.0.1:{port}/a\n  127.0.0.1:{port}  \n")
    code, out, _ = await head(capsys, "--json", "--file", str(listing))
    assert code == 0
    assert sorted(json.loads(line)["target"] for line in out.splitlines()) == [
        f"127.0.0.1:{port}", f"http://127.0.0.1:{port}/a"]
    with pytest.raises(UsageFailure, match="no targets"):
        await head(capsys)
    with pytest.raises(UsageFailure, match="cannot read targets"):
        await head(capsys, "--file", str(tmp_path / "missing"))


@pytest_twisted.ensureDeferred
async def test_https_verified_when_trusted(listen: Any, capsys: Any, tls_files: TLSFiles,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With the certificate in the trust store, verification (name and IP) passes."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    port = await listen(site(), tls_files.server_description())
    code, out, err = await head(capsys, "--json", f"https://localhost:{port}/",
                                f"https://127.0.0.1:{port}/")
    assert code == 0, err
    assert [json.loads(line)["status"] for line in out.splitlines()] == [200, 200]
