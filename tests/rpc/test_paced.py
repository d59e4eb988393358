"""The connection state shared by the stream transports: open, draining, closed."""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.web import http

from netsuite.rpc import SERVICE
from netsuite.rpc._paced import CLOSED, DRAINING, OPEN, IGracefulClose
from netsuite.rpc.amp._protocol import amp_factory
from netsuite.rpc.gob._http import with_go_http_connect
from netsuite.rpc.gob._protocol import gob_factory
from netsuite.rpc.jsonrpc._protocol import jsonrpc_factory
from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory


def connected(factory: object) -> tuple[object, StringTransport]:
    protocol = factory.buildProtocol(None)  # type: ignore[attr-defined]
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_every_server_connection_declares_graceful_close() -> None:
    for factory in (amp_factory(), jsonrpc_factory(), gob_factory(SERVICE),
                    xmlrpc_factory(SERVICE), with_go_http_connect(http.HTTPFactory(), SERVICE)):
        protocol, _ = connected(factory)
        assert IGracefulClose.providedBy(protocol), protocol
        assert protocol.state == OPEN  # type: ignore[attr-defined]


def test_draining_answers_the_request_in_progress_then_closes() -> None:
    protocol, transport = connected(jsonrpc_factory())
    protocol.dataReceived(b'{"method":"Algorithm.Sum","params":[{"X":1')  # type: ignore[attr-defined]
    protocol.graceful_close()  # type: ignore[attr-defined]
    assert protocol.state == DRAINING and not transport.disconnecting  # type: ignore[attr-defined]
    protocol.graceful_close()  # type: ignore[attr-defined]  # a second call changes nothing
    protocol.dataReceived(b',"Y":2}],"id":7}')  # type: ignore[attr-defined]
    assert b'"result":3' in transport.value() and transport.disconnecting
    assert protocol.state == CLOSED  # type: ignore[attr-defined]


def test_idle_connection_closes_at_once_and_lost_is_closed() -> None:
    protocol, transport = connected(amp_factory())
    protocol.graceful_close()  # type: ignore[attr-defined]
    assert transport.disconnecting and protocol.state == CLOSED  # type: ignore[attr-defined]
    other, _ = connected(gob_factory(SERVICE))
    stats = other.stats  # type: ignore[attr-defined]
    assert stats.connections_open == 1
    other.stopProducing()  # type: ignore[attr-defined]  # the transport goes away first...
    other.connectionLost(None)  # type: ignore[attr-defined]  # ...then says so: counted once
    assert other.state == CLOSED and stats.connections_open == 0  # type: ignore[attr-defined]
