"""The netsuite chat service: a line-based chat with rooms and history (``docs/chat.md``).

Run it with ``twistd -n chat --port 8086``; talk to it with ``netsuite chat HOST:PORT``.
Test helpers for your own tests: :mod:`netsuite.chat.testing`.
"""

from netsuite.chat._model import RoomLimits, Stats
from netsuite.chat._protocol import ChatFactory, ChatProtocol
from netsuite.chat._room import Room

__all__ = ["ChatFactory", "ChatProtocol", "Room", "RoomLimits", "Stats"]
