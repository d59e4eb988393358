"""Properties of the typed values on AMP, JSON-RPC and XML-RPC: round trips of any value of
a rich type, and hostile input answered in each wire's own error form (never an escape)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from netsuite.rpc import InvalidParams
from netsuite.rpc._types import check, to_plain
from netsuite.rpc.amp._answer import CommandTable, answer
from netsuite.rpc.amp._values import decoder, encoder
from netsuite.rpc.jsonrpc import _answer as jsonrpc_answer
from netsuite.rpc.jsonrpc._values import dump_value, from_json
from netsuite.rpc.xmlrpc._answer import Limits, Stats, XmlRpcDispatcher
from netsuite.rpc.xmlrpc._codec import parse_response
from netsuite.rpc.xmlrpc._encode import encode_call
from tests.rpc.richservice import Bundle, Item, Point, build

REGISTRY, _ = build()
PACK = REGISTRY.lookup("Rich.Pack")
BUNDLE = PACK.result

texts = st.text(max_size=8)
int64s = st.integers(-(2**63), 2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
points = st.builds(Point, int64s, int64s)
items = st.builds(Item, texts, floats, st.lists(texts, max_size=3),
                  st.none() | st.binary(max_size=8), st.none() | points)
xml_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                  blacklist_characters="\ufffe\uffff"), max_size=8)
xml_items = st.builds(Item, xml_texts, st.floats(-1e300, 1e300),  # their sum stays finite
                      st.lists(xml_texts, max_size=3), st.none() | st.binary(max_size=8),
                      st.none() | points)
bundles = st.builds(Bundle, st.lists(items, max_size=3),
                    st.dictionaries(texts, int64s, max_size=3), floats, st.booleans(),
                    st.none() | texts)


@given(bundles)
def test_amp_round_trip_of_any_bundle(bundle: Bundle) -> None:
    plain = to_plain(BUNDLE, bundle)
    assert check(BUNDLE, decoder(BUNDLE)(encoder(BUNDLE)(plain), "result"), "result") == bundle


@given(bundles)
def test_json_round_trip_of_any_bundle(bundle: Bundle) -> None:
    plain = to_plain(BUNDLE, bundle)
    text = dump_value(plain)
    assert check(BUNDLE, from_json(BUNDLE, json.loads(text), "result"), "result") == bundle


@given(st.lists(xml_items, max_size=3), st.dictionaries(xml_texts, int64s, max_size=3))
def test_xmlrpc_round_trip_of_any_call(items_: list[Item], counts: dict[str, int]) -> None:
    dispatcher = XmlRpcDispatcher(REGISTRY, Limits(), Stats())
    plain_items = to_plain(PACK.params[0].spec, items_)
    response, close = dispatcher.handle(encode_call("Rich.Pack", [plain_items, counts]))
    result = check(BUNDLE, parse_response(response), "result")
    assert result.items == items_ and result.counts == counts and not close


@given(st.binary(max_size=200))
def test_amp_any_bytes_for_any_argument_are_bad_params_at_worst(data: bytes) -> None:
    table = CommandTable(REGISTRY)
    for name, pname in [(b"Rich.Pack", b"items"), (b"Rich.Pack", b"counts"),
                        (b"Rich.Move", b"p"), (b"Rich.Half", b"x"), (b"Rich.Bytes", b"data")]:
        box = {b"_command": name, b"_ask": b"1", pname: data}
        reply = answer(table, box, lambda: None)  # type: ignore[arg-type, return-value]
        assert isinstance(reply, bytes)
        assert reply.startswith(b"\x00\x07_answer") or b"BAD_PARAMS" in reply
    try:
        decoder(BUNDLE)(data, "result")
    except InvalidParams:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@given(st.sampled_from(["Rich.Pack", "Rich.Move", "Rich.Count", "Rich.Bytes", "Rich.Maybe"]),
       json_values, st.booleans())
def test_jsonrpc_any_params_get_a_valid_answer(name: str, params: Any, v2: bool) -> None:
    request: dict[str, Any] = {"method": name, "params": [params], "id": 1}
    if v2:
        request["jsonrpc"] = "2.0"
    line = jsonrpc_answer.answer(REGISTRY, request, lambda: None)  # type: ignore[arg-type, return-value]
    assert isinstance(line, str) and line.endswith("\n")
    reply = json.loads(line)
    assert reply["id"] == 1 and ("result" in reply or "error" in reply)


encodings = st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                  blacklist_characters="'\"<>?"), min_size=1, max_size=12)


@given(encodings, st.binary(max_size=60))
def test_xmlrpc_any_declared_encoding_is_answered(encoding: str, tail: bytes) -> None:
    dispatcher = XmlRpcDispatcher(REGISTRY, Limits(), Stats())
    body = (f"<?xml version='1.0' encoding='{encoding}'?><methodCall><methodName>Rich.Fast"
            "</methodName><params><param><value><int>1</int></value></param></params>"
            "</methodCall>").encode() + tail
    response, _ = dispatcher.handle(body)
    parse_response_or_fault(response)


def parse_response_or_fault(response: bytes) -> None:
    from netsuite.rpc.xmlrpc._codec import Fault

    try:
        parse_response(response)
    except Fault:
        pass
