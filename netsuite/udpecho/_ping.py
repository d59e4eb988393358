"""Ping over UDP echo: probe format, reply matching and RTT statistics (no sockets here).

A probe is ``b"nsp1"``, a 32-bit session token, a 32-bit sequence number and a 64-bit
send time in nanoseconds (big-endian), padded with ``.`` to the requested size.  An echo
server returns it unchanged, so each reply names its probe: late replies (after their
timeout) and duplicates are recognised and never counted twice.  A reply without that
header (a ``--reply`` server's fixed text) is matched to the oldest outstanding probe.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import attrs

__all__ = [
    "HEADER_SIZE",
    "PingTracker",
    "Summary",
    "build_probe",
    "parse_probe",
    "percentile",
    "summarize",
]

_HEADER = struct.Struct(">4sIIQ")
_MAGIC = b"nsp1"
#: The smallest probe: magic, token, sequence number, timestamp.
HEADER_SIZE = _HEADER.size


def build_probe(token: int, seq: int, sent_ns: int, size: int) -> bytes:
    """A probe of exactly ``size`` bytes (at least :data:`HEADER_SIZE`)."""
    if size < HEADER_SIZE:
        raise ValueError(f"a probe needs at least {HEADER_SIZE} bytes")
    header = _HEADER.pack(_MAGIC, token & 0xFFFFFFFF, seq & 0xFFFFFFFF, sent_ns)
    return header + b"." * (size - HEADER_SIZE)


def parse_probe(data: bytes) -> tuple[int, int, int] | None:
    """``(token, seq, sent_ns)`` of an echoed probe, or None if it is not one."""
    if len(data) < HEADER_SIZE or not data.startswith(_MAGIC):
        return None
    _, token, seq, sent_ns = _HEADER.unpack_from(data)
    return token, seq, sent_ns


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of already sorted values (non-empty)."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@attrs.frozen
class Summary:
    """Totals of a ping run; RTTs in milliseconds (None when nothing came back)."""

    sent: int
    received: int
    late: int
    duplicates: int
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_max: float | None = None
    rtt_p50: float | None = None
    rtt_p99: float | None = None

    @property
    def loss_percent(self) -> float:
        """Probes without an answer in time, as a percentage of those sent."""
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0

    def lines(self) -> list[str]:
        """The closing lines: counts and loss, then min/avg/max/p50/p99 RTT."""
        extra = ""
        if self.late:
            extra += f", {self.late} late"
        if self.duplicates:
            extra += f", {self.duplicates} duplicates"
        out = [f"{self.sent} sent, {self.received} received, "
               f"{self.loss_percent:.4g}% loss{extra}"]
        if self.rtt_min is not None:
            out.append(f"rtt min/avg/max/p50/p99 = {self.rtt_min:.3f}/{self.rtt_avg:.3f}/"
                       f"{self.rtt_max:.3f}/{self.rtt_p50:.3f}/{self.rtt_p99:.3f} ms")
        return out


def summarize(sent: int, rtts_ms: Sequence[float], late: int = 0, duplicates: int = 0) -> Summary:
    """Build the :class:`Summary` of a run from its RTTs."""
    if not rtts_ms:
        return Summary(sent, 0, late, duplicates)
    ordered = sorted(rtts_ms)
    return Summary(sent, len(ordered), late, duplicates, ordered[0],
                   sum(ordered) / len(ordered), ordered[-1],
                   percentile(ordered, 50), percentile(ordered, 99))


class PingTracker:
    """Which probes are outstanding, answered or timed out; classifies each reply.

    Times are in nanoseconds from any monotonic clock.  :meth:`reply` returns
    ``("ok", seq, rtt_ms)``, ``("late", seq, rtt_ms)``, ``("duplicate", seq, rtt_ms)`` or
    ``("stray", None, None)`` (not ours, or nothing outstanding to match).
    """

    def __init__(self, token: int) -> None:
        self.token = token
        self.sent_at: dict[int, int] = {}
        self.outstanding: dict[int, int] = {}  # seq -> sent_ns, in send order
        self.answered: set[int] = set()
        self.timed_out: set[int] = set()
        self.rtts_ms: list[float] = []
        self.late = 0
        self.duplicates = 0

    def sent(self, seq: int, sent_ns: int) -> None:
        """Record probe ``seq`` as sent at ``sent_ns``."""
        self.sent_at[seq] = sent_ns
        self.outstanding[seq] = sent_ns

    def timeout(self, seq: int) -> bool:
        """Probe ``seq`` ran out of time; True if it was still outstanding."""
        if self.outstanding.pop(seq, None) is None:
            return False
        self.timed_out.add(seq)
        return True

    def reply(self, data: bytes, now_ns: int) -> tuple[str, int | None, float | None]:
        """Classify one received datagram."""
        probe = parse_probe(data)
        if probe is None:
            if not self.outstanding:
                return ("stray", None, None)
            seq = next(iter(self.outstanding))  # FIFO for replies that carry no header
        else:
            token, seq, _ = probe
            if token != self.token or seq not in self.sent_at:
                return ("stray", None, None)
        rtt_ms = (now_ns - self.sent_at[seq]) / 1e6
        if seq in self.answered:
            self.duplicates += 1
            return ("duplicate", seq, rtt_ms)
        if seq in self.timed_out:
            self.late += 1
            self.answered.add(seq)
            return ("late", seq, rtt_ms)
        self.outstanding.pop(seq, None)
        self.answered.add(seq)
        self.rtts_ms.append(rtt_ms)
        return ("ok", seq, rtt_ms)

    def summary(self) -> Summary:
        """The run's totals so far."""
        return summarize(len(self.sent_at), self.rtts_ms, self.late, self.duplicates)
