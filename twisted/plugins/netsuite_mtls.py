"""The ``mtls:`` server endpoint type (TLS requiring a client certificate) for Twisted.

Lazy like every dropin: the parser's code (``netsuite._mtls``) is imported only when an
``mtls:`` description is parsed, and nothing here imports the reactor.
"""

from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IStreamServerEndpointStringParser)
class _MutualTLSParser:
    """``mtls:PORT:privateKey=KEY:certKey=CERT:caCerts=CA_PEM[:interface=ADDR]``."""

    prefix = "mtls"

    def parseStreamServer(self, reactor, *args, **kwargs):
        from netsuite._mtls import server_endpoint

        return server_endpoint(reactor, *args, **kwargs)


mtls = _MutualTLSParser()
