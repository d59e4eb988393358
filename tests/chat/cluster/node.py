"""Run one chat node as a process: ``python -m tests.chat.cluster.node [chat options]``.

The ``twistd chat`` options plus the cluster ones; logs to stdout like ``twistd -n``
(``chat listening on HOST:PORT``).  SIGTERM stops it as twistd would (``BYE shutdown``).
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.logger import globalLogBeginner, textFileLogObserver

from netsuite._metrics import chat_collectors, with_metrics
from netsuite.chat._tap import Options
from netsuite.chat.cluster._options import OPTIONS, check, make_cluster_service


class NodeOptions(Options):
    optParameters = Options.optParameters + OPTIONS

    def postOptions(self) -> None:
        check(self)


def main(argv: list[str]) -> None:
    options = NodeOptions()
    options.parseOptions(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    service = make_cluster_service(options, options["port"], reactor)
    service = with_metrics(service, options["metrics"], chat_collectors(service), reactor)
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
