"""A streaming decoder for a sequence of JSON objects on a byte stream (no separators needed).

``JsonObjectStream.feed(data)`` returns every JSON object completed by ``data``; an object
may arrive split across any number of reads, several may arrive in one read, whitespace
between them is allowed.  Limits hold before buffering: an object larger than ``max_size``
bytes or nested deeper than ``max_depth`` levels raises :class:`JsonStreamError` as soon as
that is known, without holding more than ``max_size`` bytes of it (plus the one read being
processed).  A value that is not an object, or malformed JSON, raises too; the stream is then
unusable.

Two paths:

- fast: while no object is partly buffered, the valid UTF-8 prefix of the buffer is decoded
  with the C scanner of :mod:`json`, object after object;
- incremental: an object cut by the end of a read is tracked by a small scanner (brackets
  and strings only) that resumes where it stopped, so an object trickling in byte by byte
  costs linear time; when its closing bracket arrives the whole object is decoded.

Numbers with a fraction or exponent decode to :class:`RawFloat` (a ``float`` remembering
its source text), so a request id such as ``1.50`` or ``1e400`` can be echoed exactly.
Invalid UTF-8 inside strings decodes to U+FFFD, as Go's decoder does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST

__all__ = ["JsonObjectStream", "JsonStreamError", "RawFloat", "dump_exact"]

_WS = re.compile(r"[ \t\n\r]*")
_WS_BYTES = re.compile(rb"[ \t\n\r]*")
_TOKEN = re.compile(rb'[{}\[\]"]')
_IN_STRING = re.compile(rb'["\\]')


class RawFloat(float):
    """A JSON number with a fraction or an exponent (or ``-0``); its source text is ``text``."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> RawFloat:
        self = super().__new__(cls, text)
        self.text = text
        return self


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> Any:
    # "-0" would come back as "0": keep its text (an id is echoed verbatim).
    return RawFloat(text) if text == "-0" else int(text)


# NaN / Infinity are not JSON (Go refuses them too); Python's decoder would accept them.
_DECODER = json.JSONDecoder(parse_float=RawFloat, parse_int=_parse_int,
                            parse_constant=_no_constants)
#: The C scanners: ``scan(text, pos) -> (value, end)``; StopIteration or ValueError when no
#: whole value starts at ``pos``.  Without ``-0`` in the text, integers need no Python
#: callback (the scanner makes them itself): the same values, faster.
_scan = _DECODER.scan_once
_scan_plain_ints = json.JSONDecoder(parse_float=RawFloat,
                                    parse_constant=_no_constants).scan_once


