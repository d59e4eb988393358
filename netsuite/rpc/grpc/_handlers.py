"""grpcio method handlers that run each call on the reactor thread.

:class:`CallRunner` lives on the reactor thread: it starts a call (the registry's, as every
transport does), bounds it by the client's deadline, counts the calls in progress, refuses
new ones while the server drains and tells when none is left.  :func:`handlers` builds
grpcio's handlers around it: for the thread-pool server each worker thread hands its call
to the reactor (:meth:`CallRunner.submit`) and waits on a lock the reactor releases with the
answer -- a second wait, with the call cancelled if the client goes, when the method is
still running then; for ``grpc.aio`` on the reactor's asyncio loop the handler is already
on the reactor thread and awaits the call's Deferred only if it has not ended at once.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import grpc
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._core import CallContext, DeadlineExceeded, InvalidParams, Registry, RpcError
from netsuite.rpc.grpc._answer import GrpcMethod, Malformed, request_parser, status_of

__all__ = ["CallRunner", "handlers", "peer_of"]

log = Logger()


class _ShuttingDown(RpcError):
    kind = "internal"


class CallRunner:
    """Starts calls on the reactor thread and keeps count of those still running.

    :meth:`submit` is the one method called from grpcio's worker threads: it queues work for
    the reactor and wakes it only if no wake-up is pending already, so calls arriving
    together are started in one reactor turn.
    """

    def __init__(self, registry: Registry, stats: Any, reactor: Any) -> None:
        self.registry = registry
        self.stats = stats
        self.reactor = reactor
        self.draining = False
        self.in_flight = 0
        self._idle: list[defer.Deferred[None]] = []
        self._work: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the reactor thread soon (from any thread)."""
        self._work.append(work)
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self.reactor.callFromThread(self._drain)

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        work = self._work
        while work:
            work.popleft()()

    def start(self, entry: GrpcMethod, args: Any, context: CallContext | None,
              timeout: float | None) -> Any:
        """Start a call (on the reactor thread): its plain result, or a Deferred of it.

        ``timeout`` is the client's deadline (seconds left): a call still running then is
        cancelled and fails with :class:`DeadlineExceeded`.
        """
        if self.draining:
            raise _ShuttingDown("server is shutting down")
        self.stats.calls += 1
        try:
            result = self.registry.start(entry.method.name, args, transport="grpc",
                                         context=context)
        except RpcError:
            self.stats.call_errors += 1
            raise
        if type(result) is not defer.Deferred:
            return result
        self.in_flight += 1
        if timeout is not None:
            result.addTimeout(timeout, self.reactor,
                              onTimeoutCancel=lambda value, seconds: _deadline(value))
        result.addBoth(self._done)
        return result

    def _done(self, result: Any) -> Any:
        self.in_flight -= 1
        if isinstance(result, Failure):
            self.stats.call_errors += 1
        if not self.in_flight and self._idle:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)
        return result

    def idle(self, grace: float) -> defer.Deferred[None]:
        """Fires once no call is running, or after ``grace`` seconds."""
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
    if not isinstance(error, RpcError):  # the core logs the method's own errors
        log.failure("grpc: {method} failed", Failure(error), method=name)
    return status_of(error)


def _threaded(entry: GrpcMethod, runner: CallRunner) -> Callable[..., Any]:
    reactor = runner.reactor
    name = entry.method.name

    def handle(request: Any, context: Any) -> Any:
        if type(request) is Malformed:
            runner.submit(lambda: runner.registry.refused(name, InvalidParams(request.reason),
                                                          transport="grpc"))
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        args = entry.arguments(request)
        call_context = _call_context(entry, context)
        timeout = context.time_remaining()
        ready = threading.Lock()
        ready.acquire()
        # [result, error, running Deferred, lock released when it ends]
        box: list[Any] = [None, None, None, None]

        def run() -> None:  # on the reactor thread
            try:
                result = runner.start(entry, args, call_context, timeout)
            except Exception as e:
                box[1] = e
            else:
                if type(result) is defer.Deferred:
                    ended = box[3] = threading.Lock()
                    ended.acquire()
                    box[2] = result
                    result.addBoth(_settle, box, ended)
                else:
                    box[0] = result
            ready.release()

        runner.submit(run)
        ready.acquire()
        running = box[2]
        if running is not None:  # still running: wait, and cancel it if the client goes
            if not context.add_callback(lambda: reactor.callFromThread(running.cancel)):
                reactor.callFromThread(running.cancel)
            box[3].acquire()
        if box[1] is None:
            try:
                return entry.reply(box[0])
            except Exception as e:
                box[1] = e
        code, details = _status(box[1], name)
        context.abort(code, details)
    return handle


def _settle(result: Any, box: list[Any], ended: Any) -> None:
    """A running call ended (reactor thread): hand its outcome to the waiting worker."""
    if isinstance(result, Failure):
        box[1] = result.value
    else:
        box[0] = result
    ended.release()


def _asynchronous(entry: GrpcMethod, runner: CallRunner) -> Callable[..., Any]:
    name = entry.method.name
    loop = runner.reactor._asyncioEventloop

    async def handle(request: Any, context: Any) -> Any:
        if type(request) is Malformed:
            runner.registry.refused(name, InvalidParams(request.reason), transport="grpc")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
        try:
            result = runner.start(entry, entry.arguments(request),
                                  _call_context(entry, context), context.time_remaining())
            if type(result) is defer.Deferred:
                result = await result.asFuture(loop)
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
