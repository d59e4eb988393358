"""Every open connection of the rpc service, tracked by wrapping, for a graceful shutdown.

Each listener's factory is wrapped in a :class:`TrackingFactory` (a
:class:`twisted.protocols.policies.WrappingFactory`), whose protocol wrapper registers the
connection when it is made and unregisters it when it is lost -- nothing is patched on the
protocols themselves.  The wrapper relays what Twisted asks of a server protocol beyond
``dataReceived``/``connectionLost``: half-close (``readConnectionLost``) and the end of a TLS
handshake, when the wrapped protocol takes them.

On shutdown :meth:`ConnectionTracker.close_all` asks every connection that provides
:class:`~netsuite.rpc._paced.IGracefulClose` to finish, and aborts whatever is still open
when the grace period ends.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet import defer
from twisted.internet.interfaces import IHalfCloseableProtocol, IHandshakeListener, IProtocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import alsoProvides

from netsuite.rpc._paced import IGracefulClose

__all__ = ["ConnectionTracker", "RpcStats", "TrackedConnection", "TrackingFactory"]

log = Logger()


@attrs.define
class RpcStats:
    """Plain counters of the rpc service, per transport label (``amp``, ``jsonrpc``...).

    ``connections_open``: connections open now; ``connections_total``: accepted since start;
    ``closed_at_shutdown``: connections still open when the grace period ran out and that
    were aborted.
    """

    connections_open: dict[str, int] = attrs.field(factory=dict)
    connections_total: dict[str, int] = attrs.field(factory=dict)
    closed_at_shutdown: int = 0


class TrackedConnection(ProtocolWrapper):
    """The wrapper around one tracked connection: also relays half-close and TLS handshake
    completion to the wrapped protocol when it takes them."""

    def makeConnection(self, transport: Any) -> None:
        super().makeConnection(transport)  # provides what the transport provides
        inner = self.wrappedProtocol
        if IHalfCloseableProtocol.providedBy(inner):
            alsoProvides(self, IHalfCloseableProtocol)
        if IHandshakeListener.providedBy(inner):
            alsoProvides(self, IHandshakeListener)

    def readConnectionLost(self) -> None:
        self.wrappedProtocol.readConnectionLost()

    def writeConnectionLost(self) -> None:
        self.wrappedProtocol.writeConnectionLost()

    def handshakeCompleted(self) -> None:
        self.wrappedProtocol.handshakeCompleted()


class TrackingFactory(WrappingFactory):
    """Builds the wrapped factory's protocols, each tracked under ``label``."""

    protocol = TrackedConnection
    noisy = False

    def __init__(self, wrapped: Any, tracker: ConnectionTracker, label: str) -> None:
        super().__init__(wrapped)
        self.tracker = tracker
        self.label = label

    @property
    def wrapped(self) -> Any:
        """The factory whose protocols are tracked."""
        return self.wrappedFactory

    def registerProtocol(self, p: TrackedConnection) -> None:
        super().registerProtocol(p)
        self.tracker.add(p, self.label)

    def unregisterProtocol(self, p: TrackedConnection) -> None:
        super().unregisterProtocol(p)
        self.tracker.remove(p)


class ConnectionTracker:
    """Knows every open connection of the service, for a graceful shutdown.

    A protocol that provides :class:`~netsuite.rpc._paced.IGracefulClose` is asked to stop
    taking new requests and to close once every request already received is answered.
    Others are left alone until the grace period ends.  When the grace period ends whatever
    is still open is aborted.
    """

    def __init__(self, stats: RpcStats) -> None:
        self.stats = stats
        #: Open connections (their wrappers) -> transport label.
        self.protocols: dict[TrackedConnection, str] = {}
        self._all_closed: list[defer.Deferred[None]] = []

    def wrap(self, factory: Any, label: str) -> TrackingFactory:
        """A factory that builds ``factory``'s protocols and tracks them under ``label``."""
        return TrackingFactory(factory, self, label)

    def add(self, connection: TrackedConnection, label: str) -> None:
        """Track ``connection`` (made now) until :meth:`remove`."""
        self.protocols[connection] = label
        stats = self.stats
        stats.connections_open[label] = stats.connections_open.get(label, 0) + 1
        stats.connections_total[label] = stats.connections_total.get(label, 0) + 1

    def remove(self, connection: TrackedConnection) -> None:
        """``connection`` is gone."""
        label = self.protocols.pop(connection, None)
        if label is None:
            return
        self.stats.connections_open[label] -= 1
        if not self.protocols:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

    def close_all(self, grace: float, clock: Any) -> defer.Deferred[None]:
        """Ask every connection to finish; abort the rest after ``grace`` seconds."""
        if not self.protocols:
            return defer.succeed(None)
        done: defer.Deferred[None] = defer.Deferred()
        self._all_closed.append(done)
        for connection in list(self.protocols):
            inner: IProtocol | None = connection.wrappedProtocol
            if IGracefulClose.providedBy(inner):
                inner.graceful_close()  # type: ignore[union-attr]

        def expire() -> None:
            remaining = list(self.protocols)
            if remaining:
                log.info("rpc: grace period over, closing {count} connection(s)",
                         count=len(remaining))
            for connection in remaining:
                self.stats.closed_at_shutdown += 1
                transport = connection.transport
                if transport is None:
                    self.remove(connection)
                elif hasattr(transport, "abortConnection"):
                    transport.abortConnection()
                else:
                    transport.loseConnection()

        timer = clock.callLater(grace, expire)

        def finished(result: None) -> None:
            if timer.active():
                timer.cancel()
            return result

        return done.addBoth(finished)
