"""Plain functions for the HEAD client: targets, requests and response heads.

Nothing here touches the network, so every rule is tested on its own.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from netsuite._endpoints import TargetError, format_host_port, parse_host_port

__all__ = [
    "DEFAULT_MAX_HEAD",
    "HeadTooLarge",
    "MalformedResponse",
    "ResponseHead",
    "Target",
    "build_request",
    "find_head_end",
    "parse_head",
    "parse_target",
]

#: Largest response head accepted, in bytes (status line, headers and the blank line).
DEFAULT_MAX_HEAD = 64 * 1024

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINE = re.compile(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?")
_WHITESPACE = b" \t"
_PATH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


class MalformedResponse(Exception):
    """The server's bytes are not an HTTP response head."""


class HeadTooLarge(Exception):
    """The response head is larger than the limit."""


@attrs.frozen
class Target:
    """Where to send one HEAD request.

    ``text`` is the target as the user wrote it (used in output); ``tls`` is true for
    ``https://`` URLs.
    """

    text: str
    host: str
    port: int
    path: str = "/"
    tls: bool = False

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: IPv6 literals bracketed, the port only if not default."""
        default = 443 if self.tls else 80
        if self.port == default:
            return f"[{self.host}]" if ":" in self.host else self.host
        return format_host_port(self.host, self.port)


@attrs.frozen
class ResponseHead:
    """A parsed response head: ``HTTP/1.1 200 OK`` and its headers, in order received."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_line(self) -> str:
        """The status line as the server sent it (version, status and reason)."""
        return f"{self.version} {self.status} {self.reason}".rstrip()


def parse_target(text: str) -> Target:
    """Parse ``HOST:PORT``, ``[V6]:PORT``, ``http://...`` or ``https://...``.

    Raises :class:`TargetError` (a usage error) with a reason fit for a user.
    """
    text = text.strip()
    lowered = text.lower()
    if not lowered.startswith(("http://", "https://")):
        if "://" in text:
            raise TargetError(f"{text!r}: only http:// and https:// URLs are supported")
        host, port = parse_host_port(text)
        return Target(text, host, port)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise TargetError(f"{text!r}: {error}") from None
    tls = parts.scheme.lower() == "https"
    host = parts.hostname
    if not host:
        raise TargetError(f"{text!r}: no host in URL")
    if port == 0:
        raise TargetError(f"{text!r}: port must be a number from 1 to 65535")
    if parts.username is not None or parts.password is not None:
        raise TargetError(f"{text!r}: user names and passwords in URLs are not supported")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if _PATH_FORBIDDEN.search(path):
        raise TargetError(f"{text!r}: spaces and control characters must be %-encoded")
    try:
        path.encode("ascii")
    except UnicodeEncodeError:
        raise TargetError(f"{text!r}: non-ASCII characters in the path must be %-encoded") from None
    return Target(text, host, port or (443 if tls else 80), path, tls)


def build_request(target: Target, http11: bool = False) -> bytes:
    """The request bytes: ``HEAD PATH HTTP/1.0`` (the book's), or HTTP/1.1 with ``Host``
    and ``Connection: close``."""
    if not http11:
        return f"HEAD {target.path} HTTP/1.0\r\n\r\n".encode("ascii")
    host = target.host_header.encode("idna") if not target.host_header.isascii() else \
        target.host_header.encode("ascii")
    return (b"HEAD " + target.path.encode("ascii") + b" HTTP/1.1\r\nHost: " + host
            + b"\r\nConnection: close\r\n\r\n")


def find_head_end(buffer: bytes, start: int = 0) -> int | None:
    """The index just past the blank line ending the head (``\\r\\n\\r\\n`` or ``\\n\\n``),
    or None if it has not arrived.  ``start`` skips bytes already searched."""
    start = max(0, start - 3)
    found = [i for i in (buffer.find(b"\n\n", start), buffer.find(b"\n\r\n", start)) if i >= 0]
    if not found:
        return None
    first = min(found)
    return first + (2 if buffer.startswith(b"\n\n", first) else 3)


def parse_head(head: bytes) -> ResponseHead:
    """Parse one response head (ending in its blank line); raise :class:`MalformedResponse`.

    Lines may end in ``\\r\\n`` or ``\\n``.  Header names must be HTTP tokens (whitespace
    before the colon is tolerated and dropped); an obsolete folded continuation line is
    joined to the previous value with one space.  Bytes are decoded as ISO-8859-1, as HTTP
    defines.
    """
    lines = head.split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise MalformedResponse("empty response")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedResponse(f"bad status line {_show(lines[0])}")
    version, status, reason = match.groups()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise MalformedResponse("continuation line before any header")
            name, value = headers[-1]
            more = _text(line.strip(_WHITESPACE))
            headers[-1] = (name, f"{value} {more}" if value else more)
            continue
        name, sep, value = line.partition(b":")
        name = name.rstrip(_WHITESPACE)  # "Name : value" is invalid but common; accept it
        if not sep or not _TOKEN.fullmatch(name):
            raise MalformedResponse(f"bad header line {_show(line)}")
        headers.append((_text(name), _text(value.strip(_WHITESPACE))))
    return ResponseHead(_text(version), int(status), _text(reason or b""), tuple(headers))


def _text(data: bytes) -> str:
    return data.decode("iso-8859-1")


def _show(line: bytes) -> str:
    shown = repr(line[:60])[1:]
    return shown + ("..." if len(line) > 60 else "")
