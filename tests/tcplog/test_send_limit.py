"""``netsuite send`` of a line over ``twistd tcplog``'s limit always exits 1 with the reason.

The server resets the connection on such a line; the client closes only its sending side
and waits for the server's close, so the outcome no longer depends on which end closes
first.  Each case runs several times against one real ``twistd tcplog``: a race would show.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TLSFiles, TwistdProcess

NETSUITE = str(Path(sys.executable).with_name("netsuite"))
ROUNDS = 4


@pytest.fixture(scope="module")
def tcplog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwistdProcess]:
    with TwistdProcess("tcplog", "--port", "tcp:0:interface=127.0.0.1", "--max-line", "10",
                       cwd=tmp_path_factory.mktemp("tcplog")) as server:
        yield server


def send(port: int, data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([NETSUITE, "send", f"127.0.0.1:{port}", *options], input=data,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("data", [
    b"x" * 100 + b"\n",                       # the long line is all there is
    b"fine\n" + b"x" * 11 + b"\n",            # one byte over, last
    b"x" * 100 + b"\nmore\nlines\n",          # more after it
    b"fine\n" + b"y" * 5000,                  # a long last line without its end
], ids=["only", "one-over-last", "more-after", "unterminated"])
def test_line_over_the_limit_exits_1(tcplog: TwistdProcess, data: bytes) -> None:
    port = tcplog.port("tcplog")
    for _ in range(ROUNDS):
        result = send(port, data, "--quiet")
        assert result.returncode == 1, result
        assert result.stderr.decode() == (
            f"netsuite send: 127.0.0.1:{port} closed the connection (reset: it refused what "
            "was sent, such as a line over its length limit)\n")


def test_lines_within_the_limit_exit_0(tcplog: TwistdProcess) -> None:
    port = tcplog.port("tcplog")
    for round_ in range(ROUNDS):
        result = send(port, f"ok {round_}\n0123456789\n".encode())
        assert result.returncode == 0, result
        assert result.stdout == b"sent 5 bytes\nsent 11 bytes\n"
        assert result.stderr == b""
        tcplog.wait_for(rf"127\.0\.0\.1:\d+: ok {round_}$")


def test_tls_line_over_the_limit_exits_1(tls_files: TLSFiles, tmp_path: Path) -> None:
    with TwistdProcess("tcplog", "--port", tls_files.server_description(), "--max-line", "10",
                       cwd=tmp_path) as server:
        port = server.port("tcplog")
        untrusted = send(port, b"hello\n", "--tls")
        assert untrusted.returncode == 1
        assert untrusted.stderr.decode() == (
            f"netsuite send: TLS error: certificate verify failed (127.0.0.1:{port}) "
            "(--ca FILE trusts your CA; --insecure skips the check)\n")
        tls = ["--tls", "--ca", str(tls_files.cert)]
        for _ in range(ROUNDS // 2):
            assert send(port, b"short\n", *tls).returncode == 0
            result = send(port, b"x" * 100 + b"\n", *tls)
            assert result.returncode == 1, result
            assert b"closed the connection (reset" in result.stderr, result
