"""``netsuite head TARGET...``: fetch HTTP response heads from many targets at once."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import attrs
from twisted.internet import defer, error
from twisted.python.failure import Failure

from netsuite._cli import UsageFailure
from netsuite._endpoints import (
    TargetError,
    client_endpoint,
    describe_connect_failure,
    format_host_port,
)
from netsuite._options import positive_float, positive_int
from netsuite._tls import ClientTLS, add_tls_options, tls_failure_text
from netsuite.head._parse import (
    DEFAULT_MAX_HEAD,
    HeadTooLarge,
    MalformedResponse,
    ResponseHead,
    Target,
    build_request,
    parse_target,
)
from netsuite.head._protocol import ConnectionClosedEarly, HeadClientFactory

__all__ = ["DESCRIPTION", "Result", "configure", "describe_failure", "fetch_head", "run"]

DESCRIPTION = """\
Send a HEAD request to each TARGET and print the response head (status line and headers).

TARGET is HOST:PORT, [IPV6]:PORT, or an http:// or https:// URL (path and query are
sent; https, and every target with --tls, verifies the server certificate against the
system's CAs or --ca, unless --insecure; --cert and --key present a client certificate).
The request is the book's 'HEAD PATH HTTP/1.0'; --http1.1 sends HTTP/1.1 with Host and
Connection: close.
The client stops reading at the end of the head, whatever Content-Length says.

exit status: 0 every target answered (an HTTP error status such as 404 is an answer),
1 any target failed (one line on stderr each), 2 usage error (a bad target),
130 interrupted (Ctrl-C)."""



def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``netsuite head`` arguments."""
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="HOST:PORT, [IPV6]:PORT, http://... or https://...")
    parser.add_argument("--file", "-f", metavar="FILE",
                        help="also read targets from FILE ('-': standard input), one per "
                        "line; blank lines and lines starting with # are skipped")
    parser.add_argument("--http1.1", dest="http11", action="store_true",
                        help="send HTTP/1.1 with Host and Connection: close (default: HTTP/1.0)")
    parser.add_argument("--concurrency", "-c", type=positive_int, default=10,
                        metavar="N", help="targets probed at once (default: 10)")
    parser.add_argument("--timeout", "-t", type=positive_float, default=10.0,
                        metavar="S", help="seconds per target, connect + response (default: 10)")
    parser.add_argument("--max-head", type=positive_int, default=DEFAULT_MAX_HEAD,
                        metavar="BYTES",
                        help=f"largest response head accepted (default: {DEFAULT_MAX_HEAD})")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per target and line: target, status, reason, "
                        "version, headers ([name, value] pairs), elapsed_ms, error")
    add_tls_options(parser, what="use TLS for HOST:PORT targets too (https:// always does)")


@attrs.define
class Result:
    """The outcome for one target: a head, or an error reason; ``elapsed`` in seconds."""

    target: Target
    elapsed: float
    head: ResponseHead | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        head = self.head
        return {
            "target": self.target.text,
            "status": head.status if head else None,
            "reason": head.reason if head else None,
            "version": head.version if head else None,
            "headers": [list(pair) for pair in head.headers] if head else None,
            "elapsed_ms": round(self.elapsed * 1000, 3),
            "error": self.error,
        }

    def as_text(self) -> str:
        """The status line and headers, one per line, as received."""
        assert self.head is not None
        lines = [self.head.status_line]
        lines += [f"{name}: {value}" for name, value in self.head.headers]
        return "\n".join(lines)


def describe_failure(failure: Failure, timeout: float, where: str = "") -> str:
    """A one-line reason for a failed target (``where``: its ``HOST:PORT``, for TLS errors)."""
    if tls_text := tls_failure_text(failure, where):
        return tls_text
    if failure.check(defer.TimeoutError, error.TimeoutError, defer.CancelledError,
                     error.ConnectingCancelledError, error.ConnectionRefusedError,
                     error.DNSLookupError):
        return describe_connect_failure(failure.value, timeout)
    if failure.check(MalformedResponse):
        return f"malformed response: {failure.value}"
    if failure.check(HeadTooLarge, ConnectionClosedEarly):
        return str(failure.value)
    if failure.check(error.ConnectError, OSError):
        message = failure.getErrorMessage()
        return f"cannot connect: {message}"
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"


