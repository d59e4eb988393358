"""Where the gRPC server listens: Twisted-style listener descriptions as grpcio addresses.

``tcp:PORT[:interface=ADDR]``, ``tcp6:PORT[:interface=ADDR]``,
``ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem]`` (server TLS),
``mtls:PORT:privateKey=KEY.pem:certKey=CERT.pem:caCerts=CA.pem[:interface=ADDR]`` (mutual
TLS: a client certificate signed by one of the CAs in CA.pem is required, the handshake is
refused otherwise) and ``unix:PATH``.
"""

from __future__ import annotations

import attrs
import grpc

from netsuite._endpoints import format_host_port

__all__ = ["ListenAddress", "parse_description"]


@attrs.frozen
class ListenAddress:
    """Where and how to listen: a gRPC address (``HOST:PORT`` / ``unix:PATH``) and TLS files."""

    address: str
    host: str
    port: int
    private_key: str | None = None
    cert: str | None = None
    #: CA certificates (PEM file) a client certificate must be signed by (mutual TLS).
    ca: str | None = None

    def credentials(self) -> grpc.ServerCredentials | None:
        """Server TLS credentials (requiring a client certificate under mutual TLS), or
        ``None`` for plaintext.  ``OSError`` if a file cannot be read."""
        if self.private_key is None:
            return None
        with open(self.private_key, "rb") as f:
            key = f.read()
        with open(self.cert or self.private_key, "rb") as f:
            cert = f.read()
        if self.ca is None:
            return grpc.ssl_server_credentials([(key, cert)])
        with open(self.ca, "rb") as f:
            ca = f.read()
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                           require_client_auth=True)


def _split(description: str) -> list[str]:
    """Split an endpoint description on ``:``, honouring ``\\:`` escapes."""
    parts, current, escaped = [], [], False
    for ch in description:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_description(description: str) -> ListenAddress:
    """A Twisted-style listener description as a gRPC address; :class:`ValueError` if the
    description is not one gRPC can serve (tcp, tcp6, ssl, mtls, unix)."""
    kind, *rest = _split(description)
    kind = kind.lower()
    if kind == "unix":
        if not rest or not rest[0]:
            raise ValueError(f"{description!r}: unix needs a path")
        return ListenAddress(f"unix:{rest[0]}", rest[0], 0)
    if kind == "mtls":
        from netsuite._mtls import parse_mtls

        tls = parse_mtls(description)  # ValueError for a bad one
        host = tls.interface or "0.0.0.0"
        return ListenAddress(format_host_port(host, tls.port), host, tls.port, tls.private_key,
                             tls.cert, tls.ca_certs)
    if kind not in ("tcp", "tcp6", "ssl"):
        raise ValueError(f"{description!r}: gRPC listens on tcp:, tcp6:, ssl:, mtls: or unix: "
                         "only")
    args: dict[str, str] = {}
    positional: list[str] = []
    for item in rest:
        key, eq, value = item.partition("=")
        if eq:
            args[key] = value
        else:
            positional.append(item)
    port_text = args.pop("port", positional[0] if positional else "")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{description!r}: a port number 0-65535 is needed")
    port = int(port_text)
    host = args.pop("interface", "::" if kind == "tcp6" else "0.0.0.0")
    key = args.pop("privateKey", None)
    cert = args.pop("certKey", None)
    args.pop("backlog", None)
    if kind == "ssl" and key is None:
        raise ValueError(f"{description!r}: ssl needs privateKey=FILE")
    if args:
        raise ValueError(f"{description!r}: gRPC does not support {', '.join(sorted(args))}")
    return ListenAddress(format_host_port(host, port), host, port, key, cert)
