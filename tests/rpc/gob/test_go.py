"""Go interop: the book's Go net/rpc client (standard library, built offline) against
``twistd rpc`` -- rpc.DialHTTP on the XML-RPC port and rpc.Dial on --gob -- and the golden
vectors of test_gob.py re-printed by Go.  Skipped, saying why, only where ``go`` is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import TwistdProcess
from tests.rpc.gob.test_codec import EVERYTHING_GO, GOLDEN, LIST_GO, MARSHALER_GO

GO_DIR = Path(__file__).parents[1] / "go"
GO = shutil.which("go")

pytestmark = pytest.mark.skipif(GO is None, reason="Go is not installed (apt-get install "
                                "golang-go): the Go interop tests cannot run")


@pytest.fixture(scope="module")
def go_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("gohome")
    # A throwaway build cache and HOME (the standard library's net/rpc builds in seconds);
    # NETSUITE_GOCACHE reuses a cache instead.
    cache = os.environ.get("NETSUITE_GOCACHE", str(home / "gocache"))
    return {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOCACHE": str(cache),
            "HOME": str(home), "GOPATH": str(home / "gopath"), "CGO_ENABLED": "0"}


@pytest.fixture(scope="module")
def go_bin(go_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gobin")
    subprocess.run([GO, "build", "-o", str(out), "./gobclient", "./gobgolden", "./gobrich"],
                   cwd=GO_DIR,
                   env=go_env, check=True, timeout=240)
    return out


@pytest.fixture(scope="module")
def rpc_server():
    with TwistdProcess("rpc", "--xmlrpc", "tcp:0:interface=127.0.0.1",
                       "--gob", "tcp:0:interface=127.0.0.1", "--amp", "none",
                       "--jsonrpc", "none", "--grpc", "none",
                       "--service", "tests.rpc.wireservice") as server:
        yield server


def run_client(go_bin: Path, *args: str, binary: str = "gobclient") -> str:
    done = subprocess.run([str(go_bin / binary), *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_go_dialhttp_client_on_the_xmlrpc_port(go_bin, rpc_server) -> None:
    port = rpc_server.port("xmlrpc")
    out = run_client(go_bin, "-addr", f"127.0.0.1:{port}", "-n", "200")
    assert out.splitlines() == ["ok sum 3", "ok skill Skill1:Java，Skill2Go", "ok errors",
                                "ok concurrent 200"]


def test_go_raw_dial_client_on_the_gob_port(go_bin, rpc_server) -> None:
    port = rpc_server.port("gob")
    out = run_client(go_bin, "-raw", "-addr", f"127.0.0.1:{port}", "-n", "200")
    assert out.splitlines()[-1] == "ok concurrent 200"


def test_go_prints_the_golden_vectors(go_bin) -> None:
    done = subprocess.run([str(go_bin / "gobgolden")], capture_output=True, text=True,
                          timeout=60, check=True)
    printed = dict(line.split() for line in done.stdout.splitlines())
    for name, (_, data) in GOLDEN.items():
        assert bytes.fromhex(printed[name]) == data, name
    assert bytes.fromhex(printed["everything"]) == EVERYTHING_GO
    assert bytes.fromhex(printed["list"]) == LIST_GO
    assert bytes.fromhex(printed["marshaler"]) == MARSHALER_GO


@pytest.mark.parametrize("raw", [False, True], ids=["DialHTTP", "Dial"])
def test_go_client_with_its_own_structs_against_twistd(go_bin, rpc_server, raw) -> None:
    from tests.rpc.gob.test_typed import RICH_LINES

    port = rpc_server.port("gob" if raw else "xmlrpc")
    out = run_client(go_bin, "-addr", f"127.0.0.1:{port}", *(["-raw"] if raw else []),
                     binary="gobrich")
    assert out.splitlines() == RICH_LINES
