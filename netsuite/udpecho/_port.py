"""The listening UDP port of the echo service: batched on Linux, Twisted's own elsewhere.

:class:`BatchEchoPort` is a Twisted UDP ``Port`` (so the reactor, ``stopListening``,
``getHost`` and the protocol's ``transport`` work as usual) whose ``doRead`` reads up to
``batch`` datagrams per ``recvmmsg`` call, applies the protocol's rules to each
(:meth:`EchoProtocol.admit`, in arrival order, counters exact), and answers the admitted ones
with one ``sendmmsg`` call.  Two system calls per readiness event instead of two per datagram
plus the ``recvfrom`` that finds the socket empty.

:func:`listen_echo` picks the port: the batched one when batching is asked for, the system
has it (:func:`netsuite.udpecho._mmsg.available`) and the reactor is a real POSIX reactor;
otherwise ``reactor.listenUDP`` and the protocol's ``datagramReceived``, one datagram at a
time.  Both apply the same rules in the same order.
"""

from __future__ import annotations

import errno
from typing import Any

from twisted.internet import udp
from twisted.internet.interfaces import IListeningPort
from twisted.internet.posixbase import PosixReactorBase
from twisted.logger import Logger

from netsuite.udpecho import _mmsg
from netsuite.udpecho._protocol import EchoProtocol

__all__ = [
    "DEFAULT_BATCH", "RECEIVE_SIZE", "BatchEchoPort", "EchoPort", "batching_possible",
    "listen_echo",
]

log = Logger()

#: Receive buffer per datagram on the unbatched path: larger than any UDP payload, so
#: nothing is truncated and an oversized datagram is seen (and counted) at its real size.
RECEIVE_SIZE = 65536

#: Datagrams read (and answered) per system call by default: 1, Twisted's own path, which
#: measured cheaper per datagram for a few closed-loop clients (docs/benchmarks.md).
DEFAULT_BATCH = 1

#: Full batches read per readiness event at most, so one busy socket cannot starve the
#: rest of the reactor (Twisted's own UDP port stops after 256 KiB for the same reason).
MAX_ROUNDS = 8

#: recvfrom errors after which the socket is simply empty for now (as Twisted's own port).
_READ_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})

#: recvmmsg errors that mean "nothing to read now" rather than a broken socket.
_READ_REFUSED = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})


class BatchEchoPort(udp.Port):
    """A UDP port that reads and answers datagrams in batches for an :class:`EchoProtocol`.

    :param port: the UDP port number to bind (0: the OS chooses).
    :param protocol: the echo protocol whose rules and counters apply.
    :param interface: the address to bind.
    :param batch: datagrams per ``recvmmsg``/``sendmmsg`` call.
    :param reactor: a POSIX reactor.
    """

    def __init__(self, port: int, protocol: EchoProtocol, interface: str, batch: int,
                 reactor: Any) -> None:
        super().__init__(port, protocol, interface=interface, maxPacketSize=RECEIVE_SIZE,
                         reactor=reactor)
        self.batch_size = batch
        self._batch: _mmsg.MessageBatch | None = None
        self._fd = -1

    def startListening(self) -> None:
        """Bind, allocate the batch buffers, start reading."""
        self._bindSocket()
        self._batch = _mmsg.MessageBatch(self.batch_size, self.addressFamily,
                                         self.protocol.reply)
        self._fd = self.socket.fileno()
        self._connectToProtocol()

    def doRead(self) -> None:
        """Read, check and answer datagrams, a batch at a time, until the socket is empty."""
        batch = self._batch
        if batch is None:
            return
        protocol: EchoProtocol = self.protocol
        for _ in range(MAX_ROUNDS):
            try:
                n = batch.receive(self._fd)
            except OSError as error:
                if error.errno in _READ_REFUSED:
                    return
                raise
            if not n:
                return
            self._answer(batch, protocol, n)

    def _answer(self, batch: _mmsg.MessageBatch, protocol: EchoProtocol, n: int) -> None:
        """Apply the rules to received datagrams ``0..n-1`` and send the admitted answers."""
        admit = protocol.admit
        port_of = batch.source_port
        key_of = batch.source_key if protocol.limiter.rate else None
        echo = protocol.reply is None
        last = -1
        for i, size in enumerate(batch.lengths(n)):
            if admit(size, port_of(i), key_of(i) if key_of else None):
                last = i
                if echo:
                    batch.queue_echo(i, size)
                else:
                    batch.queue_reply(i)
        if not batch.queued:
            return
        stats = protocol.stats
        if batch.queued == 1:
            # One answer: sendto costs less than sendmmsg's message-header copies.
            batch.queued = 0
            try:
                self.socket.sendto(batch.data(last) if echo else protocol.reply,
                                   batch.source(last))
            except OSError as error:
                stats.send_failed += 1
                log.debug("udpecho cannot answer: {error}", error=error)
            else:
                stats.answered += 1
            return
        sent, failed = batch.flush(self._fd)
        stats.answered += sent
        if failed:
            stats.send_failed += len(failed)
            log.debug("udpecho cannot answer {n} datagrams: errno {codes}", n=len(failed),
                      codes=sorted(set(failed)))

    def connectionLost(self, reason: Any = None) -> None:
        self._batch = None
        self._fd = -1
        super().connectionLost(reason)


