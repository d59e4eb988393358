"""Typed values in JSON: arguments read as Go's ``encoding/json`` fills a struct, results out.

Types (as Go's ``encoding/json``): ``int`` a number without fraction, ``float`` a number,
``bool`` true/false, ``str`` a string, ``bytes`` a base64 string (standard alphabet, with
padding), ``list[T]`` an array, ``dict[str, T]`` an object, a struct an object whose keys
match the field names ignoring case (unknown keys ignored, missing fields zero), ``None``
null.  NaN and infinities have no JSON form: a result holding one is an internal error.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from netsuite.rpc._core import (
    INT64_MAX,
    INT64_MIN,
    InternalError,
    InvalidParams,
    Method,
    Param,
)
from netsuite.rpc._types import (
    BYTES,
    FLOAT64,
    INT64,
    STR,
    ListOf,
    MapOf,
    Optional,
    Struct,
    TypeSpec,
    zero_value,
)
from netsuite.rpc.jsonrpc._codec import RawFloat, dump_string

__all__ = ["GoArgs", "Refused", "dump_value", "from_json", "go_args", "go_plan", "json_kind",
           "plain"]

INVALID_PARAMS = -32602
_GO_TYPES = {int: "int", str: "string"}


class Refused(Exception):
    """A request answered with an error: Go's text, and the JSON-RPC 2.0 code."""

    def __init__(self, text: str, code: int, data: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.data = data


def json_kind(value: Any) -> str:
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


def plain(value: Any) -> Any:
    """A :class:`RawFloat` as a plain ``float`` (so errors name the JSON type, not ours)."""
    if type(value) is RawFloat:
        return 0 if value.text == "-0" else float(value)
    return value


def from_json(spec: TypeSpec, value: Any, path: str) -> Any:
    """A decoded JSON value as the type model's plain data for ``spec``: base64 strings as
    bytes, struct keys matched ignoring case (unknown ignored, missing zero), numbers as
    int/float.  Type errors are left to the model's check (it names the path)."""
    if value is None:
        return None
    if isinstance(spec, Optional):
        return from_json(spec.inner, value, path)
    if spec is BYTES:
        if type(value) is not str:
            return plain(value)
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidParams(f"{path}: expected a base64 string") from None
    if isinstance(spec, Struct):
        if type(value) is not dict:
            return plain(value)
        fields = {f.name.lower(): f for f in spec.fields}
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = fields.get(key) or fields.get(key.lower())
            if field is not None and item is not None:
                out[field.name] = from_json(field.spec, item, f"{path}.{field.name}")
        for field in spec.fields:
            if field.name not in out and field.required:
                out[field.name] = zero_value(field.spec)
        return out
    if isinstance(spec, MapOf):
        if type(value) is not dict:
            return plain(value)
        return {k: from_json(spec.value, v, f"{path}[{k!r}]") for k, v in value.items()}
    if isinstance(spec, ListOf):
        if type(value) is not list:
            return plain(value)
        return [from_json(spec.item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if spec is FLOAT64 and type(value) is RawFloat:
        return float(value)
    return plain(value)


def dump_value(value: Any) -> str:
    """The JSON text of a plain result (``to_plain`` output); bytes as base64."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return dump_string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float or kind is RawFloat:
        if not math.isfinite(value):
            raise InternalError(f"the result holds {value}, which JSON cannot carry")
        return float.__repr__(value)
    if kind is bytes or kind is bytearray:
        return '"' + base64.b64encode(value).decode("ascii") + '"'
    if kind is list:
        return "[" + ",".join(dump_value(v) for v in value) + "]"
    if kind is dict:
        return "{" + ",".join(dump_string(k) + ":" + dump_value(v)
                              for k, v in value.items()) + "}"
    raise InternalError(f"the result holds a {kind.__name__}, which JSON cannot carry")


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
    return _type_error(param, json_kind(value))


def _type_error(param: Param, what: str) -> Any:
    raise Refused(f"json: cannot unmarshal {what} into Go struct field Args.{param.go_name} "
                  f"of type {_GO_TYPES[param.type]}", INVALID_PARAMS)


class GoArgs:
    """How Go's ``encoding/json`` fills the argument struct of one method, worked out once
    (see :func:`go_plan`)."""

    __slots__ = ("call", "index", "kinds", "scalar", "zeros")

    def __init__(self, method: Method) -> None:
        params = method.params
        #: Lower-cased parameter name (and Go field name) -> position.
        self.index = ({p.name.lower(): i for i, p in enumerate(params)}
                      | {p.go_name: i for i, p in enumerate(params)})
        #: Whether every parameter is an int64 or a string (a Go struct of those).
        self.scalar = all(p.spec is INT64 or p.spec is STR for p in params)
        self.kinds = tuple(p.type for p in params)
        self.zeros = [p.type() for p in params] if self.scalar else []  # type: ignore[misc]
        #: The method's compiled call, where :meth:`plain` may feed it.
        self.call = method.fast_call if self.scalar else None

    def plain(self, struct: dict[str, Any]) -> list[Any] | None:
        """The arguments in ``struct`` when every field given is an int64 or a string of
        its parameter's type (what Go reads without a word), else ``None``."""
        values = self.zeros.copy()
        index, kinds = self.index, self.kinds
        for key, value in struct.items():
            i = index.get(key)
            if i is None:
                i = index.get(key.lower())
                if i is None:
                    continue
            if value is None:
                continue
            kind = type(value)
            if kind is not kinds[i] or (kind is int and not INT64_MIN <= value <= INT64_MAX):
                return None
            values[i] = value
        return values


def go_plan(method: Method) -> GoArgs:
    """The :class:`GoArgs` of ``method`` (kept in its ``wire_cache``)."""
    plan = method.wire_cache.get("jsonrpc")
    if plan is None:
        plan = method.wire_cache["jsonrpc"] = GoArgs(method)
    return plan  # type: ignore[no-any-return]


def go_args(method: Method, params: Any) -> Any:
    """Go's ``json.Unmarshal(params, &[1]any{&args})`` for ``method``: the arguments for
    :meth:`Method.bind` (positional values, or a struct of them)."""
    if type(params) is not list:
        raise Refused(f"json: cannot unmarshal {json_kind(params)} into Go value of type "
                      "[1]interface {}", INVALID_PARAMS)
    plan = go_plan(method)
    scalar = plan.scalar
    if not params or params[0] is None:
        return [p.type() for p in method.params] if scalar else {}
    struct = params[0]
    if type(struct) is not dict:
        raise Refused(f"json: cannot unmarshal {json_kind(struct)} into Go value of type "
                      "main.Args", INVALID_PARAMS)
    index = plan.index
    fields = []
    for key, value in struct.items():
        i = index.get(key)
        if i is None:
            i = index.get(key.lower())
        if i is not None and value is not None:
            fields.append((i, value))
    if not scalar:
        return {method.params[i].name: from_json(method.params[i].spec, value,
                                                 method.params[i].name)
                for i, value in fields}
    values: list[Any] = [p.type() for p in method.params]
    first_error: Refused | None = None
    for i, value in fields:
        try:
            values[i] = _go_field(method, i, value)
        except Refused as e:
            first_error = first_error or e  # Go reports the first, after decoding it all
    if first_error is not None:
        raise first_error
    return values
