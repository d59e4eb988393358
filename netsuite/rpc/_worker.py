"""One ``twistd rpc --workers N`` worker: ``python -m netsuite.rpc._worker [rpc options]
--adopt-LABEL FD:FAMILY ... --worker-index I``.

It serves like ``twistd -n rpc`` (log to stdout, graceful stop on SIGTERM/SIGINT within
``--grace``) on the listening sockets it inherited from the supervisor, and binds the
gRPC port itself with SO_REUSEPORT (every worker binds the same one).
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from netsuite.rpc._tap import TRANSPORTS, Options, makeService

__all__ = ["WorkerOptions", "main"]

log = Logger()

#: The transports whose sockets the supervisor shares (gRPC binds its own).
SHARED = tuple(label for label in TRANSPORTS if label != "grpc")


class WorkerOptions(Options):
    """The ``twistd rpc`` options, and the sockets a worker inherits."""

    optParameters = [
        *Options.optParameters,
        *[[f"adopt-{label}", None, None, f"(worker) serve {label} on this inherited socket: "
           "FD:4, FD:6 or FD:unix"] for label in SHARED],
        ["worker-index", None, 0, "(worker) this worker's number", int],
    ]


def main(argv: list[str]) -> None:
    from twisted.internet import reactor

    options = WorkerOptions()
    options.parseOptions(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    adopted = {label: options[f"adopt-{label}"] for label in SHARED
               if options[f"adopt-{label}"] is not None}
    service: Any = makeService(options, reactor, adopted=adopted)
    service.startService()
    log.info("rpc worker {index} serving", index=options["worker-index"])
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
