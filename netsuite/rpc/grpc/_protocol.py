"""gRPC for the rpc service (``--grpc``, default ``tcp:50051``), hosted under twistd.

The services of ``netsuite/rpc/netsuite.proto`` (PROTOCOLS.md section 4):
``/netsuite.Algorithm/Sum`` (``SumRequest{int64 x = 1; int64 y = 2}`` ->
``SumReply{int64 total = 1}``) and ``/netsuite.Programmer/GetSkill``
(``SkillRequest{string java = 1; string go = 2}`` -> ``SkillReply{string skill = 1}``).
Their message classes are the ones generated from the ``.proto`` and committed in
:mod:`netsuite.rpc.grpc._generated`.  Every other method of the registry is served too, at
``/netsuite.SERVICE/METHOD``, with messages built from its
signature the same way (parameters are fields 1, 2, ... in order, ``int64`` or ``string``;
the reply has one field 1 named after the result): nothing here knows the book's methods.

Hosting: with twistd's default reactor the server is grpcio's own thread-pool server
(``grpc.server``; handlers run in its worker threads, one call at a time); with
``twistd --reactor=asyncio`` it is ``grpc.aio``, running on the reactor's asyncio loop.
Both use one servicer function per method, which calls :meth:`Registry.call`
(``transport="grpc"``).

Errors: bad parameters ``INVALID_ARGUMENT``, overflow ``OUT_OF_RANGE``, another
application error ``FAILED_PRECONDITION``, an unknown method ``UNIMPLEMENTED`` (grpcio's
answer to a path nobody registered), anything unexpected ``INTERNAL``.

The listener takes a Twisted-style description: ``tcp:PORT[:interface=ADDR]``,
``tcp6:PORT[:interface=ADDR]``, ``ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem]`` (server
TLS credentials) or ``unix:PATH``.  It logs ``grpc listening on HOST:PORT (description)``
like every other listener (port 0 reports the port chosen).  On stop (SIGTERM) it refuses
new calls at once and lets calls in progress finish for up to ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from twisted.application.service import Service
from twisted.internet import defer, threads
from twisted.logger import Logger

from netsuite._endpoints import format_host_port
from netsuite.rpc._core import MAX_REQUEST, Method, Registry, RpcError
from netsuite.rpc.grpc._generated import netsuite_pb2

__all__ = [
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

#: The protobuf package of every service.
PACKAGE = "netsuite"
#: Worker threads of the thread-pool server (the calls are short and hold the GIL).
MAX_WORKERS = 4
#: Largest request message accepted (grpcio's own default is 4 MiB).


@attrs.frozen
class GrpcMethod:
    """One registry method as gRPC serves it: its path and message classes."""

    method: Method
    path: str
    request_class: Any
    reply_class: Any


def grpc_methods(registry: Registry) -> Iterator[GrpcMethod]:
    """Every registry method with its path and message classes (generated ones where the
    ``.proto`` defines the method, else built from its signature)."""
    dynamic: list[Method] = []
    for method in registry:
        entry = _generated(method)
        if entry is not None:
            yield entry
        else:
            dynamic.append(method)
    if dynamic:
        yield from _dynamic_methods(dynamic)


def grpc_method(method: Method) -> GrpcMethod:
    """How gRPC carries one method (for clients)."""
    entry = _generated(method)
    if entry is None:
        [entry] = _dynamic_methods([method])
    return entry


def _generated(method: Method) -> GrpcMethod | None:
    service = netsuite_pb2.DESCRIPTOR.services_by_name.get(method.service)
    generated = service.methods_by_name.get(method.method) if service else None
    if generated is None or not _fits(method, generated.input_type, generated.output_type):
        return None
    return GrpcMethod(method, _path(method),
                      message_factory.GetMessageClass(generated.input_type),
                      message_factory.GetMessageClass(generated.output_type))


def _path(method: Method) -> str:
    return f"/{PACKAGE}.{method.service}/{method.method}"


_PROTO_TYPES = {int: descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                str: descriptor_pb2.FieldDescriptorProto.TYPE_STRING}


def _fits(method: Method, request: Any, reply: Any) -> bool:
    """Whether generated messages carry exactly this method's parameters and result."""
    wanted = [(p.name, i, _PROTO_TYPES[p.type]) for i, p in enumerate(method.params, 1)]
    have = [(f.name, f.number, f.type) for f in request.fields]
    return (wanted == have and len(reply.fields) == 1 and reply.fields[0].number == 1
            and reply.fields[0].type == _PROTO_TYPES[method.result_type])


