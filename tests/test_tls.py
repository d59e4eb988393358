"""Client TLS shared by every client: options, CAs, client certificates, one-line errors."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, ssl
from twisted.internet.endpoints import SSL4ServerEndpoint

from netsuite._cli import UsageFailure
from netsuite._endpoints import client_endpoint
from netsuite._tls import ClientTLS, add_tls_options, tls_failure_text
from tests.helpers import PKI, TLSFiles


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_tls_options(parser)
    return parser.parse_args(argv)


def test_no_tls_is_none() -> None:
    assert ClientTLS.from_args(parse()) is None


@pytest.mark.parametrize("argv, message", [
    (["--insecure"], "--insecure only makes sense with --tls"),
    (["--ca", "x.pem"], "--ca only makes sense with --tls"),
    (["--cert", "c", "--key", "k"], "--cert, --key only makes sense with --tls"),
    (["--tls", "--cert", "c.pem"], "--cert and --key go together"),
    (["--tls", "--key", "k.pem"], "--cert and --key go together"),
    (["--tls", "--insecure", "--ca", "x.pem"], "--insecure and --ca contradict each other"),
])
def test_option_mistakes_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageFailure, match=message):
        ClientTLS.from_args(parse(*argv))


def test_unreadable_file_is_a_usage_error(tmp_path: Any) -> None:
    with pytest.raises(UsageFailure, match=r"--ca .*missing.pem: No such file"):
        ClientTLS.from_args(parse("--tls", "--ca", str(tmp_path / "missing.pem")))


def test_a_file_that_is_not_pem_is_a_usage_error(tmp_path: Any) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(UsageFailure, match="cannot use the TLS files given"):
        ClientTLS.from_args(parse("--tls", "--ca", str(bogus)))


def test_files_are_read_once(pki: PKI) -> None:
    tls = ClientTLS.from_args(parse("--tls", "--ca", str(pki.ca), "--cert",
                                    str(pki.client.cert), "--key", str(pki.client.key)))
    assert tls is not None
    assert tls.pem() == (pki.ca.read_bytes(), pki.client.key.read_bytes(),
                         pki.client.cert.read_bytes())


class _PeerName(protocol.Protocol):
    """Writes the common name of the client's certificate (or '-') once the handshake is done."""

    def connectionMade(self) -> None:
        self.transport.write(b"")  # forces the handshake along

    def dataReceived(self, data: bytes) -> None:
        cert = self.transport.getPeerCertificate()
        name = cert.get_subject().commonName if cert is not None else "-"
        self.transport.write(name.encode() + b"\n")
        self.transport.loseConnection()


class _Ask(protocol.Protocol):
    def __init__(self) -> None:
        self.answer: defer.Deferred[bytes] = defer.Deferred()
        self.received = b""

    def connectionMade(self) -> None:
        self.transport.write(b"?")

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        if self.received:
            self.answer.callback(self.received)
        else:
            self.answer.errback(reason)


def _mtls_server_options(pki: PKI) -> Any:
    key = pki.server.key.read_bytes()
    cert = pki.server.cert.read_bytes()
    server = ssl.PrivateCertificate.loadPEM(key + cert)
    authority = ssl.Certificate.loadPEM(pki.ca.read_bytes())
    return server.options(authority)  # requires a client certificate signed by the CA


async def _ask(reactor: Any, port: int, tls: ClientTLS) -> bytes:
    endpoint = client_endpoint(reactor, "127.0.0.1", port, tls=tls, timeout=5)
    client = _Ask()
    await endpoint.connect(protocol.Factory.forProtocol(lambda: client))
    return await client.answer


@pytest_twisted.ensureDeferred
async def test_client_certificate_and_private_ca(pki: PKI) -> None:
    from twisted.internet import reactor

    endpoint = SSL4ServerEndpoint(reactor, 0, _mtls_server_options(pki), interface="127.0.0.1")
    port = await endpoint.listen(protocol.Factory.forProtocol(_PeerName))
    try:
        tls = ClientTLS.from_args(parse("--tls", "--ca", str(pki.ca), "--cert",
                                        str(pki.client.cert), "--key", str(pki.client.key)))
        assert tls is not None
        assert await _ask(reactor, port.getHost().port, tls) == pki.client_name.encode() + b"\n"
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_verification_failure_is_one_line(tls_files: TLSFiles) -> None:
    from twisted.internet import reactor

    server = ssl.PrivateCertificate.loadPEM(tls_files.combined.read_bytes())
    endpoint = SSL4ServerEndpoint(reactor, 0, server.options(), interface="127.0.0.1")
    port = await endpoint.listen(protocol.Factory.forProtocol(_PeerName))
    try:
        target = f"127.0.0.1:{port.getHost().port}"
        with pytest.raises(Exception) as raised:  # system trust store: self-signed is refused
            await _ask(reactor, port.getHost().port, ClientTLS())
        text = tls_failure_text(raised.value, target)
        assert text is not None
        assert text.startswith(f"TLS error: certificate verify failed ({target})")
        assert "\n" not in text and "[(" not in text
        # The same certificate named as a CA is trusted:
        trusted = ClientTLS(ca=tls_files.cert.read_bytes())
        assert await _ask(reactor, port.getHost().port, trusted) == b"-\n"
    finally:
        await port.stopListening()


def test_other_failures_are_not_tls() -> None:
    from twisted.internet.error import ConnectionRefusedError

    assert tls_failure_text(ConnectionRefusedError(), "h:1") is None
    assert tls_failure_text(None, "h:1") is None
