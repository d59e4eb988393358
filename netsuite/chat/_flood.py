"""The ``--flood`` rule for one client: lines per calendar second, and how long it floods.

Past ``limit`` lines in a second the line is dropped; the first drop of each second is
answered (``ERR flood``), the others are not, so a flood cannot amplify.  A client that is
over the limit in every second for ``drop_after`` seconds is dropped; one second within
the limit starts that count again.
"""

from __future__ import annotations

__all__ = ["DROP", "KICK", "OK", "WARN", "FloodCounter"]

#: The line is within the limit.
OK = "ok"
#: Over the limit: drop the line silently.
DROP = "drop"
#: Over the limit, the first drop this second: drop the line and say ``ERR flood``.
WARN = "warn"
#: Flooding for ``drop_after`` seconds: drop the client.
KICK = "kick"


class FloodCounter:
    """Counts one client's lines against ``limit`` per second (``limit`` at least 1)."""

    __slots__ = ("_count", "_last", "_start", "_window", "drop_after", "limit")

    def __init__(self, limit: int, drop_after: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 (no counter at all means no limit)")
        self.limit = limit
        self.drop_after = drop_after
        self._window = 0  # the calendar second being counted
        self._count = 0  # lines in it
        self._start = 0.0  # when the current stretch of flooding began
        self._last = -2  # the last second that was over the limit

    def count(self, now: float) -> str:
        """Count one line at time ``now``; :data:`OK`, :data:`DROP`, :data:`WARN` or
        :data:`KICK`."""
        window = int(now)
        if window != self._window:
            self._window = window
            self._count = 0
        self._count += 1
        if self._count <= self.limit:
            return OK
        if self._last < window - 1:
            self._start = now  # a new stretch of flooding
        self._last = window
        if now - self._start >= self.drop_after:
            return KICK
        if self._count == self.limit + 1:  # one ERR per second, not one per line
            return WARN
        return DROP
