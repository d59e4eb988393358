"""The netsuite chat service: a line-based TCP chat room (PROTOCOLS.md section 1).

Run it with ``twistd -n chat --port 8086``; talk to it with ``netsuite chat HOST:PORT``.
"""

from netsuite.chat._protocol import ChatFactory, ChatProtocol
from netsuite.chat._room import Room, RoomLimits, Stats

__all__ = ["ChatFactory", "ChatProtocol", "Room", "RoomLimits", "Stats"]
