"""The chat room: members, nicknames, fan-out, limits.  No sockets here.

A member is anything with the :class:`Member` attributes (the wire protocol in
``_protocol.py`` is one).  The room queues output and hands each member everything it is
owed once per reactor turn, in one ``member.deliver(bytes)`` call:

* Room messages are encoded once and appended to a per-turn *segment log*: consecutive
  broadcasts from the same sender share one segment.  At the end of the turn each segment
  is joined once, and every member gets the join of the segments it did not send, so a
  turn costs O(members x senders), not O(members x messages).
* Lines for one member (``PONG``, ``WHO``, ``PRIV``, errors) go to that member's direct
  list; before one is queued the member first takes the segments logged so far, so every
  member sees events in the order the room produced them.
* Input is paced: a turn carries at most :meth:`Room.turn_budget` bytes of broadcast
  output per member; a sender that would exceed it waits (its transport stops reading)
  until the next turn.  TCP flow control then pushes back on the senders, so a burst
  costs bounded memory instead of being buffered (see ``docs/chat.md``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from netsuite.chat._model import Member, RoomLimits, Stats
from netsuite.chat._wire import is_valid_nick

__all__ = ["Member", "Room", "RoomLimits", "Stats"]

log = Logger()

_MiB = 1024 * 1024


class Room:
    """Members by nickname, fan-out batched per reactor turn, idle sweep and shutdown.

    ``clock`` provides ``seconds()`` and ``callLater()`` (the reactor, or a ``Clock`` in
    tests).  Members are registered with :meth:`join` and removed with :meth:`leave`.
    """

    #: Rooms with at least this many members may delay JOIN/PART notices ...
    NOTICE_ROOM = 100
    #: ... by this many seconds.
    NOTICE_DELAY = 0.02

    def __init__(self, clock: Any, limits: RoomLimits | None = None,
                 stats: Stats | None = None) -> None:
        self.clock = clock
        self.limits = limits or RoomLimits()
        self.stats = stats or Stats()
        self.members: dict[str, Member] = {}  # key (lower-case nick) -> member, join order
        self.closing = False
        self.budget = 0
        self._guest = 0
        self._seg_from: list[Member | None] = []
        self._seg_data: list[list[bytes]] = []
        self._open = False  # the last segment may still grow
        self._dirty: list[Member] = []  # members with direct output this turn
        self._waiting: deque[Member] = deque()  # senders paused until the next turn
        self._paused: dict[Member, float] = {}  # members whose socket is full -> since when
        self._holding = False  # the last turn_budget() held input back (congested)
        self._hold_left = self.limits.congestion_hold  # room-wide hold allowance (seconds)
        self._hold_stamp = clock.seconds()
        self._recheck = 0.0  # while holding: seconds until congested() changes its mind
        self._flush_call: Any = None
        self._flush_soon = False  # _flush_call runs this turn (not a delayed notice flush)
        self._sweep_call: Any = None
        self._closed: defer.Deferred[None] | None = None
        self._lingering: set[Member] = set()  # kicked, connection not closed yet
        self._new_turn()

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
        member.mark = len(self._seg_data)
        self._open = False  # later lines are for the new member too: a new segment
        self.members[nick] = member
        self.stats.clients += 1
        self.stats.connections += 1
        self.stats.messages_out += 1
        member.deliver(b"WELCOME " + nick.encode() + b"\n")  # nothing is owed to it before
        self.broadcast(member, b"JOIN " + nick.encode() + b"\n", urgent=False)
        log.info("chat connect {address} as {nick}", address=member.describe(), nick=nick)
        if self._sweep_call is None and self.limits.idle_timeout > 0:
            self._schedule_sweep()
        return nick

    def leave(self, member: Member, reason: str, detail: str = "") -> None:
        """Remove ``member``; the others get ``PART NICK REASON[ DETAIL]``.  Idempotent."""
        if not member.in_room:
            return
        member.in_room = False
        del self.members[member.key]
        self._paused.pop(member, None)
        self.stats.clients -= 1
        self.stats.dropped(reason)
        log.info("chat drop {nick} ({address}): {reason}", nick=member.nick,
                 address=member.describe(), reason=reason)
        if not self.closing:
            text = reason + (" " + detail if detail else "")
            self.broadcast(None, f"PART {member.nick} {text}\n".encode(), urgent=False)

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
        pending = self._take(member)
        if bye:
            pending.append(b"BYE " + reason.encode() + b"\n")
            self.stats.messages_out += 1
        self.leave(member, reason, detail)
        self._lingering.add(member)
        member.close_after(b"".join(pending))

    def drop_slow(self, member: Member) -> None:
        """Close ``member`` at once, nothing more sent (its backlog passed the limit)."""
        if member.in_room:
            self._take(member)
            self.leave(member, "slow-consumer")
        member.abort()

    def rename(self, member: Member, new: str) -> str | None:
        """Change ``member``'s nick to ``new``; return an error code or None on success.

        Everyone, the member included, gets ``NICK OLD NEW``.
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
        del self.members[member.key]
        member.set_nick(new)
        self.members[key] = member
        log.info("chat nick {old} -> {new} ({address})", old=old, new=new,
                 address=member.describe())
        self.broadcast(None, f"NICK {old} {new}\n".encode())
        return None

    def find(self, nick: str) -> Member | None:
        """The member called ``nick`` (ignoring case), if any."""
        return self.members.get(nick.lower())

    def who(self) -> list[str]:
        """Everyone's nick, in the order they joined or last changed nick."""
        return [m.nick for m in self.members.values()]

    # -- output -------------------------------------------------------------------------

    def broadcast(self, sender: Member | None, data: bytes, urgent: bool = True) -> None:
        """Queue ``data`` (whole encoded lines) for every member except ``sender``.

        A notice that is not ``urgent`` (``JOIN``, ``PART``) may wait up to
        :attr:`NOTICE_DELAY` in a big room, so that a storm of connects costs one write
        per member per delay rather than per connect; any other output flushes it too.
        """
        if self._open and self._seg_from[-1] is sender:
            self._seg_data[-1].append(data)
        else:
            self._seg_from.append(sender)
            self._seg_data.append([data])
            self._open = True
        n = len(self.members) - (sender is not None and sender.in_room)
        self.stats.messages_out += n
        self.budget -= len(data)
        if self._flush_soon:
            return
        if urgent or n < self.NOTICE_ROOM:
            self._schedule_now()
        elif self._flush_call is None:
            self._flush_call = self.clock.callLater(self.NOTICE_DELAY, self.flush)

    def _schedule_now(self) -> None:
        if self._flush_soon:
            return
        self._flush_soon = True
        call = self._flush_call
        if call is None:
            self._flush_call = self.clock.callLater(0, self.flush)
        else:
            call.reset(0)

    def send(self, member: Member, data: bytes) -> None:
        """Queue ``data`` (whole encoded lines) for ``member`` alone, in room order."""
        if not member.in_room:
            return
        direct = member.direct
        if direct is None:
            direct = member.direct = []
            self._dirty.append(member)
        if member.mark < len(self._seg_data):
            self._catch_up(member, direct)
        direct.append(data)
        self.stats.messages_out += data.count(b"\n")
        self.budget -= len(data)
        self._schedule_now()

    def _catch_up(self, member: Member, into: list[bytes]) -> None:
        """Move the segments logged since ``member.mark`` into ``into`` (order is kept)."""
        seg_from, seg_data = self._seg_from, self._seg_data
        for i in range(member.mark, len(seg_data)):
            if seg_from[i] is not member:
                into.extend(seg_data[i])
        member.mark = len(seg_data)
        self._open = False  # what this member took must not grow behind its back

    def _take(self, member: Member) -> list[bytes]:
        """Everything queued for ``member`` so far, removed from the queues."""
        pending = member.direct or []
        member.direct = None
        self._catch_up(member, pending)
        return pending

    def wait_for_turn(self, member: Member) -> None:
        """``member`` stopped reading for lack of budget: resume it in a coming turn."""
        self._waiting.append(member)
        self._schedule_now()

    def member_paused(self, member: Member) -> None:
        """``member``'s socket is full (its transport paused it).

        A member whose TLS handshake is not done (``ready`` false) is never waited for:
        Twisted's TLS transport pauses its producer until the handshake completes.
        """
        if member.in_room and member.ready and member not in self._paused:
            self._paused[member] = self.clock.seconds()  # insertion order = time order

    def member_resumed(self, member: Member) -> None:
        """``member``'s socket drained (progress): let waiting senders go on."""
        if self._paused.pop(member, None) is not None and self._waiting:
            self._schedule_now()

    def congested(self) -> bool:
        """True while input should wait for full members to drain (the turn budget is 0).

        The room waits for a full member only while it is draining: it was paused less
        than ``congestion_grace`` seconds ago (each time its transport resumes it, it
        starts afresh).  A member that makes no progress for longer is no longer waited
        for: its output queues against ``max_backlog``, where it is dropped as a slow
        consumer.  And the room as a whole holds input back at most ``congestion_hold``
        seconds at a stretch: that allowance is spent while holding and comes back
        ``congestion_regain`` times as fast while not, so whatever the members do, input
        is read at least a quarter of the time (with the defaults).
        """
        now = self.clock.seconds()
        elapsed = now - self._hold_stamp
        self._hold_stamp = now
        limit = self.limits.congestion_hold
        if self._holding:  # spent while holding, at most until the look that was due ...
            allowance = max(0.0, self._hold_left - min(elapsed, self._recheck))
        else:  # ... regained while not
            allowance = min(limit, self._hold_left + elapsed * self.limits.congestion_regain)
        self._hold_left = allowance
        holding = False
        if self._paused and allowance > 0:
            newest = next(reversed(self._paused.values()))
            left = newest + self.limits.congestion_grace - now
            if left > 0:
                holding = True
                self._recheck = min(left, allowance)
        self._holding = holding
        return holding

    def turn_budget(self) -> int:
        """Bytes of output per member allowed in one turn (0 while :meth:`congested`).

        At most 64 KiB, half of what Twisted sends per socket per turn, so that members
        that read keep up; at most 16 MiB over all members, so a turn's memory is bounded.
        """
        if self.congested():
            return 0
        per_member = 16 * _MiB // max(1, len(self.members))
        return max(4096, min(self.limits.max_backlog // 4, 64 * 1024, per_member))

    def _new_turn(self) -> None:
        self.budget = self.turn_budget()

    def flush(self) -> None:
        """Deliver this turn's output, then let waiting senders continue (next turn)."""
        self._flush_call = None
        self._flush_soon = False
        self._deliver_all()
        self._new_turn()
        waiting = self._waiting
        for _ in range(len(waiting)):
            if self.budget <= 0:
                break
            member = waiting.popleft()
            if member.in_room:
                member.resume_input()  # waits again (wait_for_turn) if the budget runs out
        if waiting and self._flush_call is None:
            if self.budget > 0:
                self._schedule_now()
            else:  # congested: look again when a member drains (member_resumed) or when
                # the newest full member stops counting or the hold allowance runs out
                self._flush_call = self.clock.callLater(self._recheck + 0.001, self.flush)

    def _deliver_all(self) -> None:
        seg_from, seg_data = self._seg_from, self._seg_data
        dirty = self._dirty
        self._seg_from, self._seg_data, self._dirty = [], [], []
        self._open = False
        if seg_data:
            blobs = [b"".join(chunks) for chunks in seg_data]
            count = len(blobs)
            everything = blobs[0] if count == 1 else b"".join(blobs)
            senders = set(seg_from)
            for member in list(self.members.values()):
                mark, member.mark = member.mark, 0
                direct = member.direct
                if direct is None:
                    if mark == 0 and member not in senders:
                        member.deliver(everything)  # the common case: one shared blob
                        continue
                else:
                    member.direct = None
                parts = direct or []
                for i in range(mark, count):
                    if seg_from[i] is not member:
                        parts.append(blobs[i])
                if parts:
                    member.deliver(parts[0] if len(parts) == 1 else b"".join(parts))
        else:
            for member in dirty:
                direct = member.direct
                member.direct = None
                member.mark = 0
                if direct and member.in_room:
                    member.deliver(direct[0] if len(direct) == 1 else b"".join(direct))

    # -- idle sweep and shutdown ------------------------------------------------------

    def _schedule_sweep(self) -> None:
        interval = min(1.0, self.limits.idle_timeout / 4)
        self._sweep_call = self.clock.callLater(interval, self._sweep)

    def _sweep(self) -> None:
        """Drop members silent for ``idle_timeout`` seconds (one timer for the whole room)."""
        self._sweep_call = None
        deadline = self.clock.seconds() - self.limits.idle_timeout
        idle = [m for m in self.members.values() if m.last_seen <= deadline and not m.waiting]
        for member in idle:
            self.kick(member, "idle-timeout")
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
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
            self._flush_call = None
            self._flush_soon = False
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
