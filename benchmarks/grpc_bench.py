#!/usr/bin/env python3
"""gRPC under twistd versus plain grpcio, same servicer, one run (target: ≥ 0.8× plain grpcio).

For each of ``--runs`` rounds, interleaved, this starts each server fresh (pinned to CPU
``SERVER_CPU``, default 0), drives it with a grpcio ``grpc.aio`` client (pinned to
``LG_CPU``, default 1; ``--channels`` channels, ``--concurrency`` calls in flight on each,
``--calls`` calls or ``--seconds`` at most) and stops it:

- ``plain``: ``grpc.server`` (thread pool) serving netsuite's servicer, nothing else;
- ``twistd``: ``twistd -n rpc --grpc ...`` with the default reactor (the same thread-pool
  server, hosted as a twistd service);
- ``plain-aio``: ``grpc.aio.server`` serving the same servicer on a bare asyncio loop;
- ``twistd-aio``: ``twistd -n --reactor=asyncio rpc --grpc ...`` (grpc.aio on the reactor's
  loop).

It prints calls/s per run, the medians, each twistd server's ratio to its plain twin, and
the server's CPU use (on-CPU time over elapsed, all threads) and calls per server
CPU-second, so a client-bound run shows as such (one Python client process is slower than
either server) and the hosting cost still shows.  Run by hand, not in CI::

    .venv/bin/python benchmarks/grpc_bench.py --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PEERS = ("plain", "twistd", "plain-aio", "twistd-aio")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain_handlers(aio: bool) -> list:
    """netsuite's messages and registry, called straight from grpcio's handler (in its
    worker threads, one at a time under a lock; or on the bare asyncio loop): no reactor."""
    import threading

    import grpc

    from netsuite.rpc import SERVICE
    from netsuite.rpc.grpc._answer import grpc_methods, request_parser

    lock = threading.Lock()
    by_service: dict = {}
    for entry in grpc_methods(SERVICE):
        def run(request, entry=entry):
            with lock:
                return entry.reply(SERVICE.call(entry.method.name, entry.arguments(request),
                                                transport="grpc"))

        async def run_async(request, context, run=run):
            return run(request)

        handler = run_async if aio else (lambda request, context, run=run: run(request))
        service, _, method = entry.path[1:].partition("/")
        by_service.setdefault(service, {})[method] = grpc.unary_unary_rpc_method_handler(
            handler, request_deserializer=request_parser(entry.request_class),
            response_serializer=entry.reply_class.SerializeToString)
    return [grpc.method_handlers_generic_handler(n, m) for n, m in by_service.items()]


def serve_plain(port: int, aio: bool) -> None:
    """A bare grpcio server with netsuite's servicer (the ``plain`` peers)."""
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    address = f"127.0.0.1:{port}"
    if not aio:
        server = grpc.server(ThreadPoolExecutor(max_workers=4),
                             handlers=_plain_handlers(False))
        server.add_insecure_port(address)
        server.start()
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        server.stop(1).wait()
        return

    async def main() -> None:
        server = grpc.aio.server(handlers=_plain_handlers(True))
        server.add_insecure_port(address)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop(1)

    asyncio.run(main())


def _workload(method: str) -> tuple[Any, Any, Any]:
    """For ``method``: its rpc path and message classes, ``args(i)`` -> request, and
    ``check(i, reply)`` -> whether the reply is right."""
    sys.path.insert(0, str(ROOT))
    import benchmarks.rpc_service as bench
    from netsuite.rpc import SERVICE
    from netsuite.rpc._types import to_plain
    from netsuite.rpc.grpc._answer import grpc_method

    entry = grpc_method(SERVICE.lookup(method))
    if method == "Bench.Struct":
        spec = entry.method.params[0].spec
        shape = to_plain(spec, bench.Shape("hexagon", [bench.Point(i, -i) for i in range(8)],
                                           {"a": 1, "b": 2}, b"\x00" * 32, 1.5))

        def request(i: int) -> Any:
            return entry.request({"shape": shape, "by": [i, 2]})

        def check(i: int, reply: Any) -> bool:
            return reply.result.points[0].x == i and len(reply.result.points) == 8
    else:
        def request(i: int) -> Any:
            return entry.request({"x": i, "y": 2})

        def check(i: int, reply: Any) -> bool:
            return entry.result(reply) == i + 2
    return entry, request, check


