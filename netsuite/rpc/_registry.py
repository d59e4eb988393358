"""Methods registered once, by their full name, with typed parameters and result.

A :class:`Registry` holds :class:`Method` s by their full name (``Service.Method``, as Go's
``net/rpc`` names them).  Each transport decodes its wire form, calls :meth:`Registry.call`
with positional arguments or a struct (mapping), and encodes the result -- or the
:class:`~netsuite.rpc.RpcError` raised -- in its own form.  Parameter and result types are
:class:`~netsuite.rpc._types.TypeSpec` s, read from the function's annotations by
:meth:`Registry.method` (or given as Python types to :meth:`Registry.register`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from time import perf_counter
from typing import Any, TypeVar

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc import _calls
from netsuite.rpc._errors import (
    IllFormedName,
    InternalError,
    InvalidParams,
    RpcError,
    UnknownMethod,
    UnknownService,
    outcome_of,
)
from netsuite.rpc._fastcall import compile_call
from netsuite.rpc._param import PY_TYPES, CallContext, Param
from netsuite.rpc._signature import as_spec, check_name, method_from_function
from netsuite.rpc._types import (
    TypeSpec,
    type_name,
    zero_value,
)

__all__ = ["CallContext", "CallObserver", "Method", "Param", "Registry"]

log = Logger()

F = TypeVar("F", bound=Callable[..., Any])

@attrs.frozen(cache_hash=True)
class Method:
    """A registered method: full name, wire parameters, result type, help text, function.

    ``context`` names the function's :class:`CallContext` parameter (``None``: it has none);
    ``timeout`` is the longest a call may run, in seconds (``None``: no limit).
    """

    name: str
    params: tuple[Param, ...]
    result: TypeSpec
    help: str
    function: Callable[..., Any] = attrs.field(eq=False, repr=False)
    #: The result's name where a transport names it (the AMP response key): ``total``.
    result_name: str = "result"
    timeout: float | None = None
    context: str | None = None
    #: Whether ``function`` is an ``async def`` (its calls may finish later).
    coroutine: bool = attrs.field(init=False, eq=False, repr=False)
    #: How many parameters a call must give (those without a default).
    required_count: int = attrs.field(init=False, eq=False, repr=False)
    #: Every wire argument given, positionally: check, call and check the result in one
    #: compiled function, as :meth:`Registry.run` would (see :mod:`._fastcall`); ``None``
    #: for a method that takes the general path (a context, a timeout).
    fast_call: Callable[..., Any] | None = attrs.field(init=False, eq=False, repr=False)
    #: What a wire compiled once for this method, by wire label (``jsonrpc``...).
    wire_cache: dict[str, Any] = attrs.field(init=False, eq=False, repr=False, factory=dict)

    @coroutine.default
    def _coroutine_default(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    @required_count.default
    def _required_default(self) -> int:
        return sum(1 for p in self.params if p.required)

    @fast_call.default
    def _fast_call_default(self) -> Callable[..., Any] | None:
        return compile_call(self)

    @property
    def service(self) -> str:
        """``Algorithm`` of ``Algorithm.Sum``."""
        return self.name.rpartition(".")[0]

    @property
    def method(self) -> str:
        """``Sum`` of ``Algorithm.Sum``."""
        return self.name.rpartition(".")[2]

    @property
    def result_type(self) -> type | None:
        """The Python type of a scalar result (``int``, ``str``...), else ``None``."""
        return PY_TYPES.get(self.result)

    @property
    def result_type_name(self) -> str:
        """``int64``, ``string``, ``Point``..."""
        return type_name(self.result)

    def bind(self, args: Sequence[Any] | Mapping[str, Any], *, go_struct: bool = False
             ) -> dict[str, Any]:
        """Validate positional arguments or a struct against the signature; keyword arguments.

        Trailing parameters with a default may be left out.  A struct's keys are the
        parameter names or their Go field names.  With ``go_struct`` the struct is read as
        Go's ``encoding/json`` and ``encoding/gob`` fill a Go struct: keys match field names
        ignoring case, unknown keys are ignored, and missing fields take their default or
        the zero value (0, ``""``, empty list...).
        """
        params = self.params
        kind = type(args)
        if kind is not list and kind is not tuple:
            if isinstance(args, Mapping):
                return self._bind_struct(args, go_struct)
            if isinstance(args, str | bytes) or not isinstance(args, Sequence):
                raise InvalidParams(f"{self.name}: expected a list or a struct of arguments")
        given = len(args)
        if given != len(params) and not self.required_count <= given <= len(params):
            count = (str(len(params)) if self.required_count == len(params)
                     else f"{self.required_count} to {len(params)}")
            raise InvalidParams(
                f"{self.name} takes {count} arguments "
                f"({', '.join(p.name for p in params)}), got {given}"
            )
        return {p.name: p.check(value) for p, value in zip(params, args, strict=False)}

    def _bind_struct(self, struct: Mapping[str, Any], go_struct: bool) -> dict[str, Any]:
        bound: dict[str, Any] = {}
        if go_struct:
            folded = {str(k).lower(): v for k, v in struct.items()}
            for p in self.params:
                key = p.name.lower()
                if key in folded:
                    bound[p.name] = p.check(folded[key])
                elif p.required:
                    bound[p.name] = p.check(zero_value(p.spec))
            return bound
        known = {p.name: p for p in self.params} | {p.go_name: p for p in self.params}
        for key, value in struct.items():
            param = known.get(key)
            if param is None:
                raise InvalidParams(f"{self.name}: unexpected member {key!r}")
            if param.name in bound:
                raise InvalidParams(f"{self.name}: member {param.go_name!r} given twice")
            bound[param.name] = param.check(value)
        missing = [p.go_name for p in self.params if p.required and p.name not in bound]
        if missing:
            raise InvalidParams(f"{self.name}: missing member(s) {', '.join(missing)}")
        return bound

    def invoke(self, kwargs: Mapping[str, Any], context: CallContext | None = None, *,
               transport: str = "direct") -> Any:
        """Call the function with validated arguments, for a caller that cannot wait: the
        result as plain data.

        The :class:`CallContext` parameter, if any, gets ``context`` (or one naming
        ``transport``).  A result of the wrong type is :class:`InternalError` (and logged);
        an integer result outside the signed 64-bit range :class:`Int64Overflow`; a call
        that did not finish at once is cancelled and is :class:`InternalError` (transports
        use :meth:`Registry.start`, which waits).
        """
        if context is None and self.context is not None:
            context = CallContext(transport)
        return _finished(self.name, _calls.run(self, kwargs, context))


def _finished(name: str, result: Any) -> Any:
    if type(result) is not Deferred:
        return result
    result.addErrback(lambda _: None)
    result.cancel()
    raise InternalError(f"{name}: asynchronous results are not served here")


#: Told of every call: ``(transport, method name, outcome, seconds)``; see ``outcome_of``.
CallObserver = Callable[[str, str, str, float], None]


@attrs.define
class Registry:
    """Methods by full name.  ``SERVICE`` is the one every transport serves by default.

    ``observers`` are told of every call made through :meth:`start`, :meth:`run` and
    :meth:`call` (metrics hook up here); with none registered a call costs nothing extra.
    ``clock`` times the methods' ``timeout`` (``None``: the global reactor).
    """

    _methods: dict[str, Method] = attrs.field(factory=dict)
    observers: list[CallObserver] = attrs.field(factory=list)
    clock: Any = None

    def _add(self, method: Method) -> None:
        if method.name in self._methods:
            raise ValueError(f"method {method.name!r} is already registered")
        self._methods[method.name] = method

    def register(self, name: str, params: Sequence[tuple[str, Any]], result: Any,
                 help: str, *, result_name: str = "result") -> Callable[[F], F]:
        """Decorator: register the function as method ``name`` (``Service.Method``) with the
        parameter types and result type given (``int``, ``str``, any type
        :meth:`method` reads from annotations, or a :class:`TypeSpec`).

        ``result_name`` names the result where a transport needs a name for it (the AMP
        response key).
        """
        check_name(name)
        if name in self._methods:
            raise ValueError(f"method {name!r} is already registered")
        specs = tuple(Param(n, as_spec(t, f"parameter {n!r} of {name}")) for n, t in params)
        result_spec = as_spec(result, f"result of {name}")

        def decorator(function: F) -> F:
            self._add(Method(name, specs, result_spec, help, function, result_name))
            return function

        return decorator

    def method(self, name: str, *, timeout: float | None = None,
               result_name: str = "result") -> Callable[[F], F]:
        """Decorator: register the function as method ``name`` from its annotations.

        The docstring is the help text.  A parameter annotated :class:`CallContext` is not
        a wire parameter; a parameter with a default may be left out by callers.  The
        result is the return annotation, unwrapped from ``Deferred[T]`` /
        ``Awaitable[T]``.  ``timeout`` (seconds) bounds each call.  An annotation outside
        the supported types is a ``TypeError`` naming the parameter.
        """
        check_name(name)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{name}: timeout must be a positive number of seconds")

        def decorator(function: F) -> F:
            self._add(method_from_function(name, function, timeout, result_name))
            return function

        return decorator

    def get(self, name: str) -> Method | None:
        """The method called ``name``, or ``None``."""
        return self._methods.get(name)

    def lookup(self, name: str) -> Method:
        """The method called ``name``, or the error Go's ``net/rpc`` server would give."""
        method = self._methods.get(name)
        if method is not None:
            return method
        service, dot, _ = name.rpartition(".")
        if not dot:
            raise IllFormedName(name)
        if not any(m.service == service for m in self._methods.values()):
            raise UnknownService(name)
        raise UnknownMethod(name)

    def start(self, name: str, args: Sequence[Any] | Mapping[str, Any], *,
              go_struct: bool = False, transport: str = "direct",
              context: CallContext | None = None) -> Any:
        """Look up, validate, run: the plain result **or** a Deferred of it.

        The asynchronous twin of :meth:`call` every transport uses: a plain function (or
        an ``async def`` that finished without waiting) returns its result as plain data
        at once; otherwise the result is a :class:`~twisted.internet.defer.Deferred`
        (``type(result) is Deferred``) firing with the plain data or failing with an
        :class:`RpcError` (any other exception of the method: logged once, then
        ``InternalError("internal error")``; ``timeout``: :class:`DeadlineExceeded`;
        cancelled by the caller: ``CancelledError``).  Lookup and argument errors are
        raised at once.  ``context`` is passed to a :class:`CallContext` parameter
        (default: one naming ``transport``).
        """
        if not self.observers:
            method = self.lookup(name)
            if context is None and method.context is not None:
                context = CallContext(transport)
            return _calls.run(method, method.bind(args, go_struct=go_struct), context,
                              self.clock)
        try:
            method = self.lookup(name)
            kwargs = method.bind(args, go_struct=go_struct)
        except RpcError as e:
            self.refused(name, e, transport=transport)
            raise
        return self.run(method, kwargs, transport=transport, context=context)

    def run(self, method: Method, kwargs: Mapping[str, Any], *, transport: str = "direct",
            context: CallContext | None = None) -> Any:
        """Run a method whose arguments a transport already decoded and checked (keyword
        arguments, as :meth:`Method.bind` returns them): as :meth:`start`."""
        if context is None and method.context is not None:
            context = CallContext(transport)
        if not self.observers:
            return _calls.run(method, kwargs, context, self.clock)
        begun = perf_counter()
        try:
            result = _calls.run(method, kwargs, context, self.clock)
        except BaseException as e:
            self._observe(transport, method.name, e, begun)
            raise
        if type(result) is Deferred:
            result.addBoth(self._observed, transport, method.name, begun)
        else:
            self._observe(transport, method.name, None, begun)
        return result

    def _observed(self, result: Any, transport: str, name: str, begun: float) -> Any:
        self._observe(transport, name, result.value if isinstance(result, Failure) else None,
                      begun)
        return result

    def _observe(self, transport: str, name: str, error: BaseException | None,
                 begun: float) -> None:
        elapsed = perf_counter() - begun
        outcome = outcome_of(error)
        for observer in self.observers:
            observer(transport, name, outcome, elapsed)

    def call(self, name: str, args: Sequence[Any] | Mapping[str, Any], *,
             go_struct: bool = False, transport: str = "direct",
             context: CallContext | None = None) -> Any:
        """As :meth:`start`, for a caller that cannot wait: the result as plain data, or an
        :class:`RpcError` (a call that did not finish at once is cancelled and is
        :class:`InternalError`)."""
        return _finished(name, self.start(name, args, go_struct=go_struct,
                                          transport=transport, context=context))

    def refused(self, name: str, error: RpcError, *, transport: str) -> None:
        """Tell :attr:`observers` of a call its transport refused before :meth:`call` (its
        arguments did not decode, say), so metrics count it like any other outcome."""
        if self.observers:
            outcome = outcome_of(error)
            for observer in self.observers:
                observer(transport, name, outcome, 0.0)

    def __iter__(self) -> Iterator[Method]:
        return iter(sorted(self._methods.values(), key=lambda m: m.name))

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def names(self) -> list[str]:
        """Every method name, sorted."""
        return sorted(self._methods)


