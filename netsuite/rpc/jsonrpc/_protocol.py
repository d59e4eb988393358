"""JSON-RPC transport, wire-compatible with Go's ``net/rpc/jsonrpc`` (and JSON-RPC 2.0).

Input is a stream of JSON objects (no separator needed; see :mod:`._jsonstream`); output is
one JSON object per line.  Go's form (what ``jsonrpc.NewClient`` sends)::

    --> {"method": "Algorithm.Sum", "params": [{"X": 1, "Y": 2}], "id": 0}
    <-- {"id":0,"result":3,"error":null}

As Go's server does: envelope keys match case-insensitively; ``id`` is echoed as received
(any JSON value; ``null`` when absent); ``params`` must be an array whose first element is
the argument struct (keys matched to the Go field names ignoring case, unknown keys ignored,
missing fields zero, further elements ignored); errors are answered with ``"result": null``
and Go's texts -- ``rpc: service/method request ill-formed: NAME``, ``rpc: can't find
service NAME``, ``rpc: can't find method NAME``, ``jsonrpc: request body missing params``,
Go's ``json: cannot unmarshal ...`` texts for wrong types, the method's own error text
(``integer overflow: ...``) -- and the connection stays open.  A ``method`` that is not a
string, malformed JSON, a top-level value that is not an object, a request over the size
limit (1 MiB) or nested deeper than 100 levels is answered with one error (``id`` null) and
the connection is closed (Go closes without an answer).

A request with ``"jsonrpc": "2.0"`` is answered in JSON-RPC 2.0 form: ``{"jsonrpc": "2.0",
"id": ..., "result": ...}`` or ``"error": {"code", "message"[, "data"]}`` with -32700
parse error, -32600 invalid request, -32601 method not found (Go's text as message), -32602
invalid params, -32603 internal error, and -32000 for an application error (overflow), whose
``data`` is the error code (``"OVERFLOW"``).  ``params`` may be by position (``[1, 2]``), by
name (``{"x": 1, "y": 2}``, Go field names too) or Go's ``[{"X": 1, "Y": 2}]``; a request
without ``id`` is a notification and gets no answer.  Batches (top-level arrays) are not
supported: such a value closes the connection like any non-object.

Types: ``int`` a number, ``float`` a number (NaN and infinities have no JSON form: a result
holding one is an internal error), ``bool``, ``str``, ``bytes`` a base64 string,
``list[T]`` an array, ``dict[str, T]`` and structs objects (struct keys matched ignoring
case), ``None`` null; see :mod:`._values`.  Answers are computed by :func:`._answer.answer`.

Calls run concurrently: a method that waits is answered when it ends, possibly after
later requests (match on ``id``); the answers ready at the end of one read go out in one
write.  At most ``max_inflight`` calls run at once per connection (then reading stops
until one ends); a client that disconnects has its running calls cancelled; one that
half-closes (``shutdown(SHUT_WR)``, as ``echo ... | nc`` does) gets the answers of every
complete request it sent, then the close.  The protocol is the transport's producer: a
peer that stops reading its answers stops having its requests read.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.internet.protocol import Factory
from twisted.logger import Logger

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST, SERVICE, Registry
from netsuite.rpc._paced import CLOSED, DEFAULT_MAX_INFLIGHT, DRAINING, PacedProtocol
from netsuite.rpc.jsonrpc._answer import (
    ERROR_CODES,
    INVALID_REQUEST,
    PARSE_ERROR,
    Close,
    answer,
    error_line,
)
from netsuite.rpc.jsonrpc._codec import JsonObjectStream, JsonStreamError

__all__ = [
    "ERROR_CODES",
    "MAX_DEPTH",
    "MAX_REQUEST",
    "JsonRpcFactory",
    "JsonRpcProtocol",
    "jsonrpc_factory",
]

log = Logger()


class JsonRpcProtocol(PacedProtocol):
    """One JSON-RPC connection (see the module docstring)."""

    label = "jsonrpc"

    def __init__(self, registry: Registry, max_request: int = MAX_REQUEST,
                 max_depth: int = MAX_DEPTH) -> None:
        self.registry = registry
        self.stream = JsonObjectStream(max_request, max_depth)
        self._v2 = False  # the last request was JSON-RPC 2.0: answer stream errors in 2.0 form
        self._kept: deque[dict[str, Any]] = deque()  # requests waiting: too many calls
        self._failure: Close | None = None  # the stream broke after the kept requests

    def _get_context(self) -> Any:
        return self.call_context

    def dataReceived(self, data: bytes) -> None:
        if self.state == CLOSED or self._failure is not None or self.took_last:
            return
        try:
            requests = self.stream.feed(data)
        except JsonStreamError as e:
            requests = e.values  # type: ignore[attr-defined]
            code = PARSE_ERROR if e.kind in ("malformed", "too-deep") else INVALID_REQUEST
            self._failure = Close(f"jsonrpc: {e}", code)
        if self._kept:
            self._kept.extend(requests)
            return
        self._run(deque(requests))

    def _run(self, requests: deque[dict[str, Any]]) -> None:
        out: list[str] = []
        failure = None
        registry, context, running = self.registry, self._get_context, self.running
        while requests:
            if len(running) >= self.max_inflight and not self.may_start():
                self._kept = requests
                break
            request = requests.popleft()
            self._v2 = request.get("jsonrpc") == "2.0"
            try:
                reply = answer(registry, request, context)
            except Close as e:
                failure = e
                requests.clear()
                break
            if type(reply) is str:
                out.append(reply)
            elif reply is not None:
                reply.addCallback(self._write_later)
                self.track(reply)
            if self.state == DRAINING:
                requests.clear()  # shutdown: the request in progress was the last we take
                self._failure = None
                self.take_no_more()
                break
        if failure is None and not requests:
            failure, self._failure = self._failure, None
        if failure is not None:
            out.append(error_line(failure.text, failure.code, self._v2))
            log.info("jsonrpc: dropping {peer}: {reason}", peer=self.peer, reason=failure.text)
        if out:
            self.send_answers(_encode("".join(out)))
        if failure is not None:
            self.close()
        elif self.state == DRAINING or self.input_ended:
            self.finish_if_done()

    def _write_later(self, reply: str | None) -> None:
        if reply is not None and self.state != CLOSED:
            self.send_answers(_encode(reply))

    @property
    def queued(self) -> bool:
        """Whether complete requests wait for a running call to end."""
        return bool(self._kept) or self._failure is not None

    def resume_requests(self) -> None:
        kept, self._kept = self._kept, deque()
        self._run(kept)

    @property
    def partial(self) -> bool:
        """Whether part of a request has been received."""
        return self.stream.partial


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # cannot happen with dump_string; never let it kill a write
        return text.encode("utf-8", "replace")


class JsonRpcFactory(Factory):
    """Builds :class:`JsonRpcProtocol` s for one registry and one set of limits."""

    noisy = False

    def __init__(self, registry: Registry, max_request: int = MAX_REQUEST,
                 max_depth: int = MAX_DEPTH, max_inflight: int = DEFAULT_MAX_INFLIGHT) -> None:
        self.registry = registry
        self.max_request = max_request
        self.max_depth = max_depth
        self.max_inflight = max_inflight

    def buildProtocol(self, addr: Any) -> JsonRpcProtocol:
        protocol = JsonRpcProtocol(self.registry, self.max_request, self.max_depth)
        protocol.max_inflight = self.max_inflight
        protocol.factory = self
        return protocol


def jsonrpc_factory(registry: Registry = SERVICE, *, max_request: int = MAX_REQUEST,
                    max_depth: int = MAX_DEPTH, max_inflight: int = DEFAULT_MAX_INFLIGHT
                    ) -> JsonRpcFactory:
    """The JSON-RPC server factory for ``registry`` (at most ``max_inflight`` calls running
    at once per connection)."""
    return JsonRpcFactory(registry, max_request, max_depth, max_inflight)
