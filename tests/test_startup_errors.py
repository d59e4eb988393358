"""Every plugin's start-up errors under real ``twistd``: one line, exit status 1.

A bad option value, an endpoint description that does not parse, a key file that is not
there, a port in use and an address this host does not have: ``twistd`` prints one line
naming what is wrong (the option, or the listener and its description) and no traceback.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TWISTD

#: plugin -> (listener option, the other options that keep it to that one listener)
PLUGINS: dict[str, tuple[str, list[str]]] = {
    "chat": ("--port", []),
    "tcplog": ("--port", []),
    "rpc": ("--amp", ["--xmlrpc", "none", "--jsonrpc", "none", "--grpc", "none"]),
    "udpecho": ("--metrics", []),
}
#: An address of the documentation range (RFC 5737): no host has it, so bind fails.
UNASSIGNED = "192.0.2.1"


def twistd(tmp_path: Path, plugin: str, *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [TWISTD, "-n", "--pidfile=", plugin, *args], capture_output=True, text=True,
        cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL,
    )
    return result.returncode, result.stdout + result.stderr


def assert_one_line(code: int, output: str, pattern: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output, output
    matching = [line for line in output.splitlines() if re.search(pattern, line)]
    assert len(matching) == 1, output
    problems = [line for line in output.splitlines()
                if re.search(r"(?i)error|exception|failed", line) and line not in matching]
    assert not problems, output


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_unknown_endpoint_type(plugin: str, tmp_path: Path) -> None:
    option, rest = PLUGINS[plugin]
    code, output = twistd(tmp_path, plugin, *rest, option, "bogus:1")
    assert_one_line(code, output,
                    rf"^twistd {plugin}: {option}: bogus:1: unknown endpoint type 'bogus'")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_missing_key_file(plugin: str, tmp_path: Path) -> None:
    option, rest = PLUGINS[plugin]
    missing = tmp_path / "missing-key.pem"
    code, output = twistd(tmp_path, plugin, *rest, option, f"ssl:0:privateKey={missing}")
    assert_one_line(code, output,
                    rf"^twistd {plugin}: {option}: .*{re.escape(str(missing))}: "
                    "no such file or directory")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_port_in_use(plugin: str, tmp_path: Path, busy_port: int) -> None:
    option, rest = PLUGINS[plugin]
    description = f"tcp:{busy_port}:interface=127.0.0.1"
    code, output = twistd(tmp_path, plugin, *rest, option, description)
    assert_one_line(code, output,
                    rf"\w+: cannot listen on {description}: address already in use$")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_address_not_on_this_host(plugin: str, tmp_path: Path) -> None:
    option, rest = PLUGINS[plugin]
    description = f"tcp:0:interface={UNASSIGNED}"
    code, output = twistd(tmp_path, plugin, *rest, option, description)
    assert_one_line(code, output,
                    rf"\w+: cannot listen on {description}: cannot assign requested address$")


@pytest.mark.parametrize("plugin, option", [
    ("chat", "--idle-timeout"), ("tcplog", "--max-line"), ("rpc", "--grace"),
    ("udpecho", "--rate"),
])
def test_bad_option_value(plugin: str, option: str, tmp_path: Path) -> None:
    code, output = twistd(tmp_path, plugin, option, "lots")
    assert_one_line(code, output, rf"^twistd {plugin}: {option}: 'lots' is not")
    assert len(output.strip().splitlines()) == 1, output


def test_unknown_option(tmp_path: Path) -> None:
    code, output = twistd(tmp_path, "tcplog", "--colour", "blue")
    assert_one_line(code, output, r"^twistd tcplog: .*colour.* \(see: twistd tcplog --help\)")


@pytest.mark.parametrize("case", ["port in use", "address not on this host"])
def test_udpecho_cannot_bind(case: str, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        if case == "port in use":
            argv = ["--port", str(taken.getsockname()[1])]
            reason = "address already in use"
        else:
            argv = ["--port", "0", "--interface", UNASSIGNED]
            reason = "cannot assign requested address"
        code, output = twistd(tmp_path, "udpecho", *argv)
    assert_one_line(code, output, rf"udpecho: cannot listen on udp \S+: {reason}$")


def test_daemon_reports_to_its_shell(tmp_path: Path, busy_port: int) -> None:
    """Daemonizing (no -n), the parent prints the reason and exits 1; the log has one line."""
    description = f"tcp:{busy_port}:interface=127.0.0.1"
    result = subprocess.run(
        [TWISTD, f"--pidfile={tmp_path / 'tcplog.pid'}", f"--logfile={tmp_path / 'tcplog.log'}",
         "tcplog", "--port", description],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result
    message = f"tcplog: cannot listen on {description}: address already in use"
    assert f"StartupError: {message}" in result.stderr, result.stderr
    # The parent exits as soon as the daemon reports; the daemon itself then removes its
    # pid file and finishes its log, which on a loaded machine can come a little later.
    pidfile = tmp_path / "tcplog.pid"
    deadline = time.monotonic() + 20
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pidfile.exists()
    assert_one_line(1, (tmp_path / "tcplog.log").read_text(), re.escape(message))


def test_rpc_grpc_bad_description(tmp_path: Path) -> None:
    """The gRPC listener's option is checked like every other listener's."""
    code, output = twistd(tmp_path, "rpc", "--grpc", "foo:1")
    assert_one_line(code, output, r"^twistd rpc: --grpc: foo:1: unknown endpoint type 'foo'")
