"""What the chat room is made of: its counters, its limits, and what it needs from a member."""

from __future__ import annotations

from typing import Any, Protocol

import attrs

__all__ = ["Member", "RoomLimits", "Stats"]

_MiB = 1024 * 1024


@attrs.define
class Stats:
    """Plain counters of one chat server (read by the metrics exporter).

    ``clients`` is a gauge (members connected now); the rest only grow.  ``messages_in``
    counts lines received (messages and commands), ``messages_out`` events queued for
    delivery (a room message to 49 others counts 49), ``bytes_in``/``bytes_out`` bytes
    read from and written to clients.  ``drops`` counts departures by reason: ``quit``,
    ``disconnected``, ``idle-timeout``, ``slow-consumer``, ``flood``, ``line-too-long``,
    ``shutdown``, and ``max-clients`` for connections turned away (a ``/join`` to another
    room is not a departure).  ``errors`` counts ``ERR`` lines sent, by code.
    """

    clients: int = 0
    connections: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    drops: dict[str, int] = attrs.field(factory=dict)
    errors: dict[str, int] = attrs.field(factory=dict)

    def error(self, code: str) -> None:
        """Count one ``ERR`` line with ``code``."""
        self.errors[code] = self.errors.get(code, 0) + 1

    def dropped(self, reason: str) -> None:
        """Count one departure for ``reason``."""
        self.drops[reason] = self.drops.get(reason, 0) + 1


@attrs.frozen
class RoomLimits:
    """The configurable limits (``docs/chat.md``); each has a ``twistd chat`` option."""

    max_line: int = 4096
    idle_timeout: float = 60.0  # 0 = never
    max_backlog: int = _MiB
    flood: int = 0  # messages per second per client, 0 = off
    flood_drop_after: float = 10.0
    max_clients: int = 10000
    shutdown_timeout: float = 5.0
    #: MSG/ACTION lines kept per room and replayed to a client entering it (0 = none) ...
    history: int = 50
    #: ... and at most this many bytes of them (as HIST lines) per room.
    history_bytes: int = 64 * 1024
    #: The room every client is in on connect (always exists).
    default_room: str = "lobby"
    #: The most rooms that exist at once (a room exists while it has members or history).
    max_rooms: int = 1000
    #: A full member (its socket paused) is waited for only this long after its last
    #: progress (pause or resume); then its output just queues against ``max_backlog``.
    congestion_grace: float = 0.15
    #: The room holds input back for full members at most this long at a stretch ...
    congestion_hold: float = 0.3
    #: ... and regains that allowance at this many seconds per second while it does not
    #: hold: 3 = at most three quarters of the time (see ``Room.congested``).
    congestion_regain: float = 3.0


class Member(Protocol):
    """What the room needs from a member (``ChatProtocol`` implements it)."""

    nick: str
    key: str
    last_seen: float
    waiting: bool
    ready: bool  # False while a TLS handshake is not done
    mark: int
    direct: list[bytes] | None
    in_room: bool
    channel: Any  # the room it is in (set by the server)

    def set_nick(self, nick: str) -> None: ...
    def deliver(self, data: bytes) -> None: ...
    def close_after(self, data: bytes) -> None: ...
    def abort(self) -> None: ...
    def describe(self) -> str: ...
    def resume_input(self) -> bool: ...
