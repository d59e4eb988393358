"""``--workers N`` for the chat: N chat processes sharing the chat (and ``--web``)
listener, each a cluster node (see :mod:`netsuite._workers`); SIGTERM to the supervisor
stops every worker, each saying ``BYE shutdown`` to its clients."""

from __future__ import annotations

from typing import Any

from netsuite._workers import WorkersService as _Supervisor
from netsuite._workers import child_args as _child_args
from netsuite._workers import worker_metrics

__all__ = ["WorkersService", "child_args", "worker_metrics"]


def child_args(options: Any) -> list[str]:
    """The plugin arguments that give ``options`` again, less ``--workers`` (and the
    listeners, which the workers inherit)."""
    return _child_args(options, ("workers", "port", "web", "metrics", "interface"),
                       repeated=("web-origin",))


class WorkersService(_Supervisor):
    """Listen on ``description`` (and ``web``), then run ``count`` workers
    (``python -m netsuite.chat.cluster._worker ARGS --adopt-port FD:FAMILY ...``)."""

    def __init__(self, description: str | None, web: str | None, count: int,
                 args: list[str], metrics: str | None = None, reactor: Any = None) -> None:
        listeners = {option: (where, label) for option, label, where in
                     (("port", "chat", description), ("web", "chat-web", web))
                     if where is not None}
        if description is None:
            args = [*args, "--port", "none"]
        super().__init__("netsuite.chat.cluster._worker", "chat", listeners, count, args,
                         metrics, reactor)
