"""The ``netsuite call jsonrpc`` client: Go's ``net/rpc/jsonrpc`` request form over TCP/TLS.

:class:`JsonRpcClientProtocol` can also be used on its own: ``call(name, struct)`` sends
``{"method": name, "params": [struct], "id": N}`` and fires with the result (answers are
matched on ``id``, so calls may be pipelined); an error answer fails with :class:`RpcError`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineOnlyReceiver

from netsuite._endpoints import client_endpoint
from netsuite.rpc._core import Method, RpcError

__all__ = ["JsonRpcClientProtocol", "call"]


class JsonRpcClientProtocol(LineOnlyReceiver):
    """A JSON-RPC client connection speaking Go's form (answers are one JSON object a line)."""

    delimiter = b"\n"
    MAX_LENGTH = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._next_id = 0
        self._pending: dict[int, defer.Deferred[Any]] = {}

    def call(self, name: str, struct: dict[str, Any]) -> defer.Deferred[Any]:
        """Send one request; a Deferred firing with its result."""
        ident = self._next_id
        self._next_id += 1
        request = {"method": name, "params": [struct], "id": ident}
        d: defer.Deferred[Any] = defer.Deferred()
        self._pending[ident] = d
        text = json.dumps(request, ensure_ascii=False, default=_bytes_as_base64)
        self.transport.write(text.encode() + b"\n")
        return d

    def lineReceived(self, line: bytes) -> None:
        try:
            answer = json.loads(line)
            d = self._pending.pop(answer["id"])
        except (ValueError, KeyError, TypeError):
            self._fail_all(RpcError(f"unexpected answer from the server: {line[:200]!r}"))
            self.transport.loseConnection()
            return
        if answer.get("error") is not None:
            d.errback(RpcError(str(answer["error"])))
        else:
            d.callback(answer.get("result"))

    def lineLengthExceeded(self, line: bytes) -> None:
        self._fail_all(RpcError("answer over 16 MiB"))
        self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:
        error = getattr(reason, "value", None)
        if error is None or isinstance(error, ConnectionDone):
            error = ConnectionError("the server closed the connection before answering")
        self._fail_all(error)

    def _fail_all(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for d in pending.values():
            d.errback(error)


async def call(reactor: Any, host: str, port: int, method: Method, args: list[Any], *,
               tls: bool = False, insecure: bool = False, timeout: float = 10) -> Any:
    """Call ``method`` with positional ``args``; the result, or :class:`RpcError`."""
    endpoint = client_endpoint(reactor, host, port, tls=tls, insecure=insecure, timeout=timeout)
    connecting = endpoint.connect(Factory.forProtocol(JsonRpcClientProtocol))
    connecting.addTimeout(timeout, reactor)
    protocol: JsonRpcClientProtocol = await connecting
    try:
        struct = {p.go_name: value for p, value in zip(method.params, args, strict=True)}
        calling = protocol.call(method.name, struct)
        calling.addTimeout(timeout, reactor)
        return await calling
    finally:
        protocol.transport.loseConnection()


def _bytes_as_base64(value: Any) -> str:
    """``bytes`` travel as a base64 string over JSON-RPC (as Go's ``encoding/json`` does)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")
