"""The chat's membership: members, nicknames, rooms, idle sweep and shutdown.  No sockets.

A member is anything with the :class:`Member` attributes (the wire protocol in
``_protocol.py`` is one).  Output goes through the :class:`~netsuite.chat._fanout.Fanout`
(encode once, one write per member per reactor turn).

Every member is in exactly one room (:class:`Channel`), the default room on connect.  A
room exists while it has members or history; the default room always exists, and at most
``max_rooms`` exist at once.  Nicks are unique across all rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from netsuite.chat._fanout import Fanout, Segments
from netsuite.chat._heap import HeapTrimmer
from netsuite.chat._history import History
from netsuite.chat._model import Member, RoomLimits, Stats
from netsuite.chat._wire import is_valid_nick

__all__ = ["Channel", "Member", "Room", "RoomLimits", "Stats"]

log = Logger()


class Channel:
    """One named room: its members (lower-case nick -> member, in join order) and the
    output it has queued this turn."""

    __slots__ = ("history", "key", "log", "members", "name", "said")

    def __init__(self, name: str, history: History | None = None) -> None:
        self.name = name  # as first written
        self.key = name.lower()
        self.members: dict[str, Member] = {}
        self.log = Segments()
        self.history = history
        #: MSG/ACTION lines of this turn, not in ``history`` yet (None without history)
        self.said: list[bytes] | None = [] if history is not None else None

    def keep_said(self, when: float) -> None:
        """Move this turn's lines into the history, with the time ``when``."""
        said = self.said
        if said:
            self.history.extend(when, said)  # type: ignore[union-attr]
            self.said = []

    def __repr__(self) -> str:
        return f"<Channel {self.name} ({len(self.members)} members)>"


