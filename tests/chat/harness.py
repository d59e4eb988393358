"""In-memory chat conversations: the shipped helpers of :mod:`netsuite.chat.testing`
under the short names the tests use."""

from __future__ import annotations

from netsuite.chat.testing import FakeChat as Chat
from netsuite.chat.testing import FakeClient as Client
from netsuite.chat.testing import FakeTransport as Transport

__all__ = ["Chat", "Client", "Transport"]
