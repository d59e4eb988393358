#!/usr/bin/env python3
"""Chat fan-out and idle memory over the WebSocket, beside the same over raw TCP, in one run.

    .venv/bin/python benchmarks/ws_fanout.py [--runs 3] [--clients 50] [--msgs 2000]
                                             [--size 64] [--idle 5000]

For each round (interleaved, so drift on a shared machine hits both alike) a fresh
``twistd -n chat --port ... --web ...`` (pinned to ``SERVER_CPU``, default 0) is driven
by this one load client (pinned to ``LG_CPU``, default 1) twice: over TCP and over the
WebSocket.  The same client code does both, so the ratio compares the server's two
front doors and nothing else.

* fan-out: ``--clients`` clients connect and send ``/nick uN``; then every client sends
  ``--msgs`` lines of ``--size`` bytes, and every line reaches the other clients (N x
  (N-1) x K deliveries).  Reported: deliveries/s (to the last delivery) and the server's
  CPU seconds per million deliveries (user+sys from ``/proc``: independent of how fast
  this client is).
* idle: ``--idle`` clients connect and wait; KiB of server RSS per connection above the
  empty server, read 2 s after the last one is in.

Prints one JSON line per measurement and a table of medians with WebSocket / TCP ratios.
Nothing here runs in CI.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import selectors
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TWISTD = Path(sys.executable).parent / "twistd"
ZERO_MASK = b"\x00\x00\x00\x00"  # a legal mask key that leaves the payload as it is


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ws_frame(payload: bytes) -> bytes:
    """A masked text frame (client to server)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    else:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + ZERO_MASK + payload


def ws_handshake(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


class Server:
    """``twistd chat`` with a TCP and a web listener, pinned to one CPU."""

    def __init__(self) -> None:
        self.tcp, self.web = free_port(), free_port()
        argv = [str(TWISTD), "-n", "--pidfile=", "chat",
                "--port", f"tcp:{self.tcp}:interface=127.0.0.1",
                "--web", f"tcp:{self.web}:interface=127.0.0.1", "--max-clients", "20000"]
        cpu = os.environ.get("SERVER_CPU", "0")
        self.proc = subprocess.Popen(["taskset", "-c", cpu, *argv], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.web), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", self.tcp), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.05)
        time.sleep(0.5)  # let the two probe connections' departures settle

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def connect_all(server: Server, n: int, ws: bool, nick: bool) -> list[socket.socket]:
    """``n`` clients, each past its handshake and ``WELCOME`` (and ``NICK`` if ``nick``)."""
    socks = []
    for i in range(n):
        sock = socket.create_connection(("127.0.0.1", server.web if ws else server.tcp))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ws:
            sock.sendall(ws_handshake(server.web))
        if nick:
            line = f"/nick u{i}".encode()
            sock.sendall(ws_frame(line) if ws else line + b"\n")
        socks.append(sock)
    want = b"NICK " if nick else b"WELCOME "
    for i, sock in enumerate(socks):
        seen = b""
        while want not in seen or (nick and f" u{i}\n".encode() not in seen):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"client {i} closed during setup")
            seen += chunk
        sock.setblocking(False)
    return socks


def drain(socks: list[socket.socket], seconds: float) -> None:
    """Read and discard what the server sends for ``seconds`` (JOIN/NICK notices)."""
    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            try:
                key.fileobj.recv(1 << 20)
            except BlockingIOError:
                pass
    sel.close()


