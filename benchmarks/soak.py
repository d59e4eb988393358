#!/usr/bin/env python3
"""Soak test (run by hand, not in CI): many chat clients with churn, RPC on every transport.

    .venv/bin/python benchmarks/soak.py                         # 200 clients, 10 minutes
    .venv/bin/python benchmarks/soak.py --clients 20 --duration 20   # smoke run

It starts the ``chat`` and ``rpc`` twistd plugins itself (loopback, port 0), then:

- ``--clients`` chat clients each send a room message ``soak SENDER SEQ`` every
  ``1/--rate`` seconds (with jitter) and ``/ping`` every 10 s; each second a client leaves with
  probability ``--churn`` (half by ``/quit``, half by an abrupt abort) and comes back
  0-1 s later as a new session (a new WELCOME).
- Every receiving session checks, for every sending session, that the messages it got are
  in order without gaps or duplicates, and that it got every message written after its
  WELCOME and more than ``--margin`` seconds (plus twice this process's own recent event
  loop stalls) before either side left: messages written just before a leave may or may
  not have reached the server first, and neither is an error.  After an abort, only
  messages the server must have queued before the last one read are owed.
- RPC clients call ``Algorithm.Sum`` at ``--rpc-rate`` calls/s on each transport: XML-RPC
  (one HTTP connection per call), AMP and JSON-RPC (persistent connections), Go gob
  over ``rpc.DialHTTP`` and ``rpc.Dial`` (a Go helper, ``benchmarks/gobsoak``, built on the
  fly when ``go`` is installed) and gRPC
  (when ``grpcio`` is installed); every reply is checked.
- Every ``--sample`` seconds the servers' RSS and open file descriptors are read from
  ``/proc``.  At the end the chat server gets SIGTERM and every connected client must
  receive ``BYE shutdown``.

Exit status 0 when nothing was lost, reordered or wrong, RSS and fds stayed flat and
every client saw ``BYE shutdown``; else 1.  ``--json FILE`` writes every sample and the
summary for the report.  Everything is bounded: clients in count, every run in time.
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer, protocol, reactor, task, threads
from twisted.protocols import amp
from twisted.protocols.basic import LineReceiver
from twisted.web import xmlrpc

ROOT = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).with_name("twistd"))
LISTENING = re.compile(r"(\S+) listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)")

now = time.monotonic
LAG_TICK = 0.05


# ---------------------------------------------------------------- servers


class ServerProcess(protocol.ProcessProtocol):
    """A ``twistd -n`` plugin subprocess; collects its log and the ports it listens on."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ports: dict[str, int] = {}
        self.lines: list[str] = []
        self.ended: defer.Deferred[int] = defer.Deferred()
        self._buffer = b""
        self._waiting: list[tuple[str, defer.Deferred[int]]] = []
        self.pid = 0

    def connectionMade(self) -> None:
        self.pid = self.transport.pid

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if len(self.lines) > 2000:
                del self.lines[:1000]
            if match := LISTENING.search(line):
                self.ports[match.group(1)] = int(match.group(2))
                for label, d in list(self._waiting):
                    if label in self.ports:
                        self._waiting.remove((label, d))
                        d.callback(self.ports[label])

    errReceived = outReceived

    def port(self, label: str) -> defer.Deferred[int]:
        if label in self.ports:
            return defer.succeed(self.ports[label])
        d: defer.Deferred[int] = defer.Deferred()
        self._waiting.append((label, d))
        return d

    def processEnded(self, reason: Any) -> None:
        code = getattr(reason.value, "exitCode", None)
        for _, d in self._waiting:
            d.errback(RuntimeError(f"{self.name} exited ({code}):\n" + "\n".join(self.lines)))
        self._waiting = []
        self.ended.callback(code)


def start_server(name: str, argv: list[str]) -> ServerProcess:
    proc = ServerProcess(name)
    env = dict(os.environ)
    reactor.spawnProcess(proc, TWISTD, [TWISTD, "-n", "--pidfile=", *argv], env=env,
                         path=str(ROOT))
    return proc


def proc_sample(pid: int) -> tuple[int | None, int | None]:
    """(RSS KiB, open fds) of a process, from /proc."""
    rss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return rss, None
    return rss, fds


# ---------------------------------------------------------------- chat


