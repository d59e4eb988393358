"""The ``--workers`` foundation's pure parts: worker arguments, metrics ports, adoption."""

from __future__ import annotations

import os
import socket

import pytest
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactor

from netsuite._workers import AdoptedListener, child_args, worker_metrics
from netsuite.rpc._tap import Options


def test_worker_metrics_ports() -> None:
    assert worker_metrics(None, 1) is None
    assert worker_metrics("tcp:9100", 2) == "tcp:9102"
    assert worker_metrics("tcp6:9100:interface=\\:\\:1", 1) == "tcp6:9101:interface=\\:\\:1"
    assert worker_metrics("tcp:0", 3) == "tcp:0"
    assert worker_metrics("unix:/run/m.sock", 1) == "unix:/run/m.sock"


def test_child_args_give_the_options_again() -> None:
    options = Options()
    options.parseOptions(["--workers", "3", "--no-book", "--grace", "0.5", "--jsonrpc", "9",
                          "--service", "json", "--service", "os"])
    args = child_args(options, ("workers", "jsonrpc", "xmlrpc", "amp", "gob", "grpc"),
                      repeated=("service",))
    assert "--workers" not in args and "--jsonrpc" not in args
    again = Options()
    again.parseOptions(args)
    assert (again["no-book"], again["grace"], again["service"]) == \
        (True, 0.5, ["json", "os"])


def test_adopted_listener_adopts_the_inherited_socket() -> None:
    reactor = MemoryReactor()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    fd = os.dup(listening.fileno())
    listener = AdoptedListener(f"{fd}:4", "tcp:0", Factory(), "demo", reactor)
    listener.startService()
    ((adopted_fd, family, _factory),) = reactor.adoptedPorts
    assert (adopted_fd, family) == (fd, socket.AF_INET)
    assert listener.whenListening.called and listener.port is not None
    with pytest.raises(OSError):  # the inherited descriptor was closed (adopted: copied)
        os.fstat(fd)
    listener.stopService()
    assert listener.port is None
    listening.close()
