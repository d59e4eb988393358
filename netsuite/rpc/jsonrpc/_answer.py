"""JSON-RPC answers: one decoded request in, the answer line out (no networking).

:func:`answer` takes one request object (Go's ``net/rpc/jsonrpc`` form, or JSON-RPC 2.0
when it carries ``"jsonrpc": "2.0"``) and returns its answer line, a Deferred of it while
the method runs, or ``None`` (a 2.0 notification).  A request that makes the stream
untrustworthy raises :class:`Close` (answer once with ``id`` null, then close).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from netsuite.rpc._core import (
    ApplicationError,
    CallContext,
    InvalidParams,
    Method,
    Registry,
    RpcError,
)
from netsuite.rpc.jsonrpc._codec import dump_exact, dump_string
from netsuite.rpc.jsonrpc._values import (
    INVALID_PARAMS,
    Refused,
    dump_value,
    from_json,
    go_args,
    go_plan,
    json_kind,
)

__all__ = ["ERROR_CODES", "Close", "answer", "error_line"]

MISSING_PARAMS = "jsonrpc: request body missing params"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
#: JSON-RPC 2.0 code of an application error (overflow); ``data`` carries its code.
APPLICATION_ERROR = -32000

#: The JSON-RPC 2.0 error code of each ``RpcError.kind`` (Go's 1.0 form sends the text only).
ERROR_CODES: dict[str, int] = {
    "ill-formed": METHOD_NOT_FOUND,
    "unknown-service": METHOD_NOT_FOUND,
    "unknown-method": METHOD_NOT_FOUND,
    "bad-params": INVALID_PARAMS,
    "application": APPLICATION_ERROR,
    "overflow": APPLICATION_ERROR,
    "deadline": APPLICATION_ERROR,
    "internal": INTERNAL_ERROR,
}

Context = Callable[[], CallContext]
_ABSENT: Any = object()


class Close(Exception):
    """The stream cannot be trusted: answer once (id null) and close."""

    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def error_line(text: str, code: int, v2: bool) -> str:
    """The answer (``id`` null) to a stream that is closed."""
    if v2:
        return (f'{{"jsonrpc":"2.0","id":null,"error":{{"code":{code},'
                f'"message":{dump_string(text)}}}}}\n')
    return _go_error_line("null", text)


def _envelope(request: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``method``, ``params``, ``id`` of a request; keys matched as Go does (any case)."""
    method = request.get("method", _ABSENT)
    params = request.get("params", _ABSENT)
    ident = request.get("id", _ABSENT)
    found = (method is not _ABSENT) + (params is not _ABSENT) + (ident is not _ABSENT)
    if found < len(request):
        for key, value in request.items():  # Go: the last matching key wins
            folded = key.lower()
            if folded == "method":
                method = value
            elif folded == "params":
                params = value
            elif folded == "id":
                ident = value
    return method, params, ident


def _id_text(ident: Any) -> str:
    kind = type(ident)
    if kind is int:
        return str(ident)
    if kind is str and ident.isascii() and ident.isalnum():
        return '"' + ident + '"'
    return dump_exact(ident)


def _text(error: RpcError) -> str:
    return "internal error" if error.kind == "internal" else str(error)


def answer(registry: Registry, request: dict[str, Any], context: Context
           ) -> str | Deferred[str | None] | None:
    """The answer line to one request (see the module docstring)."""
    if request.get("jsonrpc") == "2.0":
        return _answer_v2(registry, request, context)
    name = request.get("method", _ABSENT)
    params = request.get("params", _ABSENT)
    ident = request.get("id", _ABSENT)
    if (type(params) is list and params and type(params[0]) is dict and type(name) is str
            and ident is not _ABSENT and len(request) == 3 and not registry.observers):
        # Go's client: {"method": ..., "params": [{...}], "id": N}.  A method of scalar
        # parameters, every field of its type: the compiled call, else the general path.
        method = registry.get(name)
        if method is not None:
            plan = method.wire_cache.get("jsonrpc") or go_plan(method)
            call = plan.call
            values = None if call is None else plan.plain(params[0])
            if values is not None:
                id_text = str(ident) if type(ident) is int else _id_text(ident)
                try:
                    result = call(*values)
                except RpcError as e:
                    return _go_error_line(id_text, _text(e))
                if type(result) is Deferred:
                    return result.addCallbacks(_go_result, _go_error, callbackArgs=(id_text,),
                                               errbackArgs=(id_text,))
                return _go_result(result, id_text)
    name, params, ident = _envelope(request)
    if name is _ABSENT or name is None:
        name = ""
    elif type(name) is not str:
        raise Close(f"rpc: server cannot decode request: json: cannot unmarshal "
                    f"{json_kind(name)} into Go struct field serverRequest.method of "
                    "type string", INVALID_REQUEST)
    id_text = "null" if ident is _ABSENT else _id_text(ident)
    try:
        try:
            method = registry.lookup(name)
            if params is _ABSENT or params is None:
                raise Refused(MISSING_PARAMS, INVALID_PARAMS)
            kwargs = method.bind(go_args(method, params), go_struct=True)
        except (Refused, RpcError) as e:
            registry.refused(name, e if isinstance(e, RpcError) else InvalidParams(str(e)),
                             transport="jsonrpc")
            raise
        result = registry.run(method, kwargs, transport="jsonrpc",
                              context=context() if method.context else None)
    except Refused as e:
        return _go_error_line(id_text, e.text)
    except RpcError as e:
        return _go_error_line(id_text, _text(e))
    if type(result) is Deferred:
        return result.addCallbacks(_go_result, _go_error, callbackArgs=(id_text,),
                                   errbackArgs=(id_text,))
    return _go_result(result, id_text)


