"""TCP line log over real sockets: the twistd plugin, TLS and IPv6 listeners."""

from __future__ import annotations

import re
import signal
import socket
import ssl

import pytest

from netsuite.tcplog._tap import Options
from tests.helpers import TLSFiles, TwistdProcess, has_ipv6


def wait_closed(sock: socket.socket) -> bytes:
    """Read until the server closes; returns whatever it sent (should be nothing)."""
    sock.settimeout(10)
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def test_options() -> None:
    options = Options()
    options.parseOptions([])
    assert options["listen"] == "tcp:8088"  # every interface
    assert options["max-line"] == 4096
    options.parseOptions(["--port", "0", "--max-line", "10"])
    assert options["listen"] == "tcp:0"
    assert options["max-line"] == 10


@pytest.mark.parametrize("argv, listen", [
    (["--interface", "127.0.0.1"], "tcp:8088:interface=127.0.0.1"),
    (["--interface", "::1", "--port", "9"], "tcp:9:interface=\\:\\:1"),
    (["--interface", "127.0.0.1", "--port", "tcp6:9"], "tcp6:9"),  # a description keeps its own
])
def test_interface_binds_a_bare_port(argv: list[str], listen: str) -> None:
    options = Options()
    options.parseOptions(argv)
    assert options["listen"] == listen


def test_port_none_is_refused() -> None:
    from twisted.python.usage import UsageError

    with pytest.raises(UsageError, match="nothing else to listen on"):
        Options().parseOptions(["--port", "none"])


def test_twistd_interface_option() -> None:
    with TwistdProcess("tcplog", "--port", "0", "--interface", "127.0.0.1") as proc:
        match = proc.wait_for(r"tcplog listening on (\S+):(\d+)")
        assert match.group(1) == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", int(match.group(2))), timeout=10):
            pass


def test_twistd_plugin_logs_lines_and_survives_bad_clients() -> None:
    with TwistdProcess("tcplog", "--port", "tcp:0:interface=127.0.0.1",
                       "--max-line", "100") as proc:
        port = proc.port("tcplog")
        good = socket.create_connection(("127.0.0.1", port), timeout=10)
        addr = f"127.0.0.1:{good.getsockname()[1]}"
        proc.wait_for(rf"connect {re.escape(addr)}$")
        good.sendall("hello, wörld\r\n".encode())
        proc.wait_for(rf"{re.escape(addr)}: hello, wörld$")

        bad = socket.create_connection(("127.0.0.1", port), timeout=10)
        bad_addr = f"127.0.0.1:{bad.getsockname()[1]}"
        bad.sendall(b"bad \xff\xfe\n" + b"x" * 500)
        assert wait_closed(bad) == b""
        proc.wait_for(rf"{re.escape(bad_addr)}: bad \\xff\\xfe$")
        proc.wait_for(rf"{re.escape(bad_addr)}: line too long \(more than 100 bytes\)")
        proc.wait_for(rf"disconnect {re.escape(bad_addr)}$")
        bad.close()

        abrupt = socket.create_connection(("127.0.0.1", port), timeout=10)
        abrupt_addr = f"127.0.0.1:{abrupt.getsockname()[1]}"
        abrupt.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, bytes([1, 0, 0, 0, 0, 0, 0, 0]))
        abrupt.sendall(b"half a line")
        abrupt.close()  # RST
        proc.wait_for(rf"disconnect {re.escape(abrupt_addr)}$")

        good.sendall(b"still here\n")
        proc.wait_for(rf"{re.escape(addr)}: still here$")
        good.shutdown(socket.SHUT_WR)
        assert wait_closed(good) == b""
        proc.wait_for(rf"disconnect {re.escape(addr)}$")
        good.close()
        assert proc.stop(signal.SIGTERM) in (0, -signal.SIGTERM)


def test_tls_listener(tls_files: TLSFiles) -> None:
    with TwistdProcess("tcplog", "--port", tls_files.server_description()) as proc:
        port = proc.port("tcplog")
        context = ssl.create_default_context(cafile=str(tls_files.cert))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as conn:
            addr = f"127.0.0.1:{conn.getsockname()[1]}"
            conn.sendall(b"secret line\n")
            proc.wait_for(rf"{re.escape(addr)}: secret line$")


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback on this machine")
def test_ipv6_listener() -> None:
    with TwistdProcess("tcplog", "--port", r"tcp6:0:interface=\:\:1") as proc:
        port = proc.port("tcplog")
        with socket.create_connection(("::1", port), timeout=10) as conn:
            addr = f"[::1]:{conn.getsockname()[1]}"
            proc.wait_for(rf"connect {re.escape(addr)}$")
            conn.sendall(b"six\n")
            proc.wait_for(rf"{re.escape(addr)}: six$")
