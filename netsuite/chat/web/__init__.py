"""The chat from a web browser: ``twistd chat --web ENDPOINT``.

One HTTP listener serves the chat page at ``/`` (static files shipped in this package:
plain HTML, CSS and JavaScript) and a WebSocket at ``/ws`` into the same rooms as the
TCP clients.  See ``docs/web.md``.
"""

from netsuite.chat.web._site import HANDSHAKE_TIMEOUT, WebListener, normalize_origin, web_origin
from netsuite.chat.web._stats import WebStats, web_collectors
from netsuite.chat.web._transport import WebSocketLineTransport

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "WebListener",
    "WebSocketLineTransport",
    "WebStats",
    "normalize_origin",
    "web_collectors",
    "web_origin",
]