def _go_result(result: Any, id_text: str) -> str:
    if type(result) is int:
        return f'{{"id":{id_text},"result":{result},"error":null}}\n'
    try:
        text = dump_value(result)
    except RpcError as e:
        return _go_error_line(id_text, _text(e))
    return f'{{"id":{id_text},"result":{text},"error":null}}\n'


def _go_error_line(id_text: str, text: str) -> str:
    """Go's answer line for a call that failed with ``text``."""
    return f'{{"id":{id_text},"result":null,"error":{dump_string(text)}}}\n'


def _go_error(failure: Failure, id_text: str) -> str | None:
    if failure.check(CancelledError):
        return None
    error = failure.value
    return _go_error_line(id_text, _text(error) if isinstance(error, RpcError)
                          else "internal error")


def _answer_v2(registry: Registry, request: dict[str, Any], context: Context
               ) -> str | Deferred[str | None] | None:
    ident = request.get("id", _ABSENT)
    notification = ident is _ABSENT
    id_text = "null"
    try:
        if not notification:
            if isinstance(ident, dict | list | bool):
                raise Refused("Invalid Request: id must be a string, a number or null",
                              INVALID_REQUEST)
            id_text = _id_text(ident)
        name = request.get("method")
        if type(name) is not str:
            raise Refused("Invalid Request: method must be a string", INVALID_REQUEST)
        result = _call_v2(registry, name, request.get("params", _ABSENT), context)
    except Refused as e:
        return None if notification else _v2_error(e, id_text)
    if type(result) is Deferred:
        return result.addCallbacks(_v2_result, _v2_failed,
                                   callbackArgs=(id_text, notification),
                                   errbackArgs=(id_text, notification))
    return _v2_result(result, id_text, notification)


def _v2_error(e: Refused, id_text: str) -> str:
    error = f'{{"code":{e.code},"message":{dump_string(e.text)}'
    if e.data is not None:
        error += f',"data":{dump_string(e.data)}'
    return f'{{"jsonrpc":"2.0","id":{id_text},"error":{error}}}}}\n'


def _refused(e: RpcError) -> Refused:
    if e.kind == "internal":
        return Refused("Internal error", INTERNAL_ERROR)
    data = e.code if isinstance(e, ApplicationError) else None
    return Refused(str(e), ERROR_CODES.get(e.kind, INTERNAL_ERROR), data)


def _v2_result(result: Any, id_text: str, notification: bool) -> str | None:
    if notification:
        return None
    try:
        text = dump_value(result)
    except RpcError as e:
        return _v2_error(_refused(e), id_text)
    return f'{{"jsonrpc":"2.0","id":{id_text},"result":{text}}}\n'


def _v2_failed(failure: Failure, id_text: str, notification: bool) -> str | None:
    if notification or failure.check(CancelledError):
        return None
    error = failure.value
    if not isinstance(error, RpcError):  # pragma: no cover - the core converts the rest
        error = RpcError("internal error")
    return _v2_error(_refused(error), id_text)


def _v2_args(method: Method, params: Any) -> Any:
    """Positional or named arguments (Go's ``[{...}]`` too), as plain data for bind."""
    specs = method.params
    if isinstance(params, list):
        names = {p.name.lower() for p in specs}
        if (len(params) == 1 and isinstance(params[0], dict)
                and all(k.lower() in names for k in params[0])):
            params = params[0]  # Go's [{"X": 1, "Y": 2}]: a struct of the parameters
        else:
            return [from_json(p.spec, v, p.name) for p, v in zip(specs, params, strict=False)
                    ] + params[len(specs):]
    known = {p.name: p for p in specs} | {p.go_name: p for p in specs}
    return {k: from_json(known[k].spec, v, known[k].name) if k in known else v
            for k, v in params.items()}


def _call_v2(registry: Registry, name: str, params: Any, context: Context) -> Any:
    try:
        try:
            method = registry.lookup(name)
            if params is _ABSENT or params is None:
                if any(p.required for p in method.params):
                    raise InvalidParams(f"{name}: missing params")
                params = []
            elif not isinstance(params, list | dict):
                registry.refused(name, InvalidParams("params"), transport="jsonrpc")
                raise Refused("Invalid Request: params must be an array or an object",
                              INVALID_REQUEST)
            kwargs = method.bind(_v2_args(method, params))
        except RpcError as e:
            registry.refused(name, e, transport="jsonrpc")
            raise
        result = registry.run(method, kwargs, transport="jsonrpc",
                              context=context() if method.context else None)
    except RpcError as e:
        raise _refused(e) from None
    return result
