"""AMP answers: one command box in, the answer box's bytes out (no networking).

:class:`CommandTable` names every registered method as an AMP command (the full name
``Geo.Move``, and the short one ``Move`` while no other service has it);
:func:`answer` runs one command box and returns the bytes of its answer or error box --
or a Deferred of them while the method runs, or ``None`` when the box asked for no answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.protocols import amp
from twisted.python.failure import Failure

from netsuite.rpc._core import (
    ApplicationError,
    CallContext,
    Int64Overflow,
    InvalidParams,
    Method,
    Registry,
    RpcError,
    UnknownMethod,
)
from netsuite.rpc._types import INT64, STR, Optional
from netsuite.rpc.amp._values import (
    MAX_VALUE,
    SCALAR_PARSERS,
    ResultTooLong,
    encoder,
    pair,
    parser,
)

__all__ = [
    "BAD_PARAMS",
    "ERROR_CODES",
    "RESULT_TOO_LONG",
    "CommandTable",
    "answer",
    "error_box",
    "error_code",
]

ASK = b"_ask"
COMMAND = b"_command"

#: Error code of an invalid argument.
BAD_PARAMS = b"BAD_PARAMS"
RESULT_TOO_LONG = b"RESULT_TOO_LONG"

#: The AMP error code of each ``RpcError.kind`` (an application error sends its own
#: ``code`` instead: ``APPLICATION`` unless the method's error class sets another).
ERROR_CODES: dict[str, bytes] = {
    "ill-formed": amp.UNHANDLED_ERROR_CODE,
    "unknown-service": amp.UNHANDLED_ERROR_CODE,
    "unknown-method": amp.UNHANDLED_ERROR_CODE,
    "bad-params": BAD_PARAMS,
    "application": ApplicationError.code.encode(),
    "overflow": Int64Overflow.code.encode(),
    "deadline": ApplicationError.code.encode(),
    "internal": amp.UNKNOWN_ERROR_CODE,
}


def error_code(error: RpcError) -> bytes:
    """The AMP error code answering ``error``."""
    if isinstance(error, ApplicationError):
        return error.code.encode("ascii", "replace")
    return ERROR_CODES.get(error.kind, amp.UNKNOWN_ERROR_CODE)


def error_box(tag: bytes, code: bytes, description: str) -> bytes:
    """The bytes of an AMP error box answering ``tag``."""
    text = description.encode("utf-8", "replace")[:MAX_VALUE]
    return (pair(b"_error", tag) + pair(b"_error_code", code)
            + pair(b"_error_description", text) + b"\x00\x00")


def _error_text(error: RpcError) -> str:
    return "Unknown Error" if error.kind == "internal" else str(error)


_REQUIRED, _NONE, _DEFAULT = range(3)

#: The parsers of scalar arguments (a value that does not parse raises ``ValueError``).
_SCALAR_PARSE = frozenset(parse for parse, _ in SCALAR_PARSERS.values())


class _Command:
    """What the responder needs to run one method: argument keys and decoders, result key."""

    __slots__ = ("args", "call_box", "encode", "fast_int", "method", "name",
                 "optional_result", "result_key", "result_text")

    def __init__(self, method: Method) -> None:
        self.method = method
        self.name = method.name
        #: (key, parse, kind, name, when left out: _REQUIRED, _NONE or _DEFAULT)
        self.args: list[tuple[bytes, Callable[[bytes], Any], str, str, int]] = [
            (p.name.encode(), *parser(p.spec, p.name), p.name,
             _DEFAULT if not p.required else _NONE if isinstance(p.spec, Optional)
             else _REQUIRED)
            for p in method.params
        ]
        key = method.result_name.encode()
        self.result_key = len(key).to_bytes(2, "big") + key
        self.result_text = method.result is STR  # the book's two: the fast paths
        self.encode = (None if method.result in (INT64, STR) else encoder(method.result))
        self.optional_result = isinstance(method.result, Optional)
        #: The method's compiled call on a box, when every argument is a required scalar
        #: (``None``: the general path); ``fast_int``: the result is an int64.
        self.call_box = _box_caller(method, self.args)
        self.fast_int = method.result == INT64


def _box_caller(method: Method, args: list[tuple[bytes, Callable[[bytes], Any], str, str, int]]
                ) -> Callable[[dict[bytes, bytes]], Any] | None:
    """``call(box)``: parse the arguments and run the compiled call of ``method`` -- a
    KeyError (an argument is missing) or a ValueError (it does not parse) before the
    method runs; else what the compiled call returns or raises.  ``None`` when some
    argument is not a required scalar or the method has no compiled call."""
    fast = method.fast_call
    if fast is None or any(a[4] != _REQUIRED or a[1] not in _SCALAR_PARSE for a in args):
        return None
    pairs = [(key, parse) for key, parse, *_ in args]
    if len(pairs) == 1:
        [(k0, p0)] = pairs
        return lambda box: fast(p0(box[k0]))
    if len(pairs) == 2:
        [(k0, p0), (k1, p1)] = pairs
        return lambda box: fast(p0(box[k0]), p1(box[k1]))
    return lambda box: fast(*[parse(box[key]) for key, parse in pairs])


class CommandTable:
    """AMP command names -> methods of a registry (short names while unambiguous)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        #: Command name -> what runs it (see :meth:`get`, which refreshes on a miss).
        self.commands: dict[bytes, _Command] = {}
        self._known: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        """Re-read the registry (called when a name is not found)."""
        methods = list(self.registry)
        names = [m.name for m in methods]
        if names == self._known:
            return
        short: dict[str, list[Method]] = {}
        for m in methods:
            short.setdefault(m.method, []).append(m)
        commands = {m.name.encode(): _Command(m) for m in methods}
        for name, found in short.items():
            if len(found) == 1:
                commands.setdefault(name.encode(), commands[found[0].name.encode()])
        self.commands = commands
        self._known = names

    def get(self, name: bytes) -> _Command | None:
        command = self.commands.get(name)
        if command is None:
            self.refresh()
            command = self.commands.get(name)
        return command


