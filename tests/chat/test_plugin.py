"""The ``chat`` twistd plugin: options, and the real process (serve, SIGTERM/SIGINT)."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from twisted.python import usage

from netsuite.chat._tap import Options, makeService
from tests.helpers import TwistdProcess


def test_options_defaults() -> None:
    options = Options()
    options.parseOptions([])
    assert options["port"] == "8086" and options["interface"] is None
    limits = options.limits()
    assert (limits.max_line, limits.idle_timeout, limits.max_backlog, limits.flood,
            limits.max_clients) == (4096, 60.0, 1024 * 1024, 0, 10000)


def test_options_parsed() -> None:
    options = Options()
    options.parseOptions(["--port", "9000", "--max-line", "100", "--idle-timeout", "5",
                          "--max-backlog", "2048", "--flood", "10", "--max-clients", "3",
                          "--shutdown-timeout", "1.5"])
    assert options["port"] == "9000"
    limits = options.limits()
    assert (limits.max_line, limits.idle_timeout, limits.max_backlog, limits.flood,
            limits.max_clients, limits.shutdown_timeout) == (100, 5.0, 2048, 10, 3, 1.5)


@pytest.mark.parametrize("args", [["--max-line", "0"], ["--max-clients", "-1"],
                                  ["--flood", "x"], ["--port", ""], ["--idle-timeout", "-1"]])
def test_options_rejected(args: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        Options().parseOptions(args)


def test_make_service_exposes_stats() -> None:
    from twisted.internet.task import Clock

    options = Options()
    options.parseOptions(["--port", "tcp:0"])
    service = makeService(options, reactor=Clock())
    assert service.listener.description.startswith("tcp:0")
    assert service.stats is service.factory.stats is service.room.stats
    assert service.stats.clients == 0 and service.listener.label == "chat"


def read_until(sock: socket.socket, text: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while text not in data:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in {data!r}")
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_twistd_serves_and_says_bye_on_signal(sig: int) -> None:
    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1") as server:
        port = server.port("chat")
        a = socket.create_connection(("127.0.0.1", port))
        b = socket.create_connection(("127.0.0.1", port))
        try:
            read_until(a, b"JOIN guest2\n")
            a.sendall(b"/nick alice\nhello over the wire\n")
            got = read_until(b, b"MSG alice hello over the wire\n")
            assert got.startswith(b"WELCOME guest2\n")
            server.wait_for(r"chat nick guest1 -> alice")
            # twistd re-raises the signal once shut down cleanly (exit status -sig)
            assert server.stop(sig) in (0, -sig)
            tail_a = read_until(a, b"BYE shutdown\n")
            tail_b = read_until(b, b"BYE shutdown\n")
            assert tail_a.endswith(b"BYE shutdown\n") and b"PART" not in tail_a
            assert tail_b.endswith(b"BYE shutdown\n") and b"PART" not in tail_b
            assert a.recv(10) == b"" and b.recv(10) == b""  # closed after BYE
        finally:
            a.close()
            b.close()
    assert "chat connect 127.0.0.1:" in server.log
    assert "chat drop alice" in server.log and "shutdown" in server.log
    assert "hello over the wire" not in server.log  # nothing per message


def test_metrics_option_adds_an_endpoint_to_the_service() -> None:
    from twisted.internet.task import Clock

    options = Options()
    options.parseOptions(["--port", "tcp:0", "--metrics", "tcp:0:interface=127.0.0.1"])
    service = makeService(options, reactor=Clock())
    assert len(list(service)) == 2  # the chat listener and the metrics endpoint
    assert service.stats.errors == {}


def test_shutdown_stops_accepting_at_once_then_waits_for_clients() -> None:
    """SIGTERM: BYE shutdown to everyone, the listener closed in the same turn, then
    the service waits for the clients (at most --shutdown-timeout)."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import MemoryReactorClock, StringTransport

    reactor = MemoryReactorClock()
    options = Options()
    options.parseOptions(["--port", "tcp:0", "--shutdown-timeout", "2"])
    service = makeService(options, reactor)
    service.startService()
    port = service.listener.port
    stopped: list[bool] = []
    port.stopListening = lambda: stopped.append(True)  # type: ignore[method-assign]
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    client = service.factory.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    transport.loseConnection = lambda: None  # type: ignore[method-assign]  # never goes away
    client.makeConnection(transport)
    reactor.advance(0)
    done = service.stopService()
    assert stopped == [True]  # no new connections from now on
    assert transport.value().endswith(b"BYE shutdown\n")
    assert not done.called  # still waiting for the client to close
    reactor.advance(2)
    assert done.called


def test_flood_drop_after_option() -> None:
    options = Options()
    options.parseOptions(["--flood", "5", "--flood-drop-after", "3"])
    assert options.limits().flood_drop_after == 3.0
    defaults = Options()
    defaults.parseOptions([])
    assert defaults.limits().flood_drop_after == 10.0


def test_room_and_history_options() -> None:
    defaults = Options()
    defaults.parseOptions([])
    limits = defaults.limits()
    assert (limits.history, limits.history_bytes, limits.default_room, limits.max_rooms) == (
        50, 64 * 1024, "lobby", 1000)
    options = Options()
    options.parseOptions(["--history", "0", "--history-bytes", "1000", "--default-room",
                          "#Main", "--max-rooms", "3"])
    limits = options.limits()
    assert (limits.history, limits.history_bytes, limits.default_room, limits.max_rooms) == (
        0, 1000, "Main", 3)


@pytest.mark.parametrize("args", [["--default-room", "no spaces"], ["--default-room", "#"],
                                  ["--default-room", "x" * 33], ["--max-rooms", "0"],
                                  ["--history", "-1"], ["--history-bytes", "0"]])
def test_room_options_rejected(args: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        Options().parseOptions(args)


@pytest.mark.parametrize(("args", "description"), [
    ([], "tcp:8086"),
    (["--interface", "127.0.0.1"], "tcp:8086:interface=127.0.0.1"),
    (["--port", "9000", "--interface", "::1"], "tcp:9000:interface=\\:\\:1"),
    (["--port", "tcp:9000:interface=10.0.0.1", "--interface", "127.0.0.1"],
     "tcp:9000:interface=10.0.0.1"),
])
def test_interface_binds_bare_ports(args: list[str], description: str) -> None:
    from twisted.internet.task import Clock

    options = Options()
    options.parseOptions(args)
    service = makeService(options, reactor=Clock())
    assert service.listener.description.startswith(description)


def test_port_none_has_no_listener() -> None:
    from twisted.internet.task import Clock

    options = Options()
    options.parseOptions(["--port", "none"])
    service = makeService(options, reactor=Clock())
    assert service.listener is None and list(service) == []


def test_twistd_interface_binds_loopback_only() -> None:
    with TwistdProcess("chat", "--port", "0", "--interface", "127.0.0.1") as server:
        server.wait_for(r"chat listening on 127\.0\.0\.1:\d+")
        port = server.port("chat")
        with socket.create_connection(("127.0.0.1", port)) as a:
            assert read_until(a, b"ROOM lobby\n").startswith(b"WELCOME guest1\n")
