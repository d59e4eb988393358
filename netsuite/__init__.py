"""netsuite: production-quality Twisted network services and clients.

Services (twistd plugins): ``chat``, ``udpecho``, ``tcplog``, ``rpc``.
Clients: the ``netsuite`` console script (``netsuite --help``).
"""

__version__ = "0.1.0"
