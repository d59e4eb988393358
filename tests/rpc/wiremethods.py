"""Rich methods for the wire tests of gob, gRPC, ``netsuite call`` and ``netsuite schema``.

:data:`REGISTRY` holds them beside the book's two methods; :func:`register_rich` puts them on
any registry (``tests.rpc.wireservice`` puts them on ``netsuite.rpc.SERVICE``, for
``twistd rpc --service``).  Structs, slices, maps, floats, bools, bytes, an optional, a
method that fails and one whose result is optional.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import attrs
from twisted.internet.defer import Deferred

from netsuite.rpc import ApplicationError, CallContext, Registry
from netsuite.rpc._core import algorithm_sum, programmer_get_skill


@dataclass
class Point:
    x: int
    y: int


@dataclass
class Item:
    sku: str
    qty: int
    price: float
    tags: list[str]
    meta: dict[str, int]
    blob: bytes
    note: str | None = None


@attrs.define
class Receipt:
    total: float
    count: int
    skus: list[str]
    flags: dict[str, bool]
    digest: bytes
    first: Point
    corners: list[Point] = attrs.field(factory=list)
    note: str | None = None


@dataclass
class Peer:
    transport: str
    has_certificate: bool
    subject: str = ""
    names: list[str] = field(default_factory=list)


def register_book(registry: Registry) -> Registry:
    """Register the book's two methods on ``registry`` (as ``SERVICE`` has them)."""
    registry.register("Algorithm.Sum", [("x", int), ("y", int)], int, "Sum",
                      result_name="total")(algorithm_sum)
    registry.register("Programmer.GetSkill", [("java", str), ("go", str)], str, "GetSkill",
                      result_name="skill")(programmer_get_skill)
    return registry


def register_rich(registry: Registry) -> Registry:
    """Register the rich methods on ``registry``."""

    @registry.method("Geo.Move")
    def move(p: Point, by: list[int]) -> Point:
        """Move p by (by[0], by[1])."""
        if len(by) != 2:
            raise ApplicationError(f"by needs 2 numbers, got {len(by)}")
        return Point(p.x + by[0], p.y + by[1])

    @registry.method("Shop.Total", result_name="receipt")
    def total(items: list[Item], discount: float, vip: bool) -> Receipt:
        """Add up a basket."""
        amount = sum(i.price * i.qty for i in items) * (1 - discount)
        digest = hashlib.sha256(b"".join(i.blob for i in items)).digest()[:4]
        notes = [i.note for i in items if i.note is not None]
        return Receipt(
            total=amount, count=sum(i.qty for i in items), skus=[i.sku for i in items],
            flags={"vip": vip, "empty": not items}, digest=digest,
            first=Point(len(items), sum(sum(i.meta.values()) for i in items)),
            corners=[Point(i.qty, len(i.tags)) for i in items],
            note=", ".join(notes) if notes else None)

    @registry.method("Shop.Echo")
    def echo(data: bytes, label: str | None, scale: float, ok: bool) -> dict[str, list[float]]:
        """Echo a map built from every argument."""
        return {"len": [float(len(data))], "label": [float(len(label or ""))],
                "scale": [scale, scale * 2], "ok": [1.0 if ok else 0.0]}

    @registry.method("Shop.Find")
    def find(sku: str) -> Point | None:
        """A point for a known sku, nothing otherwise."""
        return Point(1, 2) if sku == "known" else None

    @registry.method("Shop.Fail")
    def fail(reason: str) -> int:
        """Always refuses, with the reason."""
        raise ApplicationError(f"refused: {reason}")

    @registry.method("Shop.Crash")
    def crash(x: int) -> int:
        """A bug: an unexpected exception."""
        raise ZeroDivisionError(x)

    @registry.method("Shop.Whoami")
    def whoami(ctx: CallContext) -> Peer:
        """Who the server thinks the caller is."""
        cert = ctx.peer_certificate
        if cert is None:
            return Peer(ctx.transport, False)
        return Peer(ctx.transport, True, cert.subject.rfc4514_string(),
                    [a.value for a in cert.subject])

    @registry.method("Slow.Wait")
    async def wait(seconds: float, tag: str) -> str:
        """Answer ``tag`` after ``seconds`` (real asynchronous work on the reactor)."""
        from twisted.internet import reactor, task

        await task.deferLater(reactor, seconds)
        return tag

    @registry.method("Slow.Hang")
    def hang(tag: str) -> Deferred[int]:
        """Never answers; its cancellation is recorded in :data:`CANCELLED`."""
        return Deferred(lambda d: CANCELLED.append(tag))

    @registry.method("Slow.Late", timeout=0.2)
    async def late() -> int:
        """Runs longer than its 0.2 s timeout."""
        from twisted.internet import reactor, task

        await task.deferLater(reactor, 5)
        return 1

    return registry


#: Tags of the Slow.Hang calls cancelled so far.
CANCELLED: list[str] = []

#: The book's methods and the rich ones.
REGISTRY = register_rich(register_book(Registry()))
