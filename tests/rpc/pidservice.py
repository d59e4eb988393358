"""``twistd rpc --service tests.rpc.pidservice``: ``Worker.Pid()``, the serving process's
id (to see which ``--workers`` worker answered)."""

from __future__ import annotations

import os

from netsuite.rpc import SERVICE

if "Worker.Pid" not in {method.name for method in SERVICE}:

    @SERVICE.register("Worker.Pid", [], int, "Pid(): the serving process's id.")
    def worker_pid() -> int:
        """This process's id."""
        return os.getpid()