class Sender:
    """What one chat session wrote: the time of each message (index = SEQ)."""

    __slots__ = ("left", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.left: float | None = None


class Totals:
    """Everything counted over the run."""

    def __init__(self) -> None:
        self.sent = 0
        self.delivered = 0
        self.lost = 0
        self.reordered = 0
        self.duplicated = 0
        self.sessions = 0
        self.quits = 0
        self.aborts = 0
        self.unexpected_drops: dict[str, int] = {}
        self.err_lines: dict[str, int] = {}
        self.connect_failures = 0
        self.bye_shutdown = 0
        self.at_shutdown = 0
        self.examples: list[str] = []

    def example(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


class ChatClient(LineReceiver):
    """One chat session: records WELCOME, checks every ``soak`` message it receives."""

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, seat: Seat) -> None:
        self.seat = seat
        self.welcome: float | None = None
        self.sid = ""
        # sender id -> [first seq, last seq, count]
        self.seen: dict[str, list[int]] = {}
        #: Write time of the newest message received: after an abort, what was still in
        #: this socket's receive buffer is gone, so only messages the server must have
        #: queued before that one are owed (see Soak.evaluate).
        self.last_write = 0.0
        self.aborted = False
        self.leaving = False
        self.got_bye: str | None = None

    def connectionMade(self) -> None:
        self.seat.connected(self)

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        verb, _, rest = text.partition(" ")
        if verb == "MSG":
            _nick, _, body = rest.partition(" ")
            parts = body.split(" ")
            if len(parts) == 3 and parts[0] == "soak" and self.welcome is not None:
                self.received(parts[1], int(parts[2]))
        elif verb == "WELCOME":
            self.welcome = now()
            self.seat.welcomed(self)
        elif verb == "BYE":
            self.got_bye = rest
        elif verb == "ERR":
            code = rest.partition(" ")[0]
            totals = self.seat.soak.totals
            totals.err_lines[code] = totals.err_lines.get(code, 0) + 1

    def received(self, sender: str, seq: int) -> None:
        totals = self.seat.soak.totals
        totals.delivered += 1
        log = self.seat.soak.senders.get(sender)
        if log is not None and seq < len(log.times) and log.times[seq] > self.last_write:
            self.last_write = log.times[seq]
        state = self.seen.get(sender)
        if state is None:
            self.seen[sender] = [seq, seq, 1]
            return
        last = state[1]
        if seq == last + 1:
            state[1] = seq
            state[2] += 1
        elif seq > last + 1:
            totals.lost += seq - last - 1
            totals.example(f"{self.sid} missed {sender} {last + 1}..{seq - 1}")
            state[1] = seq
            state[2] += 1
        elif seq == last:
            totals.duplicated += 1
        else:
            totals.reordered += 1
            totals.example(f"{self.sid} got {sender} {seq} after {last}")

    def lineLengthExceeded(self, line: bytes) -> None:
        self.seat.soak.totals.example(f"{self.sid}: line too long from server")

    def connectionLost(self, reason: Any) -> None:
        self.seat.lost(self, reason)


class ChatFactory(protocol.ClientFactory):
    def __init__(self, seat: Seat) -> None:
        self.seat = seat

    def buildProtocol(self, addr: Any) -> ChatClient:
        return ChatClient(self.seat)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.seat.soak.totals.connect_failures += 1
        self.seat.schedule_reconnect()


class Seat:
    """A chat user that keeps coming back: one session at a time."""

    def __init__(self, soak: Soak, index: int) -> None:
        self.soak = soak
        self.index = index
        self.generation = 0
        self.client: ChatClient | None = None
        self.sender: Sender | None = None
        self.timers: list[Any] = []
        self.rng = random.Random(soak.args.seed * 100003 + index)

    def connect(self) -> None:
        if self.soak.stopping:
            return
        reactor.connectTCP("127.0.0.1", self.soak.chat_port, ChatFactory(self), timeout=10)

    def schedule_reconnect(self) -> None:
        if not self.soak.stopping:
            reactor.callLater(self.rng.uniform(0.05, 1.0), self.connect)

    def connected(self, client: ChatClient) -> None:
        self.client = client

    def welcomed(self, client: ChatClient) -> None:
        self.generation += 1
        client.sid = f"{self.index}.{self.generation}"
        self.sender = Sender()
        self.soak.senders[client.sid] = self.sender
        self.soak.totals.sessions += 1
        self.soak.live.add(client)
        self._tick(client)
        ping = task.LoopingCall(client.sendLine, b"/ping soak")
        ping.start(10, now=False)
        self.timers.append(ping)

    def _tick(self, client: ChatClient) -> None:
        if client.leaving or self.soak.stopping or self.soak.quiet:
            return
        args = self.soak.args
        assert self.sender is not None
        seq = len(self.sender.times)
        self.sender.times.append(now())
        client.sendLine(f"soak {client.sid} {seq}".encode())
        self.soak.totals.sent += 1
        if self.rng.random() < args.churn / args.rate:
            self.leave(client)
            return
        delay = self.rng.uniform(0.5, 1.5) / args.rate
        self.timers.append(reactor.callLater(delay, self._tick, client))

    def _stop_timers(self) -> None:
        for timer in self.timers:
            if isinstance(timer, task.LoopingCall):
                if timer.running:
                    timer.stop()
            elif timer.active():
                timer.cancel()
        self.timers = []

    def leave(self, client: ChatClient) -> None:
        client.leaving = True
        self._stop_timers()
        if self.sender is not None:
            self.sender.left = now()
        if self.rng.random() < 0.5:
            self.soak.totals.quits += 1
            client.sendLine(b"/quit soak")
        else:
            self.soak.totals.aborts += 1
            client.aborted = True
            client.transport.abortConnection()

    def lost(self, client: ChatClient, reason: Any) -> None:
        self._stop_timers()
        if self.sender is not None and self.sender.left is None:
            self.sender.left = now()
        if not client.leaving and not self.soak.stopping and client.welcome is not None:
            why = client.got_bye or reason.getErrorMessage()
            drops = self.soak.totals.unexpected_drops
            drops[why] = drops.get(why, 0) + 1
        if self.soak.shutting_down:
            self.soak.totals.at_shutdown += 1
            if client.got_bye == "shutdown":
                self.soak.totals.bye_shutdown += 1
        self.soak.live.discard(client)
        if client.welcome is not None:
            self.soak.evaluate(client, self.sender.left if self.sender else now())
        self.client = None
        self.sender = None
        self.schedule_reconnect()


# ---------------------------------------------------------------- RPC


class Sum(amp.Command):
    arguments = [(b"x", amp.Integer()), (b"y", amp.Integer())]
    response = [(b"total", amp.Integer())]


class RpcCounts:
    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.wrong = 0
        self.first_error = ""

    def error(self, failure: Any) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = str(getattr(failure, "value", failure))[:200]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "wrong": self.wrong,
                "first_error": self.first_error}


