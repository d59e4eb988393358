"""``netsuite send HOST:PORT``: send standard input, line by line, to a TCP server.

Each line goes out with a single ``\\n`` line end (a ``\\r\\n`` from the input becomes
``\\n``) and ``sent N bytes`` is printed, as the book's client does.  A line that is exactly
``exit`` (or the end of input) ends the session: what was written is flushed and the
sending side closed (a TCP half-close; with TLS, ``close_notify``); the client then waits for
the server to close its side, and the exit status is 0.  The server closing first (before it
saw the end), or resetting the connection (as ``twistd tcplog`` does on a line over its limit),
is a failure: exit status 1 with the reason.  See docs/tcplog.md.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableProtocol, IHandshakeListener, IPushProducer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from netsuite._cli import CommandFailed, UsageFailure
from netsuite._endpoints import (
    TargetError,
    client_endpoint,
    describe_connect_failure,
    format_host_port,
    parse_host_port,
)
from netsuite._options import positive_float
from netsuite._stdin import MAX_READ, StdinLines, split_line_end
from netsuite._tls import ClientTLS, add_tls_options, tls_failure_text

__all__ = ["DESCRIPTION", "SendProtocol", "configure", "run"]

DESCRIPTION = """\
Send standard input to a TCP server (such as 'twistd tcplog'), one line at a time,
printing how many bytes each line took.  A line 'exit' or the end of input quits.

