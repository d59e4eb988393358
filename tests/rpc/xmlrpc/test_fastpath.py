"""The XML-RPC fast path's shortcuts answer exactly as the general code: remembered header
lines, registered methods looked up once, int results written from a template."""

from __future__ import annotations

import xmlrpc.client

import pytest
from twisted.internet.task import Clock

from netsuite.rpc import SERVICE, Registry
from netsuite.rpc.xmlrpc import _protocol
from netsuite.rpc.xmlrpc._answer import XmlRpcDispatcher
from netsuite.rpc.xmlrpc._encode import encode_call, encode_response
from netsuite.rpc.xmlrpc._protocol import xmlrpc_factory
from tests.rpc.xmlrpc.test_http import SUM, connect, post, responses, result_of


def test_remembered_header_lines_still_decide_each_request() -> None:
    site = xmlrpc_factory(SERVICE, reactor=Clock())
    _, proto, transport = connect(site)
    for _ in range(3):  # the same lines again: answered from the memo, alike
        proto.dataReceived(post(SUM, headers=b"User-Agent: t\r\n"))
    # Same header lines, a body one byte short of its Content-Length: not the fast path.
    proto.dataReceived(post(SUM)[:-1])
    proto.dataReceived(post(SUM)[-1:])
    assert [result_of(a[2]) for a in responses(transport.value())] == [3, 3, 3, 3]
    assert site.stats.fast_path == 3
    # A header that needs twisted.web is never remembered as fast.
    proto.dataReceived(post(SUM, headers=b"Connection: close\r\n"))
    proto.dataReceived(post(SUM, headers=b"Connection: close\r\n"))
    assert site.stats.fast_path == 3


def test_header_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_protocol, "_MAX_HEADS", 4)
    site = xmlrpc_factory(SERVICE, reactor=Clock())
    _, proto, transport = connect(site)
    for i in range(10):
        proto.dataReceived(post(SUM, headers=b"X-Call: %d\r\n" % i))
        assert len(site._heads) <= 4
    assert [result_of(a[2]) for a in responses(transport.value())] == [3] * 10
    assert site.stats.fast_path == 10


@pytest.mark.parametrize("value", [0, 1, -1, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1,
                                   2**63 - 1, -(2**63)])
def test_int_results_written_as_encode_response_writes_them(value: int) -> None:
    reg = Registry()
    reg.register("Echo.Int", [("x", int)], int, "echo")(lambda x: x)
    dispatcher = xmlrpc_factory(reg, reactor=Clock()).dispatcher
    body, close = dispatcher.handle(encode_call("Echo.Int", [value]))
    assert body == encode_response(value) and not close
    assert xmlrpc.client.loads(body)[0] == (value,)


def test_looked_up_once_answers_every_form_alike() -> None:
    dispatcher: XmlRpcDispatcher = xmlrpc_factory(SERVICE, reactor=Clock()).dispatcher
    for _ in range(2):  # the first call looks the method up, the second uses what it found
        assert xmlrpc.client.loads(dispatcher.handle(encode_call("Algorithm.Sum", [1, 2]))[0]
                                   )[0] == (3,)
        assert xmlrpc.client.loads(dispatcher.handle(
            encode_call("Algorithm.Sum", [{"X": 1, "Y": 2}]))[0])[0] == (3,)
        with pytest.raises(xmlrpc.client.Fault) as info:
            xmlrpc.client.loads(dispatcher.handle(encode_call("Algorithm.Sum", [1]))[0])
        assert info.value.faultCode == -32602
