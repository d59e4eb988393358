#!/usr/bin/env python3
"""Server cost per call of the RPC wires, in memory: sync Sum, async Sum, a struct-heavy call.

For each wire (AMP, JSON-RPC, XML-RPC, Go gob) this feeds a server protocol the real request bytes
of many pipelined calls through a ``StringTransport`` (no sockets, no client cost) and
times (in CPU time of this process, so other work on a shared machine does not count) how
many calls per second one core answers, for three methods on the same server:

- ``sum``: the book's ``Algorithm.Sum`` (a plain function; the fast path);
- ``async``: ``Bench.AsyncSum``, an ``async def`` returning at once;
- ``struct``: ``Bench.Struct``, a struct with a list of 8 points, a map, bytes, an optional.

It prints calls/s (median of ``--runs``), the µs of CPU per ``sum`` call, and each
workload's ratio to ``sum`` on the same wire in the same run.  Run by hand, not in CI::

    .venv/bin/python benchmarks/rpc_inmemory.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet.testing import StringTransport

from benchmarks.rpc_service import Point, Shape, register
from netsuite.rpc import Registry
from netsuite.rpc._core import algorithm_sum
from netsuite.rpc._types import to_plain
from netsuite.rpc.amp._protocol import amp_factory
from netsuite.rpc.amp._values import encoder, pair
from netsuite.rpc.gob._codec import Decoder as GobDecoder
from netsuite.rpc.gob._codec import Encoder as GobEncoder
from netsuite.rpc.gob._protocol import REQUEST, gob_factory
from netsuite.rpc.gob._typed import args_type
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory
from netsuite.rpc.jsonrpc._values import dump_value
from netsuite.rpc.xmlrpc._encode import encode_call
from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory

SHAPE = Shape("hexagon", [Point(i, -i) for i in range(8)], {"a": 1, "b": 2}, b"\x00" * 32,
              1.5)


def registry() -> Registry:
    reg = Registry()
    reg.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum",
                 result_name="total")(algorithm_sum)
    register(reg)
    return reg


def amp_requests(reg: Registry, name: str, count: int) -> bytes:
    method = reg.lookup(name)
    if name == "Bench.Struct":
        args = {"shape": to_plain(method.params[0].spec, SHAPE), "by": [1, 2]}
    else:
        args = {"x": 1, "y": 2}
    body = b"".join(pair(p.name.encode(), encoder(p.spec)(args[p.name]))
                    for p in method.params)
    return b"".join(pair(b"_command", name.encode()) + pair(b"_ask", b"%d" % i) + body
                    + b"\x00\x00" for i in range(count))


def json_requests(reg: Registry, name: str, count: int) -> bytes:
    if name == "Bench.Struct":
        params = dump_value({"shape": to_plain(reg.lookup(name).params[0].spec, SHAPE),
                             "by": [1, 2]})
    else:
        params = '{"X":1,"Y":2}'
    return b"".join(f'{{"method":"{name}","params":[{params}],"id":{i}}}'.encode()
                    for i in range(count))


def xml_requests(reg: Registry, name: str, count: int) -> bytes:
    if name == "Bench.Struct":
        body = encode_call(name, [to_plain(reg.lookup(name).params[0].spec, SHAPE), [1, 2]])
    else:
        body = encode_call(name, [1, 2])
    one = (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return one  # XML-RPC: one request per read (the keep-alive fast path), sent count times


def gob_requests(reg: Registry, name: str, count: int) -> bytes:
    method = reg.lookup(name)
    if name == "Bench.Struct":
        args = {"shape": to_plain(method.params[0].spec, SHAPE), "by": [1, 2]}
    else:
        args = {"x": 1, "y": 2}
    encoder = GobEncoder()  # one client stream: types defined once, as Go's client does
    return b"".join(encoder.encode(REQUEST, {"ServiceMethod": name, "Seq": i})
                    + encoder.encode(args_type(method), args) for i in range(count))


def measure(wire: str, name: str, count: int) -> float:
    reg = registry()
    if wire == "amp":
        factory: Any = amp_factory(reg, max_inflight=10**9)
        data, reads = amp_requests(reg, name, count), 1
    elif wire == "jsonrpc":
        factory = jsonrpc_factory(reg, max_inflight=10**9)
        data, reads = json_requests(reg, name, count), 1
    elif wire == "gob":
        factory = gob_factory(reg, max_inflight=10**9)
        data, reads = gob_requests(reg, name, count), 1
    else:
        factory = xmlrpc_factory(reg, idle_timeout=None)
        data, reads = xml_requests(reg, name, count), count
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    chunk = 16384 if reads == 1 else len(data)
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] * reads
    start = time.process_time()  # CPU time: a busy shared machine does not count
    for piece in pieces:
        protocol.dataReceived(piece)
        if reads > 1:
            transport.clear()
    elapsed = time.process_time() - start
    out = transport.value()
    if reads == 1:
        if wire == "gob":
            answers = sum(1 for _ in GobDecoder().messages(out)) // 2
        else:
            answers = out.count(b"_answer") if wire == "amp" else out.count(b"\n")
        if answers != count:
            raise RuntimeError(f"{wire} {name}: {answers} answers to {count} calls")
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    workloads = {"sum": "Algorithm.Sum", "async": "Bench.AsyncSum", "struct": "Bench.Struct"}
    results: dict[str, dict[str, float]] = {}
    for wire in ("amp", "jsonrpc", "xmlrpc", "gob"):
        runs: dict[str, list[float]] = {w: [] for w in workloads}
        for _ in range(args.runs):  # interleaved, so drift hits every workload alike
            for workload, name in workloads.items():
                runs[workload].append(measure(wire, name, args.calls))
        results[wire] = {w: statistics.median(r) for w, r in runs.items()}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'wire':8} {'sum calls/s':>12} {'µs/sum':>7} {'async':>12} {'async/sum':>10} "
          f"{'struct':>12} {'struct/sum':>10}")
    for wire, r in results.items():
        print(f"{wire:8} {r['sum']:12,.0f} {1e6 / r['sum']:7.2f} {r['async']:12,.0f} "
              f"{r['async'] / r['sum']:10.2f} {r['struct']:12,.0f} {r['struct'] / r['sum']:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