def _result_box(command: _Command, tag: bytes, result: Any) -> bytes:
    if result is None and command.optional_result:
        return pair(b"_answer", tag) + b"\x00\x00"
    if command.encode is not None:
        value = command.encode(result)
    elif command.result_text:
        value = result.encode("utf-8")
    else:
        value = str(result).encode()
    if len(value) > MAX_VALUE:
        raise ResultTooLong(f"{command.name}: result of {len(value)} bytes is over AMP's "
                            f"{MAX_VALUE}-byte value limit")
    return (b"\x00\x07_answer" + len(tag).to_bytes(2, "big") + tag + command.result_key
            + len(value).to_bytes(2, "big") + value + b"\x00\x00")


def answer(table: CommandTable, box: dict[bytes, bytes],
           context: Callable[[], CallContext]) -> bytes | Deferred[bytes | None] | None:
    """The answer to one command box (``_command`` present): its bytes, a Deferred of them
    (the method is still running), or ``None`` (no ``_ask``: no answer wanted).

    ``context`` gives the connection's :class:`CallContext` (asked only for methods that
    take one).
    """
    name = box[COMMAND]
    tag = box.get(ASK)
    registry = table.registry
    command = table.commands.get(name) or table.get(name)
    if command is None:
        text = name.decode("utf-8", "replace")
        registry.refused(text, UnknownMethod(text), transport="amp")
        if tag is None:
            return None
        return error_box(tag, amp.UNHANDLED_ERROR_CODE, f"Unhandled Command: {name!r}")
    call_box = command.call_box
    if call_box is not None and not registry.observers:
        # The common call: every argument a scalar that parses, no metrics to time it.
        try:
            result = call_box(box)
        except (KeyError, ValueError):
            pass  # an argument missing or not parsing: the general path below says which
        except RpcError as e:
            return None if tag is None else error_box(tag, error_code(e), _error_text(e))
        else:
            if type(result) is int and command.fast_int and tag is not None and len(tag) < 256:
                value = b"%d" % result
                return (b"\x00\x07_answer\x00%c%b%b\x00%c%b\x00\x00"
                        % (len(tag), tag, command.result_key, len(value), value))
            if type(result) is Deferred:
                return result.addCallbacks(_answered, _failed, callbackArgs=(command, tag),
                                           errbackArgs=(tag,))
            return _answered(result, command, tag)
    try:
        args: list[Any] = []
        named: dict[str, Any] | None = None  # once an argument is left out
        for key, parse, kind, pname, missing in command.args:
            value = box.get(key)
            if value is None:
                if missing == _REQUIRED:
                    raise InvalidParams(f"{command.name}: missing argument {pname}")
                if named is None:
                    named = dict(zip([a[3] for a in command.args], args, strict=False))
                if missing == _NONE:
                    named[pname] = None
                continue
            try:
                value = parse(value)
            except ValueError:  # a scalar that does not parse (UnicodeDecodeError too)
                raise InvalidParams(f"{pname}: expected {kind}, got {value[:32]!r}") from None
            if named is None:
                args.append(value)
            else:
                named[pname] = value
        method = command.method
        kwargs = method.bind(args if named is None else named)
    except InvalidParams as e:
        registry.refused(command.name, e, transport="amp")
        return None if tag is None else error_box(tag, BAD_PARAMS, str(e))
    try:
        result = registry.run(method, kwargs, transport="amp",
                              context=context() if method.context else None)
    except RpcError as e:
        return None if tag is None else error_box(tag, error_code(e), _error_text(e))
    if type(result) is Deferred:
        return result.addCallbacks(_answered, _failed, callbackArgs=(command, tag),
                                   errbackArgs=(tag,))
    return _answered(result, command, tag)


def _answered(result: Any, command: _Command, tag: bytes | None) -> bytes | None:
    if tag is None:
        return None
    try:
        return _result_box(command, tag, result)
    except ResultTooLong as e:
        return error_box(tag, RESULT_TOO_LONG, str(e))


def _failed(failure: Failure, tag: bytes | None) -> bytes | None:
    if failure.check(CancelledError) or tag is None:
        return None
    error = failure.value
    if not isinstance(error, RpcError):  # pragma: no cover - the core converts the rest
        error = RpcError("internal error")
    return error_box(tag, error_code(error), _error_text(error))
