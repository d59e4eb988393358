"""Start-up errors under ``twistd`` in one line, for every netsuite plugin.

Two kinds of error stop a service before it serves anyone:

- **Usage errors** (a bad option value, an endpoint description that does not parse, a key
  file that cannot be read): :func:`one_line_options` wraps a plugin's ``usage.Options`` so
  that ``twistd PLUGIN`` prints ``twistd PLUGIN: --OPTION: what is wrong`` on stderr and exits
  with status 1, instead of twistd's whole help text.  The coercions name the value;
  this module adds the option's name.
- **Listen failures** (a port in use, an address this host does not have, a port out of
  range): :func:`cannot_listen` logs one error line (``LABEL: cannot listen on DESCRIPTION:
  address already in use``) and returns a :class:`StartupError` for ``startService`` to raise.
  twistd removes its pid file, tells a daemonizing parent, and exits with status 1 without a
  traceback.

Imported by the twistd dropin when twistd lists the plugins, so it must not import the
reactor.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.logger import Logger
from twisted.python import usage

__all__ = ["StartupError", "cannot_listen", "failure_text", "one_line_options"]

log = Logger()


class StartupError(SystemExit, Exception):
    """A service could not start; ``str()`` says why in one line.

    An :class:`Exception`, so twistd's start-up code reports it to a daemonizing parent and
    removes its pid file; a :class:`SystemExit` with status 1, so the interpreter ends
    without printing a traceback (the reason is already logged).
    """

    def __init__(self, message: str) -> None:
        super().__init__(1)
        self.message = message

    def __str__(self) -> str:
        return self.message


# A daemonizing twistd shows its shell the first 100 bytes of ``Module.Class: message``;
# without a module name there, the message fits.
StartupError.__module__ = "builtins"


def failure_text(error: BaseException) -> str:
    """One line for why a listener could not be set up or bound (no exception class names)."""
    from twisted.internet.error import CannotListenError

    if isinstance(error, CannotListenError) and isinstance(error.socketError, BaseException):
        error = error.socketError
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
        text = text[0].lower() + text[1:]
        return f"{error.filename}: {text}" if error.filename else text
    if isinstance(error, TypeError):
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unexpected:
            return f"unknown parameter {unexpected.group(1)!r}"
    details = error.args[0] if error.args and isinstance(error.args[0], list) else None
    if details:  # an OpenSSL error: a list of (library, function, reason) tuples
        reasons = [str(item[-1]) for item in details if isinstance(item, tuple) and item]
        if reasons:
            return f"cannot load the key or a certificate ({', '.join(dict.fromkeys(reasons))})"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def cannot_listen(label: str, description: str, error: BaseException) -> StartupError:
    """Log that ``label`` cannot listen on ``description`` and return the error to raise."""
    message = f"{label}: cannot listen on {description}: {failure_text(error)}"
    log.error("{message}", message=message)
    return StartupError(message)


def one_line_options(options_class: type[usage.Options], command: str) -> type[usage.Options]:
    """A subclass of ``options_class`` whose usage errors end the process in one line.

    A coercion's :class:`ValueError` becomes ``--OPTION: message``; any usage error then
    exits with ``twistd COMMAND: --OPTION: message`` on stderr and status 1.
    """

    class OneLineOptions(options_class):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            super().__init__()
            for name, handler in self._dispatch.items():
                if isinstance(handler, usage.CoerceParameter):
                    handler.coerce = _named(name, handler.coerce)

        def parseOptions(self, options: Any = None) -> None:
            try:
                super().parseOptions(options)
            except usage.UsageError as e:
                raise SystemExit(
                    f"twistd {command}: {e} (see: twistd {command} --help)") from None

    OneLineOptions.__name__ = OneLineOptions.__qualname__ = options_class.__name__
    OneLineOptions.__module__ = options_class.__module__
    OneLineOptions.__doc__ = options_class.__doc__
    return OneLineOptions


def _named(name: str, coerce: Any) -> Any:
    def coerce_named(value: str) -> Any:
        try:
            return coerce(value)
        except ValueError as e:
            raise usage.UsageError(f"--{name}: {e}") from None

    coerce_named.coerceDoc = getattr(coerce, "coerceDoc", "")  # type: ignore[attr-defined]
    return coerce_named
