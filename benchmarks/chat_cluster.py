"""Chat fan-out on one node against two cluster nodes with the clients split between them.

    .venv/bin/python benchmarks/chat_cluster.py [--receivers 200] [--senders 4] [--seconds 5]

Starts its own redis-server and chat processes on loopback.  For each setup (``single``:
``twistd chat`` without --cluster; ``one-node``: one cluster node; ``two-nodes``: two
nodes, receivers and senders split between them) it measures:

* throughput: each sender sends ``--messages`` lines as fast as the server takes them;
  deliveries per second until every receiver (all in the default room) has them all;
* latency: the senders send ``--rate`` messages per second in all, each carrying its send
  time; receivers on every node note the delay: p50 and p99 (milliseconds).

Over the throughput phase alone: the server processes' CPU per delivery (``single``: the
one process; otherwise the nodes together), the load generator's own CPU and, for the
cluster setups, Redis's commands (each by name), bytes in and out and CPU per chat line.
Prints one JSON line per setup, then the ratios of the rates.  The machine is shared: few
runs, read the spread, and judge by CPU per delivery.  ``--profile DIR`` runs the nodes
under cProfile (stats written when they stop).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chat.cluster.conftest import Node, RedisServer  # noqa: E402
from tests.helpers import TwistdProcess  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    buf = b""
    while b"ROOM " not in buf:
        buf += s.recv(65536)
    s.setblocking(False)
    return s


def run(ports: list[int], receivers: int, senders: int, seconds: float, rate: float,
        messages: int, probe: Callable[[], dict[str, float]]) -> dict[str, Any]:
    """Latency, then throughput; ``probe()``'s counters are read around the throughput
    phase alone (their differences are returned under ``counters``)."""
    recv = [connect(ports[i % len(ports)]) for i in range(receivers)]
    send = [connect(ports[i % len(ports)]) for i in range(senders)]
    sel = selectors.DefaultSelector()
    for s in recv + send:
        sel.register(s, selectors.EVENT_READ)
    time.sleep(0.5)  # let JOIN notices settle
    drain(sel, 0.2)
    latency = measure_latency(sel, recv, send, seconds, rate)
    drain(sel, 0.5)
    # throughput: each sender sends `messages` lines as fast as the server takes them;
    # done when every receiver has had them all
    payload = b"x" * 40
    lines = [b"%d " % n + payload + b"\n" for n in range(messages)]
    out = {s: b"".join(lines) for s in send}
    for s in send:
        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    want = messages * len(send)
    got = {s: 0 for s in recv}
    short = len(recv)
    infos = 0
    before = probe()
    start = time.monotonic()
    deadline = start + 120
    while short and time.monotonic() < deadline:
        for key, events in sel.select(timeout=0.05):
            s = key.fileobj
            if events & selectors.EVENT_WRITE:
                try:
                    sent = s.send(out[s][:262144])
                except BlockingIOError:
                    sent = 0
                out[s] = out[s][sent:]
                if not out[s]:
                    sel.modify(s, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                try:
                    data = s.recv(262144)
                except BlockingIOError:
                    continue
                if s in got and got[s] < want:
                    got[s] += data.count(b"\n")
                    if b"INFO" in data:  # (lines missed: a notice instead of them)
                        infos += data.count(b"\nINFO") + data.startswith(b"INFO")
                    if got[s] >= want:
                        short -= 1
    elapsed = time.monotonic() - start
    after = probe()
    deliveries = sum(min(n, want) for n in got.values())
    for s in recv + send:
        s.close()
    return {"deliveries_per_s": round(deliveries / elapsed), "seconds": round(elapsed, 2),
            "complete": short == 0, "info_notices": infos, "deliveries": deliveries,
            "lines": want, **latency,
            "counters": {k: after[k] - before.get(k, 0) for k in after}}


def measure_latency(sel: selectors.BaseSelector, recv: list[socket.socket],
                    send: list[socket.socket], seconds: float,
                    rate: float) -> dict[str, float | None]:
    """Send ``rate`` timestamped messages a second for ``seconds``: p50/p99 delay."""
    delays: list[float] = []
    interval = 1.0 / rate
    next_send = time.monotonic()
    stop = next_send + seconds
    n = 0
    pending = {s: b"" for s in recv}
    while time.monotonic() < stop + 0.5:
        now = time.monotonic()
        if now >= next_send and now < stop:
            send[n % len(send)].send(b"t%.6f\n" % time.time())
            n += 1
            next_send += interval
        for key, _ in sel.select(timeout=max(0.0, min(next_send - time.monotonic(), 0.01))):
            s = key.fileobj
            try:
                data = s.recv(262144)
            except BlockingIOError:
                continue
            if s not in pending:
                continue
            got = time.time()
            buf = pending[s] + data
            *done, pending[s] = buf.split(b"\n")
            for line in done:
                at = line.find(b" t")
                if line.startswith(b"MSG ") and at > 0:
                    try:
                        delays.append(got - float(line[at + 2:]))
                    except ValueError:
                        pass
    delays.sort()

    def pick(q: float) -> float | None:
        return (round(1000 * delays[min(len(delays) - 1, int(q * len(delays)))], 2)
                if delays else None)

    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "latency_samples": len(delays)}


def drain(sel: selectors.BaseSelector, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            try:
                key.fileobj.recv(262144)
            except BlockingIOError:
                pass


def redis_stats(server: RedisServer) -> dict[str, float]:
    """Redis's command counts (``cmd:NAME``), bytes in and out, and CPU seconds."""
    info = server.command("INFO", "all").decode()
    out: dict[str, float] = {}
    for line in info.split("\r\n"):
        name, _, value = line.partition(":")
        if name.startswith("cmdstat_"):
            out["cmd:" + name[8:]] = float(value.split(",")[0].split("=")[1])
        elif name in ("total_net_input_bytes", "total_net_output_bytes"):
            out[name] = float(value)
    assert server.process is not None
    out["redis_cpu"] = cpu_seconds(server.process.pid)
    return out