def _dynamic_methods(methods: list[Method]) -> Iterator[GrpcMethod]:
    """Message classes for methods the ``.proto`` does not know, from their signatures."""
    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(name="netsuite_registry.proto",
                                               package=PACKAGE, syntax="proto3")
    for method in methods:
        stem = method.service + method.method
        request = proto.message_type.add(name=stem + "Request")
        for number, param in enumerate(method.params, 1):
            request.field.add(name=param.name, number=number, type=_PROTO_TYPES[param.type],
                              label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        reply = proto.message_type.add(name=stem + "Reply")
        reply.field.add(name=method.result_name, number=1, type=_PROTO_TYPES[method.result_type],
                        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool.Add(proto)
    for method in methods:
        stem = f"{PACKAGE}.{method.service}{method.method}"
        yield GrpcMethod(
            method, _path(method),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(stem + "Request")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(stem + "Reply")))


@attrs.define
class GrpcStats:
    """Plain counters of the gRPC transport: ``calls`` answered, ``call_errors`` among them
    answered with a non-OK status."""

    calls: int = 0
    call_errors: int = 0


#: The gRPC status of each ``RpcError.kind``.
STATUS_CODES: dict[str, grpc.StatusCode] = {
    "ill-formed": grpc.StatusCode.UNIMPLEMENTED,
    "unknown-service": grpc.StatusCode.UNIMPLEMENTED,
    "unknown-method": grpc.StatusCode.UNIMPLEMENTED,
    "bad-params": grpc.StatusCode.INVALID_ARGUMENT,
    "application": grpc.StatusCode.FAILED_PRECONDITION,
    "overflow": grpc.StatusCode.OUT_OF_RANGE,
    "deadline": grpc.StatusCode.DEADLINE_EXCEEDED,
    "internal": grpc.StatusCode.INTERNAL,
}


def _status_of(error: BaseException) -> grpc.StatusCode:
    if isinstance(error, RpcError):
        return STATUS_CODES.get(error.kind, grpc.StatusCode.INTERNAL)
    return grpc.StatusCode.INTERNAL


def _handlers(registry: Registry, stats: GrpcStats, asynchronous: bool
              ) -> list[grpc.GenericRpcHandler]:
    by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for entry in grpc_methods(registry):
        by_service.setdefault(f"{PACKAGE}.{entry.method.service}", {})[entry.method.method] = (
            grpc.unary_unary_rpc_method_handler(
                _servicer(registry, entry, stats, asynchronous),
                request_deserializer=entry.request_class.FromString,
                response_serializer=entry.reply_class.SerializeToString))
    return [grpc.method_handlers_generic_handler(name, methods)
            for name, methods in by_service.items()]


def _servicer(registry: Registry, entry: GrpcMethod, stats: GrpcStats, asynchronous: bool
              ) -> Callable[..., Any]:
    method = entry.method
    reply_class = entry.reply_class
    field = reply_class.DESCRIPTOR.fields[0].name
    names = [p.name for p in method.params]
    name = method.name

    def run(request: Any) -> tuple[Any, grpc.StatusCode | None, str]:
        stats.calls += 1
        try:
            result = registry.call(name, [getattr(request, n) for n in names],
                                   transport="grpc")
        except Exception as e:
            stats.call_errors += 1
            code = _status_of(e)
            if code is grpc.StatusCode.INTERNAL:
                log.failure("grpc: {method} failed", method=name)
                return None, code, "internal error"
            return None, code, str(e)
        return reply_class(**{field: result}), None, ""

    if asynchronous:
        async def handle_async(request: Any, context: Any) -> Any:
            reply, code, details = run(request)
            if code is not None:
                await context.abort(code, details)
            return reply
        return handle_async

    def handle(request: Any, context: Any) -> Any:
        # grpcio's worker threads take turns: the registry, its observers and the counters
        # then never see two gRPC calls at once (the calls hold the GIL anyway).
        with _CALL_LOCK:
            reply, code, details = run(request)
        if code is not None:
            context.abort(code, details)
        return reply
    return handle


_CALL_LOCK = threading.Lock()


@attrs.frozen
class ListenAddress:
    """Where and how to listen: a gRPC address (``HOST:PORT`` / ``unix:PATH``) and TLS files."""

    address: str
    host: str
    port: int
    private_key: str | None = None
    cert: str | None = None

    def credentials(self) -> grpc.ServerCredentials | None:
        """Server TLS credentials, or ``None`` for plaintext."""
        if self.private_key is None:
            return None
        with open(self.private_key, "rb") as f:
            key = f.read()
        with open(self.cert or self.private_key, "rb") as f:
            cert = f.read()
        return grpc.ssl_server_credentials([(key, cert)])


def _split(description: str) -> list[str]:
    """Split an endpoint description on ``:``, honouring ``\\:`` escapes."""
    parts, current, escaped = [], [], False
    for ch in description:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_description(description: str) -> ListenAddress:
    """A Twisted-style listener description as a gRPC address; :class:`ValueError` if the
    description is not one gRPC can serve (tcp, tcp6, ssl, unix)."""
    kind, *rest = _split(description)
    kind = kind.lower()
    if kind == "unix":
        if not rest or not rest[0]:
            raise ValueError(f"{description!r}: unix needs a path")
        return ListenAddress(f"unix:{rest[0]}", rest[0], 0)
    if kind not in ("tcp", "tcp6", "ssl"):
        raise ValueError(f"{description!r}: gRPC listens on tcp:, tcp6:, ssl: or unix: only")
    args: dict[str, str] = {}
    positional: list[str] = []
    for item in rest:
        key, eq, value = item.partition("=")
        if eq:
            args[key] = value
        else:
            positional.append(item)
    port_text = args.pop("port", positional[0] if positional else "")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{description!r}: a port number 0-65535 is needed")
    port = int(port_text)
    host = args.pop("interface", "::" if kind == "tcp6" else "0.0.0.0")
    key = args.pop("privateKey", None)
    cert = args.pop("certKey", None)
    args.pop("backlog", None)
    if kind == "ssl" and key is None:
        raise ValueError(f"{description!r}: ssl needs privateKey=FILE")
    if args:
        raise ValueError(f"{description!r}: gRPC does not support {', '.join(sorted(args))}")
    return ListenAddress(format_host_port(host, port), host, port, key, cert)


def _uses_asyncio(reactor: Any) -> bool:
    return getattr(reactor, "_asyncioEventloop", None) is not None


class GrpcService(Service):
    """A gRPC server as a twistd service: started with the application, stopped on SIGTERM."""

    def __init__(self, registry: Registry, description: str, reactor: Any, *,
                 grace: float = 5.0, max_workers: int = MAX_WORKERS,
                 max_message: int = MAX_REQUEST) -> None:
        self.registry = registry
        self.description = description
        self.listen = parse_description(description)
        self.reactor = reactor
        self.grace = grace
        self.max_workers = max_workers
        self.max_message = max_message
        self.stats = GrpcStats()
        self.asynchronous = _uses_asyncio(reactor)
        self.server: Any = None
        self.port: int | None = None
        self.whenListening: defer.Deferred[int] = defer.Deferred()
        self._options = [("grpc.max_receive_message_length", max_message),
                         ("grpc.so_reuseport", 0)]

    def startService(self) -> None:
        super().startService()
        if self.asynchronous:
            # Created and bound now (the reactor's loop is the current event loop), so a
            # port in use stops start-up here too; started once the loop runs.
            server = grpc.aio.server(handlers=_handlers(self.registry, self.stats, True),
                                     options=self._options)
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
                             handlers=_handlers(self.registry, self.stats, False),
                             options=self._options)
        self._bind(server)  # a port in use stops twistd's start-up with this error
        self.server = server
        # Serve (and say so) once the reactor runs, so SIGTERM already means a clean stop.
        self.reactor.callWhenRunning(self._start_threads, server)

    def _start_threads(self, server: Any) -> None:
        if self.server is not server:
            return  # stopped before the reactor ran
        server.start()
        self._listening()

    async def _start_aio(self, server: Any) -> None:
        await server.start()
        self._listening()

    def _bind(self, server: Any) -> None:
        credentials = self.listen.credentials()
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

    def stopService(self) -> defer.Deferred[None] | None:
        super().stopService()
        server, self.server = self.server, None
        if server is None:
            return None
        if self.asynchronous:
            loop = self.reactor._asyncioEventloop
            return defer.Deferred.fromFuture(
                asyncio.ensure_future(server.stop(self.grace), loop=loop))
        event = server.stop(self.grace)
        return threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                                         event.wait, self.grace + 5)


def grpc_service(registry: Registry, description: str, reactor: Any, *, grace: float = 5.0,
                 max_message: int = MAX_REQUEST) -> GrpcService:
    """The gRPC server for ``registry`` on ``description`` (the rpc plugin's ``--grpc``)."""
    return GrpcService(registry, description, reactor, grace=grace, max_message=max_message)
