"""XML-RPC encoding: Python values to ``<value>`` XML, responses, faults and calls.

The reverse of :mod:`netsuite.rpc.xmlrpc._codec`: an ``int`` within 32 bits is written
``<int>``, beyond that ``<i8>`` (read by Python's ``xmlrpc.client``); a string holding a
character XML 1.0 cannot carry is an :class:`~netsuite.rpc.xmlrpc._codec.EncodeError`.
"""

from __future__ import annotations

import base64
from typing import Any

from netsuite.rpc._types import INT64_MAX, INT64_MIN
from netsuite.rpc.xmlrpc._codec import _NOT_XML, DateTime, EncodeError

__all__ = ["encode_call", "encode_fault", "encode_response", "encode_value"]

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _escape(text: str) -> str:
    if _NOT_XML.search(text):
        raise EncodeError("string holds a character XML 1.0 cannot carry (a control character)")
    return text.translate(_ESCAPES)


def encode_value(value: Any, out: list[str]) -> None:
    """Append the ``<value>`` element of ``value`` to ``out`` (raises :class:`EncodeError`)."""
    kind = type(value)
    if kind is str:
        out.append(f"<value><string>{_escape(value)}</string></value>")
    elif kind is int:
        if _INT32_MIN <= value <= _INT32_MAX:
            out.append(f"<value><int>{value}</int></value>")
        elif INT64_MIN <= value <= INT64_MAX:
            out.append(f"<value><i8>{value}</i8></value>")
        else:
            raise EncodeError(f"integer {value} is outside the signed 64-bit range")
    elif kind is bool:
        out.append(f"<value><boolean>{int(value)}</boolean></value>")
    elif kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise EncodeError(f"XML-RPC cannot carry the double {value!r}")
        out.append(f"<value><double>{value!r}</double></value>")
    elif value is None:
        out.append("<value><nil/></value>")
    elif isinstance(value, bytes | bytearray):
        out.append(f"<value><base64>{base64.b64encode(value).decode('ascii')}</base64></value>")
    elif isinstance(value, DateTime):
        out.append(f"<value><dateTime.iso8601>{_escape(value.value)}</dateTime.iso8601></value>")
    elif isinstance(value, dict):
        out.append("<value><struct>")
        for name, member in value.items():
            if not isinstance(name, str):
                raise EncodeError(f"struct member names must be strings, not {name!r}")
            out.append(f"<member><name>{_escape(name)}</name>")
            encode_value(member, out)
            out.append("</member>")
        out.append("</struct></value>")
    elif isinstance(value, list | tuple):
        out.append("<value><array><data>")
        for item in value:
            encode_value(item, out)
        out.append("</data></array></value>")
    elif isinstance(value, str):  # str subclasses
        encode_value(str(value), out)
    elif isinstance(value, int):  # int subclasses (bool handled above)
        encode_value(int(value), out)
    else:
        raise EncodeError(f"XML-RPC cannot carry a {kind.__name__}")


_HEAD = '<?xml version="1.0"?>\n'


def encode_response(result: Any) -> bytes:
    """A ``methodResponse`` carrying ``result`` (raises :class:`EncodeError`)."""
    out = [_HEAD, "<methodResponse><params><param>"]
    encode_value(result, out)
    out.append("</param></params></methodResponse>")
    return "".join(out).encode("utf-8")


def encode_fault(code: int, string: str) -> bytes:
    """A ``methodResponse`` carrying a fault; unencodable characters in ``string`` are replaced."""
    string = _NOT_XML.sub("\ufffd", string)
    return (
        f"{_HEAD}<methodResponse><fault><value><struct>"
        f"<member><name>faultCode</name><value><int>{code}</int></value></member>"
        f"<member><name>faultString</name><value><string>{string.translate(_ESCAPES)}"
        f"</string></value></member></struct></value></fault></methodResponse>"
    ).encode()


def encode_call(name: str, params: list[Any] | tuple[Any, ...]) -> bytes:
    """A ``methodCall`` of ``name`` with positional ``params`` (raises :class:`EncodeError`)."""
    out = [_HEAD, f"<methodCall><methodName>{_escape(name)}</methodName><params>"]
    for param in params:
        out.append("<param>")
        encode_value(param, out)
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode("utf-8")