class JsonRpcClient(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self) -> None:
        self.pending: dict[int, tuple[defer.Deferred[Any], int]] = {}
        self.next_id = 0

    def call(self, x: int, y: int) -> defer.Deferred[Any]:
        self.next_id += 1
        d: defer.Deferred[Any] = defer.Deferred()
        self.pending[self.next_id] = (d, x + y)
        request = {"method": "Algorithm.Sum", "params": [{"X": x, "Y": y}], "id": self.next_id}
        self.sendLine(json.dumps(request).encode())
        return d

    def lineReceived(self, line: bytes) -> None:
        reply = json.loads(line)
        d, expected = self.pending.pop(reply["id"])
        if reply.get("error") is not None:
            d.errback(RuntimeError(reply["error"]))
        else:
            d.callback(reply["result"] == expected)

    def connectionLost(self, reason: Any) -> None:
        pending, self.pending = self.pending, {}
        for d, _ in pending.values():
            d.errback(reason)


def encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def grpc_sum_request(x: int, y: int) -> bytes:
    return b"\x08" + encode_varint(x) + b"\x10" + encode_varint(y)


def grpc_sum_reply(data: bytes) -> int:
    total = shift = 0
    if not data:
        return 0
    assert data[0] == 0x08, data
    for byte in data[1:]:
        total |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return struct.unpack("<q", struct.pack("<Q", total))[0]


