"""A chat server on loopback with both listeners (TCP and web), for the web tests."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString

from netsuite.chat import ChatFactory, RoomLimits
from netsuite.chat.web import HANDSHAKE_TIMEOUT, WebListener
from tests.chat.test_loopback import LineClient


class TcpClient(LineClient):
    """A raw TCP chat client; :meth:`wait_for` also takes the exact line expected."""

    def wait_for(self, test: Any, timeout: float = 10) -> defer.Deferred[str]:
        check = (lambda line: line == test) if isinstance(test, str) else test
        return super().wait_for(check, timeout)


class WebChat:
    """``factory`` with a raw TCP listener (``tcp_port``) and a :class:`WebListener`
    (``web_port``, ``web``) on 127.0.0.1."""

    def __init__(self) -> None:
        self.factory: Any = None
        self.web: Any = None
        self.tcp: Any = None
        self.tcp_port = self.web_port = 0
        self.clients: list[Any] = []

    @classmethod
    async def start(cls, *, origins: Any = (), timeout: float = HANDSHAKE_TIMEOUT,
                    web: str = "tcp:0:interface=127.0.0.1", **limits: Any) -> WebChat:
        self = cls()
        room_limits = RoomLimits(**limits)
        self.factory = ChatFactory(reactor, room_limits)
        self.tcp = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            self.factory)
        self.tcp_port = self.tcp.getHost().port
        self.web = WebListener(web, self.factory, max_line=room_limits.max_line,
                               idle_timeout=room_limits.idle_timeout, origins=origins,
                               reactor=reactor, timeout=timeout)
        self.web.startService()
        self.web_port = (await self.web.whenListening).getHost().port
        return self

    async def tcp_client(self, nick: str | None = None) -> TcpClient:
        client = TcpClient()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.tcp_port), client)
        self.clients.append(client)
        await client.wait_for(lambda line: line.startswith("WELCOME "))
        if nick:
            client.sendLine(f"/nick {nick}".encode())
            await client.wait_for(lambda line: line.startswith("NICK ") and line.endswith(nick))
        return client

    def track(self, client: Any) -> Any:
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            if client.transport is not None and client.transport.connected:
                client.transport.abortConnection()
        await defer.gatherResults([c.closed for c in self.clients])
        await self.web.stopService()
        await self.tcp.stopListening()
        # Let the room's pending calls (departure notices, sweeps) run out.
        await self.factory.room.shutdown()
