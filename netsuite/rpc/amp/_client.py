"""The ``netsuite call amp`` client: one call with Twisted's own ``amp.AMP`` and our commands."""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import Factory
from twisted.protocols import amp

from netsuite._endpoints import client_endpoint
from netsuite.rpc._core import Method, RpcError
from netsuite.rpc.amp._protocol import command_for

__all__ = ["call"]


async def call(reactor: Any, host: str, port: int, method: Method, args: list[Any], *,
               tls: bool = False, insecure: bool = False, timeout: float = 10) -> Any:
    """Call ``method`` with positional ``args`` over AMP; the result, or :class:`RpcError`.

    Connection problems (refused, TLS, ``timeout`` seconds without an answer) raise the
    Twisted error as is.
    """
    endpoint = client_endpoint(reactor, host, port, tls=tls, insecure=insecure, timeout=timeout)
    connecting = endpoint.connect(Factory.forProtocol(amp.AMP))
    connecting.addTimeout(timeout, reactor)
    protocol: amp.AMP = await connecting
    try:
        command = command_for(method)
        kwargs = {p.name: value for p, value in zip(method.params, args, strict=True)}
        calling = protocol.callRemote(command, **kwargs)
        calling.addTimeout(timeout, reactor)
        try:
            response = await calling
        except amp.UnhandledCommand as e:
            raise RpcError(f"the server has no AMP command {method.method} ({e})") from None
        except amp.RemoteAmpError as e:
            code = e.errorCode.decode("ascii", "replace")
            raise RpcError(f"AMP error {code}: {e.description}") from None
        return response[method.result_name]
    finally:
        protocol.transport.loseConnection()
