"""The shipped test helpers (``netsuite.chat.testing``) do what their docstrings promise."""

from __future__ import annotations

from netsuite.chat import Room, RoomLimits
from netsuite.chat.testing import FakeChat, FakeMember


def test_fake_chat_conversation_with_exact_lines() -> None:
    chat = FakeChat()
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    assert alice.take()[:2] == ["WELCOME guest1", "ROOM lobby"]
    bob.take()
    alice.send("hello\n")
    assert bob.take() == ["MSG alice hello"]
    assert alice.take() == []
    assert bob.lines[0] == "WELCOME guest2"


def test_fake_chat_limits_and_clock() -> None:
    chat = FakeChat(idle_timeout=5)
    a = chat.connect("alice")
    chat.advance(4)
    assert not a.closed
    chat.advance(2)
    assert a.closed
    assert a.take()[-1] == "BYE idle-timeout"
    assert chat.stats.drops == {"idle-timeout": 1}


def test_fake_member_in_the_room_model() -> None:
    chat = FakeChat()
    room: Room = chat.room
    a, b = FakeMember(room, "a"), FakeMember(room, "b")
    room.join(a)
    room.join(b)
    chat.turn()
    assert a.take() == ["WELCOME guest1", "ROOM lobby", "JOIN guest2"]
    assert b.take() == ["WELCOME guest2", "ROOM lobby"]
    room.broadcast(a, b"MSG guest1 hi\n")
    room.send(a, b"PONG\n")
    chat.turn()
    assert b.take() == ["MSG guest1 hi"]
    assert a.take() == ["PONG"]
    room.kick(b, "quit")
    chat.turn()
    assert b.closed and b.take() == ["BYE quit"]
    assert a.take() == ["PART guest2 quit"]


def test_fake_member_shutdown_fires_when_all_closed() -> None:
    chat = FakeChat()
    members = [FakeMember(chat.room) for _ in range(3)]
    for m in members:
        chat.room.join(m)
    done = chat.room.shutdown()
    assert done.called
    assert all(m.take()[-1] == "BYE shutdown" for m in members)
    assert chat.stats.clients == 0


def test_fake_chat_takes_room_limits() -> None:
    chat = FakeChat(max_clients=1)
    assert chat.room.limits == RoomLimits(max_clients=1)
    chat.connect()
    extra = chat.connect()
    assert extra.take() == ["ERR max-clients the server is full (1 clients)", "BYE max-clients"]


def test_the_example_in_docs_chat_md() -> None:
    chat = FakeChat(history=10)
    alice, bob = chat.connect("alice"), chat.connect("bob")
    alice.take(), bob.take()
    alice.send("/join dev\n")
    assert alice.take() == ["ROOM dev"]
    bob.send("/msg alice hi\n")
    assert alice.take() == ["PRIV bob hi"]
    chat.advance(60)
    assert alice.take()[-1] == "BYE idle-timeout"
