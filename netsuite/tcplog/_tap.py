"""``twistd tcplog``: options and the service listening for clients whose lines it logs."""

from __future__ import annotations

from typing import Any

from twisted.python import usage

from netsuite._endpoints import ListenerService, listen_option, resolve_listener
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
        ["port", "p", "8088",
         "Endpoint to listen on; a bare port listens on --interface (default: all).",
         listen_option],
        ["interface", None, None,
         "Address a bare --port binds (e.g. 127.0.0.1, ::1); default: every IPv4 address."],
        ["max-line", None, DEFAULT_MAX_LINE,
         "Longest line in bytes (not counting the line end); longer closes the connection.",
         positive_int],
        metrics_option(),
    ]

    def postOptions(self) -> None:
        self["listen"] = resolve_listener(self["port"], self["interface"])
        if self["listen"] is None:
            raise usage.UsageError("--port none: tcplog has nothing else to listen on")


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
    listen = options.get("listen") or resolve_listener(options["port"], options.get("interface"))
    assert listen is not None, "--port none is refused by Options"
    service = LineLogService(listen, factory, reactor=reactor)
    # With --metrics: a MultiService of both that passes attribute reads (stats, port...) on.
    return with_metrics(service, options.get("metrics"), tcplog_collectors(service), reactor)
