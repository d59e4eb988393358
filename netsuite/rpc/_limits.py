"""The limits every RPC transport applies, each defined once (the request size and nesting)."""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DEPTH", "MAX_REQUEST"]

#: The largest request in bytes (an AMP box, a JSON-RPC request, an XML-RPC body, a gob or
#: gRPC message), checked before the request is buffered.
MAX_REQUEST: Final = 1024 * 1024
#: The deepest nesting of a request's values.
MAX_DEPTH: Final = 100
