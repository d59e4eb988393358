"""The chat wire protocol on a cluster node: the same protocol, entering through Redis.

A client's first lines may arrive before Redis has given it a guest nick: they are held
and handled, in order, right after its ``WELCOME``.  Likewise, while a ``/nick`` or
``/join`` waits for Redis, the client's next lines wait for it (each command sees the
state the one before it left).
"""

from __future__ import annotations

from typing import Any

from netsuite.chat._protocol import ChatFactory, ChatProtocol

__all__ = ["ClusterChatFactory", "ClusterChatProtocol"]


class ClusterChatProtocol(ChatProtocol):
    """One client connection of a node."""

    __slots__ = ("asserted", "cid", "entering", "eof", "feed", "held")

    #: Past this many held lines, stop reading the client until they are handled.
    HOLD = 100

    def __init__(self, factory: ChatFactory) -> None:
        super().__init__(factory)
        self.cid = ""
        self.asserted = False  # its nick and room are in Redis
        self.entering = True  # waiting for WELCOME
        self.feed: Any = None
        self.eof = False  # the client finished sending before its WELCOME
        self.held: list[bytes] | None = None  # lines waiting for a command's answer

    def dataReceived(self, data: bytes) -> None:
        if self.entering:
            self.room.stats.bytes_in += len(data)
            self._buf += data
            if len(self._buf) > 4 * self.room.limits.max_line + 4:
                self.transport.abortConnection()  # no sane client sends this much unasked
            return
        super().dataReceived(data)

    def entered(self) -> None:
        """WELCOME was sent: handle the lines that came before it."""
        self.entering = False
        if self._buf and not self.waiting:
            self.last_seen = self.room.clock.seconds()
            self._process()
        if self.eof and self.in_room:
            self.room.kick(self, "disconnected", bye=False)

    def readConnectionLost(self) -> None:
        if self.entering:
            self.eof = True
            return
        super().readConnectionLost()

    def hold(self) -> None:
        """Keep the next lines until :meth:`release` (a command waits for Redis)."""
        if self.held is None:
            self.held = []

    def release(self) -> None:
        """Handle the lines held (until one of them holds again)."""
        held, self.held = self.held, None
        if held and len(held) >= self.HOLD and self.in_room:
            self.transport.resumeProducing()
        while held and self.held is None and self.in_room:
            self._line(held.pop(0))
        if held and self.held is not None:
            self.held[:0] = held

    def _line(self, line: bytes) -> None:
        if self.held is not None:
            self.held.append(line)
            if len(self.held) == self.HOLD:
                self.transport.pauseProducing()
            return
        super()._line(line)


class ClusterChatFactory(ChatFactory):
    """Builds :class:`ClusterChatProtocol` connections sharing one cluster ``room``."""

    def __init__(self, room: Any) -> None:
        self.room = room

    def buildProtocol(self, addr: Any) -> ClusterChatProtocol:
        return ClusterChatProtocol(self)
