"""One node of a chat shared through Redis: the room model with its state in Redis.

:class:`ClusterRoom` is the chat's :class:`~netsuite.chat._room.Room` whose membership,
nicks, rooms and history live in Redis (see :mod:`netsuite.chat.cluster._scripts`), and
whose room lines come back from each room's stream, so every member of a room, on any
node, sees them in the same order.  Local delivery still goes through the room's
:class:`~netsuite.chat._fanout.Fanout` (encode once, one write per member per turn).

The link to Redis, the reading of streams, heartbeats, the parting of dead nodes and the
rejoin after an outage are in :class:`~netsuite.chat.cluster._sync.Sync`.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from netsuite.chat._history import hist_time
from netsuite.chat._model import Member, RoomLimits, Stats
from netsuite.chat._room import Channel, Room
from netsuite.chat._wire import is_valid_nick
from netsuite.chat.cluster import _scripts as S
from netsuite.chat.cluster._batch import Batch, ClusterFanout
from netsuite.chat.cluster._feed import Feed, parse_id

__all__ = ["ClusterRoom"]

log = Logger()

UNAVAILABLE = b"ERR unavailable the chat cannot reach its store (Redis) now; try again soon\n"


class ClusterRoom(Room):
    """The chat of one node.  ``prefix`` is the key prefix (``chat:NAME:``), ``node`` this
    node's id; :attr:`sync` (set by the service) holds the link to Redis."""

    def __init__(self, clock: Any, limits: RoomLimits | None, stats: Stats | None,
                 prefix: str, node: str) -> None:
        super().__init__(clock, limits, stats)
        self.prefix = prefix
        self.node = node
        self.sync: Any = None
        self.feeds: dict[str, Feed] = {}
        self.by_cid: dict[str, Member] = {}
        self.limbo = Channel("-")  # where a member waits for its JOIN entry to be read
        self.owed: list[tuple[str, str, str, str]] = []  # departures not yet in Redis
        self._entering: set[Member] = set()
        self._seq = 0
        self._said: list[Batch] = []  # lines said this turn, in order
        self._open: dict[str, Batch] = {}  # room key -> its batch that may still grow
        self.fanout = ClusterFanout(self)
        self.maxlen = max(20000, 4 * self.limits.history)  # entries per room stream, at most
        del self.rooms[self.lobby.key]  # rooms are in Redis; here: those with local members

    @property
    def up(self) -> bool:
        return self.sync is not None and self.sync.up

    def call(self, script: str, *args: Any) -> Any:
        """Run ``script``; the lines said so far this turn go to Redis first (in order)."""
        if self._said and script is not S.SAY:
            self._send_said()
        return self.sync.link.call(script, self.prefix, *args)

    # -- entering ---------------------------------------------------------------------

    @property
    def full(self) -> bool:
        return len(self.members) + len(self._entering) >= self.limits.max_clients

    def join(self, member: Member) -> str:
        """Enter ``member`` in the default room under a guest nick from Redis."""
        self._seq += 1
        member.cid = f"{self.node}:{self._seq}"
        member.in_room = False
        self.stats.connections += 1
        self._entering.add(member)
        lobby = self.lobby
        if not self.up:
            self._welcome_offline(member)
            return ""
        d = self.call(S.CONNECT, self.node, lobby.key, lobby.name, member.cid, self.maxlen,
                      self.limits.history)
        d.addCallbacks(self._welcome, lambda _: self._welcome_offline(member),
                       callbackArgs=(member,))
        return ""

    def _welcome(self, reply: list[Any], member: Member) -> None:
        nick, name, sid, who, hist = reply
        nick = nick.decode()
        if member not in self._entering:  # gone before Redis answered
            self._publish_quit(nick, self.lobby.key, member.cid, f"PART {nick} disconnected\n")
            return
        self._register(member, nick, asserted=True)
        feed = self._feed(self.lobby.key, name.decode())
        member.deliver(b"WELCOME " + nick.encode() + b"\n" + self._entering_lines(feed, hist))
        self._place(member, feed, sid, who)
        member.entered()

    def _welcome_offline(self, member: Member) -> None:
        if member not in self._entering:
            return
        while True:
            nick = f"guest{random.randrange(10**6, 10**7)}"
            if nick not in self.members:
                break
        self._register(member, nick, asserted=False)
        feed = self._feed(self.lobby.key, self.lobby.name)
        member.deliver(b"WELCOME " + nick.encode() + b"\n" + self._entering_lines(feed, [])
                       + b"INFO " + self.sync.LOST + b"\n")
        self._activate(feed, member)
        member.entered()

    def _register(self, member: Member, nick: str, asserted: bool) -> None:
        self._entering.discard(member)
        member.set_nick(nick)
        member.asserted = asserted
        member.in_room = True
        member.last_seen = self.clock.seconds()
        member.channel = self.limbo
        self.members[member.key] = member
        self.by_cid[member.cid] = member
        self.fanout.population += 1
        self.stats.clients += 1
        log.info("chat connect {address} as {nick} (node {node})", address=member.describe(),
                 nick=nick, node=self.node)
        if self._sweep_call is None and self.limits.idle_timeout > 0:
            self._schedule_sweep()

    def _entering_lines(self, feed: Feed, hist: list[bytes]) -> bytes:
        """``ROOM NAME`` and the room's history (``ID LINES`` elements, oldest first: the
        last ``--history`` lines of them, within ``--history-bytes``)."""
        lines = [b"ROOM " + feed.channel.name.encode() + b"\n"]
        budget = self.limits.history_bytes
        left = self.limits.history
        kept: list[bytes] = []
        for element in reversed(hist):
            sid, _, text = element.partition(b" ")
            stamp = b"HIST " + hist_time(parse_id(sid)[0] / 1000).encode() + b" "
            for line in reversed(text.split(b"\n")[:-1]):
                budget -= len(stamp) + len(line) + 1
                left -= 1
                if budget < 0 or left < 0:
                    break
                kept.append(stamp + line + b"\n")
            if budget < 0 or left <= 0:
                break
        lines.extend(reversed(kept))
        self.stats.messages_out += len(lines)
        return b"".join(lines)

    def _feed(self, key: str, name: str) -> Feed:
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = Feed(Channel(name))
            self.rooms[key] = feed.channel
        return feed

    def _place(self, member: Member, feed: Feed, sid: bytes, who: list[bytes]) -> None:
        """``member``'s JOIN entry is ``sid``: it gets the room's lines after that one."""
        member.feed = feed
        at = parse_id(sid)
        if feed.cursor is None:
            feed.seek(sid, who)
            self.sync.wake()
        if feed.last >= at:  # already read past its JOIN: catch up from recent lines
            self._activate(feed, member)
            lines, complete = feed.since(at, member.cid.encode())
            if not complete:
                lines.insert(0, b"INFO some lines of this room were missed\n")
            if lines:
                self.fanout.send(member, b"".join(lines))
        else:
            feed.waiting.append((at, member))

    def _activate(self, feed: Feed, member: Member) -> None:
        member.feed = feed
        self.fanout.keep(member)
        self.fanout.enter(member, feed.channel)
        feed.channel.members[member.key] = member

    # -- leaving ----------------------------------------------------------------------

    def leave(self, member: Member, reason: str, detail: str = "") -> None:
        if not member.in_room:
            self._entering.discard(member)
            return
        feed: Feed = member.feed
        self._unregister(member, reason)
        self.by_cid.pop(member.cid, None)
        self._unplace(member)
        text = reason + (" " + detail if detail else "")
        line = f"PART {member.nick} {text}\n"
        if member.asserted:
            self._publish_quit(member.nick, feed.key, member.cid, line)
        elif not self.closing:
            self.fanout.broadcast(feed.channel, None, line.encode(), urgent=False)
        self._drop_feed_if_empty(feed)

    def _unplace(self, member: Member) -> None:
        feed: Feed = member.feed
        feed.channel.members.pop(member.key, None)
        feed.waiting = [(at, m) for at, m in feed.waiting if m is not member]

    def _publish_quit(self, nick: str, key: str, cid: str, line: str) -> None:
        if self.up:
            d = self.call(S.QUIT, self.node, nick, key, cid, self.maxlen, line,
                          self.lobby.key)
            d.addErrback(lambda _: self.owed.append((nick, key, cid, line)))
            self.sync.track(d)
            return
        self.owed.append((nick, key, cid, line))  # published when the link is back
        feed = self.feeds.get(key)
        if feed is not None:
            feed.apply(b"-" + nick.encode())
            if not self.closing:
                self.fanout.broadcast(feed.channel, None, line.encode(), urgent=False)

    def _drop_feed_if_empty(self, feed: Feed) -> None:
        if feed.empty and self.feeds.get(feed.key) is feed:
            del self.feeds[feed.key]
            del self.rooms[feed.key]
            self.sync.forget(feed.key)

    # -- what members do --------------------------------------------------------------

    def say(self, sender: Member, data: bytes) -> None:
        """A ``MSG``/``ACTION`` line: into the room's stream (delivered as it is read).

        The lines of one reactor turn go in one script call, one batch (stream entry)
        per room."""
        self.fanout.budget -= len(data)
        sync = self.sync
        if not sender.asserted or sync is None or not sync.up:
            self.unavailable(sender)
            return
        key = sender.feed.key
        batch = self._open.get(key)
        if batch is not None and batch.senders[-1] is sender:  # (the common case, inline)
            batch.runs[-1].append(data)
            batch.lines += 1
        elif batch is None or not batch.add(sender, data):
            if not self._said:
                self.clock.callLater(0, self._send_said_later)
            batch = self._open[key] = Batch(key)
            self._said.append(batch)
            batch.add(sender, data)

    def _send_said_later(self) -> None:
        if self._said:
            self._send_said()

    def _send_said(self) -> None:
        said, self._said, self._open = self._said, [], {}
        if not self.up:
            d: Any = defer.fail(ConnectionError("no link to Redis"))
        else:
            args: list[Any] = []
            for batch in said:
                args += batch.args(self.limits.history)
            d = self.call(S.SAY, self.maxlen, self.limits.history, *args)
            d.addCallback(self._written, said)

        def failed(_: Any) -> None:
            for batch in said:
                for sender, run in zip(batch.senders, batch.runs, strict=True):
                    for _line in run:
                        if sender.in_room:
                            self.unavailable(sender)

        d.addErrback(failed)

    def _written(self, numbers: list[Any], batches: list[Batch]) -> None:
        for batch, number in zip(batches, numbers, strict=False):
            feed = self.feeds.get(batch.key)
            if feed is not None and number is not None:
                feed.written = max(feed.written, int(number))

    def unavailable(self, member: Member) -> None:
        self.stats.error("unavailable")
        self.fanout.send(member, UNAVAILABLE)

    def rename(self, member: Member, new: str) -> str | None:
        if not is_valid_nick(new):
            return "bad-nick"
        holder = self.members.get(new.lower())
        if holder is not None and holder is not member:
            return "nick-in-use"
        if member.nick == new:
            return None
        if not self.up or not member.asserted:
            self.unavailable(member)
            return None
        d = self.call(S.RENAME, self.node, member.nick, new, member.feed.key, self.maxlen)
        d.addCallbacks(self._renamed, lambda _: self.unavailable(member),
                       callbackArgs=(member, new))
        member.hold()
        d.addBoth(lambda _: member.release())
        return None

    def _renamed(self, sid: Any, member: Member, new: str) -> None:
        if not sid:
            self.stats.error("nick-in-use")
            self.fanout.send(member, f"ERR nick-in-use {new} is already taken\n".encode())
            return
        if member.in_room:
            self.local_rename(member, new)

    def local_rename(self, member: Member, new: str) -> None:
        """Re-key ``member`` under ``new`` on this node (Redis already has it)."""
        old = member.nick
        channel = member.feed.channel
        del self.members[member.key]
        there = channel.members.pop(member.key, None) is not None
        member.set_nick(new)
        self.members[member.key] = member
        if there:
            channel.members[member.key] = member
        log.info("chat nick {old} -> {new} ({address})", old=old, new=new,
                 address=member.describe())

    def move(self, member: Member, name: str) -> str | None:
        if name.startswith("#"):
            name = name[1:]
        if not is_valid_nick(name):
            return "bad-room"
        feed: Feed = member.feed
        if name.lower() == feed.key:
            self.fanout.send(member, b"ROOM " + feed.channel.name.encode() + b"\n")
            return None
        if not self.up or not member.asserted:
            self.unavailable(member)
            return None
        d = self.call(S.MOVE, self.node, member.nick, feed.key, name.lower(), name,
                      member.cid, self.maxlen, self.limits.history, self.limits.max_rooms,
                      self.lobby.key)
        d.addCallbacks(self._moved, lambda _: self.unavailable(member),
                       callbackArgs=(member, feed))
        member.hold()
        d.addBoth(lambda _: member.release())
        return None

    def _moved(self, reply: Any, member: Member, old: Feed) -> None:
        if not member.in_room:
            return
        if not reply:
            self.stats.error("max-rooms")
            self.fanout.send(member, f"ERR max-rooms there are already "
                             f"{self.limits.max_rooms} rooms; join one of them (/rooms)\n"
                             .encode())
            return
        _nick, name, sid, who, hist = reply
        self.fanout.keep(member)  # what the old room owes it so far
        self._unplace(member)
        self._drop_feed_if_empty(old)
        member.channel = self.limbo
        feed = self._feed(name.decode().lower(), name.decode())
        self.fanout.send(member, self._entering_lines(feed, hist))
        self._place(member, feed, sid, who)
        log.info("chat move {nick} {old} -> {new}", nick=member.nick, old=old.channel.name,
                 new=feed.channel.name)

    def private(self, sender: Member, nick: str, data: bytes) -> None:
        """``/msg``: at once to a member of this node, else through the owner node's inbox."""
        target = self.members.get(nick.lower())
        if target is not None:
            self.fanout.send(target, data)
            return
        if not self.up:
            self.unavailable(sender)
            return

        def sent(found: Any) -> None:
            if not found and sender.in_room:
                self.stats.error("no-such-nick")
                self.fanout.send(sender, f"ERR no-such-nick {nick} is not connected\n"
                                 .encode())

        d = self.call(S.PRIV, nick.lower(), data)
        d.addCallbacks(sent, lambda _: self.unavailable(sender))

    def send_rooms(self, member: Member) -> None:
        """``/rooms``: the rooms of the whole chat, counted in Redis."""
        if not self.up:
            self.unavailable(member)
            return

        def counted(flat: list[Any]) -> None:
            pairs = sorted(zip(flat[::2], flat[1::2], strict=False), key=lambda p: p[0].lower())
            text = " ".join(f"{name.decode()}:{n}" for name, n in pairs)
            if member.in_room:
                self.fanout.send(member, f"ROOMS {text}\n".encode())

        self.call(S.ROOMS).addCallbacks(counted, lambda _: self.unavailable(member))

    def who(self, member: Member | None = None) -> list[str]:
        if member is None:
            return [m.nick for m in self.members.values()]
        return list(member.feed.who.values())
