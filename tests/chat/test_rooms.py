"""Rooms and history in memory: the room model (FakeMember) and the wire (exact lines)."""

from __future__ import annotations

import re

import pytest

from netsuite.chat._history import History, hist_time
from netsuite.chat.testing import FakeChat, FakeClient, FakeMember

T0 = "1970-01-12T13:46:40"  # FakeChat's clock starts at 1,000,000 s


def hist(line: str) -> str:
    """``HIST TIME LINE`` with the time masked (``HIST * LINE``)."""
    return re.sub(r"^HIST \S+ ", "HIST * ", line)


def in_rooms(chat: FakeChat, *pairs: tuple[str, str]) -> list[FakeClient]:
    clients = []
    for nick, room in pairs:
        c = chat.connect(nick)
        if room != "lobby":
            c.send(f"/join {room}\n")
        clients.append(c)
    for c in clients:
        c.take()
    return clients


def test_connect_lands_in_the_default_room_with_its_history() -> None:
    chat = FakeChat(default_room="Main")
    a = chat.connect("alice")
    a.send("first\n")
    chat.advance(0.123)
    a.send("/me waves\n")
    b = chat.connect()
    assert b.take() == ["WELCOME guest2", "ROOM Main", f"HIST {T0}.000Z MSG alice first",
                        f"HIST {T0}.123Z ACTION alice waves"]


def test_join_moves_with_part_moved_join_room_and_history() -> None:
    chat = FakeChat()
    a, b, c = in_rooms(chat, ("alice", "lobby"), ("bob", "lobby"), ("carol", "dev"))
    c.send("dev talk\n")
    a.send("/join #Dev\n")
    assert a.take() == ["ROOM dev", f"HIST {T0}.000Z MSG carol dev talk"]
    assert b.take() == ["PART alice moved"]
    assert c.take() == ["JOIN alice"]
    a.send("hi dev\n")
    assert c.take() == ["MSG alice hi dev"] and b.take() == []


def test_room_name_is_shown_as_first_written_and_matched_ignoring_case() -> None:
    chat = FakeChat()
    _, b = in_rooms(chat, ("alice", "Dev-Team"), ("bob", "lobby"))
    b.send("/join dev-team\n")
    assert b.take() == ["ROOM Dev-Team"]
    b.send("/rooms\n")
    assert b.take() == ["ROOMS Dev-Team:2"]


def test_join_of_own_room_answers_room_only() -> None:
    chat = FakeChat()
    a, b = in_rooms(chat, ("alice", "lobby"), ("bob", "lobby"))
    a.send("hello\n")
    b.take()
    a.send("/join LOBBY\n")
    assert a.take() == ["ROOM lobby"]
    assert b.take() == []


@pytest.mark.parametrize("name", ["", "#", "bad name", "x" * 33, "##dev", "dév"])
def test_bad_room(name: str) -> None:
    chat = FakeChat()
    (a,) = in_rooms(chat, ("alice", "lobby"))
    a.send(f"/join {name}\n")
    got = a.take()
    assert len(got) == 1 and got[0].startswith("ERR bad-room ")
    assert chat.room.rooms.keys() == {"lobby"}


def test_max_rooms_counts_the_default_room_and_rooms_with_history() -> None:
    chat = FakeChat(max_rooms=3)
    a, b = in_rooms(chat, ("alice", "one"), ("bob", "two"))
    c = chat.connect("carol")
    c.take()
    c.send("/join three\n")
    assert c.take() == ["ERR max-rooms there are already 3 rooms; join one of them (/rooms)"]
    c.send("/join ONE\n")
    assert c.take() == ["ROOM one"]
    a.send("said in one\n")
    a.send("/join lobby\n")
    c.send("/join lobby\n")
    b.send("/join lobby\n")  # "two" had no history: it is gone; "one" keeps its history
    assert set(chat.room.rooms) == {"lobby", "one"}
    c.send("/join three\n")
    assert c.take()[-1] == "ROOM three"


def test_without_history_an_empty_room_goes_away() -> None:
    chat = FakeChat(history=0, max_rooms=2)
    (a,) = in_rooms(chat, ("alice", "one"))
    a.send("nobody keeps this\n")
    a.send("/join lobby\n")
    assert set(chat.room.rooms) == {"lobby"}
    a.send("/join one\n")
    assert a.take()[-1] == "ROOM one"  # fresh, no HIST


def test_rooms_lists_rooms_with_members_by_name() -> None:
    chat = FakeChat()
    a, *_ = in_rooms(chat, ("alice", "zeta"), ("bob", "Alpha"), ("carol", "zeta"),
                     ("dave", "lobby"))
    a.send("/rooms\n")
    assert a.take() == ["ROOMS Alpha:1 lobby:1 zeta:2"]


def test_who_is_per_room_and_msg_crosses_rooms() -> None:
    chat = FakeChat()
    a, b, c = in_rooms(chat, ("alice", "dev"), ("bob", "lobby"), ("carol", "dev"))
    a.send("/who\n")
    assert a.take() == ["WHO alice carol"]
    b.send("/msg ALICE psst\n")
    assert a.take() == ["PRIV bob psst"]
    assert c.take() == []


def test_nick_change_seen_only_by_its_room_and_the_user() -> None:
    chat = FakeChat()
    a, b, c = in_rooms(chat, ("alice", "dev"), ("bob", "lobby"), ("carol", "dev"))
    a.send("/nick al\n")
    assert a.take() == ["NICK alice al"]
    assert c.take() == ["NICK alice al"]
    assert b.take() == []
    b.send("/nick AL\n")  # nicks are unique across rooms
    assert b.take() == ["ERR nick-in-use AL is already taken"]


