"""The ``--cluster`` options of ``twistd chat`` and the service they describe."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netsuite._options import positive_float, positive_int
from netsuite.chat.cluster._link import cluster_url

__all__ = ["OPTIONS", "check", "cluster_name", "make_cluster_service"]


def cluster_name(value: str) -> str:
    """``--cluster-name``: 1-64 ASCII letters, digits, ``_``, ``-`` or ``.``."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ValueError(f"{value!r} is not a cluster name: use 1-64 ASCII letters, digits, "
                         "_, - or .")
    return value


cluster_name.coerceDoc = "1-64 ASCII letters, digits, _, - or ."  # type: ignore[attr-defined]

#: Added to the chat plugin's ``optParameters``.
OPTIONS: list[list[Any]] = [
    ["cluster", None, None,
     "Be one node of a chat shared through this Redis (7.0+): redis://HOST:PORT[/DB] or "
     "unix:///PATH[?db=N] (default: none, a chat of its own).", cluster_url],
    ["cluster-name", None, "netsuite",
     "Nodes with the same Redis and name serve one chat (Redis keys start chat:NAME:).",
     cluster_name],
    ["node-timeout", None, 15.0,
     "A node silent this many seconds is dead: its members are parted on the others.",
     positive_float],
    ["workers", None, 1,
     "Serving processes sharing the listeners (above 1 needs --cluster).", positive_int],
]


def check(options: Any) -> None:
    """``postOptions``: ``--cluster`` needs txredisapi; ``--workers`` above 1 needs
    ``--cluster``."""
    from twisted.python import usage

    if options["cluster"] is not None:
        try:
            import txredisapi  # noqa: F401
        except ImportError:
            raise usage.UsageError("--cluster needs the txredisapi package: pip install "
                                   "'txnetsuite[cluster]'") from None
    if options["workers"] > 1 and options["cluster"] is None:
        raise usage.UsageError("--workers above 1 needs --cluster (the workers share one chat "
                               "through Redis)")


def make_cluster_service(options: Any, description: str | None, web: str | None,
                         reactor: Any, collectors: Callable[[Any], list[Any]]) -> Any:
    """The service for parsed chat ``options`` with ``--cluster``: one node listening on
    ``description`` (and ``web``), or with ``--workers N`` a supervisor of N nodes sharing
    those listeners; ``collectors(service)`` are a node's metrics."""
    from netsuite._metrics import with_metrics
    from netsuite.chat.cluster._service import ClusterChatService
    from netsuite.chat.cluster._workers import WorkersService, child_args

    if options["workers"] > 1:
        return WorkersService(description, web, options["workers"], child_args(options),
                              options["metrics"], reactor)
    service = ClusterChatService(description, options.limits(), options["cluster"],
                                 options["cluster-name"], options["node-timeout"], reactor,
                                 web=web, web_origins=options.get("web-origin", ()))
    return with_metrics(service, options["metrics"], collectors(service), reactor)
