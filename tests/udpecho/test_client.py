"""``netsuite udp``: ping bookkeeping in memory, and both modes against the real server."""

from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor

from netsuite._cli import CommandFailed, UsageFailure, build_parser
from netsuite.udpecho._client import run
from netsuite.udpecho._ping import (
    HEADER_SIZE,
    PingTracker,
    build_probe,
    parse_probe,
    percentile,
    summarize,
)
from netsuite.udpecho._tap import Options, makeService
from tests.helpers import TwistdProcess


def test_probe_round_trip() -> None:
    probe = build_probe(0xDEADBEEF, 7, 123456789, 64)
    assert len(probe) == 64
    assert parse_probe(probe) == (0xDEADBEEF, 7, 123456789)
    assert len(build_probe(1, 1, 1, HEADER_SIZE)) == HEADER_SIZE
    assert parse_probe(b"I am server") is None
    with pytest.raises(ValueError):
        build_probe(1, 1, 1, HEADER_SIZE - 1)


def test_tracker_matches_late_duplicate_stray_and_fifo() -> None:
    tracker = PingTracker(token=42)
    for seq in range(4):
        tracker.sent(seq, seq * 1_000_000)
    p0, p1 = build_probe(42, 0, 0, 32), build_probe(42, 1, 1_000_000, 32)
    assert tracker.reply(p1, 3_000_000) == ("ok", 1, 2.0)  # out of order is fine
    assert tracker.reply(p1, 3_500_000) == ("duplicate", 1, 2.5)
    assert tracker.timeout(0)
    assert not tracker.timeout(1)  # already answered
    assert tracker.reply(p0, 9_000_000) == ("late", 0, 9.0)
    assert tracker.reply(build_probe(7, 2, 0, 32), 9_000_000) == ("stray", None, None)
    assert tracker.reply(build_probe(42, 99, 0, 32), 9_000_000) == ("stray", None, None)
    # A reply without our header goes to the oldest outstanding probe (2, then 3).
    assert tracker.reply(b"I am server", 12_000_000) == ("ok", 2, 10.0)
    assert tracker.reply(b"I am server", 13_000_000) == ("ok", 3, 10.0)
    assert tracker.reply(b"I am server", 14_000_000) == ("stray", None, None)
    summary = tracker.summary()
    assert (summary.sent, summary.received, summary.late, summary.duplicates) == (4, 3, 1, 1)
    assert summary.loss_percent == 25.0
    assert summary.lines() == [
        "4 sent, 3 received, 25% loss, 1 late, 1 duplicates",
        "rtt min/avg/max/p50/p99 = 2.000/7.333/10.000/10.000/10.000 ms",
    ]


def test_percentiles_and_empty_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([5.0], 99) == 5.0
    assert summarize(3, []).lines() == ["3 sent, 0 received, 100% loss"]


async def start(*argv: str) -> Any:
    options = Options()
    options.parseOptions(["--port", "0", *argv])
    service = makeService(options, reactor=reactor)
    service.startService()
    return service


async def udp(*argv: str, stdin: bytes = b"") -> int:
    parser, _ = build_parser("udp")
    args = parser.parse_args(list(argv))
    args.stdin = io.BytesIO(stdin)
    return await run(reactor, args)


@pytest_twisted.ensureDeferred
async def test_line_mode(capsys: Any) -> None:
    service = await start()
    try:
        port = service.port.getHost().port
        code = await udp(f"127.0.0.1:{port}", stdin=b"hello\r\nw\xc3\xb6rld\n\xff\n")
        assert code == 0
        assert capsys.readouterr().out == "hello\nwörld\n\\xff\n"
        assert service.stats.answered == 3
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_line_mode_unanswered_is_a_failure(capsys: Any) -> None:
    service = await start("--max-size", "3")
    try:
        port = service.port.getHost().port
        with pytest.raises(CommandFailed, match="1 of 2 lines got no reply"):
            await udp("--timeout", "0.2", f"127.0.0.1:{port}", stdin=b"abc\nabcd\n")
        captured = capsys.readouterr()
        # stdout keeps one line per input line; stderr gets only the CLI's one-line reason
        assert captured.out == "abc\nno reply within 0.2 s\n"
        assert captured.err == ""
    finally:
        await service.stopService()


