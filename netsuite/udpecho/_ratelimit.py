"""Per-source rate limiting with memory bounded however many sources appear.

A fixed one-second window: each source address may be answered ``rate`` times per window.
The table of per-source counters is cleared when a new window starts and never holds more
than ``max_sources`` entries.  Sources that arrive once the table is full share a single
overflow budget of ``rate`` answers per window, so a flood from any number of (spoofed)
addresses costs at most ``max_sources`` dictionary entries and is answered at most
``(max_sources + 1) * rate`` times a second, while the first ``max_sources`` sources seen in
a window keep their own budget.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MAX_SOURCES", "RateLimiter"]

#: Default cap on the number of sources tracked in one window.
DEFAULT_MAX_SOURCES = 10_000


class RateLimiter:
    """Allow at most ``rate`` events per second per key, tracking at most ``max_sources`` keys.

    :param rate: events allowed per key per one-second window (``0`` disables limiting).
    :param clock: anything with ``seconds()`` (the reactor, or a ``task.Clock`` in tests).
    :param max_sources: the most keys held at once; further keys share one overflow budget.
    """

    __slots__ = ("_counts", "_overflow", "_window_end", "clock", "max_sources", "rate")

    def __init__(self, rate: int, clock: Any, max_sources: int = DEFAULT_MAX_SOURCES) -> None:
        if rate < 0:
            raise ValueError("rate must be 0 (off) or more")
        if max_sources < 1:
            raise ValueError("max_sources must be at least 1")
        self.rate = rate
        self.clock = clock
        self.max_sources = max_sources
        self._counts: dict[Any, int] = {}
        self._overflow = 0
        self._window_end = 0.0

    def __len__(self) -> int:
        """The number of sources tracked in the current window (never above ``max_sources``)."""
        return len(self._counts)

    def allow(self, key: Any) -> bool:
        """Count one event from ``key``; True when it is within that key's budget."""
        rate = self.rate
        if not rate:
            return True
        now = self.clock.seconds()
        end = self._window_end
        if now >= end or now < end - 1.0:  # a new window (or the wall clock went back)
            self._counts.clear()
            self._overflow = 0
            self._window_end = now + 1.0
        counts = self._counts
        count = counts.get(key)
        if count is None:
            if len(counts) >= self.max_sources:
                self._overflow += 1
                return self._overflow <= rate
            counts[key] = 1
            return True
        if count >= rate:
            return False
        counts[key] = count + 1
        return True