class EchoPort(udp.Port):
    """Twisted's UDP port with a ``doRead`` specialised for :class:`EchoProtocol`.

    One ``recvfrom`` and one ``sendto`` per datagram, as Twisted's own port, but the rules are
    applied inline (:meth:`EchoProtocol.admit`) instead of through ``datagramReceived``: no
    per-datagram protocol dispatch, exception wrapper or address-family test.
    """

    def doRead(self) -> None:
        """Read, check and answer datagrams one by one until the socket is empty."""
        protocol: EchoProtocol = self.protocol
        admit, stats, reply = protocol.admit, protocol.stats, protocol.reply
        recvfrom, sendto = self.socket.recvfrom, self.socket.sendto
        limit = self.maxThroughput
        read = 0
        while read < limit:
            try:
                data, addr = recvfrom(RECEIVE_SIZE)
            except OSError as error:
                if error.errno in _READ_AGAIN or error.errno in _READ_REFUSED:
                    return
                raise
            size = len(data)
            read += size
            if admit(size, addr[1], addr[0]):
                try:
                    sendto(data if reply is None else reply, addr)
                except OSError as error:
                    stats.send_failed += 1
                    log.debug("udpecho cannot answer {addr}: {error}", addr=addr, error=error)
                else:
                    stats.answered += 1


def batching_possible(reactor: Any) -> bool:
    """True when ``reactor`` can drive a :class:`BatchEchoPort` on this system."""
    return isinstance(reactor, PosixReactorBase) and _mmsg.available()


def listen_echo(reactor: Any, port: int, protocol: EchoProtocol, interface: str,
                batch: int = DEFAULT_BATCH) -> IListeningPort:
    """Listen for the echo protocol: batched when ``batch > 1`` and possible, else one by one.

    On a POSIX reactor the one-by-one port is :class:`EchoPort`; on any other reactor it is
    the reactor's own ``listenUDP`` port and ``datagramReceived``.  Raises what
    ``listenUDP`` raises (``CannotListenError``) when the address cannot be bound.
    """
    listening: udp.Port
    if batch > 1 and batching_possible(reactor):
        listening = BatchEchoPort(port, protocol, interface, batch, reactor)
    elif isinstance(reactor, PosixReactorBase):
        listening = EchoPort(port, protocol, interface=interface, maxPacketSize=RECEIVE_SIZE,
                             reactor=reactor)
    else:
        return reactor.listenUDP(port, protocol, interface=interface,
                                 maxPacketSize=RECEIVE_SIZE)
    listening.startListening()
    return listening
