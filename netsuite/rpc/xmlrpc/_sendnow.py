"""Writing an answer straight to an idle TCP socket: one system call, no reactor turn.

``transport.write`` on a Twisted TCP connection only buffers: the bytes go out on the
reactor's next turn, after registering for (and then unregistering from) "writable"
events -- two ``epoll_ctl`` calls and a whole reactor turn per answer, which for a
request/response client such as XML-RPC's costs more than the answer itself.  When nothing
is buffered, :func:`send_now` sends at once; whatever the socket does not take (or a send
that fails) goes to ``transport.write``, which sends it in order (or reports the error) as
usual.  Anything but a plain TCP connection -- TLS, a test transport, a wrapper that
changes what is written -- is written the ordinary way.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp
from twisted.protocols.policies import ProtocolWrapper

__all__ = ["send_now"]

_FORWARD = ProtocolWrapper.write  # a wrapper whose write only forwards to its transport


def send_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)``, sending at once when nothing waits in its buffer."""
    t = transport
    while type(t) is not tcp.Server:
        if not isinstance(t, ProtocolWrapper) or type(t).write is not _FORWARD:
            transport.write(data)
            return
        t = t.transport
    if (t.dataBuffer or t._tempDataLen or t.TLS or not t.connected or t.disconnecting
            or t._writeDisconnecting):
        transport.write(data)
        return
    try:
        sent = t.socket.send(data)
    except OSError:  # would block, or an error the transport reports in its own way
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])
