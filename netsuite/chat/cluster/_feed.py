"""One room as a node reads it from its Redis stream: cursor, members list, recent lines.

A node reads the stream of every room it has members in (``XREAD`` from the last id
read).  The members list (``/who``) is a mirror kept from the entries' ``o`` field, so
``/who`` needs no round trip and agrees with the order of the room's lines.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["Feed", "parse_id"]

StreamId = tuple[int, int]


def parse_id(value: bytes) -> StreamId:
    """A stream id ``b"1700000000000-3"`` as ``(1700000000000, 3)``."""
    ms, _, seq = value.partition(b"-")
    return int(ms), int(seq or 0)


class Feed:
    """A room this node has members in: its local ``channel``, the id of the last entry
    read (``cursor``, None until known), the members of the whole room (``who``: lower-case
    nick -> nick, in join order), the last lines read (``recent``) and the local members
    waiting for their own ``JOIN`` entry to be read (``waiting``)."""

    __slots__ = ("channel", "cursor", "key", "last", "number", "recent", "waiting", "who",
                 "written")

    RECENT = 1024

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.key: str = channel.key
        self.cursor: bytes | None = None
        self.last: StreamId = (0, 0)
        self.number = 0  # the room's number of the last entry read (0: none yet)
        self.written = 0  # the room's number of the last line this node wrote
        self.who: dict[str, str] = {}
        self.recent: deque[tuple[StreamId, bytes, bytes]] = deque(maxlen=self.RECENT)
        self.waiting: list[tuple[StreamId, Any]] = []

    def __repr__(self) -> str:
        return f"<Feed {self.key} at {self.cursor!r}>"

    @property
    def behind(self) -> int:
        """How many entries this node has written that it has not read back yet."""
        return self.written - self.number

    @property
    def empty(self) -> bool:
        """No local member is in the room or about to be."""
        return not self.channel.members and not self.waiting

    def seek(self, cursor: bytes, who: list[bytes] | None = None) -> None:
        """Read on from ``cursor``; ``who`` (if given) is the room's members as of then."""
        if self.cursor is None or parse_id(cursor) > self.last:
            self.cursor = cursor
            self.last = parse_id(cursor)
        if who is not None:
            self.who = {n.decode().lower(): n.decode() for n in who}

    def apply(self, op: bytes) -> None:
        """Apply one members-list update: ``+NICK``, ``-NICK`` or ``>OLD NEW`` (idempotent)."""
        kind, text = op[:1], op[1:].decode()
        who = self.who
        if kind == b"+":
            who.setdefault(text.lower(), text)
        elif kind == b"-":
            who.pop(text.lower(), None)
        elif kind == b">":
            old, _, new = text.partition(" ")
            if who.pop(old.lower(), None) is not None:  # else: done already, or gone since
                who[new.lower()] = new

    def since(self, after: StreamId, skip: bytes) -> tuple[list[bytes], bool]:
        """The recent lines after ``after`` not sent by ``skip``, and whether ``recent``
        reached back that far (False: some were missed)."""
        recent = self.recent
        complete = not recent or recent[0][0] <= after or len(recent) < self.RECENT
        return [data for sid, sender, data in recent if sid > after and sender != skip
                and data], complete
