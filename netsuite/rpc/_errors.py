"""The errors a call can end in, each with one short :attr:`RpcError.kind`.

Every wire maps a kind to its own error form in one dict (XML-RPC fault codes, AMP error
codes, JSON-RPC 2.0 codes, gRPC status codes); Go's ``net/rpc`` wires (JSON-RPC 1.0 and gob)
carry only the text, ``str(error)``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "KINDS",
    "ApplicationError",
    "DeadlineExceeded",
    "IllFormedName",
    "Int64Overflow",
    "InternalError",
    "InvalidParams",
    "RpcError",
    "UnknownMethod",
    "UnknownService",
    "outcome_of",
]

#: Every :attr:`RpcError.kind`; each wire's kind -> code dict covers them all.
KINDS: Final = (
    "ill-formed",
    "unknown-service",
    "unknown-method",
    "bad-params",
    "application",
    "overflow",
    "deadline",
    "internal",
)


class RpcError(Exception):
    """Base of every error a call can end in; ``str(error)`` is the text sent to the caller."""

    #: What went wrong, in one word every wire maps to its own code (see :data:`KINDS`).
    kind: str = "internal"


class InternalError(RpcError):
    """The server failed (a method returned a value of the wrong type, say)."""

    kind = "internal"


class IllFormedName(RpcError):
    """The method name has no ``.`` (Go: ``rpc: service/method request ill-formed: NAME``)."""

    kind = "ill-formed"

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: service/method request ill-formed: {name}")
        self.name = name


class UnknownService(RpcError):
    """No such service (Go: ``rpc: can't find service Service.Method``)."""

    kind = "unknown-service"

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: can't find service {name}")
        self.name = name


class UnknownMethod(RpcError):
    """The service exists but not the method (Go: ``rpc: can't find method Service.Method``)."""

    kind = "unknown-method"

    def __init__(self, name: str) -> None:
        super().__init__(f"rpc: can't find method {name}")
        self.name = name


class InvalidParams(RpcError):
    """The arguments do not match the method's registered signature."""

    kind = "bad-params"


class ApplicationError(RpcError):
    """The method ran and refused: the application's own error (XML-RPC fault -32500)."""

    kind = "application"
    #: A short machine-readable code (the AMP error code); a subclass may set its own.
    code = "APPLICATION"


class Int64Overflow(ApplicationError):
    """An integer result outside the signed 64-bit range."""

    kind = "overflow"
    code = "OVERFLOW"


class DeadlineExceeded(ApplicationError):
    """The call ran longer than its method's ``timeout`` (or the gRPC client's deadline)."""

    kind = "deadline"

    def __init__(self, text: str = "deadline exceeded") -> None:
        super().__init__(text)


#: The metrics outcome label of each kind (unknown service and ill-formed names count as
#: unknown methods; overflow and deadline as application errors).
_OUTCOMES: Final = {
    "ill-formed": "unknown-method",
    "unknown-service": "unknown-method",
    "unknown-method": "unknown-method",
    "bad-params": "bad-params",
    "application": "application-error",
    "overflow": "application-error",
    "deadline": "application-error",
    "internal": "internal",
}


def outcome_of(error: BaseException | None) -> str:
    """The outcome label of a call: ``ok``, ``application-error`` (overflow and other refusals),
    ``bad-params``, ``unknown-method`` (also unknown service, ill-formed name) or ``internal``."""
    if error is None:
        return "ok"
    if isinstance(error, RpcError):
        return _OUTCOMES.get(error.kind, "internal")
    return "internal"
