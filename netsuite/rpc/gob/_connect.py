"""Go's ``rpc.DialHTTP`` preamble: ``CONNECT /_goRPC_ HTTP/1.0``, a blank line, and Go's
answer; the helpers both gob listeners use to recognise it."""

from __future__ import annotations

__all__ = ["CONNECTED", "GOB_RPC_PATH", "MAX_SNIFF", "end_of_head", "may_be_gorpc"]

#: Go's ``rpc.DefaultRPCPath``.
GOB_RPC_PATH = b"/_goRPC_"
#: Go's answer to the CONNECT (``"HTTP/1.0 " + connected + "\n\n"`` in net/rpc/server.go).
CONNECTED = b"HTTP/1.0 200 Connected to Go RPC\n\n"
#: Longest HTTP request head the sniffer buffers before handing the connection to HTTP.
MAX_SNIFF = 8192


def may_be_gorpc(partial: bytes) -> bool:
    """Whether an incomplete first line could still become ``METHOD /_goRPC_ ...``."""
    space = partial.find(b" ")
    if space < 0:
        return len(partial) <= 16 and partial.isalpha()
    rest = partial[space + 1 :]
    return GOB_RPC_PATH.startswith(rest[: len(GOB_RPC_PATH)])


def end_of_head(buf: bytes, pos: int) -> int | None:
    """Index just past the blank line ending an HTTP head whose header lines start at
    ``pos``, or ``None`` if it has not all arrived."""
    while True:
        end = buf.find(b"\n", pos)
        if end < 0:
            return None
        if buf[pos:end].rstrip(b"\r") == b"":
            return end + 1
        pos = end + 1
