"""grpcio method handlers that run each call on the reactor thread.

:class:`CallRunner` lives on the reactor thread: it starts a call (the registry's, as every
transport does), bounds it by the client's deadline, counts the calls in progress, refuses
new ones while the server drains and tells when none is left.  :func:`handlers` builds
grpcio's handlers around it: for the thread-pool server each worker thread hands its call
to the reactor (``blockingCallFromThread``) and waits; for ``grpc.aio`` on the reactor's
asyncio loop the handler is already on the reactor thread and awaits the call's Deferred.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._core import CallContext, DeadlineExceeded, Registry, RpcError
from netsuite.rpc.grpc._answer import GrpcMethod, Malformed, request_parser, status_of

__all__ = ["CallRunner", "handlers", "peer_of"]

log = Logger()


class _ShuttingDown(RpcError):
    kind = "internal"


class CallRunner:
    """Runs calls on the reactor thread (every method here is called there)."""

    def __init__(self, registry: Registry, stats: Any, reactor: Any) -> None:
        self.registry = registry
        self.stats = stats
        self.reactor = reactor
        self.draining = False
        self.in_flight = 0
        self._idle: list[defer.Deferred[None]] = []

    def run(self, entry: GrpcMethod, args: Any, context: CallContext | None,
            timeout: float | None, holder: list[Any]) -> defer.Deferred[Any]:
        """Start a call; its Deferred fires with the plain result (or fails with the error).

        ``holder`` receives the Deferred so a worker thread can cancel it; ``timeout`` is
        the client's deadline (seconds left), past which the call is cancelled.
        """
        if self.draining:
            return defer.fail(_ShuttingDown("server is shutting down"))
        self.in_flight += 1
        d = defer.maybeDeferred(self.registry.call, entry.method.name, args, transport="grpc",
                                context=context)
        if timeout is not None and not d.called:
            d.addTimeout(timeout, self.reactor,
                         onTimeoutCancel=lambda result, t: _deadline(result))
        holder.append(d)
        d.addBoth(self._done)
        return d

    def _done(self, result: Any) -> Any:
        self.in_flight -= 1
        self.stats.calls += 1
        if isinstance(result, Failure):
            self.stats.call_errors += 1
        if not self.in_flight and self._idle:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)
        return result

    def idle(self, grace: float) -> defer.Deferred[None]:
        """Fires once no call is in progress, or after ``grace`` seconds."""
        d: defer.Deferred[None] = defer.Deferred()
        if not self.in_flight:
            d.callback(None)
            return d
        self._idle.append(d)
        timer = self.reactor.callLater(grace, lambda: d.called or d.callback(None))
        d.addBoth(lambda r: (timer.active() and timer.cancel(), r)[1])
        return d


def _deadline(result: Any) -> Any:
    raise DeadlineExceeded()


def _result_now(d: defer.Deferred[Any]) -> Any:
    """The result of a Deferred that has fired (its failure raised)."""
    box: list[Any] = []
    d.addBoth(box.append)
    result = box[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def peer_of(context: Any) -> str:
    """grpcio's peer (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``) as ``HOST:PORT``."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    return rest if kind in ("ipv4", "ipv6") else peer


def certificate_of(context: Any) -> Any:
    """The client's certificate (``cryptography.x509.Certificate``) under mutual TLS."""
    pem = (context.auth_context() or {}).get("x509_pem_cert")
    if not pem:
        return None
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem[0])


def _call_context(entry: GrpcMethod, context: Any) -> CallContext | None:
    if entry.method.context is None:
        return None
    return CallContext("grpc", peer_of(context), certificate_of(context))


def _status(error: Exception, name: str) -> tuple[grpc.StatusCode, str]:
    """The status a failed call ends with; an unexpected error is logged."""
    if isinstance(error, _ShuttingDown):
        return grpc.StatusCode.UNAVAILABLE, str(error)
    if isinstance(error, defer.CancelledError):
        return grpc.StatusCode.CANCELLED, "cancelled"
    code, details = status_of(error)
    if code is grpc.StatusCode.INTERNAL:
        log.failure("grpc: {method} failed", Failure(error), method=name)
    return code, details


def _threaded(entry: GrpcMethod, runner: CallRunner) -> Callable[..., Any]:
    reactor = runner.reactor
    name = entry.method.name

    def handle(request: Any, context: Any) -> Any:
        if type(request) is Malformed:
            reactor.callFromThread(runner.registry.refused, name,
                                   RpcError(request.reason), transport="grpc")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        holder: list[Any] = []
        try:
            args = entry.arguments(request)
            call_context = _call_context(entry, context)
            context.add_callback(lambda: holder and reactor.callFromThread(holder[0].cancel))
            result = threads.blockingCallFromThread(
                reactor, runner.run, entry, args, call_context, context.time_remaining(),
                holder)
            return entry.reply(result)
        except Exception as e:
            code, details = _status(e, name)
        context.abort(code, details)
    return handle


def _asynchronous(entry: GrpcMethod, runner: CallRunner) -> Callable[..., Any]:
    name = entry.method.name

    async def handle(request: Any, context: Any) -> Any:
        if type(request) is Malformed:
            runner.registry.refused(name, RpcError(request.reason), transport="grpc")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        try:
            d = runner.run(entry, entry.arguments(request), _call_context(entry, context),
                           context.time_remaining(), [])
            if d.called:  # a synchronous method: no Future needed
                result = _result_now(d)
            else:
                result = await d.asFuture(runner.reactor._asyncioEventloop)
            return entry.reply(result)
        except Exception as e:
            code, details = _status(e, name)
        await context.abort(code, details)
    return handle


def handlers(entries: list[GrpcMethod], runner: CallRunner, asynchronous: bool
             ) -> list[grpc.GenericRpcHandler]:
    """grpcio's generic handlers, one per service, for ``entries``."""
    make = _asynchronous if asynchronous else _threaded
    by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for entry in entries:
        service, _, method = entry.path[1:].partition("/")
        by_service.setdefault(service, {})[method] = grpc.unary_unary_rpc_method_handler(
            make(entry, runner),
            request_deserializer=request_parser(entry.request_class),
            response_serializer=entry.reply_class.SerializeToString)
    return [grpc.method_handlers_generic_handler(name, methods)
            for name, methods in by_service.items()]