class Room:
    """The chat of one server: members by nickname, their rooms, idle sweep and shutdown.

    ``clock`` provides ``seconds()`` and ``callLater()`` (the reactor, or a ``Clock`` in
    tests).  Members are registered with :meth:`join` and removed with :meth:`leave`.
    """

    NOTICE_ROOM = Fanout.NOTICE_ROOM
    NOTICE_DELAY = Fanout.NOTICE_DELAY

    def __init__(self, clock: IReactorTime, limits: RoomLimits | None = None,
                 stats: Stats | None = None) -> None:
        self.clock = clock
        self.limits = limits or RoomLimits()
        self.stats = stats or Stats()
        self.fanout = Fanout(clock, self.limits, self.stats)
        self.fanout.after_turn = self._keep_said
        self._said: list[Channel] = []  # rooms with lines for their history this turn
        self.members: dict[str, Member] = {}  # key (lower-case nick) -> member, join order
        self.rooms: dict[str, Channel] = {}  # key (lower-case name) -> room, oldest first
        self.lobby = self._channel(self.limits.default_room)
        self.closing = False
        self._guest = 0
        self._sweep_call: Any = None
        self._closed: defer.Deferred[None] | None = None
        self._lingering: set[Member] = set()  # kicked, connection not closed yet
        self.heap = HeapTrimmer()  # memory freed after a burst goes back to the system

    # -- what the protocol reads and calls on the output side -------------------------

    @property
    def budget(self) -> int:
        """Bytes of output this turn may still carry per member (see :class:`Fanout`)."""
        return self.fanout.budget

    def broadcast(self, sender: Member | None, data: bytes, urgent: bool = True) -> None:
        """Queue ``data`` for the others in ``sender``'s room (the default room if ``None``)."""
        channel = sender.channel if sender is not None else self.lobby
        self.fanout.broadcast(channel, sender, data, urgent)

    def say(self, sender: Member, data: bytes) -> None:
        """``sender``'s ``MSG`` or ``ACTION`` line ``data``: to the others in its room, and
        into that room's history (at the end of the turn, in one go: see ``_keep_said``)."""
        channel = sender.channel
        self.fanout.broadcast(channel, sender, data)
        said = channel.said
        if said is not None:
            if not said:
                self._said.append(channel)
            said.append(data)

    def _keep_said(self) -> None:
        """After each turn's output: that turn's lines go into their rooms' history, with
        the time they were passed on."""
        if self._said:
            now = self.clock.seconds()
            for channel in self._said:
                channel.keep_said(now)
            self._said = []

    def send(self, member: Member, data: bytes) -> None:
        """Queue ``data`` (whole encoded lines) for ``member`` alone, in room order."""
        self.fanout.send(member, data)

    def wait_for_turn(self, member: Member) -> None:
        self.fanout.wait_for_turn(member)

    def member_paused(self, member: Member) -> None:
        self.fanout.member_paused(member)

    def member_resumed(self, member: Member) -> None:
        self.fanout.member_resumed(member)

    def flush(self) -> None:
        self.fanout.flush()

    # -- membership -------------------------------------------------------------------

    @property
    def full(self) -> bool:
        """True when another member would pass ``max_clients``."""
        return len(self.members) >= self.limits.max_clients

    def join(self, member: Member) -> str:
        """Add ``member`` under a fresh guest nick; it gets ``WELCOME``, the others ``JOIN``."""
        while True:
            self._guest += 1
            nick = f"guest{self._guest}"
            if nick not in self.members:
                break
        member.set_nick(nick)
        member.in_room = True
        member.last_seen = self.clock.seconds()
        channel = self.lobby
        self.fanout.enter(member, channel)
        self.members[nick] = member
        channel.members[nick] = member
        self.fanout.population += 1
        self.stats.clients += 1
        self.stats.connections += 1
        welcome = b"".join([b"WELCOME " + nick.encode() + b"\n", *self._entering(channel)])
        self.stats.messages_out += welcome.count(b"\n")
        member.deliver(welcome)  # nothing is owed to it before
        self.fanout.broadcast(channel, member, b"JOIN " + nick.encode() + b"\n", urgent=False)
        log.info("chat connect {address} as {nick}", address=member.describe(), nick=nick)
        if self._sweep_call is None and self.limits.idle_timeout > 0:
            self._schedule_sweep()
        return nick

    def leave(self, member: Member, reason: str, detail: str = "") -> None:
        """Remove ``member``; its room gets ``PART NICK REASON[ DETAIL]``.  Idempotent."""
        if not member.in_room:
            return
        channel = member.channel
        self._unregister(member, reason)
        del channel.members[member.key]
        if not self.closing:
            text = reason + (" " + detail if detail else "")
            self.fanout.broadcast(channel, None, f"PART {member.nick} {text}\n".encode(),
                                  urgent=False)
        self._forget_if_empty(channel)

    def _unregister(self, member: Member, reason: str) -> None:
        """Take ``member`` out of the chat's books (not out of its room), counting why."""
        member.in_room = False
        del self.members[member.key]
        self.fanout.population -= 1
        self.fanout.forget(member)
        self.stats.clients -= 1
        self.stats.dropped(reason)
        log.info("chat drop {nick} ({address}): {reason}", nick=member.nick,
                 address=member.describe(), reason=reason)

    def connection_lost(self, member: Member) -> None:
        """``member``'s connection is gone: it leaves (``disconnected``) if still here."""
        self.leave(member, "disconnected")
        self._lingering.discard(member)
        if self._closed is not None and not self._lingering and not self.members:
            closed, self._closed = self._closed, None
            closed.callback(None)

    def kick(self, member: Member, reason: str, detail: str = "", bye: bool = True) -> None:
        """Send ``member`` everything it is owed plus ``BYE REASON``, close it, announce it.

        The others get ``PART NICK REASON`` (plus ``detail``, the text of a ``/quit``).
        ``bye=False`` sends no ``BYE`` (the client has stopped sending: end of its input).
        """
        if not member.in_room:
            return
        pending = self.fanout.take(member)
        if bye:
            pending.append(b"BYE " + reason.encode() + b"\n")
            self.stats.messages_out += 1
        self.leave(member, reason, detail)
        self._lingering.add(member)
        member.close_after(b"".join(pending))

    def drop_slow(self, member: Member) -> None:
        """Close ``member`` at once, nothing more sent (its backlog passed the limit)."""
        if member.in_room:
            self.fanout.take(member)
            self.leave(member, "slow-consumer")
        member.abort()

    def rename(self, member: Member, new: str) -> str | None:
        """Change ``member``'s nick to ``new``; return an error code or None on success.

        Its room, the member included, gets ``NICK OLD NEW``.
        """
        if not is_valid_nick(new):
            return "bad-nick"
        key = new.lower()
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            return "nick-in-use"
        old = member.nick
        if old == new:
            return None
        channel = member.channel
        del self.members[member.key]
        del channel.members[member.key]
        member.set_nick(new)
        self.members[key] = member
        channel.members[key] = member
        log.info("chat nick {old} -> {new} ({address})", old=old, new=new,
                 address=member.describe())
        self.fanout.broadcast(channel, None, f"NICK {old} {new}\n".encode())
        return None

    def move(self, member: Member, name: str) -> str | None:
        """``/join NAME``: move ``member`` to room ``name`` (a leading ``#`` is not part of
        it); return an error code (``bad-room``, ``max-rooms``) or None on success.

        The old room gets ``PART NICK moved``, the new one ``JOIN NICK``; the member gets
        ``ROOM NAME`` and the new room's history (only ``ROOM NAME`` if it is already there).
        """
        if name.startswith("#"):
            name = name[1:]
        if not is_valid_nick(name):
            return "bad-room"
        old = member.channel
        key = name.lower()
        if key == old.key:
            self.fanout.send(member, b"ROOM " + old.name.encode() + b"\n")
            return None
        new = self.rooms.get(key)
        if new is None:
            if len(self.rooms) >= self.limits.max_rooms:
                return "max-rooms"
            new = self._channel(name)
        fanout = self.fanout
        fanout.keep(member)  # what the old room owes it so far, before the PART
        del old.members[member.key]
        fanout.broadcast(old, None, f"PART {member.nick} moved\n".encode(), urgent=False)
        self._forget_if_empty(old)
        fanout.enter(member, new)
        new.members[member.key] = member
        fanout.broadcast(new, member, f"JOIN {member.nick}\n".encode(), urgent=False)
        fanout.send(member, b"".join(self._entering(new)))
        log.info("chat move {nick} {old} -> {new}", nick=member.nick, old=old.name, new=new.name)
        return None

    def room_counts(self) -> list[tuple[str, int]]:
        """``(name, members)`` of every room with members, by name ignoring case."""
        return [(c.name, len(c.members)) for _, c in sorted(self.rooms.items()) if c.members]

    def send_rooms(self, member: Member) -> None:
        """``/rooms``: ``ROOMS NAME:COUNT ...`` to ``member``."""
        counts = " ".join(f"{name}:{n}" for name, n in self.room_counts())
        self.send(member, f"ROOMS {counts}\n".encode())

    def private(self, sender: Member, nick: str, data: bytes) -> None:
        """``/msg``: ``data`` (a ``PRIV`` line) to the member called ``nick`` (any room),
        or ``ERR no-such-nick`` to ``sender``."""
        target = self.find(nick)
        if target is None:
            self.stats.error("no-such-nick")
            self.send(sender, f"ERR no-such-nick {nick} is not connected\n".encode())
            return
        self.send(target, data)

    def _channel(self, name: str) -> Channel:
        """A new room called ``name``."""
        limits = self.limits
        history = History(limits.history, limits.history_bytes) if limits.history else None
        channel = self.rooms[name.lower()] = Channel(name, history)
        return channel

    def _entering(self, channel: Channel) -> list[bytes]:
        """The lines for a member entering ``channel``: ``ROOM NAME`` and its history."""
        lines = [b"ROOM " + channel.name.encode() + b"\n"]
        channel.keep_said(self.clock.seconds())  # what was said before it came, this turn
        if channel.history:
            lines.append(channel.history.replay())
        return lines

    def _forget_if_empty(self, channel: Channel) -> None:
        """A room with no members and no history ceases to exist (never the default)."""
        if (not channel.members and not channel.history and not channel.said
                and channel is not self.lobby):
            del self.rooms[channel.key]

    def find(self, nick: str) -> Member | None:
        """The member called ``nick`` (ignoring case), if any."""
        return self.members.get(nick.lower())

    def who(self, member: Member | None = None) -> list[str]:
        """The nicks in ``member``'s room (everyone's without one), in the order they
        entered or last changed nick."""
        members = self.members if member is None else member.channel.members
        return [m.nick for m in members.values()]

    # -- idle sweep and shutdown ------------------------------------------------------

    def _schedule_sweep(self) -> None:
        interval = min(1.0, self.limits.idle_timeout / 4)
        self._sweep_call = self.clock.callLater(interval, self._sweep)

    def _sweep(self) -> None:
        """Drop members silent for ``idle_timeout`` seconds (one timer for the whole chat);
        after a burst of output, give the memory it freed back (:class:`HeapTrimmer`)."""
        self._sweep_call = None
        deadline = self.clock.seconds() - self.limits.idle_timeout
        idle = [m for m in self.members.values() if m.last_seen <= deadline and not m.waiting]
        for member in idle:
            self.kick(member, "idle-timeout")
        self.heap.check(self.stats.bytes_out)
        if self.members and not self.closing:
            self._schedule_sweep()

    def shutdown(self) -> defer.Deferred[None]:
        """``BYE shutdown`` to everyone; fires when all have closed (or after the timeout)."""
        self.closing = True
        if self._sweep_call is not None:
            self._sweep_call.cancel()
            self._sweep_call = None
        done: defer.Deferred[None] = defer.Deferred()
        if not self.members:
            done.callback(None)
            return done
        self._closed = done
        leaving = list(self.members.values())
        for member in leaving:
            self.kick(member, "shutdown")
        self.fanout.stop()
        if done.called:
            return done
        timer = self.clock.callLater(self.limits.shutdown_timeout, self._abort_all, leaving)
        done.addBoth(_cancel_then(timer))
        return done

    def _abort_all(self, leaving: list[Member]) -> None:
        for member in leaving:
            member.abort()
        self._lingering.clear()
        if self._closed is not None:
            closed, self._closed = self._closed, None
            closed.callback(None)


def _cancel_then(timer: Any) -> Callable[[Any], Any]:
    def cancel(result: Any) -> Any:
        if timer.active():
            timer.cancel()
        return result

    return cancel
