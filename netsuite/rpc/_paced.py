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
"""

from __future__ import annotations

from typing import Any, Final

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from netsuite._endpoints import describe_address

__all__ = ["CLOSED", "DRAINING", "OPEN", "IGracefulClose", "PacedProtocol", "set_no_delay"]

#: The states of a connection (:attr:`PacedProtocol.state`).
OPEN: Final = "open"
DRAINING: Final = "draining"
CLOSED: Final = "closed"

log = Logger()


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


@implementer(IPushProducer, IGracefulClose)
class PacedProtocol(Protocol):
    """A protocol that reads only while its client reads the answers (see module docstring).

    :attr:`peer` is the client's address (``HOST:PORT``) once connected; :attr:`label`
    names the transport in log lines.  Subclasses that override ``connectionMade`` call
    ``super().connectionMade()``.
    """

    label = "rpc"
    peer = "?"
    state: str = OPEN

    def connectionMade(self) -> None:
        self.peer = describe_address(self.transport.getPeer())
        self.transport.registerProducer(self, True)
        set_no_delay(self.transport)
        log.debug("{label}: connection from {peer}", label=self.label, peer=self.peer)

    # IPushProducer: the transport tells us when its send buffer is full / drained.
    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        if self.state != CLOSED:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self._enter_closed()  # the transport is going away

    # The connection's state.
    @property
    def partial(self) -> bool:
        """Whether part of a request has been received (a subclass that buffers says so)."""
        return False

    def graceful_close(self) -> None:
        """Shutdown: stop taking requests; close once the one being received is answered."""
        if self.state != OPEN:
            return
        self.state = DRAINING
        if not self.partial:
            self.close()

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
            self.closed()

    def closed(self) -> None:
        """Called once, when the connection enters ``closed``: release what it holds."""
