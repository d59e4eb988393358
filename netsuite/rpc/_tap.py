"""The ``rpc`` twistd plugin: one service core on XML-RPC, AMP, JSON-RPC, Go gob and gRPC.

``twistd -n rpc`` serves :data:`netsuite.rpc.SERVICE` on every transport whose listener is
not ``none``.  ``--service MODULE`` (repeatable) imports MODULE first (from the current
directory too), which registers its methods on ``SERVICE``; ``--no-book`` leaves the
book's ``Algorithm.Sum`` and ``Programmer.GetSkill`` out.  A listener given as a bare
port binds ``--interface`` (every interface by default).  The service returned by
:func:`makeService` is an :class:`RpcService`:

- ``service.registry``: the :class:`~netsuite.rpc.Registry` served;
- ``service.stats``: an :class:`RpcStats` (connection counters per transport label);
- ``service.listeners``: transport label -> :class:`~netsuite._endpoints.ListenerService`.

Graceful shutdown (SIGTERM / SIGINT): every listener stops accepting at once; every open
connection is asked to finish (see :class:`ConnectionTracker`) and is closed once the
requests it already received are answered, or after ``--grace`` seconds at the latest.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet import defer
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python import usage

from netsuite._endpoints import ListenerService, listen_option, resolve_listener
from netsuite._metrics import metrics_option, rpc_collectors, with_metrics
from netsuite._options import non_negative_float, positive_int
from netsuite._workers import AdoptedListener, WorkersService, child_args
from netsuite.rpc._core import MAX_REQUEST, SERVICE, Registry
from netsuite.rpc._paced import DEFAULT_MAX_INFLIGHT
from netsuite.rpc._tracker import ConnectionTracker, RpcStats

__all__ = ["ConnectionTracker", "Options", "RpcService", "RpcStats", "makeService"]

log = Logger()

#: The book's two methods (``--no-book`` leaves them out).
BOOK = ("Algorithm.Sum", "Programmer.GetSkill")


class _Default(str):
    """A default option value, told apart from the same text given on the command line."""


class Options(usage.Options):
    """Options of ``twistd rpc``."""

    synopsis = "[options]"
    longdesc = (
        "Serve Algorithm.Sum and Programmer.GetSkill (and any method registered on "
        "netsuite.rpc.SERVICE, e.g. by --service MODULE) over XML-RPC (/RPC2, plus Go's "
        "rpc.DialHTTP), AMP, Go-compatible JSON-RPC, Go gob net/rpc and gRPC. Each listener "
        "takes an endpoint description or a bare port (bound to --interface); 'none' turns "
        "that transport off."
    )
    optFlags = [
        ["no-book", None, "Leave the book's Algorithm.Sum and Programmer.GetSkill out."],
    ]
    optParameters = [
        ["xmlrpc", None, _Default("8808"),
         "XML-RPC over HTTP (path /RPC2) and Go's rpc.DialHTTP.", listen_option],
        ["amp", None, _Default("8809"), "AMP (commands Sum, GetSkill, any method).",
         listen_option],
        ["jsonrpc", None, _Default("8085"),
         "JSON-RPC, wire-compatible with Go's net/rpc/jsonrpc.", listen_option],
        ["gob", None, _Default("none"), "Go net/rpc gob without HTTP (rpc.Dial); off by default",
         listen_option],
        ["grpc", None, _Default("50051"),
         "gRPC (needs grpcio; skipped with a log line when missing, unless given explicitly).",
         listen_option],
        ["interface", None, None,
         "Address the listeners given as a bare port bind (default: every interface)."],
        ["grace", None, 5.0,
         "Seconds to keep answering requests already received after SIGTERM (running calls "
         "are then cancelled).",
         non_negative_float],
        ["max-request", None, MAX_REQUEST,
         "Largest AMP box / JSON-RPC request / XML-RPC body / gob or gRPC message, in bytes "
         "(bigger: error and close).",
         positive_int],
        ["max-depth", None, 100,
         "Deepest nesting accepted in a JSON-RPC request, XML-RPC document or gob value.",
         positive_int],
        ["max-inflight", None, DEFAULT_MAX_INFLIGHT,
         "Most calls running at once per connection; past it the connection is not read "
         "until one ends.",
         positive_int],
        ["workers", None, 1,
         "Serving processes sharing the listeners (each binds the gRPC port itself, with "
         "SO_REUSEPORT); --metrics tcp:P gives worker i the port P+i.",
         positive_int],
        metrics_option(),
    ]

    def __init__(self) -> None:
        super().__init__()
        self["service"] = []

    def opt_service(self, module: str) -> None:
        """Import MODULE (it registers methods on netsuite.rpc.SERVICE); repeatable."""
        self["service"].append(module)

    def postOptions(self) -> None:
        #: The listener options given on the command line (not left at their default).
        self["explicit"] = set()
        for name in TRANSPORTS:
            value = self[name]
            self[name] = resolve_listener(str(value), self["interface"])
            if not isinstance(value, _Default) and self[name] is not None:
                self["explicit"].add(name)
        if not any(self[name] for name in TRANSPORTS):
            raise usage.UsageError("every transport is 'none': nothing to serve")
        if self["grpc"] and "grpc" in self["explicit"] and not grpc_available():
            raise usage.UsageError(
                "--grpc needs grpcio and netsuite.rpc.grpc._protocol: pip install 'netsuite[grpc]' "
                "(or --grpc none)"
            )
        if self["workers"] > 1 and self["grpc"]:
            check_grpc_for_workers(self["grpc"])
        for module in self["service"]:
            import_service(module)


def check_grpc_for_workers(description: str) -> None:
    """Refuse a gRPC listener that several worker processes cannot all bind: each binds
    the same port itself, so it must be a fixed TCP port."""
    from netsuite.rpc.grpc._protocol import parse_description

    try:
        listen = parse_description(description)
    except ValueError:
        return  # told by the gRPC service itself
    if listen.address.startswith("unix:"):
        raise usage.UsageError("--workers above 1 needs --grpc on a TCP port (or --grpc none)")
    if listen.port == 0:
        raise usage.UsageError("--workers above 1 needs a fixed --grpc port, not 0 (every "
                               "worker binds the same one), or --grpc none")


def import_service(module: str) -> None:
    """Import a ``--service`` module (the current directory is searched too); a module that
    cannot be imported or registers a bad method is a one-line usage error."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise usage.UsageError(f"--service {module}: cannot import it: {e}") from None
    except (TypeError, ValueError) as e:
        raise usage.UsageError(f"--service {module}: {e}") from None


