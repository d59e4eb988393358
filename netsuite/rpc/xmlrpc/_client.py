"""The ``netsuite call xmlrpc`` client: one XML-RPC call over HTTP or HTTPS (``--tls``).

Sends ``POST /RPC2`` with a ``methodCall`` of positional params (encoded by
:mod:`netsuite.rpc.xmlrpc._codec`) through Twisted's :class:`~twisted.web.client.Agent` on a
:func:`netsuite._endpoints.client_endpoint` (TLS verified against the system trust store
unless ``insecure``), and decodes the ``methodResponse`` with the same safe parser the server
uses (no DOCTYPE, nesting capped, response size capped).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from netsuite._endpoints import client_endpoint, format_host_port
from netsuite.rpc._core import Method, RpcError
from netsuite.rpc.xmlrpc._codec import (
    EncodeError,
    Fault,
    XmlRpcDecodeError,
    parse_response,
)
from netsuite.rpc.xmlrpc._encode import encode_call

__all__ = ["MAX_RESPONSE", "XmlRpcFault", "XmlRpcProtocolError", "call"]

#: Largest response body the client reads (bytes).
MAX_RESPONSE = 16 * 1024 * 1024


class XmlRpcFault(RpcError):
    """The server answered with an XML-RPC fault (``code``, ``string``)."""

    def __init__(self, code: int, string: str) -> None:
        super().__init__(f"XML-RPC fault {code}: {string}")
        self.code = code
        self.string = string


class XmlRpcProtocolError(RpcError):
    """The server's answer was not an XML-RPC response (HTTP error, bad XML, too large)."""


@implementer(IAgentEndpointFactory)
class _Endpoints:
    def __init__(self, reactor: Any, tls: bool, insecure: bool, timeout: float) -> None:
        self.reactor = reactor
        self.tls = tls
        self.insecure = insecure
        self.timeout = timeout

    def endpointForURI(self, uri: Any) -> Any:
        host = uri.host.decode("ascii")
        if host.startswith("["):
            host = host[1:-1]
        return client_endpoint(self.reactor, host, uri.port, tls=self.tls,
                               insecure=self.insecure, timeout=self.timeout)


class _BodyReader(protocol.Protocol):
    """Collects a response body up to a limit."""

    def __init__(self, done: defer.Deferred[bytes], limit: int) -> None:
        self.done = done
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.transport.stopProducing()
            if not self.done.called:
                self.done.errback(XmlRpcProtocolError(
                    f"response body larger than {self.limit} bytes"))
            return
        self.parts.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if reason is None:
            reason = Failure(ConnectionDone())
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(reason)


def _underlying(error: Exception) -> Exception:
    """The real reason behind Agent's wrappers (``ResponseNeverReceived`` & co. hold a list).

    A TLS failure comes out as the ``OpenSSL.SSL.Error`` itself; a connection closed before
    the answer as :class:`ConnectionError`.
    """
    reasons = getattr(error, "reasons", None)
    if not reasons:
        return error
    for reason in reasons:
        if not reason.check(ConnectionDone, ConnectionLost, defer.CancelledError):
            value = reason.value
            return value if isinstance(value, Exception) else error
    return ConnectionError("the server closed the connection before answering")


async def call(reactor: Any, host: str, port: int, method: Method, args: list[Any], *,
               tls: bool, insecure: bool, timeout: float) -> Any:
    """Call ``method`` with positional ``args`` at ``host:port`` over XML-RPC; its result.

    Raises :class:`XmlRpcFault` for a fault, :class:`XmlRpcProtocolError` for an answer that
    is not XML-RPC, :class:`TimeoutError` when the whole call takes more than ``timeout``
    seconds, and the connection's own error otherwise (Twisted's ``ConnectError`` family
    for a refused or unreachable server, ``OpenSSL.SSL.Error`` for a TLS failure,
    :class:`ConnectionError` for a connection closed before the answer).
    """
    try:
        body = encode_call(method.name, list(args))
    except EncodeError as e:
        raise RpcError(f"cannot send these arguments over XML-RPC: {e}") from None
    url = f"{'https' if tls else 'http'}://{format_host_port(host, port)}/RPC2".encode("ascii")
    agent = Agent.usingEndpointFactory(reactor, _Endpoints(reactor, tls, insecure, timeout))
    headers = Headers({b"Content-Type": [b"text/xml"], b"User-Agent": [b"netsuite"]})

    target = format_host_port(host, port)

    async def exchange() -> bytes:
        response = await agent.request(b"POST", url, headers, FileBodyProducer(BytesIO(body)))
        done: defer.Deferred[bytes] = defer.Deferred()
        response.deliverBody(_BodyReader(done, MAX_RESPONSE))
        data = await done
        if response.code != 200:
            raise XmlRpcProtocolError(
                f"HTTP {response.code} {response.phrase.decode('latin-1', 'replace')}"
                f" from {target}/RPC2")
        return data

    attempt = defer.Deferred.fromCoroutine(exchange())
    timed_out: list[bool] = []

    def expire() -> None:
        timed_out.append(True)
        attempt.cancel()

    timer = reactor.callLater(timeout, expire)
    try:
        data = await attempt
    except Exception as e:
        if timed_out:
            raise TimeoutError(f"no answer from {target} within {timeout:g}s") from None
        if isinstance(e, RpcError):
            raise
        if isinstance(e, ResponseFailed) or getattr(e, "reasons", None):
            # ResponseNeverReceived, RequestTransmissionFailed: raise what is inside.
            raise _underlying(e) from None
        raise  # ConnectError (refused, DNS...) and the like, as they are
    finally:
        if timer.active():
            timer.cancel()
    try:
        return parse_response(data)
    except Fault as fault:
        raise XmlRpcFault(fault.code, fault.string) from None
    except XmlRpcDecodeError as e:
        raise XmlRpcProtocolError(f"not an XML-RPC response: {e}") from None
