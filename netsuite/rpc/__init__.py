"""The RPC service: one core (``Algorithm.Sum``, ``Programmer.GetSkill``) on five transports.

Public names for users: the service registry and its errors (``SERVICE``, ``Registry``,
``RpcError``...), and -- once the AMP transport is in -- the AMP command classes.
"""

from netsuite.rpc._core import (
    INT64_MAX,
    INT64_MIN,
    SERVICE,
    ApplicationError,
    IllFormedName,
    Int64Overflow,
    InvalidParams,
    Method,
    Param,
    Registry,
    RpcError,
    UnknownMethod,
    UnknownService,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "SERVICE",
    "ApplicationError",
    "IllFormedName",
    "Int64Overflow",
    "InvalidParams",
    "Method",
    "Param",
    "Registry",
    "RpcError",
    "UnknownMethod",
    "UnknownService",
]
