"""Go's ``net/rpc`` over gob: the server protocol, raw (``rpc.Dial``) and behind HTTP CONNECT.

Wire protocol (Go's ``net/rpc`` with its default gob codec): each direction of a connection
is one gob stream (see :mod:`netsuite.rpc.gob._codec`).  The client sends, per call, a
``rpc.Request{ServiceMethod string; Seq uint64}`` value followed by the argument value (for
the book's methods the structs ``Args{X, Y int}`` and ``{Java, Go string}``).  The server
answers each call with ``rpc.Response{ServiceMethod string; Seq uint64; Error string}``
followed by the reply value (an ``int`` or a ``string``) -- or, when ``Error`` is set, an
empty struct, as Go's server sends.  Calls are matched by ``Seq``: a client may have many
outstanding on one connection, and nothing in the protocol requires answers in order.

Arguments are matched to the registered method's parameters by Go field name, the way
Go's decoder fills a struct (case-folded, unknown fields ignored, missing fields zero):
``registry.call(name, struct, go_struct=True, transport="gob")``.  A method unknown to the
registry is answered with Go's own texts (``rpc: can't find service Algorithm.Mul``...).

Go's ``rpc.DialHTTP`` first sends ``CONNECT /_goRPC_ HTTP/1.0`` and a blank line, and
expects ``HTTP/1.0 200 Connected to Go RPC`` and a blank line back.
:func:`with_go_http_connect` wraps an HTTP factory (the XML-RPC site) so that a connection
whose first request is that CONNECT speaks gob, a non-CONNECT request for ``/_goRPC_`` gets
Go's ``405 must CONNECT`` (and a close), and anything else goes to the HTTP factory untouched
-- including the bytes already read.

Limits: a gob message larger than ``max_message`` (1 MiB) is refused before it is buffered;
nesting beyond 100 levels, malformed data, a header that is not a Request, or more than 1024
type definitions close the connection (logged with the reason).  When it is the body of an
already decoded request that is bad (too large, malformed), its caller first gets a
``Response`` with that error.  The
server stops reading from a client that does not read its answers (TCP back-pressure), so
its unsent output stays bounded.
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from netsuite.rpc._core import MAX_DEPTH, MAX_REQUEST, Registry, RpcError
from netsuite.rpc._paced import CLOSED, DEFAULT_MAX_INFLIGHT, OPEN, PacedProtocol
from netsuite.rpc.gob._answer import INVALID_REQUEST, REQUEST, RESPONSE, GobAnswers
from netsuite.rpc.gob._codec import (
    Decoder,
    GobError,
    go_type_string,
    split_message,
)
from netsuite.rpc.gob._connect import CONNECTED, GOB_RPC_PATH, MAX_SNIFF, end_of_head
from netsuite.rpc.gob._fastcall import (
    REQUEST_FIELDS,
    FastCalls,
    bytes_needed,
    read_header,
    seq_value,
    skip_type_id,
)

__all__ = [
    "GOB_RPC_PATH",
    "INVALID_REQUEST",
    "REQUEST",
    "RESPONSE",
    "GobRpcFactory",
    "GobRpcProtocol",
    "GobStats",
    "gob_factory",
]

log = Logger()

@attrs.define
class GobStats:
    """Plain counters of one gob listener (``factory.stats``; pass one instance to both
    factories to count them together).

    ``connections_open`` / ``connections_total``: gob connections now / since start;
    ``calls``: requests answered; ``call_errors``: answered with ``Response.Error`` set;
    ``protocol_errors``: connections closed for malformed, oversized or hostile input.
    """

    connections_open: int = 0
    connections_total: int = 0
    calls: int = 0
    call_errors: int = 0
    protocol_errors: int = 0


class GobRpcProtocol(PacedProtocol):
    """One net/rpc gob connection: requests in, responses out, in arrival order."""

    def __init__(self, registry: Registry, stats: GobStats, max_message: int = MAX_REQUEST,
                 label: str = "gob", accept_connect: bool = False,
                 max_depth: int = MAX_DEPTH) -> None:
        self.registry = registry
        self._sniff = accept_connect
        self.stats = stats
        self.max_message = max_message
        self.label = label
        self._decoder = Decoder(max_depth=max_depth)
        self._answers = GobAnswers(registry, stats, label)
        self._pieces: list[bytes] = []  # bytes received but not yet parsed
        self._held_bytes = 0  # their length
        self._wanted = 0  # the length at which parsing can make progress
        self._kept: bytes | None = None  # complete input kept while max_inflight calls run
        self._pending: tuple[str, int] | None = None  # header read, body awaited
        self._fast = FastCalls(max_message)  # whole calls of a known shape, read at once

    # -- connection events

    def connectionMade(self) -> None:
        self.stats.connections_open += 1
        self.stats.connections_total += 1
        super().connectionMade()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        log.debug("{label} connection from {peer} closed", label=self.label, peer=self.peer)

    def closed(self) -> None:
        self.stats.connections_open -= 1
        self._pieces = []
        self._kept = None

    @property
    def partial(self) -> bool:
        """Part of a request received: a header without its body, or bytes of a message."""
        return self._pending is not None or bool(self._pieces)

    @property
    def queued(self) -> bool:
        """Input kept while ``max_inflight`` calls run."""
        return self._kept is not None

    def resume_requests(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None and self.state != CLOSED:
            self._feed(kept)

    def dataReceived(self, data: bytes) -> None:
        if self.state == CLOSED or self.took_last:
            return
        if self._kept is not None:  # reading is paused; a read already under way lands here
            self._kept += data
            return
        if self._pieces:
            # Part of a message is held: keep adding until it can be complete, so a message
            # trickling in byte by byte costs linear, not quadratic, copying.
            self._pieces.append(data)
            self._held_bytes += len(data)
            if self._held_bytes < self._wanted:
                return
            buf = b"".join(self._pieces)
            self._pieces = []
        else:
            buf = data
        if self._sniff:
            skipped = self._skip_connect(buf)
            if skipped is None:
                return
            buf = skipped
        self._feed(buf)

    def _feed(self, buf: bytes) -> None:
        """Answer every complete request in ``buf``; keep the rest."""
        pos = 0
        end = len(buf)
        out: list[bytes] = []
        fast = self._fast
        try:
            while pos < end:
                if self._pending is None:  # a new request starts here
                    if self.state != OPEN:
                        # Draining: the request in progress was the last one taken.
                        self.take_no_more()
                        pos = end
                        break
                    if not self.may_start():  # max_inflight calls run: keep the rest
                        self._kept = buf[pos:]
                        pos = end
                        break
                    if fast.header_id:
                        taken = self._fast_calls(buf, pos, end, out)
                        if taken != pos:
                            pos = taken
                            continue
                found = split_message(buf, pos, self.max_message)
                if found is None:
                    break
                start, pos = found
                self._message(buf[start:pos], out)
        except GobError as e:
            self._fail(e, out)
            return
        if pos < len(buf):
            rest = buf[pos:]
            self._hold(rest, bytes_needed(rest))
        if out:
            self.send_answers(b"".join(out))
        self.finish_if_done()

    def _fast_calls(self, buf: bytes, pos: int, end: int, out: list[bytes]) -> int:
        """Answer the calls of a compiled shape from ``pos`` on (see
        :mod:`netsuite.rpc.gob._fastcall`); where the first other request starts."""
        parse = self._fast.parse
        answers = self._answers
        run = self.registry.run
        stats = self.stats
        context = self.call_context
        running = self.running
        while pos < end and self.state == OPEN and len(running) < self.max_inflight:
            call = parse(buf, pos, end)
            if call is None:
                break
            pos, shape, seq, kwargs = call
            if type(kwargs) is not dict:  # arguments the type check refused
                out.append(answers.error(shape.name, seq_value(seq), str(kwargs)))
                continue
            try:
                result = run(shape.method, kwargs, transport="gob", context=context)
            except RpcError as e:
                out.append(answers.error(shape.name, seq_value(seq), str(e)))
                continue
            reply = shape.reply
            if reply is None or type(result) is Deferred:
                self._answered(answers.answer(shape.name, seq_value(seq), result), out)
                if reply is None:
                    shape.reply = answers.replier(shape.name)
                continue
            try:
                out.append(reply(seq, result))
            except GobError:  # a result gob cannot carry: the general path says so
                out.append(answers.reply(shape.name, seq_value(seq), result))
                continue
            stats.calls += 1
        return pos

    def _hold(self, rest: bytes, wanted: int) -> None:
        """Keep ``rest`` until ``wanted`` bytes (in all) have arrived."""
        self._pieces = [rest]
        self._held_bytes = len(rest)
        self._wanted = wanted

    def _skip_connect(self, buf: bytes) -> bytes | None:
        """On a raw listener, also accept (and answer) Go's HTTP CONNECT preamble.

        A gob stream can never start with ``CONNECT `` (its second byte would define the
        reserved type id 40), so this is unambiguous.  Returns the bytes after the
        preamble, or ``None`` while more are needed.
        """
        probe = buf[:8]
        if not b"CONNECT ".startswith(probe):
            self._sniff = False
            return buf
        if len(probe) < 8:
            self._hold(buf, 8)
            return None
        line_end = buf.find(b"\n")
        head_end = end_of_head(buf, line_end + 1) if line_end >= 0 else None
        if head_end is None:
            if len(buf) > MAX_SNIFF:
                self._fail(GobError("over-long CONNECT request"), [])
            else:
                self._hold(buf, len(buf) + 1)
            return None
        self._sniff = False
        if buf[:line_end].rstrip(b"\r").split(b" ")[1:2] != [GOB_RPC_PATH]:
            self.transport.write(b"HTTP/1.0 404 Not Found\r\n\r\n")
            self._fail(GobError("CONNECT to a path other than /_goRPC_"), [])
            return None
        self.transport.write(CONNECTED)
        return buf[head_end:]

    # -- messages

    def _message(self, payload: bytes, out: list[bytes]) -> None:
        header_id = self._fast.header_id
        if self._pending is None and header_id and payload.startswith(header_id):
            self._pending = read_header(payload, len(header_id))
            return
        item = self._decoder.decode_message(payload)
        if item is None:
            return  # a type definition
        gob_type, value = item
        if self._pending is None:
            if not isinstance(value, dict):
                raise GobError("request header is a "
                               f"{go_type_string(gob_type)}, not an rpc.Request")
            name = value.get("ServiceMethod", "")
            seq = value.get("Seq", 0)
            if not isinstance(name, str) or type(seq) is not int or seq < 0:
                raise GobError("request header is not an rpc.Request "
                               f"({go_type_string(gob_type)})")
            self._pending = (name, seq)
            if [(f.name, f.type) for f in gob_type.fields] == REQUEST_FIELDS:
                # Go's own Request type: later headers of this type take the fast path.
                self._fast.header_id = payload[: len(payload) - len(skip_type_id(payload))]
            return
        name, seq = self._pending
        self._pending = None
        answer = self._answers.start(name, seq, value, gob_type, self.call_context)
        if self._fast.header_id and name in self.registry:
            self._fast.learn(name, self.registry.lookup(name), payload, gob_type,
                             self._decoder)
        self._answered(answer, out)

    def _answered(self, answer: bytes | Deferred[bytes], out: list[bytes]) -> None:
        if type(answer) is bytes:
            out.append(answer)
            return
        # A call still running: its answer goes out when it ends, in any order (by Seq).
        answer.addCallbacks(self._write_answer, self._answer_lost)
        self.track(answer)

    def _write_answer(self, data: bytes) -> None:
        if self.state != CLOSED:
            self.send_answers(data)

    def _answer_lost(self, failure: Failure) -> None:
        """A call cancelled because the connection closed: nothing to answer."""
        if self.state != CLOSED:  # pragma: no cover - GobAnswers answers every error
            log.failure("{label}: answer lost", failure, label=self.label)

    def _respond_error(self, name: str, seq: int, error: str, out: list[bytes]) -> None:
        out.append(self._answers.error(name, seq, error))

    def _fail(self, error: GobError, out: list[bytes]) -> None:
        """Answer what can be answered, then close: the stream can no longer be trusted."""
        self.stats.protocol_errors += 1
        if self._pending is not None:
            # The header was read: its caller learns why, as Go's server would tell it.
            name, seq = self._pending
            self._pending = None
            self._respond_error(name, seq, f"rpc: request body refused: {error}", out)
        if out:
            self.transport.write(b"".join(out))
        log.info("{label}: closing connection from {peer}: {error}", label=self.label,
                 peer=self.peer, error=error)
        self.close()


class GobRpcFactory(Factory):
    """Builds :class:`GobRpcProtocol` s for one registry; ``stats`` counts them all."""

    noisy = False  # the listener's own log line says enough

    def __init__(self, registry: Registry, *, max_message: int = MAX_REQUEST,
                 stats: GobStats | None = None, label: str = "gob",
                 accept_connect: bool = True, max_depth: int = MAX_DEPTH,
                 max_inflight: int = DEFAULT_MAX_INFLIGHT) -> None:
        self.registry = registry
        #: Most calls running at once per connection (``--max-inflight``).
        self.max_inflight = max_inflight
        self.max_message = max_message
        self.max_depth = max_depth
        self.stats = stats if stats is not None else GobStats()
        self.label = label
        self.accept_connect = accept_connect

    def buildProtocol(self, addr: IAddress) -> GobRpcProtocol:
        protocol = GobRpcProtocol(self.registry, self.stats, self.max_message, self.label,
                                  self.accept_connect, self.max_depth)
        protocol.factory = self
        protocol.max_inflight = self.max_inflight
        return protocol


def gob_factory(registry: Registry, *, max_message: int = MAX_REQUEST,
                max_depth: int = MAX_DEPTH, stats: GobStats | None = None,
                max_inflight: int = DEFAULT_MAX_INFLIGHT) -> GobRpcFactory:
    """A factory for raw net/rpc gob connections (Go's ``rpc.Dial``).

    It also accepts Go's ``rpc.DialHTTP`` preamble (``CONNECT /_goRPC_ HTTP/1.0``), so one
    client works against either listener.
    """
    return GobRpcFactory(registry, max_message=max_message, max_depth=max_depth, stats=stats,
                         max_inflight=max_inflight)
