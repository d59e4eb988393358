"""Run one chat node (or, with ``--workers N``, a supervisor of N) as a process.

``python -m netsuite.chat.cluster._worker [twistd chat options]`` logs to stdout as
``twistd -n`` does and stops on SIGTERM/SIGINT as twistd does (``BYE shutdown``).  The
supervisor of ``--workers`` starts its workers this way, with ``--adopt-fd FD:FAMILY``
(the inherited listening socket) and ``--worker-index I``.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from netsuite._metrics import with_metrics
from netsuite._workers import AdoptedListener
from netsuite.chat._tap import Options, collectors, makeService

__all__ = ["AdoptedListener", "WorkerOptions", "main"]

log = Logger()


class WorkerOptions(Options):
    """The ``twistd chat`` options, and the sockets a worker inherits."""

    optParameters = [
        *Options.optParameters,
        ["adopt-port", None, None, "(worker) accept chat clients on this inherited socket: "
         "FD:4, FD:6 or FD:unix"],
        ["adopt-web", None, None, "(worker) serve --web on this inherited socket"],
        ["worker-index", None, 0, "(worker) this worker's number", int],
    ]


def build(options: WorkerOptions, reactor: Any) -> Any:
    """A node (or supervisor) for ``options``; a worker adopts the sockets it was given."""
    if options["adopt-port"] is None and options["adopt-web"] is None:
        return makeService(options, reactor)
    from netsuite.chat.cluster._service import ClusterChatService
    from netsuite.chat.web import WebListener

    limits = options.limits()
    service = ClusterChatService(None, limits, options["cluster"], options["cluster-name"],
                                 options["node-timeout"], reactor)
    if options["adopt-port"] is not None:
        AdoptedListener(options["adopt-port"], options["port"], service.factory, "chat",
                        reactor).setServiceParent(service)
    if options["adopt-web"] is not None:  # the page and WebSocket, on the inherited socket
        service.web = WebListener(options["web"], service.factory, max_line=limits.max_line,
                                  idle_timeout=limits.idle_timeout,
                                  origins=options.get("web-origin", ()), reactor=reactor)
        AdoptedListener(options["adopt-web"], options["web"], service.web.site, "chat-web",
                        reactor).setServiceParent(service)
    return with_metrics(service, options["metrics"], collectors(service), reactor)


def main(argv: list[str]) -> None:
    from twisted.internet import reactor

    options = WorkerOptions()
    options.parseOptions(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    service = build(options, reactor)
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
