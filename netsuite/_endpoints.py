"""Endpoint helpers shared by every netsuite service and client.

Servers take Twisted endpoint descriptions (``tcp:8086``, ``ssl:8443:privateKey=...``,
``tcp6:8086``, ``unix:/path``); a bare number means ``tcp:NUMBER`` and ``none`` turns a
listener off.  :class:`ListenerService` listens when the service starts, logs the address
actually bound (so ``tcp:0`` reports the port the OS chose) and stops listening when the
service stops.  Clients name their peer as ``HOST:PORT`` or ``[V6]:PORT``; see
:func:`parse_host_port` and :func:`client_endpoint`.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, serverFromString, wrapClientTLS
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IStreamClientEndpoint,
)
from twisted.logger import Logger

from netsuite._tls import ClientTLS
from netsuite._twistd import cannot_listen

__all__ = [
    "ListenerService",
    "TargetError",
    "check_description",
    "client_endpoint",
    "describe_address",
    "describe_connect_failure",
    "format_host_port",
    "listen_description",
    "listen_option",
    "optional_listen_description",
    "parse_host_port",
    "resolve_listener",
    "with_backlog",
]

log = Logger()


class TargetError(ValueError):
    """A client target (``HOST:PORT``) that cannot be parsed."""


def listen_description(value: str) -> str:
    """Normalise and check a listener option: a bare port number becomes ``tcp:NUMBER``.

    Raises :class:`ValueError` for an empty value, a port outside 0-65535 or a description
    that does not parse (see :func:`check_description`), so ``usage.Options`` reports it as
    a usage error.
    """
    description = _normalise(value)
    if not value.strip().isdigit():
        check_description(description)
    return description


def _normalise(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("an endpoint description is required (e.g. tcp:8086 or 8086)")
    if value.isdigit():
        port = int(value)
        if port > 65535:
            raise ValueError(f"port {port} is out of range 0-65535")
        return f"tcp:{port}"
    if ":" not in value:
        raise ValueError(f"{value!r} is not an endpoint description (e.g. tcp:8086)")
    return value


def check_description(description: str) -> None:
    """Parse ``description`` as :meth:`ListenerService.startService` will, without listening.

    Raises :class:`ValueError` with a one-line reason for an unknown endpoint type, a bad
    parameter, a port out of range or a key or certificate file that cannot be read, so
    these are usage errors of the option rather than failures at start-up.  The parse runs
    against a :class:`~twisted.internet.testing.MemoryReactor`: nothing is bound and the
    global reactor is not imported (twistd has not installed it yet).
    """
    from twisted.internet.testing import MemoryReactor

    from netsuite._twistd import failure_text

    try:
        endpoint = serverFromString(MemoryReactor(), description)
    except Exception as e:
        reason = failure_text(e)
        if reason.startswith("Unknown endpoint type"):
            kind = description.split(":", 1)[0]
            reason = f"unknown endpoint type {kind!r} (tcp, tcp6, ssl, mtls, unix...)"
        raise ValueError(f"{description}: {reason}") from None
    port = getattr(endpoint, "_port", None)
    if isinstance(port, int) and not 0 <= port <= 65535:
        raise ValueError(f"{description}: port {port} is out of range 0-65535")


listen_description.coerceDoc = (  # type: ignore[attr-defined]
    "An endpoint description (tcp:PORT, ssl:PORT:privateKey=..., unix:PATH), or a bare port."
)


def optional_listen_description(value: str) -> str | None:
    """Like :func:`listen_description`, but ``none`` (any case) turns the listener off."""
    if value.strip().lower() == "none":
        return None
    return listen_description(value)


optional_listen_description.coerceDoc = (  # type: ignore[attr-defined]
    listen_description.coerceDoc + " 'none' turns this listener off."  # type: ignore[attr-defined]
)


def listen_option(value: str) -> str:
    """A listener option's coercion that checks the value but keeps it as written.

    A bare port stays a bare port (so :func:`resolve_listener` can bind it to
    ``--interface``) and ``none`` stays ``none``; anything else must be a description.
    """
    value = value.strip()
    if value.lower() != "none":
        listen_description(value)
    return value


listen_option.coerceDoc = optional_listen_description.coerceDoc  # type: ignore[attr-defined]


def resolve_listener(value: str, interface: str | None = None) -> str | None:
    """The endpoint description to listen on for a listener option and ``--interface``.

    ``none`` is ``None`` (listener off); a bare port ``N`` is ``tcp:N``, bound to
    ``interface`` when one is given (IPv6 addresses escaped as descriptions require); a
    full description keeps its own interface, whatever ``interface`` says.
    """
    value = value.strip()
    if value.lower() == "none":
        return None
    description = _normalise(value)
    if interface and value.isdigit():
        escaped = interface.replace("\\", "\\\\").replace(":", "\\:")
        description = f"{description}:interface={escaped}"
    return description


#: Twisted's default listen backlog (50) drops SYNs in a connect storm (each retried by the
#: client only after a second or more); our servers expect storms, so stream listeners get this.
DEFAULT_BACKLOG = 1024


def with_backlog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """``description`` with ``backlog=N`` added to a tcp/tcp6/ssl/mtls endpoint lacking one."""
    kind = description.split(":", 1)[0].lower()
    if kind in ("tcp", "tcp6", "ssl", "mtls") and ":backlog=" not in description:
        return f"{description}:backlog={backlog}"
    return description


def describe_address(address: Any) -> str:
    """Render a listening or peer address for logs: ``HOST:PORT``, ``[V6]:PORT`` or a path."""
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return format_host_port(host, port)
    name = getattr(address, "name", None)
    if name is not None:
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    return str(address)


def describe_connect_failure(error: BaseException, timeout: float | None = None) -> str:
    """Why connecting (or a connection) failed, in the words every client prints:
    ``timed out`` (``timed out after N s`` when ``timeout`` is given), ``connection
    refused``, ``cannot resolve host name``, else the error's first line."""
    from twisted.internet import error as neterror

    if isinstance(error, defer.TimeoutError | neterror.TimeoutError | defer.CancelledError
                  | neterror.ConnectingCancelledError):  # a timeout cancels the connect
        return "timed out" if timeout is None else f"timed out after {timeout:g} s"
    if isinstance(error, neterror.ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, neterror.DNSLookupError):
        return "cannot resolve host name"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def format_host_port(host: str, port: int) -> str:
    """``HOST:PORT``, with IPv6 literals in brackets."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def parse_host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[V6]:PORT`` (or a bare host, given a default port).

    Raises :class:`TargetError` with a message fit for a user.
    """
    text = text.strip()
    if not text:
        raise TargetError("empty target; expected HOST:PORT")
    if "://" in text:
        raise TargetError(f"{text!r}: expected HOST:PORT, not a URL")
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise TargetError(f"{text!r}: missing ']' after IPv6 address")
        host, rest = text[1:close], text[close + 1 :]
        if not host:
            raise TargetError(f"{text!r}: empty IPv6 address")
        if rest == "" and default_port is not None:
            return host, default_port
        if not rest.startswith(":"):
            raise TargetError(f"{text!r}: expected [V6]:PORT")
        port_text = rest[1:]
    else:
        if text.count(":") > 1:
            raise TargetError(f"{text!r}: put IPv6 addresses in brackets, as [::1]:PORT")
        host, sep, port_text = text.partition(":")
        if not sep:
            if default_port is None:
                raise TargetError(f"{text!r}: expected HOST:PORT")
            return text, default_port
        if not host:
            raise TargetError(f"{text!r}: empty host")
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise TargetError(f"{text!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def client_endpoint(
    reactor: Any,
    host: str,
    port: int,
    *,
    tls: bool | ClientTLS | None = False,
    insecure: bool = False,
    timeout: float = 30,
) -> IStreamClientEndpoint:
    """A TCP (or TLS) client endpoint for ``host:port``, IPv4 or IPv6.

    ``tls`` is a :class:`netsuite._tls.ClientTLS` (CAs, client certificate, verification),
    or ``True`` for the system trust store and ``host`` (not verified with ``insecure``).
    """
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if isinstance(tls, ClientTLS):
        endpoint = wrapClientTLS(tls.creator(host), endpoint)
    elif tls:
        endpoint = wrapClientTLS(tls_client_options(host, insecure=insecure), endpoint)
    return endpoint


