"""One chat across processes and machines: chat nodes sharing rooms, nicks and history
through Redis (``twistd chat --cluster redis://HOST:PORT``; see ``docs/cluster.md``).

Nothing here is imported by a chat without ``--cluster``, which needs no Redis.
"""

from netsuite.chat.cluster._link import RedisTarget, cluster_url
from netsuite.chat.cluster._service import ClusterChatService, key_prefix

__all__ = ["ClusterChatService", "RedisTarget", "cluster_url", "key_prefix"]
