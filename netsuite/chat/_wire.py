"""Chat wire format: pure functions shared by the server and the terminal client.

Lines are UTF-8 text ending in ``\\n`` (a preceding ``\\r`` is stripped).  Server events are
``VERB`` followed by fields separated by one space; the last field may contain spaces
(see ``docs/chat.md`` and PROTOCOLS.md section 1).  Nothing here touches sockets.
"""

from __future__ import annotations

import re

__all__ = [
    "ERROR_CODES",
    "NICK_MAX",
    "PART_REASONS",
    "Event",
    "is_valid_nick",
    "parse_command",
    "parse_event",
    "split_lines",
]

NICK_MAX = 32
_NICK = re.compile(rb"[A-Za-z0-9_-]{1,32}")

#: Error codes of ``ERR CODE TEXT`` lines.
ERROR_CODES = frozenset({
    "line-too-long", "bad-encoding", "bad-nick", "nick-in-use", "no-such-nick",
    "unknown-command", "flood", "max-clients",
})
#: Reasons of ``PART NICK REASON`` lines.
PART_REASONS = frozenset({
    "quit", "disconnected", "idle-timeout", "slow-consumer", "flood", "line-too-long", "shutdown",
})


def is_valid_nick(name: bytes) -> bool:
    """True if ``name`` is 1-32 ASCII letters, digits, ``_`` or ``-``."""
    return _NICK.fullmatch(name) is not None


def parse_command(line: bytes) -> tuple[str, bytes]:
    """Split a command line ``/NAME ARGS`` into (lower-case name, argument bytes).

    ``line`` starts with ``/``; the name ends at the first space, the argument is the rest
    after that one space (it may be empty).
    """
    name, _, rest = line[1:].partition(b" ")
    return name.decode("ascii", "replace").lower(), rest


def split_lines(buffer: bytes, max_line: int) -> tuple[list[bytes], bytes, bool]:
    """Split ``buffer`` into complete lines (line ends removed) and the unterminated rest.

    Returns ``(lines, rest, too_long)``; ``too_long`` is true when a complete line, or the
    unterminated rest, is longer than ``max_line`` bytes (not counting ``\\r\\n``).  Lines
    after a too-long one are not returned: the stream is no longer trusted.
    """
    parts = buffer.split(b"\n")
    rest = parts.pop()
    lines: list[bytes] = []
    for line in parts:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > max_line:
            return lines, b"", True
        lines.append(line)
    if len(rest) > max_line + 1 or (len(rest) == max_line + 1 and not rest.endswith(b"\r")):
        return lines, b"", True
    return lines, rest, False


class Event:
    """One server line parsed: ``verb`` and its ``fields`` (the last may contain spaces)."""

    __slots__ = ("fields", "verb")

    #: How many fields each verb has (its last field takes the rest of the line).
    ARITY = {
        "WELCOME": 1, "MSG": 2, "ACTION": 2, "PRIV": 2, "JOIN": 1, "PART": 2, "NICK": 2,
        "WHO": 1, "PONG": 1, "INFO": 1, "ERR": 2, "BYE": 1,
    }

    def __init__(self, verb: str, fields: list[str]) -> None:
        self.verb = verb
        self.fields = fields

    def __repr__(self) -> str:
        return f"Event({self.verb!r}, {self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and (self.verb, self.fields) == (other.verb, other.fields)

    def __hash__(self) -> int:
        return hash((self.verb, tuple(self.fields)))


def parse_event(line: str) -> Event:
    """Parse one server line (without its line end).

    Unknown verbs keep their whole remainder as one field, so a newer server's events can
    still be shown.  Missing fields come back as empty strings.
    """
    verb, _, rest = line.partition(" ")
    arity = Event.ARITY.get(verb, 1)
    if arity == 1:
        return Event(verb, [rest])
    first, _, last = rest.partition(" ")
    return Event(verb, [first, last])
