"""``netsuite schema proto|go [--service MODULE]``: the registered methods as a ``.proto`` file
or as the Go structs a ``net/rpc`` client needs.

``proto`` prints the file gRPC serves and reflects (see
:mod:`netsuite.rpc.grpc._descriptors`): for the book's two methods alone it is the
``netsuite.proto`` shipped with the package.  ``go`` prints a Go file: for each method the
struct of its parameters (``MoveArgs``; the book's ``Algorithm.Sum`` keeps the book's
``Args``), every struct the methods use, and a comment with the call and its reply type.
``--service MODULE`` (repeatable) imports MODULE first, as ``twistd rpc --service`` does,
so its methods are included.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from netsuite._cli import CommandFailed
from netsuite.rpc._core import SERVICE, Method, Registry
from netsuite.rpc._types import ListOf, MapOf, Optional, Struct, TypeSpec, go_type_name

__all__ = ["DESCRIPTION", "configure", "go_source", "proto_source", "run"]

DESCRIPTION = (
    "Print the registered RPC methods as a .proto file (what gRPC serves and reflects) or as\n"
    "the Go structs a net/rpc (gob, JSON-RPC) client needs.\n\n"
    "examples:\n"
    "  netsuite schema proto > netsuite.proto\n"
    "  netsuite schema go --service myshop.rpc > shop.go"
)

#: The longest line a message or service is printed on before it takes several lines.
_WIDTH = 100


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netsuite schema``."""
    parser.add_argument("kind", choices=["proto", "go"], metavar="proto|go",
                        help="proto: the gRPC .proto file; go: Go structs for net/rpc")
    parser.add_argument("--service", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (it registers methods); repeatable")
    parser.add_argument("--package", default="netsuite", metavar="NAME",
                        help="the Go package name (default netsuite)")


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Import the service modules, print the schema."""
    for module in args.service:
        try:
            importlib.import_module(module)
        except Exception as e:
            raise CommandFailed(f"cannot import {module}: {type(e).__name__}: {e}") from None
    if args.kind == "proto":
        print(proto_source(SERVICE), end="")
    else:
        print(go_source(SERVICE, args.package), end="")
    return 0


# --------------------------------------------------------------------------- proto

def proto_source(registry: Registry) -> str:
    """The ``.proto`` text of ``registry``'s gRPC descriptors."""
    from google.protobuf import descriptor_pb2

    from netsuite.rpc.grpc._descriptors import PACKAGE, build_schema

    file = build_schema(registry).file
    F = descriptor_pb2.FieldDescriptorProto
    scalars = {F.TYPE_INT64: "int64", F.TYPE_DOUBLE: "double", F.TYPE_BOOL: "bool",
               F.TYPE_STRING: "string", F.TYPE_BYTES: "bytes"}
    prefix = f".{PACKAGE}."

    def type_of(field: Any) -> str:
        if field.type == F.TYPE_MESSAGE:
            return field.type_name.removeprefix(prefix)
        return scalars[field.type]

    def field_text(message: Any, field: Any) -> str:
        entries = {f"{prefix}{message.name}.{n.name}": n for n in message.nested_type
                   if n.options.map_entry}
        entry = entries.get(field.type_name)
        if entry is not None:
            kind = f"map<string, {type_of(entry.field[1])}>"
        elif field.label == F.LABEL_REPEATED:
            kind = "repeated " + type_of(field)
        elif field.proto3_optional:
            kind = "optional " + type_of(field)
        else:
            kind = type_of(field)
        return f"{kind} {field.name} = {field.number};"

    lines = ['syntax = "proto3";', f"package {PACKAGE};", ""]
    services = [(s.name, [f"rpc {m.name} ({m.input_type.removeprefix(prefix)}) returns "
                          f"({m.output_type.removeprefix(prefix)});" for m in s.method])
                for s in file.service]
    messages = [(m.name, [field_text(m, f) for f in m.field]) for m in file.message_type]
    lines += _blocks("service", services)
    lines += _blocks("message", messages)
    return "\n".join(lines) + "\n"


def _blocks(keyword: str, blocks: list[tuple[str, list[str]]]) -> list[str]:
    """``keyword NAME { item item }`` on one line where it fits (names aligned, as the
    shipped netsuite.proto is written), else one item per line."""
    single = [(name, items) for name, items in blocks
              if len(items) <= (1 if keyword == "service" else 8)
              and len(f"{keyword} {name} {{ {' '.join(items)} }}") <= _WIDTH]
    width = max((len(name) for name, _ in single), default=0)
    out = []
    for name, items in blocks:
        if (name, items) in single:
            body = " ".join(items)
            out.append(f"{keyword} {name:<{width}} {{ {body} }}" if body
                       else f"{keyword} {name:<{width}} {{}}")
        else:
            out.append(f"{keyword} {name} {{")
            out += [f"  {item}" for item in items]
            out.append("}")
    return out


# --------------------------------------------------------------------------- Go

def go_args_names(registry: Registry) -> dict[str, str]:
    """Method name -> its Go arguments struct name (``MoveArgs``; ``GeoMoveArgs`` where two
    services have a ``Move``; the book's ``Args`` for ``Algorithm.Sum``)."""
    from netsuite.rpc.gob._typed import args_name

    names = {m.name: args_name(m) for m in registry}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {m: (n if counts[n] == 1 else m.replace(".", "") + "Args") for m, n in names.items()}


def go_source(registry: Registry, package: str = "netsuite") -> str:
    """A Go file with the structs a ``net/rpc`` client of ``registry`` needs."""
    from netsuite.rpc.gob._typed import go_name

    structs: dict[str, Struct] = {}
    for method in registry:
        for param in method.params:
            _collect(param.spec, structs)
        _collect(method.result, structs)
    lines = [f"// Package {package}: the Go types of the netsuite RPC methods, for Go's",
             "// net/rpc clients (gob over rpc.Dial / rpc.DialHTTP, or net/rpc/jsonrpc).",
             "// Generated by `netsuite schema go`.",
             f"package {package}", ""]
    args_names = go_args_names(registry)
    for method in registry:
        lines += _go_method(method, args_names[method.name], go_name)
    for struct in structs.values():
        lines.append(f"// {struct.name} is the Go form of {struct.cls.__module__}."
                     f"{struct.cls.__qualname__}.")
        lines.append(f"type {struct.name} struct {{")
        lines += _go_fields([(go_name(f.name), go_type_name(f.spec)) for f in struct.fields])
        lines += ["}", ""]
    return "\n".join(lines)


def _go_method(method: Method, args: str, go_name: Any) -> list[str]:
    reply = go_type_name(method.result)
    lines = [f"// {args} are the arguments of {method.name}:",
             f'//\n//\tvar reply {reply}\n//\terr := client.Call("{method.name}", '
             f"&{args}{{...}}, &reply)"]
    if method.help:
        lines.append("//")
        lines += [f"// {line}".rstrip() for line in method.help.splitlines()]
    lines.append(f"type {args} struct {{")
    lines += _go_fields([(go_name(p.name), go_type_name(p.spec)) for p in method.params])
    lines += ["}", ""]
    return lines


def _go_fields(fields: list[tuple[str, str]]) -> list[str]:
    """Struct fields, their types aligned as gofmt aligns them."""
    width = max((len(name) for name, _ in fields), default=0)
    return [f"\t{name:<{width}} {kind}" for name, kind in fields]


def _collect(spec: TypeSpec, structs: dict[str, Struct]) -> None:
    """Every struct ``spec`` uses, in order of first use; ``TypeError`` for two different
    structs of one name (Go would need two types of one name)."""
    if isinstance(spec, ListOf):
        _collect(spec.item, structs)
    elif isinstance(spec, MapOf):
        _collect(spec.value, structs)
    elif isinstance(spec, Optional):
        _collect(spec.inner, structs)
    elif isinstance(spec, Struct):
        known = structs.get(spec.name)
        if known is not None:
            if known != spec:
                raise CommandFailed(f"two different structs are named {spec.name}")
            return
        structs[spec.name] = spec
        for f in spec.fields:
            _collect(f.spec, structs)
