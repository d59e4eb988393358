"""``twistd rpc --service MODULE``: the example inventory served end to end by a real twistd,
called with the stdlib XML-RPC client and raw JSON; --no-book, --interface, bad modules."""

from __future__ import annotations

import json
import socket
import subprocess
import xmlrpc.client
from pathlib import Path

import pytest

from netsuite.rpc._tap import Options
from tests.helpers import TWISTD, TwistdProcess

ROOT = Path(__file__).resolve().parents[2]


def jsonrpc(port: int, *requests: dict[str, object]) -> list[dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(json.dumps(r).encode() for r in requests))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_example_inventory_served_end_to_end() -> None:
    with TwistdProcess("rpc", "--service", "examples.inventory", "--xmlrpc", "tcp:0",
                       "--amp", "none", "--jsonrpc", "tcp:0", "--grpc", "none",
                       "--interface", "127.0.0.1", cwd=ROOT) as server:
        xport, jport = server.port("xmlrpc"), server.port("jsonrpc")
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{xport}/RPC2", allow_none=True,
                                          use_builtin_types=True)
        assert "Inventory.Reserve" in proxy.system.listMethods()
        assert "Algorithm.Sum" in proxy.system.listMethods()
        found = proxy.Inventory.Find(["tea"])
        assert [item["sku"] for item in found] == ["tea-1"]
        assert found[0]["thumbnail"] == b"\x89PNG\r\n"
        reservation = proxy.Inventory.Reserve("tea-1", 2)
        assert reservation["left"] == 10 and reservation["reserved_by"].startswith("127.0.0.1:")
        with pytest.raises(xmlrpc.client.Fault, match="only 0 of tea-2 left"):
            proxy.Inventory.Reserve("tea-2", 1)
        answers = jsonrpc(jport,
                          {"method": "Inventory.Reserve",
                           "params": [{"sku": "cup-1", "quantity": 1}], "id": 1},
                          {"method": "Inventory.Counts", "params": [{}], "id": 2})
        # Counts is answered while Reserve waits for the warehouse: first, before the take.
        assert [a["id"] for a in answers] == [2, 1]
        assert answers[0]["result"] == {"tea-1": 10, "tea-2": 0, "cup-1": 40}
        assert answers[1]["result"]["left"] == 39


def test_no_book_leaves_the_book_out() -> None:
    with TwistdProcess("rpc", "--service", "examples.inventory", "--no-book",
                       "--xmlrpc", "none", "--amp", "none",
                       "--jsonrpc", "tcp:0:interface=127.0.0.1", "--grpc", "none",
                       cwd=ROOT) as server:
        port = server.port("jsonrpc")
        answers = jsonrpc(port, {"method": "Algorithm.Sum", "params": [{"X": 1, "Y": 2}], "id": 1},
                          {"method": "Inventory.Counts", "params": [{}], "id": 2})
        by_id = {a["id"]: a for a in answers}
        assert by_id[1]["error"] == "rpc: can't find service Algorithm.Sum"
        assert by_id[2]["error"] is None


@pytest.mark.parametrize(("module", "text"), [
    ("no_such_module_here", "--service no_such_module_here: cannot import it"),
])
def test_a_module_that_cannot_be_imported_is_a_usage_error(module: str, text: str) -> None:
    result = subprocess.run([TWISTD, "-n", "--pidfile=", "rpc", "--service", module],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert text in result.stdout + result.stderr


def test_interface_binds_bare_ports_and_max_inflight_is_parsed() -> None:
    options = Options()
    options.parseOptions(["--interface", "::1", "--amp", "9001", "--jsonrpc", "tcp:9002",
                          "--max-inflight", "7"])
    assert options["amp"] == "tcp:9001:interface=\\:\\:1"
    assert options["jsonrpc"] == "tcp:9002"
    assert options["xmlrpc"] == "tcp:8808:interface=\\:\\:1"
    assert options["gob"] is None
    assert options["max-inflight"] == 7
