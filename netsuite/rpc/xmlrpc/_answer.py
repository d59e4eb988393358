"""The XML-RPC dispatcher: ``methodCall`` bytes in, ``methodResponse`` bytes out.

No networking: decode with :mod:`netsuite.rpc.xmlrpc._codec`, call the service
:class:`~netsuite.rpc.Registry` (``transport="xmlrpc"``), map its errors to the fault codes of
the "specification for fault code interoperability", and answer the introspection methods
and ``system.multicall`` here.  The HTTP adapter is :mod:`netsuite.rpc.xmlrpc._protocol`.

Types: ``int`` is ``<int>`` (``<i8>`` past 32 bits), ``float`` ``<double>``, ``bool``
``<boolean>``, ``str`` ``<string>``, ``bytes`` ``<base64>``, lists ``<array>``, maps and
structs ``<struct>``, ``None`` ``<nil/>``.  Parameters come positionally or as one struct
of them; a method whose only parameter is a struct or a map reads a lone struct as that
parameter.  A method that waits (``async def``, a Deferred) makes :meth:`handle` return a
Deferred of the response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._core import (
    MAX_DEPTH,
    MAX_REQUEST,
    CallContext,
    Method,
    Registry,
    RpcError,
)
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
from netsuite.rpc.xmlrpc._codec import (
    FAULT_APPLICATION,
    FAULT_INTERNAL,
    FAULT_INVALID_PARAMS,
    FAULT_METHOD_NOT_FOUND,
    DepthExceeded,
    EncodeError,
    Fault,
    XmlRpcDecodeError,
    parse_call,
)
from netsuite.rpc.xmlrpc._encode import encode_fault, encode_response, encode_value

#: A methodResponse of a 32-bit int is these around its digits (as encode_response writes it).
_INT_HEAD, _, _INT_TAIL = encode_response(12345).partition(b"12345")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

__all__ = ["DEFAULT_MAX_MULTICALL", "FAULT_CODES", "Limits", "Stats", "XmlRpcDispatcher"]

log = Logger()

DEFAULT_MAX_MULTICALL = 1000

#: The fault code of each ``RpcError.kind`` ("specification for fault code interoperability").
FAULT_CODES: dict[str, int] = {
    "ill-formed": FAULT_METHOD_NOT_FOUND,
    "unknown-service": FAULT_METHOD_NOT_FOUND,
    "unknown-method": FAULT_METHOD_NOT_FOUND,
    "bad-params": FAULT_INVALID_PARAMS,
    "application": FAULT_APPLICATION,
    "overflow": FAULT_APPLICATION,
    "deadline": FAULT_APPLICATION,
    "internal": FAULT_INTERNAL,
}

#: XML-RPC type names of the scalar types.
_XMLRPC_TYPE: dict[TypeSpec, str] = {INT64: "int", FLOAT64: "double", BOOL: "boolean",
                                     STR: "string", BYTES: "base64"}


def _type_name(spec: TypeSpec) -> str:
    if isinstance(spec, Optional):
        spec = spec.inner
    if isinstance(spec, ListOf):
        return "array"
    if isinstance(spec, MapOf | Struct):
        return "struct"
    return _XMLRPC_TYPE[spec]


def _takes_struct(method: Method) -> bool:
    """Whether the method's only parameter is itself a struct or a map."""
    if len(method.params) != 1:
        return False
    spec = method.params[0].spec
    if isinstance(spec, Optional):
        spec = spec.inner
    return isinstance(spec, Struct | MapOf)


Context = Callable[[], CallContext]
Answer = tuple[bytes, bool]


@attrs.frozen
class Limits:
    """Limits of one XML-RPC site (every one a default that an option can change)."""

    max_body: int = MAX_REQUEST
    max_depth: int = MAX_DEPTH
    max_multicall: int = DEFAULT_MAX_MULTICALL


@attrs.define
class Stats:
    """Plain counters of one XML-RPC site (``site.stats``).

    ``requests``: methodCall bodies handled; ``calls``: method calls made (each multicall
    entry counts, introspection included); ``faults``: fault responses (whole-request faults
    and multicall fault entries); ``parse_errors``: bodies refused as not well-formed or not
    XML-RPC; ``too_large``: bodies refused with 413; ``depth_closes``: connections closed for
    nesting too deep; ``fast_path``: requests answered without a twisted.web ``Request``.
    """

    requests: int = 0
    calls: int = 0
    faults: int = 0
    parse_errors: int = 0
    too_large: int = 0
    depth_closes: int = 0
    fast_path: int = 0


