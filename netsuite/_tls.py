"""Client-side TLS shared by every ``netsuite`` client: options, trust, and one-line errors.

Every client takes the same five options (:func:`add_tls_options`): ``--tls`` (verify the
server against the system's trust store and its host name), ``--insecure`` (do not verify),
``--ca FILE`` (trust these CAs instead of the system's) and ``--cert FILE --key FILE`` (a
client certificate, for servers that require one: mutual TLS).  :meth:`ClientTLS.from_args`
checks them once; :meth:`ClientTLS.creator` gives Twisted's connection creator and
:meth:`ClientTLS.pem` the bytes grpcio wants.  :func:`tls_failure_text` turns a TLS failure
into the one line every client prints (``TLS error: certificate verify failed
(HOST:PORT)``), never an OpenSSL error tuple.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import attrs

__all__ = ["ClientTLS", "TLSFailed", "add_tls_options", "tls_error_line", "tls_failure_text"]


def add_tls_options(parser: argparse.ArgumentParser, *, what: str = "connect with TLS") -> None:
    """Add ``--tls``, ``--insecure``, ``--ca``, ``--cert`` and ``--key`` to ``parser``."""
    group = parser.add_argument_group("TLS")
    group.add_argument("--tls", action="store_true",
                       help=f"{what}; the server certificate is verified")
    group.add_argument("--insecure", "-k", action="store_true",
                       help="with --tls: do not verify the server certificate")
    group.add_argument("--ca", metavar="FILE",
                       help="with --tls: trust the CA certificates in this PEM file "
                            "instead of the system's")
    group.add_argument("--cert", metavar="FILE",
                       help="with --tls: present this client certificate (PEM; mutual TLS)")
    group.add_argument("--key", metavar="FILE",
                       help="with --tls: the private key of --cert (PEM)")


def _read(path: str | None, option: str) -> bytes | None:
    from netsuite._cli import UsageFailure

    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise UsageFailure(f"{option} {path}: {e.strerror or e}") from None


@attrs.frozen
class ClientTLS:
    """How a client speaks TLS: verification, trusted CAs and its own certificate.

    ``ca``, ``cert`` and ``key`` hold PEM bytes (read once, when the options are checked).
    """

    insecure: bool = False
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClientTLS | None:
        """The TLS settings of parsed options, or ``None`` without ``--tls``.

        Raises :class:`netsuite._cli.UsageFailure` for options that make no sense together
        or files that cannot be read.
        """
        from netsuite._cli import UsageFailure

        insecure = getattr(args, "insecure", False)
        ca, cert, key = (getattr(args, name, None) for name in ("ca", "cert", "key"))
        if not getattr(args, "tls", False):
            given = [f"--{name}" for name, value in
                     (("insecure", insecure), ("ca", ca), ("cert", cert), ("key", key)) if value]
            if given:
                raise UsageFailure(f"{', '.join(given)} only makes sense with --tls")
            return None
        if (cert is None) != (key is None):
            raise UsageFailure("--cert and --key go together")
        if insecure and ca is not None:
            raise UsageFailure("--insecure and --ca contradict each other")
        tls = cls(insecure=insecure, ca=_read(ca, "--ca"), cert=_read(cert, "--cert"),
                  key=_read(key, "--key"))
        tls._check()
        return tls

    def _check(self) -> None:
        from netsuite._cli import UsageFailure

        try:
            self._client_certificate()
            self._trust_root()
        except Exception as e:  # OpenSSL/cryptography errors: a bad file is a usage error
            raise UsageFailure(f"cannot use the TLS files given: {_one_line(e)}") from None

    def _client_certificate(self) -> Any:
        from twisted.internet import ssl

        if self.cert is None or self.key is None:
            return None
        return ssl.PrivateCertificate.loadPEM(self.key + b"\n" + self.cert)

    def _trust_root(self) -> Any:
        from twisted.internet import ssl

        if self.ca is None:
            return None
        return ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(pem) for pem in _pem_blocks(self.ca)])

    def creator(self, host: str) -> Any:
        """Twisted's client connection creator for a server named ``host``."""
        from twisted.internet import ssl

        client = self._client_certificate()
        if self.insecure:
            if client is None:
                return ssl.CertificateOptions(verify=False)
            return ssl.CertificateOptions(privateKey=client.privateKey.original,
                                          certificate=client.original, verify=False)
        return ssl.optionsForClientTLS(host, trustRoot=self._trust_root(),
                                       clientCertificate=client)

    def pem(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """``(root_certificates, private_key, certificate_chain)`` for grpcio."""
        return self.ca, self.key, self.cert


def _pem_blocks(data: bytes) -> list[bytes]:
    marker = b"-----END CERTIFICATE-----"
    blocks = [part + marker for part in data.split(marker) if b"-----BEGIN" in part]
    if not blocks:
        raise ValueError("no PEM certificate found")
    return [block.strip() for block in blocks]


def _one_line(error: object) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _openssl_reasons(error: BaseException) -> list[str]:
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    return [str(item[-1]) for item in details if isinstance(item, tuple) and item and item[-1]]


class TLSFailed(ConnectionError):
    """A TLS failure that a library reports in its own way (grpcio, say), already worded
    by :func:`tls_error_line`: :func:`tls_failure_text` gives its text as it is."""


def tls_error_line(text: str, target: str) -> str:
    """The one line every client prints for a TLS failure described by ``text``.

    ``TLS error: certificate verify failed (HOST:PORT)``; a verification failure adds that
    ``--insecure`` or ``--ca`` is the way past it, a missing client certificate that
    ``--cert``/``--key`` is.
    """
    if "verify" in text:
        hint = " (--ca FILE trusts your CA; --insecure skips the check)"
    elif "certificate required" in text:
        hint = " (the server requires a client certificate: --cert FILE --key FILE)"
    else:
        hint = ""
    return f"TLS error: {text} ({target}){hint}"


def tls_failure_text(reason: Any, target: str) -> str | None:
    """One line for a TLS failure (a Failure or an exception), or ``None`` if it is not one
    (see :func:`tls_error_line`)."""
    error = getattr(reason, "value", reason)
    if not isinstance(error, BaseException):
        return None
    if isinstance(error, TLSFailed):
        return str(error)
    try:
        from OpenSSL import SSL
    except ImportError:  # pragma: no cover - twisted[tls] is a dependency
        return None
    if isinstance(error, SSL.Error):
        text = ", ".join(dict.fromkeys(_openssl_reasons(error))) or "handshake failed"
    elif type(error).__name__ == "VerificationError" or "ssl" in type(error).__module__.lower():
        text = _one_line(error)
    else:
        return None
    return tls_error_line(text, target)
