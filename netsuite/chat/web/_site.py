"""The chat's web listener: the page at ``/`` and the WebSocket at ``/ws`` on one HTTP port.

* ``GET /`` (also ``/chat.css``, ``/chat.js``): the chat page, static files shipped in
  this package, with a content security policy that allows nothing from another host.
* ``GET /ws``: the WebSocket (see :mod:`netsuite.chat.web._transport` for its wire).
  A handshake whose ``Origin`` header is neither the page's own origin (the scheme of
  this listener plus the request's ``Host``) nor one of ``origins`` gets HTTP 403; one
  without ``Origin`` (not sent by a page in a browser) is accepted.  A request that is
  not a WebSocket handshake gets HTTP 400.
* An HTTP connection that has not completed a request within ``timeout`` seconds of
  its last byte is closed, so half-finished handshakes cannot pile up.  Once upgraded,
  the connection is the chat's: its idle timeout applies instead.

No access log is written: the chat logs each connect and departure itself.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from netsuite._endpoints import ListenerService, describe_address
from netsuite.chat.web._stats import WebStats
from netsuite.chat.web._transport import WebSocketLineTransport
from netsuite.chat.web._upgrade import accept

__all__ = ["HANDSHAKE_TIMEOUT", "WebListener", "normalize_origin", "web_origin"]

log = Logger()

#: Seconds an HTTP connection may sit without completing a request.
HANDSHAKE_TIMEOUT = 10.0

#: The page's files: name -> content type.
PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
}

#: Nothing from another host; the WebSocket back to this one ('self' covers ws: and wss:).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def normalize_origin(text: str) -> str | None:
    """``scheme://host[:port]`` in lower case without its default port, or None if
    ``text`` is not an http(s) origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def web_origin(value: str) -> str:
    """The ``--web-origin`` option: an origin such as ``https://chat.example.com``."""
    origin = normalize_origin(value)
    if origin is None:
        raise ValueError(f"not a web origin (scheme://host[:port]): {value!r}")
    return origin


def page_file(name: str) -> bytes:
    """One of the page's files, as shipped in this package."""
    return (resources.files("netsuite.chat.web") / "static" / name).read_bytes()


class _Static(Resource):
    """One file of the page."""

    isLeaf = True

    def __init__(self, body: bytes, content_type: str) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request: Request) -> bytes:
        request.setHeader("content-type", self.content_type)
        request.setHeader("cache-control", "no-cache")
        request.setHeader("x-content-type-options", "nosniff")
        request.setHeader("referrer-policy", "no-referrer")
        request.setHeader("content-security-policy", CSP)
        return self.body


class _WebSocket(Resource):
    """``/ws``: checks the Origin, then hands the connection to the chat."""

    isLeaf = True

    def __init__(self, factory: IProtocolFactory, max_line: int, origins: frozenset[str],
                 stats: WebStats) -> None:
        super().__init__()
        self.factory = factory
        self.max_line = max_line
        self.origins = origins
        self.stats = stats

    def allowed(self, origin: str, request: Request) -> bool:
        """Whether a page from ``origin`` may open the chat's WebSocket."""
        wanted = normalize_origin(origin)
        if wanted is None:
            return False
        if wanted in self.origins:
            return True
        host = request.getHeader("host")
        scheme = "https" if request.isSecure() else "http"
        return host is not None and wanted == normalize_origin(f"{scheme}://{host}")

    def render_GET(self, request: Request) -> bytes | int:
        origin = request.getHeader("origin")
        if origin is not None and not self.allowed(origin, request):
            self.stats.refused_handshake("origin")
            log.info("chat-web refused a WebSocket from {address}: origin {origin} not allowed",
                     address=describe_address(request.getClientAddress()), origin=origin)
            request.setResponseCode(403)
            request.setHeader("content-type", "text/plain; charset=utf-8")
            return b"origin not allowed\n"
        sink = WebSocketLineTransport(self.factory, request.channel, self.max_line, self.stats)
        result = accept(request, sink)
        if not isinstance(result, int):
            self.stats.refused_handshake("handshake")
        return result


class _Site(Site):
    noisy = False
    displayTracebacks = False

    def log(self, request: Request) -> None:
        """No access log (see the module docstring)."""


def heartbeat_for(idle_timeout: float) -> float:
    """Seconds between the page's ``/ping`` heartbeats: well inside the idle timeout."""
    if idle_timeout <= 0:
        return 25.0
    return max(0.5, min(25.0, idle_timeout / 3))


def make_site(factory: IProtocolFactory, *, max_line: int, idle_timeout: float,
              origins: frozenset[str], stats: WebStats,
              timeout: float = HANDSHAKE_TIMEOUT) -> Site:
    """The HTTP site: the page and the WebSocket into the chat built by ``factory``."""
    root = Resource()
    for name, content_type in PAGE_FILES.items():
        body = page_file(name)
        if name == "index.html":
            body = (body.replace(b"@HEARTBEAT@", str(heartbeat_for(idle_timeout)).encode())
                    .replace(b"@MAX_LINE@", str(max_line).encode()))
            root.putChild(b"", _Static(body, content_type))
        root.putChild(name.encode(), _Static(body, content_type))
    root.putChild(b"ws", _WebSocket(factory, max_line, origins, stats))
    return _Site(root, timeout=timeout)


class WebListener(ListenerService):
    """Serve the chat page and WebSocket on ``description`` (log label ``chat-web``).

    ``factory`` builds the chat protocol (a TCP ``ChatFactory``: browser users and TCP
    users share its rooms); ``stats`` (:class:`WebStats`) counts the WebSocket clients.
    """

    def __init__(self, description: str, factory: IProtocolFactory, *, max_line: int,
                 idle_timeout: float, origins: Any = (), reactor: Any = None,
                 timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self.stats = WebStats()
        self.origins = frozenset(web_origin(o) for o in origins)
        self.site = make_site(factory, max_line=max_line, idle_timeout=idle_timeout,
                              origins=self.origins, stats=self.stats, timeout=timeout)
        super().__init__(description, self.site, "chat-web", reactor)
