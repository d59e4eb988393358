"""``twistd udpecho``: options and the service that owns the UDP port."""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python import usage

from netsuite._endpoints import describe_address, format_host_port
from netsuite._metrics import metrics_option, udpecho_collectors, with_metrics
from netsuite._options import non_negative_float, non_negative_int, positive_int
from netsuite._twistd import cannot_listen
from netsuite.udpecho._port import DEFAULT_BATCH, listen_echo
from netsuite.udpecho._protocol import DEFAULT_MAX_SIZE, EchoProtocol, Stats, format_stats
from netsuite.udpecho._ratelimit import DEFAULT_MAX_SOURCES, RateLimiter

__all__ = ["Options", "UDPEchoService", "makeService"]

log = Logger()


def udp_port(value: str) -> int:
    """A UDP port number, 0-65535 (0: the OS chooses)."""
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return port


udp_port.coerceDoc = "A port number, 0-65535 (0: the OS chooses)."  # type: ignore[attr-defined]


def ip_interface(value: str) -> str:
    """An IPv4 or IPv6 address literal to bind (``::`` for every IPv6 and IPv4 address)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::)") from None


ip_interface.coerceDoc = "An IP address: 127.0.0.1, 0.0.0.0, ::1 or ::."  # type: ignore[attr-defined]


def max_size(value: str) -> int:
    """A datagram size in bytes, 1-65535."""
    size = positive_int(value)
    if size > 65535:
        raise ValueError(f"{size} is larger than any UDP datagram (65535)")
    return size


max_size.coerceDoc = "Bytes, 1-65535."  # type: ignore[attr-defined]


class Options(usage.Options):
    """Command-line options of ``twistd udpecho``."""

    synopsis = "[options]"
    longdesc = (
        "UDP echo server (RFC 862) that cannot be used for amplification: replies are never "
        "larger than requests (unless --reply), rate-limited per source address, and never "
        "sent to source ports 0, 7, 13, 17, 19."
    )
    optParameters = [
        ["port", "p", 8023, "UDP port to listen on (0: the OS chooses).", udp_port],
        ["interface", "i", "127.0.0.1", "Address to bind ('::' for IPv6 and IPv4).",
         ip_interface],
        ["reply", "r", None, "Answer every datagram with this text instead of an echo."],
        ["max-size", None, DEFAULT_MAX_SIZE, "Largest datagram answered, in bytes.", max_size],
        ["rate", None, 1000, "Answers per second per source IP address (0: no limit).",
         non_negative_int],
        ["max-sources", None, DEFAULT_MAX_SOURCES,
         "Most source addresses rate-tracked at once; more share one budget.", positive_int],
        ["stats-interval", None, 0.0, "Log the counters every this many seconds (0: only at "
         "shutdown).", non_negative_float],
        ["batch", None, DEFAULT_BATCH, "Datagrams read and answered per system call "
         "(recvmmsg/sendmmsg on Linux; 1: one at a time).", positive_int],
        metrics_option(),
    ]


class UDPEchoService(MultiService):
    """Listen on a UDP port while running; log the counters periodically and at shutdown.

    Attributes: ``stats`` (:class:`Stats`: ``received``, ``answered``, ``dropped_size``,
    ``dropped_rate``, ``dropped_port``, ``send_failed``), ``protocol``, ``limiter`` and,
    while running, ``port`` (the :class:`IListeningPort`).  It is a ``MultiService``, so
    helpers (a metrics endpoint, say) can be added as children.
    """

    name = "udpecho"

    def __init__(
        self,
        protocol: EchoProtocol,
        port: int = 8023,
        interface: str = "127.0.0.1",
        stats_interval: float = 0.0,
        reactor: Any = None,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self.protocol = protocol
        self.stats: Stats = protocol.stats
        self.limiter = protocol.limiter
        self.port_number = port
        self.interface = interface
        self.stats_interval = stats_interval
        self.batch = batch
        self._reactor = reactor
        super().__init__()
        self.port: IListeningPort | None = None
        self._stats_loop: task.LoopingCall | None = None

    def _get_reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def startService(self) -> None:
        reactor = self._get_reactor()
        try:
            self.port = listen_echo(reactor, self.port_number, self.protocol,
                                    self.interface, self.batch)
        except Exception as e:  # in use, or not an address of this host: one line, exit 1
            where = format_host_port(self.interface, self.port_number)
            raise cannot_listen("udpecho", f"udp {where}", e) from None
        super().startService()
        batched = getattr(self.port, "batch_size", 1)
        log.info("udpecho listening on {address} (udp, {how})",
                 address=describe_address(self.port.getHost()),
                 how=f"batches of {batched}" if batched > 1 else "one datagram per call")
        if self.stats_interval:
            self._stats_loop = task.LoopingCall(self.log_stats)
            self._stats_loop.clock = reactor
            self._stats_loop.start(self.stats_interval, now=False)

    def log_stats(self) -> None:
        """Log the one-line summary of the counters."""
        log.info("{line}", line=format_stats(self.stats))
        if self.stats.send_failed:
            log.warn("udpecho replies the kernel refused to send: {n}", n=self.stats.send_failed)

    def stopService(self) -> Any:
        children = super().stopService()
        if self._stats_loop is not None and self._stats_loop.running:
            self._stats_loop.stop()
        self._stats_loop = None
        port, self.port = self.port, None
        if port is None:
            return children
        stopped = defer.maybeDeferred(port.stopListening)
        self.log_stats()
        return defer.gatherResults([children, stopped]).addCallback(lambda _: None)


def makeService(options: usage.Options | dict[str, Any], reactor: Any = None) -> UDPEchoService:
    """Build the udpecho service from parsed options (``reactor`` for tests)."""
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    reply = options["reply"]
    protocol = EchoProtocol(
        RateLimiter(options["rate"], reactor, options["max-sources"]),
        reply=None if reply is None else reply.encode("utf-8"),
        max_size=options["max-size"],
    )
    service = UDPEchoService(
        protocol, port=options["port"], interface=options["interface"],
        stats_interval=options["stats-interval"], reactor=reactor,
        batch=options.get("batch", DEFAULT_BATCH),
    )
    return with_metrics(service, options.get("metrics"), udpecho_collectors(service), reactor)
