"""The twisted.web side of XML-RPC: the ``/RPC2`` resource and a request kept in memory.

``/RPC2`` takes ``POST`` only (405 with ``Allow: POST`` otherwise), reads the body (gzip
too), hands it to the :class:`~netsuite.rpc.xmlrpc._answer.XmlRpcDispatcher` and answers
``200 text/xml`` -- at once, or when the method ends (the call is cancelled if the client
goes first).  Every other path is 404.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web import http, pages, resource, server

from netsuite.rpc._paced import DRAINING, OPEN
from netsuite.rpc.xmlrpc._answer import XmlRpcDispatcher

__all__ = ["Root", "XmlRpcRequest", "XmlRpcResource"]


_NOT_FOUND = pages.notFound("No Such Resource", "XML-RPC is served at POST /RPC2.")


class XmlRpcResource(resource.Resource):
    """``/RPC2``: POST only (other methods get 405 with ``Allow: POST``)."""

    isLeaf = True

    def __init__(self, dispatcher: XmlRpcDispatcher) -> None:
        super().__init__()
        self.dispatcher = dispatcher

    def render(self, request: server.Request) -> bytes:
        if request.postpath:  # /RPC2/anything
            return _NOT_FOUND.render(request)
        if request.method != b"POST":
            request.setResponseCode(http.NOT_ALLOWED)
            request.setHeader(b"allow", b"POST")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"405 Method Not Allowed: XML-RPC calls are POST requests to /RPC2\n"
        body = request.content.getvalue()
        encoding = (request.getHeader(b"content-encoding") or b"identity").strip().lower()
        if encoding != b"identity":
            if encoding not in (b"gzip", b"x-gzip"):
                return _refuse(request, http.UNSUPPORTED_MEDIA_TYPE,
                               "unsupported Content-Encoding (gzip and identity are)")
            limit = self.dispatcher.limits.max_body
            try:
                body = _gunzip(body, limit)
            except ValueError as e:
                return _refuse(request, http.BAD_REQUEST, f"bad gzip body: {e}")
            if body is None:
                self.dispatcher.stats.too_large += 1
                request.channel.persistent = False
                request.setHeader(b"connection", b"close")
                return _refuse(request, http.REQUEST_ENTITY_TOO_LARGE,
                               f"request body larger than {limit} bytes once decompressed")
        channel = request.channel
        answer = self.dispatcher.handle(body, getattr(channel, "call_context", None))
        if type(answer) is not Deferred:
            return _respond(request, answer)  # type: ignore[arg-type]

        def respond(result: tuple[bytes, bool]) -> None:
            if not finished:
                request.write(_respond(request, result))
                request.finish()

        def gone(reason: Any) -> None:
            finished.append(True)
            answer.cancel()  # type: ignore[union-attr]

        finished: list[bool] = []
        request.notifyFinish().addErrback(gone)
        answer.addCallback(respond).addErrback(lambda f: None)  # type: ignore[union-attr]
        return server.NOT_DONE_YET


def _respond(request: server.Request, answer: tuple[bytes, bool]) -> bytes:
    response, close = answer
    request.setHeader(b"content-type", b"text/xml")
    if close or getattr(request.channel, "state", OPEN) == DRAINING:
        request.setHeader(b"connection", b"close")
        request.channel.persistent = False
    return response


def _refuse(request: server.Request, code: int, text: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"{code} {http.RESPONSES[code].decode()}: {text}\n".encode()


def _gunzip(data: bytes, limit: int) -> bytes | None:
    """The gzip-decoded ``data``; ``None`` past ``limit`` bytes (never inflating further)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise ValueError(str(e)) from None
    if len(out) > limit:
        return None
    if not inflater.eof or inflater.unused_data:
        raise ValueError("truncated or trailing data")
    return out


class Root(resource.Resource):
    """The root: only ``/RPC2`` exists; every other path is 404."""

    def __init__(self, rpc2: resource.Resource) -> None:
        super().__init__()
        self.rpc2 = rpc2

    def getChildWithDefault(self, path: bytes, request: server.Request) -> resource.Resource:
        if path == b"RPC2":
            return self.rpc2
        return _NOT_FOUND

    def render(self, request: server.Request) -> bytes:
        return _NOT_FOUND.render(request)


class XmlRpcRequest(server.Request):
    """A request whose body is kept in memory and counted against the site's body limit."""

    _received = 0

    def gotLength(self, length: int | None) -> None:
        # Always in memory (twisted.web spills bodies over 100 kB to a temporary file);
        # a Content-Length over the limit never gets here (see _XmlRpcChannel).
        self.content = io.BytesIO()
        self._received = 0

    def handleContentChunk(self, data: bytes) -> None:
        channel = self.channel
        if channel is None or channel._refused:
            return
        self._received += len(data)
        if self._received > channel.site.limits.max_body:
            channel.refuse_too_large()
            return
        self.content.write(data)
