"""A small simulation of a big chat on Redis, driven by the costs measured on one Redis.

    .venv/bin/python benchmarks/chat_cluster_model.py [--users 100000] [--rooms 10000]

Users are put in rooms (room popularity Zipf-like, ``--zipf 0.8``: a few big rooms, many
small),
and on nodes (at random, or by room: every member of a room on the node its name hashes
to). Rooms live on the shards of a Redis Cluster by their hash tag (``{ROOM}``: CRC16 slot,
slots split evenly); the global keys (nick leases, node leases, members) on one more shard.
For ``--seconds`` of simulated time, in node turns of ``--turn`` seconds, each user says a
line at ``rate`` (a Poisson process); the lines of one room on one node in one turn are one
stream entry. Each shard's CPU is summed from the costs per entry, per reader, per byte and
per ``XREAD`` key (defaults: measured with ``benchmarks/chat_cluster.py`` and ``XREAD`` of
1 to 5,000 keys on this machine, see ``docs/scaling.md``). Prints one JSON line per case.

What it leaves out: the nodes' own CPU (far below a core per 10,000 users), Redis's memory,
network time, and that a saturated shard slows its readers (which would batch more).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import random
from collections import Counter, defaultdict


def crc16(data: bytes) -> int:
    """Redis Cluster's key slot hash (CRC16/XMODEM)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def shard_of(room: int, shards: int) -> int:
    return (crc16(b"r%d" % room) % 16384) * shards // 16384


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def simulate(args: argparse.Namespace, rate: float, placement: str, shards: int) -> dict:
    rng = random.Random(args.seed)
    weights = list(itertools.accumulate(1 / (i + 1) ** args.zipf for i in range(args.rooms)))
    room_of = [bisect.bisect(weights, rng.random() * weights[-1]) for _ in range(args.users)]
    nodes = math.ceil(args.users / args.per_node)
    if placement == "random":
        node_of = [rng.randrange(nodes) for _ in range(args.users)]
    else:
        node_of = [crc16(b"p%d" % room_of[u]) % nodes for u in range(args.users)]
    readers: dict[int, set[int]] = defaultdict(set)  # room -> nodes with members there
    for u in range(args.users):
        readers[room_of[u]].add(node_of[u])
    where = {room: shard_of(room, shards) for room in readers}
    keys = Counter()  # (node, shard) -> rooms that node reads on that shard
    for room, ns in readers.items():
        for n in ns:
            keys[n, where[room]] += 1
    cpu = [0.0] * shards  # microseconds of Redis CPU per shard
    xread = [0.0] * shards
    entries = lines = 0
    turns = int(args.seconds / args.turn)
    for _ in range(turns):
        said = poisson(rng, rate * args.users * args.turn)
        batch: set[tuple[int, int]] = set()
        for u in rng.choices(range(args.users), k=said):
            batch.add((room_of[u], node_of[u]))
        lines += said
        entries += len(batch)
        woken: set[tuple[int, int]] = set()
        for room, _node in batch:
            k = len(readers[room])
            shard = where[room]
            cpu[shard] += args.entry_us + k * args.reader_us
            woken.update((n, shard) for n in readers[room])
        for node, shard in woken:  # one XREAD per woken reader per turn
            xread[shard] += args.xread_us + keys[node, shard] * args.key_us
        per_line = args.line_bytes * args.byte_ns / 1000  # bytes: once in, once out per reader
        for room, _node in batch:  # (lines spread evenly over the turn's entries)
            cpu[where[room]] += per_line * (1 + len(readers[room])) * said / len(batch)
    seconds = turns * args.turn
    global_ops = 2 * args.users / args.session + nodes / (args.node_timeout / 6)
    read_keys = [keys[n, s] for n in range(nodes) for s in range(shards)]
    return {
        "placement": placement, "shards": shards, "lines_per_user_s": round(rate, 4),
        "lines_per_s": round(lines / seconds), "entries_per_s": round(entries / seconds),
        "nodes": nodes, "mean_readers_per_room": round(
            sum(len(r) for r in readers.values()) / len(readers), 2),
        "xread_keys_per_node_shard": round(sum(read_keys) / len(read_keys)),
        "biggest_room": max(Counter(room_of).values()),
        # fractions of one core: lines (entries, readers, bytes), and the XREADs
        "room_shard_cpu_lines": [round(c / seconds / 1e6, 3) for c in cpu],
        "room_shard_cpu_xread": [round(c / seconds / 1e6, 3) for c in xread],
        "global_shard_cpu": round(global_ops * args.global_us * 1e-6, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--per-node", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--turn", type=float, default=0.002, help="a node's read cycle (s)")
    parser.add_argument("--rates", default="0.0333,0.2", help="lines per user per second")
    parser.add_argument("--shards", default="1,3,6")
    parser.add_argument("--session", type=float, default=1200, help="seconds per session")
    parser.add_argument("--node-timeout", type=float, default=15)
    parser.add_argument("--line-bytes", type=int, default=60)
    # Redis CPU costs (microseconds), measured on the development machine under load
    parser.add_argument("--entry-us", type=float, default=12.0, help="per stream entry")
    parser.add_argument("--reader-us", type=float, default=1.5, help="per entry per reader")
    parser.add_argument("--byte-ns", type=float, default=6.0, help="per byte in or out")
    parser.add_argument("--xread-us", type=float, default=1.0, help="per XREAD")
    parser.add_argument("--key-us", type=float, default=0.5, help="per key an XREAD names")
    parser.add_argument("--global-us", type=float, default=10.0, help="per connect, quit...")
    parser.add_argument("--zipf", type=float, default=0.8, help="room popularity exponent")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    for rate in (float(r) for r in args.rates.split(",")):
        for placement in ("random", "by-room"):
            for shards in (int(s) for s in args.shards.split(",")):
                print(json.dumps({"turn_s": args.turn, **simulate(args, rate, placement, shards)}),
                      flush=True)


if __name__ == "__main__":
    main()
