"""Running one call: plain functions, coroutines and Deferreds behind one fast entry point.

:func:`run` calls a :class:`~netsuite.rpc.Method` with validated keyword arguments and
returns **either** the result as plain data (the call finished while it ran: a plain
function, or an ``async def`` that never had to wait) **or** a
:class:`~twisted.internet.defer.Deferred` that fires with that plain data later.  A wire
checks ``type(result) is Deferred``: plain results are never Deferreds.

Errors: an :class:`~netsuite.rpc.RpcError` raised by the method (or by the result check)
is raised as is (synchronously) or is the Deferred's failure; any other exception is
logged once, in one line, and becomes ``InternalError("internal error")``.  A method
registered with ``timeout=S`` that is still running after S seconds is cancelled and fails
with :class:`~netsuite.rpc.DeadlineExceeded`.  Cancelling the returned Deferred cancels the
running call (the coroutine gets ``CancelledError`` at its ``await``) and the Deferred
fails with :class:`~twisted.internet.defer.CancelledError`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator, Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._errors import DeadlineExceeded, InternalError, RpcError
from netsuite.rpc._types import to_plain

if TYPE_CHECKING:
    from netsuite.rpc._registry import CallContext, Method

__all__ = ["INTERNAL_TEXT", "internal", "run", "settle"]

log = Logger()

#: The text of the :class:`InternalError` that stands for any other exception.
INTERNAL_TEXT = "internal error"


def internal(method: Method, error: BaseException) -> InternalError:
    """Log an unexpected exception of a method once (one line) and hide it from the caller."""
    log.error("rpc: {method} failed: {error}", method=method.name,
              error=f"{type(error).__name__}: {error}")
    return InternalError(INTERNAL_TEXT)


def _plain(method: Method, result: Any) -> Any:
    try:
        return to_plain(method.result, result)
    except InternalError as e:
        log.error("rpc: {method} returned a bad result: {error}", method=method.name, error=e)
        raise


def run(method: Method, kwargs: Mapping[str, Any], context: CallContext | None,
        clock: Any = None) -> Any:
    """Call ``method``: its plain result now, or a Deferred of it (see the module docstring).

    ``context`` goes to the method's :class:`CallContext` parameter, if it has one;
    ``clock`` (an ``IReactorTime``; default the global reactor) times ``timeout``.
    """
    if method.context is not None:
        kwargs = {**kwargs, method.context: context}
    try:
        result = method.function(**kwargs)
    except RpcError:
        raise
    except Exception as e:
        raise internal(method, e) from None
    return settle(method, result, clock)


def settle(method: Method, result: Any, clock: Any = None) -> Any:
    """What :func:`run` returns once ``method``'s function returned ``result``: the plain
    result, or a Deferred of it (a coroutine that waits, a Deferred)."""
    try:
        if method.coroutine:
            try:
                waiting = result.send(None)
            except StopIteration as stop:  # finished without waiting: the fast path
                return _plain(method, stop.value)
            deferred: Deferred[Any] = Deferred.fromCoroutine(_resume(result, waiting))
        else:
            try:
                return to_plain(method.result, result)  # a plain result: the fast path
            except InternalError:
                if isinstance(result, Deferred):
                    deferred = result
                elif isinstance(result, Coroutine):  # a plain function returning one
                    deferred = Deferred.fromCoroutine(result)
                else:
                    return _plain(method, result)  # logs and raises
    except RpcError:
        raise
    except Exception as e:
        raise internal(method, e) from None
    if method.timeout is not None:
        if clock is None:
            from twisted.internet import reactor as clock
        deferred.addTimeout(method.timeout, clock, onTimeoutCancel=_deadline)
    deferred.addCallbacks(_plain_later, _error, callbackArgs=(method,), errbackArgs=(method,))
    if deferred.called and not deferred.paused:  # it had its result already
        result = deferred.result
        if not isinstance(result, Failure):
            return result
        deferred.addErrback(lambda _: None)
        raise result.value
    return deferred


def _plain_later(result: Any, method: Method) -> Any:
    return _plain(method, result)


def _deadline(result: Any, timeout: float) -> Any:
    if isinstance(result, Failure) and result.check(CancelledError):
        return Failure(DeadlineExceeded())
    return result


def _error(failure: Failure, method: Method) -> Failure:
    if failure.check(RpcError, CancelledError):
        return failure
    return Failure(internal(method, failure.value))


def _resume(coroutine: Coroutine[Any, Any, Any], waiting: Any) -> Generator[Any, Any, Any]:
    """Hand a coroutine that already ran up to its first ``await`` (which yielded
    ``waiting``) to Twisted's trampoline: a generator that yields what it yields and
    passes results and exceptions back in."""
    while True:
        try:
            sent = yield waiting
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as e:
            try:
                waiting = coroutine.throw(e)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            waiting = coroutine.send(sent)
        except StopIteration as stop:
            return stop.value
