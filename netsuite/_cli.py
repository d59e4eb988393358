"""The ``netsuite`` console script: one command, a subcommand per client.

Each subcommand lives in its own module, imported only when it is used, which provides::

    DESCRIPTION: str
    def configure(parser: argparse.ArgumentParser) -> None
    async def run(reactor, args: argparse.Namespace) -> int

Exit status: 0 success; 1 network or remote failure (``CommandFailed``, a one-line reason
on stderr); 2 usage error (argparse errors, ``UsageFailure``, an unknown subcommand); 130 when
the user interrupted it (Ctrl-C), as shells expect.  An interrupt cancels the running
command: the coroutine sees :class:`twisted.internet.defer.CancelledError` at the ``await`` it
is waiting on, so a command with a summary to print (``netsuite udp --count``) prints it in
an ``except CancelledError`` (or ``finally``) block and re-raises; nothing else is printed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from netsuite import __version__

__all__ = ["SUBCOMMANDS", "CommandFailed", "UsageFailure", "main", "run_command"]

#: name -> (module, one-line summary).  Modules are imported lazily.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("netsuite.chat._client", "terminal chat client: netsuite chat HOST:PORT --nick NAME"),
    "head": ("netsuite.head._cli", "fetch HTTP response heads: netsuite head TARGET..."),
    "udp": ("netsuite.udpecho._client", "send stdin lines as datagrams, or ping (--count N)"),
    "send": ("netsuite.tcplog._client", "send stdin lines to a TCP server (the line log)"),
    "call": ("netsuite.rpc._cli", "call RPC methods (xmlrpc, amp, jsonrpc, gob, grpc)"),
    "schema": ("netsuite.rpc._schema", "print the RPC methods as a .proto or Go structs"),
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command ended by Ctrl-C


class CommandFailed(Exception):
    """A network or remote failure: exit status 1 with this one-line reason on stderr."""


class UsageFailure(Exception):
    """A usage error found after argument parsing (a bad target, say): exit status 2."""


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netsuite",
        description="netsuite clients. Run 'netsuite COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<6} {summary}" for name, (_, summary) in SUBCOMMANDS.items())
        + "\n\nexit status: 0 success, 1 network or remote failure, 2 usage error",
    )
    parser.add_argument("--version", action="version", version=f"netsuite {__version__}")
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), metavar="COMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def build_parser(name: str) -> tuple[argparse.ArgumentParser, Any]:
    """The argument parser of subcommand ``name`` and its module."""
    module_name, summary = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=f"netsuite {name}",
        description=getattr(module, "DESCRIPTION", summary),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.configure(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``netsuite`` console script; exits the process."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv:
        top.print_help(sys.stderr)
        sys.exit(EXIT_USAGE)
    if argv[0].startswith("-"):
        if argv[0] in ("-h", "--help", "--version"):
            top.parse_args(argv[:1])  # prints and exits 0
        top.error(f"unknown option {argv[0]}")
    if argv[0] not in SUBCOMMANDS:
        top.error(f"unknown command {argv[0]!r} (choose from {', '.join(sorted(SUBCOMMANDS))})")
    parser, module = build_parser(argv[0])
    args = parser.parse_args(argv[1:])
    sys.exit(run_command(module.run, args, prog=parser.prog, parser=parser))


def run_command(
    run: Callable[..., Any],
    args: argparse.Namespace,
    *,
    prog: str,
    parser: argparse.ArgumentParser | None = None,
) -> int:
    """Run the coroutine function ``run(reactor, args)`` under the reactor; return the exit code."""
    from twisted.internet import defer, task

    outcome: list[int] = []
    interrupted: list[bool] = []

    def finished(result: Any) -> None:
        outcome.append(EXIT_OK if result is None else int(result))

    def failed(failure: Any) -> None:
        if interrupted and not failure.check(CommandFailed, UsageFailure, SystemExit):
            outcome.append(EXIT_INTERRUPTED)  # cancelled by the user (maybe inside a race)
        elif failure.check(UsageFailure):
            if parser is not None:
                parser.print_usage(sys.stderr)
            print(f"{prog}: error: {failure.value}", file=sys.stderr)
            outcome.append(EXIT_USAGE)
        elif failure.check(CommandFailed):
            print(f"{prog}: {failure.value}", file=sys.stderr)
            outcome.append(EXIT_FAILURE)
        elif failure.check(SystemExit):
            outcome.append(int(failure.value.code or 0))
        else:
            print(f"{prog}: unexpected error: {failure.getErrorMessage()}", file=sys.stderr)
            failure.printTraceback(sys.stderr)
            outcome.append(EXIT_FAILURE)

    def start(reactor: Any) -> defer.Deferred[None]:
        running = defer.ensureDeferred(run(reactor, args))
        reactor.callWhenRunning(_cancel_on_interrupt, reactor, running, interrupted)
        return running.addCallbacks(finished, failed)

    try:
        task.react(start)
    except SystemExit:
        pass
    if not outcome:
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILURE
    return outcome[0]


def _cancel_on_interrupt(reactor: Any, running: Any, interrupted: list[bool]) -> None:
    """Make SIGINT cancel ``running`` (a second SIGINT stops the reactor outright).

    Installed once the reactor runs, so it replaces the reactor's own SIGINT handler (which
    would stop the reactor under the command and leave it to report a failure it did not
    have).
    """
    import signal

    def on_interrupt(signum: int, frame: Any) -> None:
        if interrupted:
            reactor.callFromThread(_stop, reactor)
            return
        interrupted.append(True)
        reactor.callFromThread(running.cancel)

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (an embedding program): keep its handlers
        pass


def _stop(reactor: Any) -> None:
    from twisted.internet.error import ReactorNotRunning

    try:
        reactor.stop()
    except ReactorNotRunning:
        pass
