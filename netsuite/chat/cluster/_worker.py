"""Run one chat node (or, with ``--workers N``, a supervisor of N) as a process.

``python -m netsuite.chat.cluster._worker [twistd chat options]`` logs to stdout as
``twistd -n`` does and stops on SIGTERM/SIGINT as twistd does (``BYE shutdown``).  The
supervisor of ``--workers`` starts its workers this way, with ``--adopt-fd FD:FAMILY``
(the inherited listening socket) and ``--worker-index I``.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

from twisted.application.service import Service
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver
from twisted.protocols.tls import TLSMemoryBIOFactory

from netsuite._metrics import with_metrics
from netsuite.chat._tap import Options, collectors, makeService

__all__ = ["AdoptedListener", "WorkerOptions", "main"]

log = Logger()


class WorkerOptions(Options):
    """The ``twistd chat`` options, and the sockets a worker inherits."""

    optParameters = [
        *Options.optParameters,
        ["adopt-port", None, None, "(worker) accept chat clients on this inherited socket: "
         "FD:4 or FD:6"],
        ["adopt-web", None, None, "(worker) serve --web on this inherited socket"],
        ["worker-index", None, 0, "(worker) this worker's number", int],
    ]


class AdoptedListener(Service):
    """Accept connections on an inherited listening socket ``FD:FAMILY`` for ``factory``
    (wrapped in TLS if ``description`` is an ``ssl:`` one)."""

    def __init__(self, inherited: str, description: str, factory: Any, reactor: Any) -> None:
        fd, _, family = inherited.partition(":")
        self.fd = int(fd)
        self.family = socket.AF_INET6 if family == "6" else socket.AF_INET
        self.description = description
        self.factory = factory
        self.reactor = reactor
        self.port: Any = None

    def startService(self) -> None:
        super().startService()
        factory = self.factory
        context = getattr(serverFromString(self.reactor, self.description),
                          "_sslContextFactory", None)
        if context is not None:
            factory = TLSMemoryBIOFactory(context, False, factory)
        self.port = self.reactor.adoptStreamPort(self.fd, self.family, factory)
        os.close(self.fd)  # adoptStreamPort took its own copy
        log.info("chat worker accepting on {address}", address=self.port.getHost())

    def stopService(self) -> Any:
        super().stopService()
        port, self.port = self.port, None
        return port.stopListening() if port is not None else None


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
        AdoptedListener(options["adopt-port"], options["port"], service.factory,
                        reactor).setServiceParent(service)
    if options["adopt-web"] is not None:  # the page and WebSocket, on the inherited socket
        service.web = WebListener(options["web"], service.factory, max_line=limits.max_line,
                                  idle_timeout=limits.idle_timeout,
                                  origins=options.get("web-origin", ()), reactor=reactor)
        AdoptedListener(options["adopt-web"], options["web"], service.web.site,
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
