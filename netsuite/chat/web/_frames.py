"""WebSocket frames (RFC 6455 section 5): the client's, parsed incrementally, and the
few the server writes.  No I/O here.

The chat reads its clients' frames here rather than through ``wsproto``: a chat line
is a small frame, and a general-purpose parser costs several times more per frame
than the rest of the server's work for that line.  The rules are RFC 6455's for a
server:

* every frame must be masked; reserved bits must be clear (no extension is ever
  negotiated); opcodes are continuation, text, binary, close, ping, pong;
* control frames are at most 125 bytes and never fragmented, and may come between the
  fragments of a message; a continuation needs a message started, a new message needs
  the last one finished;
* a text message must be UTF-8 (checked as it arrives, across fragments);
* a close frame's status, if any, must be one a peer may send, and its reason UTF-8.

Message data is handed over chunk by chunk as it arrives (``part``), never assembled
here, so the reader of the parts decides how much it is willing to hold.  A broken
stream is reported once (``failed`` with the close status RFC 6455 asks for: 1002 for
a protocol error, 1007 for bad UTF-8) and nothing after it is read.

The server's frames (:func:`text_frame_header`, :func:`close_frame`, :func:`pong_frame`)
are final and unmasked: a header of 2 to 10 bytes before the payload.
"""

from __future__ import annotations

import codecs
from typing import Protocol

__all__ = ["FrameSink", "InboundFrames", "close_frame", "pong_frame", "text_frame_header"]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PROTOCOL_ERROR, BAD_DATA = 1002, 1007


class FrameSink(Protocol):
    """What :class:`InboundFrames` reports to."""

    def part(self, data: bytes, finished: bool) -> None:
        """The next chunk of a text or binary message (already unmasked and, for text,
        checked to be UTF-8 so far); ``finished`` on its last chunk."""

    def ping(self, payload: bytes) -> None: ...

    def close(self, code: int | None, reason: str) -> None:
        """The peer's close frame (``code`` None when it gave none)."""

    def failed(self, code: int) -> None:
        """The stream is broken: close with ``code``."""


_SHORT_TEXT_HEADERS = tuple(bytes((0x81, n)) for n in range(126))


def text_frame_header(size: int) -> bytes:
    """The header of a server's text frame of ``size`` payload bytes."""
    if size < 126:
        return _SHORT_TEXT_HEADERS[size]
    if size < 1 << 16:
        return b"\x81\x7e" + size.to_bytes(2, "big")
    return b"\x81\x7f" + size.to_bytes(8, "big")


def close_frame(code: int | None) -> bytes:
    """A server's close frame with status ``code`` (None: no status)."""
    if code is None:
        return b"\x88\x00"
    return b"\x88\x02" + code.to_bytes(2, "big")


def pong_frame(payload: bytes) -> bytes:
    """A server's pong answering a ping with ``payload`` (at most 125 bytes)."""
    return bytes((0x8A, len(payload))) + payload


def _valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def unmask(data: bytes, key: bytes, offset: int) -> bytes:
    """``data`` XOR the 4-byte ``key``, starting ``offset`` bytes into the key stream."""
    n = len(data)
    if not n:
        return b""
    if offset:
        key = key[offset:] + key[:offset]
    stream = key * ((n >> 2) + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")
    return value.to_bytes(n, "little")


class InboundFrames:
    """Feed bytes in with :meth:`feed`; events go to ``sink``."""

    __slots__ = ("_buf", "_decoder", "_fin", "_key", "_message", "_offset", "_remaining",
                 "_sink", "broken")

    def __init__(self, sink: FrameSink) -> None:
        self._sink = sink
        self._buf = b""
        self._message = 0  # opcode of the message in progress (TEXT/BINARY), 0 if none
        self._decoder: codecs.IncrementalDecoder | None = None  # UTF-8 check (text)
        self._key = b""  # mask of the data frame in progress
        self._offset = 0  # payload bytes of that frame read so far (mask position)
        self._remaining = -1  # payload bytes of that frame still to come; -1: no frame
        self._fin = False
        self.broken = False

    def feed(self, data: bytes) -> None:
        """Parse ``data`` (and whatever was left over from the last call)."""
        if self.broken:
            return
        buf = self._buf + data if self._buf else data
        self._buf = b""
        pos, end = 0, len(buf)
        sink = self._sink
        while not self.broken:
            if self._remaining >= 0:  # in the payload of a data frame
                take = min(self._remaining, end - pos)
                if take == 0 and self._remaining:
                    break
                chunk = unmask(buf[pos:pos + take], self._key, self._offset & 3)
                pos += take
                self._offset += take
                self._remaining -= take
                done = self._remaining == 0
                if done:
                    self._remaining = -1
                finished = done and self._fin
                if self._decoder is not None and not self._text_ok(chunk, finished):
                    return
                if chunk or finished:
                    sink.part(chunk, finished)
                if finished:
                    self._message = 0
                    self._decoder = None
                continue
            if end - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                head = 4
            elif length == 127:
                head = 10
            if end - pos < head + 4:
                break
            if head == 4:
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
            elif head == 10:
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
            opcode, fin = b0 & 0x0F, bool(b0 & 0x80)
            if b0 & 0x70 or not b1 & 0x80 or length >> 63:
                self._fail(PROTOCOL_ERROR)  # reserved bits, unmasked, or a bad length
                return
            key = buf[pos + head:pos + head + 4]
            if opcode >= CLOSE:
                if opcode not in (CLOSE, PING, PONG) or not fin or length > 125:
                    self._fail(PROTOCOL_ERROR)
                    return
                if end - pos < head + 4 + length:
                    break  # a control frame is handled whole
                start = pos + head + 4
                payload = unmask(buf[start:start + length], key, 0)
                pos = start + length
                self._control(opcode, payload)
                continue
            if opcode == CONTINUATION:
                if not self._message:
                    self._fail(PROTOCOL_ERROR)
                    return
            elif opcode in (TEXT, BINARY) and not self._message:
                self._message = opcode
                if opcode == TEXT:
                    self._decoder = codecs.getincrementaldecoder("utf-8")()
            else:
                self._fail(PROTOCOL_ERROR)
                return
            pos += head + 4
            self._key, self._offset, self._remaining, self._fin = key, 0, length, fin
        if pos < end and not self.broken:
            self._buf = buf[pos:]

    def _text_ok(self, chunk: bytes, final: bool) -> bool:
        decoder = self._decoder
        assert decoder is not None
        if chunk.isascii() and not decoder.getstate()[0]:
            return True  # nothing pending and nothing new to check
        try:
            decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self._fail(BAD_DATA)
            return False
        return True

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            self._sink.ping(payload)
        elif opcode == CLOSE:
            if not payload:
                self.broken = True
                self._sink.close(None, "")
                return
            code = int.from_bytes(payload[:2], "big")
            if len(payload) == 1 or not _valid_close_code(code):
                self._fail(PROTOCOL_ERROR)
                return
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(BAD_DATA)
                return
            self.broken = True  # nothing after a close frame is read
            self._sink.close(code, reason)

    def _fail(self, code: int) -> None:
        self.broken = True
        self._buf = b""
        self._sink.failed(code)
