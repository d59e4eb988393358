"""``twistd chat``: options and the service (see README "Chat server")."""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.python import usage

from netsuite._endpoints import ListenerService, listen_option, resolve_listener
from netsuite._metrics import chat_collectors, metrics_option, with_metrics
from netsuite._options import non_negative_float, non_negative_int, positive_float, positive_int
from netsuite.chat._lean import lean_tcp
from netsuite.chat._protocol import ChatFactory
from netsuite.chat._room import Room, RoomLimits, Stats
from netsuite.chat._roommetrics import room_collectors
from netsuite.chat._wire import is_valid_nick
from netsuite.chat.cluster._options import OPTIONS as CLUSTER_OPTIONS
from netsuite.chat.cluster._options import check as check_cluster
from netsuite.chat.web import WebListener, web_collectors, web_origin

__all__ = ["ChatService", "Options", "makeService"]


_DEFAULTS = RoomLimits()


def room_name(value: str) -> str:
    """A room name (a leading ``#`` is dropped); ValueError unless 1-32 of ``A-Za-z0-9_-``."""
    name = value[1:] if value.startswith("#") else value
    if not is_valid_nick(name):
        raise ValueError(f"{value!r} is not a room name: use 1-32 ASCII letters, digits, _ or -")
    return name


room_name.coerceDoc = "1-32 ASCII letters, digits, _ or -."  # type: ignore[attr-defined]


class Options(usage.Options):
    """Command-line options of the ``chat`` plugin."""

    synopsis = "[--port 8086] [--interface ADDR] [--history 50] [--max-clients 10000] ..."
    longdesc = ("A line-based TCP chat with rooms and history: nicknames, /join /rooms /who "
                "/msg /me /ping /quit /help, heartbeats, idle timeout, slow-consumer and "
                "flood limits.")

    optParameters = [
        ["port", "p", "8086",
         "Listen on this endpoint description (tcp:8086, ssl:8443:privateKey=...:certKey=..., "
         "unix:/path) or bare port (on --interface). tcp/ssl listeners get backlog=1024 "
         "unless given.", listen_option],
        ["interface", None, None,
         "The address a bare --port binds (default: every interface; a full endpoint "
         "description keeps its own)."],
        ["max-line", None, 4096, "Longest line in bytes (line end not counted).", positive_int],
        ["idle-timeout", None, 60.0,
         "Drop a client silent for this many seconds (0 = never).", non_negative_float],
        ["max-backlog", None, 1024 * 1024,
         "Drop a client whose unsent output passes this many bytes.", positive_int],
        ["flood", None, 0, "Messages per second per client (0 = no limit).", non_negative_int],
        ["flood-drop-after", None, 10.0,
         "Drop a client (BYE flood) that keeps flooding for this many seconds.", positive_float],
        ["max-clients", None, 10000, "Most clients connected at once.", positive_int],
        ["shutdown-timeout", None, 5.0,
         "On SIGTERM/SIGINT, wait this long for BYE to reach clients.", positive_float],
        ["history", None, 50,
         "MSG/ACTION lines kept per room and replayed on entering it (0 = off).",
         non_negative_int],
        ["history-bytes", None, 64 * 1024,
         "At most this many bytes of history (HIST lines) per room.", positive_int],
        ["default-room", None, "lobby",
         "The room every client is in on connect (1-32 letters, digits, _ or -).", room_name],
        ["max-rooms", None, 1000,
         "Most rooms at once (a room exists while it has members or history).", positive_int],
        ["congestion-grace", None, _DEFAULTS.congestion_grace,
         "Hold input back for a client whose socket is full only this many seconds after "
         "its last progress (0 = never).", non_negative_float],
        ["congestion-hold", None, _DEFAULTS.congestion_hold,
         "Hold input back at most this many seconds at a stretch (0 = never).",
         non_negative_float],
        ["congestion-regain", None, _DEFAULTS.congestion_regain,
         "... regaining that allowance this many times as fast while not holding: input "
         "is read at least 1/(1+N) of the time.", positive_float],
        metrics_option(),
        ["web", None, "none", "Also serve the chat page at / and a WebSocket at /ws on this "
         "endpoint (ssl:... for https and wss) or bare port (on --interface).", listen_option],
        *CLUSTER_OPTIONS,
    ]

    def postOptions(self) -> None:
        check_cluster(self)

    def opt_web_origin(self, origin: str) -> None:
        """Also accept WebSockets from pages of this origin, e.g. https://chat.example.com
        (repeatable; the page's own origin is always accepted)."""
        try:
            self.setdefault("web-origin", []).append(web_origin(origin))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def limits(self) -> RoomLimits:
        """The room limits these options describe."""
        return RoomLimits(
            max_line=self["max-line"],
            idle_timeout=self["idle-timeout"],
            max_backlog=self["max-backlog"],
            flood=self["flood"],
            flood_drop_after=self["flood-drop-after"],
            max_clients=self["max-clients"],
            shutdown_timeout=self["shutdown-timeout"],
            history=self["history"],
            history_bytes=self["history-bytes"],
            default_room=self["default-room"],
            max_rooms=self["max-rooms"],
            congestion_grace=self["congestion-grace"],
            congestion_hold=self["congestion-hold"],
            congestion_regain=self["congestion-regain"],
        )


