"""A room's history: its last ``MSG`` and ``ACTION`` lines, bounded in lines and in bytes.

A line is kept as it was delivered, with its time; it becomes the ``HIST TIME LINE`` line it
is replayed as (TIME is UTC with milliseconds, ``2026-12-03T12:00:00.123Z``) only when
someone enters the room, so keeping history costs a message almost nothing.
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["HIST_OVERHEAD", "History", "hist_time"]

_stamp_second = -1
_stamp_prefix = ""


def hist_time(seconds: float) -> str:
    """``seconds`` since the epoch as UTC with milliseconds: ``2026-12-03T12:00:00.123Z``."""
    global _stamp_second, _stamp_prefix
    whole = int(seconds)
    if whole != _stamp_second:  # one strftime per second, however many lines
        _stamp_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _stamp_second = whole
    millis = int((seconds - whole) * 1000)
    return f"{_stamp_prefix}.{millis:03d}Z"


#: What ``HIST TIME `` adds to a line: 5 + 24 + 1 bytes (TIME is 24 bytes until year 10000).
HIST_OVERHEAD = len("HIST 2026-12-03T12:00:00.123Z ")


class History:
    """At most ``lines`` lines and ``max_bytes`` bytes (counted as ``HIST`` lines), oldest
    first.  A line that alone is over ``max_bytes`` is not kept (nor is anything before it).
    """

    __slots__ = ("_lines", "bytes", "max_bytes", "max_lines")

    def __init__(self, lines: int, max_bytes: int) -> None:
        self.max_lines = lines
        self.max_bytes = max_bytes
        self._lines: deque[tuple[float, bytes]] = deque()
        self.bytes = 0  # of the HIST lines the kept lines make

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, when: float, line: bytes) -> None:
        """Keep ``line`` (one encoded line with its ``\\n``), delivered at ``when``."""
        self.extend(when, [line])

    def extend(self, when: float, lines: list[bytes]) -> None:
        """Keep ``lines`` (encoded lines with their ``\\n``, oldest first), delivered at
        ``when``: a whole reactor turn's lines at once, so a burst costs at most
        ``max_lines`` appends however long it is."""
        kept = self._lines
        added = 0
        for line in lines[-self.max_lines:]:
            kept.append((when, line))
            added += len(line)
        self.bytes += added + HIST_OVERHEAD * min(len(lines), self.max_lines)
        while len(kept) > self.max_lines or self.bytes > self.max_bytes:
            self.bytes -= len(kept.popleft()[1]) + HIST_OVERHEAD

    def replay(self) -> bytes:
        """Every kept line as a ``HIST`` line, oldest first."""
        return b"".join(b"HIST %s %s" % (hist_time(when).encode(), line)
                        for when, line in self._lines)