def fanout(server: Server, n: int, k: int, size: int, ws: bool, timeout: float) -> dict:
    socks = connect_all(server, n, ws, nick=True)
    drain(socks, 0.5)
    expected = n * (n - 1) * k
    outbound = []
    for i in range(n):
        lines = []
        for seq in range(k):
            text = f"m{i}-{seq}-".encode()
            text += b"x" * (size - len(text))
            lines.append(ws_frame(text) if ws else text + b"\n")
        outbound.append(memoryview(b"".join(lines)))
    sel = selectors.DefaultSelector()
    for i, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    counted = [0] * n
    tails = [b""] * n
    total = 0
    cpu0 = server.cpu_seconds()
    start = last = time.monotonic()
    deadline = start + timeout
    chunk_size = 16 * 1024
    while total < expected and time.monotonic() < deadline:
        for key, events in sel.select(0.5):
            i, sock = key.data, key.fileobj
            if events & selectors.EVENT_WRITE:
                out = outbound[i]
                try:
                    sent = sock.send(out[:chunk_size])
                except BlockingIOError:
                    sent = 0
                outbound[i] = out = out[sent:]
                if not len(out):
                    sel.modify(sock, selectors.EVENT_READ, i)
            if events & selectors.EVENT_READ:
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    raise ConnectionError(f"client {i} closed during the run")
                data = tails[i] + data
                got = data.count(b"MSG u")
                tails[i] = data[-4:]  # a marker split by the read is counted next time
                counted[i] += got
                total += got
                last = time.monotonic()
    cpu = server.cpu_seconds() - cpu0
    sel.close()
    for sock in socks:
        sock.close()
    elapsed = last - start
    return {"wire": "websocket" if ws else "tcp", "workload": "fanout", "clients": n,
            "msgs": k, "size": size, "expected": expected, "delivered": total,
            "missing": expected - total, "elapsed_s": round(elapsed, 3),
            "rate": round(total / elapsed) if elapsed > 0 else 0,
            "cpu_s_per_m": round(cpu / total * 1e6, 3) if total else None}


def idle(server: Server, n: int, ws: bool) -> dict:
    before = server.rss_kib()
    socks = connect_all(server, n, ws, nick=False)
    drain(socks, 2.0)
    after = server.rss_kib()
    alive = 0
    for sock in socks:
        try:
            alive += sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        sock.close()
    return {"wire": "websocket" if ws else "tcp", "workload": "idle", "clients": n,
            "alive": alive, "kib_per_conn": round((after - before) / n, 2),
            "rss_mb": round(after / 1024, 1)}


def run_one(kind: str, ws: bool, args: argparse.Namespace) -> dict:
    server = Server()
    try:
        if kind == "fanout":
            return fanout(server, args.clients, args.msgs, args.size, ws, args.timeout)
        return idle(server, args.idle, ws)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--msgs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--idle", type=int, default=5000, help="idle clients (0: skip)")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    lg_cpu = os.environ.get("LG_CPU", "1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(lg_cpu)})
    results: list[dict] = []
    kinds = ["fanout"] + (["idle"] if args.idle else [])
    for run in range(args.runs):
        for kind in kinds:
            order = (False, True) if run % 2 == 0 else (True, False)
            for ws in order:
                result = run_one(kind, ws, args) | {"run": run + 1}
                print(json.dumps(result), flush=True)
                results.append(result)
    print()
    print("| workload | wire | runs | median [min-max] | websocket / tcp |")
    print("| --- | --- | --- | --- | --- |")
    for kind, field, unit in (("fanout", "rate", "deliveries/s"),
                              ("fanout", "cpu_s_per_m", "server CPU s per M deliveries"),
                              ("idle", "kib_per_conn", "KiB per idle connection")):
        medians = {}
        for wire in ("tcp", "websocket"):
            values = [r[field] for r in results if r["workload"] == kind and r["wire"] == wire
                      and r.get(field) is not None]
            if not values:
                continue
            medians[wire] = statistics.median(values)
            ratio = ""
            if wire == "websocket" and medians.get("tcp"):
                ratio = f"{medians['websocket'] / medians['tcp']:.2f}"
            print(f"| {kind} {unit} | {wire} | {len(values)} | {medians[wire]:,.3g} "
                  f"[{min(values):,.3g}-{max(values):,.3g}] | {ratio} |")
    print(f"\ncommand: {shlex.join(sys.argv)}")


if __name__ == "__main__":
    main()
