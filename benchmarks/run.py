#!/usr/bin/env python3
"""Drive a netsuite server with the shared load generator, beside the baseline peers, in one run.

For each of ``--runs`` rounds (interleaved, so drift on a shared machine hits every peer
alike) this runs ``../shared/bench/baseline.sh`` once for the workload's baseline peers
and once against a fresh netsuite server (pinned to the same CPU as the peers), then
prints one table of medians [min-max] and each peer's ratio to ours.

    python benchmarks/run.py chat-fanout-2k \\
        --server "twistd -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1" \\
        -- -hello "/nick u%d" -heartbeat /ping

``{port}`` in ``--server`` is replaced by a free port; the server is started with
``taskset -c $SERVER_CPU`` (default 0) and stopped with SIGTERM after each run.
Nothing here runs in CI: benchmarks are run by hand and written down in
``docs/benchmarks.md``.  Needs Go (``apt-get install golang-go``) for the load generator.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("NETSUITE_BENCH", ROOT.parent / "shared" / "bench"))
VENV_BIN = Path(sys.executable).parent


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the OS says is free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, udp: bool, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Wait until the server accepts (TCP) or has bound (UDP) ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if udp:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    return  # bound by the server
        else:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                pass
        time.sleep(0.1)
    raise TimeoutError(f"server did not listen on {port} within {timeout}s")


def baseline(env: dict[str, str], *args: str) -> None:
    """Run baseline.sh; its progress and per-run tables go to our stderr."""
    subprocess.run(["bash", str(BENCH / "baseline.sh"), *args], env=env, check=False,
                   stdout=sys.stderr)


def read_results(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_ours(workload: str, command: str, runs_dir: Path, run: int, udp: bool,
             flags: list[str], env: dict[str, str]) -> list[dict]:
    """One measurement against a fresh netsuite server."""
    port = free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    argv = shlex.split(command.replace("{port}", str(port)))
    if not os.path.isabs(argv[0]) and (VENV_BIN / argv[0]).exists():
        argv[0] = str(VENV_BIN / argv[0])
    cpu = env.get("SERVER_CPU", "0")
    log = open(runs_dir / f"netsuite-{run}.log", "wb")
    proc = subprocess.Popen(["taskset", "-c", cpu, *argv], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_port(port, udp, proc)
        time.sleep(0.3)
        out = runs_dir / f"ours-{run}"
        baseline({**env, "OUT": str(out), "RUNS": "1", "SERVER_PID": str(proc.pid)},
                 workload, f"127.0.0.1:{port}", "--", *flags)
        records = read_results(out)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    for record in records:
        record["peer"] = "netsuite"
        record["run"] = run
    return records


def measure_ours(args: argparse.Namespace, work: Path, run: int,
                 env: dict[str, str]) -> list[dict]:
    """``run_ours`` with baseline.sh's noise policy, so our server and the peers are treated
    alike: a run during which other processes used more than ``NOISE_MAX`` % of a core is
    marked discarded and redone, at most ``TRIES`` attempts (the last one kept regardless)."""
    noise_max = float(env.get("NOISE_MAX", "15"))
    tries = max(1, int(env.get("TRIES", "3")))
    kept: list[dict] = []
    for attempt in range(1, tries + 1):
        records = run_ours(args.workload, args.server, work, run, args.udp, args.flags, env)
        noisy = [r for r in records if (r.get("noise_pct") or 0) > noise_max]
        if attempt < tries and noisy:
            print(f"    netsuite run {run}: noise {noisy[0]['noise_pct']}% > {noise_max:g}%: "
                  "discarding, retrying", file=sys.stderr)
            kept.extend({**r, "discarded": True} for r in records)
            time.sleep(2)
            continue
        return kept + records
    return kept


def summarise(records: list[dict], out: Path) -> str:
    """Write the merged results and return the table (medians, and ratios to netsuite)."""
    merged = out / "results.jsonl"
    merged.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = subprocess.run([sys.executable, str(BENCH / "summarize.py"), str(merged)],
                           capture_output=True, text=True).stdout
    by_peer: dict[str, list[float]] = {}
    for r in records:
        if r.get("discarded") or not r.get("lg"):
            continue
        by_peer.setdefault(r["peer"], []).append(float(r["lg"]["rate"]))
    medians = {peer: statistics.median(rates) for peer, rates in by_peer.items()}
    ours = medians.get("netsuite")
    lines = [table, "median rate, and netsuite / peer:"]
    for peer, rate in medians.items():
        ratio = f"{ours / rate:.2f}x" if ours and rate else "-"
        lines.append(f"  {peer:<16} {rate:>14,.0f}   netsuite/peer = {ratio}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Arguments after -- are extra loadgen flags "
                                     "for our server.")
    parser.add_argument("workload", help="a baseline.sh workload (baseline.sh list)")
    parser.add_argument("--server", required=True,
                        help="command starting our server; {port} is replaced by a free port")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="measure only our server")
    parser.add_argument("--udp", action="store_true", help="the server listens on UDP")
    argv = sys.argv[1:]
    flags: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, flags = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    args.flags = flags

    if not (BENCH / "baseline.sh").exists():
        parser.error(f"no load generator at {BENCH} (set NETSUITE_BENCH)")
    work = Path(tempfile.mkdtemp(prefix=f"netsuite-{args.workload}-"))
    env = dict(os.environ)
    env.setdefault("PY", sys.executable)
    # baseline.sh numbers its peers' ports from PORT_BASE (21000): two benchmarks at once would
    # answer each other's load, so each run of this driver starts somewhere else.
    env.setdefault("PORT_BASE", str(random.randrange(21000, 30000, 100)))
    baseline(env, "build")
    records: list[dict] = []
    for run in range(1, args.runs + 1):
        if not args.no_peers:
            out = work / f"peers-{run}"
            baseline({**env, "OUT": str(out), "RUNS": "1", "ONLY": args.workload})
            for record in read_results(out):
                record["run"] = run
                records.append(record)
        records.extend(measure_ours(args, work, run, env))
    report = summarise(records, work)
    print(report)
    print(f"\nraw results: {work / 'results.jsonl'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
