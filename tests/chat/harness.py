"""In-memory chat conversations: a factory on a Clock and fake clients on StringTransports."""

from __future__ import annotations

from typing import Any

from twisted.internet import address, error
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import failure

from netsuite.chat import ChatFactory, RoomLimits


class Transport(StringTransport):
    """A StringTransport whose close reaches the protocol (``connectionLost``) at once."""

    def __init__(self, port: int) -> None:
        super().__init__(peerAddress=address.IPv4Address("TCP", "127.0.0.1", port))
        self._lenient = True
        self.closed = False
        self.aborted = False
        self.protocol: Any = None

    def loseConnection(self) -> None:
        super().loseConnection()
        self._lost(error.ConnectionDone("closed"))

    def abortConnection(self) -> None:
        self.aborted = True
        self._lost(error.ConnectionAborted("aborted"))

    def _lost(self, reason: Exception) -> None:
        if not self.closed:
            self.closed = True
            self.connected = False
            self.protocol.connectionLost(failure.Failure(reason))

    def write(self, data: bytes) -> None:
        if not self.closed:
            super().write(data)


class Client:
    """One fake connection; :meth:`take` returns the lines received since the last call."""

    def __init__(self, chat: Chat, port: int) -> None:
        self.chat = chat
        self.transport = Transport(port)
        self.protocol = chat.factory.buildProtocol(self.transport.getPeer())
        self.transport.protocol = self.protocol
        self.protocol.makeConnection(self.transport)
        self._seen = 0

    def send(self, data: bytes | str, turn: bool = True) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.protocol.dataReceived(data)
        if turn:
            self.chat.turn()

    def take(self) -> list[str]:
        value = self.transport.value()
        new, self._seen = value[self._seen:], len(value)
        return new.decode("utf-8", "replace").splitlines()

    @property
    def nick(self) -> str:
        return self.protocol.nick

    @property
    def closed(self) -> bool:
        return self.transport.closed


class Chat:
    """A chat server in memory."""

    def __init__(self, **limits: Any) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.factory = ChatFactory(self.clock, RoomLimits(**limits))
        self.room = self.factory.room
        self.stats = self.factory.stats
        self._ports = 40000

    def connect(self, nick: str | None = None) -> Client:
        self._ports += 1
        client = Client(self, self._ports)
        self.turn()
        if nick is not None:
            client.send(f"/nick {nick}\n")
        return client

    def turn(self) -> None:
        """Run the reactor turns that are due now (flushes are ``callLater(0)``)."""
        for _ in range(1000):
            if not any(c.getTime() <= self.clock.seconds() for c in self.clock.getDelayedCalls()):
                return
            self.clock.advance(0)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.turn()
