#!/usr/bin/env python3
"""The async RPC workload beside the sync one, on one server, interleaved: calls/s and ratio.

For each wire given (``amp``, ``jsonrpc``, ``xmlrpc``) and each of ``--runs`` rounds this
starts a fresh ``twistd rpc --service benchmarks.rpc_service`` (pinned like
``benchmarks/run.py``) and drives it with the shared Go load generator twice: the book's
``Algorithm.Sum`` (a plain function), then ``Bench.AsyncSum`` (an ``async def`` returning at
once; same arguments and answer, so the load generator checks every reply alike).  It prints
the medians and async/sync.  Needs the load generator (``benchmarks/run.py`` explains)::

    .venv/bin/python benchmarks/rpc_workloads.py amp jsonrpc xmlrpc --runs 3

(The struct-heavy workload has no Go client: ``benchmarks/rpc_inmemory.py`` measures it,
with sync and async Sum, per wire in memory.)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BENCH, baseline, run_ours

LISTENERS = {"amp": "--amp", "jsonrpc": "--jsonrpc", "xmlrpc": "--xmlrpc"}
ASYNC_FLAG = {"amp": "-command", "jsonrpc": "-method", "xmlrpc": "-method"}


def server(wire: str) -> str:
    off = " ".join(f"{flag} none" for w, flag in LISTENERS.items() if w != wire)
    return (f"twistd -n --pidfile= rpc --service benchmarks.rpc_service {off} --grpc none "
            f"{LISTENERS[wire]} tcp:{{port}}:interface=127.0.0.1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wires", nargs="+", choices=sorted(LISTENERS))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (BENCH / "baseline.sh").exists():
        parser.error(f"no load generator at {BENCH} (set NETSUITE_BENCH)")
    env = dict(os.environ)
    env.setdefault("PY", sys.executable)
    env.setdefault("PORT_BASE", str(random.randrange(21000, 30000, 100)))
    baseline(env, "build")
    work = Path(tempfile.mkdtemp(prefix="netsuite-rpc-workloads-"))
    for wire in args.wires:
        rates: dict[str, list[float]] = {"sync": [], "async": []}
        for run in range(1, args.runs + 1):
            for label, flags in (("sync", []), ("async", [ASYNC_FLAG[wire], "Bench.AsyncSum"])):
                out = work / f"{wire}-{label}-{run}"
                out.mkdir()
                records = run_ours(wire, server(wire), out, run, False, flags, env)
                rates[label] += [float(r["lg"]["rate"]) for r in records if r.get("lg")]
        sync, async_ = (statistics.median(rates[k]) if rates[k] else 0.0 for k in rates)
        ratio = f"{async_ / sync:.2f}" if sync else "-"
        print(f"{wire:8} sync {sync:10,.0f}/s  async {async_:10,.0f}/s  async/sync {ratio}  "
              f"(runs: sync {[round(x) for x in rates['sync']]}, "
              f"async {[round(x) for x in rates['async']]})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
