"""``twistd chat --cluster``: the chat listener in front of a :class:`ClusterRoom` node."""

from __future__ import annotations

import os
import uuid
from typing import Any

from twisted.internet import defer

from netsuite.chat._model import RoomLimits, Stats
from netsuite.chat._tap import ChatService
from netsuite.chat.cluster._link import RedisTarget
from netsuite.chat.cluster._node import ClusterRoom
from netsuite.chat.cluster._protocol import ClusterChatFactory
from netsuite.chat.cluster._sync import Sync

__all__ = ["ClusterChatService", "key_prefix"]


def key_prefix(name: str) -> str:
    """The prefix of every Redis key of the chat called ``name`` (``--cluster-name``)."""
    return f"chat:{name}:"


class ClusterChatService(ChatService):
    """The chat listeners (``--port``, ``--web``) in front of one node of the chat shared
    through Redis at ``target``.

    Same attributes as :class:`~netsuite.chat._tap.ChatService`, plus ``sync`` (the link to
    Redis).  Stopping says ``BYE shutdown`` to every client, publishes their departures,
    releases the node's lease and closes the link.
    """

    def __init__(self, description: str | None, limits: RoomLimits, target: RedisTarget,
                 name: str = "netsuite", node_timeout: float = 15.0, reactor: Any = None,
                 web: str | None = None, web_origins: Any = ()) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        node = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        room = ClusterRoom(reactor, limits, Stats(), key_prefix(name), node)
        self.sync = Sync(reactor, room, target, node_timeout)
        super().__init__(description, limits, reactor, web=web, web_origins=web_origins,
                         factory=ClusterChatFactory(room))

    def startService(self) -> None:
        self.sync.start()
        super().startService()

    def stopService(self) -> defer.Deferred[None]:
        async def then() -> None:
            await ChatService.stopService(self)
            await self.sync.stop()

        return defer.ensureDeferred(then())
