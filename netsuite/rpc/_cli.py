"""``netsuite call TRANSPORT HOST:PORT METHOD ARGS...``: one RPC call, the result as JSON.

A method registered in this process (:data:`netsuite.rpc.SERVICE`, plus any ``--service
MODULE`` imported) takes one ARG per parameter, parsed by its type (``int``: decimal,
``0x`` hex...; ``str``: as given; lists, maps and structs: JSON).  Any other method takes its
arguments as JSON: one object of the parameters (``'{"p": {"x": 1, "y": 2}, "by": [3,
4]}'``), or over XML-RPC one JSON value per positional parameter; over gRPC the client
learns the messages from the server's reflection.  ``--list`` lists the server's methods
where the wire can tell (XML-RPC introspection, gRPC reflection).

Each transport's client lives in its own module, imported only when used (:data:`CLIENTS`);
a transport whose module or dependency is missing is a failure (exit 1) that says so.
Results print as JSON (bytes as base64 text).
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
from typing import Any

from netsuite._cli import CommandFailed, UsageFailure
from netsuite._endpoints import TargetError, describe_connect_failure, parse_host_port
from netsuite._options import positive_float
from netsuite._tls import ClientTLS, add_tls_options, tls_failure_text
from netsuite.rpc._core import SERVICE, InvalidParams, Method, RpcError
from netsuite.rpc._types import to_plain

__all__ = ["CLIENTS", "DESCRIPTION", "configure", "run"]

#: transport -> module providing ``async def call(reactor, host, port, method, args, *,
#: tls, insecure, timeout)``.
CLIENTS: dict[str, str] = {
    "xmlrpc": "netsuite.rpc.xmlrpc._client",
    "amp": "netsuite.rpc.amp._client",
    "jsonrpc": "netsuite.rpc.jsonrpc._client",
    "gob": "netsuite.rpc.gob._client",
    "grpc": "netsuite.rpc.grpc._client",
}

DESCRIPTION = (
    "Call an RPC method over one transport and print the result as JSON.\n\n"
    "A method known here takes one argument per parameter; any other method takes one JSON\n"
    "object of its parameters (over xmlrpc: one JSON value per parameter). --list lists the\n"
    "server's methods (xmlrpc, grpc).\n\n"
    "methods known here:\n"
    + "\n".join(f"  {m.name}({', '.join(f'{p.name}: {p.type_name}' for p in m.params)}) -> "
                f"{m.result_type_name}" for m in SERVICE)
    + "\n\nexamples:\n"
    "  netsuite call amp 127.0.0.1:8809 Algorithm.Sum 1 2\n"
    "  netsuite call jsonrpc 127.0.0.1:8085 Programmer.GetSkill Java Go\n"
    "  netsuite call grpc 127.0.0.1:50051 Geo.Move '{\"p\": {\"x\": 1, \"y\": 2}, "
    "\"by\": [3, 4]}'\n"
    "  netsuite call xmlrpc --tls example.org:443 Algorithm.Sum -5 3\n"
    "  netsuite call grpc 127.0.0.1:50051 --list\n\n"
    "exit status: 0 success, 1 network failure or remote error, 2 usage error"
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netsuite call``."""
    parser.add_argument("transport", choices=list(CLIENTS), metavar="TRANSPORT",
                        help="one of: " + ", ".join(CLIENTS))
    parser.add_argument("target", metavar="HOST:PORT", help="the server ([V6]:PORT for IPv6)")
    parser.add_argument("method", metavar="METHOD", nargs="?",
                        help="Service.Method, e.g. Algorithm.Sum")
    parser.add_argument("args", nargs="*", metavar="ARG", help="the method's arguments")
    parser.add_argument("--list", action="store_true",
                        help="list the server's methods (xmlrpc, grpc)")
    parser.add_argument("--service", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, so its methods are known here")
    add_tls_options(parser, what="use TLS (https for xmlrpc)")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="SECONDS",
                        help="give up after this long (default 10)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def jsonable(value: Any) -> Any:
    """A result as JSON-ready data: bytes as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _client(transport: str) -> Any:
    try:
        return importlib.import_module(CLIENTS[transport])
    except ImportError as e:
        raise CommandFailed(f"the {transport} transport is not available here: "
                            f"{_one_line(str(e))}") from None


def _json_args(transport: str, name: str, texts: list[str]) -> Any:
    """The JSON arguments of a method not known here."""
    try:
        values = [json.loads(text) for text in texts]
    except ValueError as e:
        raise UsageFailure(f"{name} is not known here, so its arguments are JSON: {e}") from None
    if transport == "xmlrpc":
        return values
    if len(values) != 1 or not isinstance(values[0], dict):
        raise UsageFailure(f"{name} is not known here: give its arguments as one JSON object "
                           'of the parameters, e.g. \'{"x": 1, "y": 2}\'')
    return values[0]


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Make the call (or list); print the result; map failures to exit statuses."""
    try:
        host, port = parse_host_port(args.target)
    except TargetError as e:
        raise UsageFailure(str(e)) from None
    tls = ClientTLS.from_args(args)
    for module in args.service:
        try:
            importlib.import_module(module)
        except Exception as e:
            raise UsageFailure(f"cannot import {module}: {type(e).__name__}: {e}") from None
    if args.list:
        if args.transport not in ("xmlrpc", "grpc"):
            raise UsageFailure(f"--list: {args.transport} cannot list a server's methods "
                               "(xmlrpc and grpc can)")
        lines = await _guarded(args, _list(reactor, args.transport, host, port, tls,
                                           args.timeout))
        print("\n".join(lines))
        return 0
    if args.method is None:
        raise UsageFailure("METHOD is needed (or --list)")
    method: Method | None = SERVICE.lookup(args.method) if args.method in SERVICE else None
    if method is not None:
        if len(args.args) != len(method.params):
            names = " ".join(p.name.upper() for p in method.params)
            raise UsageFailure(f"{method.name} takes {len(method.params)} argument(s): {names}")
        try:
            # Checked by type, then as plain data (structs as dicts), as every client sends.
            values = [to_plain(p.spec, p.parse(text), p.name)
                      for p, text in zip(method.params, args.args, strict=True)]
        except InvalidParams as e:
            raise UsageFailure(str(e)) from None
        client = _client(args.transport)
        result = await _guarded(args, client.call(reactor, host, port, method, values,
                                                  tls=tls or False, insecure=False,
                                                  timeout=args.timeout))
    else:
        params = _json_args(args.transport, args.method, args.args)
        client = _client(args.transport)
        if hasattr(client, "call_json"):
            work = client.call_json(reactor, host, port, args.method, params, tls=tls,
                                    timeout=args.timeout)
        elif args.transport in ("xmlrpc", "jsonrpc"):
            # These wires carry JSON-like values as they are: a method of that name will do.
            values = params if args.transport == "xmlrpc" else list(params.values())
            work = client.call(reactor, host, port, _untyped(args.method, params), values,
                               tls=tls or False, insecure=False, timeout=args.timeout)
        else:
            raise UsageFailure(f"{args.method} is not known here, and {args.transport} needs "
                               "the method's types: --service MODULE imports them")
        result = await _guarded(args, work)
    print(json.dumps(jsonable(result), ensure_ascii=False))
    return 0


def _untyped(name: str, params: Any) -> Method:
    """A stand-in for a method not known here: its name and parameter names (a wire that
    names parameters takes them from here; no value is checked on this side)."""
    from netsuite.rpc._core import Param
    from netsuite.rpc._types import STR

    names = list(params) if isinstance(params, dict) else [f"arg{i}" for i in range(len(params))]
    return Method(name, tuple(Param(n, STR) for n in names), STR, "", lambda **kw: None)


async def _list(reactor: Any, transport: str, host: str, port: int, tls: Any,
                timeout: float) -> list[str]:
    client = _client(transport)
    if transport == "grpc":
        return await client.list_methods(reactor, host, port, tls=tls, timeout=timeout)
    names = await client.call(reactor, host, port, _untyped("system.listMethods", []), [],
                              tls=tls or False, insecure=False, timeout=timeout)
    return [str(name) for name in names]


async def _guarded(args: argparse.Namespace, work: Any) -> Any:
    """Await ``work``; remote errors and network failures become one-line failures."""
    from twisted.internet import defer

    try:
        return await work
    except defer.CancelledError:
        raise  # Ctrl-C: the command ends quietly with status 130
    except RpcError as e:
        raise CommandFailed(f"{args.method or 'the call'} failed: {_one_line(str(e))}") from None
    except (CommandFailed, UsageFailure):
        raise
    except Exception as e:
        tls_text = tls_failure_text(e, args.target)  # grpcio's TlsFailure included
        if tls_text is not None:
            raise CommandFailed(tls_text) from None
        raise CommandFailed(f"cannot call {args.target} over {args.transport}: "
                            f"{describe_connect_failure(e)}") from None
