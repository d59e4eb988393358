"""The UDP echo protocol (RFC 862) with anti-reflection rules (docs/udpecho.md).

Every datagram is answered to its sender with the same bytes, or with a fixed ``reply``.
It is *not* answered when

* its source port is one of :data:`BLOCKED_SOURCE_PORTS` (0, and the echo/daytime/quote/
  chargen services whose answers would start a loop or a reflection) — ``dropped_port``;
* it is larger than ``max_size`` bytes — ``dropped_size``;
* its source address is over its rate budget (:class:`~netsuite.udpecho.RateLimiter`) —
  ``dropped_rate``.

The checks run in that order and each dropped datagram is counted once.  Without a fixed
reply the answer is the request itself, so the server never sends more bytes than it got.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from netsuite.udpecho._ratelimit import RateLimiter

__all__ = ["BLOCKED_SOURCE_PORTS", "DEFAULT_MAX_SIZE", "EchoProtocol", "Stats", "format_stats"]

#: Source ports never answered: 0 (invalid), echo (7), daytime (13), qotd (17), chargen (19).
BLOCKED_SOURCE_PORTS = frozenset({0, 7, 13, 17, 19})

#: The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
DEFAULT_MAX_SIZE = 65507

log = Logger()


@attrs.define
class Stats:
    """Counters of the UDP echo server (also exported as metrics).

    ``received`` every datagram read; ``answered`` replies sent; ``dropped_size``,
    ``dropped_rate``, ``dropped_port`` datagrams not answered and why; ``send_failed``
    replies the kernel refused to send (a full socket buffer, say).
    """

    received: int = 0
    answered: int = 0
    dropped_size: int = 0
    dropped_rate: int = 0
    dropped_port: int = 0
    send_failed: int = 0


def format_stats(stats: Stats) -> str:
    """The one-line summary logged at shutdown (docs/udpecho.md, "Counters and logs")."""
    return (
        f"udpecho stats: received={stats.received} answered={stats.answered} "
        f"dropped_size={stats.dropped_size} dropped_rate={stats.dropped_rate} "
        f"dropped_port={stats.dropped_port}"
    )


class EchoProtocol(DatagramProtocol):
    """Answer datagrams with their own bytes (or ``reply``), within the limits above.

    :param limiter: the per-source :class:`RateLimiter` (``rate=0`` answers everyone).
    :param reply: a fixed answer instead of the echo, or None.
    :param max_size: the largest datagram answered, in bytes.
    :param stats: counters to update; a fresh :class:`Stats` by default.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        reply: bytes | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        stats: Stats | None = None,
    ) -> None:
        self.limiter = limiter
        self.reply = reply
        self.max_size = max_size
        self.stats = stats if stats is not None else Stats()
        self._sendto: Any = None

    def startProtocol(self) -> None:
        # The real port's socket.sendto skips transport.write's per-call address
        # validation: the address came from recvfrom, so it is valid by construction.
        sock = getattr(self.transport, "socket", None)
        self._sendto = getattr(sock, "sendto", None) or self.transport.write

    def stopProtocol(self) -> None:
        self._sendto = None

    def admit(self, size: int, port: int, source: Any) -> bool:
        """Count one datagram and apply the rules in order: True when it is to be answered.

        :param size: the datagram's length in bytes.
        :param port: its source port.
        :param source: its source address as the rate limiter's key (any hashable value,
            one per address; never looked at when the limiter is off).
        """
        stats = self.stats
        stats.received += 1
        if port in BLOCKED_SOURCE_PORTS:
            stats.dropped_port += 1
            return False
        if size > self.max_size:
            stats.dropped_size += 1
            return False
        if not self.limiter.allow(source):
            stats.dropped_rate += 1
            return False
        return True

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        """Count, filter, rate-limit and answer one datagram."""
        if not self.admit(len(data), addr[1], addr[0]):
            return
        sendto = self._sendto or self.transport.write
        try:
            sendto(self.reply if self.reply is not None else data, addr)
        except OSError as error:
            self.stats.send_failed += 1
            log.debug("udpecho cannot answer {addr}: {error}", addr=addr, error=error)
            return
        self.stats.answered += 1
