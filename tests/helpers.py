"""Test helpers shared by every service's tests: TLS material and twistd subprocesses."""

from __future__ import annotations

import datetime
import ipaddress
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import attrs


def has_ipv6() -> bool:
    """Whether this machine can bind the IPv6 loopback address ``::1``."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


TWISTD = str(Path(sys.executable).with_name("twistd"))
LISTENING = re.compile(r"(?P<label>\S+) listening on (?P<host>\[[^\]]+\]|[^\s:]+):(?P<port>\d+)")


@attrs.frozen
class TLSFiles:
    """A throwaway self-signed certificate: ``key`` and ``cert`` PEM files, and both in one."""

    key: Path
    cert: Path
    combined: Path

    def server_description(self, port: int = 0, interface: str = "127.0.0.1") -> str:
        """An ``ssl:`` endpoint description using this certificate."""
        return f"ssl:{port}:interface={interface}:privateKey={self.key}:certKey={self.cert}"


def make_self_signed(
    directory: Path, hosts: Iterable[str] = ("localhost", "127.0.0.1", "::1")
) -> TLSFiles:
    """Write a self-signed certificate valid for ``hosts`` (names and IP literals)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netsuite test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    files = TLSFiles(directory / "key.pem", directory / "cert.pem", directory / "combined.pem")
    files.key.write_bytes(key_pem)
    files.cert.write_bytes(cert_pem)
    files.combined.write_bytes(key_pem + cert_pem)
    return files


@attrs.frozen
class PKI:
    """A throwaway CA with a server and a client certificate it signed (for mutual TLS).

    ``ca`` is the CA certificate (PEM file); ``server`` is valid for localhost, 127.0.0.1 and
    ::1; ``client`` is a client certificate whose common name is ``client_name``.
    """

    ca: Path
    server: TLSFiles
    client: TLSFiles
    client_name: str

    def mtls_description(self, port: int = 0, interface: str = "127.0.0.1") -> str:
        """An ``mtls:`` endpoint description requiring a client certificate from this CA."""
        return (f"mtls:{port}:interface={interface}:privateKey={self.server.key}"
                f":certKey={self.server.cert}:caCerts={self.ca}")


def make_pki(directory: Path, client_name: str = "alice") -> PKI:
    """Write a CA, a server certificate and a client certificate signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netsuite test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)

    def issue(stem: str, common_name: str, names: list[x509.GeneralName],
              usage: x509.ObjectIdentifier) -> TLSFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        files = TLSFiles(directory / f"{stem}-key.pem", directory / f"{stem}-cert.pem",
                         directory / f"{stem}.pem")
        files.key.write_bytes(key_pem)
        files.cert.write_bytes(cert_pem)
        files.combined.write_bytes(key_pem + cert_pem)
        return files

    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server = issue("server", "localhost",
                   [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1"))],
                   ExtendedKeyUsageOID.SERVER_AUTH)
    client = issue("client", client_name, [], ExtendedKeyUsageOID.CLIENT_AUTH)
    return PKI(ca_path, server, client, client_name)


class TwistdProcess:
    """``twistd -n --pidfile= PLUGIN ARGS...`` as a subprocess, its log read line by line.

    Use as a context manager; :meth:`wait_for` waits (with a timeout) for a log line
    matching a pattern, :meth:`port` for a listener's bound port (from the
    ``LABEL listening on HOST:PORT`` line every netsuite listener logs).
    """

    def __init__(self, plugin: str, *args: str, extra_twistd: Iterable[str] = (),
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.argv = [TWISTD, "-n", "--pidfile=", *extra_twistd, plugin, *args]
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._ports: dict[str, int] = {}
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, cwd=cwd, env=env if env is not None else dict(os.environ),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """The first log line (seen so far or still to come) that matches ``pattern``."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no log line matching {pattern!r}; log so far:\n" + self.log)
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"twistd exited ({self.process.wait()}); log:\n" + self.log)
            self.lines.append(line)
            if match := regex.search(line):
                return match

    def port(self, label: str, timeout: float = 20) -> int:
        """The port the listener labelled ``label`` bound (waits for its log line)."""
        match = self.wait_for(rf"{re.escape(label)} listening on \S+:(\d+)", timeout)
        return int(match.group(1))

    @property
    def log(self) -> str:
        """Every log line read so far."""
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig``, wait for exit, drain the log; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    def __enter__(self) -> TwistdProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
