"""``netsuite udp HOST:PORT``: datagrams from standard input, or ping mode (``--count N``)."""

from __future__ import annotations

import argparse
import ipaddress
import random
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task, threads
from twisted.internet.protocol import DatagramProtocol

from netsuite._cli import CommandFailed, UsageFailure
from netsuite._endpoints import TargetError, format_host_port, parse_host_port
from netsuite._options import non_negative_float, positive_float, positive_int
from netsuite._stdin import MAX_READ, StdinLines, split_line_end
from netsuite.udpecho._ping import HEADER_SIZE, PingTracker, build_probe

__all__ = ["DESCRIPTION", "UDPClientProtocol", "configure", "run"]

#: The largest UDP payload over IPv4.
MAX_DATAGRAM = 65507

DESCRIPTION = f"""\
Send each line of standard input (without its line end) as one datagram and print the
reply; wait up to --timeout for each ('no reply within S s' takes the place of a
missing reply).  With --count N, ping instead: N probes of --size
bytes every --interval seconds, each carrying a sequence number and timestamp, printing
'seq=N time=X ms' or 'seq=N timeout' per probe, then 'N sent, M received, P% loss' and
min/avg/max/p50/p99 round-trip times.  Probe size: {HEADER_SIZE}-{MAX_DATAGRAM} bytes.

exit status: 0 success (line mode: every line answered; ping: any probe answered),
1 no answer or ICMP port unreachable, 2 usage error."""



