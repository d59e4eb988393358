"""Test helpers for code that embeds or talks to the chat server, all in memory.

* :class:`FakeChat`: a chat server (:class:`~netsuite.chat.ChatFactory` and its room) on a
  :class:`~twisted.internet.task.Clock`; :meth:`FakeChat.connect` gives a
  :class:`FakeClient` that speaks the wire protocol over a
  :class:`~twisted.internet.testing.StringTransport` and records the lines it receives.
* :class:`FakeMember`: a member of the room model with no wire protocol at all (for tests
  of the room itself); it records what the room delivers to it.

Example::

    chat = FakeChat(flood=5)
    alice, bob = chat.connect("alice"), chat.connect("bob")
    alice.take(); bob.take()
    alice.send("hello\\n")
    assert bob.take() == ["MSG alice hello"]

Output is delivered once per reactor turn; :meth:`FakeChat.turn` runs the turns that are
due (``send`` does it for you), :meth:`FakeChat.advance` moves the clock on.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import address, error
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import failure

from netsuite.chat._model import RoomLimits
from netsuite.chat._protocol import ChatFactory
from netsuite.chat._room import Room

__all__ = ["FakeChat", "FakeClient", "FakeMember", "FakeTransport"]


class FakeTransport(StringTransport):
    """A StringTransport whose close reaches the protocol (``connectionLost``) at once."""

    def __init__(self, port: int = 40000) -> None:
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


class FakeClient:
    """One connection to a :class:`FakeChat`; :meth:`take` returns the lines received
    since the last call."""

    def __init__(self, chat: FakeChat, port: int) -> None:
        self.chat = chat
        self.transport = FakeTransport(port)
        self.protocol = chat.factory.buildProtocol(self.transport.getPeer())
        self.transport.protocol = self.protocol
        self.protocol.makeConnection(self.transport)
        self._seen = 0

    def send(self, data: bytes | str, turn: bool = True) -> None:
        """Send ``data`` (whole lines end in ``\\n``); then run the reactor turns due."""
        if isinstance(data, str):
            data = data.encode()
        self.protocol.dataReceived(data)
        if turn:
            self.chat.turn()

    def take(self) -> list[str]:
        """The lines received since the last call (without their line ends)."""
        value = self.transport.value()
        new, self._seen = value[self._seen:], len(value)
        return new.decode("utf-8", "replace").splitlines()

    @property
    def lines(self) -> list[str]:
        """Every line received so far."""
        return self.transport.value().decode("utf-8", "replace").splitlines()

    @property
    def nick(self) -> str:
        return self.protocol.nick

    @property
    def closed(self) -> bool:
        return self.transport.closed


class FakeChat:
    """A chat server in memory, on a :class:`Clock`; ``limits`` are :class:`RoomLimits`
    fields (``FakeChat(flood=5, history=10)``)."""

    def __init__(self, **limits: Any) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.factory = ChatFactory(self.clock, RoomLimits(**limits))
        self.room: Room = self.factory.room
        self.stats = self.factory.stats
        self._ports = 40000

    def connect(self, nick: str | None = None) -> FakeClient:
        """A new client (then ``/nick NICK`` if ``nick`` is given)."""
        self._ports += 1
        client = FakeClient(self, self._ports)
        self.turn()
        if nick is not None:
            client.send(f"/nick {nick}\n")
        return client

    def turn(self) -> None:
        """Run the reactor turns that are due now (output is flushed by ``callLater(0)``)."""
        for _ in range(1000):
            if not any(c.getTime() <= self.clock.seconds() for c in self.clock.getDelayedCalls()):
                return
            self.clock.advance(0)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``, then run the turns due."""
        self.clock.advance(seconds)
        self.turn()


class FakeMember:
    """A room member without a wire protocol: records what the room delivers.

    ``room.join(FakeMember())`` adds it; :meth:`take` returns the lines delivered since the
    last call.  Closing (``close_after``, ``abort``) reports the connection lost at once.
    """

    def __init__(self, room: Room, name: str = "fake") -> None:
        self.room = room
        self.name = name
        self.nick = ""
        self.key = ""
        self.last_seen = 0.0
        self.waiting = False
        self.ready = True
        self.mark = 0
        self.direct: list[bytes] | None = None
        self.in_room = False
        self.channel: Any = None
        self.received = b""
        self.closed = False
        self.aborted = False
        self._seen = 0

    def take(self) -> list[str]:
        """The lines delivered since the last call."""
        new, self._seen = self.received[self._seen:], len(self.received)
        return new.decode("utf-8", "replace").splitlines()

    # -- Member -------------------------------------------------------------------------

    def set_nick(self, nick: str) -> None:
        self.nick = nick
        self.key = nick.lower()

    def deliver(self, data: bytes) -> None:
        if not self.closed:
            self.received += data

    def close_after(self, data: bytes) -> None:
        self.deliver(data)
        self._lost()

    def abort(self) -> None:
        self.aborted = True
        self._lost()

    def _lost(self) -> None:
        if not self.closed:
            self.closed = True
            self.room.connection_lost(self)

    def describe(self) -> str:
        return self.name

    def resume_input(self) -> bool:
        self.waiting = False
        return True
