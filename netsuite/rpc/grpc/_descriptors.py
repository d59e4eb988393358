"""Protobuf descriptors for a whole registry, built at start: what gRPC serves and reflects.

One file, ``netsuite.proto`` (package ``netsuite``): a service per registry service
(``netsuite.Geo``) with an rpc per method; the request ``<Method>Request`` carries the
parameters as fields 1, 2, ... in order, the reply ``<Method>Reply`` the result as field 1
named after the method's ``result_name``.  The book's ``Programmer.GetSkill`` keeps its
``SkillRequest`` / ``SkillReply`` (``Algorithm.Sum``'s names already follow the rule), so
the book's two methods are described exactly as the committed ``netsuite.proto``.

Types: ``int64``, ``double``, ``bool``, ``string``, ``bytes``; ``list[T]`` is ``repeated``,
``dict[str, T]`` is ``map<string, T>``; a struct is a message named after its class; an
optional scalar (and a scalar parameter with a default) is a proto3 ``optional`` field,
absent for ``None``; an optional struct is a message field, absent for ``None``.  Where
protobuf has no direct form (a list of lists, a map of lists, an optional list, an
optional element) the inner value is wrapped in a message of one field: ``Int64List
{repeated int64 items = 1}``, ``DoubleMap {map<string, double> items = 1}``,
``OptionalInt64 {optional int64 value = 1}``.

Message classes come from protobuf's ``message_factory.GetMessageClass`` over a private
descriptor pool, which also holds the health and reflection files so reflection can
describe every service the server runs.
"""

from __future__ import annotations

from typing import Any

import attrs
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from netsuite.rpc._core import Method, Registry
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    STR,
    ListOf,
    MapOf,
    Optional,
    Struct,
    TypeSpec,
)

__all__ = ["FILE_NAME", "PACKAGE", "Schema", "build_schema", "message_names"]

#: The protobuf package of every service.
PACKAGE = "netsuite"
#: The name of the file that describes the registry (reflection serves it by this name).
FILE_NAME = "netsuite.proto"

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS: dict[TypeSpec, int] = {INT64: _F.TYPE_INT64, FLOAT64: _F.TYPE_DOUBLE,
                                 BOOL: _F.TYPE_BOOL, STR: _F.TYPE_STRING,
                                 BYTES: _F.TYPE_BYTES}
_BASE_NAMES: dict[TypeSpec, str] = {INT64: "Int64", FLOAT64: "Double", BOOL: "Bool",
                                    STR: "String", BYTES: "Bytes"}
#: The book's methods whose messages are not ``<Method>Request`` / ``<Method>Reply``.
_BOOK_NAMES = {"Programmer.GetSkill": ("SkillRequest", "SkillReply",
                                       (("java", STR), ("go", STR)), STR, "skill")}


def message_names(method: Method) -> tuple[str, str]:
    """The request and reply message names of ``method`` (before any clash is resolved)."""
    book = _BOOK_NAMES.get(method.name)
    if book is not None:
        request, reply, params, result, result_name = book
        if (tuple((p.name, p.spec) for p in method.params) == params
                and method.result == result and method.result_name == result_name):
            return request, reply
    return method.method + "Request", method.method + "Reply"


@attrs.frozen
class Schema:
    """The registry's file, its pool, and for each method its path and message classes."""

    file: descriptor_pb2.FileDescriptorProto
    pool: descriptor_pool.DescriptorPool
    #: method name -> (rpc path, request class, reply class)
    methods: dict[str, tuple[str, Any, Any]]
    #: full service names (``netsuite.Geo``), sorted
    services: tuple[str, ...]


def build_schema(registry: Registry) -> Schema:
    """Descriptors and message classes for every method of ``registry``.

    ``TypeError`` if two different structs share a class name (both would be the same
    message).
    """
    builder = _Builder()
    file = builder.build(registry)
    pool = descriptor_pool.DescriptorPool()
    for extra in _support_files():
        pool.Add(extra)
    pool.Add(file)
    methods = {}
    for method in registry:
        request, reply = builder.names[method.name]
        methods[method.name] = (
            f"/{PACKAGE}.{method.service}/{method.method}",
            message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{request}")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{reply}")))
    services = tuple(f"{PACKAGE}.{s.name}" for s in file.service)
    return Schema(file, pool, methods, services)


