"""XML-RPC wire codec: safe parsing of ``methodCall`` / ``methodResponse``, fault codes, errors.

Plain functions, no networking; the HTTP adapter is :mod:`netsuite.rpc.xmlrpc._protocol` and the
client :mod:`netsuite.rpc.xmlrpc._client`.

Parsing uses expat directly (no ``xmlrpc.client.loads``) with these guarantees:

* A document type declaration (``<!DOCTYPE``) is refused the moment expat reports it, before
  its internal subset is read, so no entity is ever declared: no billion laughs, no external
  entities, no external DTD.  A reference to an undeclared entity is an expat error.
* Elements nest at most ``max_depth`` levels (100 by default); one more is refused at once.
* The element structure is checked as it streams (``<int>`` only inside ``<value>``, ...).

Values decode as: ``int``/``i4``/``i8`` (and ``ex:i8``) -> ``int`` (any size up to 100 digits;
range checks are the service core's job), ``string`` and bare ``<value>`` text -> ``str``,
``boolean`` -> ``bool``, ``double`` -> ``float``, ``base64`` -> ``bytes``,
``dateTime.iso8601`` -> :class:`DateTime`, ``nil``/``ex:nil`` -> ``None``, ``array`` ->
``list``, ``struct`` -> ``dict``.  Encoding, the reverse, is
:mod:`netsuite.rpc.xmlrpc._encode`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from xml.parsers import expat

import attrs

from netsuite.rpc._core import MAX_DEPTH

__all__ = [
    "FAULT_APPLICATION",
    "FAULT_INTERNAL",
    "FAULT_INVALID_PARAMS",
    "FAULT_INVALID_REQUEST",
    "FAULT_METHOD_NOT_FOUND",
    "FAULT_PARSE",
    "DateTime",
    "DepthExceeded",
    "EncodeError",
    "Fault",
    "InvalidRequest",
    "ParseError",
    "XmlRpcDecodeError",
    "parse_call",
    "parse_response",
]

#: Fault codes of the "specification for fault code interoperability".
FAULT_PARSE = -32700
FAULT_INVALID_REQUEST = -32600
FAULT_METHOD_NOT_FOUND = -32601
FAULT_INVALID_PARAMS = -32602
FAULT_INTERNAL = -32603
FAULT_APPLICATION = -32500


_MAX_INT_DIGITS = 100


class XmlRpcDecodeError(Exception):
    """A document that cannot be decoded; ``code`` is the XML-RPC fault code to answer with."""

    code = FAULT_PARSE


class ParseError(XmlRpcDecodeError):
    """Not well-formed XML, or a DOCTYPE / entity declaration (fault -32700)."""


class DepthExceeded(ParseError):
    """Elements nested deeper than the limit (fault -32700; the server then closes)."""


class InvalidRequest(XmlRpcDecodeError):
    """Well-formed XML that is not valid XML-RPC (fault -32600)."""

    code = FAULT_INVALID_REQUEST


class EncodeError(ValueError):
    """A value that XML-RPC (or XML 1.0) cannot carry."""


@attrs.frozen
class Fault(Exception):
    """An XML-RPC fault: ``<fault>`` with ``faultCode`` and ``faultString``."""

    code: int
    string: str

    def __str__(self) -> str:
        return f"fault {self.code}: {self.string}"


@attrs.frozen
class DateTime:
    """A ``dateTime.iso8601`` value, kept as its text (XML-RPC gives it no time zone)."""

    value: str


# -- parsing -----------------------------------------------------------------------------------

_SCALARS = frozenset(
    ("int", "i4", "i8", "ex:i8", "string", "boolean", "double", "base64", "dateTime.iso8601",
     "nil", "ex:nil")
)
_VALUE_CHILDREN = _SCALARS | {"struct", "array"}
_CHILDREN: dict[str | None, frozenset[str]] = {
    "methodCall": frozenset(("methodName", "params")),
    "methodResponse": frozenset(("params", "fault")),
    "params": frozenset(("param",)),
    "param": frozenset(("value",)),
    "fault": frozenset(("value",)),
    "value": _VALUE_CHILDREN,
    "struct": frozenset(("member",)),
    "member": frozenset(("name", "value")),
    "array": frozenset(("data",)),
    "data": frozenset(("value",)),
}
_INT = re.compile(rf"[+-]?[0-9]{{1,{_MAX_INT_DIGITS}}}\Z")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BLANK = re.compile(r"[ \t\r\n]*\Z")


def _to_int(text: str) -> int:
    text = text.strip()
    if not _INT.match(text):
        raise InvalidRequest(f"invalid integer {text[:40]!r}")
    return int(text)


def _to_bool(text: str) -> bool:
    text = text.strip()
    if text == "1":
        return True
    if text == "0":
        return False
    raise InvalidRequest(f"invalid boolean {text[:40]!r} (expected 0 or 1)")


def _to_double(text: str) -> float:
    text = text.strip()
    if not _DOUBLE.match(text):
        raise InvalidRequest(f"invalid double {text[:40]!r}")
    return float(text)


def _to_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidRequest("invalid base64 value") from None


def _to_nil(text: str) -> None:
    if not _BLANK.match(text):
        raise InvalidRequest("<nil/> must be empty")
    return None


_CONVERT: dict[str, Callable[[str], Any]] = {
    "int": _to_int,
    "i4": _to_int,
    "i8": _to_int,
    "ex:i8": _to_int,
    "string": str,
    "boolean": _to_bool,
    "double": _to_double,
    "base64": _to_bytes,
    "dateTime.iso8601": lambda text: DateTime(text.strip()),
    "nil": _to_nil,
    "ex:nil": _to_nil,
}


class _Decoder:
    """Expat handlers that build the document's values while checking its structure.

    Each open element is a frame ``[tag, texts, items]``: ``texts`` collects character data,
    ``items`` the decoded children (values, struct members, the method name).
    """

    def __init__(self, root: str, max_depth: int) -> None:
        self.root = root
        self.max_depth = max_depth
        self.stack: list[list[Any]] = []
        self.done: list[Any] | None = None

    def start(self, tag: str, attributes: Any) -> None:
        stack = self.stack
        if len(stack) >= self.max_depth:
            raise DepthExceeded(f"elements nested deeper than {self.max_depth} levels")
        if stack:
            parent = stack[-1][0]
            allowed = _CHILDREN.get(parent)
            if allowed is None or tag not in allowed:
                raise InvalidRequest(f"unexpected <{tag}> inside <{parent}>")
        elif tag != self.root:
            raise InvalidRequest(f"expected <{self.root}>, got <{tag}>")
        stack.append([tag, [], []])

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][1].append(data)

    def end(self, tag: str) -> None:
        frame = self.stack.pop()
        texts, items = frame[1], frame[2]
        text = "".join(texts)
        if tag in _CONVERT:
            value = _CONVERT[tag](text)
            self.stack[-1][2].append(value)
            return
        if tag == "value":
            if not items:
                value = text  # bare text: a string
            else:
                if len(items) > 1:
                    raise InvalidRequest("<value> holds more than one value")
                if not _BLANK.match(text):
                    raise InvalidRequest("text beside a typed value in <value>")
                value = items[0]
            self.stack[-1][2].append(value)
            return
        if tag == "name" or tag == "methodName":
            self.stack[-1][2].append(_Name(text))
            return
        if not _BLANK.match(text):
            raise InvalidRequest(f"unexpected text in <{tag}>")
        if tag == "member":
            if len(items) != 2 or type(items[0]) is not _Name:
                raise InvalidRequest("<member> needs one <name> then one <value>")
            self.stack[-1][2].append((items[0].text, items[1]))
        elif tag == "struct":
            struct: dict[str, Any] = {}
            for name, value in items:
                if name in struct:
                    raise InvalidRequest(f"struct member {name[:40]!r} given twice")
                struct[name] = value
            self.stack[-1][2].append(struct)
        elif tag == "array":
            if len(items) != 1:
                raise InvalidRequest("<array> needs exactly one <data>")
            self.stack[-1][2].append(items[0])
        elif tag == "data":
            self.stack[-1][2].append(items)
        elif tag in ("param", "fault"):
            if len(items) != 1:
                raise InvalidRequest(f"<{tag}> needs exactly one <value>")
            self.stack[-1][2].append(_Wrapped(tag, items[0]))
        elif tag == "params":
            self.stack[-1][2].append(_Wrapped("params", [item.value for item in items]))
        else:  # the root
            self.done = items

    @staticmethod
    def refuse_doctype(*_: Any) -> None:
        raise ParseError("DOCTYPE and entity declarations are not allowed")

    @staticmethod
    def refuse_entity(*_: Any) -> None:
        raise ParseError("entity declarations are not allowed")


@attrs.frozen
class _Name:
    text: str


@attrs.frozen
class _Wrapped:
    tag: str
    value: Any


def _parse(data: bytes, root: str, max_depth: int) -> list[Any]:
    decoder = _Decoder(root, max_depth)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = decoder.refuse_doctype
    parser.EntityDeclHandler = decoder.refuse_entity
    parser.UnparsedEntityDeclHandler = decoder.refuse_entity
    parser.ExternalEntityRefHandler = decoder.refuse_entity
    parser.StartElementHandler = decoder.start
    parser.EndElementHandler = decoder.end
    parser.CharacterDataHandler = decoder.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise ParseError(f"not well-formed XML: {expat.ErrorString(e.code)} "
                         f"(line {e.lineno}, column {e.offset})") from None
    except RecursionError:  # pragma: no cover - depth is capped long before
        raise DepthExceeded("elements nested too deeply") from None
    except (LookupError, UnicodeError, ValueError) as e:
        # An unknown or broken declared encoding (encoding='U-TF-8'): the codec lookup
        # or the decoder fails inside expat.
        raise ParseError(f"cannot read the document's encoding: {e}") from None
    if decoder.done is None:  # pragma: no cover - expat reports an unclosed root
        raise ParseError("incomplete document")
    return decoder.done


# Characters XML 1.0 cannot carry at all, not even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The shape nearly every call has, matched without expat: an optional UTF-8 XML declaration,
# a plain method name and flat params of <int>/<i4>/<i8> digits, <string> or bare text.  The
# grammar has no markup declarations, no references (no "&") and no "<", ">" or CR in text, so
# whatever it matches is well-formed XML with the same meaning expat gives it.  Anything
# else -- including every document a client could use against the parser -- goes to expat.
_WS = rb"[ \t\n]*"
_FAST_TEXT = rb"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f]*"
_FAST_VALUE = (
    rb"<value>(?:<(?P<t>int|i4|i8)>(?P<digits>[+-]?[0-9]{1,18})</(?P=t)>|<string>(?P<string>"
    + _FAST_TEXT + rb")</string>|(?P<bare>" + _FAST_TEXT + rb"))</value>"
)
_FAST_PARAM = re.compile(rb"<param>" + _WS + _FAST_VALUE + _WS + rb"</param>" + _WS)
_FAST_CALL = re.compile(
    rb"(?:<\?xml version=(['\"])1\.0\1(?: encoding=(['\"])(?:utf-8|UTF-8)\2)?" + _WS
    + rb"\?>)?" + _WS + rb"<methodCall>" + _WS
    + rb"<methodName>(?P<name>[A-Za-z0-9_.:/-]+)</methodName>" + _WS
    + rb"(?:<params>" + _WS + rb"(?P<params>(?:<param>" + _WS + _FAST_VALUE + _WS + rb"</param>"
    + _WS + rb")*)</params>" + _WS + rb")?</methodCall>" + _WS
)


def _counted_call(count: int) -> re.Pattern[bytes]:
    """:data:`_FAST_CALL` for exactly ``count`` params, each one's groups numbered: one
    match reads them all.  (No text the fast grammar accepts holds a ``<``, so the number
    of ``<param>`` in a document it accepts is its number of params.)"""
    params = b""
    for i in range(count):
        tag = 4 + 4 * i  # groups 1-2: the declaration's quotes, 3: the method name
        params += (rb"<param>" + _WS + rb"<value>(?:<(int|i4|i8)>([+-]?[0-9]{1,18})"
                   + b"</\\%d>|<string>(" % tag + _FAST_TEXT + rb")</string>|("
                   + _FAST_TEXT + rb"))</value>" + _WS + rb"</param>" + _WS)
    return re.compile(
        rb"(?:<\?xml version=(['\"])1\.0\1(?: encoding=(['\"])(?:utf-8|UTF-8)\2)?" + _WS
        + rb"\?>)?" + _WS + rb"<methodCall>" + _WS
        + rb"<methodName>([A-Za-z0-9_.:/-]+)</methodName>" + _WS
        + rb"(?:<params>" + _WS + params + rb"</params>" + _WS + (b")?" if not count else b")")
        + rb"</methodCall>" + _WS
    )


_COUNTED_CALLS = [_counted_call(n) for n in range(5)]


def _fast_call(data: bytes) -> tuple[str, list[Any]] | None:
    """:func:`parse_call` for the common flat shape, or ``None`` to let expat decide."""
    count = data.count(b"<param>")
    if count < len(_COUNTED_CALLS):
        counted = _COUNTED_CALLS[count].fullmatch(data)
        if counted is None:
            return None
        groups = counted.groups()
        params = _fast_params([groups[i : i + 4] for i in range(3, 3 + 4 * count, 4)])
        return None if params is None else (groups[2].decode("ascii"), params)
    return _fast_call_general(data)


def _fast_call_general(data: bytes) -> tuple[str, list[Any]] | None:
    """:func:`_fast_call` for any number of params (one match, then one per param)."""
    match = _FAST_CALL.fullmatch(data)
    if match is None:
        return None
    body = match.group("params")
    params = _fast_params([p.groups() for p in _FAST_PARAM.finditer(body)] if body else [])
    return None if params is None else (match.group("name").decode("ascii"), params)


def _fast_params(found: list[tuple[Any, ...]]) -> list[Any] | None:
    """The values of params the fast grammar matched (each ``(tag, digits, string,
    bare)``), or ``None`` for text that is not UTF-8 or not XML (expat decides)."""
    params: list[Any] = []
    for _, digits, string, bare in found:
        if digits is not None:
            params.append(int(digits))
            continue
        raw = string if string is not None else bare
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not raw.isascii() and _NOT_XML.search(text):
            return None
        params.append(text)
    return params


def parse_call(data: bytes, max_depth: int = MAX_DEPTH) -> tuple[str, list[Any]]:
    """Decode a ``methodCall`` document: ``(method name, positional params)``.

    Raises :class:`ParseError` (incl. :class:`DepthExceeded`) or :class:`InvalidRequest`.
    """
    fast = _fast_call(data)
    if fast is not None:
        return fast
    return _parse_call(data, max_depth)


def _parse_call(data: bytes, max_depth: int) -> tuple[str, list[Any]]:
    """:func:`parse_call` by expat (every document)."""
    items = _parse(data, "methodCall", max_depth)
    name: str | None = None
    params: list[Any] = []
    seen_params = False
    for item in items:
        if type(item) is _Name:
            if name is not None:
                raise InvalidRequest("more than one <methodName>")
            name = item.text
        else:
            if seen_params:
                raise InvalidRequest("more than one <params>")
            seen_params = True
            params = item.value
    if name is None:
        raise InvalidRequest("<methodCall> has no <methodName>")
    name = name.strip()
    if not name:
        raise InvalidRequest("empty <methodName>")
    return name, params


def parse_response(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a ``methodResponse``: its one result, or raise the :class:`Fault` it carries.

    Raises :class:`ParseError` or :class:`InvalidRequest` for a document that is not one.
    """
    items = _parse(data, "methodResponse", max_depth)
    if len(items) != 1:
        raise InvalidRequest("<methodResponse> needs one <params> or one <fault>")
    item = items[0]
    if item.tag == "fault":
        fault = item.value
        if (not isinstance(fault, dict) or type(fault.get("faultCode")) is not int
                or not isinstance(fault.get("faultString"), str)):
            raise InvalidRequest("<fault> needs a struct of faultCode (int), faultString")
        raise Fault(fault["faultCode"], fault["faultString"])
    if len(item.value) != 1:
        raise InvalidRequest("a response <params> holds exactly one <param>")
    return item.value[0]

