"""The cluster's pure parts, without Redis: option values, a room's feed, worker options."""

from __future__ import annotations

import pytest
from twisted.python import usage

from netsuite.chat._room import Channel
from netsuite.chat._tap import Options as ClusterOptions
from netsuite.chat.cluster import RedisTarget, cluster_url
from netsuite.chat.cluster._feed import Feed, parse_id
from netsuite.chat.cluster._workers import child_args, worker_metrics


@pytest.mark.parametrize(("text", "target"), [
    ("redis://127.0.0.1:6380", RedisTarget(host="127.0.0.1", port=6380)),
    ("redis://cache.example:6379/3", RedisTarget(host="cache.example", port=6379, db=3)),
    ("redis://[::1]:7000", RedisTarget(host="::1", port=7000)),
    ("redis://localhost", RedisTarget(host="localhost", port=6379)),
    ("unix:///run/redis.sock", RedisTarget(path="/run/redis.sock")),
    ("unix:///run/redis.sock?db=2", RedisTarget(path="/run/redis.sock", db=2)),
    ("none", None),
])
def test_cluster_url(text: str, target: RedisTarget | None) -> None:
    assert cluster_url(text) == target
    if target is not None:
        assert cluster_url(str(target)) == target  # str() gives the URL back


@pytest.mark.parametrize("text", ["", "redis://", "http://x:1", "redis://h:port", "unix://",
                                  "redis://h:1/x", "localhost:6379"])
def test_bad_cluster_url(text: str) -> None:
    with pytest.raises(ValueError, match="redis://HOST:PORT"):
        cluster_url(text)


def test_options() -> None:
    options = ClusterOptions()
    options.parseOptions(["--cluster", "redis://h:1", "--cluster-name", "team-a",
                          "--node-timeout", "4", "--workers", "3", "--history", "7"])
    assert options["cluster"] == RedisTarget(host="h", port=1)
    assert (options["cluster-name"], options["node-timeout"], options["workers"]) == \
        ("team-a", 4.0, 3)
    args = child_args(options)
    assert "--workers" not in args and "--port" not in args
    again = ClusterOptions()
    again.parseOptions(args)
    assert (again["cluster"], again["cluster-name"], again["history"]) == \
        (options["cluster"], "team-a", 7)
    with pytest.raises(usage.UsageError, match="--workers above 1 needs --cluster"):
        ClusterOptions().parseOptions(["--workers", "2"])
    with pytest.raises(usage.UsageError, match="cluster name"):
        ClusterOptions().parseOptions(["--cluster-name", "a b"])


def test_worker_metrics_ports() -> None:
    assert worker_metrics(None, 1) is None
    assert worker_metrics("tcp:9100", 2) == "tcp:9102"
    assert worker_metrics("tcp:9100:interface=127.0.0.1", 1) == "tcp:9101:interface=127.0.0.1"
    assert worker_metrics("tcp:0", 3) == "tcp:0"


def test_feed_members_list_and_recent_lines() -> None:
    feed = Feed(Channel("Dev"))
    assert feed.key == "dev" and feed.empty
    feed.seek(b"5-0", [b"ann", b"Bob"])
    assert feed.cursor == b"5-0" and feed.last == (5, 0)
    for op in (b"+cid", b"+ann", b"-bob", b">cid Cyd", b"-nobody", b">zed x"):
        feed.apply(op)
    assert list(feed.who.values()) == ["ann", "Cyd"]
    feed.seek(b"4-9")  # never backwards
    assert feed.last == (5, 0)
    feed.recent.extend([((6, 0), b"n:1", b"MSG a 1\n"), ((7, 0), b"n:2", b"MSG b 2\n"),
                        ((8, 0), b"", b"")])
    assert feed.since((6, 0), b"n:9") == ([b"MSG b 2\n"], True)
    assert feed.since((5, 0), b"n:2") == ([b"MSG a 1\n"], True)
    assert parse_id(b"1700000000000-12") == (1700000000000, 12)
