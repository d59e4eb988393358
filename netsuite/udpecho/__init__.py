"""UDP echo server (RFC 862) that cannot be used for amplification, and its client.

Public names: :class:`EchoProtocol`, :class:`Stats`, :class:`RateLimiter`,
:data:`BLOCKED_SOURCE_PORTS`.  The twistd plugin is ``udpecho`` (:mod:`netsuite.udpecho._tap`);
the client is ``netsuite udp`` (:mod:`netsuite.udpecho._client`).
"""

from netsuite.udpecho._protocol import (
    BLOCKED_SOURCE_PORTS,
    DEFAULT_MAX_SIZE,
    EchoProtocol,
    Stats,
    format_stats,
)
from netsuite.udpecho._ratelimit import RateLimiter

__all__ = [
    "BLOCKED_SOURCE_PORTS",
    "DEFAULT_MAX_SIZE",
    "EchoProtocol",
    "RateLimiter",
    "Stats",
    "format_stats",
]