def served_registry(no_book: bool) -> Registry:
    """``SERVICE``, or (``no_book``) a registry of its methods without the book's two."""
    if not no_book:
        return SERVICE
    registry = Registry()
    for method in SERVICE:
        if method.name not in BOOK:
            registry._add(method)
    return registry


#: Transport labels, in the order the listeners start.
TRANSPORTS = ("xmlrpc", "amp", "jsonrpc", "gob", "grpc")


def grpc_available() -> bool:
    """Whether the gRPC transport can run here: grpcio and protobuf import, and our module
    is part of this build."""
    try:
        importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
        return importlib.util.find_spec("netsuite.rpc.grpc") is not None
    except (ImportError, ValueError):
        return False


class RpcService(MultiService):
    """The rpc plugin's service: listeners as children, graceful shutdown over all of them."""

    def __init__(self, registry: Registry, grace: float, reactor: Any) -> None:
        super().__init__()
        self.registry = registry
        self.grace = grace
        self.reactor = reactor
        self.stats = RpcStats()
        self.tracker = ConnectionTracker(self.stats)
        self.listeners: dict[str, ListenerService] = {}

    def add_listener(self, label: str, description: str, factory: IProtocolFactory,
                     inherited: str | None = None) -> None:
        """Serve ``factory`` on ``description`` (or on the ``inherited`` socket ``FD:FAMILY``
        of a ``--workers`` worker), tracked for shutdown, logged as ``label``."""
        wrapped = self.tracker.wrap(factory, label)
        listener = (ListenerService(description, wrapped, label, reactor=self.reactor)
                    if inherited is None else
                    AdoptedListener(inherited, description, wrapped, label, self.reactor))
        listener.setName(label)
        listener.setServiceParent(self)
        self.listeners[label] = listener

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        # Stop accepting at once (every listener), then let open connections finish; other
        # children (the gRPC server, with its own grace period) stop at the same time.
        Service.stopService(self)
        children = list(self)
        children.reverse()
        listeners = [c for c in children if isinstance(c, ListenerService)]
        others = [c for c in children if not isinstance(c, ListenerService)]
        yield defer.DeferredList([defer.maybeDeferred(c.stopService) for c in listeners])
        open_now = len(self.tracker.protocols)
        if open_now:
            log.info("rpc: stopped listening; {count} connection(s) open, up to {grace}s to "
                     "finish", count=open_now, grace=self.grace)
        yield defer.DeferredList([defer.maybeDeferred(c.stopService) for c in others]
                                 + [self.tracker.close_all(self.grace, self.reactor)])


