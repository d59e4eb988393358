"""Batched datagram I/O: Linux ``recvmmsg(2)`` / ``sendmmsg(2)`` through :mod:`ctypes`.

One :class:`MessageBatch` owns the buffers for ``size`` datagrams: a 64 KiB data slot and a
socket-address slot per datagram, the ``mmsghdr``/``iovec`` arrays the kernel reads and
writes, and a second header array for the answers.  :meth:`MessageBatch.receive` reads up to
``size`` datagrams in one system call; :meth:`MessageBatch.queue_echo` /
:meth:`MessageBatch.queue_reply` line answers up, pointing at the received bytes and
addresses in place (nothing is copied); :meth:`MessageBatch.flush` sends them in one system
call (more only when the kernel refuses one).

The data slots live in an anonymous ``mmap``: the kernel only gives a page memory when a
datagram is written to it, so ``size`` slots of 64 KiB cost what the datagrams received
actually touched (at most ``size`` x 64 KiB, with 65,507-byte datagrams).

:func:`available` says whether this works here: Linux, a C library with both calls, and a
self-test over a loopback socket pair that checks the structure layout end to end.  When it
is False, callers use Twisted's ordinary one-datagram-per-call path.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import socket
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["SLOT_SIZE", "MessageBatch", "available"]

#: Bytes per datagram slot: more than any UDP payload (65,507 over IPv4, 65,527 over IPv6),
#: so nothing is ever truncated and every datagram is seen at its real size.
SLOT_SIZE = 65536

#: Bytes per address slot: ``sizeof(struct sockaddr_in6)``, the larger of the two families.
NAME_SIZE = 28

MSG_DONTWAIT = 0x40

#: Most source addresses whose Python form :meth:`MessageBatch.source` keeps.
ADDRESS_CACHE = 1024


class IOVec(ctypes.Structure):
    """``struct iovec``."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    """``struct msghdr`` (glibc layout)."""

    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class MMsgHdr(ctypes.Structure):
    """``struct mmsghdr``: a ``msghdr`` and the byte count the kernel fills in."""

    _fields_ = [("msg_hdr", MsgHdr), ("msg_len", ctypes.c_uint)]


_POINTER = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
_PTR = ctypes.sizeof(ctypes.c_void_p)
_HDR = ctypes.sizeof(MMsgHdr)
_IOV = ctypes.sizeof(IOVec)
_NAME_AT = MsgHdr.msg_name.offset
_NAMELEN_AT = MsgHdr.msg_namelen.offset
_LEN_AT = MMsgHdr.msg_len.offset


def _load_libc() -> tuple[Callable[..., int], Callable[..., int]] | None:
    """``recvmmsg`` and ``sendmmsg`` of the C library, or None where there are none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        recvmmsg, sendmmsg = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                         ctypes.c_void_p]
    recvmmsg.restype = ctypes.c_int
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_LIBC = _load_libc()


