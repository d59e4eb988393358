"""``netsuite call TRANSPORT HOST:PORT METHOD ARGS...``: one RPC call, the result as JSON.

ARGS are parsed by the method's registered parameter types (``int``: decimal, ``0x``
hex...; ``str``: as given).  Only methods registered in this process's
:data:`netsuite.rpc.SERVICE` can be called (their types decide how ARGS are sent); an
unknown method is a usage error.  Each transport's client lives in its own module, imported
only when used (:data:`CLIENTS`); a transport whose module or dependency is missing is a
failure (exit 1) that says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

from netsuite._cli import CommandFailed, UsageFailure
from netsuite._endpoints import TargetError, parse_host_port
from netsuite._options import positive_float
from netsuite.rpc._core import SERVICE, InvalidParams, RpcError

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
    "methods:\n"
    + "\n".join(f"  {m.name}({', '.join(f'{p.name}: {p.type_name}' for p in m.params)}) -> "
                f"{m.result_type_name}" for m in SERVICE)
    + "\n\nexamples:\n"
    "  netsuite call amp 127.0.0.1:8809 Algorithm.Sum 1 2\n"
    "  netsuite call jsonrpc 127.0.0.1:8085 Programmer.GetSkill Java Go\n"
    "  netsuite call xmlrpc --tls example.org:443 Algorithm.Sum -5 3\n\n"
    "exit status: 0 success, 1 network failure or remote error, 2 usage error"
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netsuite call``."""
    parser.add_argument("transport", choices=list(CLIENTS), metavar="TRANSPORT",
                        help="one of: " + ", ".join(CLIENTS))
    parser.add_argument("target", metavar="HOST:PORT", help="the server ([V6]:PORT for IPv6)")
    parser.add_argument("method", metavar="METHOD", help="Service.Method, e.g. Algorithm.Sum")
    parser.add_argument("args", nargs="*", metavar="ARG", help="the method's arguments")
    parser.add_argument("--tls", action="store_true",
                        help="use TLS (https for xmlrpc); the certificate is verified")
    parser.add_argument("--insecure", action="store_true",
                        help="with --tls: do not verify the server certificate")
    parser.add_argument("--timeout", type=positive_float, default=10.0, metavar="SECONDS",
                        help="give up after this long (default 10)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Make the call; print the result; map failures to exit statuses."""
    try:
        host, port = parse_host_port(args.target)
    except TargetError as e:
        raise UsageFailure(str(e)) from None
    if args.insecure and not args.tls:
        raise UsageFailure("--insecure only makes sense with --tls")
    try:
        method = SERVICE.lookup(args.method)
    except RpcError:
        raise UsageFailure(f"unknown method {args.method!r} (known: "
                           f"{', '.join(SERVICE.names())})") from None
    if len(args.args) != len(method.params):
        names = " ".join(p.name.upper() for p in method.params)
        raise UsageFailure(f"{method.name} takes {len(method.params)} argument(s): {names}")
    try:
        values = [p.parse(text) for p, text in zip(method.params, args.args, strict=True)]
    except InvalidParams as e:
        raise UsageFailure(str(e)) from None
    try:
        client = importlib.import_module(CLIENTS[args.transport])
    except ImportError as e:
        raise CommandFailed(f"the {args.transport} transport is not available here: "
                            f"{_one_line(str(e))}") from None
    try:
        result = await client.call(reactor, host, port, method, values, tls=args.tls,
                                   insecure=args.insecure, timeout=args.timeout)
    except RpcError as e:
        raise CommandFailed(f"{method.name} failed: {_one_line(str(e))}") from None
    except (CommandFailed, UsageFailure):
        raise
    except Exception as e:
        raise CommandFailed(f"cannot call {args.target} over {args.transport}: "
                            f"{_describe(e)}") from None
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _describe(error: Exception) -> str:
    from twisted.internet import defer
    from twisted.internet import error as neterror

    if isinstance(error, defer.TimeoutError | defer.CancelledError | neterror.TimeoutError):
        return "timed out"
    if isinstance(error, neterror.ConnectionRefusedError):
        return "connection refused"
    if type(error).__module__.startswith("OpenSSL"):
        reasons = [str(part[-1]) for part in (error.args[0] if error.args else [])
                   if isinstance(part, tuple) and part]
        text = "; ".join(r for r in reasons if r) or "handshake failed"
        hint = " (--insecure skips verification)" if "verify" in text else ""
        return f"TLS error: {text}{hint}"
    return _one_line(str(error)) or type(error).__name__
