"""The shared endpoint helpers: option parsing, client targets, and the listener service."""

from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import defer, protocol
from twisted.internet import error as neterror
from twisted.logger import globalLogPublisher

from netsuite._endpoints import (
    ListenerService,
    TargetError,
    describe_address,
    describe_connect_failure,
    listen_description,
    optional_listen_description,
    parse_host_port,
    with_backlog,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8086", "tcp:8086"),
        ("0", "tcp:0"),
        (" 8086 ", "tcp:8086"),
        ("tcp:8086:interface=127.0.0.1", "tcp:8086:interface=127.0.0.1"),
        ("unix:/tmp/x.sock", "unix:/tmp/x.sock"),
    ],
)
def test_listen_description_normalises(value: str, expected: str) -> None:
    assert listen_description(value) == expected


def test_listen_description_ssl_with_readable_files(tls_files) -> None:
    description = tls_files.server_description(8443)
    assert listen_description(description) == description


@pytest.mark.parametrize("value", ["", "70000", "localhost", "abc"])
def test_listen_description_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        listen_description(value)


def test_optional_listen_description_none() -> None:
    assert optional_listen_description("none") is None
    assert optional_listen_description("NONE") is None
    assert optional_listen_description("9") == "tcp:9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:80", ("localhost", 80)),
        ("127.0.0.1:8086", ("127.0.0.1", 8086)),
        ("[::1]:8086", ("::1", 8086)),
        ("[fe80::1%eth0]:1", ("fe80::1%eth0", 1)),
    ],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


def test_parse_host_port_url_is_named() -> None:
    with pytest.raises(TargetError, match="not a URL"):
        parse_host_port("http://127.0.0.1:80/")


def test_parse_host_port_default() -> None:
    assert parse_host_port("example.org", default_port=80) == ("example.org", 80)
    assert parse_host_port("[::1]", default_port=443) == ("::1", 443)


@pytest.mark.parametrize(
    "text", ["", "host", ":80", "host:", "host:0", "host:65536", "host:x", "::1:80", "[::1", "[]:1",
             "[::1]80"]
)
def test_parse_host_port_rejects(text: str) -> None:
    with pytest.raises(TargetError):
        parse_host_port(text)


def test_describe_address() -> None:
    class V4:
        host, port = "127.0.0.1", 5

    class V6:
        host, port = "::1", 6

    assert describe_address(V4()) == "127.0.0.1:5"
    assert describe_address(V6()) == "[::1]:6"


@pytest_twisted.inlineCallbacks
def test_listener_service_logs_chosen_port() -> None:
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    factory = protocol.Factory.forProtocol(protocol.Protocol)
    service = ListenerService("tcp:0:interface=127.0.0.1", factory, "test")
    try:
        service.startService()
        port = yield service.whenListening
        bound = port.getHost().port
        assert bound != 0
        with socket.create_connection(("127.0.0.1", bound), timeout=5):
            pass
        messages = [e for e in events if e.get("label") == "test"]
        assert messages and messages[0]["address"] == f"127.0.0.1:{bound}"
    finally:
        globalLogPublisher.removeObserver(events.append)
        yield service.stopService()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", bound), timeout=5)


@pytest_twisted.inlineCallbacks
def test_listener_service_port_in_use_raises() -> None:
    factory = protocol.Factory.forProtocol(protocol.Protocol)
    first = ListenerService("tcp:0:interface=127.0.0.1", factory, "first")
    first.startService()
    port = yield first.whenListening
    second = ListenerService(f"tcp:{port.getHost().port}:interface=127.0.0.1", factory, "second")
    second.whenListening.addErrback(lambda _: None)
    try:
        with pytest.raises(Exception, match=r"(?i)address already in use|couldn't listen"):
            second.startService()
    finally:
        yield first.stopService()


@pytest_twisted.inlineCallbacks
def test_listener_service_ssl(tls_files) -> None:
    """An ``ssl:`` description with a throwaway certificate serves TLS."""
    import ssl

    factory = protocol.Factory.forProtocol(protocol.Protocol)
    service = ListenerService(tls_files.server_description(), factory, "tls-test")
    service.startService()
    port = yield service.whenListening
    try:
        context = ssl.create_default_context(cafile=str(tls_files.cert))

        def handshake() -> str:
            with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    return tls.version() or ""

        from twisted.internet.threads import deferToThread

        version = yield deferToThread(handshake)
        assert version.startswith("TLS")
    finally:
        yield service.stopService()


