"""The terminal face of ``netsuite chat``: an input line that stays at the bottom.

When stdin and stdout are a terminal, the client reads what the user types with
prompt_toolkit (a prompt showing the room and nick, line editing, history with the arrow
keys) and prints incoming lines *above* that input line, so they never clobber what is
being typed.  prompt_toolkit runs on asyncio, the chat client on the Twisted reactor; the
prompt therefore runs in a thread of its own with its own event loop, and the two talk
only through ``reactor.callFromThread`` (typed lines, end of input, Ctrl-C) and
prompt_toolkit's thread-safe patched stdout (incoming lines).

prompt_toolkit is imported only here, and this module only for a terminal: with pipes the
client keeps its plain line-by-line behaviour.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

__all__ = ["TerminalUI", "is_terminal"]


def is_terminal() -> bool:
    """True when stdin and stdout are both a terminal (and prompt_toolkit is there)."""
    try:
        if not (os.isatty(sys.stdin.fileno()) and os.isatty(sys.stdout.fileno())):
            return False
    except (AttributeError, OSError, ValueError):
        return False
    try:
        import prompt_toolkit  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency; without it, plain lines
        return False
    return True


class TerminalUI:
    """The prompt thread: ``on_line(bytes)`` for each line typed, ``on_end()`` at Ctrl-D;
    Ctrl-C interrupts the command (as SIGINT would); ``prompt()`` gives the prompt text.

    :meth:`output` may be called from the reactor thread at any time after :meth:`start`.
    """

    def __init__(self, reactor: Any, on_line: Callable[[bytes], None],
                 on_end: Callable[[], None], prompt: Callable[[], str],
                 input: Any = None, output: Any = None) -> None:
        self.reactor = reactor
        self.on_line = on_line
        self.on_end = on_end
        self.prompt = prompt
        self._input = input  # prompt_toolkit Input/Output for tests; None = the terminal
        self._output = output
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: Any = None
        self._started = threading.Event()
        self._stopping = False
        self.finished: defer.Deferred[None] = defer.Deferred()
        self._thread = threading.Thread(target=self._run, name="netsuite-chat-prompt",
                                        daemon=True)

    def start(self) -> None:
        """Start the prompt; returns once incoming lines can be printed above it."""
        self._thread.start()
        self._started.wait(10)

    def output(self, text: str) -> None:
        """Print ``text`` (one line) above the input line."""
        print(text, flush=True)  # sys.stdout is prompt_toolkit's thread-safe proxy now

    def stop(self) -> defer.Deferred[None]:
        """End the prompt (restoring the terminal); fires when its thread is done."""
        self._stopping = True
        loop, app = self._loop, self._app
        if loop is not None and app is not None and not loop.is_closed():
            def leave() -> None:
                if app.is_running and not app.future.done():
                    app.exit(exception=EOFError())
            try:
                loop.call_soon_threadsafe(leave)
            except RuntimeError:  # the loop has just closed
                pass
        return self.finished

    # -- the prompt thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._started.set()
            self.reactor.callFromThread(self._done)

    def _done(self) -> None:
        if not self.finished.called:
            self.finished.callback(None)

    async def _main(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        self._loop = asyncio.get_running_loop()
        session: PromptSession[str] = PromptSession(input=self._input, output=self._output)
        self._app = session.app
        with patch_stdout():
            self._started.set()
            while not self._stopping:
                try:
                    line = await session.prompt_async(self.prompt)
                except KeyboardInterrupt:  # Ctrl-C: the terminal is raw, so no SIGINT
                    if not self._stopping:  # the same as a SIGINT from outside: exit 130
                        self.reactor.callFromThread(os.kill, os.getpid(), signal.SIGINT)
                    return
                except EOFError:  # Ctrl-D, or stop()
                    if not self._stopping:
                        self.reactor.callFromThread(self.on_end)
                    return
                self.reactor.callFromThread(self.on_line, line.encode("utf-8", "replace"))
