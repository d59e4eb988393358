"""JSON-RPC transport, wire-compatible with Go's ``net/rpc/jsonrpc`` (and JSON-RPC 2.0).

Input is a stream of JSON objects (no separator needed; see :mod:`._jsonstream`); output is
one JSON object per line.  Go's form (what ``jsonrpc.NewClient`` sends)::

    --> {"method": "Algorithm.Sum", "params": [{"X": 1, "Y": 2}], "id": 0}
    <-- {"id":0,"result":3,"error":null}

As Go's server does: envelope keys match case-insensitively; ``id`` is echoed as received
(any JSON value; ``null`` when absent); ``params`` must be an array whose first element is
the argument struct (keys matched to the Go field names ignoring case, unknown keys ignored,
missing fields zero, further elements ignored); errors are answered with ``"result": null``
and Go's texts -- ``rpc: service/method request ill-formed: NAME``, ``rpc: can't find
service NAME``, ``rpc: can't find method NAME``, ``jsonrpc: request body missing params``,
Go's ``json: cannot unmarshal ...`` texts for wrong types, the method's own error text
(``integer overflow: ...``) -- and the connection stays open.  A ``method`` that is not a
string, malformed JSON, a top-level value that is not an object, a request over the size
limit (1 MiB) or nested deeper than 100 levels is answered with one error (``id`` null) and
the connection is closed (Go closes without an answer).

A request with ``"jsonrpc": "2.0"`` is answered in JSON-RPC 2.0 form: ``{"jsonrpc": "2.0",
"id": ..., "result": ...}`` or ``"error": {"code", "message"[, "data"]}`` with -32700
parse error, -32600 invalid request, -32601 method not found (Go's text as message), -32602
invalid params, -32603 internal error, and -32000 for an application error (overflow), whose
``data`` is the error code (``"OVERFLOW"``).  ``params`` may be by position (``[1, 2]``), by
name (``{"x": 1, "y": 2}``, Go field names too) or Go's ``[{"X": 1, "Y": 2}]``; a request
without ``id`` is a notification and gets no answer.  Batches (top-level arrays) are not
supported: such a value closes the connection like any non-object.

Requests are answered in order (every method runs synchronously), the answers of one read
in one write.  The protocol is the transport's producer: a peer that stops reading its
answers stops having its requests read.
"""

from __future__ import annotations

import functools
from typing import Any

from twisted.internet.protocol import Factory
from twisted.logger import Logger

from netsuite.rpc._core import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_REQUEST,
    SERVICE,
    ApplicationError,
    InvalidParams,
    Method,
    Param,
    Registry,
    RpcError,
)
from netsuite.rpc._paced import CLOSED, DRAINING, PacedProtocol
from netsuite.rpc.jsonrpc._codec import (
    JsonObjectStream,
    JsonStreamError,
    RawFloat,
    dump_exact,
    dump_string,
)

__all__ = ["MAX_DEPTH", "MAX_REQUEST", "JsonRpcFactory", "JsonRpcProtocol", "jsonrpc_factory"]

log = Logger()

MISSING_PARAMS = "jsonrpc: request body missing params"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: JSON-RPC 2.0 code of an application error (overflow); ``data`` carries its code.
APPLICATION_ERROR = -32000

_GO_TYPES = {int: "int", str: "string"}

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


