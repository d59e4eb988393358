"""Give the C heap's free memory back to the operating system after bursts of output.

A burst (a connect storm: every member gets every ``JOIN``; a flood of messages) makes
many short-lived buffers of a few KiB.  Python frees them, but the C allocator keeps the
pages, often for good: one long-lived allocation made during the burst above them is
enough to stop the heap from shrinking.  After 5,000 connects that is 1 to 4 MiB that
the server holds and never uses again (``glibc``'s own ``M_TRIM_THRESHOLD`` only trims
the top of the heap).  :class:`HeapTrimmer` calls ``malloc_trim(0)``, which releases
free pages from anywhere in the heap, once enough output has gone by; where the C
library has no ``malloc_trim`` (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["HeapTrimmer", "malloc_trim"]


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


#: ``malloc_trim`` of the C library, or None where there is none.
malloc_trim = _find_malloc_trim()


class HeapTrimmer:
    """Trims the C heap when at least ``every`` bytes of output passed since the last trim.

    Call :meth:`check` now and then (the chat calls it from its idle sweep, about once a
    second) with the bytes written so far.  A trim walks the heap (about 1 ms for tens
    of MiB) and releases free pages (about 0.1 ms per MiB released); a released page
    that is needed again costs a page fault.  A server writing more than ``every`` (1 MiB)
    per second trims once per call, about 0.1 % of its time; one that only answers
    heartbeats does not trim at all.
    """

    __slots__ = ("_at", "every", "trims")

    def __init__(self, every: int = 1024 * 1024) -> None:
        self.every = every
        self.trims = 0
        self._at = 0

    def check(self, written: int) -> bool:
        """Trim if ``written`` (a running total of output bytes) moved on by ``every``."""
        if written - self._at < self.every or malloc_trim is None:
            return False
        self._at = written
        malloc_trim(0)
        self.trims += 1
        return True
