"""Batched stream entries: how a node cuts a turn's lines into entries, decodes entries
written by any node (runs of lines per sender, gaps in the room's line numbers), replays
history kept one element per batch, and how a room's stream is trimmed (real Redis)."""

from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest
from twisted.internet.task import Clock

from netsuite.chat._model import RoomLimits
from netsuite.chat.cluster import _scripts as S
from netsuite.chat.cluster._batch import Batch
from netsuite.chat.cluster._node import ClusterRoom
from netsuite.chat.cluster._sync import Sync
from netsuite.chat.testing import FakeMember
from tests.chat.cluster.conftest import RedisServer, needs_redis

MISSED = "INFO some lines of this room were missed"


def test_a_batch_is_runs_of_lines_per_sender_with_the_history_tail() -> None:
    batch = Batch("lobby")
    a, b = SimpleNamespace(cid="n1:1"), SimpleNamespace(cid="n1:2")
    for sender, line in ((a, b"MSG a 1\n"), (a, b"MSG a 2\n"), (b, b"MSG b 3\n")):
        assert batch.add(sender, line)
    assert batch.lines == 3
    assert batch.args(2) == ["lobby", 3, 2, b"MSG a 2\nMSG b 3\n",
                             "n1:1", b"MSG a 1\nMSG a 2\n", "n1:2", b"MSG b 3\n"]
    assert batch.args(3)[3] == b""  # the whole batch is the tail: Redis joins the runs
    assert batch.args(0)[3] == b""  # no history kept


def test_a_turn_is_one_batch_per_room_cut_after_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Batch, "PAIRS", 2)
    room, feed, ann, bob = _room()
    other = room._feed("x", "x")
    room.sync = SimpleNamespace(up=True)
    for sender, where, line in ((ann, feed, b"1\n"), (bob, feed, b"2\n"), (ann, other, b"3\n"),
                                (ann, feed, b"4\n"), (ann, feed, b"5\n"), (bob, other, b"6\n")):
        sender.asserted = True  # type: ignore[attr-defined]
        sender.feed = where  # type: ignore[attr-defined]
        room.say(sender, line)  # type: ignore[arg-type]
    assert [(x.key, [m.cid for m in x.senders], x.runs) for x in room._said] == [
        ("lobby", ["n1:1", "n1:2"], [[b"1\n"], [b"2\n"]]),
        ("x", ["n1:1", "n1:2"], [[b"3\n"], [b"6\n"]]),
        ("lobby", ["n1:1"], [[b"4\n", b"5\n"]]),  # a third run: a new entry for the room
    ]


def _room() -> tuple[ClusterRoom, Any, FakeMember, FakeMember]:
    room = ClusterRoom(Clock(), RoomLimits(history=3), None, "chat:t:", "n1")
    feed = room._feed("lobby", "lobby")
    members = []
    for n, nick in enumerate(("ann", "bob"), 1):
        member = FakeMember(room, nick)
        member.set_nick(nick)
        member.in_room = True
        member.channel = room.limbo  # (as a member waiting for its JOIN entry)
        member.cid = f"n1:{n}"  # type: ignore[attr-defined]
        room.members[member.key] = member  # type: ignore[assignment]
        room.by_cid[member.cid] = member  # type: ignore[attr-defined,assignment]
        room._activate(feed, member)  # type: ignore[arg-type]
        members.append(member)
    room.fanout.flush()
    return room, feed, members[0], members[1]


def _entry(number: int, count: int, *runs: bytes, op: bytes = b"") -> list[bytes]:
    fields = [b"n", b"%d" % number, b"c", b"%d" % count, b"o", op]
    for sender, lines in zip(runs[::2], runs[1::2], strict=True):
        fields += [b"s", sender, b"d", lines]
    return fields


def test_a_batched_entry_from_any_node_is_decoded_in_order_without_echo() -> None:
    room, feed, ann, bob = _room()
    reader: Any = SimpleNamespace(room=room, _own=b"n1:*")
    out = room.stats.messages_out
    Sync._entry(reader, feed, b"10-0", _entry(3, 3, b"n1:2", b"MSG bob 1\nMSG bob 2\n",
                                              b"n2:7", b"MSG cyd 3\n", op=b"+cyd"))
    room.fanout.flush()
    assert ann.take() == ["MSG bob 1", "MSG bob 2", "MSG cyd 3"]
    assert bob.take() == ["MSG cyd 3"]  # its own lines are not echoed
    assert room.stats.messages_out - out == 4
    assert list(feed.who) == ["cyd"] and feed.number == 3
    Sync._entry(reader, feed, b"10-0", _entry(3, 3, b"", b"MSG x again\n"))  # read twice
    room.fanout.flush()
    assert ann.take() == [] and feed.recent[-1][2] == b"MSG cyd 3\n"


