"""The shared Prometheus metrics module: option, collectors, RPC observer, the /metrics site."""

from __future__ import annotations

import io
import signal

import attrs
import pytest
import pytest_twisted
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.application.service import MultiService
from twisted.internet import defer, reactor
from twisted.internet.testing import MemoryReactor, MemoryReactorClock
from twisted.python import usage
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from netsuite._metrics import (
    CONTENT_TYPE,
    LATENCY_BUCKETS,
    Family,
    MetricsService,
    RpcMetrics,
    StatsCollector,
    WithMetrics,
    chat_collectors,
    make_registry,
    metrics_description,
    metrics_option,
    rpc_collectors,
    serve_metrics,
    tcplog_collectors,
    udpecho_collectors,
    with_metrics,
)
from netsuite.rpc._core import Registry, RpcError
from tests.helpers import TwistdProcess


@attrs.define
class FakeStats:
    """Shaped like a service's Stats: counters, a gauge, a mapping, a non-number."""

    clients: int = 0
    messages_in: int = 0
    bytes_in: int = attrs.field(default=0, metadata={"doc": "bytes received"})
    drops: dict[str, int] = attrs.field(factory=dict)
    started: bool = True
    name: str = "x"


def samples(registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample in the registry's text output, parsed back: (name, labels) -> value."""
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# ---------------------------------------------------------------- option


@pytest.mark.parametrize(("value", "expected"), [
    ("9100", "tcp:9100"),
    ("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1"),
    ("none", None),
    ("NONE", None),
])
def test_metrics_description(value: str, expected: str | None) -> None:
    assert metrics_description(value) == expected


@pytest.mark.parametrize("value", ["", "99999", "localhost"])
def test_metrics_description_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        metrics_description(value)


class _Options(usage.Options):
    optParameters = [metrics_option()]


def test_metrics_option_default_off_and_parsed() -> None:
    options = _Options()
    options.parseOptions([])
    assert options["metrics"] is None
    options = _Options()
    options.parseOptions(["--metrics", "9100"])
    assert options["metrics"] == "tcp:9100"
    with pytest.raises(usage.UsageError):
        _Options().parseOptions(["--metrics", "nonsense"])


# ---------------------------------------------------------------- collectors


def test_stats_collector_reads_at_scrape_time() -> None:
    stats = FakeStats()
    registry = make_registry(
        StatsCollector.from_attrs("t", stats, gauges={"clients"}, labels={"drops": "reason"}),
        process=False,
    )
    before = samples(registry)
    assert before[("t_clients", ())] == 0
    assert before[("t_messages_in_total", ())] == 0
    assert not any(name.startswith("t_started") or name.startswith("t_name")
                   for name, _ in before)
    stats.clients = 3
    stats.messages_in += 7
    stats.bytes_in += 700
    stats.drops["slow-consumer"] = 2
    stats.drops["flood"] = 1
    after = samples(registry)
    assert after[("t_clients", ())] == 3
    assert after[("t_messages_in_total", ())] == 7
    assert after[("t_bytes_in_total", ())] == 700
    assert after[("t_drops_total", (("reason", "slow-consumer"),))] == 2
    assert after[("t_drops_total", (("reason", "flood"),))] == 1
    text = generate_latest(registry).decode()
    assert "# HELP t_bytes_in_total bytes received" in text
    assert "# TYPE t_clients gauge" in text
    assert "# TYPE t_messages_in_total counter" in text


def test_stats_collector_callable_source_and_extra_family() -> None:
    holder = {"stats": FakeStats(messages_in=1)}
    collector = StatsCollector.from_attrs(
        "t", lambda: holder["stats"], skip={"bytes_in"},
        extra=[Family("t_rooms", "gauge", "rooms", lambda: 2)],
    )
    registry = make_registry(collector, process=False)
    holder["stats"] = FakeStats(messages_in=5)  # replaced object is followed
    got = samples(registry)
    assert got[("t_messages_in_total", ())] == 5
    assert got[("t_rooms", ())] == 2
    assert ("t_bytes_in_total", ()) not in got


def test_family_with_two_labels() -> None:
    family = Family("t_errors", "counter", "errors", lambda: {("amp", "OVERFLOW"): 4},
                    ("transport", "code"))
    got = samples(make_registry(StatsCollector([family]), process=False))
    assert got[("t_errors_total", (("code", "OVERFLOW"), ("transport", "amp")))] == 4


def test_process_collector_present_by_default() -> None:
    got = samples(make_registry())
    assert got[("process_resident_memory_bytes", ())] > 0
    assert got[("process_open_fds", ())] > 0


def test_registries_are_independent() -> None:
    """Two services in one process never clash (no global registry)."""
    one = make_registry(RpcMetrics(), process=True)
    two = make_registry(RpcMetrics(), process=True)
    assert samples(one).keys() == samples(two).keys()


# ---------------------------------------------------------------- RPC observer


def test_rpc_metrics_counts_by_transport_method_outcome() -> None:
    registry_rpc = Registry()

    @registry_rpc.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum")
    def _sum(x: int, y: int) -> int:
        return x + y

    observer = RpcMetrics(known=registry_rpc)
    registry_rpc.observers.append(observer)
    registry_rpc.call("Algorithm.Sum", [1, 2], transport="amp")
    registry_rpc.call("Algorithm.Sum", [1, 2], transport="amp")
    registry_rpc.call("Algorithm.Sum", [3, 4], transport="jsonrpc")
    with pytest.raises(RpcError):
        registry_rpc.call("Algorithm.Sum", [2**63 - 1, 1], transport="amp")
    with pytest.raises(RpcError):
        registry_rpc.call("Algorithm.Sum", ["a", 1], transport="amp")
    for i in range(50):  # random names never grow the label set
        with pytest.raises(RpcError):
            registry_rpc.call(f"Nope.M{i}", [], transport="xmlrpc")

    got = samples(make_registry(observer, process=False))
    calls = "netsuite_rpc_calls_total"
    assert got[(calls, (("method", "Algorithm.Sum"), ("outcome", "ok"),
                        ("transport", "amp")))] == 2
    assert got[(calls, (("method", "Algorithm.Sum"), ("outcome", "ok"),
                        ("transport", "jsonrpc")))] == 1
    assert got[(calls, (("method", "Algorithm.Sum"), ("outcome", "application-error"),
                        ("transport", "amp")))] == 1
    assert got[(calls, (("method", "Algorithm.Sum"), ("outcome", "bad-params"),
                        ("transport", "amp")))] == 1
    assert got[(calls, (("method", "(unknown)"), ("outcome", "unknown-method"),
                        ("transport", "xmlrpc")))] == 50
    count = "netsuite_rpc_call_duration_seconds_count"
    assert got[(count, (("method", "Algorithm.Sum"), ("transport", "amp")))] == 4
    inf = "netsuite_rpc_call_duration_seconds_bucket"
    assert got[(inf, (("le", "+Inf"), ("method", "(unknown)"), ("transport", "xmlrpc")))] == 50


def test_rpc_histogram_buckets_are_cumulative() -> None:
    observer = RpcMetrics()
    observer("grpc", "A.B", "ok", 0.00001)   # exactly on the first bound: counted in it
    observer("grpc", "A.B", "ok", 0.003)
    observer("grpc", "A.B", "ok", 100.0)     # past the last bound: only +Inf
    got = samples(make_registry(observer, process=False))
    bucket = "netsuite_rpc_call_duration_seconds_bucket"

    def at(le: str) -> float:
        return got[(bucket, (("le", le), ("method", "A.B"), ("transport", "grpc")))]

    assert at("1e-05") == 1
    assert at("0.0025") == 1
    assert at("0.005") == 2
    assert at(repr(LATENCY_BUCKETS[-1])) == 2
    assert at("+Inf") == 3
    total = got[("netsuite_rpc_call_duration_seconds_sum",
                 (("method", "A.B"), ("transport", "grpc")))]
    assert total == pytest.approx(100.00301)


def test_rpc_metrics_from_several_threads() -> None:
    """gRPC calls are observed on grpcio's worker threads while scrapes run elsewhere."""
    import threading

    observer = RpcMetrics()
    registry = make_registry(observer, process=False)
    start = threading.Barrier(5)

    def calls(index: int) -> None:
        start.wait()
        for i in range(3000):
            observer("grpc", f"M.{i % 7}", "ok" if index % 2 else "bad-params", 0.0001)

    threads = [threading.Thread(target=calls, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    while any(thread.is_alive() for thread in threads):
        generate_latest(registry)  # never "dictionary changed size during iteration"
    for thread in threads:
        thread.join()
    got = samples(registry)
    total = sum(v for (name, _), v in got.items() if name == "netsuite_rpc_calls_total")
    assert total == 4 * 3000
    count = sum(v for (name, _), v in got.items()
                if name == "netsuite_rpc_call_duration_seconds_count")
    assert count == 4 * 3000


# ---------------------------------------------------------------- serving


def test_serve_metrics_off_adds_nothing() -> None:
    parent = MultiService()
    assert serve_metrics(parent, None, RpcMetrics()) is None
    assert list(parent) == []


def test_serve_metrics_on_uses_label_and_description() -> None:
    parent = MultiService()
    memory = MemoryReactor()
    service = serve_metrics(parent, "tcp:9100", RpcMetrics(), reactor=memory)
    assert isinstance(service, MetricsService)
    assert list(parent) == [service]
    assert service.label == "metrics"
    parent.startService()
    assert memory.tcpServers[0][0] == 9100
    parent.stopService()


@pytest_twisted.ensureDeferred
async def test_loopback_scrape() -> None:
    """A real listener on 127.0.0.1 port 0: GET /metrics, HEAD, 404, 405."""
    stats = FakeStats(clients=2, messages_in=9)
    observer = RpcMetrics()
    observer("amp", "Algorithm.Sum", "ok", 0.0001)
    service = MetricsService(
        "tcp:0:interface=127.0.0.1",
        make_registry(StatsCollector.from_attrs("netsuite_test", stats, gauges={"clients"}),
                      observer),
    )
    service.startService()
    try:
        port = (await service.whenListening).getHost().port
        agent = Agent(reactor)
        base = f"http://127.0.0.1:{port}"
        response = await agent.request(b"GET", f"{base}/metrics".encode())
        body = (await readBody(response)).decode()
        assert response.code == 200
        assert response.headers.getRawHeaders(b"content-type") == [CONTENT_TYPE.encode()]
        assert "netsuite_test_clients 2.0" in body
        assert "netsuite_test_messages_in_total 9.0" in body
        assert 'netsuite_rpc_calls_total{method="Algorithm.Sum",outcome="ok",transport="amp"}' \
            in body
        assert "process_open_fds" in body
        names = {f.name for f in text_string_to_metric_families(body)}
        assert {"netsuite_test_clients", "netsuite_rpc_calls"} <= names

        head = await agent.request(b"HEAD", f"{base}/metrics".encode())
        assert head.code == 200
        assert await readBody(head) == b""

        missing = await agent.request(b"GET", f"{base}/other".encode())
        assert missing.code == 404
        await readBody(missing)

        post = await agent.request(b"POST", f"{base}/metrics".encode(), Headers(),
                                   FileBodyProducer(io.BytesIO(b"x=1")))
        assert post.code == 405
        await readBody(post)
    finally:
        await defer.maybeDeferred(service.stopService)
        pool = getattr(agent, "_pool", None)
        if pool is not None:
            await pool.closeCachedConnections()


# ---------------------------------------------------------------- per-service collectors


def test_chat_collectors_read_the_chat_stats() -> None:
    from netsuite.chat import _tap as chat_tap

    options = chat_tap.Options()
    options.parseOptions(["--port", "tcp:0"])
    service = chat_tap.makeService(options, reactor=MemoryReactorClock())
    registry = make_registry(*chat_collectors(service), process=False)
    service.stats.clients = 2
    service.stats.messages_in += 5
    service.stats.bytes_out += 99
    service.stats.dropped("slow-consumer")
    got = samples(registry)
    assert got[("netsuite_chat_clients", ())] == 2
    assert got[("netsuite_chat_messages_in_total", ())] == 5
    assert got[("netsuite_chat_bytes_out_total", ())] == 99
    assert got[("netsuite_chat_drops_total", (("reason", "slow-consumer"),))] == 1
    for name in ("connections", "messages_out", "bytes_in"):
        assert (f"netsuite_chat_{name}_total", ()) in got


def test_tcplog_collectors_and_wrapper_keeps_attributes() -> None:
    from netsuite.tcplog import _tap as tcplog_tap

    options = tcplog_tap.Options()
    options.parseOptions(["--port", "tcp:0"])
    memory = MemoryReactorClock()
    plain = tcplog_tap.makeService(options, reactor=memory)
    assert with_metrics(plain, None, tcplog_collectors(plain)) is plain
    wrapped = with_metrics(plain, "tcp:9101", tcplog_collectors(plain), reactor=memory)
    assert isinstance(wrapped, WithMetrics)
    assert wrapped.stats is plain.stats  # falls through to the wrapped service
    plain.stats.lines += 3
    plain.stats.connected = 1
    metrics = next(s for s in wrapped if isinstance(s, MetricsService))
    got = samples(metrics.registry)
    assert got[("netsuite_tcplog_lines_total", ())] == 3
    assert got[("netsuite_tcplog_connected", ())] == 1
    assert ("process_open_fds", ()) in got
    wrapped.startService()
    assert sorted(port for port, *_ in memory.tcpServers) == [0, 9101]
    wrapped.stopService()


def test_udpecho_collectors() -> None:
    from netsuite.udpecho import _tap as udpecho_tap

    options = udpecho_tap.Options()
    options.parseOptions(["--port", "0"])
    service = udpecho_tap.makeService(options, reactor=MemoryReactorClock())
    service.stats.received += 4
    service.stats.answered += 3
    service.stats.dropped_port += 1
    got = samples(make_registry(*udpecho_collectors(service), process=False))
    assert got[("netsuite_udpecho_received_total", ())] == 4
    assert got[("netsuite_udpecho_answered_total", ())] == 3
    assert got[("netsuite_udpecho_dropped_port_total", ())] == 1
    assert got[("netsuite_udpecho_dropped_rate_total", ())] == 0
    assert got[("netsuite_udpecho_dropped_size_total", ())] == 0


def test_rpc_collectors_observe_only_while_running() -> None:
    from netsuite.rpc import _tap as rpc_tap

    registry_rpc = Registry()

    @registry_rpc.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum")
    def _sum(x: int, y: int) -> int:
        return x + y

    options = rpc_tap.Options()
    options.parseOptions(["--xmlrpc", "none", "--amp", "tcp:0", "--jsonrpc", "none",
                          "--grpc", "none"])
    memory = MemoryReactorClock()
    service = rpc_tap.makeService(options, reactor=memory, registry=registry_rpc)
    same = with_metrics(service, "tcp:9102", rpc_collectors(service), reactor=memory)
    assert same is service  # a MultiService: metrics added as a child
    metrics = next(s for s in service if isinstance(s, MetricsService))
    assert registry_rpc.observers == []
    service.startService()
    try:
        assert len(registry_rpc.observers) == 1
        registry_rpc.call("Algorithm.Sum", [1, 2], transport="amp")
        service.stats.connections_open["amp"] = 2
        service.stats.connections_total["amp"] = 7
        got = samples(metrics.registry)
        assert got[("netsuite_rpc_calls_total", (("method", "Algorithm.Sum"), ("outcome", "ok"),
                                                 ("transport", "amp")))] == 1
        assert got[("netsuite_rpc_connections_open", (("transport", "amp"),))] == 2
        assert got[("netsuite_rpc_connections_total", (("transport", "amp"),))] == 7
        assert got[("netsuite_rpc_closed_at_shutdown_total", ())] == 0
    finally:
        service.stopService()
        memory.advance(10)
    assert registry_rpc.observers == []


@pytest_twisted.ensureDeferred
async def test_scrape_over_tls(tls_files) -> None:
    """``--metrics ssl:...`` works: a verified HTTPS scrape with the test CA."""
    from twisted.internet import ssl
    from twisted.web.client import BrowserLikePolicyForHTTPS, HTTPConnectionPool

    service = MetricsService(tls_files.server_description(),
                             make_registry(RpcMetrics(), process=False))
    service.startService()
    pool = HTTPConnectionPool(reactor, persistent=False)
    try:
        port = (await service.whenListening).getHost().port
        trust = ssl.Certificate.loadPEM(tls_files.cert.read_bytes())
        agent = Agent(reactor, BrowserLikePolicyForHTTPS(trustRoot=trust), pool=pool)
        response = await agent.request(b"GET", f"https://localhost:{port}/metrics".encode())
        body = await readBody(response)
        assert response.code == 200
        assert b"# TYPE netsuite_rpc_calls_total counter" in body
    finally:
        await pool.closeCachedConnections()
        await defer.maybeDeferred(service.stopService)


# ---------------------------------------------------------------- every plugin, as twistd


def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """GET /metrics from a plugin subprocess: (content type, parsed samples)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return content_type, out


def scrape_until(port: int, key: tuple[str, tuple[tuple[str, str], ...]], value: float
                 ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape until ``key`` reaches ``value`` (the server counts after the client's write)."""
    import time

    deadline = time.monotonic() + 10
    while True:
        content_type, got = scrape(port)
        assert content_type == CONTENT_TYPE
        if got.get(key) == value or time.monotonic() > deadline:
            assert got.get(key) == value, (key, got.get(key))
            return got
        time.sleep(0.05)


LOCAL = "tcp:0:interface=127.0.0.1"


def test_chat_plugin_metrics() -> None:
    import socket

    with TwistdProcess("chat", "--port", LOCAL, "--metrics", LOCAL) as proc:
        port, metrics = proc.port("chat"), proc.port("metrics")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.recv(100)  # WELCOME
            sock.sendall(b"hello\n/ping\n")
            got = scrape_until(metrics, ("netsuite_chat_messages_in_total", ()), 2)
            assert got[("netsuite_chat_clients", ())] == 1
            assert got[("netsuite_chat_connections_total", ())] == 1
            assert got[("netsuite_chat_bytes_in_total", ())] == len(b"hello\n/ping\n")
            assert got[("process_open_fds", ())] > 0
        scrape_until(metrics, ("netsuite_chat_drops_total", (("reason", "disconnected"),)), 1)
        assert proc.stop() in (0, -signal.SIGTERM)  # twistd re-raises SIGTERM on exit


def test_tcplog_plugin_metrics() -> None:
    import socket

    with TwistdProcess("tcplog", "--port", LOCAL, "--metrics", LOCAL) as proc:
        port, metrics = proc.port("tcplog"), proc.port("metrics")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"one\ntwo\n")
            got = scrape_until(metrics, ("netsuite_tcplog_lines_total", ()), 2)
            assert got[("netsuite_tcplog_connected", ())] == 1
            assert got[("netsuite_tcplog_bytes_total", ())] == 8
        scrape_until(metrics, ("netsuite_tcplog_connected", ()), 0)
        assert proc.stop() in (0, -signal.SIGTERM)  # twistd re-raises SIGTERM on exit


def test_udpecho_plugin_metrics() -> None:
    import socket

    with TwistdProcess("udpecho", "--port", "0", "--metrics", LOCAL) as proc:
        port, metrics = proc.port("udpecho"), proc.port("metrics")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(10)
            sock.sendto(b"ping", ("127.0.0.1", port))
            assert sock.recvfrom(100)[0] == b"ping"
        got = scrape_until(metrics, ("netsuite_udpecho_answered_total", ()), 1)
        assert got[("netsuite_udpecho_received_total", ())] == 1
        assert got[("netsuite_udpecho_dropped_rate_total", ())] == 0
        assert proc.stop() in (0, -signal.SIGTERM)  # twistd re-raises SIGTERM on exit


def test_rpc_plugin_metrics() -> None:
    import json
    import socket

    with TwistdProcess("rpc", "--xmlrpc", "none", "--amp", "none", "--jsonrpc", LOCAL,
                       "--grpc", "none", "--metrics", LOCAL) as proc:
        port, metrics = proc.port("jsonrpc"), proc.port("metrics")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b'{"method": "Algorithm.Sum", "params": [{"X": 1, "Y": 2}], "id": 1}\n'
                         b'{"method": "Algorithm.Sum", "params": [{"X": 9223372036854775807, '
                         b'"Y": 1}], "id": 2}\n'
                         b'{"method": "Nope.Nope", "params": [{}], "id": 3}\n')
            replies = b""
            while replies.count(b"\n") < 3:
                replies += sock.recv(4096)
            answers = {a["id"]: a for a in map(json.loads, replies.splitlines())}
            assert answers[1]["result"] == 3
            ok = ("netsuite_rpc_calls_total", (("method", "Algorithm.Sum"), ("outcome", "ok"),
                                               ("transport", "jsonrpc")))
            got = scrape_until(metrics, ok, 1)
            assert got[("netsuite_rpc_calls_total", (
                ("method", "Algorithm.Sum"), ("outcome", "application-error"),
                ("transport", "jsonrpc")))] == 1
            assert got[("netsuite_rpc_calls_total", (
                ("method", "(unknown)"), ("outcome", "unknown-method"),
                ("transport", "jsonrpc")))] == 1
            assert got[("netsuite_rpc_call_duration_seconds_count", (
                ("method", "Algorithm.Sum"), ("transport", "jsonrpc")))] == 2
            assert got[("netsuite_rpc_connections_open", (("transport", "jsonrpc"),))] == 1
        assert proc.stop() in (0, -signal.SIGTERM)  # twistd re-raises SIGTERM on exit
