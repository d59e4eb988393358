"""TCP line log (the book's print server, done right) and its client, ``netsuite send``.

Public names: :class:`LineLogFactory`, :class:`LineLogProtocol`, :class:`Stats`,
:func:`render_line`.  The twistd plugin is ``tcplog`` (:mod:`netsuite.tcplog._tap`).
"""

from netsuite.tcplog._protocol import (
    DEFAULT_MAX_LINE,
    LineLogFactory,
    LineLogProtocol,
    Stats,
    render_line,
)

__all__ = ["DEFAULT_MAX_LINE", "LineLogFactory", "LineLogProtocol", "Stats", "render_line"]
