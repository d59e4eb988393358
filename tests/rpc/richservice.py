"""A service of rich methods (structs, lists, maps, bytes, floats, optionals, async, slow,
failing, timing out) for the typed and async tests of every wire.

:func:`build` makes a fresh :class:`Registry` (never ``SERVICE``) and a :class:`Probe` that
the tests use to release slow calls and to see cancellations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.x509.oid import NameOID
from twisted.internet.defer import CancelledError, Deferred

from netsuite.rpc import ApplicationError, CallContext, Registry


@dataclass
class Point:
    x: int
    y: int


@dataclass
class Item:
    sku: str
    price: float
    tags: list[str] = field(default_factory=list)
    photo: bytes | None = None
    where: Point | None = None


@dataclass
class Bundle:
    items: list[Item]
    counts: dict[str, int]
    total: float
    ok: bool
    note: str | None = None


class OutOfStock(ApplicationError):
    code = "OUT_OF_STOCK"


class Probe:
    """What the slow methods wait on, and what they saw."""

    def __init__(self) -> None:
        self.gates: list[Deferred[None]] = []
        self.cancelled: list[int] = []
        self.started: list[int] = []
        self.running = 0
        self.peak = 0
        self._waiters: list[tuple[Any, Deferred[None]]] = []

    def until(self, condition: Any) -> Deferred[None]:
        """A Deferred that fires once ``condition()`` holds (checked at every event)."""
        d: Deferred[None] = Deferred()
        if condition():
            d.callback(None)
        else:
            self._waiters.append((condition, d))
        return d

    def _event(self) -> None:
        waiting, self._waiters = self._waiters, []
        for condition, d in waiting:
            if condition():
                d.callback(None)
            else:
                self._waiters.append((condition, d))

    def release_all(self) -> None:
        gates, self.gates = self.gates, []
        for gate in gates:
            if not gate.called:
                gate.callback(None)


def build(timeout: float = 0.3) -> tuple[Registry, Probe]:
    registry = Registry()
    probe = Probe()

    @registry.method("Rich.Move")
    async def move(p: Point, by: list[int]) -> Point:
        """Move p by (by[0], by[1])."""
        return Point(p.x + by[0], p.y + by[1])

    @registry.method("Rich.Flip")
    def flip(p: Point) -> Point:
        """A struct as the only parameter."""
        return Point(p.y, p.x)

    @registry.method("Rich.Count")
    def count(words: dict[str, int]) -> dict[str, int]:
        """A map as the only parameter."""
        return {k: v * 2 for k, v in words.items()}

    @registry.method("Rich.Pack")
    async def pack(items: list[Item], counts: dict[str, int], note: str | None = None
                   ) -> Bundle:
        """Everything at once."""
        total = sum(i.price for i in items)
        return Bundle(items, counts, total, bool(items), note)

    @registry.method("Rich.Bytes")
    def reverse(data: bytes) -> bytes:
        return data[::-1]

    @registry.method("Rich.Half")
    def half(x: float) -> float:
        return x / 2

    @registry.method("Rich.Maybe")
    def maybe(n: int | None = None) -> int | None:
        return None if n is None else n + 1

    @registry.method("Rich.Slow")
    async def slow(n: int) -> int:
        """Wait until the probe releases it."""
        gate: Deferred[None] = Deferred()
        probe.gates.append(gate)
        probe.started.append(n)
        probe.running += 1
        probe.peak = max(probe.peak, probe.running)
        probe._event()
        try:
            await gate
        except CancelledError:
            probe.cancelled.append(n)
            raise
        finally:
            probe.running -= 1
            probe._event()
        return n

    @registry.method("Rich.Fast")
    async def fast(n: int) -> int:
        return n

    @registry.method("Rich.Fail")
    async def fail(sku: str) -> int:
        raise OutOfStock(f"no {sku} left")

    @registry.method("Rich.Boom")
    def boom() -> int:
        raise ZeroDivisionError("secret detail")

    @registry.method("Rich.Late", timeout=timeout)
    async def late() -> int:
        await Deferred()
        return 0

    @registry.method("Rich.Who")
    def who(ctx: CallContext) -> str:
        """The wire, the peer, and the common name of the client's certificate (or -)."""
        name = "-"
        if ctx.peer_certificate is not None:
            [cn] = ctx.peer_certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            name = str(cn.value)
        return f"{ctx.transport} {ctx.peer} {name}"

    return registry, probe


def sample_items() -> list[Item]:
    return [Item("a-1", 2.5, ["red", "big"], b"\x00\xff", Point(1, 2)),
            Item("b-2", 0.25)]

