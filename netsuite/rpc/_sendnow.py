"""Writing answers straight to an idle socket: one system call, no reactor turn.

``transport.write`` on a Twisted TCP (or UNIX) connection only buffers: the bytes go out on
the reactor's next turn, after switching the socket's write interest on and then off again
(two ``epoll_ctl``) -- for a client that waits for each answer, more than the answer itself
costs.  When nothing waits in the connection's send buffer, :func:`send_at_once` sends at
once; what the socket does not take goes to ``transport.write``, which sends it in order
(or reports the error) as usual.  Anything but a plain connection -- TLS, a test
transport, a wrapper that changes what is written -- is written the ordinary way, so
ordering and back-pressure are unchanged.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.tcp import Connection
from twisted.protocols.policies import ProtocolWrapper

__all__ = ["send_at_once", "send_now", "socket_connection"]


def socket_connection(transport: Any) -> Connection | None:
    """The TCP (or UNIX) connection under ``transport`` and the protocol wrappers that pass
    writes through as they are (not TLS), else None."""
    while (isinstance(transport, ProtocolWrapper)
           and type(transport).write is ProtocolWrapper.write):
        transport = transport.transport
    return transport if isinstance(transport, Connection) else None


def send_at_once(connection: Connection | None, transport: Any, data: bytes) -> None:
    """``transport.write(data)``, sending at once to ``connection`` (the plain connection
    under ``transport``, see :func:`socket_connection`) when nothing waits to be sent."""
    if connection is not None:
        try:
            idle = (not connection.dataBuffer and not connection._tempDataLen
                    and connection.connected and not connection.disconnecting
                    and not connection.TLS and not connection._writeDisconnecting
                    and not connection._writeDisconnected)
        except AttributeError:  # a Twisted without these fields: the ordinary way
            idle = False
        if idle:
            sent = connection.writeSomeData(data)
            if type(sent) is int and sent > 0:  # (else: would block, or an error the
                if sent == len(data):           # transport reports in its own way)
                    return
                data = data[sent:]
    transport.write(data)


def send_now(transport: Any, data: bytes) -> None:
    """:func:`send_at_once` for a transport whose connection is not known yet."""
    send_at_once(socket_connection(transport), transport, data)
