"""Prometheus metrics for every netsuite plugin: ``--metrics ENDPOINT`` serves ``GET /metrics``.

Services keep plain counters in a small attrs ``Stats`` object and never call
``prometheus_client`` on their hot paths.  A :class:`StatsCollector` reads those counters
when Prometheus scrapes, and :class:`RpcMetrics` is an RPC call observer (see
``Registry.observers`` in :mod:`netsuite.rpc._core`) that counts calls in a plain dict and
a fixed bucket array.  Each service gets its own :class:`~prometheus_client.CollectorRegistry`
(never the process-global one), so many services can run in one process (as in the tests).

Wiring a plugin is one option and one line::

    optParameters = [..., metrics_option()]

    def makeService(options, reactor=None):
        service = ...
        return with_metrics(service, options["metrics"], chat_collectors(service), reactor)

:func:`with_metrics` returns the service itself when ``--metrics`` is not given.  The
metric names each service exports are listed in ``docs/operations.md``.

The endpoint answers ``GET /metrics`` (and ``HEAD``) with the Prometheus text format
(``Content-Type: text/plain; version=0.0.4``), every other path with 404 and every other
method with 405.  It writes no access log: one line per scrape would drown the log.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from twisted.application.service import IService, IServiceCollection, MultiService
from twisted.web import resource, server

from netsuite._endpoints import ListenerService, optional_listen_description

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "Family",
    "MetricsResource",
    "MetricsService",
    "RpcMetrics",
    "StatsCollector",
    "WithMetrics",
    "chat_collectors",
    "make_registry",
    "metrics_description",
    "metrics_option",
    "rpc_collectors",
    "serve_metrics",
    "tcplog_collectors",
    "udpecho_collectors",
    "with_metrics",
]

#: The exposition format version served (Prometheus text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4"

#: Upper bounds (seconds) of the RPC latency histogram buckets; ``+Inf`` is implied.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)


def metrics_description(value: str) -> str | None:
    """The ``--metrics`` option: an endpoint description (bare port = ``tcp:PORT``) or
    ``none``; the option's absence (default ``None``) also means no metrics endpoint."""
    return optional_listen_description(value)


metrics_description.coerceDoc = (  # type: ignore[attr-defined]
    "An endpoint description (e.g. tcp:9100:interface=127.0.0.1) or a bare port; "
    "default: off."
)


def metrics_option() -> list[Any]:
    """The ``--metrics`` entry for a ``usage.Options.optParameters`` list."""
    return ["metrics", None, None, "Serve Prometheus metrics (GET /metrics) on this endpoint",
            metrics_description]


# ---------------------------------------------------------------- collectors


@attrs.frozen
class Family:
    """One metric family read at scrape time.

    ``read`` returns a number, or (with ``labels``) a mapping from a label value (a tuple
    of them for several labels) to a number.
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(("counter", "gauge")))
    doc: str
    read: Callable[[], Any] = attrs.field(eq=False, repr=False)
    labels: tuple[str, ...] = ()

    def build(self) -> Metric:
        """The metric family with the values read now."""
        cls = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        value = self.read()
        if not self.labels:
            return cls(self.name, self.doc, value=float(value))
        family = cls(self.name, self.doc, labels=list(self.labels))
        for key, number in sorted(dict(value).items(), key=lambda kv: str(kv[0])):
            values = [str(k) for k in key] if isinstance(key, tuple) else [str(key)]
            family.add_metric(values, float(number))
        return family


class StatsCollector(Collector):
    """A collector that reads a service's plain counters when Prometheus scrapes."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.build()

    @classmethod
    def from_attrs(
        cls,
        prefix: str,
        stats: Any,
        *,
        gauges: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        docs: Mapping[str, str] | None = None,
        skip: Iterable[str] = (),
        extra: Iterable[Family] = (),
    ) -> StatsCollector:
        """Every number field of an attrs ``Stats`` instance as ``PREFIX_FIELD``.

        ``stats`` is the instance or a callable returning it (read at each scrape).  Number
        fields are counters (exported as ``..._total``) unless named in ``gauges``; mapping
        fields (say ``drops: dict[str, int]``) become one counter labelled
        ``labels.get(field, "key")`` (``drops`` -> ``{reason="..."}``).  Other fields are
        skipped, as are those named in ``skip``.  A field's doc comes from ``docs``, its
        attrs ``metadata["doc"]``, or its name.
        """
        get = stats if callable(stats) and not attrs.has(type(stats)) else (lambda: stats)
        instance = get()
        gauge_names = set(gauges)
        label_names = dict(labels or {})
        doc_texts = dict(docs or {})
        skipped = set(skip)
        families: list[Family] = []
        for field in attrs.fields(type(instance)):
            name = field.name.lstrip("_")
            if field.name in skipped or name in skipped:
                continue
            value = getattr(instance, field.name)
            doc = doc_texts.get(name) or field.metadata.get("doc") or name.replace("_", " ")
            kind = "gauge" if name in gauge_names else "counter"

            def read(attribute: str = field.name) -> Any:
                return getattr(get(), attribute)

            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                families.append(Family(f"{prefix}_{name}", kind, doc, read))
            elif isinstance(value, Mapping):
                label = label_names.get(name, "key")
                families.append(Family(f"{prefix}_{name}", kind, doc, read, (label,)))
        families.extend(extra)
        return cls(families)


