"""Connection storms, resets mid-message and half-open connections against every TCP service.

Each service runs as a real ``twistd`` subprocess.  Per listener (chat, chat on TLS, tcplog,
and rpc's XML-RPC, AMP, JSON-RPC and raw gob listeners): 1,000 connections are opened
within about a second and aborted (RST) as soon as they connect, every other one after
sending part of a message; then a normal client must still be served and the server's
open file descriptors must come back to where they were before.  Twice: the first storm
may raise RSS to an allocator high-water mark (bounded), the second must not add to it
(nothing is kept per connection).  Then 100 half-open connections (half silent, half
half-closed after a partial message) are held while a normal client is served, and are
released again.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import TLSFiles, TwistdProcess

LOCAL = "tcp:0:interface=127.0.0.1"
LINGER_RST = struct.pack("ii", 1, 0)
STORM = 1000
#: Half-open connections held at once (opened back to back: every netsuite listener has a
#: listen backlog of 1024, so none waits for a SYN retransmit).
HALF_OPEN = 100
FD_SLACK = 3                  # fds the server may legitimately hold on to (log, timers, ...)
RSS_HIGH_WATER_KB = 32 * 1024  # growth allowed over the first storm (allocator high water)
RSS_SLACK_KB = 3 * 1024        # growth allowed over a second storm: < 3 KiB per connection

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------- process state


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (a kernel-level state with no event to wait on) until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------- clients


def abort(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the abrupt reset of a vanished client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    except OSError:
        pass
    sock.close()


def storm(port: int, partial: bytes, count: int = STORM, seconds: float = 1.0,
          deadline: float = 6.0) -> int:
    """Open ``count`` connections spread over ``seconds``; abort each once connected
    (every other one after sending ``partial``).  Returns how many connected."""
    selector = selectors.DefaultSelector()
    start = time.monotonic()
    opened = connected = 0
    while opened < count or selector.get_map():
        now = time.monotonic()
        due = min(count, int((now - start) / seconds * count) + 1)
        while opened < due:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            selector.register(sock, selectors.EVENT_WRITE, (now, opened % 2 == 1))
            opened += 1
        for key, _ in selector.select(timeout=0.005):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            selector.unregister(sock)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
                if key.data[1]:
                    try:
                        sock.send(partial)
                    except OSError:
                        pass
            abort(sock)
        for key in list(selector.get_map().values()):
            if now - key.data[0] > deadline:  # never completed (SYN dropped): give up
                selector.unregister(key.fileobj)
                abort(key.fileobj)  # type: ignore[arg-type]
    selector.close()
    return connected


def half_open(port: int, partial: bytes, count: int = HALF_OPEN) -> list[socket.socket]:
    """``count`` connections left open: half silent, half sent ``partial`` then SHUT_WR."""
    socks = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 2:
            sock.sendall(partial)
            sock.shutdown(socket.SHUT_WR)
        socks.append(sock)
    return socks


def recv_until(sock: socket.socket, done: Callable[[bytes], bool], limit: int = 1 << 16
               ) -> bytes:
    data = b""
    while not done(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


def amp_box(**pairs: bytes) -> bytes:
    out = b""
    for key, value in pairs.items():
        out += struct.pack("!H", len(key)) + key.encode() + struct.pack("!H", len(value)) + value
    return out + b"\x00\x00"


def parse_amp_box(data: bytes) -> dict[str, bytes]:
    box: dict[str, bytes] = {}
    i = 0
    while True:
        (klen,) = struct.unpack_from("!H", data, i)
        i += 2
        if klen == 0:
            return box
        key = data[i:i + klen].decode()
        i += klen
        (vlen,) = struct.unpack_from("!H", data, i)
        i += 2
        box[key] = data[i:i + vlen]
        i += vlen


# Per listener: a normal client's conversation (asserts it was served) and a partial message.


def serve_chat(proc: TwistdProcess, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert recv_until(sock, lambda d: b"\n" in d).startswith(b"WELCOME ")
        sock.sendall(b"/ping storm\n")
        assert b"PONG storm\n" in recv_until(sock, lambda d: b"PONG" in d and d.endswith(b"\n"))


def serve_tcplog(proc: TwistdProcess, port: int) -> None:
    token = f"still-served-{time.monotonic_ns()}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(token.encode() + b"\n")
        proc.wait_for(rf": {token}$", timeout=10)


def serve_xmlrpc(proc: TwistdProcess, port: int) -> None:
    body = (b"<?xml version='1.0'?><methodCall><methodName>Algorithm.Sum</methodName><params>"
            b"<param><value><int>1</int></value></param><param><value><int>2</int></value>"
            b"</param></params></methodCall>")
    request = (b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
               b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
               + body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = recv_until(sock, lambda d: b"</methodResponse>" in d)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert b"<int>3</int>" in reply or b"<i4>3</i4>" in reply, reply


def serve_amp(proc: TwistdProcess, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(amp_box(_ask=b"1", _command=b"Sum", x=b"1", y=b"2"))
        reply = parse_amp_box(recv_until(sock, lambda d: d.endswith(b"\x00\x00")))
    assert reply == {"_answer": b"1", "total": b"3"}, reply


def serve_jsonrpc(proc: TwistdProcess, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b'{"method": "Algorithm.Sum", "params": [{"X": 1, "Y": 2}], "id": 7}\n')
        reply = json.loads(recv_until(sock, lambda d: d.endswith(b"\n")))
    assert reply == {"id": 7, "result": 3, "error": None}


def serve_gob(proc: TwistdProcess, port: int) -> None:
    """A Go net/rpc call (``rpc.Dial``, raw gob) with the project's own client protocol,
    driven over a blocking socket."""
    from twisted.internet.testing import StringTransport

    from netsuite.rpc import SERVICE
    from netsuite.rpc.gob._client import GobClient, GobClientProtocol

    protocol = GobClientProtocol(raw=True)
    transport = StringTransport()
    protocol.makeConnection(transport)
    results: list[Any] = []
    GobClient(protocol).call(SERVICE.lookup("Algorithm.Sum"), [1, 2]).addBoth(results.append)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(transport.value())
        while not results:
            data = sock.recv(4096)
            assert data, "gob server closed the connection"
            protocol.dataReceived(data)
    assert results == [3]


def serve_chat_tls(proc: TwistdProcess, port: int) -> None:
    """A verified TLS chat client (the test certificate as the only trust root)."""
    import ssl

    context = ssl.create_default_context(cafile=str(proc.tls_cert))  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as sock:
        assert recv_until(sock, lambda d: b"\n" in d).startswith(b"WELCOME ")
        sock.sendall(b"/ping tls\n")
        assert b"PONG tls\n" in recv_until(sock, lambda d: b"PONG" in d and d.endswith(b"\n"))


#: The start of a TLS ClientHello record, cut short.
TLS_PARTIAL = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(20))

#: A gob message: a length (unsigned gob varint) promising more bytes than follow.
GOB_PARTIAL = b"\x40\x0e\xff\x81\x03\x01\x01\x07Request"

LISTENERS: dict[str, tuple[str, Callable[[TwistdProcess, int], None], bytes]] = {
    # listener label: (service, normal client, partial message)
    "chat": ("chat", serve_chat, b"a message without its line end"),
    "tcplog": ("tcplog", serve_tcplog, b"a line without its line end"),
    "xmlrpc": ("rpc", serve_xmlrpc,
               b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n<?xml ver"),
    "amp": ("rpc", serve_amp, amp_box(_ask=b"1", _command=b"Sum")[:-6]),
    "jsonrpc": ("rpc", serve_jsonrpc, b'{"method": "Algorithm.Sum", "params": [{"X": 1'),
    "gob": ("rpc", serve_gob, GOB_PARTIAL),
    "chat-tls": ("chat-tls", serve_chat_tls, TLS_PARTIAL),
}

SERVICES: dict[str, list[str]] = {
    "chat": ["chat", "--port", LOCAL],
    "tcplog": ["tcplog", "--port", LOCAL],
    "rpc": ["rpc", "--xmlrpc", LOCAL, "--amp", LOCAL, "--jsonrpc", LOCAL, "--gob", LOCAL,
            "--grpc", "none", "--grace", "0"],
}


@pytest.fixture(scope="module")
def servers(tls_files: TLSFiles) -> Iterator[dict[str, TwistdProcess]]:
    """One process per service for the whole module (they start in parallel), and a chat
    server on an ``ssl:`` endpoint (its listener is relabelled ``chat-tls`` here)."""
    procs = {name: TwistdProcess(*argv) for name, argv in SERVICES.items()}
    tls = TwistdProcess("chat", "--port", tls_files.server_description())
    tls.tls_cert = tls_files.cert  # type: ignore[attr-defined]
    procs["chat-tls"] = tls
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


def _server(servers: dict[str, TwistdProcess], label: str) -> tuple[TwistdProcess, int, Any,
                                                                    bytes]:
    service, serve, partial = LISTENERS[label]
    proc = servers[service]
    return proc, proc.port("chat" if label == "chat-tls" else label), serve, partial


@pytest.mark.parametrize("label", list(LISTENERS))
def test_storm_then_served_and_no_growth(servers: dict[str, TwistdProcess], label: str) -> None:
    proc, port, serve, partial = _server(servers, label)
    pid = proc.process.pid
    serve(proc, port)  # warm: first-use allocations are not a leak
    fds_before, rss_before = fd_count(pid), rss_kb(pid)

    rss_after: list[int] = []

    def grew_again() -> bool:
        return len(rss_after) == 2 and rss_after[1] - rss_after[0] >= RSS_SLACK_KB

    while len(rss_after) < 2 or grew_again():
        started = time.monotonic()
        connected = storm(port, partial)
        assert time.monotonic() - started < 15
        assert connected >= STORM // 2, f"only {connected} of {STORM} storm connections connected"
        serve(proc, port)
        wait_until(lambda: fd_count(pid) <= fds_before + FD_SLACK, 15,
                   f"{label}: fds back near {fds_before} (now {fd_count(pid)})")
        serve(proc, port)
        rss_after.append(rss_kb(pid))
    # The first storm may raise the allocator's high-water mark (TLS handshakes in flight
    # cost most); a second identical storm must not add to it: nothing is kept per connection.
    # On a loaded machine more handshakes are in flight at once in the second storm, so it
    # may raise the mark once more; then a third must not (a leak grows in every storm).
    assert rss_after[0] - rss_before < RSS_HIGH_WATER_KB, (rss_before, rss_after)
    assert rss_after[-1] - rss_after[-2] < RSS_SLACK_KB, (rss_before, rss_after)
    assert proc.process.poll() is None


@pytest.mark.parametrize("label", list(LISTENERS))
def test_half_open_connections_do_not_block_others(servers: dict[str, TwistdProcess],
                                                   label: str) -> None:
    proc, port, serve, partial = _server(servers, label)
    pid = proc.process.pid
    serve(proc, port)
    fds_before = fd_count(pid)
    socks = half_open(port, partial)
    try:
        serve(proc, port)  # served while the half-open connections are held
        # The server holds at most one fd per held connection (some may already be closed).
        assert fd_count(pid) <= fds_before + len(socks) + FD_SLACK
    finally:
        for sock in socks:
            abort(sock)
    wait_until(lambda: fd_count(pid) <= fds_before + FD_SLACK, 15,
               f"{label}: fds back near {fds_before} after half-open (now {fd_count(pid)})")
    serve(proc, port)
