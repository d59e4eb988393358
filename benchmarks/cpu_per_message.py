#!/usr/bin/env python3
"""Server CPU time per message, per peer, from a ``run.py`` results file.

    python benchmarks/cpu_per_message.py /tmp/netsuite-udp-echo-XXXX/results.jsonl

``run.py`` prints rates; on a shared machine they follow how much of its core each server
was given.  The CPU time a server spent per message (its on-CPU time over the messages the
load generator got answered) moves far less, so it is the figure to compare across peers.
Prints, per peer, the medians over kept runs of: rate, µs of server CPU per message
[min-max], server CPU and load generator CPU (fraction of a core), and the largest noise.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def rows(path: Path) -> dict[str, list[tuple[float, float, float, float, float]]]:
    """peer -> [(rate, µs per message, server CPU, loadgen CPU, noise %)] of kept runs."""
    by_peer: dict[str, list[tuple[float, float, float, float, float]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        record = json.loads(line) if line.strip() else None
        if not record or record.get("discarded") or not record.get("lg"):
            continue
        lg, cpu = record["lg"], record.get("server_cpu_s")
        if cpu is None or not lg.get("ok"):
            continue
        by_peer[record["peer"]].append((
            float(lg["rate"]), cpu / lg["ok"] * 1e6, cpu / lg["elapsed_s"],
            float(lg.get("lg_cpu") or 0), float(record.get("noise_pct") or 0)))
    return by_peer


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for peer, runs in rows(Path(sys.argv[1])).items():
        us = [r[1] for r in runs]
        print(f"{peer:<14} runs={len(runs)} rate={statistics.median(r[0] for r in runs):,.0f}"
              f"  cpu/msg={statistics.median(us):.2f} µs [{min(us):.2f}-{max(us):.2f}]"
              f"  srv_cpu={statistics.median(r[2] for r in runs):.0%}"
              f"  lg_cpu={statistics.median(r[3] for r in runs):.2f}"
              f"  noise_max={max(r[4] for r in runs):.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