class JsonStreamError(ValueError):
    """The stream is not a sequence of acceptable JSON objects; ``kind`` says why:
    ``malformed``, ``not-an-object``, ``too-big`` or ``too-deep``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Scan:
    """Where the incremental scanner stopped inside one buffered object."""

    __slots__ = ("at", "depth", "in_string", "open")

    def __init__(self) -> None:
        self.at = 0
        self.depth = 0
        self.in_string = False
        self.open = bytearray()  # the brackets still open, innermost last


def _advance(scan: _Scan, buf: bytes | bytearray, max_depth: int) -> int | None:
    """Scan ``buf`` (an object starting at 0) onward from ``scan``: its end, or None."""
    at, depth, in_string, opened = scan.at, scan.depth, scan.in_string, scan.open
    size = len(buf)
    try:
        while True:
            if in_string:
                m = _IN_STRING.search(buf, at)
                if m is None:
                    at = size
                    return None
                i = m.start()
                if buf[i] == 0x5C:  # backslash: skip the escaped byte
                    if i + 1 >= size:
                        at = i
                        return None
                    at = i + 2
                    continue
                at = i + 1
                in_string = False
                continue
            m = _TOKEN.search(buf, at)
            if m is None:
                at = size
                return None
            i = m.start()
            at = i + 1
            c = buf[i]
            if c == 0x22:  # "
                in_string = True
            elif c == 0x7B or c == 0x5B:  # { [
                depth += 1
                if depth > max_depth:
                    raise JsonStreamError("too-deep", f"JSON nested deeper than {max_depth} levels")
                opened.append(c)
            else:  # } ]
                opener = opened.pop()
                if opener + 2 != c:  # "{" + 2 is "}", "[" + 2 is "]"
                    raise JsonStreamError(
                        "malformed", f"malformed JSON: {chr(c)} closes {chr(opener)}")
                depth -= 1
                if depth <= 0:
                    return at
    finally:
        scan.at, scan.depth, scan.in_string = at, depth, in_string


def _check_depth(value_bytes: bytes, max_depth: int) -> None:
    _advance(_Scan(), value_bytes, max_depth)


class JsonObjectStream:
    """Incremental decoder of concatenated JSON objects (see the module docstring)."""

    def __init__(self, max_size: int = MAX_REQUEST, max_depth: int = MAX_DEPTH) -> None:
        self.max_size = max_size
        self.max_depth = max_depth
        self._pending = bytearray()
        self._scan: _Scan | None = None

    @property
    def partial(self) -> bool:
        """Whether part of an object (or anything but whitespace) is buffered."""
        return bool(self._pending)

    def feed(self, data: bytes) -> list[Any]:
        """Every object completed by ``data``, in order.  Raises :class:`JsonStreamError`.

        When it raises, objects decoded earlier in the same ``data`` are in the
        exception's ``values`` attribute.
        """
        values: list[Any] = []
        try:
            if self._scan is None:
                self._run(data, values)
            else:  # resume the object cut short by an earlier read
                pending = self._pending
                pending += data
                end = self._advance(pending)
                if end is not None:
                    values.append(self._decode(pending[:end]))
                    rest = bytes(pending[end:])
                    self._scan = None
                    self._pending = bytearray()
                    self._run(rest, values)
        except JsonStreamError as e:
            self._pending = bytearray()
            self._scan = None
            e.values = values  # type: ignore[attr-defined]
            raise
        return values

    def _advance(self, buf: bytes | bytearray) -> int | None:
        """Scan on; the end of the object, or None (too big so far: raise)."""
        assert self._scan is not None
        end = _advance(self._scan, buf, self.max_depth)
        if (len(buf) if end is None else end) > self.max_size:
            raise JsonStreamError("too-big", f"request over {self.max_size} bytes")
        return end

    @staticmethod
    def _decode(raw: bytes | bytearray) -> Any:
        try:
            return _DECODER.decode(raw.decode("utf-8", "replace"))
        except ValueError as e:
            raise JsonStreamError("malformed", f"malformed JSON: {e}") from None

    def _run(self, buf: bytes, values: list[Any]) -> None:
        """Decode objects from ``buf`` (no object in progress); keep a cut-short one."""
        while buf:
            buf = self._fast(buf, values)
            start = _WS_BYTES.match(buf).end()  # type: ignore[union-attr]
            if start == len(buf):
                return
            if buf[start] != 0x7B:
                raise JsonStreamError(
                    "not-an-object", f"expected a JSON object, got {buf[start:start + 16]!r}")
            buf = buf[start:]
            self._scan = _Scan()
            end = self._advance(buf)
            if end is None:
                self._pending = bytearray(buf)
                return
            self._scan = None
            values.append(self._decode(buf[:end]))
            buf = buf[end:]

    def _fast(self, buf: bytes, values: list[Any]) -> bytes:
        """Decode whole objects from the front of ``buf``; return what is left."""
        is_ascii = buf.isascii()
        if is_ascii:
            text = buf.decode("ascii")
        else:
            try:
                text = buf.decode("utf-8")
            except UnicodeDecodeError as e:
                text = buf[: e.start].decode("utf-8")
        pos = 0
        size = len(text)
        max_size, max_depth = self.max_size, self.max_depth
        scan = _scan if "-0" in text else _scan_plain_ints
        while pos < size:
            first = text[pos]
            if first != "{":
                if first == "\n" and text.startswith("{", pos + 1):  # a line per object
                    pos += 1
                else:
                    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                    if pos == size or text[pos] != "{":
                        break
            try:
                value, end = scan(text, pos)
            except (StopIteration, ValueError, RecursionError):
                break  # cut short, malformed or very deep: the incremental path decides
            if end - pos > max_size // 4 and len(text[pos:end].encode("utf-8")) > max_size:
                raise JsonStreamError("too-big", f"request over {max_size} bytes")
            if (end - pos > max_depth  # a shorter object cannot hold more brackets
                    and text.count("{", pos, end) + text.count("[", pos, end) > max_depth):
                _check_depth(text[pos:end].encode("utf-8"), max_depth)
            values.append(value)
            pos = end
        if pos == 0:
            return buf
        if is_ascii:
            return buf[pos:]
        return buf[len(text[:pos].encode("utf-8")):]


def dump_exact(value: Any) -> str:
    """JSON text of a decoded value; :class:`RawFloat` s keep their source text."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is int or kind is bool:
        return json.dumps(value)
    if kind is str:
        return dump_string(value)
    if kind is RawFloat:
        return value.text
    if kind is list:
        return "[" + ",".join(dump_exact(v) for v in value) + "]"
    if kind is dict:
        return "{" + ",".join(dump_string(k) + ":" + dump_exact(v) for k, v in value.items()) + "}"
    return json.dumps(value)


_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028",
                              "\u2029": "\\u2029"})


def dump_string(text: str) -> str:
    """A JSON string literal: UTF-8 as is, except lone surrogates (from ``\\ud800`` escapes)
    and the characters some line readers split on (U+0085, U+2028, U+2029; Go escapes the
    last two too), which are escaped so every answer stays on one line for any reader."""
    if text.isascii():
        return json.dumps(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False).translate(_LINE_BREAKS)
