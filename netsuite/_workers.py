"""``--workers N``: N serving processes sharing the listening sockets of one.

The process that was started (the supervisor) listens on each shared endpoint itself (so
``tcp:0``, ``backlog=`` and ``interface=`` mean what they always do, and the port is
logged), stops accepting on it, and starts N workers (``python -m MODULE ARGS``) that
inherit the sockets and adopt them (:class:`AdoptedListener`, ``adoptStreamPort``): the
kernel hands each new connection to one of them.  TCP (IPv4 and IPv6) and UNIX sockets
are shared; a TLS listener (``ssl:``) stays TLS, each worker wrapping the adopted port in
the same TLS context.  ``--metrics tcp:P`` gives worker *i* the port ``P + i``.  SIGTERM
to the supervisor stops every worker; a worker that dies is started again after a second.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
from collections.abc import Iterable
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer, protocol
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage

from netsuite._endpoints import ListenerService

__all__ = ["AdoptedListener", "WorkersService", "child_args", "worker_metrics"]

log = Logger()

_FAMILIES = {"4": socket.AF_INET, "6": socket.AF_INET6, "unix": socket.AF_UNIX}


def worker_metrics(description: str | None, index: int) -> str | None:
    """The ``--metrics`` endpoint of worker ``index``: the port plus ``index``."""
    if description is None:
        return None
    match = re.match(r"^(tcp6?:)(\d+)(.*)$", description)
    if match is None or match.group(2) == "0":
        return description
    return f"{match.group(1)}{int(match.group(2)) + index}{match.group(3)}"


def child_args(options: usage.Options, skip: Iterable[str],
               repeated: Iterable[str] = ()) -> list[str]:
    """The arguments that give ``options`` again, less the options in ``skip`` (the
    listeners, ``--workers``...); ``repeated`` names list-valued options given once per
    value; flags that are set are given too."""
    skipped = set(skip)
    args: list[str] = []
    for long, _short, default, *_ in options.optParameters:
        value = options[long]
        if long in skipped or value is None or value == default:
            continue
        args += [f"--{long}", str(value)]
    for long, *_ in getattr(options, "optFlags", ()):
        if long not in skipped and options.get(long):
            args.append(f"--{long}")
    for long in repeated:
        for value in options.get(long, ()):
            args += [f"--{long}", value]
    return args


class AdoptedListener(ListenerService):
    """Accept connections for ``factory`` on an inherited listening socket ``FD:FAMILY``
    (FAMILY ``4``, ``6`` or ``unix``), wrapped in TLS if ``description`` is an ``ssl:``
    one.  A :class:`ListenerService`, so a graceful stop treats it as a listener."""

    def __init__(self, inherited: str, description: str, factory: Any, label: str,
                 reactor: Any = None) -> None:
        super().__init__(description, factory, label, reactor)
        fd, _, family = inherited.partition(":")
        self.fd = int(fd)
        self.family = _FAMILIES.get(family, socket.AF_INET)

    def startService(self) -> None:
        self.running = 1
        reactor = self._get_reactor()
        factory = self.factory
        context = getattr(serverFromString(reactor, self.description),
                          "_sslContextFactory", None)
        if context is not None:
            factory = TLSMemoryBIOFactory(context, False, factory)
        elif self.description.split(":", 1)[0].lower() in ("ssl", "mtls"):
            raise RuntimeError(f"{self.label}: no TLS context for {self.given}")  # never plain
        self.port = reactor.adoptStreamPort(self.fd, self.family, factory)
        os.close(self.fd)  # adoptStreamPort took its own copy
        log.info("{label} worker accepting on {address}", label=self.label,
                 address=self.port.getHost())
        self.whenListening.callback(self.port)

    def stopService(self) -> Any:
        port, self.port = self.port, None
        self.running = 0
        if port is None:
            return None
        if self.family == socket.AF_UNIX:  # the supervisor owns (and removes) the file:
            port._bindPath = "\0"  # type: ignore[attr-defined]  # "abstract": not unlinked
        return defer.maybeDeferred(port.stopListening)


class _Worker(protocol.ProcessProtocol):
    def __init__(self, supervisor: WorkersService, index: int) -> None:
        self.supervisor = supervisor
        self.index = index
        self.ended: defer.Deferred[None] = defer.Deferred()

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)
        self.supervisor.ended(self, reason)


class WorkersService(MultiService):
    """Listen on ``listeners`` (option -> (description, label)), then run ``count``
    workers: ``python -m MODULE ARGS --OPTION DESCRIPTION --adopt-OPTION FD:FAMILY ...
    --worker-index I`` (and ``--metrics`` per worker)."""

    def __init__(self, module: str, name: str, listeners: dict[str, tuple[str, str]],
                 count: int, args: list[str], metrics: str | None = None,
                 reactor: Any = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.module = module
        self.name_ = name
        self.count = count
        self.args = args
        self.metrics = metrics
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.listeners: dict[str, tuple[str, ListenerService]] = {}
        for option, (where, label) in listeners.items():
            listener = ListenerService(where, protocol.Factory(), label, reactor)
            listener.setServiceParent(self)
            self.listeners[option] = (where, listener)

    def startService(self) -> None:
        super().startService()
        ports = [listener.port for _, listener in self.listeners.values()]
        if None in ports:  # a listener failed; twistd reports why
            return
        for port in ports:
            port.stopReading()  # type: ignore[union-attr]  # the workers accept
        for index in range(self.count):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        argv = [sys.executable, "-m", self.module, *self.args, "--worker-index", str(index)]
        fds: dict[int, Any] = {0: "w", 1: 1, 2: 2}
        for option, (where, listener) in self.listeners.items():
            sock = listener.port.socket  # type: ignore[union-attr]
            family = {socket.AF_INET6: "6", socket.AF_UNIX: "unix"}.get(sock.family, "4")
            fds[sock.fileno()] = sock.fileno()
            argv += [f"--{option}", where, f"--adopt-{option}", f"{sock.fileno()}:{family}"]
        metrics = worker_metrics(self.metrics, index)
        if metrics is not None:
            argv += ["--metrics", metrics]
        worker = _Worker(self, index)
        self.workers[index] = worker
        self.reactor.spawnProcess(worker, sys.executable, argv, env=os.environ.copy(),
                                  childFDs=fds)
        log.info("{name} worker {index} started", name=self.name_, index=index)

    def ended(self, worker: _Worker, reason: Any) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if not self.stopping:
            log.info("{name} worker {index} ended ({reason}); starting it again",
                     name=self.name_, index=worker.index, reason=reason.getErrorMessage())
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
