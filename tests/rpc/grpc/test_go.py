"""Go interop for gRPC: a grpc-go client (Debian's golang-google-grpc-dev, built offline in
GOPATH mode; code generated from netsuite.proto is committed in tests/rpc/go/grpcclient/)
against ``twistd rpc`` under both reactors.  Skipped, saying why, where Go or Debian's
grpc-go packages are absent (.ci/run installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import TwistdProcess

CLIENT_DIR = Path(__file__).parents[1] / "go" / "grpcclient"
GOCODE = Path("/usr/share/gocode")
GO = shutil.which("go")

pytestmark = [
    pytest.mark.skipif(GO is None, reason="Go is not installed (apt-get install golang-go): "
                       "the Go gRPC client test cannot run"),
    pytest.mark.skipif(not (GOCODE / "src/google.golang.org/grpc/server.go").exists()
                       or not (GOCODE / "src/github.com/golang/protobuf/proto/registry.go")
                       .exists(),
                       reason="Debian's grpc-go is not installed (apt-get install "
                       "golang-google-grpc-dev golang-github-golang-protobuf-1-5-dev "
                       "golang-google-protobuf-dev): the Go gRPC client test cannot run"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def grpc_client(tmp_path_factory) -> Path:
    gopath = tmp_path_factory.mktemp("gopath")
    shutil.copytree(CLIENT_DIR, gopath / "src" / "grpcclient")
    # A build cache under the temp dir, kept between runs (a cold build of grpc-go takes
    # ~30 s on 2 cores, a warm one ~1 s).
    cache = os.environ.get("NETSUITE_GOCACHE",
                           str(Path(tempfile.gettempdir()) / "netsuite-gocache"))
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": f"{gopath}:{GOCODE}",
           "GOPROXY": "off", "GOFLAGS": "", "GOCACHE": cache, "HOME": str(gopath),
           "CGO_ENABLED": "0"}
    binary = gopath / "grpcclient"
    subprocess.run([GO, "build", "-o", str(binary), "."], cwd=gopath / "src" / "grpcclient",
                   env=env, check=True, timeout=300)
    return binary


@pytest.mark.parametrize("extra", [(), ("--reactor=asyncio",)], ids=["default", "asyncio"])
def test_go_grpc_client(grpc_client, extra) -> None:
    with TwistdProcess("rpc", "--xmlrpc", "none", "--amp", "none", "--jsonrpc", "none",
                       "--grpc", "tcp:0:interface=127.0.0.1", extra_twistd=extra) as server:
        port = server.port("grpc")
        done = subprocess.run([str(grpc_client), "-addr", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["ok sum 3", "ok skill Skill1:Java，Skill2Go",
                                            "ok errors"]
