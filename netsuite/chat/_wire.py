"""Chat wire format: pure functions shared by the server and the terminal client.

Lines are UTF-8 text ending in ``\\n`` (a preceding ``\\r`` is stripped).  Server events are
``VERB`` followed by fields separated by one space; the last field may contain spaces
(see ``docs/chat.md``).  Nothing here touches sockets.
"""

from __future__ import annotations

import re

__all__ = [
    "ERROR_CODES",
    "NICK_MAX",
    "PART_REASONS",
    "Event",
    "is_valid_nick",
    "parse_event",
]

NICK_MAX = 32
_NICK = re.compile(r"[A-Za-z0-9_-]{1,32}")

#: Error codes of ``ERR CODE TEXT`` lines.
ERROR_CODES = frozenset({
    "line-too-long", "bad-encoding", "bad-nick", "nick-in-use", "no-such-nick",
    "unknown-command", "flood", "max-clients", "bad-room", "max-rooms", "unavailable",
})
#: Reasons of ``PART NICK REASON`` lines.
PART_REASONS = frozenset({
    "quit", "disconnected", "idle-timeout", "slow-consumer", "flood", "line-too-long", "moved",
    "shutdown",
})


def is_valid_nick(name: str) -> bool:
    """True if ``name`` is 1-32 ASCII letters, digits, ``_`` or ``-``."""
    return _NICK.fullmatch(name) is not None


class Event:
    """One server line parsed: ``verb`` and its ``fields`` (the last may contain spaces)."""

    __slots__ = ("fields", "verb")

    #: How many fields each verb has (its last field takes the rest of the line).
    ARITY = {
        "WELCOME": 1, "MSG": 2, "ACTION": 2, "PRIV": 2, "JOIN": 1, "PART": 2, "NICK": 2,
        "WHO": 1, "PONG": 1, "INFO": 1, "ERR": 2, "BYE": 1, "ROOM": 1, "HIST": 2, "ROOMS": 1,
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