def build_gob_helper() -> Path | None:
    """Build ``benchmarks/gobsoak`` (Go standard library only); ``None`` without Go."""
    go = shutil.which("go")
    if go is None:
        print("soak: no go compiler: gob transport not exercised", file=sys.stderr)
        return None
    work = Path(tempfile.gettempdir()) / "netsuite-soak"
    work.mkdir(exist_ok=True)
    binary = work / "gobsoak"
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "",
           "GOCACHE": str(work / "gocache"), "GOPATH": str(work / "gopath")}
    built = subprocess.run([go, "build", "-o", str(binary),
                            str(ROOT / "benchmarks" / "gobsoak" / "main.go")],
                           env=env, capture_output=True, text=True)
    if built.returncode != 0:
        print(f"soak: gob helper did not build: {built.stderr}", file=sys.stderr)
        return None
    return binary


class RpcLoad:
    """Steady RPC calls on every transport, verified."""

    def __init__(self, soak: Soak, ports: dict[str, int]) -> None:
        self.soak = soak
        self.ports = ports
        self.counts: dict[str, RpcCounts] = {}
        self.loops: list[task.LoopingCall] = []
        self.clients: list[Any] = []
        self.threads: list[threading.Thread] = []
        self.gobs: dict[str, subprocess.Popen[str]] = {}
        self.gob_binary: Path | None = None
        self.started = now()
        self.ended: float | None = None

    async def start(self) -> None:
        rate = self.soak.args.rpc_rate
        rng = random.Random(self.soak.args.seed)
        if "xmlrpc" in self.ports:
            counts = self.counts["xmlrpc"] = RpcCounts()
            proxy = xmlrpc.Proxy(f"http://127.0.0.1:{self.ports['xmlrpc']}/RPC2".encode())

            def xml_call(counts: RpcCounts = counts) -> None:
                # xmlrpc.client (under twisted.web.xmlrpc) only marshals 32-bit ints
                x, y = rng.randrange(-2**30, 2**30), rng.randrange(-2**30, 2**30)
                d = defer.maybeDeferred(proxy.callRemote, "Algorithm.Sum", x, y)
                d.addCallbacks(lambda r, s=x + y: self._ok(counts, r == s), counts.error)

            self._loop(xml_call, rate)
        if "amp" in self.ports:
            counts = self.counts["amp"] = RpcCounts()
            clients = []
            for _ in range(2):
                point = protocol.ClientCreator(reactor, amp.AMP)
                clients.append(await point.connectTCP("127.0.0.1", self.ports["amp"]))
            self.clients.extend(clients)

            def amp_call(counts: RpcCounts = counts) -> None:
                x, y = rng.randrange(-2**40, 2**40), rng.randrange(-2**40, 2**40)
                d = defer.maybeDeferred(rng.choice(clients).callRemote, Sum, x=x, y=y)
                d.addCallbacks(lambda r, s=x + y: self._ok(counts, r["total"] == s),
                               counts.error)

            self._loop(amp_call, rate)
        if "jsonrpc" in self.ports:
            counts = self.counts["jsonrpc"] = RpcCounts()
            jclients = []
            for _ in range(2):
                point = protocol.ClientCreator(reactor, JsonRpcClient)
                jclients.append(await point.connectTCP("127.0.0.1", self.ports["jsonrpc"]))
            self.clients.extend(jclients)

            def json_call(counts: RpcCounts = counts) -> None:
                x, y = rng.randrange(-2**40, 2**40), rng.randrange(-2**40, 2**40)
                d = defer.maybeDeferred(rng.choice(jclients).call, x, y)
                d.addCallbacks(lambda good: self._ok(counts, good), counts.error)

            self._loop(json_call, rate)
        if "xmlrpc" in self.ports:
            self._start_gob("gob-http", self.ports["xmlrpc"], "http", rate)
        if "gob" in self.ports:
            self._start_gob("gob", self.ports["gob"], "raw", rate)
        if "grpc" in self.ports:
            self._start_grpc(self.ports["grpc"], rate)

    def _ok(self, counts: RpcCounts, good: bool) -> None:
        if good:
            counts.ok += 1
        else:
            counts.wrong += 1

    def _loop(self, call: Any, rate: float) -> None:
        loop = task.LoopingCall(call)
        loop.start(1.0 / rate, now=False)
        self.loops.append(loop)

    def _start_gob(self, name: str, port: int, mode: str, rate: float) -> None:
        if self.gob_binary is None:
            self.gob_binary = build_gob_helper()
        if self.gob_binary is None:
            return
        self.counts[name] = RpcCounts()
        self.gobs[name] = subprocess.Popen(
            [str(self.gob_binary), "-addr", f"127.0.0.1:{port}", "-mode", mode,
             "-rate", str(rate), "-duration", f"{self.soak.args.duration}s"],
            stdout=subprocess.PIPE, text=True)

    def _start_grpc(self, port: int, rate: float) -> None:
        try:
            import grpc
        except ImportError:
            print("soak: grpcio not installed: gRPC not exercised", file=sys.stderr)
            return
        counts = self.counts["grpc"] = RpcCounts()
        stop = self.soak.stop_event

        def run() -> None:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            call = channel.unary_unary("/netsuite.Algorithm/Sum",
                                       request_serializer=lambda b: b,
                                       response_deserializer=grpc_sum_reply)
            rng = random.Random(7)
            while not stop.wait(1.0 / rate):
                x, y = rng.randrange(-2**40, 2**40), rng.randrange(-2**40, 2**40)
                try:
                    total = call(grpc_sum_request(x, y), timeout=10)
                except Exception as e:
                    counts.error(e)
                    continue
                self._ok(counts, total == x + y)
            channel.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    async def stop(self) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        self.ended = now()
        for thread in self.threads:
            await task.deferLater(reactor, 0, lambda: None)
            thread.join(timeout=15)
        for name, gob in self.gobs.items():
            out, _ = await threads.deferToThread(gob.communicate, None, 60)
            counts = self.counts[name]
            try:
                result = json.loads(out.strip().splitlines()[-1])
                counts.ok, counts.errors, counts.wrong = (result["ok"], result["errors"],
                                                          result["wrong"])
                counts.first_error = result.get("first_error", "")
            except (ValueError, IndexError, KeyError):
                counts.first_error = f"no result from gob helper: {out!r}"
                counts.errors += 1
        await task.deferLater(reactor, 1.0, lambda: None)  # replies in flight
        for client in self.clients:
            client.transport.loseConnection()


