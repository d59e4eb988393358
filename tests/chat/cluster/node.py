"""Run one chat node as a process: ``python -m tests.chat.cluster.node [chat options]``."""

import sys

from netsuite.chat.cluster._worker import main

if __name__ == "__main__":
    main(sys.argv[1:])
