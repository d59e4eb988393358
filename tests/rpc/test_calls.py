"""Running calls: plain, async def, Deferred; timeouts, cancellation, errors logged once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from twisted.internet import defer, task
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import LogLevel, globalLogPublisher

from netsuite.rpc import (
    ApplicationError,
    CallContext,
    DeadlineExceeded,
    Int64Overflow,
    InternalError,
    InvalidParams,
    Registry,
    UnknownMethod,
)


@dataclass
class Point:
    x: int
    y: int


def failure_of(d: Deferred[object]) -> BaseException:
    errors: list[BaseException] = []
    d.addErrback(lambda f: errors.append(f.value))
    assert errors, "the Deferred has not failed"
    return errors[0]


def result_of(d: Deferred[object]) -> object:
    results: list[object] = []
    d.addCallback(results.append)
    assert results, "the Deferred has not fired"
    return results[0]


#: The Deferreds the waiting methods of the registry below wait on, in call order.
GATE: list[Deferred[None]] = []


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.clock = task.Clock()
    gate = GATE
    gate.clear()

    @reg.method("T.Now")
    async def now(p: Point) -> Point:
        return Point(p.y, p.x)

    @reg.method("T.Later")
    async def later(n: int) -> list[int]:
        d: Deferred[None] = Deferred()
        gate.append(d)
        await d
        return [n, n]

    @reg.method("T.Def")
    def deferred(n: int) -> Deferred[int]:
        d: Deferred[int] = Deferred()
        gate.append(d)  # type: ignore[arg-type]
        return d

    @reg.method("T.Slow", timeout=2)
    async def slow() -> int:
        d: Deferred[None] = Deferred()
        gate.append(d)
        await d
        return 1

    @reg.method("T.Refuse")
    async def refuse() -> int:
        await deferred_soon(gate)
        raise ApplicationError("no stock")

    @reg.method("T.Boom")
    def boom() -> int:
        raise ValueError("boom")

    @reg.method("T.Where")
    def where(ctx: CallContext) -> str:
        return f"{ctx.transport} {ctx.peer}"

    return reg


def deferred_soon(gate: list[Deferred[None]]) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    gate.append(d)
    return d


def test_sync_and_finished_coroutines_return_plain_results(registry: Registry) -> None:
    assert registry.start("T.Now", [{"x": 1, "y": 2}]) == {"x": 2, "y": 1}
    assert registry.start("T.Where", [], transport="amp") == "amp "
    ctx = CallContext("gob", "10.0.0.1:99")
    assert registry.start("T.Where", [], context=ctx) == "gob 10.0.0.1:99"


def test_a_waiting_call_returns_a_deferred_of_plain_data(registry: Registry) -> None:
    d = registry.start("T.Later", [4])
    assert type(d) is Deferred and not d.called
    GATE[0].callback(None)
    assert result_of(d) == [4, 4]
    d = registry.start("T.Def", [5])
    GATE[1].callback(2**63)
    assert isinstance(failure_of(d), Int64Overflow)


def test_lookup_and_params_errors_are_raised_at_once(registry: Registry) -> None:
    with pytest.raises(UnknownMethod):
        registry.start("T.Nope", [])
    with pytest.raises(InvalidParams, match=r"p.x: expected int64, got string"):
        registry.start("T.Now", [{"x": "1", "y": 2}])


def test_timeout_is_deadline_exceeded_and_cancels_the_coroutine(registry: Registry) -> None:
    d = registry.start("T.Slow", [])
    registry.clock.advance(1.9)  # type: ignore[attr-defined]
    assert not d.called
    registry.clock.advance(0.2)  # type: ignore[attr-defined]
    error = failure_of(d)
    assert isinstance(error, DeadlineExceeded) and error.kind == "deadline"
    assert str(error) == "deadline exceeded"
    assert GATE[0].called  # cancelled inside


def test_cancelling_cancels_the_running_call(registry: Registry) -> None:
    d = registry.start("T.Later", [1])
    d.cancel()
    assert isinstance(failure_of(d), CancelledError)
    assert GATE[0].called


def test_application_errors_pass_other_errors_are_internal_and_logged_once(
        registry: Registry) -> None:
    d = registry.start("T.Refuse", [])
    GATE[0].callback(None)
    error = failure_of(d)
    assert type(error) is ApplicationError and str(error) == "no stock"
    seen: list[dict[str, object]] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        with pytest.raises(InternalError, match=r"^internal error$"):
            registry.start("T.Boom", [])
    finally:
        globalLogPublisher.removeObserver(seen.append)
    errors = [e for e in seen if e.get("log_level") == LogLevel.error]
    assert len(errors) == 1 and "log_failure" not in errors[0]
    assert "ValueError: boom" in str(errors[0]["error"])


def test_observers_hear_of_async_calls_when_they_end(registry: Registry) -> None:
    heard: list[tuple[str, str, str]] = []
    registry.observers.append(lambda t, m, o, s: heard.append((t, m, o)))
    d = registry.start("T.Later", [1], transport="amp")
    assert heard == []
    GATE[0].callback(None)
    assert result_of(d) == [1, 1]
    with pytest.raises(UnknownMethod):
        registry.start("T.Nope", [], transport="amp")
    assert heard == [("amp", "T.Later", "ok"), ("amp", "T.Nope", "unknown-method")]


def test_an_already_fired_deferred_is_a_plain_result() -> None:
    registry = Registry()

    @registry.method("T.Fired")
    def fired() -> Deferred[str]:
        return defer.succeed("yes")

    assert registry.start("T.Fired", []) == "yes"