class MessageBatch:
    """Buffers and system calls for reading and answering up to ``size`` datagrams at once.

    :param size: datagrams per system call (at least 1).
    :param family: the socket's address family (``AF_INET`` or ``AF_INET6``).
    :param reply: fixed answer bytes (``--reply``), or None to echo each datagram.

    After :meth:`receive` returned ``n``, datagram ``i < n`` has :meth:`length` bytes at
    :meth:`data`, came from :meth:`source_port` and :meth:`source_key`.
    """

    def __init__(self, size: int, family: int, reply: bytes | None = None) -> None:
        if _LIBC is None:
            raise OSError(errno.ENOSYS, "recvmmsg/sendmmsg are not available")
        if size < 1:
            raise ValueError("size must be at least 1")
        self._recvmmsg, self._sendmmsg = _LIBC
        self.size = size
        self.family = family
        namelen = 16 if family == socket.AF_INET else NAME_SIZE
        self._namelen = namelen
        # The key of a source address for the rate limiter: the address bytes (and, for
        # IPv6, the scope id), not the port: sin_addr at 4..8, sin6_addr+scope at 8..28.
        self._key_from, self._key_to = (4, 8) if family == socket.AF_INET else (8, 28)
        self._data = mmap.mmap(-1, size * SLOT_SIZE)
        self._names = bytearray(size * NAME_SIZE)
        self._recv_iov = (IOVec * size)()
        self._send_iov_raw = bytearray(size * _IOV)
        send_iov = (IOVec * size).from_buffer(self._send_iov_raw)
        self._recv_raw = bytearray(size * _HDR)
        self._send_raw = bytearray(size * _HDR)
        recv_hdrs = (MMsgHdr * size).from_buffer(self._recv_raw)
        send_hdrs = (MMsgHdr * size).from_buffer(self._send_raw)
        data_at = ctypes.addressof(ctypes.c_char.from_buffer(self._data))
        names_at = ctypes.addressof(ctypes.c_char.from_buffer(self._names))
        self._reply_buf = ctypes.create_string_buffer(reply or b"", max(len(reply or b""), 1))
        self._reply_len = len(reply) if reply is not None else -1
        self._reply_at = ctypes.addressof(self._reply_buf)
        for i in range(size):
            self._recv_iov[i].iov_base = data_at + i * SLOT_SIZE
            self._recv_iov[i].iov_len = SLOT_SIZE
            hdr = recv_hdrs[i].msg_hdr
            hdr.msg_name = names_at + i * NAME_SIZE
            hdr.msg_namelen = NAME_SIZE
            hdr.msg_iov = ctypes.addressof(self._recv_iov[i])
            hdr.msg_iovlen = 1
            out = send_hdrs[i].msg_hdr
            out.msg_namelen = namelen
            out.msg_iov = ctypes.addressof(send_iov[i])
            out.msg_iovlen = 1
        del recv_hdrs, send_hdrs, send_iov
        self._recv_at = ctypes.addressof(ctypes.c_char.from_buffer(self._recv_raw))
        self._send_at = ctypes.addressof(ctypes.c_char.from_buffer(self._send_raw))
        self._data_at = data_at
        self._names_at = names_at
        # Native-integer views for the per-datagram reads and writes (a ctypes attribute
        # access costs several times a memoryview index).
        self._recv_u32 = memoryview(self._recv_raw).cast("I")
        self._send_ptr = memoryview(self._send_raw).cast(_POINTER)
        self._send_iov_ptr = memoryview(self._send_iov_raw).cast(_POINTER)
        self._addresses: dict[bytes, tuple[Any, ...]] = {}
        self.queued = 0

    # -- receiving -------------------------------------------------------------------------

    def receive(self, fd: int) -> int:
        """Read up to ``size`` datagrams from ``fd`` without blocking: how many were read.

        0 when none is waiting.  Other errors are raised as :class:`OSError` (``EINTR`` is
        retried).  Any answers still queued are dropped from the queue first: the slots are
        about to be reused.
        """
        self.queued = 0
        while True:
            n: int = self._recvmmsg(fd, self._recv_at, self.size, MSG_DONTWAIT, None)
            if n >= 0:
                break
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            if code in (errno.EAGAIN, errno.EWOULDBLOCK):
                return 0
            raise OSError(code, f"recvmmsg: {errno.errorcode.get(code, code)}")
        # The kernel wrote each address's length over msg_namelen: give the full slot back.
        u32 = self._recv_u32
        step, at = _HDR // 4, _NAMELEN_AT // 4
        for i in range(n):
            u32[i * step + at] = NAME_SIZE
        return n

    def length(self, i: int) -> int:
        """The size in bytes of received datagram ``i``."""
        return self._recv_u32[(i * _HDR + _LEN_AT) // 4]

    def lengths(self, n: int) -> list[int]:
        """The sizes of received datagrams ``0..n-1``."""
        return self._recv_u32[_LEN_AT // 4 :: _HDR // 4][:n].tolist()

    def data(self, i: int) -> bytes:
        """A copy of received datagram ``i``."""
        start = i * SLOT_SIZE
        return self._data[start : start + self.length(i)]

    def source_port(self, i: int) -> int:
        """The source port of received datagram ``i`` (network byte order in the address)."""
        names, at = self._names, i * NAME_SIZE
        return (names[at + 2] << 8) | names[at + 3]

    def source_key(self, i: int) -> bytes:
        """The source address of datagram ``i`` as bytes (the address, and IPv6 scope id)."""
        at = i * NAME_SIZE
        return bytes(self._names[at + self._key_from : at + self._key_to])

    def source(self, i: int) -> tuple[Any, ...]:
        """The address of received datagram ``i`` as ``socket.recvfrom`` gives it.

        ``(host, port)`` for IPv4, ``(host, port, flowinfo, scope_id)`` for IPv6.  Recent
        addresses are cached (at most :data:`ADDRESS_CACHE` of them), so a client sending
        many datagrams costs one conversion.
        """
        at = i * NAME_SIZE
        raw = bytes(self._names[at : at + self._namelen])
        address = self._addresses.get(raw)
        if address is None:
            if len(self._addresses) >= ADDRESS_CACHE:
                self._addresses.clear()
            port = (raw[2] << 8) | raw[3]
            if self.family == socket.AF_INET:
                address = (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
            else:
                address = (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port,
                           int.from_bytes(raw[4:8], "big"), int.from_bytes(raw[24:28],
                                                                        sys.byteorder))
            self._addresses[raw] = address
        return address

    # -- answering -------------------------------------------------------------------------

    def queue_echo(self, i: int, length: int) -> None:
        """Queue received datagram ``i`` (``length`` bytes) as the answer to its sender."""
        j = self.queued
        self.queued = j + 1
        self._send_ptr[(j * _HDR + _NAME_AT) // _PTR] = self._names_at + i * NAME_SIZE
        iov = self._send_iov_ptr
        iov[j * 2] = self._data_at + i * SLOT_SIZE
        iov[j * 2 + 1] = length

    def queue_reply(self, i: int) -> None:
        """Queue the fixed reply as the answer to the sender of received datagram ``i``."""
        j = self.queued
        self.queued = j + 1
        self._send_ptr[(j * _HDR + _NAME_AT) // _PTR] = self._names_at + i * NAME_SIZE
        iov = self._send_iov_ptr
        iov[j * 2] = self._reply_at
        iov[j * 2 + 1] = self._reply_len

    def flush(self, fd: int) -> tuple[int, list[int]]:
        """Send every queued answer: ``(sent, [errno of each answer the kernel refused])``.

        ``sendmmsg`` stops at the first answer it cannot send; that answer is counted as
        refused (its error read by sending it alone) and the rest are sent after it, so
        each queued answer is either sent or reported once, never retried twice.
        """
        total, self.queued = self.queued, 0
        sent = 0
        failed: list[int] = []
        start = 0
        while start < total:
            n: int = self._sendmmsg(fd, self._send_at + start * _HDR, total - start, 0)
            if n > 0:
                sent += n
                start += n
                continue
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            failed.append(code)
            start += 1
        return sent, failed


def _self_test() -> bool:
    """Round-trip two datagrams through a batch over loopback: the layout is right here."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            a.setblocking(False)
            b.settimeout(1.0)
            for payload in (b"netsuite", b"mmsg!"):
                b.sendto(payload, a.getsockname())
            batch = MessageBatch(4, socket.AF_INET)
            got: list[Any] = []
            for _ in range(100):  # loopback delivery is synchronous; be generous anyway
                n = batch.receive(a.fileno())
                got.extend((batch.data(i), batch.source(i)) for i in range(n))
                for i in range(n):
                    batch.queue_echo(i, batch.length(i))
                if n:
                    batch.flush(a.fileno())
                if len(got) >= 2:
                    break
            expected = [(b"netsuite", b.getsockname()), (b"mmsg!", b.getsockname())]
            if got != expected:
                return False
            return {b.recv(100), b.recv(100)} == {b"netsuite", b"mmsg!"}
    except (OSError, ValueError, TypeError):
        return False


_AVAILABLE: bool | None = None


def available() -> bool:
    """True when batched datagram I/O works on this system (checked once)."""
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = _LIBC is not None and _self_test()
    return _AVAILABLE
