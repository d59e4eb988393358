"""AMP transport: every registered method as an AMP command, served by a lean responder.

Wire form (Twisted's AMP, unchanged): a box is a sequence of ``key, value`` pairs, each a
2-byte big-endian length and its bytes (keys 1-255 bytes, values 0-65535), ended by an empty
key (``\\x00\\x00``).  A request box carries ``_command`` (the command name), ``_ask`` (a tag;
absent = no answer wanted) and one key per argument; the answer carries ``_answer`` (the tag)
and the result; an error carries ``_error`` (the tag), ``_error_code`` and
``_error_description``.

Commands come from the registry: ``Algorithm.Sum`` is the command ``Sum`` (arguments ``x``,
``y``: Integer; response ``total``: Integer), ``Programmer.GetSkill`` is ``GetSkill``
(``java``, ``go``: Unicode; response ``skill``: Unicode).  A command may also be named by the
full method name (``Algorithm.Sum``); the short name works while it is unambiguous.
Arguments and results of other types travel as :mod:`._values` says (Float, Boolean,
String, ListOf, AmpList; ``None``: argument left out).  :func:`command_for` builds the
:class:`twisted.protocols.amp.Command` class of any registered method, so clients use
Twisted's own ``amp.AMP().callRemote(Sum, x=1, y=2)``.

Calls run concurrently: a method that waits (``async def``, a Deferred) is answered when it
ends, possibly after later commands (AMP matches answers by ``_ask`` tag); at most
``max_inflight`` run at once per connection (then reading stops until one ends).  A client
that disconnects has its running calls cancelled; one that half-closes gets the answers of
every command it sent, then the close.

Error codes: ``OVERFLOW`` (and any other :class:`~netsuite.rpc.ApplicationError`'s
``code``), ``BAD_PARAMS`` (missing, unparsable or out-of-range argument), ``UNHANDLED``
(unknown command, as Twisted), ``UNKNOWN`` (internal error, as Twisted),
``RESULT_TOO_LONG`` (a result over AMP's 65535-byte value limit), ``TOO_LONG`` (a key over
255 bytes or a box over the size limit: answered if the box's ``_ask`` was already read,
then the connection is closed).  A box that is neither a command nor valid closes the
connection.

The server does not use ``amp.AMP``'s generic machinery (per-box ``AmpBox`` objects,
Deferreds, argument objects): it parses boxes straight from the byte stream, runs each
method's compiled call (:func:`~._answer.answer`) and sends every answer ready at the end
of one read at once (one ``send``, see
:meth:`~netsuite.rpc._paced.PacedProtocol.send_answers`) -- a sixth or less of the CPU
time per call of a plain ``amp.AMP`` responder, and still byte-compatible with it.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols import amp

from netsuite.rpc._core import (
    MAX_REQUEST,
    SERVICE,
    ApplicationError,
    Int64Overflow,
    InvalidParams,
    Method,
    Registry,
)
from netsuite.rpc._paced import CLOSED, DEFAULT_MAX_INFLIGHT, DRAINING, OPEN, PacedProtocol
from netsuite.rpc.amp._answer import (
    BAD_PARAMS,
    ERROR_CODES,
    RESULT_TOO_LONG,
    CommandTable,
    answer,
    error_box,
    error_code,
)
from netsuite.rpc.amp._values import argument

__all__ = [
    "BAD_PARAMS",
    "ERROR_CODES",
    "RESULT_TOO_LONG",
    "AmpRpcProtocol",
    "CommandTable",
    "GetSkill",
    "Sum",
    "amp_factory",
    "command_for",
    "error_box",
    "error_code",
]

log = Logger()

MAX_KEY = 255
TOO_LONG = b"TOO_LONG"
COMMAND = b"_command"
ASK = b"_ask"

#: The exceptions a command class maps error codes back to (client side).
_ERRORS: dict[type[Exception], bytes] = {
    Int64Overflow: ERROR_CODES["overflow"],
    InvalidParams: ERROR_CODES["bad-params"],
    ApplicationError: ERROR_CODES["application"],
}


def command_for(method: Method, *, full_name: bool = False) -> type[amp.Command]:
    """The :class:`amp.Command` subclass of a registered method.

    Its ``commandName`` is the method's short name (``Move``), or the full one
    (``Geo.Move``) with ``full_name`` -- use that when another service has a method of the
    same short name.  Arguments are the method's parameters as Twisted argument types
    (``int`` -> Integer, ``float`` -> Float, ``bool`` -> Boolean, ``str`` -> Unicode,
    ``bytes`` -> String, lists -> ListOf or AmpList, maps -> AmpList of ``key``/``value``
    boxes, a struct -> AmpList of one box; ``T | None`` and parameters with a default are
    optional); the response is ``method.result_name``.  Errors map back to
    :class:`~netsuite.rpc.Int64Overflow` (``OVERFLOW``),
    :class:`~netsuite.rpc.InvalidParams` (``BAD_PARAMS``) and
    :class:`~netsuite.rpc.ApplicationError` (``APPLICATION``).
    """
    namespace = {
        "__doc__": method.help,
        "__module__": __name__,
        "commandName": (method.name if full_name else method.method).encode(),
        "arguments": [(p.name.encode(), argument(p.spec, not p.required))
                      for p in method.params],
        "response": [(method.result_name.encode(), argument(method.result))],
        "errors": dict(_ERRORS),
    }
    return type(method.method, (amp.Command,), namespace)


#: ``Algorithm.Sum``: ``Sum(x: Integer, y: Integer) -> total: Integer``; ``OVERFLOW`` error.
Sum = command_for(SERVICE.lookup("Algorithm.Sum"))
#: ``Programmer.GetSkill``: ``GetSkill(java: Unicode, go: Unicode) -> skill: Unicode``.
GetSkill = command_for(SERVICE.lookup("Programmer.GetSkill"))


class AmpRpcProtocol(PacedProtocol):
    """One AMP connection answering commands from a :class:`CommandTable`.

    Parsing is incremental: a box may arrive in any number of pieces and many boxes may
    arrive in one read.  The protocol registers itself as the transport's producer, so a
    peer that stops reading its answers stops having its requests read.
    """

    label = "amp"

    def __init__(self, table: CommandTable, max_box: int = MAX_REQUEST) -> None:
        self.table = table
        self.registry = table.registry
        self.max_box = max_box
        self._pending: list[bytes] = []  # the start of a pair cut short by a read
        self._pending_size = 0
        self._need = 0  # how many bytes that pair needs before it is worth parsing again
        self._box: dict[bytes, bytes] = {}
        self._box_size = 0  # bytes of the current box already moved into _box
        self._waiting: dict[bytes, bytes] | None = None  # a whole box kept: too many calls

    def _get_context(self) -> Any:
        return self.call_context

    def dataReceived(self, data: bytes) -> None:
        if self.state == CLOSED:
            return
        if self._pending:
            # A pair cut short by an earlier read: wait (in O(1)) until it can be complete.
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._need or self._waiting is not None:
                return
            buf = b"".join(self._pending)
            self._pending = []
        elif self._waiting is not None:  # too many calls running: keep the input
            if data:
                self._pending = [data]
                self._pending_size = len(data)
            return
        else:
            buf = data
        size = len(buf)
        pos = 0
        box = self._box
        box_start = pos - self._box_size  # where the current box began (may be negative)
        out: list[bytes] = []
        max_box = self.max_box
        running = self.running
        table, context = self.table, self._get_context
        need = 0  # bytes the next, incomplete pair needs before it can be parsed
        last = False
        klen = 0
        try:  # an IndexError: the next pair's lengths are not all here yet
            while True:
                if buf[pos]:  # a key of 256 bytes or more
                    klen = (buf[pos] << 8) | buf[pos + 1]
                    self._fail(box, out, TOO_LONG, f"AMP key of {klen} bytes (limit {MAX_KEY})")
                    return
                klen = buf[pos + 1]
                if klen == 0:  # the end of a box
                    pos += 2
                    if len(running) >= self.max_inflight and not self.may_start():
                        # too many calls running: keep this box and the rest until one ends
                        self._waiting = box
                        box = {}
                        box_start = pos
                        break
                    if COMMAND in box:
                        reply = answer(table, box, context)
                        if type(reply) is bytes:
                            out.append(reply)
                        elif reply is not None:
                            self._track(reply)  # type: ignore[arg-type]
                    else:
                        self._dispatch(box, out)
                    if self.state != OPEN:
                        if self.state == CLOSED:
                            return
                        if self.state == DRAINING:  # shutdown: that was the last request
                            box = {}
                            last = True
                            break
                    box = {}
                    box_start = pos
                    continue
                vpos = pos + 2 + klen
                end = vpos + 2 + ((buf[vpos] << 8) | buf[vpos + 1])
                if end - box_start + 2 > max_box:
                    self._fail(box, out, TOO_LONG, f"AMP box over {max_box} bytes")
                    return
                if end > size:
                    need = end - pos
                    break
                box[buf[pos + 2 : vpos]] = buf[vpos + 2 : end]
                pos = end
        except IndexError as e:
            if e.__traceback__ is not None and e.__traceback__.tb_next is not None:
                raise  # not a length read from buf here: a bug further down
            need = 2 if size - pos < 2 else 2 + klen + 2
        if out:
            self.send_answers(b"".join(out))
        if last:  # draining: nothing more is read
            self._box = {}
            self._pending = []
            self.finish_if_done()
            return
        self._box = box
        self._box_size = pos - box_start
        if pos < size:
            self._pending = [buf[pos:]]
            self._pending_size = size - pos
            self._need = need
        else:
            self._pending_size = 0
        if self.state == DRAINING or self.input_ended:
            self.finish_if_done()

    @property
    def partial(self) -> bool:
        """Whether part of a box is buffered."""
        return bool(self._box or self._pending)

    @property
    def queued(self) -> bool:
        """Whether a whole box waits for a running call to end."""
        return self._waiting is not None

    def resume_requests(self) -> None:
        box, self._waiting = self._waiting, None
        if box is None:
            return
        out: list[bytes] = []
        self._dispatch(box, out)
        if out and self.state != CLOSED:
            self.send_answers(b"".join(out))
        if self.state == OPEN or self.input_ended:
            self.dataReceived(b"")  # go on with the input kept meanwhile
        elif self.state == DRAINING:
            self._pending = []
            self._box = {}

    def _dispatch(self, box: dict[bytes, bytes], out: list[bytes]) -> None:
        if COMMAND not in box:
            if b"_answer" in box or b"_error" in box:
                reason = "an answer to a command this server never sent"
            else:
                reason = "a box with no _command"
            self._fail({}, out, b"MALFORMED", reason)
            return
        reply = answer(self.table, box, self._get_context)
        if type(reply) is bytes:
            out.append(reply)
        elif reply is not None:
            self._track(reply)  # type: ignore[arg-type]

    def _track(self, reply: Deferred[bytes | None]) -> None:
        """A call still running: write its answer when it ends."""
        reply.addCallback(self._write_later)
        self.track(reply)

    def _write_later(self, reply: bytes | None) -> None:
        if reply is not None and self.state != CLOSED:
            self.send_answers(reply)

    def _fail(self, box: dict[bytes, bytes], out: list[bytes], code: bytes, reason: str) -> None:
        """A stream we cannot trust: answer the open box's tag if known, then close."""
        tag = box.get(ASK)
        if tag is not None:
            out.append(error_box(tag, code, reason))
        log.info("amp: dropping {peer}: {reason}", peer=self.peer, reason=reason)
        self._enter_closed()
        if out:
            self.transport.write(b"".join(out))
        self.close()

    def closed(self) -> None:
        self._pending = []
        self._box = {}


class AmpFactory(Factory):
    """Builds :class:`AmpRpcProtocol` s sharing one command table."""

    protocol = AmpRpcProtocol  # type: ignore[assignment]
    noisy = False

    def __init__(self, registry: Registry, max_box: int = MAX_REQUEST,
                 max_inflight: int = DEFAULT_MAX_INFLIGHT) -> None:
        self.table = CommandTable(registry)
        self.max_box = max_box
        self.max_inflight = max_inflight

    def buildProtocol(self, addr: Any) -> AmpRpcProtocol:
        protocol = AmpRpcProtocol(self.table, self.max_box)
        protocol.max_inflight = self.max_inflight
        protocol.factory = self
        return protocol


def amp_factory(registry: Registry = SERVICE, *, max_box: int = MAX_REQUEST,
                max_inflight: int = DEFAULT_MAX_INFLIGHT) -> AmpFactory:
    """The AMP server factory for ``registry`` (boxes over ``max_box`` bytes: error, close;
    at most ``max_inflight`` calls running at once per connection)."""
    return AmpFactory(registry, max_box, max_inflight)
