"""``netsuite chat HOST:PORT --nick NAME``: the terminal chat client.

Reads lines from stdin (a terminal or a pipe) and sends them (messages and ``/`` commands);
prints the server's events with the local time (``2026-11-25 10:00:00 <alice> hi``);
sends ``/ping`` every second and declares the server dead after 5 s without a line from
it.  Exit status: 0 after ``/quit`` or the end of input (once the server has said ``BYE``
or closed), 1 for a dead, unreachable or closing server or a nickname that is taken, 2 for
usage errors, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, task
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.basic import LineOnlyReceiver
from zope.interface import implementer

from netsuite._cli import CommandFailed, UsageFailure
from netsuite._endpoints import TargetError, client_endpoint, format_host_port, parse_host_port
from netsuite._options import positive_float
from netsuite._tls import ClientTLS, add_tls_options, tls_failure_text
from netsuite.chat._wire import Event, is_valid_nick, parse_event

__all__ = ["DESCRIPTION", "ChatClient", "configure", "format_event", "run"]

DESCRIPTION = (
    "Terminal chat client. Type messages and /commands (/nick /who /msg /me /ping /quit "
    "/help); server events are printed with the local time. Sends /ping every second and "
    "gives up on a server silent for 5 s.\n\nexit status: 0 after /quit or end of input, "
    "1 network failure, dead server or nickname in use, 2 usage error, 130 interrupted (Ctrl-C)"
)

_CONTROL = {i: "?" for i in range(32) if i != 9} | {127: "?"}


def clean(text: str) -> str:
    """``text`` with control characters (terminal escapes) replaced by ``?``."""
    return text.translate(_CONTROL)


def format_event(event: Event) -> str | None:
    """How an event is shown (without the time), or None for one not shown."""
    verb, f = event.verb, [clean(x) for x in event.fields]
    if verb == "MSG":
        return f"<{f[0]}> {f[1]}"
    if verb == "ACTION":
        return f"* {f[0]} {f[1]}"
    if verb == "PRIV":
        return f"<{f[0]}> (private) {f[1]}"
    if verb == "JOIN":
        return f"* {f[0]} joined"
    if verb == "PART":
        return f"* {f[0]} left ({f[1]})"
    if verb == "NICK":
        return f"* {f[0]} is now known as {f[1]}"
    if verb == "WHO":
        return "* connected: " + ", ".join(f[0].split())
    if verb == "WELCOME":
        return f"* connected as {f[0]}"
    if verb == "ROOM":
        return f"* you are in room {f[0]}"
    if verb == "ROOMS":
        rooms = [name.rpartition(":") for name in f[0].split()]
        return "* rooms: " + ", ".join(f"{name} ({count})" for name, _, count in rooms)
    if verb == "PONG":
        return "* pong" + (f" {f[0]}" if f[0] else "")
    if verb == "INFO":
        return f"- {f[0]}"
    if verb == "ERR":
        return f"! {f[1]} ({f[0]})"
    if verb == "BYE":
        return f"* server closing the connection: {f[0]}"
    return clean(verb + (" " + f[0] if f and f[0] else ""))


class ChatClient(LineOnlyReceiver):
    """The client side of one chat connection.

    ``output(text)`` shows one line to the user; ``clock`` drives the heartbeat and the
    dead-server check.  :attr:`done` fires with None on a clean exit (``/quit`` or end
    of input, then the server's close) or fails with :class:`CommandFailed`.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1024 * 1024

    def __init__(self, clock: Any, output: Callable[[str], None], nick: str | None = None,
                 *, heartbeat: float = 1.0, dead_after: float = 5.0, max_line: int = 4096,
                 local_time: Callable[[float], str] | None = None,
                 target: str = "the server") -> None:
        self.clock = clock
        self.output = output
        self.wanted_nick = nick
        self.nick: str | None = None
        self.room: str | None = None
        self.heartbeat = heartbeat
        self.dead_after = dead_after
        self.max_line = max_line
        self.local_time = local_time or _local_time
        self.target = target
        self.done: defer.Deferred[None] = defer.Deferred()
        #: fires once the user may type (after WELCOME, and the nick answer if any)
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.quitting = False
        self._bye: str | None = None
        self._failure: str | None = None
        self._pings: deque[bool] = deque()  # bare /ping sent, oldest first: True = heartbeat
        self._last_rx = 0.0
        self._loop: task.LoopingCall | None = None

    # -- connection ---------------------------------------------------------------------

    def connectionMade(self) -> None:
        self._last_rx = self.clock.seconds()
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(self.heartbeat, now=False)

    def connectionLost(self, reason: Any = None) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self.done.called:
            return
        tls_error = tls_failure_text(reason, self.target) if reason is not None else None
        if self._failure is not None:
            self.done.errback(CommandFailed(self._failure))
        elif tls_error is not None and self.nick is None:
            self.done.errback(CommandFailed(tls_error))
        elif self.quitting:
            self.done.callback(None)
        elif self._bye is not None:
            self.done.errback(CommandFailed(f"the server closed the connection: {self._bye}"))
        else:
            self.done.errback(CommandFailed("the server closed the connection"))
        if not self.ready.called:
            self.ready.callback(None)

    def _tick(self) -> None:
        silent = self.clock.seconds() - self._last_rx
        if silent >= self.dead_after:
            self.fail(f"the server is not answering: nothing received for "
                      f"{self.dead_after:g} s")
            return
        self._pings.append(True)
        self.sendLine(b"/ping")

    def fail(self, reason: str) -> None:
        """Give up: exit 1 with ``reason``."""
        if self._failure is None:
            self._failure = reason
        self.transport.abortConnection()

    # -- from the server ----------------------------------------------------------------

    def lineReceived(self, line: bytes) -> None:
        self._last_rx = self.clock.seconds()
        if line.endswith(b"\r"):
            line = line[:-1]
        event = parse_event(line.decode("utf-8", "replace"))
        verb = event.verb
        if verb == "PONG" and not event.fields[0] and self._pings and self._pings.popleft():
            return  # a heartbeat's answer
        if verb == "WELCOME":
            self.nick = event.fields[0]
            if self.wanted_nick and self.wanted_nick != self.nick:
                self.sendLine(b"/nick " + self.wanted_nick.encode())
            elif not self.ready.called:
                self.ready.callback(None)
        elif verb == "NICK" and event.fields[0] == self.nick:
            self.nick = event.fields[1]
            if not self.ready.called:
                self.ready.callback(None)
        elif verb == "ERR" and event.fields[0] in ("nick-in-use", "bad-nick") and (
                not self.ready.called):
            self.show(event)
            self.fail(f"nickname {self.wanted_nick} refused: {event.fields[1]}")
            return
        elif verb == "ROOM":
            self.room = event.fields[0]
        elif verb == "BYE":
            self._bye = event.fields[0]
        self.show(event)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.fail("the server sent a line longer than 1 MiB")

    def show(self, event: Event) -> None:
        """Print ``event`` with the local time (a history line with its own time)."""
        when = self.clock.seconds()
        if event.verb == "HIST":
            stamp, past = event.fields
            when = _utc_seconds(stamp, when)
            event = parse_event(past)
        text = format_event(event)
        if text is not None:
            self.output(f"{self.local_time(when)} {text}")

    def prompt(self) -> str:
        """The input prompt: ``[room] nick> ``."""
        return f"[{clean(self.room or '-')}] {clean(self.nick or '')}> "

    # -- from the user ------------------------------------------------------------------

    def send_user_line(self, line: bytes) -> None:
        """Send one line the user typed (an empty one is ignored)."""
        line = line.rstrip(b"\r")
        if not line.strip() or self.quitting:
            return
        if len(line) > self.max_line:
            self.output(f"! line not sent: {len(line)} bytes, the limit is {self.max_line}")
            return
        command = line.split(b" ", 1)[0].lower()
        if command == b"/quit":
            self.quitting = True
        elif command == b"/ping" and line.strip().lower() == b"/ping":
            self._pings.append(False)  # the user's: its PONG is shown
        self.sendLine(line)

    def interrupted(self) -> None:
        """The user pressed Ctrl-C: close without a word (no failure is reported)."""
        self.quitting = True
        if self.transport is not None:
            self.transport.abortConnection()

    def end_of_input(self) -> None:
        """stdin is exhausted: leave politely."""
        if not self.quitting:
            self.quitting = True
            self.sendLine(b"/quit")


def _utc_seconds(stamp: str, default: float) -> float:
    """``2026-12-03T12:00:00.123Z`` as seconds since the epoch (``default`` if malformed)."""
    import calendar

    try:
        whole, _, rest = stamp.partition(".")
        fields = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
        millis = int(rest.rstrip("Z") or 0) if rest else 0
    except ValueError:
        return default
    return calendar.timegm(fields) + millis / 1000


def _local_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


@implementer(IHalfCloseableProtocol)
class _Stdin(LineOnlyReceiver):
    """stdin lines to the chat client; its transport is also how we write stdout.

    Half-closeable, so the end of stdin does not close stdout: the server's last events
    (up to its ``BYE``) are still shown.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1024 * 1024

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.closed: defer.Deferred[None] = defer.Deferred()

    def lineReceived(self, line: bytes) -> None:
        self.client.send_user_line(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.client.output("! input line too long, not sent")

    def readConnectionLost(self) -> None:
        if not self.client.done.called:
            if self._buffer:
                self.client.send_user_line(self._buffer)
                self._buffer = b""
            self.client.end_of_input()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Any = None) -> None:
        self.readConnectionLost()
        if not self.closed.called:
            self.closed.callback(None)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netsuite chat``."""
    parser.add_argument("target", metavar="HOST:PORT", help="chat server, e.g. 127.0.0.1:8086")
    parser.add_argument("--nick", metavar="NAME",
                        help="nickname to take (1-32 letters, digits, _ or -); if it is taken "
                        "the client exits with status 1. Default: the guest name given")
    add_tls_options(parser, what="connect with TLS (ssl: and mtls: servers)")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="SECONDS",
                        help="connect timeout (default 10)")


