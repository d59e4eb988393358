"""``mtls:`` server endpoints: TLS that requires a client certificate from given CAs.

``mtls:PORT:privateKey=KEY:certKey=CERT:caCerts=CA_PEM[:interface=ADDR][:backlog=N]``
listens like ``ssl:`` (TCP, IPv4 or IPv6 by ``interface``), and in the handshake asks the
client for a certificate: one signed by a CA in the PEM file ``caCerts`` is accepted; no
certificate, or one from another CA, fails the handshake before the service sees a byte.
``certKey`` defaults to ``privateKey`` (one PEM file with both).  Every netsuite listener
takes it (the dropin ``twisted/plugins/netsuite_mtls.py`` makes Twisted's
``serverFromString`` know the prefix); see docs/operations.md.

:func:`parse_mtls` splits a description into its parts for code that is not Twisted's
(grpcio's server credentials take the same files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["MutualTLS", "parse_mtls", "server_endpoint"]


class MutualTLS(NamedTuple):
    """The parts of an ``mtls:`` description (paths as given; ``backlog`` is not kept)."""

    port: int
    interface: str
    private_key: str
    cert: str
    ca_certs: str


def _split(description: str) -> tuple[list[str], dict[str, str]]:
    """Positional and keyword parts of an endpoint description (``\\`` escapes a character)."""
    args: list[str] = []
    kwargs: dict[str, str] = {}
    key: str | None = None
    text: list[str] = []
    chars = iter(description + ":")
    for char in chars:
        if char == "\\":
            text.append(next(chars, ""))
        elif char == "=" and key is None:
            key, text = "".join(text), []
        elif char == ":":
            if key is None:
                args.append("".join(text))
            else:
                kwargs[key] = "".join(text)
            key, text = None, []
        else:
            text.append(char)
    return args, kwargs


def mutual_tls(port: str | int, privateKey: str | None = None, certKey: str | None = None,
               caCerts: str | None = None, interface: str = "", backlog: str | int = 50,
               **unknown: str) -> tuple[MutualTLS, int]:
    """Check the parameters of an ``mtls:`` description (and its listen backlog).

    Raises :class:`ValueError` if one is missing, unknown or not a number.
    """
    if unknown:
        raise ValueError(f"unknown parameter {next(iter(unknown))!r}")
    if privateKey is None or caCerts is None:
        raise ValueError("mtls needs privateKey=KEY and caCerts=CA_PEM (certKey=CERT too if "
                         "the key file holds no certificate)")
    try:
        number, queue = int(port), int(backlog)
    except ValueError:
        raise ValueError(f"port and backlog must be numbers, not {port!r}, {backlog!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is out of range 0-65535")
    return MutualTLS(number, interface, privateKey, certKey or privateKey, caCerts), queue


def parse_mtls(description: str) -> MutualTLS:
    """``(port, interface, private_key, cert, ca_certs)`` of an ``mtls:`` description.

    ``description`` may start with ``mtls:`` or not.  Raises :class:`ValueError` for a
    missing ``privateKey`` or ``caCerts``, an unknown parameter or a bad number.
    """
    if description.split(":", 1)[0].lower() == "mtls":
        description = description.split(":", 1)[1]
    args, kwargs = _split(description)
    if "port" in kwargs:
        args.insert(0, kwargs.pop("port"))
    if len(args) != 1 or not args[0]:
        raise ValueError("mtls needs one port: mtls:PORT:privateKey=KEY:certKey=CERT:caCerts=CA")
    return mutual_tls(args[0], **kwargs)[0]


def certificate_options(settings: MutualTLS) -> Any:
    """Twisted's server TLS options requiring a client certificate from ``caCerts``.

    Reads the files now: a missing or unreadable file is an :class:`OSError`, bad PEM a
    :class:`ValueError` (or OpenSSL's error), so both show when the option is parsed.
    """
    from twisted.internet import ssl

    key_pem = Path(settings.private_key).read_bytes()
    cert_pem = Path(settings.cert).read_bytes()
    ca_pem = Path(settings.ca_certs).read_bytes()
    from netsuite._tls import _pem_blocks

    if b"-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise ValueError(f"{settings.ca_certs}: no PEM certificate found")
    authorities = [ssl.Certificate.loadPEM(block) for block in _pem_blocks(ca_pem)]
    server = ssl.PrivateCertificate.loadPEM(key_pem + b"\n" + cert_pem)
    return ssl.CertificateOptions(
        privateKey=server.privateKey.original, certificate=server.original,
        trustRoot=ssl.trustRootFromCertificates(authorities),
    )


def server_endpoint(reactor: Any, *args: str, **kwargs: str) -> Any:
    """The endpoint for the parts of an ``mtls:`` description (after the prefix)."""
    from twisted.internet.endpoints import SSL4ServerEndpoint

    if "port" in kwargs:
        args = (kwargs.pop("port"), *args)
    if len(args) != 1:
        raise ValueError("mtls needs one port: mtls:PORT:privateKey=KEY:certKey=CERT:caCerts=CA")
    settings, backlog = mutual_tls(args[0], **kwargs)
    return SSL4ServerEndpoint(reactor, settings.port, certificate_options(settings),
                              backlog=backlog, interface=settings.interface)
