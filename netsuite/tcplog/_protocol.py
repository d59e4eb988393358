"""The TCP line log (docs/tcplog.md): log every line clients send; never answer.

Framing is chat's: lines end in ``\\n``, a ``\\r`` just before it is stripped, and a line may
hold ``max_line`` bytes (4096 by default) not counting its end.  Log lines, one per event:

* ``connect ADDR`` when a client connects;
* ``ADDR: TEXT`` for each line (see :func:`render_line` for how bytes become TEXT);
* ``ADDR: line too long (more than N bytes), closing`` (an error) before resetting a
  connection whose line is too long;
* ``disconnect ADDR`` when it goes, whatever the reason.

ADDR is ``HOST:PORT`` (``[HOST]:PORT`` for IPv6).  A partial line left when the client
disconnects is logged like any other line: the client did send it.
"""

from __future__ import annotations

import re

import attrs
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from netsuite._endpoints import describe_address

__all__ = ["DEFAULT_MAX_LINE", "LineLogFactory", "LineLogProtocol", "Stats", "render_line"]

#: Longest line, in bytes, not counting the line end (chat's ``--max-line``).
DEFAULT_MAX_LINE = 4096

log = Logger()

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _escape_control(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def render_line(line: bytes) -> tuple[str, bool]:
    """The text to log for one received line, and whether it was valid UTF-8.

    Valid UTF-8 is logged as is; bytes that are not valid UTF-8 are escaped as ``\\xNN``
    (Python's ``backslashreplace``).  Control characters other than tab (ESC, a stray
    ``\\r``, NUL, DEL, ...) are escaped the same way, so no client can rewrite an operator's
    terminal or forge log lines.
    """
    try:
        text = line.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        text = line.decode("utf-8", "backslashreplace")
        valid = False
    return _CONTROL.sub(_escape_control, text), valid


@attrs.define
class Stats:
    """Counters of the line log (also exported as metrics).

    ``connections`` accepted in all; ``connected`` open now; ``lines`` logged; ``bytes``
    received; ``bad_encoding`` lines that were not valid UTF-8; ``too_long`` connections
    closed for an over-long line.
    """

    connections: int = 0
    connected: int = 0
    lines: int = 0
    bytes: int = 0
    bad_encoding: int = 0
    too_long: int = 0


class LineLogProtocol(LineOnlyReceiver):
    """One client connection: split lines, hand each to the log, never write."""

    delimiter = b"\n"
    factory: LineLogFactory
    _closing = False

    def connectionMade(self) -> None:
        self.max_line = self.factory.max_line
        # LineOnlyReceiver counts the "\r" of a "\r\n" line end as part of the line.
        self.MAX_LENGTH = self.max_line + 1
        self.address = describe_address(self.transport.getPeer())
        self.factory.stats.connections += 1
        self.factory.stats.connected += 1
        log.info("connect {address}", address=self.address)

    def dataReceived(self, data: bytes) -> None:
        self.factory.stats.bytes += len(data)
        if self._closing:
            return
        super().dataReceived(data)
        rest = self._buffer
        # Like chat: max_line + 1 pending bytes are too long already unless the last is the
        # "\r" of a "\r\n" still to come (LineOnlyReceiver would wait for one more byte).
        if (not self._closing and len(rest) > self.max_line
                and not (len(rest) == self.max_line + 1 and rest.endswith(b"\r"))):
            self.lineLengthExceeded(rest)

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            self.lineLengthExceeded(line)
            return
        self._log_line(line)

    def _log_line(self, line: bytes) -> None:
        text, valid = render_line(line)
        stats = self.factory.stats
        stats.lines += 1
        if not valid:
            stats.bad_encoding += 1
        log.info("{address}: {text}", address=self.address, text=text)

    def lineLengthExceeded(self, line: bytes) -> None:
        """Log the error and reset the connection: the rest cannot be framed any more.

        A reset (not an orderly close) so the sender knows the data was refused, even if it
        had sent everything and closed its own side before this.
        """
        self.factory.stats.too_long += 1
        self._closing = True
        self._buffer = b""
        log.error("{address}: line too long (more than {max_line} bytes), closing",
                  address=self.address, max_line=self.max_line)
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        rest = self._buffer
        self._buffer = b""
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        if rest and not self._closing and len(rest) <= self.max_line:
            self._log_line(rest)
        self.factory.stats.connected -= 1
        log.info("disconnect {address}", address=self.address)


class LineLogFactory(Factory):
    """Builds :class:`LineLogProtocol`; holds the ``stats`` and the ``max_line`` limit."""

    protocol = LineLogProtocol
    noisy = False

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, stats: Stats | None = None) -> None:
        self.max_line = max_line
        self.stats = stats if stats is not None else Stats()