class _Refused(Exception):
    """A request answered with an error: Go's text, and the JSON-RPC 2.0 code."""

    def __init__(self, text: str, code: int, data: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.data = data


class _Close(Exception):
    """The stream cannot be trusted: answer once (id null) and close."""

    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def _json_kind(value: Any) -> str:
    """The word Go's ``UnmarshalTypeError`` uses for a JSON value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go_field(method: Method, param_index: int, value: Any) -> Any:
    """``value`` stored into the Go struct field of a parameter, with Go's error texts."""
    param = method.params[param_index]
    kind = type(value)
    if param.type is int:
        if kind is int and INT64_MIN <= value <= INT64_MAX:
            return value
        if kind is int:
            return _type_error(param, f"number {value}")
        if kind is RawFloat:
            if value.text == "-0":  # an integer for Go
                return 0
            return _type_error(param, f"number {value.text}")
    elif kind is str:
        return value
    return _type_error(param, _json_kind(value))


def _type_error(param: Param, what: str) -> Any:
    raise _Refused(f"json: cannot unmarshal {what} into Go struct field Args.{param.go_name} "
                   f"of type {_GO_TYPES[param.type]}", INVALID_PARAMS)


@functools.lru_cache(maxsize=1024)
def _field_index(method: Method) -> dict[str, int]:
    """Lower-cased parameter name -> position (Go matches field names ignoring case)."""
    return {p.name.lower(): i for i, p in enumerate(method.params)}


def go_args(method: Method, params: Any) -> list[Any]:
    """Go's ``json.Unmarshal(params, &[1]any{&args})`` for ``method``: positional values."""
    if type(params) is not list:
        raise _Refused(f"json: cannot unmarshal {_json_kind(params)} into Go value of type "
                       "[1]interface {}", INVALID_PARAMS)
    values: list[Any] = [p.type() for p in method.params]
    if not params or params[0] is None:
        return values
    struct = params[0]
    if type(struct) is not dict:
        raise _Refused(f"json: cannot unmarshal {_json_kind(struct)} into Go value of type "
                       "main.Args", INVALID_PARAMS)
    index = _field_index(method)
    first_error: _Refused | None = None
    for key, value in struct.items():
        i = index.get(key)
        if i is None:
            i = index.get(key.lower())
        if i is None or value is None:
            continue
        try:
            values[i] = _go_field(method, i, value)
        except _Refused as e:
            first_error = first_error or e  # Go reports the first, after decoding it all
    if first_error is not None:
        raise first_error
    return values


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


_ABSENT: Any = object()


class JsonRpcProtocol(PacedProtocol):
    """One JSON-RPC connection (see the module docstring)."""

    label = "jsonrpc"

    def __init__(self, registry: Registry, max_request: int = MAX_REQUEST,
                 max_depth: int = MAX_DEPTH) -> None:
        self.registry = registry
        self.stream = JsonObjectStream(max_request, max_depth)
        self._v2 = False  # the last request was JSON-RPC 2.0: answer stream errors in 2.0 form

    def dataReceived(self, data: bytes) -> None:
        if self.state == CLOSED:
            return
        failure: _Close | None = None
        try:
            requests = self.stream.feed(data)
        except JsonStreamError as e:
            requests = e.values  # type: ignore[attr-defined]
            code = PARSE_ERROR if e.kind in ("malformed", "too-deep") else INVALID_REQUEST
            failure = _Close(f"jsonrpc: {e}", code)
        out: list[str] = []
        answered = False
        for request in requests:
            try:
                answer = self._answer(request)
            except _Close as e:
                failure = e
                break
            answered = True
            if answer is not None:
                out.append(answer)
            if self.state == DRAINING:  # shutdown: that was the last request we take
                break
        if failure is not None:
            out.append(self._error_line(failure.text, failure.code))
            log.info("jsonrpc: dropping {peer}: {reason}", peer=self.peer, reason=failure.text)
        if out:
            self.transport.write(_encode("".join(out)))
        draining = self.state == DRAINING
        if failure is not None or (draining and (answered or not self.stream.partial)):
            self.close()

    def _error_line(self, text: str, code: int) -> str:
        if self._v2:
            return (f'{{"jsonrpc":"2.0","id":null,"error":{{"code":{code},'
                    f'"message":{dump_string(text)}}}}}\n')
        return f'{{"id":null,"result":null,"error":{dump_string(text)}}}\n'

    def _answer(self, request: dict[str, Any]) -> str | None:
        if request.get("jsonrpc") == "2.0":
            self._v2 = True
            return self._answer_v2(request)
        self._v2 = False
        name, params, ident = _envelope(request)
        if name is _ABSENT or name is None:
            name = ""
        elif type(name) is not str:
            raise _Close(f"rpc: server cannot decode request: json: cannot unmarshal "
                         f"{_json_kind(name)} into Go struct field serverRequest.method of "
                         "type string", INVALID_REQUEST)
        id_text = "null" if ident is _ABSENT else _id_text(ident)
        try:
            try:
                method = self.registry.lookup(name)
                if params is _ABSENT or params is None:
                    raise _Refused(MISSING_PARAMS, INVALID_PARAMS)
                args = go_args(method, params)
            except (_Refused, RpcError) as e:
                self.registry.refused(name, _as_rpc_error(e), transport="jsonrpc")
                raise
            result = self.registry.call(name, args, transport="jsonrpc")
        except (_Refused, RpcError) as e:
            return f'{{"id":{id_text},"result":null,"error":{dump_string(str(e))}}}\n'
        except Exception:
            log.failure("jsonrpc: {method} failed", method=name)
            return f'{{"id":{id_text},"result":null,"error":"internal error"}}\n'
        if type(result) is int:
            return f'{{"id":{id_text},"result":{result},"error":null}}\n'
        return f'{{"id":{id_text},"result":{dump_exact(result)},"error":null}}\n'

    def _answer_v2(self, request: dict[str, Any]) -> str | None:
        ident = request.get("id", _ABSENT)
        notification = ident is _ABSENT
        id_text = "null"
        try:
            if not notification:
                if isinstance(ident, dict | list | bool):
                    ident = _ABSENT
                    raise _Refused("Invalid Request: id must be a string, a number or null",
                                   INVALID_REQUEST)
                id_text = _id_text(ident)
            name = request.get("method")
            if type(name) is not str:
                raise _Refused("Invalid Request: method must be a string", INVALID_REQUEST)
            params = request.get("params", _ABSENT)
            result = self._call_v2(name, params)
        except _Refused as e:
            if notification:
                return None
            error = f'{{"code":{e.code},"message":{dump_string(e.text)}'
            if e.data is not None:
                error += f',"data":{dump_string(e.data)}'
            return f'{{"jsonrpc":"2.0","id":{id_text},"error":{error}}}}}\n'
        if notification:
            return None
        return f'{{"jsonrpc":"2.0","id":{id_text},"result":{dump_exact(result)}}}\n'

    def _call_v2(self, name: str, params: Any) -> Any:
        try:
            try:
                method = self.registry.lookup(name)
            except RpcError as e:
                self.registry.refused(name, e, transport="jsonrpc")
                raise
            if params is _ABSENT or params is None:
                if method.params:
                    error = InvalidParams(f"{name}: missing params")
                    self.registry.refused(name, error, transport="jsonrpc")
                    raise error
                params = []
            elif isinstance(params, list):
                if len(params) == 1 and isinstance(params[0], dict):
                    params = params[0]  # Go's [{"X": 1, "Y": 2}]: no parameter is a struct
            elif not isinstance(params, dict):
                self.registry.refused(name, InvalidParams("params"), transport="jsonrpc")
                raise _Refused("Invalid Request: params must be an array or an object",
                               INVALID_REQUEST)
            if isinstance(params, list):
                params = [_plain(v) for v in params]
            else:
                params = {k: _plain(v) for k, v in params.items()}
            return self.registry.call(name, params, transport="jsonrpc")
        except RpcError as e:
            data = e.code if isinstance(e, ApplicationError) else None
            raise _Refused(str(e), ERROR_CODES.get(e.kind, INTERNAL_ERROR), data) from None
        except _Refused:
            raise
        except Exception:
            log.failure("jsonrpc: {method} failed", method=name)
            raise _Refused("Internal error", INTERNAL_ERROR) from None

    @property
    def partial(self) -> bool:
        """Whether part of a request has been received."""
        return self.stream.partial


def _as_rpc_error(error: Exception) -> RpcError:
    return error if isinstance(error, RpcError) else InvalidParams(str(error))


def _plain(value: Any) -> Any:
    """A :class:`RawFloat` as a plain ``float`` (so errors name the JSON type, not ours)."""
    if type(value) is RawFloat:
        return 0 if value.text == "-0" else float(value)
    return value


def _id_text(ident: Any) -> str:
    kind = type(ident)
    if kind is int:
        return str(ident)
    if kind is str and ident.isascii() and ident.isalnum():
        return '"' + ident + '"'
    return dump_exact(ident)


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # cannot happen with dump_string; never let it kill a write
        return text.encode("utf-8", "replace")


class JsonRpcFactory(Factory):
    """Builds :class:`JsonRpcProtocol` s for one registry and one set of limits."""

    noisy = False

    def __init__(self, registry: Registry, max_request: int = MAX_REQUEST,
                 max_depth: int = MAX_DEPTH) -> None:
        self.registry = registry
        self.max_request = max_request
        self.max_depth = max_depth

    def buildProtocol(self, addr: Any) -> JsonRpcProtocol:
        protocol = JsonRpcProtocol(self.registry, self.max_request, self.max_depth)
        protocol.factory = self
        return protocol


def jsonrpc_factory(registry: Registry = SERVICE, *, max_request: int = MAX_REQUEST,
                    max_depth: int = MAX_DEPTH) -> JsonRpcFactory:
    """The JSON-RPC server factory for ``registry``."""
    return JsonRpcFactory(registry, max_request, max_depth)
