"""The RPC service: one core (``Algorithm.Sum``, ``Programmer.GetSkill``) on five transports.

Public names for users: the service registry and its errors (``SERVICE``, ``Registry``,
``RpcError``...), and the AMP command classes ``Sum`` and ``GetSkill`` (``command_for(method)``
builds the command of any other registered method)::

    from twisted.protocols import amp
    from netsuite.rpc import Sum

    result = await amp_protocol.callRemote(Sum, x=1, y=2)   # {"total": 3}
"""

from netsuite.rpc._core import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_REQUEST,
    SERVICE,
    ApplicationError,
    CallContext,
    DeadlineExceeded,
    IllFormedName,
    Int64Overflow,
    InternalError,
    InvalidParams,
    Method,
    Param,
    Registry,
    RpcError,
    UnknownMethod,
    UnknownService,
)
from netsuite.rpc.amp._protocol import GetSkill, Sum, command_for

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_REQUEST",
    "SERVICE",
    "ApplicationError",
    "CallContext",
    "DeadlineExceeded",
    "GetSkill",
    "IllFormedName",
    "Int64Overflow",
    "InternalError",
    "InvalidParams",
    "Method",
    "Param",
    "Registry",
    "RpcError",
    "Sum",
    "UnknownMethod",
    "UnknownService",
    "command_for",
]
