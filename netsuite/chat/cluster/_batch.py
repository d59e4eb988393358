"""What a cluster node adds to a room's output: its batches of lines and its fan-out.

:class:`Batch` is the lines said to one room in one reactor turn, sent to Redis as one
stream entry; :class:`ClusterFanout` is the room's :class:`~netsuite.chat._fanout.Fanout`
that also paces this node's input and its stream reader (see
:class:`~netsuite.chat.cluster._node.ClusterRoom`, which uses both).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from netsuite.chat._fanout import Fanout
from netsuite.chat._model import Member

__all__ = ["Batch", "ClusterFanout"]


class ClusterFanout(Fanout):
    """The room's fan-out, which also holds input back while this node's reader is more
    than :attr:`BEHIND` lines behind what it wrote (its input would otherwise outrun
    its output, and a long enough burst would be trimmed before it was read), and paces
    the reader as a single server paces its input: :attr:`read_budget` bytes of room
    lines per member per turn (:meth:`next_turn`), none while members are full
    (:meth:`drained`: as soon as one drains, or for a bounded time)."""

    #: A few turns of input (a turn's batch is at most about 64 KiB): enough to keep
    #: Redis and the reader busy while the next batch is read, far below what a stream
    #: keeps.
    BEHIND = 5000

    def __init__(self, room: Any) -> None:
        self.room = room
        self.read_budget = 0
        self._drained: defer.Deferred[None] | None = None
        self._turn: list[defer.Deferred[None]] = []
        super().__init__(room.clock, room.limits, room.stats)

    def turn_budget(self) -> int:
        budget = self.read_budget = super().turn_budget()
        if any(feed.behind > self.BEHIND for feed in self.room.feeds.values()):
            self._recheck = 0.05  # and the reader resumes input when it catches up
            return 0
        return budget

    def next_turn(self) -> defer.Deferred[None]:
        """Fires once this turn's output is delivered (and the budgets renewed)."""
        d: defer.Deferred[None] = defer.Deferred()
        self._turn.append(d)
        self._schedule_now()
        return d

    def flush(self) -> None:
        super().flush()
        turn, self._turn = self._turn, []
        for d in turn:
            d.callback(None)

    def drained(self, timeout: float) -> defer.Deferred[None]:
        """Fires when a full member drains, or after ``timeout`` seconds."""
        d = self._drained = defer.Deferred()
        call = self.clock.callLater(timeout, self._wake)
        d.addBoth(lambda r: (call.cancel() if call.active() else None, r)[1])
        return d

    def _wake(self) -> None:
        d, self._drained = self._drained, None
        if d is not None:
            d.callback(None)

    def member_resumed(self, member: Member) -> None:
        super().member_resumed(member)
        if not self._paused:  # (while others are still full, congested() stays true)
            self._wake()


class Batch:
    """The lines said to one room in one turn, as runs of lines from one sender: one
    stream entry (see :data:`~netsuite.chat.cluster._scripts.SAY`)."""

    __slots__ = ("key", "lines", "runs", "senders")

    #: At most this many runs per entry (a Lua script takes a few thousand arguments).
    PAIRS = 500

    def __init__(self, key: str) -> None:
        self.key = key
        self.senders: list[Any] = []
        self.runs: list[list[bytes]] = []
        self.lines = 0

    def add(self, sender: Any, data: bytes) -> bool:
        """Add one line from ``sender``; False if the entry has all the runs it may have."""
        senders = self.senders
        if senders and senders[-1] is sender:
            self.runs[-1].append(data)
        elif len(senders) < self.PAIRS:
            senders.append(sender)
            self.runs.append([data])
        else:
            return False
        self.lines += 1
        return True

    def args(self, history: int) -> list[Any]:
        """SAY's arguments for this batch (``history``: lines of history kept)."""
        tail = b""
        if 0 < history < self.lines:
            last: list[bytes] = []
            for run in reversed(self.runs):
                last[:0] = run[-(history - len(last)):]
                if len(last) >= history:
                    break
            tail = b"".join(last)
        out: list[Any] = [self.key, self.lines, len(self.senders), tail]
        for sender, run in zip(self.senders, self.runs, strict=True):
            out += [sender.cid, run[0] if len(run) == 1 else b"".join(run)]
        return out
