"""Registration from annotations (``Registry.method``), CallContext, kinds of errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable

import pytest
from twisted.internet import defer

import netsuite.rpc as rpc
from netsuite.rpc import (
    SERVICE,
    ApplicationError,
    CallContext,
    DeadlineExceeded,
    IllFormedName,
    Int64Overflow,
    InternalError,
    InvalidParams,
    Registry,
    RpcError,
    UnknownMethod,
    UnknownService,
)
from netsuite.rpc._errors import KINDS, outcome_of
from netsuite.rpc._types import INT64, MISSING, STR, ListOf, Optional, Struct


@dataclasses.dataclass
class Point:
    x: int
    y: int


def geo() -> Registry:
    registry = Registry()

    @registry.method("Geo.Move", timeout=2.5)
    def move(p: Point, by: list[int], ctx: CallContext, scale: int = 1) -> Point:
        """Move p by (by[0], by[1])."""
        assert isinstance(ctx, CallContext)
        return Point(p.x + by[0] * scale, p.y + by[1] * scale)

    @registry.method("Geo.Where", result_name="place")
    def where(ctx: CallContext) -> str:
        return f"{ctx.transport} {ctx.peer}"

    return registry


def test_method_reads_annotations() -> None:
    method = geo().lookup("Geo.Move")
    assert method.help == "Move p by (by[0], by[1])."
    assert method.timeout == 2.5 and method.context == "ctx"
    assert [(p.name, p.spec, p.default) for p in method.params] == [
        ("p", Struct(Point, "Point", method.params[0].spec.fields), MISSING),  # type: ignore[attr-defined]
        ("by", ListOf(INT64), MISSING), ("scale", INT64, 1)]
    assert [p.type_name for p in method.params] == ["Point", "[]int64", "int64"]
    assert method.result_type_name == "Point" and method.result_type is None
    assert geo().lookup("Geo.Where").result_name == "place"


def test_method_calls_with_structs_positional_and_defaults() -> None:
    registry = geo()
    p = {"x": 1, "y": 2}
    assert registry.call("Geo.Move", [p, [3, 4]]) == {"x": 4, "y": 6}
    assert registry.call("Geo.Move", [p, [3, 4], 2]) == {"x": 7, "y": 10}
    assert registry.call("Geo.Move", {"p": p, "by": [1, 1]}) == {"x": 2, "y": 3}
    assert registry.call("Geo.Move", {"P": p, "By": [1, 1], "Scale": 3}) == {"x": 4, "y": 5}
    # Go's decoders: case folded, missing fields zero (a zero Point, an empty list -> IndexError).
    assert registry.call("Geo.Move", {"BY": [1, 1]}, go_struct=True) == {"x": 1, "y": 1}


def test_method_bad_params_name_the_path() -> None:
    registry = geo()
    with pytest.raises(InvalidParams, match=r"^p\.x: expected int64, got bool$"):
        registry.call("Geo.Move", [{"x": True, "y": 2}, [1, 2]])
    with pytest.raises(InvalidParams, match=r"^by\[1\]: expected int64, got string$"):
        registry.call("Geo.Move", [{"x": 1, "y": 2}, [1, "2"]])
    with pytest.raises(InvalidParams, match="takes 2 to 3 arguments"):
        registry.call("Geo.Move", [{"x": 1, "y": 2}])
    with pytest.raises(InvalidParams, match="missing member"):
        registry.call("Geo.Move", {"by": [1, 2]})


def test_call_context_carries_the_transport() -> None:
    registry = geo()
    assert registry.call("Geo.Where", []) == "direct "
    assert registry.call("Geo.Where", [], transport="amp") == "amp "
    ctx = CallContext("gob", "127.0.0.1:5000")
    assert registry.call("Geo.Where", [], transport="gob", context=ctx) == "gob 127.0.0.1:5000"
    assert CallContext("grpc").peer_certificate is None


def test_async_result_annotations_are_unwrapped() -> None:
    registry = Registry()

    @registry.method("A.Coro")
    async def coro(n: int) -> list[int]:
        return [n]

    @registry.method("A.Def")
    def deferred(n: int) -> defer.Deferred[str | None]:
        return defer.succeed(None)

    @registry.method("A.Aw")
    def awaitable(n: int) -> Awaitable[int]:
        return defer.succeed(n)

    assert registry.lookup("A.Coro").result == ListOf(INT64)
    assert registry.lookup("A.Def").result == Optional(STR)
    assert registry.lookup("A.Aw").result == INT64
    # A call that finished at once is answered by call(); one still running is not.
    assert registry.call("A.Coro", [1]) == [1]
    assert registry.call("A.Def", [1]) is None

    @registry.method("A.Wait")
    async def wait() -> int:
        await defer.Deferred()
        return 1

    with pytest.raises(InternalError, match="asynchronous"):
        registry.call("A.Wait", [])


def test_bad_result_is_internal_and_overflow_is_overflow() -> None:
    registry = Registry()

    @registry.method("Bad.Type")
    def bad() -> int:
        return "one"  # type: ignore[return-value]

    @registry.method("Bad.Big")
    def big() -> list[int]:
        return [2**64]

    with pytest.raises(InternalError, match=r"^result: expected int64, got string$"):
        registry.call("Bad.Type", [])
    with pytest.raises(Int64Overflow):
        registry.call("Bad.Big", [])


def test_registration_errors_name_the_parameter() -> None:
    registry = Registry()

    def takes_set(p: set[int]) -> int:
        return 0

    with pytest.raises(TypeError) as info:
        registry.method("Geo.Move")(takes_set)
    assert str(info.value) == "parameter 'p' of Geo.Move: unsupported type set[int]"

    def no_annotation(p) -> int:  # type: ignore[no-untyped-def]
        return 0

    with pytest.raises(TypeError, match=r"parameter 'p' of A\.B: no type annotation"):
        registry.method("A.B")(no_annotation)

    def star(*args: int) -> int:
        return 0

    with pytest.raises(TypeError, match=r"parameter 'args' of A\.C"):
        registry.method("A.C")(star)

    def bad_result(x: int) -> tuple[int, int]:
        return (x, x)

    with pytest.raises(TypeError, match=r"result of A.D: unsupported type tuple\[int, int\]"):
        registry.method("A.D")(bad_result)

    def two_contexts(a: CallContext, b: CallContext) -> int:
        return 0

    with pytest.raises(TypeError, match="second CallContext"):
        registry.method("A.E")(two_contexts)
    assert registry.names() == []  # nothing half-registered


def test_registration_name_and_timeout_errors() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match=r"Service\.Method"):
        registry.method("NoDot")
    with pytest.raises(ValueError, match="timeout"):
        registry.method("A.B", timeout=0)
    with pytest.raises(TypeError, match="no return annotation"):
        registry.method("A.B")(lambda: 1)
    assert registry.names() == []

    def one() -> int:
        return 1

    registry.method("A.B")(one)
    with pytest.raises(ValueError, match="already registered"):
        registry.method("A.B")(one)


def test_register_keeps_working_and_takes_new_types() -> None:
    registry = Registry()

    @registry.register("Calc.Avg", [("xs", list[float])], float, "mean")
    def avg(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    assert registry.call("Calc.Avg", [[1, 2.5]]) == 1.75
    with pytest.raises(TypeError, match=r"parameter 'xs' of Calc\.Bad: unsupported type set"):
        registry.register("Calc.Bad", [("xs", set)], float, "")
    sum_method = SERVICE.lookup("Algorithm.Sum")
    assert [(p.name, p.type) for p in sum_method.params] == [("x", int), ("y", int)]
    assert sum_method.result_type is int and sum_method.result == INT64


def test_every_error_has_a_kind() -> None:
    errors: list[RpcError] = [
        IllFormedName("x"), UnknownService("A.B"), UnknownMethod("A.B"), InvalidParams("p"),
        ApplicationError("no"), Int64Overflow("big"), DeadlineExceeded(), InternalError("x"),
    ]
    assert [e.kind for e in errors] == list(KINDS)
    assert str(DeadlineExceeded()) == "deadline exceeded"
    assert [outcome_of(e) for e in errors] == [
        "unknown-method", "unknown-method", "unknown-method", "bad-params",
        "application-error", "application-error", "application-error", "internal"]
    assert outcome_of(None) == "ok" and outcome_of(KeyError()) == "internal"


def test_public_names() -> None:
    for name in ("SERVICE", "Registry", "Sum", "GetSkill", "command_for", "CallContext",
                 "RpcError", "InvalidParams", "ApplicationError", "Int64Overflow",
                 "DeadlineExceeded", "InternalError", "MAX_REQUEST", "MAX_DEPTH"):
        assert name in rpc.__all__ and hasattr(rpc, name)
