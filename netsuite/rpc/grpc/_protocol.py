"""gRPC for the rpc service (``--grpc``, default ``tcp:50051``), hosted under twistd.

Every method of the registry is served at ``/netsuite.SERVICE/METHOD`` with messages built
at start from its signature (see :mod:`netsuite.rpc.grpc._descriptors`; the book's two
methods keep the messages of ``netsuite.proto``).  The server also runs server reflection
(``grpc.reflection.v1alpha.ServerReflection`` and ``grpc.reflection.v1.ServerReflection``,
describing every service with its messages) and the standard health service
``grpc.health.v1.Health``: ``SERVING`` for ``""`` and for each service by its full name
(``netsuite.Geo``), ``NOT_SERVING`` from SIGTERM until the listener closes.

Methods run on the reactor thread, as on every other transport.  With twistd's default
reactor the server is grpcio's thread-pool server: its worker thread hands each call to the
reactor and waits for the answer, so calls never run two at a
time and never need a lock; with ``twistd --reactor=asyncio`` it is ``grpc.aio`` on the
reactor's own asyncio loop and calls go straight to the Twisted side.  A client's deadline
bounds the call (it is cancelled, status ``DEADLINE_EXCEEDED``); a client that cancels has
its call cancelled.

Errors: bad parameters or a malformed request ``INVALID_ARGUMENT``, overflow
``OUT_OF_RANGE``, another application error ``FAILED_PRECONDITION``, an unknown method
``UNIMPLEMENTED``, anything unexpected ``INTERNAL`` (and logged).

The listener takes a Twisted-style description (see :mod:`netsuite.rpc.grpc._listen`:
tcp, tcp6, ssl, mtls, unix) and logs ``grpc listening on HOST:PORT (description)`` like
every other listener.  On stop (SIGTERM) health turns ``NOT_SERVING``, new calls get
``UNAVAILABLE``, and calls in progress get up to ``grace`` seconds to finish.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import grpc
from twisted.application.service import Service
from twisted.internet import defer, threads
from twisted.logger import Logger

from netsuite._endpoints import format_host_port
from netsuite.rpc._core import MAX_REQUEST, Registry
from netsuite.rpc.grpc._answer import (
    PACKAGE,
    STATUS_CODES,
    GrpcMethod,
    grpc_method,
    grpc_methods,
)
from netsuite.rpc.grpc._descriptors import build_schema
from netsuite.rpc.grpc._handlers import CallRunner, handlers
from netsuite.rpc.grpc._listen import ListenAddress, parse_description

__all__ = [
    "MAX_WORKERS",
    "PACKAGE",
    "STATUS_CODES",
    "GrpcMethod",
    "GrpcService",
    "GrpcStats",
    "ListenAddress",
    "grpc_method",
    "grpc_methods",
    "grpc_service",
    "parse_description",
]

log = Logger()

#: Worker threads of the thread-pool server: each waits for the reactor while its call
#: runs, so this bounds the calls in progress at once (running asynchronous methods).
MAX_WORKERS = 100

_REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


@attrs.define
class GrpcStats:
    """Plain counters of the gRPC transport: ``calls`` answered, ``call_errors`` among them
    answered with a non-OK status."""

    calls: int = 0
    call_errors: int = 0


def _uses_asyncio(reactor: Any) -> bool:
    return getattr(reactor, "_asyncioEventloop", None) is not None


class GrpcService(Service):
    """A gRPC server as a twistd service: started with the application, stopped on SIGTERM."""

    def __init__(self, registry: Registry, description: str, reactor: Any, *,
                 grace: float = 5.0, max_workers: int = MAX_WORKERS,
                 max_message: int = MAX_REQUEST, reuse_port: bool = False) -> None:
        self.registry = registry
        self.description = description
        self.listen = parse_description(description)
        self.reactor = reactor
        self.grace = grace
        self.max_workers = max_workers
        self.max_message = max_message
        self.stats = GrpcStats()
        self.asynchronous = _uses_asyncio(reactor)
        self.schema = build_schema(registry)
        self.runner = CallRunner(registry, self.stats, reactor)
        self.health: Any = None
        self.server: Any = None
        self.port: int | None = None
        self.whenListening: defer.Deferred[int] = defer.Deferred()
        self._options = [("grpc.max_receive_message_length", max_message),
                         ("grpc.so_reuseport", int(reuse_port))]

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        entries = list(grpc_methods(self.registry, self.schema))
        return handlers(entries, self.runner, self.asynchronous)

    def startService(self) -> None:
        super().startService()
        if self.asynchronous:
            # Created and bound now (the reactor's loop is the current event loop), so a
            # port in use stops start-up here too; started once the loop runs.
            server = grpc.aio.server(handlers=self._handlers(), options=self._options)
            self._add_services(server)
            self._bind(server)
            self.server = server
            loop = self.reactor._asyncioEventloop
            d = defer.Deferred.fromFuture(asyncio.ensure_future(self._start_aio(server),
                                                                loop=loop))
            d.addErrback(self._failed_async)
            return
        from concurrent.futures import ThreadPoolExecutor

        server = grpc.server(ThreadPoolExecutor(max_workers=self.max_workers,
                                                thread_name_prefix="grpc"),
                             handlers=self._handlers(), options=self._options)
        self._add_services(server)
        self._bind(server)  # a port in use stops twistd's start-up with this error
        self.server = server
        # Serve (and say so) once the reactor runs, so SIGTERM already means a clean stop.
        self.reactor.callWhenRunning(self._start_threads, server)

    def _add_services(self, server: Any) -> None:
        """Health and reflection beside the registry's services."""
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
        from grpc_reflection.v1alpha import reflection

        if self.asynchronous:
            self.health = health.aio.HealthServicer()
            servicer: Any = reflection.aio.ReflectionServicer(self._reflected(),
                                                              pool=self.schema.pool)
        else:
            from concurrent.futures import ThreadPoolExecutor

            self.health = health.HealthServicer(
                experimental_non_blocking=True,
                experimental_thread_pool=ThreadPoolExecutor(max_workers=1))
            servicer = reflection.ReflectionServicer(self._reflected(), pool=self.schema.pool)
            for name in ("", *self.schema.services):
                self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
        # grpc.reflection.v1 has the same messages as v1alpha: one servicer serves both.
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_REFLECTION_V1, {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString),
        }),))

    def _reflected(self) -> list[str]:
        from grpc_reflection.v1alpha import reflection

        return [*self.schema.services, "grpc.health.v1.Health", reflection.SERVICE_NAME,
                _REFLECTION_V1]

    def _start_threads(self, server: Any) -> None:
        if self.server is not server:
            return  # stopped before the reactor ran
        server.start()
        self._listening()

    async def _start_aio(self, server: Any) -> None:
        from grpc_health.v1 import health_pb2

        for name in ("", *self.schema.services):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        await server.start()
        self._listening()

    def _bind(self, server: Any) -> None:
        try:
            credentials = self.listen.credentials()
        except OSError as e:
            raise RuntimeError(f"grpc cannot listen on {self.description}: {e}") from None
        try:
            if credentials is None:
                port = server.add_insecure_port(self.listen.address)
            else:
                port = server.add_secure_port(self.listen.address, credentials)
        except RuntimeError as e:
            raise RuntimeError(f"grpc cannot listen on {self.description}: {e}") from None
        if port == 0 and not self.listen.address.startswith("unix:"):
            raise RuntimeError(f"grpc cannot listen on {self.description}")
        self.port = port

    def _listening(self) -> None:
        where = (self.listen.address if self.listen.address.startswith("unix:")
                 else format_host_port(self.listen.host, self.port or 0))
        log.info("grpc listening on {address} ({description}, {kind})", address=where,
                 description=self.description,
                 kind="grpc.aio" if self.asynchronous else "thread-pool server")
        self.whenListening.callback(self.port)

    def _failed_async(self, failure: Any) -> None:
        log.failure("grpc cannot start", failure)
        self.whenListening.errback(failure)
        if self.reactor.running:
            self.reactor.stop()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        server, self.server = self.server, None
        if server is None:
            return
        # Health says NOT_SERVING, new calls are refused; running calls get the grace period.
        self.runner.draining = True
        if self.asynchronous:
            yield defer.Deferred.fromFuture(asyncio.ensure_future(
                self.health.enter_graceful_shutdown(), loop=self.reactor._asyncioEventloop))
        else:
            self.health.enter_graceful_shutdown()
        yield self.runner.idle(self.grace)
        # The last answers are being written: a moment for them, then close.
        linger = min(self.grace, 1.0)
        if self.asynchronous:
            yield defer.Deferred.fromFuture(asyncio.ensure_future(
                server.stop(linger), loop=self.reactor._asyncioEventloop))
            return
        event = server.stop(linger)
        yield threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                                        event.wait, linger + 5)


def grpc_service(registry: Registry, description: str, reactor: Any, *, grace: float = 5.0,
                 max_message: int = MAX_REQUEST, reuse_port: bool = False) -> GrpcService:
    """The gRPC server for ``registry`` on ``description`` (the rpc plugin's ``--grpc``);
    ``reuse_port`` lets other processes (``--workers``) bind the same port."""
    return GrpcService(registry, description, reactor, grace=grace, max_message=max_message,
                       reuse_port=reuse_port)
