"""``twistd chat --cluster``: the chat listener in front of a :class:`ClusterRoom` node."""

from __future__ import annotations

import os
import uuid
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer

from netsuite._endpoints import ListenerService
from netsuite.chat._model import RoomLimits, Stats
from netsuite.chat.cluster._link import RedisTarget
from netsuite.chat.cluster._node import ClusterRoom
from netsuite.chat.cluster._protocol import ClusterChatFactory
from netsuite.chat.cluster._sync import Sync

__all__ = ["ClusterChatService", "key_prefix"]


def key_prefix(name: str) -> str:
    """The prefix of every Redis key of the chat called ``name`` (``--cluster-name``)."""
    return f"chat:{name}:"


class ClusterChatService(MultiService):
    """The chat listener plus one node of the chat shared through Redis at ``target``.

    Same attributes as :class:`~netsuite.chat._tap.ChatService` (``factory``, ``room``,
    ``stats``, ``listener``), plus ``sync`` (the link to Redis).  Stopping says
    ``BYE shutdown`` to every client, publishes their departures, releases the node's
    lease and closes the link.
    """

    def __init__(self, description: str | None, limits: RoomLimits, target: RedisTarget,
                 name: str = "netsuite", node_timeout: float = 15.0,
                 reactor: Any = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        node = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.room = ClusterRoom(reactor, limits, Stats(), key_prefix(name), node)
        self.sync = Sync(reactor, self.room, target, node_timeout)
        self.factory = ClusterChatFactory(self.room)
        self.listener: ListenerService | None = None
        if description is not None:
            self.listener = ListenerService(description, self.factory, "chat", reactor)
            self.listener.setServiceParent(self)

    @property
    def stats(self) -> Stats:
        return self.room.stats

    def startService(self) -> None:
        self.sync.start()
        super().startService()

    def stopService(self) -> defer.Deferred[None]:
        closed = self.room.shutdown()
        stopped = defer.maybeDeferred(MultiService.stopService, self)

        async def then() -> None:
            await defer.gatherResults([closed, stopped])
            await self.sync.stop()

        return defer.ensureDeferred(then())
