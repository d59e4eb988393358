"""Counters of the chat's web listener (read by the metrics exporter)."""

from __future__ import annotations

from typing import Any

import attrs
from prometheus_client.registry import Collector

from netsuite._metrics import StatsCollector

__all__ = ["WebStats", "web_collectors"]

#: How each close status the server chooses for a bad message is counted.
_CLOSE_REASONS = {1009: "too-big", 1007: "bad-encoding", 1002: "protocol-error"}


@attrs.define
class WebStats:
    """``clients`` is a gauge (WebSocket chat connections open now); the rest only grow.

    ``connections`` counts WebSocket connections accepted; ``refused`` handshakes turned
    away, by reason (``origin``: HTTP 403; ``handshake``: not a valid WebSocket
    handshake, HTTP 400); ``closed`` connections the server closed for a message it could
    not take, by reason (``too-big``: 1009, ``bad-encoding``: 1007, ``protocol-error``:
    1002).
    """

    clients: int = 0
    connections: int = 0
    refused: dict[str, int] = attrs.field(factory=dict)
    closed: dict[str, int] = attrs.field(factory=dict)

    def connected(self) -> None:
        self.clients += 1
        self.connections += 1

    def disconnected(self) -> None:
        self.clients -= 1

    def refused_handshake(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def refused_message(self, code: int) -> None:
        reason = _CLOSE_REASONS.get(code, str(code))
        self.closed[reason] = self.closed.get(reason, 0) + 1


_DOCS = {
    "clients": "WebSocket chat clients connected now",
    "connections": "WebSocket chat connections accepted",
    "refused": "WebSocket handshakes refused, by reason (origin, handshake)",
    "closed": "WebSocket connections closed for a message the server could not take, "
              "by reason (too-big, bad-encoding, protocol-error)",
}


def web_collectors(web: Any) -> list[Collector]:
    """Metrics of the web listener ``web`` (anything with ``stats``; None: no metrics):
    ``netsuite_chat_websocket_clients`` (gauge) and the counters of :class:`WebStats`."""
    if web is None:
        return []
    return [StatsCollector.from_attrs("netsuite_chat_websocket", lambda: web.stats,
                                      gauges={"clients"},
                                      labels={"refused": "reason", "closed": "reason"},
                                      docs=_DOCS)]