async def fetch_head(reactor: Any, target: Target, *, http11: bool = False,
                     timeout: float = 10.0, insecure: bool = False,
                     max_head: int = DEFAULT_MAX_HEAD,
                     tls: ClientTLS | None = None) -> ResponseHead:
    """Connect to ``target``, send HEAD, return the response head.

    A target with ``tls`` set speaks TLS as ``tls`` says (CAs, client certificate), or
    verified against the system's CAs (not at all with ``insecure``) without it.
    ``timeout`` bounds connect and response together; on expiry the connection attempt
    is cancelled or the connection aborted, and :class:`defer.TimeoutError` is raised.
    """
    settings = (tls or ClientTLS(insecure=insecure)) if target.tls else False
    endpoint = client_endpoint(reactor, target.host, target.port, tls=settings,
                               timeout=timeout)
    factory = HeadClientFactory(build_request(target, http11), max_head)
    d = endpoint.connect(factory)
    d.addCallback(lambda proto: proto.finished)
    d.addTimeout(timeout, reactor)
    return await d


async def probe(reactor: Any, target: Target, args: argparse.Namespace,
                tls: ClientTLS | None = None) -> Result:
    """Fetch one head; never raises (failures become ``Result.error``)."""
    started = time.perf_counter()
    try:
        head = await fetch_head(reactor, target, http11=args.http11, timeout=args.timeout,
                                insecure=args.insecure, max_head=args.max_head, tls=tls)
    except Exception:
        where = format_host_port(target.host, target.port)
        return Result(target, time.perf_counter() - started,
                      error=describe_failure(Failure(), args.timeout, where))
    return Result(target, time.perf_counter() - started, head=head)


def read_target_file(path: str) -> list[str]:
    """Targets listed in a file (``-``: standard input), one per line."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageFailure(f"cannot read targets from {path}: {exc}") from None
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


async def run(reactor: Any, args: argparse.Namespace) -> int:
    """Probe every target, ``--concurrency`` at a time; print as each one finishes."""
    texts = list(args.targets)
    if getattr(args, "file", None):
        texts += read_target_file(args.file)
    if not texts:
        raise UsageFailure("no targets given")
    try:
        targets = [parse_target(text) for text in texts]
    except TargetError as exc:
        raise UsageFailure(str(exc)) from None
    if args.tls:
        targets = [attrs.evolve(target, tls=True) for target in targets]
    tls = _tls_settings(args, any(target.tls for target in targets))
    several = len(targets) > 1
    limit = defer.DeferredSemaphore(args.concurrency)
    failures = 0
    out = sys.stdout

    def report(result: Result) -> None:
        nonlocal failures
        if args.json:
            out.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        elif result.head is not None:
            header = f"* {result.target.text}\n" if several else ""
            out.write(header + result.as_text() + "\n" + ("\n" if several else ""))
        if result.error is not None:
            failures += 1
            print(f"netsuite head: {result.target.text}: {result.error}", file=sys.stderr)

    async def one(target: Target) -> None:
        report(await probe(reactor, target, args, tls))

    await defer.gatherResults([
        limit.run(lambda t=target: defer.ensureDeferred(one(t))) for target in targets
    ])
    out.flush()
    return 1 if failures else 0


def _tls_settings(args: argparse.Namespace, any_tls: bool) -> ClientTLS | None:
    """The TLS options checked once; https targets use them without ``--tls``."""
    if not any_tls:
        return ClientTLS.from_args(args)  # None, or a usage error for TLS options alone
    forced = argparse.Namespace(**vars(args))
    forced.tls = True
    return ClientTLS.from_args(forced)
