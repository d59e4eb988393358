"""Lines from standard input for the ``netsuite send`` and ``netsuite udp`` clients.

A daemon thread does the blocking reads, so a terminal, a pipe and a regular file all
work alike and the terminal's file flags are never changed; each line is handed to the
reactor thread.  At most ``buffered`` lines wait to be taken, so a fast producer (a
large file) never fills memory while the network is slower.

Standard input itself is read with ``os.read`` on its file descriptor, not through
``sys.stdin.buffer``: a thread blocked inside a ``BufferedReader`` holds that object's lock,
and a client that exits before its input ends (the server closed, say) would then be
aborted by the interpreter at shutdown (``Fatal Python error: _enter_buffered_busy``)
instead of exiting with its own status.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, Any

from twisted.internet import defer

__all__ = ["MAX_READ", "FdLines", "StdinLines", "split_line_end"]

#: The most bytes returned for one line; a longer line comes in pieces of this size.
MAX_READ = 1 << 20


class FdLines:
    """``readline(limit)`` over a file descriptor with ``os.read`` (no buffered-IO lock).

    :param fd: the descriptor to read (standard input by default); it is not closed.
    """

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd
        self._buffer = b""
        self._eof = False

    def readline(self, limit: int) -> bytes:
        """The next line with its ``\\n``, at most ``limit`` bytes; ``b""`` at the end."""
        if self._fd is None:
            if sys.stdin is None:
                return b""
            self._fd = sys.stdin.fileno()  # OSError/ValueError without a usable stdin
        while not self._eof and len(self._buffer) < limit and b"\n" not in self._buffer:
            chunk = os.read(self._fd, 65536)
            if not chunk:
                self._eof = True
            self._buffer += chunk
        end = self._buffer.find(b"\n", 0, limit)
        end = min(limit, len(self._buffer)) if end < 0 else end + 1
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line


class StdinLines:
    """``await lines.get()`` returns the next line (with its line end) or None at the end.

    :param reactor: the reactor to hand lines to.
    :param stream: anything with ``readline(limit)`` returning bytes; standard input (read
        with :class:`FdLines`) by default.
    """

    def __init__(self, reactor: Any, stream: IO[bytes] | FdLines | None = None,
                 buffered: int = 16) -> None:
        self._reactor = reactor
        self._stream = stream if stream is not None else FdLines()
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
