"""Chat output: encode once, one write per member per reactor turn, paced input.  No sockets.

The :class:`Fanout` queues output and hands each member everything it is owed once per
reactor turn, in one ``member.deliver(bytes)`` call:

* Room messages are encoded once and appended to their room's per-turn *segment log*
  (:class:`Segments`): consecutive broadcasts from the same sender share one segment.  At
  the end of the turn each segment is joined once, and every member of the room gets the
  join of the segments it did not send, so a turn costs O(members x senders), not
  O(members x messages).
* Lines for one member (``PONG``, ``WHO``, ``PRIV``, errors, history) go to that member's
  direct list; before one is queued the member first takes the segments logged so far, so
  every member sees events in the order the room produced them.
* Input is paced: a turn carries at most :meth:`Fanout.turn_budget` bytes of output per
  member; a sender that would exceed it waits (its transport stops reading) until the next
  turn.  TCP flow control then pushes back on the senders, so a burst costs bounded memory
  instead of being buffered.  While a member's socket is full and draining, the budget is 0
  for a bounded time (:meth:`Fanout.congested`; see ``docs/chat.md``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime

from netsuite.chat._model import Member, RoomLimits, Stats

__all__ = ["Fanout", "Segments"]

_MiB = 1024 * 1024


class Segments:
    """One room's output of the current turn: segments of encoded lines and their senders."""

    __slots__ = ("chunks", "open", "senders")

    def __init__(self) -> None:
        self.senders: list[Member | None] = []
        self.chunks: list[list[bytes]] = []
        self.open = False  # the last segment may still grow


