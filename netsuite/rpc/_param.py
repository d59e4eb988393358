"""What a call carries besides its arguments (:class:`CallContext`) and one typed
parameter (:class:`Param`)."""

from __future__ import annotations

import json
from typing import Any

import attrs

from netsuite.rpc._errors import InvalidParams
from netsuite.rpc._types import (
    BOOL,
    BYTES,
    FLOAT64,
    INT64,
    MISSING,
    STR,
    TypeSpec,
    check,
    type_name,
)

__all__ = ["PY_TYPES", "CallContext", "Param"]


#: The Python type of each scalar spec (what today's scalar-only transport code asks for).
PY_TYPES: dict[TypeSpec, type] = {INT64: int, FLOAT64: float, BOOL: bool, STR: str,
                                   BYTES: bytes}


@attrs.frozen(cache_hash=True)
class CallContext:
    """What a method may learn of its call: declare a parameter annotated ``CallContext``.

    ``transport`` is ``xmlrpc``, ``amp``, ``jsonrpc``, ``gob``, ``grpc`` (or ``direct`` for
    :meth:`Registry.call` from Python); ``peer`` the client's ``HOST:PORT``;
    ``peer_certificate`` the client's ``cryptography.x509.Certificate`` under mutual TLS.
    """

    transport: str
    peer: str = ""
    peer_certificate: Any = None


@attrs.frozen(cache_hash=True)
class Param:
    """One wire parameter: its name, type and default (:data:`~netsuite.rpc._types.MISSING`:
    none, the caller must give it)."""

    name: str
    spec: TypeSpec
    default: Any = MISSING

    @property
    def go_name(self) -> str:
        """The Go struct field name: first letter upper-cased (``x`` -> ``X``)."""
        return self.name[:1].upper() + self.name[1:]

    @property
    def type(self) -> type | None:
        """The Python type of a scalar parameter (``int``, ``str``...), else ``None``."""
        return PY_TYPES.get(self.spec)

    @property
    def type_name(self) -> str:
        """``int64``, ``string``, ``[]int64``, ``Point``... (see :func:`type_name`)."""
        return type_name(self.spec)

    @property
    def required(self) -> bool:
        """Whether a call must give this parameter."""
        return self.default is MISSING

    def check(self, value: Any) -> Any:
        """``value`` as the method receives it, else :class:`InvalidParams` (with the path)."""
        return check(self.spec, value, self.name)

    def parse(self, text: str) -> Any:
        """Parse a command-line argument: an integer (``12``, ``-0x10``), a float, ``true`` /
        ``false``, a string as is, bytes as UTF-8, anything else as JSON."""
        if self.spec == INT64:
            try:
                value: Any = int(text, 0)
            except ValueError:
                raise InvalidParams(f"{self.name}: {text!r} is not an integer") from None
        elif self.spec == STR:
            value = text
        elif self.spec == BYTES:
            value = text.encode()
        elif self.spec == FLOAT64:
            try:
                value = float(text)
            except ValueError:
                raise InvalidParams(f"{self.name}: {text!r} is not a number") from None
        elif self.spec == BOOL and text in ("true", "false"):
            value = text == "true"
        else:
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidParams(f"{self.name}: {text!r} is not JSON") from None
        return self.check(value)