class XmlRpcDispatcher:
    """Body bytes in, response bytes out: decode, dispatch to the registry, encode.

    :meth:`handle` never raises for any input; it returns the ``methodResponse`` body and
    whether the connection must be closed after it (nesting past the depth limit).
    """

    def __init__(self, registry: Registry, limits: Limits, stats: Stats) -> None:
        self.registry = registry
        self.limits = limits
        self.stats = stats
        self._plain: dict[str, Method] = {}  # name -> registered method, as looked up
        self._system: dict[str, tuple[Callable[[list[Any]], Any], list[str], str]] = {
            "system.listMethods": (
                self._list_methods, ["array"],
                "system.listMethods(): the names of every method this server answers."),
            "system.methodHelp": (
                self._method_help, ["string", "string"],
                "system.methodHelp(name): the help text of a method."),
            "system.methodSignature": (
                self._method_signature, ["array", "string"],
                "system.methodSignature(name): the method's signatures, each a list of "
                "XML-RPC type names, result first."),
            "system.multicall": (
                self._multicall, ["array", "array"],
                "system.multicall(calls): run each {methodName, params} struct in turn; "
                "answers [result] or a fault struct per call "
                f"(at most {limits.max_multicall} calls; no nested multicall)."),
        }

    def handle(self, body: bytes, context: Context | None = None
               ) -> Answer | Deferred[Answer]:
        """The response body for a request body, and whether to close the connection (or a
        Deferred of both while the method runs).  ``context`` gives the connection's
        :class:`CallContext` (asked only by methods that take one)."""
        stats = self.stats
        stats.requests += 1
        try:
            parsed = parse_call(body, self.limits.max_depth)
        except DepthExceeded as e:
            stats.parse_errors += 1
            stats.faults += 1
            stats.depth_closes += 1
            return encode_fault(e.code, f"parse error: {e}"), True
        except XmlRpcDecodeError as e:
            stats.parse_errors += 1
            stats.faults += 1
            kind = "parse error" if e.code == -32700 else "invalid XML-RPC request"
            return encode_fault(e.code, f"{kind}: {e}"), False
        try:
            result = self.call(*parsed, context=context)
        except Fault as fault:
            stats.faults += 1
            return encode_fault(fault.code, fault.string), False
        if type(result) is Deferred:
            return result.addCallbacks(self._response, self._fault)
        return self._response(result)

    def _response(self, result: Any) -> Answer:
        if type(result) is int and _INT32_MIN <= result <= _INT32_MAX:
            return b"%s%d%s" % (_INT_HEAD, result, _INT_TAIL), False
        try:
            return encode_response(result), False
        except EncodeError as e:
            self.stats.faults += 1
            return encode_fault(FAULT_INTERNAL, f"internal error: cannot encode result: {e}"), False

    def _fault(self, failure: Failure) -> Answer | Failure:
        if not failure.check(Fault):
            return failure  # cancelled: the connection is gone
        self.stats.faults += 1
        fault = failure.value
        return encode_fault(fault.code, fault.string), False

    def call(self, name: str, params: list[Any], *, nested: bool = False,
             context: Context | None = None) -> Any:
        """Run one call: its result (or a Deferred of it), or a :class:`Fault`."""
        self.stats.calls += 1
        method = self._plain.get(name)
        args: Any = params
        if method is None or (len(params) == 1 and type(params[0]) is dict):
            system = self._system.get(name)
            if system is not None:
                if nested and name == "system.multicall":
                    raise Fault(FAULT_METHOD_NOT_FOUND,
                                "system.multicall cannot be called from system.multicall")
                if name == "system.multicall":
                    return self._multicall(params, context)
                return system[0](params)
            try:
                method = self.registry.lookup(name)
            except RpcError as e:
                self.registry.refused(name, e, transport="xmlrpc")
                raise _as_fault(name, e) from None
            self._plain[name] = method  # registered methods are never replaced
            if len(params) == 1 and type(params[0]) is dict and not _takes_struct(method):
                args = params[0]  # the struct form
        registry = self.registry
        try:
            try:
                kwargs = method.bind(args)
            except RpcError as e:
                registry.refused(name, e, transport="xmlrpc")
                raise
            result = registry.run(method, kwargs, transport="xmlrpc",
                                  context=context() if context and method.context else None)
        except RpcError as e:
            raise _as_fault(name, e) from None
        if type(result) is Deferred:
            return result.addErrback(_later_fault, name)
        return result

    # -- introspection and multicall -----------------------------------------------------------

    def _names(self) -> list[str]:
        return sorted([*self.registry.names(), *self._system])

    @staticmethod
    def _one_string(name: str, params: list[Any]) -> str:
        if len(params) != 1 or not isinstance(params[0], str):
            raise Fault(FAULT_INVALID_PARAMS, f"{name} takes one string (a method name)")
        return params[0]

    def _list_methods(self, params: list[Any]) -> list[str]:
        if params:
            raise Fault(FAULT_INVALID_PARAMS, "system.listMethods takes no arguments")
        return self._names()

    def _lookup(self, name: str) -> Any:
        try:
            return self.registry.lookup(name)
        except RpcError as e:
            raise Fault(FAULT_METHOD_NOT_FOUND, str(e)) from None

    def _method_help(self, params: list[Any]) -> str:
        name = self._one_string("system.methodHelp", params)
        if name in self._system:
            return self._system[name][2]
        return self._lookup(name).help

    def _method_signature(self, params: list[Any]) -> list[list[str]]:
        name = self._one_string("system.methodSignature", params)
        if name in self._system:
            return [self._system[name][1]]
        method = self._lookup(name)
        return [[_type_name(method.result), *(_type_name(p.spec) for p in method.params)]]

    def _multicall(self, params: list[Any], context: Context | None = None) -> Any:
        if len(params) != 1 or type(params[0]) is not list:
            raise Fault(FAULT_INVALID_PARAMS,
                        "system.multicall takes one array of {methodName, params} structs")
        calls = params[0]
        if len(calls) > self.limits.max_multicall:
            raise Fault(FAULT_INVALID_PARAMS,
                        f"system.multicall: at most {self.limits.max_multicall} calls per "
                        f"request, got {len(calls)}")
        results: list[Any] = []
        waiting: list[tuple[int, Deferred[Any]]] = []
        for index, entry in enumerate(calls):
            try:
                if (type(entry) is not dict or not isinstance(entry.get("methodName"), str)
                        or type(entry.get("params", [])) is not list
                        or set(entry) - {"methodName", "params"}):
                    raise Fault(FAULT_INVALID_PARAMS,
                                f"system.multicall: call {index} is not a "
                                "{methodName: string, params: array} struct")
                result = self.call(entry["methodName"], entry.get("params", []), nested=True,
                                   context=context)
            except Fault as fault:
                results.append(self._entry_fault(fault))
                continue
            if type(result) is Deferred:
                waiting.append((index, result))
                results.append(None)
            else:
                results.append(self._entry(result))
        if not waiting:
            return results

        def gathered(outcomes: list[tuple[bool, Any]]) -> list[Any]:
            for (index, _), (ok, value) in zip(waiting, outcomes, strict=True):
                if ok:
                    results[index] = self._entry(value)
                elif value.check(Fault):
                    results[index] = self._entry_fault(value.value)
                else:
                    raise value.value  # cancelled
            return results

        return DeferredList([d for _, d in waiting], consumeErrors=True).addCallback(gathered)

    def _entry(self, result: Any) -> Any:
        try:
            encode_value(result, [])  # a result XML cannot carry is this entry's fault
        except EncodeError as e:
            self.stats.faults += 1
            return {"faultCode": FAULT_INTERNAL,
                    "faultString": f"internal error: cannot encode result: {e}"}
        return [result]

    def _entry_fault(self, fault: Fault) -> dict[str, Any]:
        self.stats.faults += 1
        return {"faultCode": fault.code, "faultString": fault.string}


def _as_fault(name: str, error: RpcError) -> Fault:
    code = FAULT_CODES.get(error.kind, FAULT_INTERNAL)
    if code == FAULT_INTERNAL:
        return Fault(code, f"internal error in {name}")
    return Fault(code, str(error))


def _later_fault(failure: Failure, name: str) -> Failure:
    if failure.check(RpcError):
        return Failure(_as_fault(name, failure.value))
    return failure
