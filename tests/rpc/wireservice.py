"""``twistd rpc --service tests.rpc.wireservice``: the rich methods of
:mod:`tests.rpc.wiremethods` on ``netsuite.rpc.SERVICE`` (beside the book's two)."""

from __future__ import annotations

from netsuite.rpc import SERVICE
from tests.rpc.wiremethods import register_rich

register_rich(SERVICE)
