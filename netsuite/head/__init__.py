"""HTTP HEAD client: a raw Protocol + ClientFactory, and ``netsuite head``.

Public names: :class:`HeadProtocol`, :class:`HeadClientFactory`, :func:`fetch_head`,
:func:`parse_target`, :func:`parse_head`, :func:`find_head_end`, :func:`build_request`,
:class:`ResponseHead`, :class:`Target`, and the errors :class:`MalformedResponse`,
:class:`HeadTooLarge`, :class:`ConnectionClosedEarly`.
"""

from netsuite.head._cli import fetch_head
from netsuite.head._parse import (
    DEFAULT_MAX_HEAD,
    HeadTooLarge,
    MalformedResponse,
    ResponseHead,
    Target,
    build_request,
    find_head_end,
    parse_head,
    parse_target,
)
from netsuite.head._protocol import ConnectionClosedEarly, HeadClientFactory, HeadProtocol

__all__ = [
    "DEFAULT_MAX_HEAD",
    "ConnectionClosedEarly",
    "HeadClientFactory",
    "HeadProtocol",
    "HeadTooLarge",
    "MalformedResponse",
    "ResponseHead",
    "Target",
    "build_request",
    "fetch_head",
    "find_head_end",
    "parse_head",
    "parse_target",
]
