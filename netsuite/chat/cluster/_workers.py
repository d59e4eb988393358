"""``--workers N``: N chat processes sharing one listening socket, each a cluster node.

The process that was started (the supervisor) listens on the chat endpoint itself (so
``tcp:0``, ``backlog=`` and ``interface=`` mean what they always do, and the port is
logged), stops accepting on it, and starts N workers that inherit the socket and adopt
it (``adoptStreamPort``): the kernel hands each new connection to one of them.  A TLS
listener (``ssl:``) stays TLS: each worker wraps the adopted port in the same TLS
context.  ``--metrics tcp:P`` gives worker *i* the port ``P + i``.  SIGTERM to the
supervisor stops every worker (each says ``BYE shutdown`` to its clients); a worker that
dies is started again after a second.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer, protocol
from twisted.logger import Logger

from netsuite._endpoints import ListenerService

__all__ = ["WorkersService", "child_args", "worker_metrics"]

log = Logger()


def worker_metrics(description: str | None, index: int) -> str | None:
    """The ``--metrics`` endpoint of worker ``index``: the port plus ``index``."""
    if description is None:
        return None
    match = re.match(r"^(tcp6?:)(\d+)(.*)$", description)
    if match is None or match.group(2) == "0":
        return description
    return f"{match.group(1)}{int(match.group(2)) + index}{match.group(3)}"


def child_args(options: Any) -> list[str]:
    """The plugin arguments that give ``options`` again, less ``--workers`` (and the
    listeners, which the workers inherit)."""
    args: list[str] = []
    for long, _short, default, *_ in options.optParameters:
        value = options[long]
        if long in ("workers", "port", "web", "metrics", "interface") or value is None \
                or value == default:
            continue
        args += [f"--{long}", str(value)]
    for origin in options.get("web-origin", ()):
        args += ["--web-origin", origin]
    return args


class _Worker(protocol.ProcessProtocol):
    def __init__(self, supervisor: WorkersService, index: int) -> None:
        self.supervisor = supervisor
        self.index = index
        self.ended: defer.Deferred[None] = defer.Deferred()

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)
        self.supervisor.ended(self, reason)


class WorkersService(MultiService):
    """Listen on ``description`` (and ``web``), then run ``count`` workers
    (``python -m netsuite.chat.cluster._worker ARGS --adopt-fd FD:FAMILY ...``)."""

    def __init__(self, description: str | None, web: str | None, count: int,
                 args: list[str], metrics: str | None = None, reactor: Any = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.description = description
        self.web = web
        self.count = count
        self.args = args
        self.metrics = metrics
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.listeners: dict[str, tuple[str, ListenerService]] = {}
        for option, label, where in (("port", "chat", description), ("web", "chat-web", web)):
            if where is not None:
                listener = ListenerService(where, protocol.Factory(), label, reactor)
                listener.setServiceParent(self)
                self.listeners[option] = (where, listener)

    def startService(self) -> None:
        super().startService()
        ports = [listener.port for _, listener in self.listeners.values()]
        if None in ports:  # a listener failed; twistd reports why
            return
        for port in ports:
            port.stopReading()  # the workers accept; this process only holds the socket
        for index in range(self.count):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        argv = [sys.executable, "-m", "netsuite.chat.cluster._worker", *self.args,
                "--worker-index", str(index)]
        fds: dict[int, Any] = {0: "w", 1: 1, 2: 2}
        for option, (where, listener) in self.listeners.items():
            sock = listener.port.socket  # type: ignore[union-attr]
            family = "6" if sock.family == socket.AF_INET6 else "4"
            fds[sock.fileno()] = sock.fileno()
            argv += [f"--{option}", where, f"--adopt-{option}", f"{sock.fileno()}:{family}"]
        if "port" not in self.listeners:
            argv += ["--port", "none"]
        metrics = worker_metrics(self.metrics, index)
        if metrics is not None:
            argv += ["--metrics", metrics]
        worker = _Worker(self, index)
        self.workers[index] = worker
        self.reactor.spawnProcess(worker, sys.executable, argv, env=os.environ.copy(),
                                  childFDs=fds)
        log.info("chat worker {index} started", index=index)

    def ended(self, worker: _Worker, reason: Any) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if not self.stopping:
            log.info("chat worker {index} ended ({reason}); starting it again",
                     index=worker.index, reason=reason.getErrorMessage())
            self.reactor.callLater(1.0, self._respawn, worker.index)

    def _respawn(self, index: int) -> None:
        if not self.stopping and index not in self.workers:
            self._spawn(index)

    def stopService(self) -> defer.Deferred[None]:
        """SIGTERM to every worker; done when they have all ended."""
        self.stopping = True
        ended = [w.ended for w in self.workers.values()]
        for worker in list(self.workers.values()):
            try:
                worker.transport.signalProcess(signal.SIGTERM)
            except Exception:
                pass

        async def then() -> None:
            await defer.DeferredList(ended)
            await defer.maybeDeferred(MultiService.stopService, self)

        return defer.ensureDeferred(then())
