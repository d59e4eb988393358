"""Lean TCP connections for a server holding thousands of mostly idle clients.

Twisted's ``tcp.Server`` stores, for every connection, its log prefix
(``ChatProtocol,12,127.0.0.1``), its ``repr`` (``<ChatProtocol #12 on 8086>``), a bound
``fileno`` method, the peer's host string and an address tuple: about 330 bytes per
connection that are only read when something is logged or printed.  :class:`LeanServer`
makes them when asked instead, from what it keeps anyway (the shared protocol names, the
session number, the peer's port and its host string, one per host), and reads into one
shared buffer instead of a fresh 64 KiB block per read (:meth:`LeanServer.doRead`); it
behaves the same otherwise.  :func:`lean_tcp` wraps a reactor so that its TCP listeners
accept such connections.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from twisted.internet import abstract, main, tcp
from twisted.python.runtime import platformType

if platformType == "win32":  # pragma: no cover
    from errno import WSAEWOULDBLOCK as EWOULDBLOCK
else:
    from errno import EWOULDBLOCK

__all__ = ["LeanPort", "LeanServer", "lean_tcp"]

#: Every lean connection reads into this one buffer (the reactor runs in one thread).
_READ_BUFFER = bytearray(64 * 1024)
_READ_VIEW = memoryview(_READ_BUFFER)


class LeanServer(tcp.Server):
    """A ``tcp.Server`` that makes its log prefix, ``repr`` and ``fileno`` when asked."""

    def __init__(self, sock: Any, protocol: Any, client: tuple[Any, ...], server: Any,
                 sessionno: int, reactor: Any) -> None:
        # Shared strings (one per protocol class), kept for after ``protocol`` is gone.
        self._prefix = self._getLogPrefix(protocol)
        self._kind = protocol.__class__.__name__
        super().__init__(sock, protocol, client, server, sessionno, reactor)

    def doRead(self) -> Any:
        """Read what the socket has into the shared buffer; hand the protocol a copy.

        Twisted's ``socket.recv(65536)`` allocates 64 KiB for each read and shrinks it to
        what came: thousands of heartbeats a second then spread small blocks over the C
        heap, which keeps its freed pages resident.  A copy of the bytes read is all
        this allocates (and costs a copy of what a big read brought, a few µs per 64 KiB).
        """
        try:
            n = self.socket.recv_into(_READ_BUFFER, self.bufferSize)
        except OSError as se:
            if se.args[0] == EWOULDBLOCK:
                return None
            return main.CONNECTION_LOST
        return self._dataReceived(_READ_VIEW[:n].tobytes() if n else None)

    # Twisted's __init__ assigns each of these; the setters drop the stored copy.

    @property  # type: ignore[override]
    def logstr(self) -> str:
        return f"{self._prefix},{self.sessionno},{self.hostname}"

    @logstr.setter
    def logstr(self, value: str) -> None:
        pass

    @property
    def repstr(self) -> str:
        return f"<{self._kind} #{self.sessionno} on {self.server._realPortNumber}>"

    @repstr.setter
    def repstr(self, value: str) -> None:
        pass

    @property  # type: ignore[override]
    def client(self) -> tuple[Any, ...]:
        port = self._port
        return (self._host, port) if type(port) is int else port

    @client.setter
    def client(self, value: tuple[Any, ...]) -> None:
        host = value[0]
        # One host string for every connection from that host, not one each; an IPv4
        # (host, port) pair is kept as its two parts, others (IPv6) as they are.
        self._host = sys.intern(host) if type(host) is str else host
        self._port = value[1] if len(value) == 2 else value

    @property  # type: ignore[override]
    def hostname(self) -> Any:
        return self._host

    @hostname.setter
    def hostname(self, value: Any) -> None:
        pass

    @property  # type: ignore[override]
    def fileno(self) -> Callable[[], int]:
        # (not through self.__dict__: asking for it would give each instance a dict object)
        sock = getattr(self, "socket", None)
        if sock is None:  # closed: the descriptor's default (-1)
            return abstract.FileDescriptor.fileno.__get__(self)
        return sock.fileno  # type: ignore[no-any-return]

    @fileno.setter
    def fileno(self, value: Callable[[], int]) -> None:
        pass

    @fileno.deleter
    def fileno(self) -> None:
        pass


class LeanPort(tcp.Port):
    """A TCP listening port whose connections are :class:`LeanServer`."""

    transport = LeanServer


class _LeanTCPReactor:
    """``reactor`` with ``listenTCP`` making a :class:`LeanPort`; all else is ``reactor``'s."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

    def listenTCP(self, port: int, factory: Any, backlog: int = 50,
                  interface: str = "") -> LeanPort:
        listening = LeanPort(port, factory, backlog, interface, self._reactor)
        listening.startListening()
        return listening


def lean_tcp(reactor: Any) -> Any:
    """``reactor`` for listening: its TCP (tcp:, tcp6:) listeners make lean connections.

    A reactor that does not come from Twisted's POSIX reactors (a test double, say) is
    returned as it is.
    """
    from twisted.internet.posixbase import PosixReactorBase

    if not isinstance(reactor, PosixReactorBase):
        return reactor
    return _LeanTCPReactor(reactor)