class ChatService(MultiService):
    """The chat listener plus its room.

    Attributes: ``factory`` (:class:`ChatFactory`), ``room`` (:class:`Room`), ``stats``
    (:class:`Stats`: ``clients``, ``connections``, ``messages_in``, ``messages_out``,
    ``bytes_in``, ``bytes_out``, ``drops`` by reason), ``listener``
    (:class:`ListenerService`, label ``chat``).  Stopping writes ``BYE shutdown`` to every
    client, then closes the listener at once (no new connections), and fires once every
    client has closed or ``--shutdown-timeout`` has passed.
    """

    def __init__(self, description: str | None, limits: RoomLimits, reactor: Any = None,
                 web: str | None = None, web_origins: Any = (),
                 factory: ChatFactory | None = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        # (a cluster node brings its own factory, whose room lives in Redis)
        self.factory = factory if factory is not None else ChatFactory(reactor, limits)
        self.listener: ListenerService | None = None
        if description is not None:  # --port none: no TCP listener (another one serves)
            self.listener = ListenerService(description, self.factory, "chat",
                                            lean_tcp(reactor))
            self.listener.setServiceParent(self)
        self.web: WebListener | None = None  # --web: the page and WebSocket (label chat-web)
        if web is not None:
            self.web = WebListener(web, self.factory, max_line=limits.max_line,
                                   idle_timeout=limits.idle_timeout, origins=web_origins,
                                   reactor=reactor)
            self.web.setServiceParent(self)

    @property
    def room(self) -> Room:
        return self.factory.room

    @property
    def stats(self) -> Stats:
        return self.factory.room.stats

    def stopService(self) -> defer.Deferred[None]:
        closed = self.room.shutdown()  # BYE shutdown is written to everyone first...
        stopped = defer.maybeDeferred(MultiService.stopService, self)  # ...then stop accepting
        return defer.gatherResults([closed, stopped]).addCallback(lambda _: None)


def makeService(options: Options, reactor: Any = None) -> Any:
    """The ``chat`` service for parsed ``options`` (with ``--metrics``, its endpoint too;
    with ``--cluster``, a node of a chat shared through Redis, or N of them)."""
    description = resolve_listener(options["port"], options["interface"])
    web = resolve_listener(options["web"], options["interface"])
    if options["cluster"] is not None:
        from netsuite.chat.cluster._options import make_cluster_service

        return make_cluster_service(options, description, web, reactor, collectors)
    service = ChatService(description, options.limits(), reactor,
                          web=web, web_origins=options.get("web-origin", ()))
    return with_metrics(service, options["metrics"], collectors(service), reactor)


def collectors(service: ChatService) -> list[Any]:
    """The metrics of a chat service: counters, rooms, and the web listener's."""
    return [*chat_collectors(service), *room_collectors(service),
            *web_collectors(service.web)]