def load(port: int, channels: int, concurrency: int, calls: int, seconds: float,
         method: str = "Algorithm.Sum") -> dict:
    """The client: grpc.aio, ``concurrency`` calls in flight per channel; one JSON result."""
    import grpc

    entry, request, check = _workload(method)

    async def main() -> dict:
        chans = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(channels)]
        stubs = [c.unary_unary(entry.path,
                               request_serializer=entry.request_class.SerializeToString,
                               response_deserializer=entry.reply_class.FromString)
                 for c in chans]
        for stub in stubs:  # connect and warm up
            await stub(request(1), timeout=10)
        counter = iter(range(calls))
        ok = errors = 0
        deadline = time.monotonic() + seconds

        async def worker(stub: Any) -> None:
            nonlocal ok, errors
            for i in counter:
                if time.monotonic() > deadline:
                    return
                try:
                    reply = await stub(request(i), timeout=10)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                if check(i, reply):
                    ok += 1
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(s) for s in stubs for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        for c in chans:
            await c.close()
        return {"ok": ok, "errors": errors, "elapsed": elapsed, "rate": ok / elapsed}

    return asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"no listener on {port}")


def server_argv(peer: str, port: int) -> list[str]:
    if peer.startswith("plain"):
        return [sys.executable, __file__, "--serve", peer, "--port", str(port)]
    reactor = ["--reactor=asyncio"] if peer == "twistd-aio" else []
    return [str(VENV_BIN / "twistd"), "-n", "--pidfile=", *reactor, "rpc", "--xmlrpc", "none",
            "--amp", "none", "--jsonrpc", "none", "--service", "benchmarks.rpc_service",
            "--grpc", f"tcp:{port}:interface=127.0.0.1"]


def measure(peer: str, args: argparse.Namespace) -> dict:
    port = free_port()
    server = subprocess.Popen(["taskset", "-c", os.environ.get("SERVER_CPU", "0"),
                               *server_argv(peer, port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, server)
        time.sleep(0.3)
        cpu_before, wall_before = cpu_seconds(server.pid), time.monotonic()
        client = subprocess.run(
            ["taskset", "-c", os.environ.get("LG_CPU", "1"), sys.executable, __file__,
             "--client", "--port", str(port), "--channels", str(args.channels),
             "--concurrency", str(args.concurrency), "--calls", str(args.calls),
             "--seconds", str(args.seconds), "--method", args.method],
            capture_output=True, text=True, check=True, cwd=ROOT)
        cpu = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - wall_before)
        result = json.loads(client.stdout)
        result["server_cpu"] = cpu
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--calls", type=int, default=60000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--method", default="Algorithm.Sum",
                        choices=("Algorithm.Sum", "Bench.AsyncSum", "Bench.Struct"),
                        help="the workload: the book's Sum, an async def returning at once, "
                             "or a struct-heavy call (twistd peers only for the last two)")
    parser.add_argument("--serve", choices=("plain", "plain-aio"), help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_plain(args.port, args.serve == "plain-aio")
        return 0
    if args.client:
        print(json.dumps(load(args.port, args.channels, args.concurrency, args.calls,
                              args.seconds, args.method)))
        return 0

    peers = args.peers.split(",")
    results: dict[str, list[dict]] = {p: [] for p in peers}
    for run in range(1, args.runs + 1):
        for peer in peers:
            r = measure(peer, args)
            results[peer].append(r)
            print(f"run {run} {peer:<11} {r['rate']:>9,.0f} calls/s  errors={r['errors']}  "
                  f"server CPU {r['server_cpu']:.0%}", file=sys.stderr)
    medians = {p: statistics.median(r["rate"] for r in rs) for p, rs in results.items() if rs}
    print(f"grpc {args.method}, {args.channels} channels x {args.concurrency} in flight, "
          f"{args.runs} runs (median [min-max] calls/s, median server CPU):")
    for peer, rs in results.items():
        rates = [r["rate"] for r in rs]
        cpu = statistics.median(r["server_cpu"] for r in rs)
        per_cpu = statistics.median(r["rate"] / max(r["server_cpu"], 1e-9) for r in rs)
        print(f"  {peer:<11} {medians[peer]:>9,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]  "
              f"CPU {cpu:.0%}  {per_cpu:,.0f} calls per server CPU-second")
    for ours, plain in (("twistd", "plain"), ("twistd-aio", "plain-aio")):
        if ours in medians and plain in medians:
            print(f"  {ours} / {plain} = {medians[ours] / medians[plain]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