def tls_client_options(host: str, *, insecure: bool = False) -> Any:
    """Client TLS options: verified against the platform trust store, or not at all."""
    from twisted.internet import ssl

    if insecure:
        return ssl.CertificateOptions(verify=False)
    return ssl.optionsForClientTLS(host)


class ListenerService(Service):
    """Listen on an endpoint description while the service runs.

    tcp/tcp6/ssl listeners get a listen backlog of 1024 unless the description sets one.
    The bound address is logged once listening (``{name} listening on HOST:PORT``), so
    ``tcp:0`` tells the operator the port the OS chose.  A failure to listen is raised
    from :meth:`startService` when the endpoint fails at once (a port in use under
    ``twistd`` stops start-up with a clear error); :attr:`whenListening` fires with the
    :class:`IListeningPort` or the failure.
    """

    def __init__(
        self,
        description: str,
        factory: IProtocolFactory,
        label: str,
        reactor: IReactorCore | None = None,
    ) -> None:
        #: The description as given (for messages); ``description`` is what is listened on.
        self.given = description.strip()
        self.description = with_backlog(_normalise(description))
        self.factory = factory
        self.label = label
        self._reactor = reactor
        self.port: IListeningPort | None = None
        self.whenListening: defer.Deferred[IListeningPort] = defer.Deferred()

    def _get_reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def startService(self) -> None:
        super().startService()
        try:
            endpoint = serverFromString(self._get_reactor(), self.description)
            listening = endpoint.listen(self.factory)
        except Exception as e:  # a bad description or file (when not checked as an option)
            listening = defer.fail(e)
        failures: list[Any] = []

        def listened(port: IListeningPort) -> IListeningPort:
            self.port = port
            log.info(
                "{label} listening on {address} ({description})",
                label=self.label,
                address=describe_address(port.getHost()),
                description=self.description,
            )
            self.whenListening.callback(port)
            return port

        def failed(failure: Any) -> None:
            error = cannot_listen(self.label, self.given, failure.value)  # logs one line
            failures.append(error)
            if starting:  # raised below: twistd exits with status 1
                self.whenListening.addErrback(lambda _: None)
            self.whenListening.errback(failure)

        starting = True
        listening.addCallbacks(listened, failed)
        starting = False
        if failures:
            raise failures[0]

    def stopService(self) -> defer.Deferred[None] | None:
        super().stopService()
        if self.port is None:
            return None
        port, self.port = self.port, None
        return defer.maybeDeferred(port.stopListening)
