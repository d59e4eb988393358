"""The gRPC client of ``netsuite call grpc HOST:PORT METHOD ARGS...`` (needs the grpc extra).

grpcio's blocking client runs in a reactor thread, one channel per call.  The request
message is the one the server uses for the method (:func:`netsuite.rpc.grpc._protocol.grpc_method`):
the generated ``SumRequest`` / ``SkillRequest`` for the book's methods.  ``tls`` uses the
system's trust store and checks the host name; ``insecure`` (with ``tls``) trusts whatever
certificate the server presents (it is fetched first and pinned for the call).
"""

from __future__ import annotations

import os
import ssl
from typing import Any

# grpcio's C core writes its own lines to stderr (a failed TLS handshake, for one) unless told
# otherwise before it is imported; the command's one-line reason says what failed.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc
from twisted.internet import threads

from netsuite._endpoints import format_host_port
from netsuite.rpc._core import Method, RpcError
from netsuite.rpc.grpc._answer import grpc_method

__all__ = ["GrpcUnavailable", "call"]

#: Status codes that mean "no answer from a server" rather than a refusal by one.
_TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class GrpcUnavailable(ConnectionError):
    """The server could not be reached (refused, unreachable, timed out)."""


def _certificate_name(pem: str, fallback: str) -> str:
    """A name the certificate is valid for (its first DNS name, else CN), for pinning."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sans.get_values_for_type(x509.DNSName)
        if names:
            return names[0]
    except x509.ExtensionNotFound:
        pass
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else fallback


def _channel(host: str, port: int, tls: bool, insecure: bool, timeout: float) -> grpc.Channel:
    target = format_host_port(host, port)
    if not tls:
        return grpc.insecure_channel(target)
    if not insecure:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    pem = ssl.get_server_certificate((host, port), timeout=timeout)
    credentials = grpc.ssl_channel_credentials(root_certificates=pem.encode())
    options = [("grpc.ssl_target_name_override", _certificate_name(pem, host))]
    return grpc.secure_channel(target, credentials, options=options)


def call_blocking(host: str, port: int, method: Method, args: list, *, tls: bool = False,
                  insecure: bool = False, timeout: float = 30) -> Any:
    """One call, blocking: the result, or :class:`RpcError` / :class:`GrpcUnavailable`."""
    entry = grpc_method(method)
    request = entry.request({p.name: a for p, a in zip(method.params, args, strict=True)})
    try:
        with _channel(host, port, tls, insecure, timeout) as channel:
            stub = channel.unary_unary(entry.path,
                                       request_serializer=entry.request_class.SerializeToString,
                                       response_deserializer=entry.reply_class.FromString)
            reply = stub(request, timeout=timeout)
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
        details = e.details() if hasattr(e, "details") else str(e)
        if code in _TRANSPORT_CODES:
            raise GrpcUnavailable(f"grpc {code.name}: {details}") from None
        raise RpcError(f"{code.name}: {details}") from None
    except OSError as e:  # fetching the certificate for --insecure
        raise GrpcUnavailable(f"cannot reach {format_host_port(host, port)}: {e}") from None
    return entry.result(reply)


async def call(reactor: Any, host: str, port: int, method: Method, args: list, *, tls: bool,
               insecure: bool, timeout: float) -> object:
    """The ``netsuite call grpc`` contract: one call in a reactor thread."""
    return await threads.deferToThreadPool(
        reactor, reactor.getThreadPool(), call_blocking, host, port, method, args, tls=tls,
        insecure=insecure, timeout=timeout)
