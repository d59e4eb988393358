"""Faults: Redis hung, Redis restarted empty, a slow node, a nick taken while away."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.chat.cluster.conftest import Node, RedisServer, needs_redis
from tests.chat.cluster.test_cluster import client

pytestmark = [needs_redis, pytest.mark.timeout(60)]

LOST = "INFO the chat has lost its link to its store.*"
BACK = "INFO the chat's link to its store .* is back"


@pytest.fixture
def pair(own_redis: RedisServer) -> Iterator[list[Node]]:
    started = Node.many(2, own_redis.url, "faults")
    yield started
    for node in started:
        node.stop()


def test_redis_hung_then_back(own_redis: RedisServer, pair: list[Node]) -> None:
    amy = client(pair[0], "amy", "ops")
    ben = client(pair[1], "ben", "ops")
    amy.until("JOIN ben")
    own_redis.pause()
    try:
        amy.send("anyone?")  # waits for Redis, then gives up
        assert amy.until("ERR unavailable .*", timeout=10)
        amy.until(LOST, timeout=10)
        amy.send("/ping still-here")
        assert amy.until("PONG still-here")
        amy.send("/nick amelia")
        assert amy.until("ERR unavailable .*")
    finally:
        own_redis.resume()
    assert amy.until(BACK, timeout=15)  # (ben's node may not have noticed: it sent nothing)
    amy.send("back again")
    got = ben.until("MSG amy back again")
    assert got.count("MSG amy anyone?") <= 1  # may or may not have got through; never twice
    for n in (amy, ben):
        n.send("/who")
        assert n.until("WHO .*")[-1] == "WHO amy ben"
    assert all(node.process.poll() is None for node in pair)
    amy.close()
    ben.close()


def test_redis_restarted_empty(own_redis: RedisServer, pair: list[Node]) -> None:
    cat = client(pair[0], "cat", "attic")
    dan = client(pair[1], "dan", "attic")
    cat.until("JOIN dan")
    own_redis.stop()
    cat.until(LOST, timeout=10)
    dan.send("lost?")
    assert dan.until("ERR unavailable .*")
    own_redis.start()  # empty
    cat.until(BACK, timeout=15)
    dan.until(BACK, timeout=15)
    deadline = time.monotonic() + 3  # --node-timeout
    while True:  # /who and /rooms agree again on both nodes within the node timeout
        answers = set()
        for c in (cat, dan):
            c.send("/who")
            answers.add(c.until("WHO .*")[-1])
            c.send("/rooms")
            answers.add(c.until("ROOMS .*")[-1])
        whos = [a for a in answers if a.startswith("WHO")]  # (order: as they rejoined)
        if len(answers) == 2 and "ROOMS attic:2" in answers and \
                sorted(whos[0].split()[1:]) == ["cat", "dan"]:
            break
        assert time.monotonic() < deadline, answers
    cat.send("we are back")
    assert dan.until("MSG cat we are back")
    late = client(pair[1], "late")  # nicks are unique again across nodes
    late.send("/nick cat")
    assert late.until("ERR nick-in-use cat is already taken")
    for c in (cat, dan, late):
        c.close()


def test_nick_taken_while_away_becomes_a_guest_nick(own_redis: RedisServer,
                                                    pair: list[Node]) -> None:
    fay = client(pair[0], "fay", "hall")
    gus = client(pair[1], "gus", "hall")
    fay.until("JOIN gus")
    # As if Redis had lost fay's node while another took her nick: her lease and nick go.
    own_redis.command("SET", "chat:faults:n:fay", "some-other-node")
    keys = own_redis.command("KEYS", "chat:faults:node:*").decode().split("\r\n")
    for key in keys:
        if key.startswith("chat:faults:node:"):
            own_redis.command("DEL", key)
    line = fay.until(r"NICK fay guest\d+", timeout=10)[-1]
    guest = line.split()[2]
    assert gus.until(f"NICK fay {guest}", timeout=10)
    fay.send("renamed")
    assert gus.until(f"MSG {guest} renamed")
    fay.close()
    gus.close()


def test_a_slow_node_is_parted_then_rejoins(own_redis: RedisServer, pair: list[Node]) -> None:
    hal = client(pair[0], "hal", "yard")
    ida = client(pair[1], "ida", "yard")
    hal.until("JOIN ida")
    pair[1].pause()  # longer than --node-timeout: the others part its members
    try:
        assert hal.until("PART ida disconnected", timeout=10)
    finally:
        pair[1].resume()
    assert hal.until("JOIN ida", timeout=10)  # it rejoins by itself; its clients stayed
    ida.send("I was slow")
    assert hal.until("MSG ida I was slow")
    hal.send("/who")
    assert hal.until("WHO .*")[-1] == "WHO hal ida"
    hal.close()
    ida.close()
