"""The connection behaviour shared by the stream RPC transports (AMP, JSON-RPC, gob).

Clients pipeline small calls on these transports, so two things matter on every connection:
answers go out as soon as they are written (TCP_NODELAY -- with Nagle's algorithm the answers
to pipelined calls wait for the peer's delayed ACK, up to 40 ms), and a client that does not
read its answers stops having its requests read (the protocol registers itself as a
streaming producer on its own transport and passes pause/resume through to reading), so the
server never buffers answers without bound.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

from netsuite._endpoints import describe_address

__all__ = ["PacedProtocol", "set_no_delay"]

log = Logger()


def set_no_delay(transport: Any) -> None:
    """Turn on TCP_NODELAY where the transport is TCP (a UNIX socket or test transport: no-op)."""
    try:
        transport.setTcpNoDelay(True)
    except (AttributeError, NotImplementedError, OSError):
        pass


@implementer(IPushProducer)
class PacedProtocol(Protocol):
    """A protocol that reads only while its client reads the answers (see module docstring).

    :attr:`peer` is the client's address (``HOST:PORT``) once connected; :attr:`label`
    names the transport in log lines.  Subclasses that override ``connectionMade`` call
    ``super().connectionMade()``.
    """

    label = "rpc"
    peer = "?"
    _dead = False  # the transport said stopProducing: the connection is going away

    def connectionMade(self) -> None:
        self.peer = describe_address(self.transport.getPeer())
        self.transport.registerProducer(self, True)
        set_no_delay(self.transport)
        log.debug("{label}: connection from {peer}", label=self.label, peer=self.peer)

    # IPushProducer: the transport tells us when its send buffer is full / drained.
    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        if not self._dead:
            self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self._dead = True