exit status: 0 success, 1 network failure (refused, timeout, TLS, closed or reset by the
server before the end), 2 usage error, 130 interrupted (Ctrl-C)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``netsuite send`` arguments."""
    parser.add_argument("target", metavar="HOST:PORT", help="server address ([IPV6]:PORT)")
    add_tls_options(parser)
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="S",
                        help="seconds to connect, and to flush at the end (default: 10)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="do not print 'sent N bytes' per line")


@implementer(IPushProducer, IHandshakeListener, IHalfCloseableProtocol)
class SendProtocol(Protocol):
    """Writes what it is given; tells when the transport's buffer wants a pause.

    ``ready`` fires once the connection can carry data (at once for TCP, after the
    handshake for TLS) or fails with the reason it never will; ``closed`` fires (with
    None) when the connection is gone; ``lost`` is the reason, once known.
    :meth:`writable` waits while the transport asks us to pause.  Over plain TCP the
    sending side is closed on its own (:meth:`finish`): ``flushed`` is set once everything
    was written and our end sent, ``server_closed_first`` if the server closed its side
    before that.
    """

    def __init__(self, tls: bool = False) -> None:
        self.tls = tls
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.lost: Failure | None = None
        self._resumed: defer.Deferred[None] | None = None
        self._lost_waiters: list[defer.Deferred[None]] = []
        self.flushed = False
        self.server_closed_first = False

    def when_lost(self) -> defer.Deferred[None]:
        """A new Deferred that fires once the connection is gone (cancellable)."""
        waiter: defer.Deferred[None] = defer.Deferred()
        if self.lost is not None:
            waiter.callback(None)
        else:
            self._lost_waiters.append(waiter)
        return waiter

    def connectionMade(self) -> None:
        self.transport.registerProducer(self, True)
        if not self.tls:
            self.ready.callback(None)

    def handshakeCompleted(self) -> None:
        if not self.ready.called:
            self.ready.callback(None)

    def dataReceived(self, data: bytes) -> None:
        """The line log never answers; anything a server says is ignored."""

    def pauseProducing(self) -> None:
        if self._resumed is None:
            self._resumed = defer.Deferred()

    def resumeProducing(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.callback(None)

    def stopProducing(self) -> None:
        self.resumeProducing()

    async def writable(self) -> None:
        """Return once the transport can take more (at once, unless it asked for a pause)."""
        while self._resumed is not None and self.lost is None:
            await self._resumed

    def finish(self) -> None:
        """Send what is buffered, then our end; the server's close ends the connection."""
        self.transport.unregisterProducer()  # TLS waits for the producer to go before closing
        if self.tls:
            self.transport.loseConnection()  # close_notify; waits for the server's
        else:
            self.transport.loseWriteConnection()

    def writeConnectionLost(self) -> None:
        """Everything written went out, and our end after it."""
        self.flushed = True

    def readConnectionLost(self) -> None:
        """The server closed its side: before our end it closed on us; close ours too."""
        if not self.flushed:
            self.server_closed_first = True
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason
        if not self.ready.called:
            self.ready.errback(reason)
        self.resumeProducing()
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(None)
        self.closed.callback(None)


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Connect, send lines until ``exit`` or end of input, close cleanly."""
    try:
        host, port = parse_host_port(args.target)
    except TargetError as exc:
        raise UsageFailure(str(exc)) from None
    where = format_host_port(host, port)
    tls = ClientTLS.from_args(args)
    endpoint = client_endpoint(reactor, host, port, tls=tls, timeout=args.timeout)
    try:
        connecting = endpoint.connect(
            Factory.forProtocol(partial(SendProtocol, tls is not None)))
        connecting.addCallback(lambda proto: proto.ready.addCallback(lambda _: proto))
        connecting.addTimeout(args.timeout, reactor)
        proto: SendProtocol = await connecting
    except Exception as exc:
        reason = describe_connect_failure(exc)
        raise CommandFailed(tls_failure_text(exc, where)
                            or f"cannot connect to {where}: {reason}") from None

    lines = StdinLines(reactor, getattr(args, "stdin", None))
    started = 0  # bytes already sent of a line longer than one read
    while proto.lost is None:
        # Wait for a line or for the server to go, whichever comes first (an idle
        # terminal must not hide that the server closed the connection).
        which, line = await defer.race([defer.ensureDeferred(lines.get()), proto.when_lost()])
        if which == 1:
            break
        if line is None:
            if started:  # the input ended inside a long line: end it
                await _send(proto, b"\n", started, args.quiet)
            break
        text, ended = split_line_end(line)
        if not ended and len(line) == MAX_READ:  # a piece of a longer line; more follows
            if await _send(proto, text, None, args.quiet):
                started += len(text)
            continue
        if not started and text == b"exit":
            break
        await _send(proto, text + b"\n", started, args.quiet)
        started = 0

    if proto.lost is not None or proto.server_closed_first:
        raise CommandFailed(_closed_on_us(where, proto.lost))
    proto.finish()
    give_up = reactor.callLater(args.timeout, proto.transport.abortConnection)
    await proto.closed
    if not give_up.active():
        if proto.tls or not proto.flushed:
            raise CommandFailed(f"{where}: timed out sending the last lines")
        return 0  # everything went out; the server just never closed its side
    give_up.cancel()
    assert proto.lost is not None
    if proto.server_closed_first or not proto.lost.check(ConnectionDone):
        raise CommandFailed(_closed_on_us(where, proto.lost))
    return 0


def _closed_on_us(where: str, lost: Failure | None) -> str:
    """Why the server ended the connection before we did, in one line."""
    if lost is None or lost.check(ConnectionDone):
        return f"{where} closed the connection"
    if tls_text := tls_failure_text(lost, where):
        return tls_text
    if lost.check(ConnectionLost):
        return (f"{where} closed the connection (reset: it refused what was sent, such as "
                "a line over its length limit)")
    return f"{where} closed the connection ({describe_connect_failure(lost.value)})"


async def _send(proto: SendProtocol, data: bytes, before: int | None, quiet: bool) -> bool:
    """Write ``data`` once the transport can take it; print ``sent N bytes`` (N counting
    ``before`` bytes of the same line) unless ``before`` is None or ``quiet``.  False if the
    connection is gone."""
    await proto.writable()
    if proto.lost is not None:
        return False
    proto.transport.write(data)
    if before is not None and not quiet:
        print(f"sent {before + len(data)} bytes", flush=True)
    return True
