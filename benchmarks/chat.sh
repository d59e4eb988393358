#!/bin/sh
# Chat benchmarks: netsuite's chat server beside the Go and naive Twisted peers, 3 runs each.
#   benchmarks/chat.sh                      # chat-fanout-2k and chat-idle
#   RUNS=1 benchmarks/chat.sh chat-fanout   # one workload: chat-fanout, chat-fanout-2k, chat-idle
# Needs Go for the load generator (see ../shared/bench/README.md). Results: docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-3}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
SERVER="twistd -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1 --max-clients 20000"
for workload in ${*:-chat-fanout-2k chat-idle}; do
    if [ "$workload" = chat-idle ]; then
        "$PY" benchmarks/run.py "$workload" --runs "$RUNS" --server "$SERVER" -- \
            -heartbeat /ping
    else
        "$PY" benchmarks/run.py "$workload" --runs "$RUNS" --server "$SERVER" -- \
            -hello "/nick u%d" -heartbeat /ping
    fi
done
