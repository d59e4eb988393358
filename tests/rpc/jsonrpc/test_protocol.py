"""JSON-RPC transport: Go's wire form and texts, JSON-RPC 2.0, limits and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import StringTransport

from netsuite.rpc import INT64_MAX, Registry
from netsuite.rpc.jsonrpc._protocol import JsonRpcProtocol, jsonrpc_factory


def server(**kwargs: Any) -> tuple[JsonRpcProtocol, StringTransport]:
    registry = kwargs.pop("registry", None)
    factory = jsonrpc_factory(registry, **kwargs) if registry else jsonrpc_factory(**kwargs)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def lines(transport: StringTransport) -> list[str]:
    """The answers: one per ``\n``-terminated line (answers contain no other line break)."""
    data = transport.value().decode()
    assert data == "" or data.endswith("\n")
    return data.split("\n")[:-1]


def answers(transport: StringTransport) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(transport)]


def exchange(*requests: bytes | str, **kwargs: Any) -> tuple[list[str], StringTransport]:
    protocol, transport = server(**kwargs)
    for request in requests:
        protocol.dataReceived(request.encode() if isinstance(request, str) else request)
    return lines(transport), transport


SUM = '{"method":"Algorithm.Sum","params":[{"X":1,"Y":2}],"id":0}'


# --- Go's form ------------------------------------------------------------------------------

def test_sum_exact_bytes() -> None:
    _, transport = exchange(SUM)
    assert transport.value() == b'{"id":0,"result":3,"error":null}\n'


def test_getskill_full_width_comma() -> None:
    out, _ = exchange('{"method":"Programmer.GetSkill","params":[{"Java":"J","Go":"G"}],"id":1}')
    assert out == ['{"id":1,"result":"Skill1:J，Skill2G","error":null}']


@pytest.mark.parametrize("ident", [
    "0", "-0", "-7", "18446744073709551616", "1.50", "1e400", "-0.0", '"abc"', '""', "null",
    '"\\u00e9 \\" \\\\"', "[1,2]", '{"a":[true,false,null]}', "true",
])
def test_id_echoed_verbatim(ident: str) -> None:
    out, _ = exchange('{"method":"Algorithm.Sum","params":[{"X":1,"Y":2}],"id":' + ident + "}")
    [line] = out
    assert line.startswith('{"id":')
    echoed = line[len('{"id":'):-len(',"result":3,"error":null}')]
    assert json.loads(echoed) == json.loads(ident)
    if not ident.startswith('"'):
        assert echoed == ident.replace(" ", "")


def test_missing_id_answered_with_null() -> None:
    out, _ = exchange('{"method":"Algorithm.Sum","params":[{"X":1,"Y":2}]}')
    assert out == ['{"id":null,"result":3,"error":null}']


@pytest.mark.parametrize(("request_", "error"), [
    ('{"method":"Sum","params":[{}],"id":1}', "rpc: service/method request ill-formed: Sum"),
    ('{"params":[{}],"id":1}', "rpc: service/method request ill-formed: "),
    ('{"method":"Nope.Sum","params":[{}],"id":1}', "rpc: can't find service Nope.Sum"),
    ('{"method":"Algorithm.Mul","params":[{}],"id":1}', "rpc: can't find method Algorithm.Mul"),
    ('{"method":"Algorithm.Sum","id":1}', "jsonrpc: request body missing params"),
    ('{"method":"Algorithm.Sum","params":null,"id":1}', "jsonrpc: request body missing params"),
    ('{"method":"Nope.Sum","id":1}', "rpc: can't find service Nope.Sum"),
    ('{"method":"Algorithm.Sum","params":{"X":1},"id":1}',
     "json: cannot unmarshal object into Go value of type [1]interface {}"),
    ('{"method":"Algorithm.Sum","params":[3],"id":1}',
     "json: cannot unmarshal number into Go value of type main.Args"),
    ('{"method":"Algorithm.Sum","params":[{"X":"1"}],"id":1}',
     "json: cannot unmarshal string into Go struct field Args.X of type int"),
    ('{"method":"Algorithm.Sum","params":[{"X":1.5}],"id":1}',
     "json: cannot unmarshal number 1.5 into Go struct field Args.X of type int"),
    ('{"method":"Algorithm.Sum","params":[{"y":9223372036854775808}],"id":1}',
     "json: cannot unmarshal number 9223372036854775808 into Go struct field Args.Y of type int"),
    ('{"method":"Algorithm.Sum","params":[{"X":true}],"id":1}',
     "json: cannot unmarshal bool into Go struct field Args.X of type int"),
    ('{"method":"Programmer.GetSkill","params":[{"Java":1}],"id":1}',
     "json: cannot unmarshal number into Go struct field Args.Java of type string"),
    ('{"method":"Algorithm.Sum","params":[{"X":9223372036854775807,"Y":1}],"id":1}',
     "integer overflow: 9223372036854775807 + 1 is outside the signed 64-bit range"),
])
def test_go_error_texts_and_connection_stays(request_: str, error: str) -> None:
    out, transport = exchange(request_ + SUM)
    assert json.loads(out[0]) == {"id": 1, "result": None, "error": error}
    assert out[1] == '{"id":0,"result":3,"error":null}'
    assert not transport.disconnecting


def test_go_decoder_semantics() -> None:
    out, _ = exchange(
        '{"METHOD":"Algorithm.Sum","Params":[{"x":2,"Y":3,"Z":"ignored"},"extra"],"ID":5}'
        '{"method":"Algorithm.Sum","params":[],"id":6}'
        '{"method":"Algorithm.Sum","params":[null],"id":7}'
        '{"method":"Algorithm.Sum","params":[{"X":null,"Y":4}],"id":8}'
        '{"method":"Algorithm.Sum","Id":1,"id":9,"params":[{"X":-1}]}'
    )
    assert [json.loads(line)["result"] for line in out] == [5, 0, 0, 4, -1]
    assert [json.loads(line)["id"] for line in out] == [5, 6, 7, 8, 9]


def test_unicode_line_breaks_are_escaped() -> None:
    out, _ = exchange('{"method":"Programmer.GetSkill","params":[{"Java":"a\\u2028b\\u0085"}],'
                      '"id":"\\u2029"}')
    assert out == ['{"id":"\\u2029","result":"Skill1:a\\u2028b\\u0085，Skill2","error":null}']


def test_user_method_served() -> None:
    registry = Registry()

    @registry.register("Text.Upper", [("s", str)], str, "upper-case")
    def upper(s: str) -> str:
        return s.upper()

    out, _ = exchange('{"method":"Text.Upper","params":[{"S":"<é>"}],"id":"u"}',
                      registry=registry)
    assert out == ['{"id":"u","result":"<É>","error":null}']


def test_internal_error_keeps_connection() -> None:
    registry = Registry()

    @registry.register("Bad.Boom", [], int, "raises")
    def boom() -> int:
        raise RuntimeError("bug")

    out, transport = exchange('{"method":"Bad.Boom","params":[{}],"id":1}' * 2,
                              registry=registry)
    assert out == ['{"id":1,"result":null,"error":"internal error"}'] * 2
    assert not transport.disconnecting


# --- framing ----------------------------------------------------------------------------------

def test_split_merged_and_whitespace() -> None:
    data = (SUM + " \n\t" + SUM.replace('"id":0', '"id":1') + "\r\n" + SUM.replace('"id":0',
                                                                                  '"id":2'))
    whole, _ = exchange(data)
    assert [json.loads(line)["id"] for line in whole] == [0, 1, 2]
    bytewise, _ = exchange(*[data[i:i + 1] for i in range(len(data))])
    assert bytewise == whole


def test_pipelining_many() -> None:
    data = "".join(SUM.replace('"id":0', f'"id":{i}') for i in range(1000))
    out, _ = exchange(data)
    assert [json.loads(line)["id"] for line in out] == list(range(1000))


def test_non_ascii_and_invalid_utf8_in_strings() -> None:
    request = '{"method":"Programmer.GetSkill","params":[{"Java":"爪哇","Go":"x"}],"id":1}'
    encoded = request.encode()
    out, _ = exchange(*[encoded[i:i + 3] for i in range(0, len(encoded), 3)])
    assert json.loads(out[0])["result"] == "Skill1:爪哇，Skill2x"
    out, _ = exchange(encoded.replace("爪".encode(), b"\xff"))
    assert json.loads(out[0])["result"] == "Skill1:\ufffd哇，Skill2x"
    out, _ = exchange('{"method":"Programmer.GetSkill","params":[{"Java":"\\ud800"}],"id":1}')
    assert json.loads(out[0])["result"].startswith("Skill1:\ud800")


# --- bad input: close after one error ------------------------------------------------------

@pytest.mark.parametrize(("data", "text"), [
    ('{"method": bad}', "malformed JSON"),
    ('{"method": "Algorithm.Sum", "params": [}\n', "malformed JSON"),
    ("hello\n", "expected a JSON object"),
    ("[" + SUM + "]", "expected a JSON object"),
    ("42 ", "expected a JSON object"),
    ('{"method":5,"params":[{}],"id":1}', "rpc: server cannot decode request"),
])
def test_malformed_closes_after_answering_earlier_requests(data: str, text: str) -> None:
    out, transport = exchange(SUM + data + SUM)
    assert out[0] == '{"id":0,"result":3,"error":null}'
    assert len(out) == 2
    error = json.loads(out[1])
    assert error["id"] is None and error["result"] is None and text in error["error"]
    assert transport.disconnecting


def test_oversized_request_refused_before_buffering() -> None:
    protocol, transport = server(max_request=1000)
    protocol.dataReceived(b'{"method":"Algorithm.Sum","params":[{"X":1,"Y":"' + b"a" * 600)
    assert not transport.disconnecting
    protocol.dataReceived(b"a" * 600)
    assert transport.disconnecting
    assert "over 1000 bytes" in answers(transport)[0]["error"]
    assert not protocol.stream.partial


def test_oversized_complete_request_in_one_read_refused() -> None:
    big = '{"method":"Algorithm.Sum","params":[{"X":1,"Y":2,"Pad":"' + "p" * 2000 + '"}],"id":1}'
    out, transport = exchange(SUM + big, max_request=1000)
    assert len(out) == 2 and "over 1000 bytes" in out[1]
    assert transport.disconnecting


@pytest.mark.parametrize("depth", [100, 101, 5000])
def test_nesting_limit(depth: int) -> None:
    params = "[" * (depth - 2) + "]" * (depth - 2)  # object + params array + this = depth
    request = '{"method":"Algorithm.Sum","params":[' + params + '],"id":1}'
    for chunks in ([request], [request[: len(request) // 2], request[len(request) // 2:]]):
        out, transport = exchange(*chunks)
        if depth <= 100:
            assert json.loads(out[0])["error"].startswith("json: cannot unmarshal array")
            assert not transport.disconnecting
        else:
            assert "deeper than 100" in json.loads(out[0])["error"]
            assert transport.disconnecting


def test_stream_error_in_v2_form_after_v2_request() -> None:
    out, transport = exchange('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1,2],"id":1}'
                              '{"oops"}')
    error = json.loads(out[1])
    assert error["jsonrpc"] == "2.0" and error["id"] is None
    assert error["error"]["code"] == -32700 and "malformed" in error["error"]["message"]
    assert transport.disconnecting


def test_slow_reader_pauses_reading_and_graceful_close() -> None:
    protocol, transport = server()
    assert transport.producer is protocol
    protocol.pauseProducing()
    assert transport.producerState == "paused"
    protocol.resumeProducing()
    protocol.dataReceived(SUM[:10].encode())
    protocol.graceful_close()
    assert not transport.disconnecting
    protocol.dataReceived(SUM[10:].encode() + SUM.encode())
    assert lines(transport) == ['{"id":0,"result":3,"error":null}']
    assert transport.disconnecting
    # The next request already partly received is not waited for.
    protocol, transport = server()
    protocol.dataReceived(SUM[:10].encode())
    protocol.graceful_close()
    protocol.dataReceived(SUM[10:].encode() + SUM[:10].encode())
    assert lines(transport) == ['{"id":0,"result":3,"error":null}']
    assert transport.disconnecting
    idle, idle_transport = server()
    idle.graceful_close()
    assert idle_transport.disconnecting


# --- JSON-RPC 2.0 -------------------------------------------------------------------------------

def v2(body: str) -> list[dict[str, Any]]:
    out, _ = exchange(body)
    return [json.loads(line) for line in out]


def test_v2_results() -> None:
    assert v2('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1,2],"id":1}'
              '{"jsonrpc":"2.0","method":"Algorithm.Sum","params":{"x":3,"Y":4},"id":"b"}'
              '{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[{"X":5,"Y":6}],"id":null}'
              '{"jsonrpc":"2.0","method":"Programmer.GetSkill","params":["a","b"],"id":2}'
              ) == [
        {"jsonrpc": "2.0", "id": 1, "result": 3},
        {"jsonrpc": "2.0", "id": "b", "result": 7},
        {"jsonrpc": "2.0", "id": None, "result": 11},
        {"jsonrpc": "2.0", "id": 2, "result": "Skill1:a，Skill2b"},
    ]


@pytest.mark.parametrize(("body", "code"), [
    ('{"jsonrpc":"2.0","method":"Algorithm.Nope","params":[],"id":1}', -32601),
    ('{"jsonrpc":"2.0","method":"nodot","params":[],"id":1}', -32601),
    ('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1],"id":1}', -32602),
    ('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1.5,2],"id":1}', -32602),
    ('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":{"x":1,"q":2},"id":1}', -32602),
    ('{"jsonrpc":"2.0","method":"Algorithm.Sum","id":1}', -32602),
    ('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":"1,2","id":1}', -32600),
    ('{"jsonrpc":"2.0","method":7,"params":[],"id":1}', -32600),
    (f'{{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[{INT64_MAX},1],"id":1}}', -32000),
])
def test_v2_error_codes(body: str, code: int) -> None:
    [answer] = v2(body)
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 1
    assert answer["error"]["code"] == code and answer["error"]["message"]
    if code == -32000:
        assert answer["error"]["data"] == "OVERFLOW"
    if code == -32601:
        assert answer["error"]["message"].startswith("rpc: ")


def test_v2_invalid_id_and_notifications() -> None:
    answers_ = v2('{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1,2],"id":[1]}'
                  '{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1,2]}'
                  '{"jsonrpc":"2.0","method":"Algorithm.Nope","params":[1,2]}')
    assert answers_ == [{"jsonrpc": "2.0", "id": None, "error": {
        "code": -32600, "message": "Invalid Request: id must be a string, a number or null"}}]


def test_observers_see_every_outcome() -> None:
    registry = Registry()
    registry.register("Algorithm.Sum", [("x", int), ("y", int)], int, "sum")(
        lambda x, y: x + y)
    seen: list[tuple[str, str, str]] = []
    registry.observers.append(lambda t, m, o, s: seen.append((t, m, o)))
    exchange(SUM + '{"method":"Algorithm.Sum","params":[{"X":"a"}],"id":1}'
             '{"method":"Algorithm.Sum","id":2}'
             '{"method":"Algorithm.Nope","params":[{}],"id":3}'
             '{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[1],"id":4}'
             '{"jsonrpc":"2.0","method":"X.Y","params":[1],"id":5}', registry=registry)
    assert seen == [("jsonrpc", "Algorithm.Sum", "ok"),
                    ("jsonrpc", "Algorithm.Sum", "bad-params"),
                    ("jsonrpc", "Algorithm.Sum", "bad-params"),
                    ("jsonrpc", "Algorithm.Nope", "unknown-method"),
                    ("jsonrpc", "Algorithm.Sum", "bad-params"),
                    ("jsonrpc", "X.Y", "unknown-method")]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8)
_requests = st.fixed_dictionaries({}, optional={
    "jsonrpc": st.sampled_from(["2.0", "1.0"]) | _json_values,
    "method": st.sampled_from(["Algorithm.Sum", "Programmer.GetSkill", "A.B", "x", ""])
    | _json_values,
    "params": st.lists(st.dictionaries(st.sampled_from(["X", "y", "Java", "go", "Z"]),
                                       _json_values, max_size=3), max_size=2) | _json_values,
    "id": _json_values,
})


@settings(max_examples=200, deadline=None)
@given(st.lists(_requests, min_size=1, max_size=4))
def test_random_requests_always_get_valid_json_answers(requests: list[dict[str, Any]]) -> None:
    protocol, transport = server()
    protocol.dataReceived("".join(json.dumps(r) for r in requests).encode())
    answers = [json.loads(line) for line in lines(transport)]
    assert len(answers) <= len(requests)
    for answer in answers:
        assert "id" in answer
        assert ("result" in answer) or ("error" in answer)
    if not transport.disconnecting:
        expected = [r for r in requests if not (r.get("jsonrpc") == "2.0" and "id" not in r)]
        assert len(answers) == len(expected)


@pytest.mark.parametrize("request_", [
    '{"method":"Algorithm.Sum","params":[{"X":-0,"Y":2}],"id":1}',
    '{"jsonrpc":"2.0","method":"Algorithm.Sum","params":[-0,2],"id":1}',
])
def test_negative_zero_argument_is_zero(request_: str) -> None:
    out, _ = exchange(request_)
    [line] = out
    assert json.loads(line)["result"] == 2
