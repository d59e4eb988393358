"""The connection behaviour shared by the stream RPC transports (AMP, JSON-RPC, gob).

Clients pipeline small calls on these transports, so two things matter on every connection:
answers go out as soon as they are written (TCP_NODELAY -- with Nagle's algorithm the answers
to pipelined calls wait for the peer's delayed ACK, up to 40 ms), and a client that does not
read its answers stops having its requests read (the protocol registers itself as a
streaming producer on its own transport and passes pause/resume through to reading), so the
server never buffers answers without bound.

A connection is in one :attr:`~PacedProtocol.state`: ``open``; ``draining`` once asked to
:meth:`~IGracefulClose.graceful_close` (shutdown: no new requests, close once the ones
received are answered); ``closed`` once it is going away (from either side).

Calls in flight: a transport hands every call that did not finish at once (the Deferred
of :meth:`~netsuite.rpc.Registry.start`, after adding its own answer callbacks) to
:meth:`~PacedProtocol.track`.  At most :attr:`~PacedProtocol.max_inflight` run at once:
before starting the next request a transport asks :meth:`~PacedProtocol.may_start`; when
it says no, the transport keeps the rest of its input (it says so with
:attr:`~PacedProtocol.queued`), and the base class stops reading the connection until a
call ends, then calls :meth:`~PacedProtocol.resume_requests` so the transport goes on.
When the connection closes, every call still running is cancelled.  Half-close: after
the client shuts its write side, every complete request received is answered, then the
connection closes (as Go's servers do).

Answers: a transport writes the answers ready at the end of one read with
:meth:`~PacedProtocol.send_answers`.  On a plain TCP (or UNIX) connection with nothing
waiting in its send buffer they go to the socket at once -- one ``send``, where
``transport.write`` would wait for the next reactor turn and switch the socket's write
interest on and off again (two ``epoll_ctl``); what the socket does not take, and every
other transport (TLS, tests), goes through ``transport.write`` as usual, so ordering and
back-pressure are unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.tcp import Connection
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from netsuite._endpoints import describe_address
from netsuite.rpc._registry import CallContext
from netsuite.rpc._sendnow import send_at_once, socket_connection

__all__ = [
    "CLOSED",
    "DEFAULT_MAX_INFLIGHT",
    "DRAINING",
    "OPEN",
    "IGracefulClose",
    "PacedProtocol",
    "context_of",
    "set_no_delay",
]

#: The states of a connection (:attr:`PacedProtocol.state`).
OPEN: Final = "open"
DRAINING: Final = "draining"
CLOSED: Final = "closed"

log = Logger()

#: Calls that may run at once on one connection (``--max-inflight``).
DEFAULT_MAX_INFLIGHT: Final = 100


def context_of(label: str, transport: Any) -> CallContext:
    """The :class:`CallContext` of calls arriving on ``transport``: ``label`` names the wire,
    the peer is ``HOST:PORT``, the certificate the client's under mutual TLS (else None)."""
    certificate = None
    get = getattr(transport, "getPeerCertificate", None)
    if get is not None:
        try:
            x509 = get()
        except Exception:  # not TLS, or no handshake yet
            x509 = None
        if x509 is not None:
            certificate = x509.to_cryptography()
    return CallContext(label, describe_address(transport.getPeer()), certificate)


def set_no_delay(transport: Any) -> None:
    """Turn on TCP_NODELAY where the transport is TCP (a UNIX socket or test transport: no-op)."""
    try:
        transport.setTcpNoDelay(True)
    except (AttributeError, NotImplementedError, OSError):
        pass


class IGracefulClose(Interface):
    """A server connection that can finish its work before a shutdown closes it."""

    state = Attribute("``open``, ``draining`` (graceful_close was called) or ``closed``.")

    def graceful_close() -> None:
        """Stop taking new requests; close once every request already received is
        answered (at once if there is none)."""


