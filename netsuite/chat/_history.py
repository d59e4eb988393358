"""A room's history: its last ``MSG`` and ``ACTION`` lines, bounded in lines and in bytes.

Each line is kept already encoded as the ``HIST TIME LINE`` line it is replayed as (TIME is
UTC with milliseconds, ``2026-12-03T12:00:00.123Z``), so a replay is one ``join``.
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["History", "hist_time"]

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


class History:
    """At most ``lines`` lines and ``max_bytes`` bytes (of ``HIST`` lines), oldest first.

    A line that alone is over ``max_bytes`` is not kept (nor is anything before it).
    """

    __slots__ = ("_lines", "bytes", "max_bytes", "max_lines")

    def __init__(self, lines: int, max_bytes: int) -> None:
        self.max_lines = lines
        self.max_bytes = max_bytes
        self._lines: deque[bytes] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, when: float, line: bytes) -> None:
        """Keep ``line`` (one encoded line with its ``\\n``), delivered at ``when``."""
        entry = b"HIST " + hist_time(when).encode() + b" " + line
        kept = self._lines
        kept.append(entry)
        self.bytes += len(entry)
        while len(kept) > self.max_lines or self.bytes > self.max_bytes:
            self.bytes -= len(kept.popleft())

    def replay(self) -> bytes:
        """Every kept line as ``HIST`` lines, oldest first."""
        return b"".join(self._lines)
