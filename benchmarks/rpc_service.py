"""Methods for the RPC workloads beyond the book's Sum (served with ``--service``).

``Bench.AsyncSum`` is an ``async def`` that returns at once (the cost of the async path);
``Bench.Struct`` takes and returns nested structs, lists, maps and bytes (the cost of typed
values).  Both keep Sum's shape where a load generator needs it: ``Bench.AsyncSum(x, y)``
answers ``x + y`` under the AMP key ``total``, so the Go load generator drives it like Sum::

    twistd -n rpc --service benchmarks.rpc_service ...
    loadgen jsonrpc -method Bench.AsyncSum ...   loadgen amp -command Bench.AsyncSum ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsuite.rpc import SERVICE, Registry


@dataclass
class Point:
    x: int
    y: int


@dataclass
class Shape:
    name: str
    points: list[Point]
    tags: dict[str, int] = field(default_factory=dict)
    blob: bytes = b""
    scale: float | None = None


def register(registry: Registry) -> None:
    """Register the workload methods on ``registry``."""

    @registry.method("Bench.AsyncSum", result_name="total")
    async def async_sum(x: int, y: int) -> int:
        """Sum as a coroutine that returns at once."""
        return x + y

    @registry.method("Bench.Struct")
    def struct(shape: Shape, by: list[int]) -> Shape:
        """Move every point of SHAPE by (by[0], by[1])."""
        dx, dy = by
        return Shape(shape.name, [Point(p.x + dx, p.y + dy) for p in shape.points],
                     shape.tags, shape.blob, shape.scale)


if "Bench.AsyncSum" not in SERVICE:
    register(SERVICE)
