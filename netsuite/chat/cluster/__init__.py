"""One chat across processes and machines: chat nodes sharing rooms, nicks and history
through Redis (``twistd chat --cluster redis://HOST:PORT``; see ``docs/cluster.md``).

Nothing here needs Redis, or is used, by a chat without ``--cluster``.
"""

from typing import Any

from netsuite.chat.cluster._link import RedisTarget, cluster_url

__all__ = ["ClusterChatService", "RedisTarget", "cluster_url"]


def __getattr__(name: str) -> Any:
    if name == "ClusterChatService":  # (imported late: it builds on the chat plugin's service)
        from netsuite.chat.cluster._service import ClusterChatService

        return ClusterChatService
    raise AttributeError(name)
