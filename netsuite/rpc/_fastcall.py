"""One Python function per method, compiled once at registration: check the arguments, call,
check the result -- the whole of :meth:`~netsuite.rpc.Registry.run` for the common call.

:func:`compile_call` writes (and compiles, as ``attrs`` and ``dataclasses`` do) a function
taking the method's wire arguments positionally, every parameter given, in order.  For the
book's ``Algorithm.Sum`` it is, in effect::

    def call(x, y):
        if not (type(x) is int and INT64_MIN <= x <= INT64_MAX):
            x = check(INT64, x, 'x')          # the full check: its error, its path
        if not (type(y) is int and INT64_MIN <= y <= INT64_MAX):
            y = check(INT64, y, 'y')
        try:
            result = function(x=x, y=y)
        except RpcError:
            raise
        except Exception as e:
            raise internal(method, e) from None
        if type(result) is int and INT64_MIN <= result <= INT64_MAX:
            return result
        return settle(method, result)         # anything else: Deferreds, results to check

So a scalar argument or result of the expected type costs one inline test, anything else
takes exactly the path :meth:`~netsuite.rpc.Method.bind` and :func:`~._calls.run` take
(the same checks, the same errors).  It returns what :meth:`Registry.start` returns: the
plain result, or a :class:`~twisted.internet.defer.Deferred` of it.

A method gets no compiled call (``None``) when it needs what only the registry has: a
:class:`~netsuite.rpc.CallContext` parameter, a ``timeout`` (the registry's clock), or
parameter names that are not Python identifiers.  Callers also take the general path while
the registry has observers (metrics time every call).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netsuite.rpc._calls import internal, settle
from netsuite.rpc._errors import RpcError
from netsuite.rpc._types import BOOL, BYTES, FLOAT64, INT64, INT64_MAX, INT64_MIN, STR, check

if TYPE_CHECKING:
    from netsuite.rpc._registry import Method

__all__ = ["compile_call"]

#: The inline test of a value of each scalar spec ({} is the variable).
_TESTS = {
    INT64: f"_type({{}}) is _int and {INT64_MIN} <= {{}} <= {INT64_MAX}",
    STR: "_type({}) is _str",
    FLOAT64: "_type({}) is _float",
    BOOL: "_type({}) is _bool",
    BYTES: "_type({}) is _bytes",
}

#: The generated code's globals: every name starts with ``_`` (parameter names do not).
_GLOBALS = {"_type": type, "_int": int, "_str": str, "_float": float, "_bool": bool,
            "_bytes": bytes, "_check": check, "_RpcError": RpcError, "_Exception": Exception,
            "_internal": internal, "_settle": settle}


def _test(spec: Any, name: str) -> str | None:
    for known, test in _TESTS.items():
        if spec == known:
            return test.format(name, name, name)
    return None


def _usable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def compile_call(method: Method) -> Callable[..., Any] | None:
    """The compiled call of ``method`` (see the module docstring), or ``None``."""
    if method.context is not None or method.timeout is not None:
        return None
    names = [p.name for p in method.params]
    if not all(_usable(n) for n in names) or len(set(names)) != len(names):
        return None
    namespace = {**_GLOBALS, "_function": method.function, "_method": method}
    lines = [f"def call({', '.join(names)}):"]
    for i, p in enumerate(method.params):
        namespace[f"_spec{i}"] = p.spec
        test = _test(p.spec, p.name)
        if test is None:
            lines.append(f"    {p.name} = _check(_spec{i}, {p.name}, {p.name!r})")
        else:
            lines += [f"    if not ({test}):",
                      f"        {p.name} = _check(_spec{i}, {p.name}, {p.name!r})"]
    lines += [
        "    try:",
        f"        _result = _function({', '.join(f'{n}={n}' for n in names)})",
        "    except _RpcError:",
        "        raise",
        "    except _Exception as _e:",
        "        raise _internal(_method, _e) from None",
    ]
    result_test = None if method.coroutine else _test(method.result, "_result")
    if result_test is not None and method.result in (INT64, STR):
        lines += [f"    if {result_test}:", "        return _result"]
    lines.append("    return _settle(_method, _result)")
    exec(compile("\n".join(lines), f"<rpc call {method.name}>", "exec"), namespace)
    return namespace["call"]  # type: ignore[no-any-return]