def summary(setup: str, result: dict[str, Any]) -> dict[str, Any]:
    """The figures per delivery and per chat line of one setup's throughput phase."""
    c = result.pop("counters")
    lines, deliveries = result["lines"], result["deliveries"]
    out = {"setup": setup, **result,
           "server_cpu_s": round(c["server_cpu"], 3),
           "server_cpu_us_per_delivery": round(1e6 * c["server_cpu"] / max(1, deliveries), 4),
           "client_cpu_s": round(c["client_cpu"], 3)}
    if "redis_cpu" in c:
        commands = {k[4:]: v for k, v in c.items() if k.startswith("cmd:") and k != "cmd:info"}
        out.update({
            "redis_commands_per_line": round(sum(commands.values()) / lines, 3),
            "redis_commands": {k: int(v) for k, v in sorted(commands.items()) if v},
            "redis_in_bytes_per_line": round(c["total_net_input_bytes"] / lines, 1),
            "redis_out_bytes_per_line": round(c["total_net_output_bytes"] / lines, 1),
            "redis_cpu_s": round(c["redis_cpu"], 3),
            "redis_cpu_us_per_line": round(1e6 * c["redis_cpu"] / lines, 2),
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receivers", type=int, default=200)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10000, help="per sender")
    parser.add_argument("--max-backlog", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--only", default="single,one-node,two-nodes")
    parser.add_argument("--profile", metavar="DIR",
                        help="run the cluster nodes under cProfile, stats in DIR")
    args = parser.parse_args()
    assert shutil.which("redis-server"), "needs redis-server"
    # (a receiver of this one-process load generator may lag when the machine is busy: a
    # larger --max-backlog than the default keeps it from being dropped as a slow consumer)
    common = ["--max-clients", "20000", "--idle-timeout", "0", "--history", str(args.history),
              "--max-backlog", str(args.max_backlog)]
    only = args.only.split(",")
    rates: dict[str, float] = {}

    def probe_of(pids: list[int], redis: RedisServer | None) -> Callable[[], dict[str, float]]:
        def probe() -> dict[str, float]:
            out = redis_stats(redis) if redis is not None else {}
            out["server_cpu"] = sum(cpu_seconds(pid) for pid in pids)
            out["client_cpu"] = time.process_time()
            return out
        return probe

    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        try:
            if "single" in only:
                with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1",
                                   *common) as p:
                    result = run([p.port("chat")], args.receivers, args.senders,
                                 args.seconds, args.rate, args.messages,
                                 probe_of([p.process.pid], None))
                    rates["single"] = result["deliveries_per_s"]
                    print(json.dumps(summary("single", result)), flush=True)
            for setup, count in (("one-node", 1), ("two-nodes", 2)):
                if setup not in only:
                    continue
                extra: tuple[str, ...] = ()
                nodes = []
                for i in range(count):
                    if args.profile:
                        extra = ("--profiler", "cprofile", "--savestats", "--profile",
                                 str(Path(args.profile) / f"{setup}-{i}.pstats"))
                    nodes.append(Node(redis.url, setup, *common, extra_twistd=extra))
                try:
                    result = run([n.chat for n in nodes], args.receivers, args.senders,
                                 args.seconds, args.rate, args.messages,
                                 probe_of([n.process.pid for n in nodes], redis))
                    rates[setup] = result["deliveries_per_s"]
                    print(json.dumps(summary(setup, result)), flush=True)
                except Exception:
                    for n in nodes:
                        n.stop()
                        print("\n".join(n.lines[-20:]), file=sys.stderr)
                    raise
                finally:
                    for n in nodes:
                        n.stop()
        finally:
            redis.stop()
    ratios = {}
    if "single" in rates:
        ratios.update({f"{k}/single": round(v / rates["single"], 3)
                       for k, v in rates.items() if k != "single"})
    if "one-node" in rates and "two-nodes" in rates:
        ratios["two-nodes/one-node"] = round(rates["two-nodes"] / rates["one-node"], 3)
    print(json.dumps({"ratios": ratios}), flush=True)


if __name__ == "__main__":
    main()
