"""Three chat nodes sharing one Redis, raw-socket clients spread over them."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from tests.chat.cluster.conftest import Node, RedisServer, needs_redis
from tests.chat.test_rooms_loopback import Raw, connect
from tests.chat.web.rawws import frame, handshake
from tests.helpers import TLSFiles

pytestmark = [needs_redis, pytest.mark.timeout(60)]

HIST = r"HIST \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "


@pytest.fixture(scope="module")
def nodes(redis_server: RedisServer) -> Iterator[list[Node]]:
    started = Node.many(3, redis_server.url, "three", "--history", "5")
    yield started
    for node in started:
        node.stop()


def client(node: Node, nick: str, room: str | None = None) -> Raw:
    """A raw client of ``node`` called ``nick``, in ``room`` if given."""
    return connect(node.chat, nick, room)


def test_rooms_messages_who_and_rooms_across_nodes(nodes: list[Node]) -> None:
    ann = client(nodes[0], "ann", "garden")
    bea = client(nodes[1], "bea")
    cid = client(nodes[2], "cid")
    bea.send("/join #garden")
    assert bea.until("ROOM garden")
    ann.until("JOIN bea")
    bea.send("hello garden")
    assert ann.until("MSG bea hello garden")
    cid.send("/who")
    who = cid.until("WHO .*")[-1]
    assert "cid" in who.split() and "ann" not in who.split()
    bea.send("/who")
    assert bea.until("WHO .*")[-1] == "WHO ann bea"
    cid.send("/rooms")
    rooms = cid.until("ROOMS .*")[-1].split()[1:]
    assert "garden:2" in rooms
    assert not any(line.startswith("MSG") for line in cid.sync())
    ann.send("/me waves")
    assert bea.until("ACTION ann waves")
    bea.send("/quit bye now")
    bea.until("BYE quit")
    assert ann.until("PART bea quit bye now")
    for c in (ann, bea, cid):
        c.close()


def test_nick_race_on_two_nodes_has_one_winner(nodes: list[Node]) -> None:
    for round_ in range(5):
        one, two = Raw(nodes[0].chat), Raw(nodes[1].chat)
        guests = {}
        for c in (one, two):
            guests[c] = c.until(r"WELCOME guest\d+")[-1].split()[1]
            c.until("ROOM lobby")
        name = f"racer{round_}"
        start = threading.Barrier(2)

        def go(c: Raw, start: threading.Barrier, name: str) -> None:
            start.wait()
            c.send(f"/nick {name}")

        threads = [threading.Thread(target=go, args=(c, start, name)) for c in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes = []
        for c in (one, two):
            line = c.until(rf"(NICK {guests[c]} {name}|ERR nick-in-use .*)")[-1]
            outcomes.append(line.startswith("NICK"))
        assert sorted(outcomes) == [False, True]
        one.close()
        two.close()


def test_order_within_a_room_is_the_same_for_every_member(nodes: list[Node]) -> None:
    talkers = [client(node, f"ord{i}", "order") for i, node in enumerate(nodes)]
    watcher = client(nodes[2], "ordw", "order")
    for c in talkers:
        c.sync()
    count = 40

    def talk(i: int, c: Raw) -> None:
        c.sock.sendall(b"".join(f"line {i}-{n}\n".encode() for n in range(count)))

    threads = [threading.Thread(target=talk, args=(i, c)) for i, c in enumerate(talkers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = {}
    for i, c in enumerate([*talkers, watcher]):
        want = 3 * count - (count if i < 3 else 0)
        got: list[str] = []
        while len(got) < want:
            got += [x for x in c.until(r"MSG ord\d .*") if x.startswith("MSG ord")]
        seen[i] = got
    everything = seen[3]
    assert len(everything) == 3 * count
    for i in range(3):  # each member saw everything but its own lines, in the same order
        assert seen[i] == [x for x in everything if not x.startswith(f"MSG ord{i} ")]
    for n in range(3):  # and each talker's lines in the order sent
        mine = [x for x in everything if x.startswith(f"MSG ord{n} ")]
        assert mine == [f"MSG ord{n} line {n}-{k}" for k in range(count)]
    for c in [*talkers, watcher]:
        c.close()


def test_history_written_on_one_node_replayed_on_another(nodes: list[Node]) -> None:
    writer = client(nodes[0], "scribe", "annals")
    for n in range(7):
        writer.send(f"entry {n}")
    writer.send("/me signs")
    writer.sync()
    reader = client(nodes[1], "reader")
    reader.send("/join annals")
    lines = reader.until("ROOM annals") + reader.sync()
    hist = [x for x in lines if x.startswith("HIST")]
    assert len(hist) == 5  # --history 5
    assert re.fullmatch(HIST + "ACTION scribe signs", hist[-1])
    assert [re.sub(HIST, "", x) for x in hist[:-1]] == [f"MSG scribe entry {n}"
                                                         for n in range(3, 7)]
    assert writer.until("JOIN reader")
    writer.close()
    reader.close()


def test_private_messages_across_nodes(nodes: list[Node]) -> None:
    pia = client(nodes[0], "pia", "den")
    quin = client(nodes[2], "quin")
    quin.send("/msg PIA are you there")
    assert pia.until("PRIV quin are you there")
    pia.send("/msg quin yes")
    assert quin.until("PRIV pia yes")
    quin.send("/msg nobody-here hello")
    assert quin.until("ERR no-such-nick nobody-here is not connected")
    pia.close()
    quin.close()


def test_a_killed_node_has_its_members_parted_within_node_timeout(
        redis_server: RedisServer, nodes: list[Node]) -> None:
    doomed = Node(redis_server.url, "three")
    victim = client(doomed, "victim", "wake")
    mourner = client(nodes[0], "mourner", "wake")
    victim.until("JOIN mourner")
    killed = time.monotonic()
    doomed.kill()
    assert mourner.until("PART victim disconnected", timeout=10)
    assert time.monotonic() - killed < 3 + 2  # --node-timeout 3, with a margin for load
    mourner.send("/who")
    assert mourner.until("WHO .*")[-1] == "WHO mourner"
    heir = client(nodes[1], "victim")  # the nick is free again
    heir.close()
    mourner.close()
    victim.close()


def test_two_workers_share_one_listener_and_one_chat(redis_server: RedisServer) -> None:
    with Node(redis_server.url, "workers", "--workers", "2") as supervisor:
        first = supervisor.wait_for(r"node (\S+) in step with").group(1)
        supervisor.wait_for(rf"node (?!{first})\S+ in step with")  # two nodes of the cluster
        people = [client(supervisor, f"w{i}", "shared") for i in range(6)]
        people[0].send("hello all")
        for c in people[1:]:
            assert c.until("MSG w0 hello all")
        people[5].send("/who")
        assert people[5].until("WHO .*")[-1] == "WHO " + " ".join(f"w{i}" for i in range(6))
        # SIGTERM to the started process stops them all (twistd ends by that signal)
        assert supervisor.stop() in (0, -signal.SIGTERM)
        assert "Server Shut Down." in supervisor.log
        for c in people:
            assert c.until("BYE shutdown")
            c.close()


def test_a_burst_reaches_every_node_whole_and_in_order(redis_server: RedisServer,
                                                       nodes: list[Node]) -> None:
    listeners = [client(node, f"burst{i}", "burst") for i, node in enumerate(nodes)]
    loud = client(nodes[0], "loud", "burst")
    for c in listeners:
        c.sync()
    count = 3000
    loud.sock.sendall(b"".join(b"n%d\n" % n for n in range(count)))
    for c in listeners:
        got = [x for x in c.until(f"MSG loud n{count - 1}", timeout=30) if x.startswith("MSG")]
        assert got == [f"MSG loud n{n}" for n in range(count)]
    # the lines went in batches (one stream entry per turn of input), numbered per line
    entries = int(redis_server.command("XLEN", "chat:three:r:burst:log")[1:-2])
    assert 3 < entries < count
    assert redis_server.command("GET", "chat:three:r:burst:n").endswith(b"\r\n%d\r\n" % (
        count + 4))  # 4 JOINs, 3000 lines
    late = client(nodes[2], "late", "burst")  # history: the last 5 lines, from the batches
    hist = [x for x in late.sync() if x.startswith("HIST")]
    assert [re.sub(HIST, "", x) for x in hist] == [f"MSG loud n{n}"
                                                   for n in range(count - 5, count)]
    for c in [*listeners, loud, late]:
        c.close()


def test_a_node_stopped_says_bye_and_its_members_part_at_once(
        redis_server: RedisServer, nodes: list[Node]) -> None:
    leaving = Node(redis_server.url, "three")
    lea = client(leaving, "lea", "exit")
    stays = client(nodes[0], "stays", "exit")
    lea.until("JOIN stays")
    assert leaving.stop() in (0, -signal.SIGTERM)
    assert lea.until("BYE shutdown")
    assert stays.until("PART lea shutdown", timeout=2)  # not after --node-timeout
    lea.close()
    stays.close()


def test_workers_keep_tls(redis_server: RedisServer, tls_files: TLSFiles) -> None:
    with Node(redis_server.url, "tls", "--workers", "2",
              "--port", tls_files.server_description()) as supervisor:
        context = ssl.create_default_context(cafile=str(tls_files.cert))
        raw = socket.create_connection(("127.0.0.1", supervisor.chat), timeout=10)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            data = b""
            while b"ROOM lobby\n" not in data:
                chunk = tls.recv(4096)
                assert chunk, data
                data += chunk
            assert re.match(rb"WELCOME guest\d+\nROOM lobby\n", data)


def test_a_browser_user_on_one_node_chats_with_a_tcp_user_on_another(
        redis_server: RedisServer, nodes: list[Node]) -> None:
    with Node(redis_server.url, "three", "--web", "tcp:0:interface=127.0.0.1") as webnode:
        ws = socket.create_connection(("127.0.0.1", webnode.port("chat-web")), timeout=10)
        ws.sendall(handshake())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += ws.recv(4096)
        assert buf.startswith(b"HTTP/1.1 101")
        buf = buf.split(b"\r\n\r\n", 1)[1]

        def text_until(wanted: bytes) -> bytes:
            nonlocal buf
            seen = b""
            while wanted not in seen:
                while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7F) + (
                        2 if buf[1] & 0x7F == 126 else 0):
                    buf += ws.recv(65536)
                size, start = buf[1] & 0x7F, 2
                if size == 126:
                    size, start = int.from_bytes(buf[2:4], "big"), 4
                while len(buf) < start + size:
                    buf += ws.recv(65536)
                seen += buf[start:start + size]
                buf = buf[start + size:]
            return seen

        assert b"ROOM lobby\n" in text_until(b"ROOM lobby\n")
        ws.sendall(frame(0x1, b"/nick webby"))
        text_until(b"NICK ")
        tcp = client(nodes[1], "tcpy")
        tcp.send("hello browser")
        assert b"MSG tcpy hello browser\n" in text_until(b"MSG tcpy")
        ws.sendall(frame(0x1, b"hello terminal"))
        assert tcp.until("MSG webby hello terminal")
        ws.close()
        tcp.close()