def _support_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """The health and reflection files (v1alpha as grpcio-reflection ships it, and the same
    messages as ``grpc.reflection.v1``), for reflection to describe those services too."""
    files = []
    try:
        from grpc_health.v1 import health_pb2
        from grpc_reflection.v1alpha import reflection_pb2
    except ImportError:  # pragma: no cover - both are in the grpc extra
        return files
    for module in (health_pb2, reflection_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    v1 = descriptor_pb2.FileDescriptorProto()
    v1.CopyFrom(files[-1])
    v1.name = "grpc/reflection/v1/reflection.proto"
    v1.package = "grpc.reflection.v1"
    for message in v1.message_type:
        for field in message.field:
            if field.type_name:
                field.type_name = field.type_name.replace(".grpc.reflection.v1alpha.",
                                                          ".grpc.reflection.v1.")
    for service in v1.service:
        for rpc in service.method:
            rpc.input_type = rpc.input_type.replace("v1alpha", "v1")
            rpc.output_type = rpc.output_type.replace("v1alpha", "v1")
    files.append(v1)
    return files


class _Builder:
    """Builds the file: messages in order of first use, structs and wrappers after the
    request and reply messages."""

    def __init__(self) -> None:
        self.file = descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE,
                                                       syntax="proto3")
        self.names: dict[str, tuple[str, str]] = {}
        self._extra: dict[str, descriptor_pb2.DescriptorProto] = {}
        self._structs: dict[str, Struct] = {}

    def build(self, registry: Registry) -> descriptor_pb2.FileDescriptorProto:
        methods = list(registry)
        wanted = [message_names(m) for m in methods]
        taken = [n for pair in wanted for n in pair]
        services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        for method, (request, reply) in zip(methods, wanted, strict=True):
            if taken.count(request) > 1 or taken.count(reply) > 1:
                # Two services with a method of the same name: the service tells them apart.
                request, reply = method.service + request, method.service + reply
            self.names[method.name] = (request, reply)
            service = services.get(method.service)
            if service is None:
                service = services[method.service] = self.file.service.add(name=method.service)
            service.method.add(name=method.method, input_type=f".{PACKAGE}.{request}",
                               output_type=f".{PACKAGE}.{reply}")
            message = self.file.message_type.add(name=request)
            for number, param in enumerate(method.params, 1):
                # A scalar with a default is optional: absent, the default applies.
                self.field(message, param.name, number, param.spec,
                           optional=not param.required and param.spec in _SCALARS)
            message = self.file.message_type.add(name=reply)
            self.field(message, method.result_name, 1, method.result)
        clash = {m.name for m in self.file.message_type} & set(self._extra)
        if clash:
            raise TypeError(f"gRPC: message name {sorted(clash)[0]} is both a struct and a "
                            "request or reply")
        self.file.message_type.extend(self._extra.values())
        return self.file

    def field(self, message: descriptor_pb2.DescriptorProto, name: str, number: int,
              spec: TypeSpec, *, optional: bool = False) -> None:
        """Add field ``name`` of ``spec`` to ``message``."""
        field = message.field.add(name=name, number=number, label=_F.LABEL_OPTIONAL)
        if isinstance(spec, Optional):
            spec, optional = spec.inner, True
        if isinstance(spec, ListOf):
            if optional:
                self._set_type(field, self.wrapper(spec))
                return
            field.label = _F.LABEL_REPEATED
            self._set_type(field, self.element(spec.item))
            return
        if isinstance(spec, MapOf):
            if optional:
                self._set_type(field, self.wrapper(spec))
                return
            entry = message.nested_type.add(name=_camel(name) + "Entry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=_F.LABEL_OPTIONAL, type=_F.TYPE_STRING)
            value = entry.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL)
            self._set_type(value, self.element(spec.value))
            field.label = _F.LABEL_REPEATED
            field.type = _F.TYPE_MESSAGE
            field.type_name = f".{PACKAGE}.{message.name}.{entry.name}"
            return
        self._set_type(field, self.element(spec))
        if optional and field.type != _F.TYPE_MESSAGE:
            field.proto3_optional = True
            field.oneof_index = len(message.oneof_decl)
            message.oneof_decl.add(name="_" + name)

    def element(self, spec: TypeSpec) -> int | str:
        """A singular type for ``spec``: a scalar type, or a message name."""
        scalar = _SCALARS.get(spec)
        if scalar is not None:
            return scalar
        if isinstance(spec, Struct):
            return self.struct(spec)
        return self.wrapper(spec)

    def struct(self, spec: Struct) -> str:
        """The message of a struct (added on first use)."""
        known = self._structs.get(spec.name)
        if known is not None:
            if known != spec:
                raise TypeError(f"gRPC: two different structs are named {spec.name} "
                                f"({known.cls.__module__} and {spec.cls.__module__})")
            return spec.name
        self._structs[spec.name] = spec
        message = descriptor_pb2.DescriptorProto(name=spec.name)
        self._extra[spec.name] = message
        for number, f in enumerate(spec.fields, 1):
            self.field(message, f.name, number, f.spec)
        return spec.name

    def wrapper(self, spec: TypeSpec) -> str:
        """A message of one field holding ``spec`` (for what protobuf cannot nest)."""
        name = _wrapper_name(spec)
        if name not in self._extra:
            message = descriptor_pb2.DescriptorProto(name=name)
            self._extra[name] = message
            if isinstance(spec, Optional):
                self.field(message, "value", 1, spec)
            else:
                self.field(message, "items", 1, spec)
        return name

    @staticmethod
    def _set_type(field: descriptor_pb2.FieldDescriptorProto, kind: int | str) -> None:
        if isinstance(kind, int):
            field.type = kind  # type: ignore[assignment]
        else:
            field.type = _F.TYPE_MESSAGE
            field.type_name = f".{PACKAGE}.{kind}"


def _wrapper_name(spec: TypeSpec) -> str:
    if isinstance(spec, ListOf):
        return _base_name(spec.item) + "List"
    if isinstance(spec, MapOf):
        return _base_name(spec.value) + "Map"
    if isinstance(spec, Optional):
        return "Optional" + _base_name(spec.inner)
    raise TypeError(f"no wrapper for {spec!r}")  # pragma: no cover


def _base_name(spec: TypeSpec) -> str:
    base = _BASE_NAMES.get(spec)
    if base is not None:
        return base
    if isinstance(spec, Struct):
        return spec.name
    return _wrapper_name(spec)


def _camel(name: str) -> str:
    """protoc's map entry name stem: ``by_name`` -> ``ByName``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