# ---------------------------------------------------------------- the run


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.totals = Totals()
        self.senders: dict[str, Sender] = {}
        self.live: set[ChatClient] = set()
        self.seats: list[Seat] = []
        self.chat_port = 0
        self.stopping = False
        self.quiet = False
        self.shutting_down = False
        self.samples: list[dict[str, Any]] = []
        self.stop_event = threading.Event()
        #: (time, lag) of this process's own event loop, last 30 s: a write is only handed
        #: to the kernel on the next loop turn, and a busy machine stalls the soak itself.
        self.lags: list[tuple[float, float]] = []
        self.max_lag = 0.0
        self._tick_due = 0.0

    def _lag_tick(self) -> None:
        t = now()
        lag = max(0.0, t - self._tick_due) if self._tick_due else 0.0
        self._tick_due = t + LAG_TICK
        self.lags.append((t, lag))
        self.max_lag = max(self.max_lag, lag)
        while self.lags and self.lags[0][0] < t - 30:
            self.lags.pop(0)

    def recent_lag(self, since: float) -> float:
        """The worst stall of this process's event loop since ``since``."""
        return max((lag for t, lag in self.lags if t >= since), default=0.0)

    def evaluate(self, client: ChatClient, left: float) -> None:
        """Count messages this session should have got and did not."""
        assert client.welcome is not None
        # Messages written shortly before a leave may not have reached the server before
        # it: allow the margin, plus twice the soak's own recent stalls (writes wait for
        # the next loop turn; reads too).
        margin = self.args.margin + 2 * self.recent_lag(left - 10)
        totals = self.totals
        if client.aborted:
            left = min(left, client.last_write)
        for sid, sender in self.senders.items():
            if sid == client.sid:
                continue
            end = min(left, sender.left if sender.left is not None else left) - margin
            first = bisect.bisect_right(sender.times, client.welcome)
            last = bisect.bisect_left(sender.times, end) - 1
            if last < first:
                continue
            state = client.seen.get(sid)
            if state is None:
                missing = last - first + 1
                totals.lost += missing
                totals.example(f"{client.sid} got none of {sid} {first}..{last}")
                continue
            seen_first, seen_last, _ = state
            if seen_first > first:
                totals.lost += seen_first - first
                totals.example(f"{client.sid} missed head of {sid} {first}..{seen_first - 1}")
            if seen_last < last:
                totals.lost += last - seen_last
                totals.example(f"{client.sid} missed tail of {sid} {seen_last + 1}..{last}")
        self._forget()

    def _forget(self) -> None:
        """Drop senders that no live session can still be checked against."""
        if len(self.senders) < 4 * max(1, len(self.seats)):
            return
        oldest = min((c.welcome for c in self.live if c.welcome is not None), default=now())
        for sid in [s for s, snd in self.senders.items()
                    if snd.left is not None and snd.left < oldest - 5]:
            del self.senders[sid]

    def sample(self, servers: dict[str, ServerProcess], rpc: RpcLoad | None) -> None:
        row: dict[str, Any] = {"t": round(now() - self.t0, 1), "clients": len(self.live),
                               "loop_lag_ms": round(1000 * self.recent_lag(now() - 30)),
                               "delivered": self.totals.delivered,
                               "lost": self.totals.lost, "reordered": self.totals.reordered}
        for name, server in servers.items():
            rss, fds = proc_sample(server.pid)
            row[f"{name}_rss_kb"] = rss
            row[f"{name}_fds"] = fds
        if rpc is not None:
            row["rpc_ok"] = sum(c.ok for c in rpc.counts.values())
        self.samples.append(row)
        print(json.dumps(row), flush=True)

    async def run(self) -> int:
        args = self.args
        servers: dict[str, ServerProcess] = {}
        chat = servers["chat"] = start_server("chat", args.chat_args.split())
        rpc_server = None
        if not args.no_rpc:
            rpc_server = servers["rpc"] = start_server("rpc", args.rpc_args.split())
        try:
            self.chat_port = await _timeout(chat.port(args.chat_label), 30)
            rpc = None
            if rpc_server is not None:
                await _timeout(rpc_server.port("jsonrpc"), 30)
                await task.deferLater(reactor, 0.5, lambda: None)
                rpc = RpcLoad(self, dict(rpc_server.ports))
                await rpc.start()
            self.t0 = now()
            for index in range(args.clients):
                seat = Seat(self, index)
                self.seats.append(seat)
                reactor.callLater(index * 0.005, seat.connect)
            lag = task.LoopingCall(self._lag_tick)
            lag.start(LAG_TICK)
            sampler = task.LoopingCall(self.sample, servers, rpc)
            sampler.start(args.sample, now=False)
            await task.deferLater(reactor, args.duration, lambda: None)
            # Stop writing; let deliveries drain; check; then SIGTERM the chat server.
            self.quiet = True
            self.stop_event.set()
            if rpc is not None:
                await rpc.stop()
            await self._drain()
            sampler.stop()
            lag.stop()
            self.sample(servers, rpc)
            self.stopping = True
            for client in list(self.live):
                self.evaluate(client, now())
                client.welcome = None  # evaluated: not again on close
            expected = len(self.live)
            self.shutting_down = True
            chat.transport.signalProcess("TERM")
            await _timeout(chat.ended, 30)
            await task.deferLater(reactor, 0.5, lambda: None)
            return self.report(expected, rpc)
        finally:
            self.stopping = True
            for server in servers.values():
                if not server.ended.called:
                    server.transport.signalProcess("TERM")
                    try:
                        await _timeout(server.ended, 30)
                    except Exception:
                        server.transport.signalProcess("KILL")

    async def _drain(self) -> None:
        """Wait until no message has been delivered for one second (at most 30 s)."""
        deadline = now() + 30
        last = -1
        while now() < deadline and self.totals.delivered != last:
            last = self.totals.delivered
            await task.deferLater(reactor, 1.0, lambda: None)

    def report(self, expected_bye: int, rpc: RpcLoad | None) -> int:
        args = self.args
        t = self.totals
        verdicts: list[str] = []
        summary: dict[str, Any] = {
            "clients": args.clients, "duration_s": args.duration, "rate": args.rate,
            "churn": args.churn, "sessions": t.sessions, "quits": t.quits, "aborts": t.aborts,
            "sent": t.sent, "delivered": t.delivered, "lost": t.lost,
            "reordered": t.reordered, "duplicated": t.duplicated,
            "unexpected_drops": t.unexpected_drops, "err_lines": t.err_lines,
            "connect_failures": t.connect_failures,
            "soak_max_loop_lag_s": round(self.max_lag, 3),
            "bye_shutdown": f"{t.bye_shutdown}/{t.at_shutdown} (expected {expected_bye})",
            "examples": t.examples,
        }
        if t.lost or t.reordered or t.duplicated:
            verdicts.append("messages lost, reordered or duplicated")
        if t.unexpected_drops:
            verdicts.append(f"unexpected drops: {t.unexpected_drops}")
        if t.bye_shutdown < expected_bye:
            verdicts.append("not every client got BYE shutdown")
        if rpc is not None:
            elapsed = (rpc.ended or now()) - rpc.started
            summary["rpc"] = {name: {**c.as_dict(), "calls_per_s": round(c.ok / elapsed, 1)}
                              for name, c in rpc.counts.items()}
            for name, c in rpc.counts.items():
                if c.errors or c.wrong or not c.ok:
                    verdicts.append(f"rpc {name}: {c.as_dict()}")
        for name in ("chat", "rpc"):
            series = [(s[f"{name}_rss_kb"], s[f"{name}_fds"]) for s in self.samples
                      if s.get(f"{name}_rss_kb") is not None]
            if len(series) < 4:
                continue
            half = series[len(series) // 4: len(series) // 2] or series[:1]
            tail = series[-max(1, len(series) // 4):]
            rss_mid = statistics.median(r for r, _ in half)
            rss_end = statistics.median(r for r, _ in tail)
            fds = [f for _, f in series if f is not None]
            growth = (rss_end - rss_mid) / rss_mid * 100
            summary[f"{name}_rss_kb"] = {"first": series[0][0], "mid": rss_mid, "end": rss_end,
                                         "max": max(r for r, _ in series),
                                         "growth_pct": round(growth, 1)}
            summary[f"{name}_fds"] = {"first": fds[0], "min": min(fds), "max": max(fds),
                                      "end": fds[-1]}
            if growth > args.rss_tolerance:
                verdicts.append(f"{name} RSS grew {growth:.1f}% from mid-run to the end")
        summary["verdict"] = "PASS" if not verdicts else "FAIL: " + "; ".join(verdicts)
        print(json.dumps(summary, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps({"summary": summary, "samples": self.samples},
                                                  indent=1))
        return 0 if not verdicts else 1


async def _timeout(d: defer.Deferred[Any], seconds: float) -> Any:
    d.addTimeout(seconds, reactor)
    return await d


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200, help="chat clients (default 200)")
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="messages per second per chat client (default 1)")
    parser.add_argument("--churn", type=float, default=0.01,
                        help="probability per second that a client leaves (default 0.01)")
    parser.add_argument("--margin", type=float, default=0.5,
                        help="messages written this close to a leave are not required")
    parser.add_argument("--rpc-rate", type=float, default=100,
                        help="RPC calls per second per transport (default 100)")
    parser.add_argument("--no-rpc", action="store_true", help="chat only")
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    parser.add_argument("--rss-tolerance", type=float, default=10,
                        help="largest RSS growth (%%) from mid-run to the end (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chat-args", default="chat --port tcp:0:interface=127.0.0.1",
                        help="twistd arguments for the chat server")
    parser.add_argument("--chat-label", default="chat",
                        help="label of the chat listener's 'listening on' log line")
    grpc = "tcp:0:interface=127.0.0.1" if importlib.util.find_spec("grpc") else "none"
    parser.add_argument("--rpc-args", default=(
        "rpc --xmlrpc tcp:0:interface=127.0.0.1 --amp tcp:0:interface=127.0.0.1 "
        "--jsonrpc tcp:0:interface=127.0.0.1 --gob tcp:0:interface=127.0.0.1 "
        f"--grpc {grpc}"),
        help="twistd arguments for the rpc server (gRPC on when grpcio is installed)")
    parser.add_argument("--json", help="write samples and the summary to this file")
    args = parser.parse_args()
    if not 0 < args.clients <= 2000 or not 0 < args.duration <= 7200:
        parser.error("--clients must be 1-2000 and --duration at most 7200 s")
    if args.rate <= 0 or args.rpc_rate <= 0:
        parser.error("--rate and --rpc-rate must be positive")
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status: list[int] = []

    async def go() -> None:
        try:
            status.append(await Soak(args).run())
        finally:
            reactor.stop()

    def begin() -> None:
        d = defer.ensureDeferred(go())
        d.addErrback(lambda f: (f.printTraceback(), status.append(2)))

    reactor.callWhenRunning(begin)
    reactor.run()
    return status[0] if status else 2


if __name__ == "__main__":
    sys.exit(main())