def _start_input(reactor: Any, client: ChatClient, out: dict[str, Any]) -> None:
    """Read the user's lines: with prompt_toolkit on a terminal, else from stdin as lines."""
    from netsuite.chat._terminal import TerminalUI, is_terminal

    if is_terminal():
        ui = TerminalUI(reactor, client.send_user_line, client.end_of_input, client.prompt)
        ui.start()
        out["ui"] = ui
        return
    from twisted.internet import stdio

    reader = _Stdin(client)
    out["reader"] = reader
    out["stdio"] = stdio.StandardIO(reader, reactor=reactor)


async def _stop_input(reactor: Any, out: dict[str, Any]) -> None:
    """Stop reading input and let output drain (bounded: stdout may be stuck)."""
    if "ui" in out:
        await out["ui"].stop()
        return
    reader = out.get("reader")
    if reader is None or reader.closed.called:
        return
    out["stdio"].loseConnection()
    timer = reactor.callLater(2, reader.closed.callback, None)
    await reader.closed
    if timer.active():
        timer.cancel()


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Connect, chat until /quit, end of input or failure; return the exit status."""
    from twisted.internet.endpoints import connectProtocol

    try:
        host, port = parse_host_port(args.target)
    except TargetError as e:
        raise UsageFailure(str(e)) from None
    if args.nick is not None and not is_valid_nick(args.nick):
        raise UsageFailure(f"--nick {args.nick!r}: use 1-32 ASCII letters, digits, _ or -")
    tls = ClientTLS.from_args(args)
    target = format_host_port(host, port)
    lines: list[str] = []
    out: dict[str, Any] = {}

    def output(text: str) -> None:
        if "ui" in out:
            out["ui"].output(text)
        elif "stdio" in out:
            out["stdio"].write((text + "\n").encode("utf-8", "replace"))
        else:
            lines.append(text)

    client = ChatClient(reactor, output, args.nick, target=target)
    endpoint = client_endpoint(reactor, host, port, tls=tls or False, timeout=args.timeout)
    try:
        await connectProtocol(endpoint, client)
    except defer.CancelledError:
        raise  # Ctrl-C while connecting
    except Exception as e:
        text = tls_failure_text(e, target) or f"cannot connect to {target}: {e}"
        raise CommandFailed(text) from None
    try:
        await client.ready
        if not client.done.called:
            _start_input(reactor, client, out)
            for text in lines:
                output(text)
            lines.clear()
        await client.done
    except defer.CancelledError:
        client.interrupted()  # Ctrl-C: leave quietly; the exit status says it (130)
        raise
    finally:
        await _stop_input(reactor, out)
        for text in lines:  # the client ended before it could read input
            print(text)
        sys.stdout.flush()
    return 0
