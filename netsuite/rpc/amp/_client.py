"""The ``netsuite call amp`` client: one call with Twisted's own ``amp.AMP`` and our commands."""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import Factory
from twisted.protocols import amp

from netsuite._endpoints import client_endpoint
from netsuite.rpc._core import Method, RpcError
from netsuite.rpc._types import Optional, to_plain
from netsuite.rpc.amp._values import decoder, encoder

__all__ = ["call"]


def _raw_command(method: Method) -> type[amp.Command]:
    """A command sending and receiving the values as bytes encoded by :mod:`._values`
    (the same bytes Twisted's typed arguments make), under the full method name."""
    namespace = {
        "commandName": method.name.encode(),
        "arguments": [(p.name.encode(), amp.String(optional=True)) for p in method.params],
        "response": [(method.result_name.encode(), amp.String(optional=True))],
    }
    return type(method.method, (amp.Command,), namespace)


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
        command = _raw_command(method)
        kwargs = {p.name: encoder(p.spec)(to_plain(p.spec, value, p.name))
                  for p, value in zip(method.params, args, strict=False)
                  if value is not None}
        calling = protocol.callRemote(command, **kwargs)
        calling.addTimeout(timeout, reactor)
        try:
            response = await calling
        except amp.UnhandledCommand as e:
            raise RpcError(f"the server has no AMP command {method.name} ({e})") from None
        except amp.RemoteAmpError as e:
            code = e.errorCode.decode("ascii", "replace")
            raise RpcError(f"AMP error {code}: {e.description}") from None
        raw = response.get(method.result_name)
        if raw is None:
            return None
        value = decoder(method.result)(raw, "result")
        return None if value is None and isinstance(method.result, Optional) else value
    finally:
        protocol.transport.loseConnection()
