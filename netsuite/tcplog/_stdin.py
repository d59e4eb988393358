"""Lines from standard input for the ``netsuite send`` and ``netsuite udp`` clients.

A daemon thread does the blocking reads, so a terminal, a pipe and a regular file all
work alike and the terminal's file flags are never changed; each line is handed to the
reactor thread.  At most ``buffered`` lines wait to be taken, so a fast producer (a
large file) never fills memory while the network is slower.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any

from twisted.internet import defer

__all__ = ["MAX_READ", "StdinLines", "split_line_end"]

#: The most bytes returned for one line; a longer line comes in pieces of this size.
MAX_READ = 1 << 20


class StdinLines:
    """``await lines.get()`` returns the next line (with its line end) or None at the end.

    :param reactor: the reactor to hand lines to.
    :param stream: a binary stream; ``sys.stdin.buffer`` by default.
    """

    def __init__(self, reactor: Any, stream: IO[bytes] | None = None, buffered: int = 16) -> None:
        self._reactor = reactor
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._queue: defer.DeferredQueue[bytes | None] = defer.DeferredQueue()
        self._slots = threading.Semaphore(buffered)
        self._done = False
        self._thread = threading.Thread(target=self._read, name="stdin-lines", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            self._slots.acquire()
            try:
                line = self._stream.readline(MAX_READ)
            except (OSError, ValueError):
                line = b""
            self._reactor.callFromThread(self._queue.put, line or None)
            if not line:
                return

    async def get(self) -> bytes | None:
        """The next line, or None once input has ended (and ever after)."""
        if self._done:
            return None
        line = await self._queue.get()
        if line is None:
            self._done = True
        else:
            self._slots.release()
        return line


def split_line_end(line: bytes) -> tuple[bytes, bool]:
    """``(text, ended)``: ``line`` without its ``\\n`` or ``\\r\\n`` end, and whether it had one.

    A line read without an end is either the last one of the input or, when it is
    :data:`MAX_READ` bytes long, a piece of a longer line whose rest follows.
    """
    if line.endswith(b"\n"):
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line, True
    return line, False
