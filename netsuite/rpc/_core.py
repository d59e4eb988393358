"""The RPC service core: plain, typed Python functions registered once, served by every transport.

A :class:`Registry` holds :class:`Method` s by their full name (``Service.Method``, as Go's
``net/rpc`` names them).  Each transport adapter (XML-RPC, AMP, JSON-RPC, gob, gRPC) decodes
its wire form, calls :meth:`Registry.call` with positional arguments or a struct (mapping),
and encodes the result -- or the :class:`RpcError` raised -- in its own form.  The core does
the validation every transport needs: the method exists, the argument count and types match
the registered signature, integers are signed 64-bit, and an ``int`` result outside that
range is an :class:`Int64Overflow` (never a wrap).

Registering a method of your own::

    from netsuite.rpc import SERVICE

    @SERVICE.register("Algorithm.Mul", [("x", int), ("y", int)], int,
                      "Multiply two signed 64-bit integers.")
    def mul(x: int, y: int) -> int:
        return x * y

It then appears on every transport, in XML-RPC introspection and in ``netsuite call``.
Or from annotations, with :meth:`Registry.method`::

    @SERVICE.method("Geo.Move")
    def move(p: Point, by: list[int]) -> Point:
        "Move p by (by[0], by[1])."

Types are ``int`` (signed 64-bit), ``float``, ``bool``, ``str``, ``bytes``, ``list[T]``,
``dict[str, T]``, ``T | None`` and dataclasses or attrs classes of these (see
:mod:`netsuite.rpc._types`); in struct form each parameter is also known by its Go field
name (first letter upper-cased: ``x`` -> ``X``, ``java`` -> ``Java``).

This module gathers the core's names (errors, limits, registry) and the book's methods on
:data:`SERVICE`.
"""

from __future__ import annotations

from netsuite.rpc._errors import (
    KINDS,
    ApplicationError,
    DeadlineExceeded,
    IllFormedName,
    Int64Overflow,
    InternalError,
    InvalidParams,
    RpcError,
    UnknownMethod,
    UnknownService,
    outcome_of,
)
from netsuite.rpc._limits import MAX_DEPTH, MAX_REQUEST
from netsuite.rpc._registry import CallContext, CallObserver, Method, Param, Registry
from netsuite.rpc._types import INT64_MAX, INT64_MIN

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "KINDS",
    "MAX_DEPTH",
    "MAX_REQUEST",
    "SERVICE",
    "ApplicationError",
    "CallContext",
    "CallObserver",
    "DeadlineExceeded",
    "IllFormedName",
    "Int64Overflow",
    "InternalError",
    "InvalidParams",
    "Method",
    "Param",
    "Registry",
    "RpcError",
    "UnknownMethod",
    "UnknownService",
    "outcome_of",
]


#: The service every transport serves: the book's two methods.
SERVICE = Registry()


@SERVICE.register(
    "Algorithm.Sum",
    [("x", int), ("y", int)],
    int,
    "Sum(x, y): add two signed 64-bit integers; a result outside the signed 64-bit range is "
    "an overflow error, never a wrap.",
    result_name="total",
)
def algorithm_sum(x: int, y: int) -> int:
    """The book's ``Algorithm.Sum``; overflow raises :class:`Int64Overflow`."""
    total = x + y
    if not INT64_MIN <= total <= INT64_MAX:
        raise Int64Overflow(f"integer overflow: {x} + {y} is outside the signed 64-bit range")
    return total


@SERVICE.register(
    "Programmer.GetSkill",
    [("java", str), ("go", str)],
    str,
    'GetSkill(java, go): the book\'s skill line, "Skill1:" + java + "，Skill2" + go.',
    result_name="skill",
)
def programmer_get_skill(java: str, go: str) -> str:
    """The book's ``Programmer.GetSkill``, with its full-width comma."""
    return "Skill1:" + java + "，Skill2" + go
