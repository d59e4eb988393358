"""Keeping a node in step with Redis: reading streams, heartbeats, dead nodes, outages.

* The reader loop ``XREAD``\\ s the streams of the rooms the node has members in, plus its
  inbox (private messages, wake-ups), and hands each entry to the room.
* Every ``node_timeout / 6`` seconds the node renews its lease (``node:ID``, which expires
  after ``0.6 * node_timeout``) and runs ``REAP``: any node whose lease has expired has its
  members parted (``PART NICK disconnected``) by whichever node gets there first (the
  script is atomic, so exactly one does).
* When the link is lost, members are told (``INFO``) and lines to rooms get
  ``ERR unavailable``; when it is back, the node re-asserts its members (a nick taken
  meanwhile becomes a guest nick, with ``NICK``), publishes the departures it owes, reads
  each room's state again, and tells members it is back.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger

from netsuite.chat.cluster import _scripts as S
from netsuite.chat.cluster._feed import parse_id
from netsuite.chat.cluster._link import Link, RedisTarget

__all__ = ["Sync"]

log = Logger()


class Sync:
    """The link of ``room`` (a :class:`~netsuite.chat.cluster._node.ClusterRoom`) to
    Redis at ``target``, with members parted ``node_timeout`` seconds after a node dies."""

    LOST = (b"the chat has lost its link to its store (Redis): messages to rooms get "
            b"ERR unavailable until it is back")
    BACK = b"the chat's link to its store (Redis) is back"

    def __init__(self, reactor: Any, room: Any, target: RedisTarget,
                 node_timeout: float = 15.0) -> None:
        self.reactor = reactor
        self.room = room
        self.node_timeout = node_timeout
        timeout = min(5.0, max(0.5, node_timeout / 2))  # a Redis this slow counts as gone
        self.link = Link(reactor, target, self._changed, self._reader_up, S.ALL,
                         timeout=timeout, block=min(2.0, node_timeout / 3))
        self.up = False
        self.running = False
        self.inbox = f"{room.prefix}i:{room.node}".encode()
        self._inbox_at = b"0-0"
        self._generation = 0
        self._pending: set[defer.Deferred[Any]] = set()
        self._reader_back: defer.Deferred[None] | None = None
        self._beat = task.LoopingCall(self._heartbeat)
        self._beat.clock = reactor
        self._reading: defer.Deferred[None] | None = None
        self._reported: dict[str, int] = {}  # room key -> line number last reported
        self._report_after = 0.0
        room.sync = self

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        self.running = True
        self.link.start()
        self._beat.start(self.node_timeout / 6, now=False).addErrback(
            lambda f: log.failure("chat cluster heartbeat", f))
        self._reading = defer.ensureDeferred(self._read_loop())

    async def stop(self) -> None:
        """Publish what is owed (members' departures), release the lease, disconnect."""
        self.running = False
        if self._beat.running:
            self._beat.stop()
        if self._pending:
            await defer.DeferredList(list(self._pending))
        if self.up:
            room = self.room
            try:
                await self.link.command("DEL", f"{room.prefix}node:{room.node}")
                await self.link.command("SREM", f"{room.prefix}nodes", room.node)
            except Exception:
                pass
        await self.link.stop()
        if self._reader_back is not None:
            self._reader_back.callback(None)

    def track(self, d: defer.Deferred[Any]) -> None:
        """Wait for ``d`` before disconnecting on stop."""
        self._pending.add(d)
        d.addBoth(lambda r: (self._pending.discard(d), r)[1])

    # -- the link going down and coming back ---------------------------------------

    def _changed(self, connected: bool) -> None:
        self._generation += 1
        if connected:
            self._reported.clear()  # (Redis may be a new one: report again)
            defer.ensureDeferred(self._resync(self._generation))
        elif self.up:
            self.up = False
            self._tell(self.LOST)

    def _tell(self, text: bytes) -> None:
        for member in list(self.room.members.values()):
            self.room.fanout.send(member, b"INFO " + text + b"\n")

    async def _resync(self, generation: int, state: int | None = None) -> None:
        """Re-assert this node in Redis; ``state`` is BEAT's answer if already asked."""
        room = self.room
        try:
            if state is None:
                state = await room.call(S.BEAT, room.node, self._lease_ms())
            if state == 2:  # declared dead meanwhile: its members were parted already
                room.owed.clear()
            fresh = [f for f in room.feeds.values() if f.cursor is None]
            for feed in fresh:
                await self._snapshot(feed)
            for member in list(room.members.values()):
                await self._reassert(member, announce=state == 2 or not member.asserted)
            await self._forget_strays()
            while room.owed:
                nick, key, _cid, line = room.owed[0]
                await room.call(S.QUIT, room.node, nick, key, f"{room.node}:*", room.maxlen,
                                line, room.lobby.key)
                room.owed.pop(0)
            for feed in list(room.feeds.values()):
                if feed not in fresh:
                    await self._snapshot(feed)
        except Exception as e:
            log.info("chat cluster: rejoin interrupted ({error})", error=str(e))
            return
        if generation != self._generation or not self.running:
            return
        was_down = not self.up
        self.up = True
        log.info("chat cluster: node {node} in step with {target}", node=room.node,
                 target=str(self.link.target))
        if was_down and room.members:
            self._tell(self.BACK)
        self.wake()

    async def _forget_strays(self) -> None:
        """Part the members Redis has for this node that it does not have (a connect
        whose answer was lost with the link, say)."""
        room = self.room
        held = await self.link.command("HGETALL", f"{room.prefix}m:{room.node}")
        for key, value in zip(held[::2], held[1::2], strict=False):
            if key.decode() not in room.members:
                nick, _, where = value.decode().partition(" ")
                await room.call(S.QUIT, room.node, nick, where, "", room.maxlen,
                                f"PART {nick} disconnected\n", room.lobby.key)

    async def _reassert(self, member: Any, announce: bool) -> None:
        room = self.room
        feed = member.feed
        nick, _sid = await room.call(S.REASSERT, room.node, member.nick, feed.key,
                                    feed.channel.name, member.cid, room.maxlen,
                                    "1" if announce else "0")
        member.asserted = True
        nick = nick.decode()
        if nick != member.nick and member.in_room:
            room.local_rename(member, nick)

    async def _snapshot(self, feed: Any) -> None:
        """Read the room's members list again; a feed not read yet starts at the end."""
        last, who = await self.room.call(S.SNAPSHOT, feed.key)
        feed.written = 0  # (entry numbers start again if Redis lost the room)
        cursor = feed.cursor
        feed.seek(cursor or last or b"0-0", who)
        if cursor is None:
            for _, member in feed.waiting:
                self.room._activate(feed, member)
            feed.waiting.clear()

    def _lease_ms(self) -> int:
        return int(self.node_timeout * 600)

    def _heartbeat(self) -> defer.Deferred[None] | None:
        if not self.up:
            return None
        return defer.ensureDeferred(self._beat_once())

    async def _beat_once(self) -> None:
        room = self.room
        try:
            state = await room.call(S.BEAT, room.node, self._lease_ms())
            if state != 0:  # our lease had lapsed (a slow node, or Redis restarted)
                log.info("chat cluster: lease of node {node} had lapsed; rejoining",
                         node=room.node)
                self._generation += 1
                await self._resync(self._generation, state)
                return
            parted = await room.call(S.REAP, room.node, room.maxlen, room.lobby.key)
            if parted:
                log.info("chat cluster: parted {n} members of dead nodes", n=parted)
        except Exception as e:
            log.info("chat cluster: heartbeat failed ({error})", error=str(e))

    # -- reading streams ----------------------------------------------------------------

    def wake(self) -> None:
        """Make the reader start a new XREAD (the set of rooms to read has changed)."""
        if self.link.up:
            self.link.command("XADD", self.inbox, "MAXLEN", "~", 100, "*", "w", "1"
                              ).addErrback(lambda _: None)

    def _reader_up(self) -> None:
        back, self._reader_back = self._reader_back, None
        if back is not None:
            back.callback(None)

    async def _read_loop(self) -> None:
        fanout = self.room.fanout
        while self.running:
            await self._room_for_output()
            keys = [self.inbox]
            ids = [self._inbox_at]
            for feed in self.room.feeds.values():
                if feed.cursor is not None:
                    keys.append(f"{self.room.prefix}r:{feed.key}:log".encode())
                    ids.append(feed.cursor)
            try:
                reply = await self.link.read(keys, ids, self.COUNT)
            except Exception:
                if not self.running:
                    return
                if self.link.reader.proto is None:
                    self._reader_back = defer.Deferred()
                    await self._reader_back
                else:
                    await task.deferLater(self.reactor, 0.1, lambda: None)
                continue
            if reply:
                try:
                    await self._dispatch(reply)
                except Exception:
                    log.failure("chat cluster: bad stream entry")
                if fanout._waiting:  # input held back while we were behind may go on
                    fanout._schedule_now()
                if self.reactor.seconds() >= self._report_after:
                    self._report()

    #: How often (seconds, at most) a node tells Redis how far it has read each room ...
    REPORT_SECONDS = 0.1
    #: ... once it has read this many more lines there (or started reading it).
    REPORT_LINES = 1000

    def _report(self) -> None:
        """Tell Redis how far this node has read each room (``r:KEY:at``), so that a room's
        stream keeps what it has not read yet (the stream is trimmed by these only when it
        holds many lines, so a report every :attr:`REPORT_LINES` lines is enough)."""
        room = self.room
        self._report_after = self.reactor.seconds() + self.REPORT_SECONDS
        reported = self._reported
        for key, feed in room.feeds.items():
            cursor = feed.cursor
            if cursor is None:
                continue
            last = reported.get(key)
            if last is None or feed.number - last >= self.REPORT_LINES:
                reported[key] = feed.number
                self.link.command("HSET", f"{room.prefix}r:{key}:at", room.node, cursor
                                  ).addErrback(lambda _: None)

    def forget(self, key: str) -> None:
        """This node no longer reads room ``key``."""
        if self._reported.pop(key, None) is not None:
            room = self.room
            self.link.command("HDEL", f"{room.prefix}r:{key}:at", room.node
                              ).addErrback(lambda _: None)

    #: Entries read per room per ``XREAD`` (each at most a turn of a node's input).
    COUNT = 128

    async def _room_for_output(self) -> None:
        """Wait while this turn's output is spent or members' sockets are full."""
        fanout = self.room.fanout
        while fanout.read_budget <= 0 and self.running:
            if fanout.congested():  # members' sockets are full: read on when they drain
                # (or for a bounded time, as for a single server's input: see Fanout)
                await fanout.drained(fanout._recheck + 0.001)
            else:
                await fanout.next_turn()

    async def _dispatch(self, reply: list[Any]) -> None:
        room = self.room
        fanout = room.fanout
        skip_prefix = len(room.prefix) + 2  # "r:"
        for key, entries in reply:
            if key == self.inbox:
                for sid, fields in entries:
                    self._inbox_at = sid
                    self._private(fields)
                continue
            feed = room.feeds.get(key[skip_prefix:-4].decode())
            for sid, fields in entries:
                if fanout.read_budget <= 0:
                    await self._room_for_output()
                if feed is None or room.feeds.get(feed.key) is not feed:
                    break  # (its last local member left meanwhile)
                self._entry(feed, sid, fields)

    def _private(self, fields: list[bytes]) -> None:
        entry = dict(zip(fields[::2], fields[1::2], strict=False))
        target = entry.get(b"t")
        if target is None:
            return
        member = self.room.members.get(target.decode())
        if member is not None:
            self.room.fanout.send(member, entry[b"d"])

    def _entry(self, feed: Any, sid: bytes, fields: list[bytes]) -> None:
        """One entry of a room's stream: ``n N c C o OP`` then ``s CID d LINES`` pairs."""
        at = parse_id(sid)
        if at <= feed.last:
            return
        feed.last = at
        feed.cursor = sid
        number = int(fields[1])
        room = self.room
        if feed.number and number - int(fields[3]) > feed.number:  # lines trimmed unread
            for member in list(feed.channel.members.values()):
                room.fanout.send(member, b"INFO some lines of this room were missed\n")
        feed.number = number
        op = fields[5]
        if op:
            feed.apply(op)
        if feed.waiting:
            ready = [m for when, m in feed.waiting if when <= at]
            if ready:
                feed.waiting = [(when, m) for when, m in feed.waiting if when > at]
                for member in ready:
                    room._activate(feed, member)
        own = self._own
        recent = feed.recent
        channel = feed.channel
        for i in range(7, len(fields), 4):
            sender, data = fields[i], fields[i + 2]
            recent.append((at, sender, data))
            if not data or sender == own:
                continue
            member = room.by_cid.get(sender.decode()) if sender else None
            room.fanout.broadcast(channel, member, data, lines=data.count(b"\n"))
            room.fanout.read_budget -= len(data)

    @property
    def _own(self) -> bytes:
        """The sender of this node's own departures, delivered already (while down)."""
        return f"{self.room.node}:*".encode()