def _bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


@attrs.define
class _Histogram:
    """Per-bucket (not cumulative) counts and the sum, for one label set."""

    counts: list[int]
    total: float = 0.0


class RpcMetrics(Collector):
    """An RPC call observer that is also the collector exposing what it saw.

    Add it to ``Registry.observers``; every call costs a lock, a dict update and a bisect.
    ``netsuite_rpc_calls_total{transport,method,outcome}`` counts calls and
    ``netsuite_rpc_call_duration_seconds{transport,method}`` is their latency in the
    core (validation and the method itself).  Method names that ``known`` (a container,
    usually the RPC registry) does not hold are counted as ``method="(unknown)"``, so
    a client sending random names cannot grow the label set without bound.
    """

    def __init__(self, known: Any = None, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.known = known
        self.buckets = tuple(sorted(buckets))
        self.calls: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}
        # gRPC calls arrive on grpcio's worker threads, the others on the reactor thread,
        # and scrapes on the reactor thread: one uncontended lock keeps counts and
        # snapshots consistent (about 0.1 µs a call).
        self._lock = threading.Lock()

    def __call__(self, transport: str, method: str, outcome: str, seconds: float) -> None:
        if self.known is not None and method not in self.known:
            method = "(unknown)"
        key = (transport, method, outcome)
        slot = bisect.bisect_left(self.buckets, seconds)
        with self._lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            histogram = self.latency.get((transport, method))
            if histogram is None:
                histogram = self.latency[(transport, method)] = _Histogram(
                    [0] * (len(self.buckets) + 1))
            histogram.counts[slot] += 1
            histogram.total += seconds

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            call_counts = sorted(self.calls.items())
            latencies = sorted((key, list(h.counts), h.total)
                               for key, h in self.latency.items())
        calls = CounterMetricFamily("netsuite_rpc_calls", "RPC calls by transport, method "
                                    "and outcome", labels=["transport", "method", "outcome"])
        for key, count in call_counts:
            calls.add_metric(list(key), float(count))
        yield calls
        latency = HistogramMetricFamily(
            "netsuite_rpc_call_duration_seconds",
            "Time spent in the RPC core per call (validation and the method)",
            labels=["transport", "method"],
        )
        bounds = [*self.buckets, math.inf]
        for key, counts, total in latencies:
            cumulative = 0
            points = []
            for bound, count in zip(bounds, counts, strict=True):
                cumulative += count
                points.append((_bucket_label(bound), float(cumulative)))
            latency.add_metric(list(key), points, sum_value=total)
        yield latency


# ---------------------------------------------------------------- serving


def make_registry(*collectors: Collector, process: bool = True) -> CollectorRegistry:
    """A fresh registry with ``collectors`` (and, by default, the process's RSS, CPU and
    open file descriptors as ``process_*``, read from ``/proc``)."""
    registry = CollectorRegistry(auto_describe=False)
    if process:
        ProcessCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