class Fanout:
    """The per-turn output of every room of one chat server, and the pacing of its input.

    ``clock`` provides ``seconds()`` and ``callLater()`` (the reactor, or a ``Clock`` in
    tests).  Each room is any object with ``members`` (a dict of :class:`Member`) and
    ``log`` (its :class:`Segments`); each member's ``channel`` is its room.  ``population``
    is the number of members in all rooms (kept by the owner).
    """

    #: Rooms with at least this many members may delay JOIN/PART notices ...
    NOTICE_ROOM = 100
    #: ... by this many seconds.
    NOTICE_DELAY = 0.02

    def __init__(self, clock: IReactorTime, limits: RoomLimits, stats: Stats) -> None:
        self.clock = clock
        self.limits = limits
        self.stats = stats
        self.population = 0
        self.budget = 0
        self._active: list[Any] = []  # rooms with segments this turn
        self._dirty: list[Member] = []  # members with direct output this turn
        self._waiting: deque[Member] = deque()  # senders paused until the next turn
        self._paused: dict[Member, float] = {}  # members whose socket is full -> since when
        self._holding = False  # the last turn_budget() held input back (congested)
        self._hold_left = limits.congestion_hold  # room-wide hold allowance (seconds)
        self._hold_stamp = clock.seconds()
        self._recheck = 0.0  # while holding: seconds until congested() changes its mind
        self._flush_call: Any = None
        self._flush_soon = False  # _flush_call runs this turn (not a delayed notice flush)
        #: called after each turn's output is delivered (the owner keeps its history then)
        self.after_turn: Callable[[], None] | None = None
        self._new_turn()

    # -- entering and leaving a room ---------------------------------------------------

    def enter(self, member: Member, channel: Any) -> None:
        """``member`` is now in ``channel``: it is owed that room's output from now on."""
        member.channel = channel
        log = channel.log
        member.mark = len(log.chunks)
        log.open = False  # later lines are for the new member too: a new segment

    def take(self, member: Member) -> list[bytes]:
        """Everything queued for ``member`` so far, removed from the queues."""
        pending = member.direct or []
        member.direct = None
        self._catch_up(member, pending)
        return pending

    def keep(self, member: Member) -> None:
        """Move what ``member`` is owed by its room so far into its direct list (before it
        moves to another room, so that it still gets it, in order)."""
        direct = member.direct
        if direct is None:
            direct = member.direct = []
            self._dirty.append(member)
        self._catch_up(member, direct)

    def forget(self, member: Member) -> None:
        """``member`` has left: stop waiting for it."""
        self._paused.pop(member, None)

    # -- output -------------------------------------------------------------------------

    def broadcast(self, channel: Any, sender: Member | None, data: bytes,
                  urgent: bool = True, lines: int = 1) -> None:
        """Queue ``data`` (``lines`` whole encoded lines) for every member of ``channel`` but
        ``sender``.

        A notice that is not ``urgent`` (``JOIN``, ``PART``) may wait up to
        :attr:`NOTICE_DELAY` in a big room, so that a storm of connects costs one write
        per member per delay rather than per connect; any other output flushes it too.
        """
        log = channel.log
        if log.open and log.senders[-1] is sender:
            log.chunks[-1].append(data)
        else:
            if not log.chunks:
                self._active.append(channel)
            log.senders.append(sender)
            log.chunks.append([data])
            log.open = True
        n = len(channel.members) - (sender is not None and sender.in_room)
        self.stats.messages_out += n * lines
        self.budget -= len(data)
        if self._flush_soon:
            return
        if urgent or n < self.NOTICE_ROOM:
            self._schedule_now()
        elif self._flush_call is None:
            self._flush_call = self.clock.callLater(self.NOTICE_DELAY, self.flush)

    def send(self, member: Member, data: bytes) -> None:
        """Queue ``data`` (whole encoded lines) for ``member`` alone, in room order."""
        if not member.in_room:
            return
        direct = member.direct
        if direct is None:
            direct = member.direct = []
            self._dirty.append(member)
        if member.mark < len(member.channel.log.chunks):
            self._catch_up(member, direct)
        direct.append(data)
        self.stats.messages_out += data.count(b"\n")
        self.budget -= len(data)
        self._schedule_now()

    def _schedule_now(self) -> None:
        if self._flush_soon:
            return
        self._flush_soon = True
        call = self._flush_call
        if call is None:
            self._flush_call = self.clock.callLater(0, self.flush)
        else:
            call.reset(0)

    def _catch_up(self, member: Member, into: list[bytes]) -> None:
        """Move the segments logged since ``member.mark`` into ``into`` (order is kept)."""
        log = member.channel.log
        senders, chunks = log.senders, log.chunks
        for i in range(member.mark, len(chunks)):
            if senders[i] is not member:
                into.extend(chunks[i])
        member.mark = len(chunks)
        log.open = False  # what this member took must not grow behind its back

    # -- pacing -------------------------------------------------------------------------

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
        consumer.  And the server as a whole holds input back at most ``congestion_hold``
        seconds at a stretch: that allowance is spent while holding and comes back
        ``congestion_regain`` times as fast while not, so whatever the members do, input
        is read at least ``1 / (1 + congestion_regain)`` of the time.
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
        per_member = 16 * _MiB // max(1, self.population)
        return max(4096, min(self.limits.max_backlog // 4, 64 * 1024, per_member))

    def _new_turn(self) -> None:
        self.budget = self.turn_budget()

    def flush(self) -> None:
        """Deliver this turn's output, then let waiting senders continue (next turn)."""
        self._flush_call = None
        self._flush_soon = False
        self._deliver_all()
        if self.after_turn is not None:
            self.after_turn()
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
        active, dirty = self._active, self._dirty
        self._active, self._dirty = [], []
        for channel in active:
            log = channel.log
            seg_from, seg_data = log.senders, log.chunks
            log.senders, log.chunks, log.open = [], [], False
            blobs = [b"".join(chunks) for chunks in seg_data]
            count = len(blobs)
            everything = blobs[0] if count == 1 else b"".join(blobs)
            senders = set(seg_from)
            for member in list(channel.members.values()):
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
        for member in dirty:
            direct = member.direct
            if direct is None:
                continue  # delivered with its room above
            member.direct = None
            member.mark = 0
            if direct and member.in_room:
                member.deliver(direct[0] if len(direct) == 1 else b"".join(direct))

    def stop(self) -> None:
        """Cancel the pending flush (the server is shutting down)."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        self._flush_soon = False