def _transport_module(name: str) -> Any:
    """``netsuite.rpc.<name>``, or a clear error if that transport is not part of this build."""
    module_name = f"netsuite.rpc.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            raise usage.UsageError(f"{module_name} is not available in this build") from None
        raise


def _factories(registry: Registry, options: Options, reactor: Any
               ) -> dict[str, Callable[[], IProtocolFactory]]:
    def xmlrpc() -> IProtocolFactory:
        factory = _transport_module("xmlrpc._protocol").xmlrpc_factory(
            registry, reactor=reactor, max_body=options["max-request"],
            max_depth=options["max-depth"])
        if importlib.util.find_spec("netsuite.rpc.gob") is not None:
            factory = _transport_module("gob._http").with_go_http_connect(
                factory, registry, max_message=options["max-request"],
                max_depth=options["max-depth"])
            factory.max_inflight = options["max-inflight"]
        return factory

    def amp() -> IProtocolFactory:
        return _transport_module("amp._protocol").amp_factory(
            registry, max_box=options["max-request"], max_inflight=options["max-inflight"])

    def jsonrpc() -> IProtocolFactory:
        return _transport_module("jsonrpc._protocol").jsonrpc_factory(
            registry, max_request=options["max-request"], max_depth=options["max-depth"],
            max_inflight=options["max-inflight"])

    def gob() -> IProtocolFactory:
        factory = _transport_module("gob._protocol").gob_factory(
            registry, max_message=options["max-request"], max_depth=options["max-depth"])
        factory.max_inflight = options["max-inflight"]
        return factory

    return {"xmlrpc": xmlrpc, "amp": amp, "jsonrpc": jsonrpc, "gob": gob}


def workers_service(options: Options, reactor: Any) -> WorkersService:
    """``--workers N``: this process listens on every transport but gRPC and runs N
    ``netsuite.rpc._worker`` processes sharing those sockets (each binds gRPC itself)."""
    listeners = {label: (options[label], label) for label in TRANSPORTS
                 if label != "grpc" and options[label]}
    args = child_args(options, ("workers", *TRANSPORTS, "metrics", "interface"),
                      repeated=("service",))
    args += [arg for label in TRANSPORTS if label != "grpc" and not options[label]
             for arg in (f"--{label}", "none")]
    serve_grpc = options["grpc"] and grpc_available()
    args += ["--grpc", options["grpc"] if serve_grpc else "none"]
    return WorkersService("netsuite.rpc._worker", "rpc", listeners, options["workers"], args,
                          options.get("metrics"), reactor)


def makeService(options: Options, reactor: Any = None, registry: Registry | None = None,
                adopted: dict[str, str] | None = None) -> Any:
    """The rpc service for parsed ``options`` (``registry`` defaults to ``SERVICE``): an
    :class:`RpcService`, or with ``--workers`` above 1 their supervisor.  ``adopted``
    (a worker's) maps transport labels to inherited sockets ``FD:FAMILY``."""
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    if options.get("workers", 1) > 1:
        return workers_service(options, reactor)
    adopted = adopted or {}
    registry = served_registry(options.get("no-book", False)) if registry is None else registry
    service = RpcService(registry, options["grace"], reactor)
    factories = _factories(registry, options, reactor)
    for label in TRANSPORTS:
        description = options[label]
        if not description:
            continue
        if label == "grpc":
            if not grpc_available():
                log.info("grpc: not served (grpcio or netsuite.rpc.grpc._protocol not installed; "
                         "pip install 'netsuite[grpc]')")
                continue
            grpc_service: IService = _transport_module("grpc._protocol").grpc_service(
                registry, description, reactor, grace=options["grace"],
                max_message=options["max-request"], reuse_port=bool(adopted))
            grpc_service.setName("grpc")
            grpc_service.setServiceParent(service)
            continue
        service.add_listener(label, description, factories[label](), adopted.get(label))
    return with_metrics(service, options.get("metrics"), rpc_collectors(service), reactor)
