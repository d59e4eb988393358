"""The gRPC client of ``netsuite call grpc HOST:PORT ...`` (needs the grpc extra).

grpcio's blocking client runs in a reactor thread, one channel per command.  A method known
locally is called with the messages the server builds for it
(:func:`netsuite.rpc.grpc._answer.grpc_method`); any other method is looked up by server
reflection: the client fetches the service's file descriptors, builds the messages from
them, fills the request from a JSON object of the parameters and prints the reply's result
field as JSON (``bytes`` as base64, as protobuf's JSON mapping writes them).  ``--list``
lists the server's methods the same way.

TLS (:class:`netsuite._tls.ClientTLS`): the server is verified against ``--ca`` or the
system's trust store; ``--insecure`` trusts whatever certificate the server presents (it is
fetched first and pinned for the call); ``--cert``/``--key`` present a client certificate.
"""

from __future__ import annotations

import base64
import os
import ssl
from typing import Any

# grpcio's C core writes its own lines to stderr (a failed TLS handshake, for one) unless told
# otherwise before it is imported; the command's one-line reason says what failed.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc
from twisted.internet import defer, threads

from netsuite._endpoints import format_host_port
from netsuite._tls import TLSFailed, tls_error_line
from netsuite.rpc._core import Method, RpcError
from netsuite.rpc.grpc._answer import grpc_method
from netsuite.rpc.grpc._descriptors import PACKAGE

__all__ = ["GrpcUnavailable", "TlsFailure", "call", "call_json", "list_methods",
           "message_to_plain"]

#: Status codes that mean "no answer from a server" rather than a refusal by one.
_TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class GrpcUnavailable(ConnectionError):
    """The server could not be reached (refused, unreachable, timed out, TLS refused)."""


class TlsFailure(GrpcUnavailable, TLSFailed):
    """The TLS handshake failed; the text is the one line every client prints."""


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


def _channel(host: str, port: int, tls: Any, timeout: float) -> grpc.Channel:
    """A channel to ``host:port``: plaintext (``tls`` falsy) or per the :class:`ClientTLS`
    (``True``: verified against the system's trust store)."""
    target = format_host_port(host, port)
    if not tls:
        return grpc.insecure_channel(target)
    ca, key, cert = tls.pem() if hasattr(tls, "pem") else (None, None, None)
    if not getattr(tls, "insecure", False):
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(ca, key, cert))
    pem = ssl.get_server_certificate((host, port), timeout=timeout)
    credentials = grpc.ssl_channel_credentials(pem.encode(), key, cert)
    options = [("grpc.ssl_target_name_override", _certificate_name(pem, host))]
    return grpc.secure_channel(target, credentials, options=options)


def _failure(error: grpc.RpcError, target: str, tls: Any) -> Exception:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    if code in _TRANSPORT_CODES:
        text = details or ""
        if tls and code is grpc.StatusCode.UNAVAILABLE and "handshake" in text.lower():
            # The same line as every other client.
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return TlsFailure(tls_error_line("certificate verify failed", target))
            return TlsFailure(tls_error_line("handshake failed", target))
        return GrpcUnavailable(f"grpc {code.name}: {details}")
    return RpcError(f"{code.name}: {details}")


def _blocking(host: str, port: int, tls: Any, timeout: float, work: Any,
              channels: list[grpc.Channel] | None = None) -> Any:
    """``work(channel)`` on a fresh channel; the channel is added to ``channels`` so that
    another thread can close it (which ends the call at once)."""
    target = format_host_port(host, port)
    try:
        with _channel(host, port, tls, timeout) as channel:
            if channels is not None:
                channels.append(channel)
            return work(channel)
    except grpc.RpcError as e:
        raise _failure(e, target, tls) from None
    except OSError as e:  # fetching the certificate for --insecure
        raise GrpcUnavailable(f"cannot reach {target}: {e}") from None


def call_blocking(host: str, port: int, method: Method, args: list, *, tls: Any = None,
                  timeout: float = 30, insecure: bool = False,
                  channels: list[grpc.Channel] | None = None) -> Any:
    """One call of a method known here, blocking: the plain result, or :class:`RpcError` /
    :class:`GrpcUnavailable`."""
    entry = grpc_method(method)
    request = entry.request({p.name: a for p, a in zip(method.params, args, strict=True)})

    def work(channel: grpc.Channel) -> Any:
        stub = channel.unary_unary(entry.path,
                                   request_serializer=entry.request_class.SerializeToString,
                                   response_deserializer=entry.reply_class.FromString)
        return entry.result(stub(request, timeout=timeout))
    return _blocking(host, port, _tls(tls, insecure), timeout, work, channels)