@implementer(IPushProducer, IGracefulClose, IHalfCloseableProtocol)
class PacedProtocol(Protocol):
    """A protocol that reads only while its client reads the answers and while fewer than
    :attr:`max_inflight` calls run (see module docstring).

    :attr:`peer` is the client's address (``HOST:PORT``) once connected; :attr:`label`
    names the transport in log lines and in :class:`CallContext`.  Subclasses that
    override ``connectionMade`` call ``super().connectionMade()``.
    """

    label = "rpc"
    peer = "?"
    state: str = OPEN
    #: Most calls running at once on this connection (the factory may set it per protocol).
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    #: The calls running now (Deferreds given to :meth:`track`).
    running: set[Deferred[Any]]
    #: The client shut its write side (half-close): finish, then close.
    input_ended = False
    #: Draining, the last request was taken (see :meth:`take_no_more`).
    took_last = False
    _write_paused = False  # the transport's send buffer is full
    _held = False  # too many calls running: reading stopped until one ends
    _context: CallContext | None = None
    _socket: Connection | None = None  # the connection send_answers may write to at once

    def connectionMade(self) -> None:
        self.running = set()
        self._socket = socket_connection(self.transport)
        self.peer = describe_address(self.transport.getPeer())
        self.transport.registerProducer(self, True)
        set_no_delay(self.transport)
        log.debug("{label}: connection from {peer}", label=self.label, peer=self.peer)

    @property
    def call_context(self) -> CallContext:
        """The :class:`CallContext` of this connection's calls (built once, on first use)."""
        if self._context is None:
            self._context = context_of(self.label, self.transport)
        return self._context

    def send_answers(self, data: bytes) -> None:
        """Write ``data`` (answers): at once to the socket when nothing is waiting to be
        sent, else (and the part the socket does not take) with ``transport.write``."""
        send_at_once(self._socket, self.transport, data)

    # Calls in flight.
    def may_start(self) -> bool:
        """Whether another call may start now; if not, stop reading until one ends (the
        transport keeps its remaining input and says so with :attr:`queued`)."""
        if len(self.running) < self.max_inflight:
            return True
        if not self._held:
            self._held = True
            self.transport.pauseProducing()
        return False

    def track(self, call: Deferred[Any]) -> None:
        """Count ``call`` (a running call, its answer callbacks added) until it fires;
        cancel it if the connection closes first."""
        if self.state == CLOSED:  # closed while the call was starting
            call.cancel()
            return
        self.running.add(call)
        call.addBoth(self._call_ended, call)

    def _call_ended(self, result: Any, call: Deferred[Any]) -> None:
        self.running.discard(call)
        if self.state == CLOSED:
            return None
        if self._held and len(self.running) < self.max_inflight:
            self._held = False
            self.resume_requests()
            if (self.state != CLOSED and not self._held and not self._write_paused
                    and not self.input_ended):
                self.transport.resumeProducing()
        self.finish_if_done()
        return None

    @property
    def queued(self) -> bool:
        """Whether complete requests are kept, waiting for a call to end (subclasses that
        keep input say so)."""
        return False

    def resume_requests(self) -> None:
        """A call ended while requests were kept: go on with them (subclasses)."""

    def finish_if_done(self) -> None:
        """Close if draining or half-closed and nothing is left to answer."""
        if ((self.state == DRAINING or self.input_ended) and self.state != CLOSED
                and not self.running and not self.queued
                and (self.input_ended or self.took_last or not self.partial)):
            self.close()

    def take_no_more(self) -> None:
        """Draining: the request just taken was the last; what else arrives is not read."""
        self.took_last = True

    # IHalfCloseableProtocol: the client shut its write side.
    def readConnectionLost(self) -> None:
        self.input_ended = True
        self.finish_if_done()

    def writeConnectionLost(self) -> None:
        """Our write side is gone: nothing can be answered any more."""
        self.close()

    # IPushProducer: the transport tells us when its send buffer is full / drained.
    def pauseProducing(self) -> None:
        self._write_paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self._write_paused = False
        if self.state != CLOSED and not self._held and not self.input_ended:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self._enter_closed()  # the transport is going away

    # The connection's state.
    @property
    def partial(self) -> bool:
        """Whether part of a request has been received (a subclass that buffers says so)."""
        return False

    def graceful_close(self) -> None:
        """Shutdown: stop taking requests; close once the one being received and the calls
        running are answered."""
        if self.state != OPEN:
            return
        self.state = DRAINING
        self.finish_if_done()

    def close(self) -> None:
        """Close from our side: stop reading; the answers already written are still sent."""
        self._enter_closed()
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._enter_closed()

    def _enter_closed(self) -> None:
        if self.state != CLOSED:
            self.state = CLOSED
            running = getattr(self, "running", None)
            if running:
                for call in list(running):
                    call.cancel()
            self.closed()

    def closed(self) -> None:
        """Called once, when the connection enters ``closed``: release what it holds."""
