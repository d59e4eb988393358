"""The chat commands (``/nick /join /rooms /who /msg /me /ping /quit /help``): what each
does with the room, as plain functions of the connection and the argument bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netsuite.chat._protocol import ChatProtocol

__all__ = ["COMMANDS", "HELP"]

HELP = (
    b"INFO commands:\n"
    b"INFO /nick NAME - change your nickname (1-32 letters, digits, _ or -)\n"
    b"INFO /join ROOM - leave this room and enter ROOM (1-32 letters, digits, _ or -)\n"
    b"INFO /rooms - list the rooms that have people in them, and how many\n"
    b"INFO /who - list who is in this room\n"
    b"INFO /msg NAME TEXT - private message to NAME\n"
    b"INFO /me TEXT - action message to this room\n"
    b"INFO /ping [TOKEN] - heartbeat, answered by PONG [TOKEN]\n"
    b"INFO /quit [REASON] - leave\n"
    b"INFO /help - this list\n"
    b"INFO any other line is a message to this room; start it with // to send a leading /\n"
)


def cmd_nick(conn: ChatProtocol, arg: bytes) -> None:
    name = arg.strip().decode("utf-8")
    error = conn.room.rename(conn, name)
    if error == "bad-nick":
        _bad_name(conn, "bad-nick", name, "nickname")
    elif error == "nick-in-use":
        conn.send_error("nick-in-use", f"{name} is already taken")


def cmd_who(conn: ChatProtocol, arg: bytes) -> None:
    conn.room.send(conn, ("WHO " + " ".join(conn.room.who(conn)) + "\n").encode())


def cmd_msg(conn: ChatProtocol, arg: bytes) -> None:
    name, _, text = arg.partition(b" ")
    if not name or not text.strip():
        conn.room.send(conn, b"INFO usage: /msg NAME TEXT\n")
        return
    target = conn.room.find(name.decode("utf-8"))
    if target is None:
        conn.send_error("no-such-nick", f"{name.decode('utf-8')} is not connected")
        return
    conn.room.send(target, b"PRIV " + conn.nick.encode() + b" " + text + b"\n")


def cmd_me(conn: ChatProtocol, arg: bytes) -> None:
    if not arg.strip():
        conn.room.send(conn, b"INFO usage: /me TEXT\n")
        return
    conn.room.say(conn, b"ACTION " + conn.nick.encode() + b" " + arg + b"\n")


def cmd_ping(conn: ChatProtocol, arg: bytes) -> None:
    conn.room.send(conn, b"PONG " + arg + b"\n" if arg else b"PONG\n")


def cmd_quit(conn: ChatProtocol, arg: bytes) -> None:
    conn.room.kick(conn, "quit", detail=arg.decode("utf-8").strip())


def cmd_help(conn: ChatProtocol, arg: bytes) -> None:
    conn.room.send(conn, HELP)


def cmd_join(conn: ChatProtocol, arg: bytes) -> None:
    name = arg.strip().decode("utf-8")
    error = conn.room.move(conn, name)
    if error == "bad-room":
        _bad_name(conn, "bad-room", name, "room name", " (a leading # is allowed)")
    elif error == "max-rooms":
        limit = conn.room.limits.max_rooms
        conn.send_error("max-rooms", f"there are already {limit} rooms; join one of them "
                        "(/rooms)")


def cmd_rooms(conn: ChatProtocol, arg: bytes) -> None:
    counts = " ".join(f"{name}:{n}" for name, n in conn.room.room_counts())
    conn.room.send(conn, f"ROOMS {counts}\n".encode())


def _bad_name(conn: ChatProtocol, code: str, name: str, what: str, extra: str = "") -> None:
    """``ERR CODE`` for a nick or room name that breaks the rule."""
    shown = repr(name) if name else "an empty name"
    conn.send_error(code, f"{shown} is not a valid {what}: use 1-32 ASCII letters, digits, "
                    f"_ or -{extra}")


#: Command name (lower case, without the ``/``) -> handler.
COMMANDS: dict[bytes, Callable[[ChatProtocol, bytes], None]] = {
    b"nick": cmd_nick,
    b"who": cmd_who,
    b"msg": cmd_msg,
    b"me": cmd_me,
    b"ping": cmd_ping,
    b"quit": cmd_quit,
    b"help": cmd_help,
    b"join": cmd_join,
    b"rooms": cmd_rooms,
}
