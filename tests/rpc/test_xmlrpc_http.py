"""XML-RPC over HTTP, in memory: the twisted.web site, its fast path, limits and faults."""

from __future__ import annotations

import xmlrpc.client

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from netsuite.rpc import SERVICE
from netsuite.rpc._xmlrpc import XmlRpcSite, xmlrpc_factory

SUM = xmlrpc.client.dumps((1, 2), "Algorithm.Sum").encode()
PEER = IPv4Address("TCP", "127.0.0.1", 40000)


def post(body: bytes, path: bytes = b"/RPC2", version: bytes = b"HTTP/1.1",
         headers: bytes = b"") -> bytes:
    """A POST request with a Content-Length."""
    return (b"POST %s %s\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (path, version, len(body), headers, body))


def connect(site: XmlRpcSite | None = None) -> tuple[XmlRpcSite, object, StringTransport]:
    """A site on a Clock and one in-memory connection to it."""
    site = site or xmlrpc_factory(SERVICE, reactor=Clock())
    proto = site.buildProtocol(PEER)
    transport = StringTransport(peerAddress=PEER)
    proto.makeConnection(transport)
    return site, proto, transport


def responses(data: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Split HTTP/1.1 responses with Content-Length: (status, headers, body) each."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", len(rest)))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def test_sum_answered_and_connection_kept() -> None:
    site, proto, transport = connect()
    proto.dataReceived(post(SUM))
    proto.dataReceived(post(SUM))
    answers = responses(transport.value())
    assert [a[0] for a in answers] == [200, 200]
    assert all(xmlrpc.client.loads(a[2])[0] == (3,) for a in answers)
    assert answers[0][1][b"content-type"] == b"text/xml"
    assert not transport.disconnecting
    assert site.stats.requests == 2 and site.stats.fast_path == 2
