"""``twistd tcplog``: options and the service listening for clients whose lines it logs."""

from __future__ import annotations

from typing import Any

from twisted.python import usage

from netsuite._endpoints import ListenerService, listen_description
from netsuite._metrics import WithMetrics, metrics_option, tcplog_collectors, with_metrics
from netsuite._options import positive_int
from netsuite.tcplog._protocol import DEFAULT_MAX_LINE, LineLogFactory, Stats

__all__ = ["LineLogService", "Options", "makeService"]


class Options(usage.Options):
    """Command-line options of ``twistd tcplog``."""

    synopsis = "[options]"
    longdesc = (
        "TCP line log: logs each client's connect, every line it sends and its disconnect; "
        "never sends anything back."
    )
    optParameters = [
        ["port", "p", "tcp:8088", "Endpoint to listen on (a bare number means tcp:NUMBER).",
         listen_description],
        ["max-line", None, DEFAULT_MAX_LINE,
         "Longest line in bytes (not counting the line end); longer closes the connection.",
         positive_int],
        metrics_option(),
    ]


class LineLogService(ListenerService):
    """The listener of the line log.

    Attributes: ``stats`` (:class:`~netsuite.tcplog.Stats`: ``connections``, ``connected``,
    ``lines``, ``bytes``, ``bad_encoding``, ``too_long``), ``factory``, and (once listening)
    ``port``; ``whenListening`` fires with the port.
    """

    def __init__(self, description: str, factory: LineLogFactory, reactor: Any = None) -> None:
        super().__init__(description, factory, "tcplog", reactor=reactor)
        self.stats: Stats = factory.stats


def makeService(options: usage.Options | dict[str, Any], reactor: Any = None
                ) -> LineLogService | WithMetrics:
    """Build the tcplog service from parsed options (``reactor`` for tests)."""
    factory = LineLogFactory(max_line=options["max-line"])
    service = LineLogService(options["port"], factory, reactor=reactor)
    # With --metrics: a MultiService of both that passes attribute reads (stats, port...) on.
    return with_metrics(service, options.get("metrics"), tcplog_collectors(service), reactor)
