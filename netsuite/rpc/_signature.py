"""Reading a method's signature: names, annotations, the result type of async functions."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred

from netsuite.rpc._types import MISSING, TypeSpec, spec_from_annotation

if typing.TYPE_CHECKING:
    from netsuite.rpc._registry import Method

__all__ = ["as_spec", "check_name", "method_from_function"]


def check_name(name: str) -> None:
    service, dot, method = name.rpartition(".")
    if not dot or not service or not method:
        raise ValueError(f"method name {name!r} must be Service.Method")


def as_spec(kind: Any, where: str) -> TypeSpec:
    """A type given to :meth:`Registry.register`: a Python type, or a TypeSpec as is."""
    return kind if isinstance(kind, TypeSpec) else spec_from_annotation(kind, where)


def _unwrap_result(annotation: Any) -> Any:
    """``T`` of ``Deferred[T]``, ``Awaitable[T]`` and ``Coroutine[..., T]``; else itself."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Deferred and len(args) == 1:
        return args[0]
    if origin in (Awaitable, Coroutine) and args:
        return args[-1]
    return annotation



def method_from_function(name: str, function: Callable[..., Any], timeout: float | None,
                          result_name: str) -> Method:
    """The :class:`Method` ``name`` read from ``function``'s annotations and docstring."""
    from netsuite.rpc._registry import CallContext, Method, Param

    try:
        hints = typing.get_type_hints(function)
    except Exception as e:
        raise TypeError(f"{name}: cannot resolve the annotations: {e}") from None
    params: list[Param] = []
    context: str | None = None
    for p in inspect.signature(function).parameters.values():
        where = f"parameter {p.name!r} of {name}"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only parameters "
                            "are not supported")
        if p.name not in hints:
            raise TypeError(f"{where}: no type annotation")
        if hints[p.name] is CallContext:
            if context is not None:
                raise TypeError(f"{where}: a second CallContext parameter")
            context = p.name
            continue
        default = MISSING if p.default is p.empty else p.default
        params.append(Param(p.name, spec_from_annotation(hints[p.name], where), default))
    if "return" not in hints:
        raise TypeError(f"result of {name}: no return annotation")
    result = spec_from_annotation(_unwrap_result(hints["return"]), f"result of {name}")
    return Method(name, tuple(params), result, inspect.getdoc(function) or "", function,
                  result_name, timeout, context)