def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``netsuite udp`` arguments."""
    parser.add_argument("target", metavar="HOST:PORT", help="server address ([IPV6]:PORT)")
    parser.add_argument("--count", "-c", type=positive_int, default=None, metavar="N",
                        help="ping mode: send N probes")
    parser.add_argument("--interval", "-i", type=non_negative_float, default=1.0,
                        metavar="S", help="ping mode: seconds between probes (default: 1)")
    parser.add_argument("--size", "-s", type=positive_int, default=64, metavar="B",
                        help=f"ping mode: probe size in bytes (default: 64, min {HEADER_SIZE})")
    parser.add_argument("--timeout", "-t", type=positive_float, default=1.0, metavar="S",
                        help="seconds to wait for each reply (default: 1)")


class UDPClientProtocol(DatagramProtocol):
    """A connected UDP socket: replies go to ``on_reply``; ICMP unreachable to ``on_refused``.

    Twisted reports an ICMP error either as ``connectionRefused`` or (the epoll reactor
    sees the socket error as a hang-up) by closing the port; both count as refused, unless
    we closed the port ourselves (``closing``).
    """

    def __init__(self) -> None:
        self.on_reply: Callable[[bytes], None] = lambda data: None
        self.on_refused: Callable[[], None] = lambda: None
        self.closing = False
        self.refused = False

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.on_reply(data)

    def connectionRefused(self) -> None:
        self.refused = True
        self.on_refused()

    def stopProtocol(self) -> None:
        if not self.closing and not self.refused:
            self.connectionRefused()


async def resolve(host: str, port: int) -> tuple[int, str]:
    """``(family, address)`` for ``host``: a literal as is, a name via getaddrinfo."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), str(address)
    try:
        infos = await threads.deferToThread(socket.getaddrinfo, host, port, 0, socket.SOCK_DGRAM)
    except OSError as exc:
        raise CommandFailed(f"cannot resolve {host}: {exc.strerror or exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr[0]


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Line mode or ping mode, on one connected UDP socket."""
    try:
        host, port = parse_host_port(args.target)
    except TargetError as exc:
        raise UsageFailure(str(exc)) from None
    if args.count is not None and not HEADER_SIZE <= args.size <= MAX_DATAGRAM:
        raise UsageFailure(f"--size must be {HEADER_SIZE}-{MAX_DATAGRAM} bytes")
    family, address = await resolve(host, port)
    where = format_host_port(host, port)
    proto = UDPClientProtocol()
    listening = reactor.listenUDP(0, proto, interface="::" if family == socket.AF_INET6 else "",
                                  maxPacketSize=65536)
    try:
        listening.connect(address, port)
        if args.count is None:
            return await _lines(reactor, proto, args, where)
        return await _ping(reactor, proto, args, where)
    finally:
        proto.closing = True
        await defer.maybeDeferred(listening.stopListening)


_REFUSED = object()


async def _lines(reactor: Any, proto: UDPClientProtocol, args: argparse.Namespace,
                 where: str) -> int:
    replies: defer.DeferredQueue[Any] = defer.DeferredQueue()
    proto.on_reply = replies.put
    proto.on_refused = lambda: replies.put(_REFUSED)
    lines = StdinLines(reactor, getattr(args, "stdin", None))
    total = unanswered = 0
    skipping = False  # inside a line too long to read at once (so too long to send)
    while (line := await lines.get()) is not None:
        data, ended = split_line_end(line)
        piece = not ended and len(line) == MAX_READ
        if skipping:
            skipping = piece
            continue
        total += 1
        if piece or len(data) > MAX_DATAGRAM:
            print(f"a line of more than {MAX_DATAGRAM} bytes is too long for a datagram; "
                  "skipped", flush=True)  # stdout, in its reply's place (as a timeout)
            unanswered += 1
            skipping = piece
            continue
        replies.pending.clear()  # late replies to earlier lines: not this line's answer
        if proto.refused:
            raise CommandFailed(f"{where}: connection refused (ICMP port unreachable)")
        proto.transport.write(data)
        waiting = replies.get()
        waiting.addTimeout(args.timeout, reactor)
        try:
            reply = await waiting
        except defer.TimeoutError:
            unanswered += 1
            # On stdout, in the reply's place: stderr keeps the one-line reason of the exit.
            print(f"no reply within {args.timeout:g} s", flush=True)
            continue
        if reply is _REFUSED:
            raise CommandFailed(f"{where}: connection refused (ICMP port unreachable)")
        print(reply.decode("utf-8", "backslashreplace"), flush=True)
    if unanswered:
        raise CommandFailed(f"{unanswered} of {total} lines got no reply from {where}")
    return 0


async def _ping(reactor: Any, proto: UDPClientProtocol, args: argparse.Namespace,
                where: str, clock_ns: Callable[[], int] = time.monotonic_ns) -> int:
    tracker = PingTracker(random.getrandbits(32))
    finished: defer.Deferred[None] = defer.Deferred()
    all_sent = False

    def check_done() -> None:
        if all_sent and not tracker.outstanding and not finished.called:
            finished.callback(None)

    def on_reply(data: bytes) -> None:
        kind, seq, rtt = tracker.reply(data, clock_ns())
        if kind == "ok":
            print(f"{len(data)} bytes from {where}: seq={seq} time={rtt:.3f} ms", flush=True)
        elif kind == "late":
            print(f"seq={seq} late reply, time={rtt:.3f} ms (not counted)", flush=True)
        elif kind == "duplicate":
            print(f"seq={seq} duplicate reply, time={rtt:.3f} ms", flush=True)
        check_done()

    def on_timeout(seq: int) -> None:
        if tracker.timeout(seq):
            print(f"seq={seq} timeout", flush=True)
        check_done()

    def on_refused() -> None:
        if not finished.called:
            finished.callback(None)

    printed: list[bool] = []

    def print_summary() -> Any:
        """The statistics, printed once: at the end, or when interrupted (Ctrl-C)."""
        summary = tracker.summary()
        if not printed:
            printed.append(True)
            print(f"--- {where} udp ping statistics ---")
            for line in summary.lines():
                print(line)
            sys.stdout.flush()
        return summary

    proto.on_reply = on_reply
    proto.on_refused = on_refused
    print(f"PING {where} (udp): {args.count} probes of {args.size} bytes", flush=True)
    timers = []
    try:
        for seq in range(args.count):
            if proto.refused:
                break
            now = clock_ns()
            tracker.sent(seq, now)
            proto.transport.write(build_probe(tracker.token, seq, now, args.size))
            timers.append(reactor.callLater(args.timeout, on_timeout, seq))
            if seq + 1 < args.count:
                await task.deferLater(reactor, args.interval, lambda: None)
        all_sent = True
        check_done()
        await finished
    except defer.CancelledError:  # Ctrl-C: the statistics so far, then exit status 130
        print_summary()
        raise
    finally:
        for timer in timers:
            if timer.active():
                timer.cancel()
    if proto.refused:
        raise CommandFailed(f"{where}: connection refused (ICMP port unreachable)")
    summary = print_summary()
    if not summary.received:
        raise CommandFailed(f"no reply from {where}")
    return 0
