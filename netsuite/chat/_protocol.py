"""The chat wire protocol: bytes from a client become calls on the :class:`Room`.

Client lines (UTF-8, ``\\n``-terminated, ``\\r`` stripped, at most ``max_line`` bytes): a
line not starting with ``/`` is a message to the client's room, ``//text`` sends ``/text``,
and ``/nick /who /msg /me /ping /quit /help /join /rooms`` are commands.  Server lines are
``WELCOME ROOM HIST ROOMS MSG ACTION PRIV JOIN PART NICK WHO PONG INFO ERR BYE`` (the whole
protocol is in ``docs/chat.md``).

Each connection is a streaming producer on its own transport: when the transport's
write buffer fills, Twisted pauses us and further output waits in a per-client backlog;
past ``max_backlog`` bytes the client is dropped as a slow consumer.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IHandshakeListener,
    INegotiated,
    IProtocol,
    IPushProducer,
)
from twisted.internet.protocol import Factory
from zope.interface import implementer

from netsuite._endpoints import describe_address
from netsuite.chat._commands import COMMANDS
from netsuite.chat._flood import KICK, OK, WARN, FloodCounter
from netsuite.chat._room import Room, RoomLimits, Stats

__all__ = ["ChatFactory", "ChatProtocol"]



@implementer(IProtocol, IHalfCloseableProtocol, IPushProducer, IHandshakeListener)
class ChatProtocol:
    """One client connection (kept small: ``__slots__``, no per-connection timers)."""

    __slots__ = (
        "_abort_call", "_buf", "_flood", "_paused", "_queue", "_queued", "_reading", "channel",
        "direct", "factory", "in_room", "key", "last_seen", "mark", "msg_prefix", "nick",
        "ready", "room", "transport", "waiting",
    )

    #: Backlog bytes written per resume: just over Twisted's 64 KiB write buffer.
    CHUNK = 64 * 1024

    def __init__(self, factory: ChatFactory) -> None:
        self.factory = factory
        self.room: Room = factory.room
        self.transport: Any = None
        self.nick = ""
        self.key = ""
        self.msg_prefix = b""
        self.in_room = False
        self.last_seen = 0.0
        self.mark = 0
        self.direct: list[bytes] | None = None
        self._buf = b""
        self._paused = False  # the transport's write buffer is full
        self._queue: list[bytes] | None = None  # backlog held while paused
        self._queued = 0
        self._reading = True
        self.waiting = False  # waiting for the next turn's budget
        self._flood: FloodCounter | None = None
        self.channel: Any = None  # the room it is in (set by the room)
        self._abort_call: Any = None
        self.ready = True  # False while a TLS handshake is not done (see Room.congested)

    # -- IProtocol ----------------------------------------------------------------------

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        # Only TLS transports provide INegotiated (ALPN); they pause us until the
        # handshake is done, and the room must not wait for that.
        self.ready = not INegotiated.providedBy(transport)
        self.connectionMade()

    def handshakeCompleted(self) -> None:
        """IHandshakeListener: the TLS handshake is done; from now on a full socket is
        one the room waits for (briefly) to drain."""
        self.ready = True

    def connectionMade(self) -> None:
        room = self.room
        if room.closing:
            room.stats.dropped("shutdown")
            self._write_and_close(b"BYE shutdown\n", registered=False)
            return
        if room.full:
            room.stats.dropped("max-clients")
            room.stats.error("max-clients")
            limit = room.limits.max_clients
            self._write_and_close(
                f"ERR max-clients the server is full ({limit} clients)\nBYE max-clients\n"
                .encode(), registered=False)
            return
        limits = room.limits
        if limits.flood:
            self._flood = FloodCounter(limits.flood, limits.flood_drop_after)
        self.transport.registerProducer(self, True)
        room.join(self)

    def dataReceived(self, data: bytes) -> None:
        if not self.in_room:
            return
        room = self.room
        room.stats.bytes_in += len(data)
        self.last_seen = room.clock.seconds()
        self._buf = self._buf + data if self._buf else data
        if not self.waiting:
            self._process()

    def connectionLost(self, reason: Any = None) -> None:
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        self._queue = None
        self._buf = b""
        self.room.connection_lost(self)

    def readConnectionLost(self) -> None:
        """The client has finished sending (half-close, e.g. ``printf '/who\\n' | nc``):
        it gets the answers to what it sent, then the connection closes; the others see
        ``PART NICK disconnected``."""
        if self.in_room:
            self.room.kick(self, "disconnected", bye=False)
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        self.transport.loseConnection()

    def logPrefix(self) -> str:
        return "ChatProtocol"

    # -- IPushProducer: the transport tells us when its write buffer is full -----------

    def pauseProducing(self) -> None:
        self._paused = True
        self.room.member_paused(self)

    def resumeProducing(self) -> None:
        self._paused = False
        self.room.member_resumed(self)  # progress, even if the backlog pauses us again
        queue = self._queue
        while queue and not self._paused:
            # Hand the transport a little more than its buffer (64 KiB) at a time: it
            # pauses us at once and resumes us when that has drained, so a member working
            # through a big backlog shows progress every ~64 KiB (Room.congested), not
            # only once its whole backlog is through.
            n = taken = 0
            while n < len(queue) and taken <= self.CHUNK:
                taken += len(queue[n])
                n += 1
            chunk = queue[0] if n == 1 else b"".join(queue[:n])
            del queue[:n]
            self._queued -= taken
            if not queue:
                self._queue = None
            self.transport.write(chunk)  # pauses us again unless it was the last of it
            queue = self._queue  # None if that write dropped or closed us

    def stopProducing(self) -> None:
        self._paused = True

    # -- Member (called by the room) ----------------------------------------------------

    def set_nick(self, nick: str) -> None:
        self.nick = nick
        key = nick.lower()
        self.key = nick if key == nick else key  # one string, not two, for most nicks
        self.msg_prefix = b""  # made by the first message (most connections never say one)

    def _prefix(self) -> bytes:
        """``MSG NICK `` (made once per nick, when first needed)."""
        prefix = self.msg_prefix = b"MSG " + self.nick.encode() + b" "
        return prefix

    def deliver(self, data: bytes) -> None:
        """Write ``data``, or hold it while paused; past ``max_backlog`` drop the client."""
        self.room.stats.bytes_out += len(data)
        queue = self._queue
        if not self._paused and queue is None:
            self.transport.write(data)
            return
        if queue is None:
            queue = self._queue = []
        queue.append(data)
        self._queued += len(data)
        if self._queued > self.room.limits.max_backlog:
            self._queue = None
            self.room.drop_slow(self)

    def close_after(self, data: bytes) -> None:
        """Send the backlog and ``data``, then close (aborting if the client never reads)."""
        queue = self._queue or []
        self._queue = None
        queue.append(data)
        self.room.stats.bytes_out += len(data)
        self._write_and_close(b"".join(queue))

    def abort(self) -> None:
        """Close at once, discarding unsent output."""
        self._queue = None
        if self.transport is not None:
            self.transport.abortConnection()

    def describe(self) -> str:
        try:
            return describe_address(self.transport.getPeer())
        except Exception:
            return "?"

    def resume_input(self) -> bool:
        """A new turn: process buffered lines; True once none are left waiting."""
        self.waiting = False
        self._process()
        return not self.waiting

    # -- input --------------------------------------------------------------------------

    def _write_and_close(self, data: bytes, registered: bool = True) -> None:
        """Write ``data`` and close; abort if the peer has not taken it in time."""
        transport = self.transport
        self._abort_call = self.room.clock.callLater(self.room.limits.shutdown_timeout,
                                                     transport.abortConnection)
        if registered:
            transport.unregisterProducer()
        transport.write(data)
        transport.loseConnection()

    def _process(self) -> None:
        """Handle the complete lines buffered, as far as this turn's budget allows."""
        room = self.room
        buf = self._buf
        max_line = room.limits.max_line
        start = 0
        while self.in_room:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            if room.budget <= 0:
                self._pause_input()  # this line and the rest wait for the next turn
                break
            line = buf[start:end]
            start = end + 1
            if line[-1:] == b"\r":
                line = line[:-1]
            if len(line) > max_line:
                self._too_long()
                return
            self._line(line)
        if not self.in_room:
            self._buf = b""
            return
        rest = buf[start:] if start else buf
        self._buf = rest
        if len(rest) > max_line and not (len(rest) == max_line + 1 and rest[-1:] == b"\r"):
            if rest.find(b"\n") < 0:
                self._too_long()
                return
        if not self.waiting and not self._reading:
            self._reading = True
            self.transport.resumeProducing()

    def _pause_input(self) -> None:
        self.waiting = True
        if self._reading:
            self._reading = False
            self.transport.pauseProducing()
        self.room.wait_for_turn(self)

    def send_error(self, code: str, text: str) -> None:
        """Send ``ERR CODE TEXT`` to this client (and count it)."""
        self.room.stats.error(code)
        self.room.send(self, f"ERR {code} {text}\n".encode())

    def _too_long(self) -> None:
        limit = self.room.limits.max_line
        self._buf = b""
        self.send_error("line-too-long", f"lines are limited to {limit} bytes")
        self.room.kick(self, "line-too-long")

    def _line(self, line: bytes) -> None:
        room = self.room
        stats = room.stats
        stats.messages_in += 1
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                self.send_error("bad-encoding", "line is not valid UTF-8 (dropped)")
                return
        if self._flood is not None and not _unmetered(line) and self._flooding(self._flood):
            return
        if line[:1] != b"/":
            if line:
                room.say(self, (self.msg_prefix or self._prefix()) + line + b"\n")
            return
        if line[:2] == b"//":
            room.say(self, (self.msg_prefix or self._prefix()) + line[1:] + b"\n")
            return
        name, _, arg = line[1:].partition(b" ")
        handler = COMMANDS.get(name.lower())
        if handler is None:
            shown = name.decode("utf-8", "replace")
            self.send_error("unknown-command", f"/{shown} (try /help)")
            return
        handler(self, arg)

    def _flooding(self, counter: FloodCounter) -> bool:
        """Count one line against ``--flood``; True (the line is dropped) if over it."""
        verdict = counter.count(self.room.clock.seconds())
        if verdict is OK:
            return False
        if verdict is KICK:
            self.room.kick(self, "flood")
        elif verdict is WARN:
            self.send_error("flood", f"more than {counter.limit} messages per second; "
                        "lines dropped")
        return True

def _unmetered(line: bytes) -> bool:
    """``/ping [TOKEN]`` or ``/quit [REASON]``: never counted against ``--flood`` (heartbeats
    are what the protocol asks for, and leaving is always honoured)."""
    return line[:5].lower() in (b"/ping", b"/quit") and (len(line) == 5 or line[5:6] == b" ")




class ChatFactory(Factory):
    """Builds :class:`ChatProtocol` connections sharing one :class:`Room`.

    ``clock`` is the reactor (or a ``Clock`` in tests); ``room.stats`` holds the counters.
    """

    noisy = False

    def __init__(self, clock: Any = None, limits: RoomLimits | None = None,
                 stats: Stats | None = None) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.room = Room(clock, limits, stats)

    @property
    def stats(self) -> Stats:
        """The room's counters."""
        return self.room.stats

    def buildProtocol(self, addr: Any) -> ChatProtocol:
        return ChatProtocol(self)
