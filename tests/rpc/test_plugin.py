"""The ``rpc`` twistd plugin: options, wiring, and graceful shutdown."""

from __future__ import annotations

import pytest
from twisted.python import usage

from netsuite.rpc._tap import Options


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_defaults() -> None:
    options = parse()
    assert options["xmlrpc"] == "tcp:8808"
    assert options["amp"] == "tcp:8809"
    assert options["jsonrpc"] == "tcp:8085"
    assert options["gob"] is None
    assert options["grpc"] == "tcp:50051"
    assert options["grace"] == 5.0
    assert options["max-request"] == 1024 * 1024
    assert options["max-depth"] == 100
    assert options["explicit"] == set()


def test_listener_options() -> None:
    options = parse("--xmlrpc", "none", "--amp", "9001", "--jsonrpc", "tcp:0:interface=127.0.0.1",
                    "--gob", "tcp:0", "--grpc", "NONE", "--grace", "0.5")
    assert options["xmlrpc"] is None
    assert options["amp"] == "tcp:9001"
    assert options["jsonrpc"] == "tcp:0:interface=127.0.0.1"
    assert options["gob"] == "tcp:0"
    assert options["grpc"] is None
    assert options["grace"] == 0.5
    assert options["explicit"] == {"amp", "jsonrpc", "gob"}


@pytest.mark.parametrize("argv", [
    ["--amp", "70000"],
    ["--amp", ""],
    ["--grace", "-1"],
    ["--max-request", "0"],
    ["--xmlrpc", "none", "--amp", "none", "--jsonrpc", "none", "--grpc", "none"],
])
def test_bad_options(argv: list[str]) -> None:
    with pytest.raises(usage.UsageError):
        parse(*argv)