PROBE_LINE = re.compile(r"^64 bytes from 127\.0\.0\.1:\d+: seq=(\d) time=\d+\.\d{3} ms$")


@pytest_twisted.ensureDeferred
async def test_ping_mode(capsys: Any) -> None:
    service = await start()
    try:
        port = service.port.getHost().port
        code = await udp(f"127.0.0.1:{port}", "--count", "5", "--interval", "0.01")
        assert code == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"PING 127.0.0.1:{port} (udp): 5 probes of 64 bytes"
        seqs = sorted(int(m.group(1)) for line in lines if (m := PROBE_LINE.match(line)))
        assert seqs == [0, 1, 2, 3, 4]
        assert lines[-3] == f"--- 127.0.0.1:{port} udp ping statistics ---"
        assert lines[-2] == "5 sent, 5 received, 0% loss"
        assert re.fullmatch(r"rtt min/avg/max/p50/p99 = [\d.]+/[\d.]+/[\d.]+/[\d.]+/[\d.]+ ms",
                            lines[-1])
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_ping_rate_limited_server_shows_loss(capsys: Any) -> None:
    service = await start("--rate", "2", "--reply", "I am server")
    try:
        port = service.port.getHost().port
        code = await udp(f"127.0.0.1:{port}", "-c", "5", "-i", "0", "-t", "0.3", "-s", "100")
        assert code == 0  # like ping(8): some answers came back
        out = capsys.readouterr().out
        assert out.count(" timeout") == 3
        assert f"11 bytes from 127.0.0.1:{port}: seq=0" in out
        assert "5 sent, 2 received, 60% loss" in out
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_refused_and_usage(capsys: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(CommandFailed, match="connection refused"):
        await udp(f"127.0.0.1:{dead}", "-c", "3", "-i", "0.05")
    with pytest.raises(CommandFailed, match="connection refused"):
        await udp(f"127.0.0.1:{dead}", stdin=b"a\nb\nc\n")
    with pytest.raises(UsageFailure):
        await udp("nope")
    with pytest.raises(UsageFailure, match="--size"):
        await udp("127.0.0.1:9", "-c", "1", "-s", "10")


def test_ping_interrupted_prints_statistics() -> None:
    """Ctrl-C: the statistics so far, nothing on stderr, exit status 130 (as ping does)."""
    script = str(Path(sys.executable).with_name("netsuite"))
    with TwistdProcess("udpecho", "--port", "0") as server:
        port = server.port("udpecho")
        ping = subprocess.Popen([script, "udp", f"127.0.0.1:{port}", "-c", "1000", "-i", "0.02"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert ping.stdout is not None
        seen = [ping.stdout.readline() for _ in range(4)]  # the PING line and three probes
        assert "seq=2 " in seen[-1]
        ping.send_signal(signal.SIGINT)
        out, err = ping.communicate(timeout=30)
    lines = out.splitlines()
    assert f"--- 127.0.0.1:{port} udp ping statistics ---" in lines
    assert any(re.fullmatch(r"\d+ sent, \d+ received, [\d.]+% loss", line) for line in lines)
    assert err == ""  # no "Unhandled error in Deferred", no blame
    assert ping.returncode == 130


@pytest_twisted.ensureDeferred
async def test_line_too_long_for_a_datagram_is_skipped_whole(
        capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import netsuite._stdin as stdin_module
    import netsuite.udpecho._client as client

    monkeypatch.setattr(stdin_module, "MAX_READ", 8)
    monkeypatch.setattr(client, "MAX_READ", 8)
    service = await start()
    try:
        port = service.port.getHost().port
        with pytest.raises(CommandFailed, match="1 of 3 lines got no reply"):
            await udp(f"127.0.0.1:{port}", stdin=b"short\n" + b"x" * 30 + b"\nok\n")
        captured = capsys.readouterr()
        assert captured.out == ("short\na line of more than 65507 bytes is too long for a "
                                "datagram; skipped\nok\n")
        assert captured.err == ""
    finally:
        await service.stopService()
