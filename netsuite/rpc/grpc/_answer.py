"""Answering gRPC calls: request messages in, plain arguments out; results and errors back.

Pure functions of a method and its message classes (built once, at start, by
:mod:`netsuite.rpc.grpc._descriptors`); no threads, no reactor.  :class:`GrpcMethod` reads a
request into the arguments :meth:`Registry.call` takes and writes a result into the reply
message; :func:`status_of` maps an error to its gRPC status and details.  A request that is
not a valid message of its type (bad wire data, invalid UTF-8 in a string) is
``INVALID_ARGUMENT``: :func:`request_parser` turns the parse error into a
:class:`Malformed` value the handler answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import grpc
from google.protobuf.message import DecodeError

from netsuite.rpc._core import Method, Registry, RpcError
from netsuite.rpc._types import Optional, Struct
from netsuite.rpc.grpc._convert import SCALARS as _SCALARS
from netsuite.rpc.grpc._convert import get, put
from netsuite.rpc.grpc._descriptors import PACKAGE, Schema, build_schema

__all__ = ["PACKAGE", "STATUS_CODES", "GrpcMethod", "Malformed", "grpc_method",
           "grpc_methods", "request_parser", "status_of"]

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


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and details a call that raised ``error`` ends with (an unexpected
    exception is ``INTERNAL`` with the text ``internal error``: its details stay in the
    server's log)."""
    if isinstance(error, RpcError):
        code = STATUS_CODES.get(error.kind, grpc.StatusCode.INTERNAL)
        if code is not grpc.StatusCode.INTERNAL:
            return code, str(error)
    return grpc.StatusCode.INTERNAL, "internal error"


@attrs.frozen
class Malformed:
    """A request that did not parse as its message type: why."""

    reason: str


def request_parser(request_class: Any) -> Callable[[bytes], Any]:
    """grpcio's request deserializer: the message, or :class:`Malformed`."""
    parse = request_class.FromString

    def parser(data: bytes) -> Any:
        try:
            return parse(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            return Malformed(f"malformed {request_class.DESCRIPTOR.name}: {e}")
    return parser


@attrs.define(frozen=True, slots=False)
class GrpcMethod:
    """One registry method as gRPC serves it: its path and message classes."""

    method: Method
    path: str
    request_class: Any
    reply_class: Any

    @property
    def result_field(self) -> str:
        """The reply's one field (the method's ``result_name``)."""
        return self.method.result_name

    @functools.cached_property
    def _scalar_names(self) -> tuple[str, ...] | None:
        """The parameter names when every parameter is a required scalar (read as is)."""
        params = self.method.params
        if all(p.spec in _SCALARS and p.required for p in params):
            return tuple(p.name for p in params)
        return None

    def arguments(self, request: Any) -> list[Any] | dict[str, Any]:
        """The call's arguments from a request message: a list (every parameter present),
        or a mapping without the optional parameters the request left absent."""
        names = self._scalar_names
        if names is not None:
            return [getattr(request, name) for name in names]
        params = self.method.params
        args: dict[str, Any] = {}
        for p in params:
            if (not p.required and (p.spec in _SCALARS or isinstance(p.spec, Struct | Optional))
                    and not request.HasField(p.name)):
                continue  # absent: the default applies
            args[p.name] = get(request, p.name, p.spec)
        return args

    def reply(self, result: Any) -> Any:
        """The reply message carrying ``result`` (plain data)."""
        spec = self.method.result
        if spec in _SCALARS:
            return self.reply_class(**{self.method.result_name: result})
        message = self.reply_class()
        put(message, self.method.result_name, spec, result)
        return message

    def request(self, args: dict[str, Any]) -> Any:
        """A request message from plain arguments by name (for clients)."""
        message = self.request_class()
        for p in self.method.params:
            if p.name in args:
                put(message, p.name, p.spec, args[p.name])
        return message

    def result(self, reply: Any) -> Any:
        """The plain result from a reply message (for clients)."""
        return get(reply, self.method.result_name, self.method.result)


def grpc_methods(registry: Registry, schema: Schema | None = None) -> Iterator[GrpcMethod]:
    """Every registry method with its path and message classes."""
    schema = schema or build_schema(registry)
    for method in registry:
        path, request_class, reply_class = schema.methods[method.name]
        yield GrpcMethod(method, path, request_class, reply_class)


def grpc_method(method: Method) -> GrpcMethod:
    """How gRPC carries one method (for clients that know it locally)."""
    registry = Registry()
    registry._add(method)
    [entry] = grpc_methods(registry)
    return entry
