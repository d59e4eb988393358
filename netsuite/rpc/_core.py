"""The RPC service core: plain, typed Python functions registered once, served by every transport.

A :class:`Registry` holds :class:`Method` s by their full name (``Service.Method``, as Go's
``net/rpc`` names them).  Each transport adapter (XML-RPC, AMP, JSON-RPC, gob, gRPC) decodes
its wire form, calls :meth:`Registry.call` with positional arguments or a struct (mapping),
and encodes the result -- or the :class:`RpcError` raised -- in its own form.  The core does
the validation every transport needs: the method exists, the argument count and types match
the registered signature, integers are signed 64-bit, and an ``int`` result outside that
range is an :class:`Int64Overflow` (never a wrap).

Registering a method of your own::

    from netsuite.rpc import SERVICE

    @SERVICE.register("Algorithm.Mul", [("x", int), ("y", int)], int,
                      "Multiply two signed 64-bit integers.")
    def mul(x: int, y: int) -> int:
        return x * y

It then appears on every transport, in XML-RPC introspection and in ``netsuite call``.
Parameter types are ``int`` (signed 64-bit) and ``str``; in struct form each parameter is
also known by its Go field name (first letter upper-cased: ``x`` -> ``X``, ``java`` -> ``Java``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from time import perf_counter
from typing import Any, TypeVar

import attrs

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_REQUEST",
    "SERVICE",
    "ApplicationError",
    "CallObserver",
    "IllFormedName",
    "Int64Overflow",
    "InvalidParams",
    "Method",
    "Param",
    "Registry",
    "RpcError",
    "UnknownMethod",
    "UnknownService",
    "outcome_of",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Default limits of every transport (PROTOCOLS.md §6): the largest request in bytes (an AMP
#: box, a JSON-RPC request, an XML-RPC body, a gob or gRPC message), checked before the
#: request is buffered, and the deepest nesting of a request's values.
MAX_REQUEST = 1024 * 1024
MAX_DEPTH = 100

ParamType = type  # int or str

F = TypeVar("F", bound=Callable[..., Any])


class RpcError(Exception):
    """Base of every error a call can end in; ``str(error)`` is the text sent to the caller."""


class IllFormedName(RpcError):
    """The method name has no ``.`` (Go: ``rpc: service/method request ill-formed: NAME``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: service/method request ill-formed: {name}")
        self.name = name


class UnknownService(RpcError):
    """No such service (Go: ``rpc: can't find service Service.Method``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: can't find service {name}")
        self.name = name


class UnknownMethod(RpcError):
    """The service exists but not the method (Go: ``rpc: can't find method Service.Method``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: can't find method {name}")
        self.name = name


class InvalidParams(RpcError):
    """The arguments do not match the method's registered signature."""


class ApplicationError(RpcError):
    """The method ran and refused: the application's own error (XML-RPC fault -32500)."""

    #: A short machine-readable code (AMP error code, metrics label).
    code = "APPLICATION"


class Int64Overflow(ApplicationError):
    """An integer result outside the signed 64-bit range."""

    code = "OVERFLOW"


def _check_int64(value: Any, what: str) -> int:
    if type(value) is not int:  # bool is not an integer here
        raise InvalidParams(f"{what}: expected a 64-bit integer, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidParams(f"{what}: {value} is outside the signed 64-bit range")
    return value


def _check_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidParams(f"{what}: expected a string, got {type(value).__name__}")
    return value


_CHECKS: dict[type, Callable[[Any, str], Any]] = {int: _check_int64, str: _check_str}
_TYPE_NAMES = {int: "int64", str: "string"}


@attrs.frozen
class Param:
    """One parameter: its name and type (``int`` = signed 64-bit, or ``str``)."""

    name: str
    type: ParamType = attrs.field(validator=attrs.validators.in_(tuple(_CHECKS)))

    @property
    def go_name(self) -> str:
        """The Go struct field name: first letter upper-cased (``x`` -> ``X``)."""
        return self.name[:1].upper() + self.name[1:]

    @property
    def type_name(self) -> str:
        """``int64`` or ``string``."""
        return _TYPE_NAMES[self.type]

    def check(self, value: Any) -> Any:
        """``value`` if it has this parameter's type (and range), else :class:`InvalidParams`."""
        return _CHECKS[self.type](value, self.name)

    def parse(self, text: str) -> Any:
        """Parse a command-line argument as this parameter's type."""
        if self.type is int:
            try:
                value = int(text, 0)
            except ValueError:
                raise InvalidParams(f"{self.name}: {text!r} is not an integer") from None
            return self.check(value)
        return text


@attrs.frozen
class Method:
    """A registered method: full name, typed parameters, result type, help text, function."""

    name: str
    params: tuple[Param, ...]
    result: ParamType
    help: str
    function: Callable[..., Any] = attrs.field(eq=False, repr=False)
    #: The result's name where a transport names it (the AMP response key): ``total``.
    result_name: str = "result"

    @property
    def service(self) -> str:
        """``Algorithm`` of ``Algorithm.Sum``."""
        return self.name.rpartition(".")[0]

    @property
    def method(self) -> str:
        """``Sum`` of ``Algorithm.Sum``."""
        return self.name.rpartition(".")[2]

    @property
    def result_type_name(self) -> str:
        """``int64`` or ``string``."""
        return _TYPE_NAMES[self.result]

    def bind(self, args: Sequence[Any] | Mapping[str, Any], *, go_struct: bool = False
             ) -> dict[str, Any]:
        """Validate positional arguments or a struct against the signature; keyword arguments.

        A struct's keys are the parameter names or their Go field names.  With
        ``go_struct`` the struct is read as Go's ``encoding/json`` and ``encoding/gob``
        fill a Go struct: keys match field names ignoring case, unknown keys are ignored,
        and missing fields take the zero value (0 or ``""``).
        """
        if isinstance(args, Mapping):
            return self._bind_struct(args, go_struct)
        if isinstance(args, str | bytes) or not isinstance(args, Sequence):
            raise InvalidParams(f"{self.name}: expected a list or a struct of arguments")
        if len(args) != len(self.params):
            raise InvalidParams(
                f"{self.name} takes {len(self.params)} arguments "
                f"({', '.join(p.name for p in self.params)}), got {len(args)}"
            )
        return {p.name: p.check(value) for p, value in zip(self.params, args, strict=True)}

    def _bind_struct(self, struct: Mapping[str, Any], go_struct: bool) -> dict[str, Any]:
        bound: dict[str, Any] = {}
        if go_struct:
            folded = {str(k).lower(): v for k, v in struct.items()}
            for p in self.params:
                value = folded.get(p.name.lower(), p.type())
                bound[p.name] = p.check(value)
            return bound
        known = {p.name: p for p in self.params} | {p.go_name: p for p in self.params}
        for key, value in struct.items():
            param = known.get(key)
            if param is None:
                raise InvalidParams(f"{self.name}: unexpected member {key!r}")
            if param.name in bound:
                raise InvalidParams(f"{self.name}: member {param.go_name!r} given twice")
            bound[param.name] = param.check(value)
        missing = [p.go_name for p in self.params if p.name not in bound]
        if missing:
            raise InvalidParams(f"{self.name}: missing member(s) {', '.join(missing)}")
        return bound

    def invoke(self, kwargs: Mapping[str, Any]) -> Any:
        """Call the function with validated arguments; check the result's type and range."""
        result = self.function(**kwargs)
        if self.result is int:
            if type(result) is not int:
                raise TypeError(f"{self.name} returned {type(result).__name__}, not int")
            if not INT64_MIN <= result <= INT64_MAX:
                raise Int64Overflow(f"integer overflow: {self.name} result {result} is outside "
                                    "the signed 64-bit range")
        elif not isinstance(result, self.result):
            raise TypeError(f"{self.name} returned {type(result).__name__}, not "
                            f"{self.result.__name__}")
        return result


#: Told of every call: ``(transport, method name, outcome, seconds)``; see :func:`outcome_of`.
CallObserver = Callable[[str, str, str, float], None]


def outcome_of(error: BaseException | None) -> str:
    """The outcome label of a call: ``ok``, ``application-error`` (overflow and other refusals),
    ``bad-params``, ``unknown-method`` (also unknown service, ill-formed name) or ``internal``."""
    if error is None:
        return "ok"
    if isinstance(error, ApplicationError):
        return "application-error"
    if isinstance(error, InvalidParams):
        return "bad-params"
    if isinstance(error, IllFormedName | UnknownService | UnknownMethod):
        return "unknown-method"
    return "internal"


@attrs.define
class Registry:
    """Methods by full name.  :data:`SERVICE` is the one every transport serves by default.

    ``observers`` are told of every call made through :meth:`call` (metrics hook up here);
    with none registered a call costs nothing extra.
    """

    _methods: dict[str, Method] = attrs.field(factory=dict)
    observers: list[CallObserver] = attrs.field(factory=list)

    def register(self, name: str, params: Sequence[tuple[str, ParamType]], result: ParamType,
                 help: str, *, result_name: str = "result") -> Callable[[F], F]:
        """Decorator: register the function as method ``name`` (``Service.Method``).

        ``result_name`` names the result where a transport needs a name for it (the AMP
        response key).
        """
        service, dot, method = name.rpartition(".")
        if not dot or not service or not method:
            raise ValueError(f"method name {name!r} must be Service.Method")
        if name in self._methods:
            raise ValueError(f"method {name!r} is already registered")
        if result not in _CHECKS:
            raise ValueError(f"result type must be int or str, not {result!r}")

        def decorator(function: F) -> F:
            self._methods[name] = Method(
                name, tuple(Param(n, t) for n, t in params), result, help, function,
                result_name,
            )
            return function

        return decorator

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

    def call(self, name: str, args: Sequence[Any] | Mapping[str, Any], *,
             go_struct: bool = False, transport: str = "direct") -> Any:
        """Look up, validate, run: the result, or an :class:`RpcError`.

        ``transport`` labels the call for :attr:`observers` (``xmlrpc``, ``amp``, ...).
        """
        if not self.observers:
            method = self.lookup(name)
            return method.invoke(method.bind(args, go_struct=go_struct))
        start = perf_counter()
        error: BaseException | None = None
        try:
            method = self.lookup(name)
            return method.invoke(method.bind(args, go_struct=go_struct))
        except BaseException as e:
            error = e
            raise
        finally:
            elapsed = perf_counter() - start
            outcome = outcome_of(error)
            for observer in self.observers:
                observer(transport, name, outcome, elapsed)

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


#: The service every transport serves: the book's two methods.
SERVICE = Registry()


@SERVICE.register(
    "Algorithm.Sum",
    [("x", int), ("y", int)],
    int,
    "Sum(x, y): add two signed 64-bit integers; a result outside the signed 64-bit range is "
    "an overflow error, never a wrap.",
    result_name="total",
)
def algorithm_sum(x: int, y: int) -> int:
    """The book's ``Algorithm.Sum``; overflow raises :class:`Int64Overflow`."""
    total = x + y
    if not INT64_MIN <= total <= INT64_MAX:
        raise Int64Overflow(f"integer overflow: {x} + {y} is outside the signed 64-bit range")
    return total


@SERVICE.register(
    "Programmer.GetSkill",
    [("java", str), ("go", str)],
    str,
    'GetSkill(java, go): the book\'s skill line, "Skill1:" + java + "，Skill2" + go.',
    result_name="skill",
)
def programmer_get_skill(java: str, go: str) -> str:
    """The book's ``Programmer.GetSkill``, with its full-width comma."""
    return "Skill1:" + java + "，Skill2" + go