def test_a_gap_before_or_inside_a_batch_is_told_once() -> None:
    room, feed, ann, bob = _room()
    reader: Any = SimpleNamespace(room=room, _own=b"n1:*")
    Sync._entry(reader, feed, b"10-0", _entry(4, 2, b"", b"MSG a 3\nMSG a 4\n"))
    Sync._entry(reader, feed, b"11-0", _entry(6, 2, b"", b"MSG a 5\nMSG a 6\n"))  # 5..6
    room.fanout.flush()
    assert MISSED not in ann.take()  # numbers 5 and 6 follow 4: nothing missed
    # lines 7 to 9 were trimmed unread: the next entry carries 10 to 11
    Sync._entry(reader, feed, b"12-0", _entry(11, 2, b"", b"MSG a 10\nMSG a 11\n"))
    room.fanout.flush()
    assert ann.take() == [MISSED, "MSG a 10", "MSG a 11"]
    assert bob.take()[-3:] == [MISSED, "MSG a 10", "MSG a 11"]


def test_history_is_the_last_lines_of_the_last_batches() -> None:
    room, feed, _ann, _bob = _room()
    hist = [b"1700000000000-0 MSG a 1\nMSG a 2\n", b"1700000001500-3 MSG b 3\nMSG b 4\n"]
    text = room._entering_lines(feed, hist).decode()
    assert text.splitlines() == [
        "ROOM lobby",
        "HIST 2023-11-14T22:13:20.000Z MSG a 2",
        "HIST 2023-11-14T22:13:21.500Z MSG b 3",
        "HIST 2023-11-14T22:13:21.500Z MSG b 4",
    ]  # --history 3


# -- trimming a room's stream, in Redis ---------------------------------------------------

CLI = shutil.which("redis-cli")


def _cli(redis: RedisServer, *args: str) -> str:
    assert CLI is not None
    return subprocess.run([CLI, "-p", str(redis.port), *args], check=True,
                          capture_output=True, text=True, timeout=10).stdout.strip()


def _ids(redis: RedisServer, *args: str) -> list[str]:
    return [x for x in _cli(redis, *args).splitlines() if re.fullmatch(r"\d+-\d+", x)]


def _say(redis: RedisServer, maxlen: int, lines: int = 1) -> None:
    _cli(redis, "EVAL", S.SAY, "0", "chat:trim:", str(maxlen), "0",
         "room", str(lines), "1", "", "n1:1", "MSG a x\n" * lines)


@needs_redis
@pytest.mark.skipif(CLI is None, reason="redis-cli is not installed (apt-get install redis-tools)")
def test_a_stream_keeps_what_a_reading_node_has_not_read(own_redis: RedisServer) -> None:
    _cli(own_redis, "CONFIG", "SET", "stream-node-max-entries", "1")  # '~' trims exactly
    log = "chat:trim:r:room:log"
    for _ in range(5):
        _say(own_redis, 10)
    slow = _ids(own_redis, "XRANGE", log, "-", "+")[3]  # a node has read up to the 4th
    _cli(own_redis, "HSET", "chat:trim:r:room:at", "n2", slow)
    for _ in range(25):
        _say(own_redis, 10)
    assert _cli(own_redis, "XLEN", log) == "27"  # from the slow node's position on
    assert _ids(own_redis, "XRANGE", log, "-", "+", "COUNT", "1") == [slow]
    for _ in range(25):  # past 5 x maxlen lines: the oldest go whoever has read them
        _say(own_redis, 10)
    assert int(_cli(own_redis, "XLEN", log)) <= 11
    _cli(own_redis, "HSET", "chat:trim:r:room:at", "n2",
         _ids(own_redis, "XREVRANGE", log, "+", "-", "COUNT", "1")[0])
    _say(own_redis, 10, lines=3)
    assert _cli(own_redis, "XLEN", log) == "2"  # everyone has read the rest
    assert _cli(own_redis, "GET", "chat:trim:r:room:n") == "58"
