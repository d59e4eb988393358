"""A node's link to Redis: two connections, kept up with backoff, spoken to with txredisapi.

``commands`` runs the chat's Lua scripts (pipelined: many in flight on one connection, each
reply matched in order by txredisapi); ``reader`` runs the blocking ``XREAD`` that brings
the rooms' lines.  Each connection is a :class:`~twisted.application.internet.ClientService`
(reconnects with exponential backoff); a reply that does not come within the timeout
aborts its connection, so a Redis that hangs counts as one that is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger

__all__ = ["Link", "RedisTarget", "cluster_url"]

log = Logger()


@attrs.frozen
class RedisTarget:
    """Where Redis is: ``host``/``port`` or a UNIX socket ``path``, and the ``db`` number."""

    host: str | None = None
    port: int = 6379
    path: str | None = None
    db: int = 0

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix://{self.path}" + (f"?db={self.db}" if self.db else "")
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"redis://{host}:{self.port}" + (f"/{self.db}" if self.db else "")

    def endpoint(self, reactor: Any, timeout: float) -> Any:
        if self.path is not None:
            return UNIXClientEndpoint(reactor, self.path, timeout=timeout)
        return HostnameEndpoint(reactor, self.host, self.port, timeout=timeout)


def cluster_url(value: str) -> RedisTarget | None:
    """The ``--cluster`` option: ``redis://HOST:PORT[/DB]``, ``unix:///PATH[?db=N]`` or
    ``none``; ValueError for anything else."""
    if value.strip().lower() == "none":
        return None
    url = urlsplit(value.strip())
    try:
        if url.scheme == "redis":
            db = url.path.strip("/")
            if not url.hostname:
                raise ValueError("no host")
            return RedisTarget(host=url.hostname, port=url.port or 6379,
                               db=int(db) if db else 0)
        if url.scheme == "unix" and url.path:
            query = dict(p.partition("=")[::2] for p in url.query.split("&") if p)
            return RedisTarget(path=url.path, db=int(query.get("db", 0)))
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not redis://HOST:PORT[/DB], unix:///PATH or none")


cluster_url.coerceDoc = "redis://HOST:PORT[/DB], unix:///PATH or none."  # type: ignore[attr-defined]


_protocol_class: Any = None


def _protocol(timeout: float) -> Any:
    """A txredisapi protocol that hands replies on as hiredis parsed them (bytes, ints,
    lists: no per-element pass to convert them) and encodes commands in one join."""
    global _protocol_class
    if _protocol_class is None:
        import txredisapi

        class Protocol(txredisapi.RedisProtocol):  # type: ignore[misc,name-defined]
            def tryConvertData(self, data: Any) -> Any:
                return data  # (no charset, no number conversion: nothing to do)

            def _build_command(self, *args: Any, **kwargs: Any) -> bytes:
                out = [b"*%d\r\n" % len(args)]
                for arg in args:
                    if type(arg) is not bytes:
                        arg = self._encode_value(arg)
                    out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
                return b"".join(out)

        _protocol_class = Protocol
    return _protocol_class(charset=None, convertNumbers=False, replyTimeout=timeout)


class _Connection:
    """One connection to Redis, kept up by a ClientService; ``proto`` is None while down."""

    def __init__(self, link: Link, name: str, timeout: float) -> None:
        self.link = link
        self.name = name
        self.proto: Any = None
        factory = Factory.forProtocol(lambda: _protocol(timeout))
        self.service = ClientService(
            link.target.endpoint(link.reactor, timeout), factory,
            retryPolicy=backoffPolicy(initialDelay=0.1, factor=2.0, maxDelay=2.0),
            clock=link.reactor, prepareConnection=self._prepare)

    def _prepare(self, proto: Any) -> defer.Deferred[None]:
        # Nothing here waits for Redis to answer: a connection that the service rejected
        # and that closes later upsets ClientService.  A hung Redis shows up as the first
        # command's timeout instead, which closes the connection the ordinary way.
        def ready(_: Any) -> None:
            self.proto = proto
            if self is self.link.commands:  # before anything that uses them, in order
                for script in self.link.scripts:
                    proto.execute_command("SCRIPT", "LOAD", script).addErrback(
                        lambda _: None)  # a failure closes the connection (timeout)
            proto.whenDisconnected().addCallback(lambda _: self._lost(proto))
            if self.link.target.db:
                proto.execute_command("SELECT", self.link.target.db).addErrback(
                    lambda _: None)  # a failure closes the connection (timeout)
            self.link.changed(self)

        return proto.whenConnected().addCallback(ready)

    def _lost(self, proto: Any) -> None:
        if self.proto is proto:
            self.proto = None
            self.link.changed(self)


class Link:
    """The ``commands`` and ``reader`` connections to ``target``.

    ``on_change(up)`` is called whenever the command connection comes up or goes down;
    ``on_reader()`` whenever the reader connection comes up.
    """

    def __init__(self, reactor: Any, target: RedisTarget, on_change: Callable[[bool], None],
                 on_reader: Callable[[], None], scripts: tuple[str, ...] = (),
                 timeout: float = 2.0, block: float = 2.0) -> None:
        self.reactor = reactor
        self.target = target
        self.on_change = on_change
        self.on_reader = on_reader
        self.block = block
        self.scripts = scripts
        self.commands = _Connection(self, "commands", timeout)
        self.reader = _Connection(self, "reader", timeout + block + 1)
        self._shas: dict[str, str] = {}

    @property
    def up(self) -> bool:
        return self.commands.proto is not None

    def start(self) -> None:
        self.commands.service.startService()
        self.reader.service.startService()

    def stop(self) -> defer.Deferred[Any]:
        return defer.gatherResults([defer.maybeDeferred(c.service.stopService)
                                    for c in (self.commands, self.reader)])

    def changed(self, connection: _Connection) -> None:
        up = connection.proto is not None
        log.info("chat cluster: {name} connection to {target} {state}", name=connection.name,
                 target=str(self.target), state="up" if up else "down")
        if connection is self.commands:
            self.on_change(up)
        elif up:
            self.on_reader()

    def call(self, script: str, *args: Any) -> defer.Deferred[Any]:
        """Run ``script`` (one of ``scripts``, loaded when the connection was made: so a
        script's calls stay in the order they were made, which falling back from
        ``EVALSHA`` to ``EVAL`` would not keep)."""
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest()
        return self.command("EVALSHA", sha, 0, *args)

    def command(self, *args: Any) -> defer.Deferred[Any]:
        """Run one plain command on the command connection."""
        proto = self.commands.proto
        if proto is None:
            return defer.fail(ConnectionError("no link to Redis"))
        try:
            return proto.execute_command(*args)
        except Exception as e:
            return defer.fail(e)

    def read(self, keys: list[bytes], ids: list[bytes], count: int = 1000) -> defer.Deferred[Any]:
        """``XREAD COUNT count BLOCK block STREAMS keys ids`` on the reader connection."""
        proto = self.reader.proto
        if proto is None:
            return defer.fail(ConnectionError("no link to Redis"))
        try:
            return proto.execute_command("XREAD", "COUNT", count, "BLOCK",
                                         int(self.block * 1000), "STREAMS", *keys, *ids)
        except Exception as e:
            return defer.fail(e)
