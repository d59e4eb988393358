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

from netsuite._metrics import chat_collectors, with_metrics
from netsuite.chat._tap import Options as ChatOptions
from netsuite.chat.cluster._options import OPTIONS, check, make_cluster_service

__all__ = ["AdoptedListener", "ClusterOptions", "WorkerOptions", "main"]

log = Logger()


class ClusterOptions(ChatOptions):
    """The ``twistd chat`` options, the cluster ones included."""

    optParameters = [*ChatOptions.optParameters,
                     *(o for o in OPTIONS if o[0] not in {p[0] for p in
                                                          ChatOptions.optParameters})]

    def postOptions(self) -> None:
        check(self)


class WorkerOptions(ClusterOptions):
    optParameters = [
        *ClusterOptions.optParameters,
        ["adopt-fd", None, None, "(worker) listen on this inherited socket: FD:4 or FD:6"],
        ["worker-index", None, 0, "(worker) this worker's number", int],
    ]


class AdoptedListener(Service):
    """Accept chat clients on an inherited listening socket (TLS if ``description`` is)."""

    def __init__(self, fd: int, family: int, description: str, factory: Any,
                 reactor: Any) -> None:
        self.fd = fd
        self.family = family
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
    if options["adopt-fd"] is None:
        return make_cluster_service(options, reactor=reactor)
    from netsuite.chat.cluster._service import ClusterChatService

    fd, _, family = options["adopt-fd"].partition(":")
    service = ClusterChatService(None, options.limits(), options["cluster"],
                                 options["cluster-name"], options["node-timeout"], reactor)
    AdoptedListener(int(fd), socket.AF_INET6 if family == "6" else socket.AF_INET,
                    options["port"], service.factory, reactor).setServiceParent(service)
    return with_metrics(service, options["metrics"], chat_collectors(service), reactor)


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
