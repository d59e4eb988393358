#!/usr/bin/env python3
"""Regenerate the tables and plots of ``docs/benchmarks.md`` with one command.

    .venv/bin/pip install -e '.[bench]'          # matplotlib, for the plots
    .venv/bin/python benchmarks/report.py         # every workload, 3 runs, sweeps (~25 min)
    .venv/bin/python benchmarks/report.py --quick # 1 run, fewer sweep points (~10 min)
    .venv/bin/python benchmarks/report.py --only amp,jsonrpc --no-sweeps
    .venv/bin/python benchmarks/report.py --from docs/benchmarks/results.json  # re-render only

For each workload it runs ``benchmarks/run.py`` (the one benchmark driver: the baseline peers
and a fresh netsuite server, interleaved, pinned server CPU 0 / loadgen CPU 1), then the
sweeps: throughput against the number of clients (chat-fanout: chat clients; amp, jsonrpc,
gobrpc: connections), each peer run as a ``run.py --no-peers --server`` command with the
same loadgen flags.  It writes

- ``docs/benchmarks/results.json``: every run's raw record (for ``--from``);
- ``docs/benchmarks/chat-throughput.png`` and ``rpc-throughput.png`` (matplotlib);
- the text between ``<!-- report:begin -->`` and ``<!-- report:end -->`` in
  ``docs/benchmarks.md`` (nothing else in that file is touched).

Nothing here runs in CI; it needs Go (the shared load generator) and ``taskset``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
DOC = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "docs" / "benchmarks"
BENCH = Path(os.environ.get("NETSUITE_BENCH", ROOT.parent / "shared" / "bench"))
BIN = Path(os.environ.get("BENCH_WORK", "/tmp/netsuite-bench")) / "bin"
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
LOCAL = "tcp:{port}:interface=127.0.0.1"

#: workload -> (our server's twistd arguments, loadgen flags for our server, what is measured)
WORKLOADS: dict[str, tuple[str, list[str], str]] = {
    "chat-fanout-2k": (f"chat --port {LOCAL}", ["-heartbeat", "/ping"],
                       "50 clients x 2,000 messages of 64 B, every message to 49 others"),
    "chat-idle": (f"chat --port {LOCAL}", ["-heartbeat", "/ping"],
                  "5,000 idle clients (heartbeats only): KiB of server RSS per connection"),
    "udp-echo": ("udpecho --port {port} --interface 127.0.0.1 --rate 0", [],
                 "8 senders, closed loop, 64 B datagrams (per-source rate limit off)"),
    "udp-echo-w16": ("udpecho --port {port} --interface 127.0.0.1 --rate 0 --batch 32", [],
                     "8 senders x 16 datagrams in flight, 64 B (rate limit off, batches of 32)"),
    "amp": (f"rpc --amp {LOCAL} --xmlrpc none --jsonrpc none --grpc none", [],
            "Sum over AMP, 4 connections x 16 calls in flight"),
    "jsonrpc": (f"rpc --jsonrpc {LOCAL} --xmlrpc none --amp none --grpc none", [],
                "Algorithm.Sum over JSON-RPC (Go net/rpc/jsonrpc client), 4 x 16"),
    "xmlrpc": (f"rpc --xmlrpc {LOCAL} --amp none --jsonrpc none --grpc none", [],
               "Algorithm.Sum over XML-RPC, 4 keep-alive HTTP connections"),
    "gobrpc": (f"rpc --xmlrpc {LOCAL} --amp none --jsonrpc none --grpc none", [],
               "Algorithm.Sum over Go gob (rpc.DialHTTP), 4 x 16"),
}
UDP = {"udp-echo", "udp-echo-w16"}

#: sweeps: name -> (workload, sweep flag, points, quick points, {peer: (command, flags)})
PY = sys.executable


def _sweeps() -> dict[str, tuple[str, str, list[int], list[int], dict[str, tuple[str, list[str]]]]]:
    twistd = "twistd -n --pidfile= "
    chat_ours = (twistd + WORKLOADS["chat-fanout-2k"][0], ["-heartbeat", "/ping"])
    return {
        "chat": ("chat-fanout-2k", "-clients", [10, 25, 50, 100], [10, 50, 100], {
            "netsuite": chat_ours,
            "go-seed": (f"{BIN}/chatserver -addr 127.0.0.1:{{port}}", ["-heartbeat", "1"]),
            "twisted-toy": (f"{PY} {BENCH}/python/chat.py {{port}}", ["-heartbeat", "/ping"]),
        }),
        "amp": ("amp", "-conns", [1, 2, 4, 8, 16], [1, 4, 16], {
            "netsuite": (twistd + WORKLOADS["amp"][0], []),
            "twisted-amp": (f"{PY} {BENCH}/python/ampsum.py {{port}}", []),
        }),
        "jsonrpc": ("jsonrpc", "-conns", [1, 2, 4, 8, 16], [1, 4, 16], {
            "netsuite": (twistd + WORKLOADS["jsonrpc"][0], []),
            "go-jsonrpc": (f"{BIN}/jsonrpcserver -addr 127.0.0.1:{{port}}", []),
        }),
        "gobrpc": ("gobrpc", "-conns", [1, 2, 4, 8, 16], [1, 4, 16], {
            "netsuite": (twistd + WORKLOADS["gobrpc"][0], []),
            "go-gobrpc": (f"{BIN}/gobrpc -addr 127.0.0.1:{{port}}", []),
        }),
    }


def chat_messages(clients: int) -> int:
    """Messages per chat client so a sweep point has about 5M deliveries (bounded time)."""
    return max(50, min(50_000, 5_000_000 // (clients * max(1, clients - 1))))


# ---------------------------------------------------------------- running


def run_driver(workload: str, server: str, flags: list[str], runs: int, *,
               peers: bool = True, udp: bool = False) -> list[dict[str, Any]]:
    """``benchmarks/run.py`` once; its raw records (peer ``netsuite`` is the ``server``)."""
    argv = [sys.executable, str(RUN), workload, "--server", server, "--runs", str(runs)]
    if not peers:
        argv.append("--no-peers")
    if udp:
        argv.append("--udp")
    argv += ["--", *flags]
    print("report: " + shlex.join(argv[1:]), file=sys.stderr, flush=True)
    done = subprocess.run(argv, capture_output=True, text=True)
    sys.stderr.write(done.stderr[-3000:])
    match = re.search(r"raw results: (\S+)", done.stderr)
    if not match or not Path(match.group(1)).exists():
        print(f"report: no results from run.py for {workload}", file=sys.stderr)
        return []
    records = [json.loads(line) for line in Path(match.group(1)).read_text().splitlines()
               if line.strip()]
    return [r for r in records if not r.get("discarded")]


def measure_tables(workloads: list[str], runs: int) -> list[dict[str, Any]]:
    records = []
    for workload in workloads:
        args, flags, _ = WORKLOADS[workload]
        server = "twistd -n --pidfile= " + args
        records += run_driver(workload, server, flags, runs, udp=workload in UDP)
    return records


def measure_sweeps(names: list[str], runs: int, quick: bool) -> list[dict[str, Any]]:
    records = []
    for name, (workload, flag, points, quick_points, peers) in _sweeps().items():
        if name not in names:
            continue
        for point in quick_points if quick else points:
            for peer, (command, peer_flags) in peers.items():
                flags = [*peer_flags, flag, str(point)]
                if name == "chat":
                    flags += ["-msgs", str(chat_messages(point)), "-timeout", "40s"]
                for record in run_driver(workload, command, flags, runs, peers=False):
                    record.update(peer=peer, sweep=name, x=point)
                    records.append(record)
    return records


# ---------------------------------------------------------------- rendering


def median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if digits == 0 and abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if digits == 0 and abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.{digits}f}"


def _rate(record: dict[str, Any]) -> float | None:
    lg = record.get("lg") or {}
    return float(lg["rate"]) if lg.get("rate") is not None else None


def table(records: list[dict[str, Any]]) -> str:
    """The markdown table: one row per workload and peer, ratios within the workload."""
    lines = ["| workload | what | peer | runs | median throughput [min-max] | netsuite / peer |"
             " p50 / p99 µs | server CPU | server CPU µs / message | load generator CPU |"
             " peak RSS MB | errors, missing |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for workload in WORKLOADS:
        rows = [r for r in records if r["workload"] == workload and "sweep" not in r]
        if not rows:
            continue
        peers: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            peers.setdefault(r["peer"], []).append(r)
        idle = workload == "chat-idle"
        key = (lambda r: r.get("idle_kb_per_conn")) if idle else _rate
        ours = median([key(r) for r in peers.get("netsuite", [])])
        order = ["netsuite", *sorted(p for p in peers if p != "netsuite")]
        for peer in order:
            if peer not in peers:
                continue
            rs = peers[peer]
            values = [key(r) for r in rs if key(r) is not None]
            value = median(values)
            unit = "KiB/conn" if idle else ((rs[0].get("lg") or {}).get("rate_unit") or "")
            digits = 1 if idle else 0
            spread = f"[{fmt(min(values), digits)}-{fmt(max(values), digits)}]" if values else ""
            if peer == "netsuite" or not value or not ours:
                ratio = "-"
            else:  # for memory, lower is better: show peer/ours so > 1 means we use less
                ratio = f"{(value / ours if idle else ours / value):.2f}"
            lgs = [r.get("lg") or {} for r in rs]
            cpu = median([100 * r["server_cpu_s"] / lg["elapsed_s"]
                          for r, lg in zip(rs, lgs, strict=True)
                          if r.get("server_cpu_s") is not None and lg.get("elapsed_s")])
            per_message = median([1e6 * r["server_cpu_s"] / lg["ok"]
                                  for r, lg in zip(rs, lgs, strict=True)
                                  if r.get("server_cpu_s") is not None and lg.get("ok")])
            lg_cpu = median([float(lg["lg_cpu"]) for lg in lgs if lg.get("lg_cpu") is not None])
            hwm = median([r.get("server_hwm_kb") for r in rs])
            errors = max((lg.get("errors") or 0) for lg in lgs) if lgs else 0
            missing = max((lg.get("missing") or 0) for lg in lgs) if lgs else 0
            if idle:  # the run is mostly holding idle connections: no latency, no CPU rate
                latency, cpu_text, per_text, lg_text = "-", "-", "-", "-"
            else:
                latency = (f"{fmt(median([lg.get('p50_us') for lg in lgs]))} / "
                           f"{fmt(median([lg.get('p99_us') for lg in lgs]))}")
                cpu_text = f"{fmt(cpu)}%"
                per_text = fmt(per_message, 3 if per_message and per_message < 1 else 2)
                lg_text = f"{fmt(100 * lg_cpu if lg_cpu is not None else None)}%"
            lines.append(
                f"| {workload} | {WORKLOADS[workload][2]} | {peer} | {len(rs)} | "
                f"{fmt(value, digits)} {unit} {spread} | {ratio} | {latency} | "
                f"{cpu_text} | {per_text} | {lg_text} | {fmt(hwm / 1024 if hwm else None, 1)} | "
                f"{errors}, {missing} |")
    return "\n".join(lines)


def sweep_table(records: list[dict[str, Any]], name: str) -> str:
    rows = [r for r in records if r.get("sweep") == name]
    if not rows:
        return ""
    xs = sorted({r["x"] for r in rows})
    peers = list(dict.fromkeys(r["peer"] for r in rows))
    label = "clients" if name == "chat" else "connections"
    lines = [f"| {label} | " + " | ".join(peers) + " |", "|---|" + "---|" * len(peers)]
    for x in xs:
        cells = [fmt(median([_rate(r) for r in rows if r["x"] == x and r["peer"] == p]))
                 for p in peers]
        lines.append(f"| {x} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], names: list[str], path: Path, title: str,
         ylabel: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib missing (pip install -e '.[bench]'): no plots",
              file=sys.stderr)
        return False
    present = [n for n in names if any(r.get("sweep") == n for r in records)]
    if not present:
        return False
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 4), squeeze=False)
    for ax, name in zip(axes[0], present, strict=True):
        rows = [r for r in records if r.get("sweep") == name]
        for peer in dict.fromkeys(r["peer"] for r in rows):
            xs = sorted({r["x"] for r in rows if r["peer"] == peer})
            ys = [median([_rate(r) for r in rows if r["x"] == x and r["peer"] == peer])
                  for x in xs]
            ax.plot(xs, ys, marker="o", label=peer,
                    linewidth=2.5 if peer == "netsuite" else 1.2)
        ax.set_title(name)
        ax.set_xscale("log", base=2)
        ticks = sorted({r["x"] for r in rows})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("chat clients" if name == "chat" else "connections (16 calls in flight each)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def render(data: dict[str, Any]) -> str:
    records = data["records"]
    parts = [
        f"Generated {data['when']} by `benchmarks/report.py {data['argv']}` on {data['machine']}; "
        f"{data['runs']} run(s) per peer for the table, {data.get('sweep_runs', 1)} per sweep "
        "point; medians; server pinned to CPU 0, load generator to "
        "CPU 1; other work was running on the machine (see the noise notes of run.py). "
        "Compare ratios within one table, not absolute numbers across machines.",
        "",
        "netsuite / peer: throughput ratio (> 1: netsuite is faster); for chat-idle the "
        "peer's KiB per connection over ours (> 1: netsuite uses less memory).",
        "",
        table(records) or "(no table results)",
    ]
    for name, what in (("chat", "chat-fanout, messages delivered/s by number of clients"),
                       ("amp", "AMP Sum calls/s by connections"),
                       ("jsonrpc", "JSON-RPC calls/s by connections"),
                       ("gobrpc", "gob (rpc.DialHTTP) calls/s by connections")):
        text = sweep_table(records, name)
        if text:
            parts += ["", f"**Sweep: {what}**", "", text]
    if data.get("plots"):
        parts += [""] + [f"![{p}](benchmarks/{p})" for p in data["plots"]]
    return "\n".join(parts)


def write_doc(text: str) -> None:
    block = f"{BEGIN}\n{text}\n{END}"
    if not DOC.exists():
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"# Benchmarks\n\n## Report\n\n{block}\n")
        return
    current = DOC.read_text()
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(head + block + tail)
    else:
        DOC.write_text(current.rstrip("\n") + f"\n\n## Report\n\n{block}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per peer (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 run, 3 sweep points")
    parser.add_argument("--only", help="comma-separated workloads (default: all)")
    parser.add_argument("--no-sweeps", action="store_true")
    parser.add_argument("--sweeps", default="chat,amp,jsonrpc,gobrpc")
    parser.add_argument("--sweep-runs", type=int, default=1,
                        help="runs per sweep point and peer (default 1)")
    parser.add_argument("--from", dest="source", help="re-render from a results.json")
    parser.add_argument("--no-doc", action="store_true", help="do not edit docs/benchmarks.md")
    args = parser.parse_args()
    if args.source:
        data = json.loads(Path(args.source).read_text())
    else:
        runs = 1 if args.quick else args.runs
        workloads = args.only.split(",") if args.only else list(WORKLOADS)
        unknown = set(workloads) - set(WORKLOADS)
        if unknown:
            parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
        records = measure_tables(workloads, runs)
        if not args.no_sweeps:
            records += measure_sweeps(args.sweeps.split(","), args.sweep_runs, args.quick)
        data = {"when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "argv": " ".join(sys.argv[1:]), "machine": machine(), "runs": runs,
                "sweep_runs": args.sweep_runs, "records": records}
    OUT.mkdir(parents=True, exist_ok=True)
    plots = []
    if plot(data["records"], ["chat"], OUT / "chat-throughput.png",
            "chat fan-out: deliveries/s against clients", "deliveries/s"):
        plots.append("chat-throughput.png")
    if plot(data["records"], ["amp", "jsonrpc", "gobrpc"], OUT / "rpc-throughput.png",
            "RPC: calls/s against connections", "calls/s"):
        plots.append("rpc-throughput.png")
    data["plots"] = plots
    if not args.source:
        (OUT / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    text = render(data)
    print(text)
    if not args.no_doc:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