def test_part_goes_to_the_room_only() -> None:
    chat = FakeChat()
    a, b, c = in_rooms(chat, ("alice", "dev"), ("bob", "lobby"), ("carol", "dev"))
    a.send("/quit\n")
    assert c.take() == ["PART alice quit"]
    assert b.take() == []


def test_lines_owed_by_the_old_room_come_before_room() -> None:
    chat = FakeChat()
    a, b = in_rooms(chat, ("alice", "lobby"), ("bob", "lobby"))
    b.send("before you go\n", turn=False)
    a.send("/join dev\n")
    assert a.take() == ["MSG bob before you go", "ROOM dev"]
    assert b.take() == ["PART alice moved"]


def test_history_is_only_msg_and_action_and_bounded_in_lines() -> None:
    chat = FakeChat(history=3)
    a, b = in_rooms(chat, ("alice", "lobby"), ("bob", "lobby"))
    for i in range(5):
        a.send(f"m{i}\n")
    a.send("/nick al\n")
    b.send("/quit\n")
    c = chat.connect()
    assert [hist(x) for x in c.take()[2:]] == [
        "HIST * MSG alice m2", "HIST * MSG alice m3", "HIST * MSG alice m4"]


def test_history_byte_bound() -> None:
    line = "x" * 100
    entry = len(f"HIST {T0}.000Z MSG alice {line}\n")
    chat = FakeChat(history=50, history_bytes=entry * 3 + 10)
    (a,) = in_rooms(chat, ("alice", "lobby"))
    for _ in range(10):
        a.send(line + "\n")
    c = chat.connect()
    got = c.take()[2:]
    assert len(got) == 3
    assert chat.room.lobby.history.bytes == entry * 3
    a.send("y" * 4000 + "\n")  # alone over the bound: not kept, nor anything before it
    assert len(chat.room.lobby.history) == 0


def test_history_off() -> None:
    chat = FakeChat(history=0)
    (a,) = in_rooms(chat, ("alice", "lobby"))
    a.send("gone\n")
    assert chat.connect().take() == ["WELCOME guest2", "ROOM lobby"]


def test_room_model_with_fake_members() -> None:
    chat = FakeChat()
    room = chat.room
    a, b = FakeMember(room, "a"), FakeMember(room, "b")
    room.join(a)
    room.join(b)
    assert room.move(a, "#x") is None
    assert room.move(a, "bad room") == "bad-room"
    chat.turn()
    assert a.take() == ["WELCOME guest1", "ROOM lobby", "JOIN guest2", "ROOM x"]
    assert b.take() == ["WELCOME guest2", "ROOM lobby", "PART guest1 moved"]
    assert room.who(a) == ["guest1"] and room.who(b) == ["guest2"]
    assert room.room_counts() == [("lobby", 1), ("x", 1)]
    room.say(a, b"MSG guest1 hi\n")
    chat.turn()
    assert b.take() == [] and len(room.rooms["x"].history) == 1


def test_hist_time_format() -> None:
    assert hist_time(1796299200.1234) == "2026-12-03T12:00:00.123Z"
    assert hist_time(0) == "1970-01-01T00:00:00.000Z"
    h = History(2, 1000)
    h.add(0.5, b"MSG a x\n")
    assert h.replay() == b"HIST 1970-01-01T00:00:00.500Z MSG a x\n"


def test_join_in_a_big_turn_keeps_encode_once() -> None:
    """A move mid-turn: every member still gets one write per turn."""
    chat = FakeChat()
    clients = in_rooms(chat, *((f"u{i}", "lobby") for i in range(5)))
    writes = [0] * len(clients)
    for i, c in enumerate(clients):
        def counting(data: bytes, i: int = i, write=c.transport.write) -> None:
            writes[i] += 1
            write(data)
        c.transport.write = counting  # type: ignore[method-assign]
    clients[0].send("one\n", turn=False)
    clients[1].send("/join dev\n", turn=False)
    clients[2].send("two\n", turn=False)
    chat.turn()
    assert clients[1].take() == ["MSG u0 one", "ROOM dev"]
    assert clients[3].take() == ["MSG u0 one", "PART u1 moved", "MSG u2 two"]
    assert writes == [1, 1, 1, 1, 1]  # one write each, the mover included


def test_said_then_left_in_the_same_turn_keeps_the_room_and_its_history() -> None:
    chat = FakeChat()
    (a,) = in_rooms(chat, ("alice", "brief"))
    a.send("last words\n/join lobby\n")
    assert "brief" in chat.room.rooms
    b = chat.connect("bob")
    b.send("/join brief\n")
    assert [hist(x) for x in b.take()[-2:]] == ["ROOM brief", "HIST * MSG alice last words"]


def test_a_burst_longer_than_the_history_keeps_its_last_lines() -> None:
    chat = FakeChat(history=3)
    (a,) = in_rooms(chat, ("alice", "lobby"))
    a.send("".join(f"m{i}\n" for i in range(100)))
    assert len(chat.room.lobby.history) == 3
    assert [hist(x) for x in chat.connect().take()[2:]] == [
        "HIST * MSG alice m97", "HIST * MSG alice m98", "HIST * MSG alice m99"]
