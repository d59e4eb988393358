"""Per-room metrics: bounded label values, read at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netsuite.chat._roommetrics import OTHER, room_collectors, room_counts
from netsuite.chat.testing import FakeChat


class Service:
    def __init__(self, chat: FakeChat) -> None:
        self.room = chat.room


def scrape(chat: FakeChat) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=True)
    for collector in room_collectors(Service(chat)):
        registry.register(collector)
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_rooms_and_clients_per_room() -> None:
    chat = FakeChat()
    a = chat.connect("a")
    b = chat.connect("b")
    chat.connect("c")
    a.send("/join dev\n")
    a.send("said\n")
    b.send("/join dev\n")
    got = scrape(chat)
    assert got[("netsuite_chat_rooms", ())] == 2
    assert got[("netsuite_chat_room_clients", (("room", "lobby"),))] == 1
    assert got[("netsuite_chat_room_clients", (("room", "dev"),))] == 2
    assert ("netsuite_chat_room_clients", (("room", OTHER),)) not in got


def test_label_values_are_bounded() -> None:
    chat = FakeChat(history=0)
    clients = [chat.connect(f"u{i}") for i in range(30)]
    for i, c in enumerate(clients):
        c.send(f"/join r{i % 25}\n")  # 25 rooms, r0-r4 with two clients each
    counts = room_counts(chat.room, top=20)
    assert len(counts) == 22  # lobby, 20 rooms, (other)
    assert counts["lobby"] == 0
    assert all(counts[f"r{i}"] == 2 for i in range(5))
    assert counts[OTHER] == 30 - sum(n for k, n in counts.items() if k != OTHER)
    assert sum(counts.values()) == 30


def test_twistd_chat_exports_room_metrics() -> None:
    import socket
    import urllib.request

    from tests.helpers import TwistdProcess

    with TwistdProcess("chat", "--port", "tcp:0:interface=127.0.0.1", "--metrics",
                       "tcp:0:interface=127.0.0.1") as server:
        with socket.create_connection(("127.0.0.1", server.port("chat"))) as sock:
            sock.sendall(b"/join ops\n/ping done\n")
            sock.settimeout(10)
            data = b""
            while b"PONG done\n" not in data:
                data += sock.recv(4096)
            url = f"http://127.0.0.1:{server.port('metrics')}/metrics"
            body = urllib.request.urlopen(url, timeout=10).read().decode()
    assert 'netsuite_chat_room_clients{room="ops"} 1.0' in body
    assert 'netsuite_chat_room_clients{room="lobby"} 0.0' in body
    assert "netsuite_chat_rooms 2.0" in body