def _tls(tls: Any, insecure: bool) -> Any:
    """Accept the older ``tls=True, insecure=...`` form too."""
    if tls is True:
        from netsuite._tls import ClientTLS

        return ClientTLS(insecure=insecure)
    return tls


def _reflected_pool(channel: grpc.Channel) -> Any:
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    database = ProtoReflectionDescriptorDatabase(channel)
    return database, DescriptorPool(database)


def call_json_blocking(host: str, port: int, name: str, params: dict[str, Any], *,
                       tls: Any = None, timeout: float = 30,
                       channels: list[grpc.Channel] | None = None) -> Any:
    """Call ``Service.Method`` (unknown here) with a JSON object of its parameters: the
    messages come from the server's reflection."""
    from google.protobuf import json_format, message_factory

    service_name, _, method_name = name.rpartition(".")

    def work(channel: grpc.Channel) -> Any:
        _, pool = _reflected_pool(channel)
        try:
            service = pool.FindServiceByName(f"{PACKAGE}.{service_name}")
            method = service.methods_by_name[method_name]
        except KeyError:
            raise RpcError(f"UNIMPLEMENTED: the server has no method {name}") from None
        request_class = message_factory.GetMessageClass(method.input_type)
        reply_class = message_factory.GetMessageClass(method.output_type)
        try:
            request = json_format.ParseDict(params, request_class())
        except json_format.ParseError as e:
            raise RpcError(f"INVALID_ARGUMENT: {e}") from None
        stub = channel.unary_unary(f"/{service.full_name}/{method.name}",
                                   request_serializer=request_class.SerializeToString,
                                   response_deserializer=reply_class.FromString)
        reply = stub(request, timeout=timeout)
        fields = reply.DESCRIPTOR.fields
        return message_to_plain(reply).get(fields[0].name) if fields else None
    return _blocking(host, port, tls, timeout, work, channels)


def list_blocking(host: str, port: int, *, tls: Any = None, timeout: float = 30,
                  channels: list[grpc.Channel] | None = None) -> list[str]:
    """``Service.Method (Request) returns (Reply)`` for every method the server reflects
    (reflection and health themselves left out)."""
    prefix = PACKAGE + "."

    def work(channel: grpc.Channel) -> list[str]:
        database, pool = _reflected_pool(channel)
        lines = []
        for full in sorted(database.get_services()):
            if full.startswith("grpc."):
                continue
            service = pool.FindServiceByName(full)
            short = full.removeprefix(prefix)
            for method in service.methods:
                lines.append(f"{short}.{method.name} ({method.input_type.name}) returns "
                             f"({method.output_type.name})")
        return lines
    return _blocking(host, port, tls, timeout, work, channels)


def message_to_plain(message: Any) -> dict[str, Any]:
    """A message as plain JSON-ready data: absent optional fields ``None``, maps as
    objects, bytes as base64 text."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            out[field.name] = {k: _plain(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [_plain(field, v) for v in value]
        elif field.has_presence and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _plain(field, value)
    return out


def _plain(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return message_to_plain(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


async def _in_thread(reactor: Any, blocking: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking client function in a reactor thread; if the command is cancelled
    (Ctrl-C), close its channel so the thread's call ends at once too."""
    channels: list[grpc.Channel] = []
    try:
        return await threads.deferToThreadPool(reactor, reactor.getThreadPool(), blocking,
                                               *args, channels=channels, **kwargs)
    except defer.CancelledError:
        for channel in channels:
            channel.close()
        raise


async def call(reactor: Any, host: str, port: int, method: Method, args: list, *, tls: Any,
               insecure: bool = False, timeout: float) -> object:
    """The ``netsuite call grpc`` contract: one call in a reactor thread."""
    return await _in_thread(reactor, call_blocking, host, port, method, args, tls=tls,
                            insecure=insecure, timeout=timeout)


async def call_json(reactor: Any, host: str, port: int, name: str, params: dict[str, Any], *,
                    tls: Any, timeout: float) -> object:
    """A method not known here, by reflection, in a reactor thread."""
    return await _in_thread(reactor, call_json_blocking, host, port, name, params, tls=tls,
                            timeout=timeout)


async def list_methods(reactor: Any, host: str, port: int, *, tls: Any, timeout: float
                       ) -> list[str]:
    """The server's methods, by reflection, in a reactor thread."""
    return await _in_thread(reactor, list_blocking, host, port, tls=tls, timeout=timeout)
