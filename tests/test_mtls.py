"""``mtls:`` listeners: a client certificate from the given CAs is required.

Parsing is unit-tested; the handshake is tested with real ``twistd tcplog`` and the real
``netsuite send`` client: with a certificate from the CA it works; without one, or with one
from another CA, the handshake is refused and the server logs no line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netsuite._endpoints import listen_description, with_backlog
from netsuite._mtls import MutualTLS, parse_mtls
from tests.helpers import PKI, TwistdProcess, make_pki

NETSUITE = str(Path(sys.executable).with_name("netsuite"))


def test_parse_mtls() -> None:
    parsed = parse_mtls(r"mtls:8443:privateKey=k.pem:certKey=c.pem:caCerts=ca.pem"
                        r":interface=\:\:1")
    assert parsed == MutualTLS(8443, "::1", "k.pem", "c.pem", "ca.pem")
    port, interface, key, cert, ca = parsed
    assert (port, interface, key, cert, ca) == (8443, "::1", "k.pem", "c.pem", "ca.pem")
    assert parse_mtls("0:privateKey=both.pem:caCerts=ca.pem").cert == "both.pem"
    assert parse_mtls("mtls:port=7:privateKey=k:caCerts=c:backlog=9").port == 7


@pytest.mark.parametrize("description, message", [
    ("mtls:8443:privateKey=k.pem", "caCerts"),
    ("mtls:8443:caCerts=ca.pem", "privateKey"),
    ("mtls:privateKey=k.pem:caCerts=ca.pem", "one port"),
    ("mtls:http:privateKey=k.pem:caCerts=ca.pem", "must be numbers"),
    ("mtls:1:privateKey=k.pem:caCerts=ca.pem:backlog=many", "must be numbers"),
    ("mtls:70000:privateKey=k.pem:caCerts=ca.pem", "out of range"),
    ("mtls:1:privateKey=k.pem:caCerts=ca.pem:colour=red", "unknown parameter 'colour'"),
])
def test_parse_mtls_refuses(description: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mtls(description)


def test_listener_option_checks_the_files(pki: PKI, tmp_path: Path) -> None:
    """A listener option parses ``mtls:`` (the dropin) and reads its files at once."""
    good = pki.mtls_description()
    assert listen_description(good) == good
    assert with_backlog(good).endswith(":backlog=1024")
    missing = tmp_path / "no-ca.pem"
    with pytest.raises(ValueError, match=f"{missing}: no such file or directory"):
        listen_description(good.replace(str(pki.ca), str(missing)))
    with pytest.raises(ValueError, match="no PEM certificate"):
        listen_description(good.replace(str(pki.ca), str(pki.server.key)))


def send(port: int, *tls: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NETSUITE, "send", f"127.0.0.1:{port}", "--tls", *tls],
                          input="hello from a client\n", capture_output=True, text=True,
                          timeout=60)


def test_tcplog_requires_a_client_certificate(pki: PKI, tmp_path: Path) -> None:
    stranger = make_pki(tmp_path / "other-ca", client_name="mallory")
    with TwistdProcess("tcplog", "--port", pki.mtls_description(), cwd=tmp_path) as server:
        port = server.port("tcplog")
        ca = ["--ca", str(pki.ca)]

        refused = send(port, *ca)  # no client certificate
        assert refused.returncode == 1, refused
        assert refused.stderr.startswith("netsuite send: TLS error: "), refused.stderr
        assert len(refused.stderr.splitlines()) == 1, refused.stderr
        if "certificate required" in refused.stderr:  # TLS 1.3 says why; 1.2 just fails
            assert refused.stderr.endswith(
                "(the server requires a client certificate: --cert FILE --key FILE)\n")

        foreign = send(port, *ca, "--cert", str(stranger.client.cert),
                       "--key", str(stranger.client.key))
        assert foreign.returncode == 1, foreign
        assert foreign.stderr.startswith("netsuite send: TLS error: "), foreign.stderr

        accepted = send(port, *ca, "--cert", str(pki.client.cert), "--key", str(pki.client.key))
        assert accepted.returncode == 0, accepted
        assert accepted.stdout == "sent 20 bytes\n"
        server.wait_for(r"127\.0\.0\.1:\d+: hello from a client$")
    assert server.log.count("hello from a client") == 1, server.log  # only the accepted one