class MetricsResource(resource.Resource):
    """``/metrics``: the registry in Prometheus text format, rendered in the reactor thread
    (collectors read plain counters that only the reactor thread changes)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render(self, request: server.Request) -> bytes:
        if request.path not in (b"/metrics", b"/metrics/"):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"not found: metrics are at /metrics\n"
        if request.method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader(b"allow", b"GET, HEAD")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"method not allowed\n"
        body = generate_latest(self.registry)
        request.setHeader(b"content-type", CONTENT_TYPE.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return body


class _QuietSite(server.Site):
    """A Site that writes no access log and no factory start/stop lines."""

    noisy = False

    def log(self, request: Any) -> None:
        pass


class MetricsService(ListenerService):
    """Serve ``registry`` at ``GET /metrics`` on ``description``; logs ``metrics listening
    on HOST:PORT`` like every other netsuite listener."""

    def __init__(self, description: str, registry: CollectorRegistry,
                 reactor: Any = None) -> None:
        self.registry = registry
        self._observing: list[tuple[list[Any], Any]] = []
        site = _QuietSite(MetricsResource(registry))
        super().__init__(description, site, "metrics", reactor=reactor)

    def observe(self, observers: list[Any], observer: Any) -> None:
        """Keep ``observer`` in ``observers`` (an RPC registry's list) while this runs."""
        self._observing.append((observers, observer))
        if self.running and observer not in observers:
            observers.append(observer)

    def startService(self) -> None:
        for observers, observer in self._observing:
            if observer not in observers:
                observers.append(observer)
        super().startService()

    def stopService(self) -> Any:
        for observers, observer in self._observing:
            if observer in observers:
                observers.remove(observer)
        return super().stopService()


def serve_metrics(parent: IServiceCollection, description: str | None, *collectors: Collector,
                  reactor: Any = None) -> MetricsService | None:
    """If ``description`` is set, a :class:`MetricsService` for ``collectors`` (plus the
    process collector) added to ``parent``; else nothing (``None``).  An
    :class:`RpcMetrics` among ``collectors`` is also kept in its registry's observers
    while the service runs."""
    if description is None:
        return None
    service = MetricsService(description, make_registry(*collectors), reactor=reactor)
    for collector in collectors:
        observers = getattr(getattr(collector, "known", None), "observers", None)
        if isinstance(collector, RpcMetrics) and observers is not None:
            service.observe(observers, collector)
    service.setServiceParent(parent)
    return service


class WithMetrics(MultiService):
    """A service that is not a collection, with a metrics endpoint beside it.

    Attribute access falls through to the wrapped service (``.main``), so code that
    reads ``service.stats`` or ``service.port`` keeps working.
    """

    def __init__(self, main: IService) -> None:
        super().__init__()
        self.main = main
        main.setServiceParent(self)

    def __getattr__(self, name: str) -> Any:
        if name == "main":
            raise AttributeError(name)
        return getattr(self.main, name)


def with_metrics(service: Any, description: str | None, collectors: Iterable[Collector],
                 reactor: Any = None) -> Any:
    """``service`` itself when ``description`` is ``None``; else ``service`` and a metrics
    endpoint together (``service`` if it is a collection, else a :class:`WithMetrics`)."""
    if description is None:
        return service
    parent = service if IServiceCollection.providedBy(service) else WithMetrics(service)
    serve_metrics(parent, description, *collectors, reactor=reactor)
    return parent


# ---------------------------------------------------------------- per-service collectors

_CHAT_DOCS = {
    "clients": "Chat clients connected now",
    "connections": "Chat connections accepted since start",
    "messages_in": "Lines received from chat clients (messages and commands)",
    "messages_out": "Events queued for delivery to chat clients (one per recipient)",
    "bytes_in": "Bytes read from chat clients",
    "bytes_out": "Bytes written to chat clients",
    "drops": "Chat departures by reason (quit, disconnected, idle-timeout, slow-consumer, "
             "flood, line-too-long, shutdown, max-clients)",
    "errors": "ERR lines sent to chat clients, by code",
}

_TCPLOG_DOCS = {
    "connections": "tcplog connections accepted since start",
    "connected": "tcplog connections open now",
    "lines": "Lines logged",
    "bytes": "Bytes received",
    "bad_encoding": "Lines that were not valid UTF-8 (logged escaped)",
    "too_long": "Connections closed for an over-long line",
}

_UDPECHO_DOCS = {
    "received": "Datagrams received",
    "answered": "Replies sent",
    "dropped_size": "Datagrams not answered: larger than --max-size",
    "dropped_rate": "Datagrams not answered: source over its --rate",
    "dropped_port": "Datagrams not answered: source port 0, 7, 13, 17 or 19",
    "send_failed": "Replies the kernel refused to send",
}

_RPC_DOCS = {
    "connections_open": "RPC connections open now, by transport",
    "connections_total": "RPC connections accepted since start, by transport",
    "closed_at_shutdown": "RPC connections aborted when the shutdown grace period ran out",
}


def chat_collectors(service: Any) -> list[Collector]:
    """Metrics of a ``twistd chat`` service (reads ``service.stats`` at scrape time)."""
    return [StatsCollector.from_attrs(
        "netsuite_chat", lambda: service.stats, gauges={"clients"},
        labels={"drops": "reason", "errors": "code"}, docs=_CHAT_DOCS)]


def tcplog_collectors(service: Any) -> list[Collector]:
    """Metrics of a ``twistd tcplog`` service."""
    return [StatsCollector.from_attrs("netsuite_tcplog", lambda: service.stats,
                                      gauges={"connected"}, docs=_TCPLOG_DOCS)]


def udpecho_collectors(service: Any) -> list[Collector]:
    """Metrics of a ``twistd udpecho`` service (the counters of its stats line)."""
    return [StatsCollector.from_attrs("netsuite_udpecho", lambda: service.stats,
                                      docs=_UDPECHO_DOCS)]


def rpc_collectors(service: Any) -> list[Collector]:
    """Metrics of a ``twistd rpc`` service: calls and latency by transport, method and
    outcome (an observer of ``service.registry``), and its connection counters."""
    return [
        RpcMetrics(known=service.registry),
        StatsCollector.from_attrs(
            "netsuite_rpc", lambda: service.stats, gauges={"connections_open"},
            labels={"connections_open": "transport", "connections_total": "transport"},
            docs=_RPC_DOCS),
    ]