def test_with_backlog_added_to_tcp_and_ssl_only() -> None:
    assert with_backlog("tcp:8086") == "tcp:8086:backlog=1024"
    assert with_backlog("ssl:0:privateKey=k") == "ssl:0:privateKey=k:backlog=1024"
    assert with_backlog("tcp:0:backlog=5") == "tcp:0:backlog=5"
    assert with_backlog("unix:/tmp/x") == "unix:/tmp/x"
    assert ListenerService("8086", None, "x").description == "tcp:8086:backlog=1024"  # type: ignore[arg-type]


@pytest.mark.parametrize("value, interface, expected", [
    ("8086", None, "tcp:8086"),
    ("8086", "127.0.0.1", "tcp:8086:interface=127.0.0.1"),
    ("8086", "::1", "tcp:8086:interface=\\:\\:1"),
    ("tcp:8086:interface=0.0.0.0", "127.0.0.1", "tcp:8086:interface=0.0.0.0"),
    ("ssl:8443:privateKey=k.pem", "127.0.0.1", "ssl:8443:privateKey=k.pem"),
    ("none", "127.0.0.1", None),
    ("NONE", None, None),
])
def test_resolve_listener(value: str, interface: str | None, expected: str | None) -> None:
    from netsuite._endpoints import resolve_listener

    assert resolve_listener(value, interface) == expected


def test_listen_option_keeps_the_text() -> None:
    from netsuite._endpoints import listen_option

    assert listen_option(" 8086 ") == "8086"
    assert listen_option("none") == "none"
    assert listen_option("tcp:1") == "tcp:1"
    with pytest.raises(ValueError):
        listen_option("99999")


def test_resolved_ipv6_interface_parses() -> None:
    from twisted.internet import endpoints
    from twisted.internet.testing import MemoryReactor

    from netsuite._endpoints import resolve_listener

    description = resolve_listener("0", "::1")
    assert description is not None
    endpoint = endpoints.serverFromString(MemoryReactor(), description)
    assert endpoint._interface == "::1"


@pytest.mark.parametrize("value, message", [
    ("bogus:1", r"^bogus:1: unknown endpoint type 'bogus'"),
    ("tcp:1:colour=blue", r"^tcp:1:colour=blue: unknown parameter 'colour'$"),
    ("tcp:99999", r"port 99999 is out of range"),
    ("ssl:0:privateKey=/no/such/key.pem", r"/no/such/key.pem: no such file or directory$"),
])
def test_listen_description_checks_the_description(value: str, message: str) -> None:
    """Problems a parse can find are usage errors (ValueError), in one line."""
    with pytest.raises(ValueError, match=message):
        listen_description(value)


def test_listener_service_failure_is_one_line_startup_error() -> None:
    """A description that cannot be listened on ends twistd with status 1, no traceback."""
    from twisted.internet.testing import MemoryReactor

    from netsuite._twistd import StartupError

    factory = protocol.Factory.forProtocol(protocol.Protocol)
    service = ListenerService("bogus:1", factory, "test", reactor=MemoryReactor())
    with pytest.raises(StartupError) as raised:
        service.startService()
    assert str(raised.value) == "test: cannot listen on bogus:1: Unknown endpoint type: 'bogus'"
    assert raised.value.code == 1
    assert isinstance(raised.value, Exception)  # twistd's start-up code reports Exceptions


def test_describe_connect_failure_words_every_client_prints() -> None:
    assert describe_connect_failure(neterror.ConnectingCancelledError(None)) == "timed out"
    assert describe_connect_failure(defer.TimeoutError(), 2.5) == "timed out after 2.5 s"
    assert describe_connect_failure(neterror.ConnectionRefusedError()) == "connection refused"
    assert describe_connect_failure(neterror.DNSLookupError("x")) == "cannot resolve host name"
    assert describe_connect_failure(OSError("first line\nsecond")) == "first line"
    assert describe_connect_failure(ValueError()) == "ValueError"
