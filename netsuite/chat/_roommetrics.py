"""Per-room metrics of a chat server, with a bounded number of label values.

Room names are chosen by users and up to ``--max-rooms`` (1000) of them exist at once, so
one time series per room would let anyone with a client make a Prometheus server store
thousands of series (and keep them after the rooms are gone).  So:

* ``netsuite_chat_rooms`` (gauge): rooms that exist now (with members or history);
* ``netsuite_chat_room_clients{room="NAME"}`` (gauge): clients in the default room and in
  the :data:`TOP_ROOMS` fullest other rooms; every other room's clients are summed under
  ``room="(other)"``, a label value no room can have.  At most ``TOP_ROOMS + 2`` series.
"""

from __future__ import annotations

import heapq
from typing import Any

from netsuite._metrics import Family, StatsCollector

__all__ = ["OTHER", "TOP_ROOMS", "room_collectors", "room_counts"]

#: Rooms besides the default room given a series of their own (the fullest ones).
TOP_ROOMS = 20
#: The label value of the rest (not a valid room name: it has parentheses).
OTHER = "(other)"


def room_counts(room: Any, top: int = TOP_ROOMS) -> dict[str, int]:
    """Clients per room: the default room, the ``top`` fullest others, and :data:`OTHER`."""
    default = room.lobby
    counts = {default.name: len(default.members)}
    others = [c for c in room.rooms.values() if c is not default and c.members]
    fullest = heapq.nlargest(top, others, key=lambda c: len(c.members))
    for channel in fullest:
        counts[channel.name] = len(channel.members)
    rest = sum(len(c.members) for c in others) - sum(len(c.members) for c in fullest)
    if rest or len(others) > len(fullest):
        counts[OTHER] = rest
    return counts


def room_collectors(service: Any) -> list[StatsCollector]:
    """The per-room metrics of a ``twistd chat`` service (read at scrape time)."""
    return [StatsCollector([
        Family("netsuite_chat_rooms", "gauge",
               "Chat rooms that exist now (with members or history)",
               lambda: len(service.room.rooms)),
        Family("netsuite_chat_room_clients", "gauge",
               "Chat clients per room: the default room, the 20 fullest others, and the "
               "rest summed as room=\"(other)\"",
               lambda: room_counts(service.room), ("room",)),
    ])]
