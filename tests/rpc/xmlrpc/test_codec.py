"""The XML-RPC codec: safe parsing (no DTD, depth cap), value types, encoding, stdlib interop."""

from __future__ import annotations

import math
import xmlrpc.client

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsuite.rpc.xmlrpc._codec import (
    FAULT_INVALID_REQUEST,
    FAULT_PARSE,
    DateTime,
    DepthExceeded,
    EncodeError,
    Fault,
    InvalidRequest,
    ParseError,
    XmlRpcDecodeError,
    _fast_call,
    _fast_call_general,
    _parse_call,
    parse_call,
    parse_response,
)
from netsuite.rpc.xmlrpc._encode import encode_call, encode_fault, encode_response


def call_with(value_xml: str, name: str = "M.m") -> bytes:
    return (f"<methodCall><methodName>{name}</methodName><params><param>"
            f"<value>{value_xml}</value></param></params></methodCall>").encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>Programmer.GetSkill</methodName><params>
<param><value><string>&lol9;</string></value></param>
<param><value><string>x</string></value></param></params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>&xxe;</methodName></methodCall>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE methodCall SYSTEM "http://example.invalid/evil.dtd">
<methodCall><methodName>Algorithm.Sum</methodName></methodCall>"""


def test_positional_ints_of_every_spelling() -> None:
    body = (b"<?xml version='1.0'?><methodCall><methodName>Algorithm.Sum</methodName><params>"
            b"<param><value><int>1</int></value></param>"
            b"<param><value><i4> -2 </i4></value></param>"
            b"<param><value><i8>9223372036854775807</i8></value></param>"
            b"<param><value><ex:i8>+4</ex:i8></value></param></params></methodCall>")
    assert parse_call(body) == ("Algorithm.Sum", [1, -2, 2**63 - 1, 4])


def test_bare_value_text_is_a_string_and_whitespace_kept() -> None:
    assert parse_call(call_with(" a b ")) == ("M.m", [" a b "])
    assert parse_call(call_with("<string> x </string>")) == ("M.m", [" x "])
    assert parse_call(call_with("")) == ("M.m", [""])


def test_struct_array_and_other_types() -> None:
    body = xmlrpc.client.dumps(
        ({"X": 1, "Y": [True, 2.5, None, b"\x00\xff", "s"]},), "M.m", allow_none=True
    ).encode()
    assert parse_call(body) == ("M.m", [{"X": 1, "Y": [True, 2.5, None, b"\x00\xff", "s"]}])
    assert parse_call(call_with("<dateTime.iso8601>20260101T00:00:00</dateTime.iso8601>")) == (
        "M.m", [DateTime("20260101T00:00:00")])


def test_no_params_element() -> None:
    assert parse_call(b"<methodCall><methodName>system.listMethods</methodName></methodCall>") \
        == ("system.listMethods", [])


def test_billion_laughs_refused_before_expansion() -> None:
    with pytest.raises(ParseError, match="DOCTYPE") as info:
        parse_call(BILLION_LAUGHS)
    assert info.value.code == FAULT_PARSE


@pytest.mark.parametrize("body", [EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_external_entities_and_dtds_refused(body: bytes) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_call(body)


def test_undeclared_entity_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="undefined entity"):
        parse_call(b"<methodCall><methodName>&xxe;</methodName></methodCall>")


def test_character_references_and_predefined_entities_work() -> None:
    assert parse_call(call_with("<string>&lt;&amp;&#x41;&#13;</string>"))[1] == ["<&A\r"]


def nested(depth_of_arrays: int) -> bytes:
    # methodCall > params > param > value = 4 levels, then array > data > value per array.
    inner = "<int>1</int>"
    for _ in range(depth_of_arrays):
        inner = f"<array><data><value>{inner}</value></data></array>"
    return call_with(inner)


def test_depth_limit() -> None:
    # 4 + 3*32 = 100 elements deep (the <int> makes 101): just over.
    parse_call(nested(31))  # 4 + 93 + 1 = 98
    parse_call(nested(32), max_depth=101)
    with pytest.raises(DepthExceeded, match="100"):
        parse_call(nested(32))
    with pytest.raises(DepthExceeded):
        parse_call(b"<methodCall><methodName>a</methodName><params><param>"
                   + b"<value><array><data>" * 100000)


@pytest.mark.parametrize("body, message", [
    (b"<methodCall><methodName>x</methodName>", "not well-formed"),
    (b"", "not well-formed"),
    (b"\xff\xfe<", "not well-formed"),
    (b"<a/>", "expected <methodCall>"),
    (call_with("<int>z</int>"), "invalid integer"),
    (call_with("<int>" + "9" * 101 + "</int>"), "invalid integer"),
    (call_with("<boolean>2</boolean>"), "boolean"),
    (call_with("<double>nan</double>"), "double"),
    (call_with("<int>1</int><int>2</int>"), "more than one"),
    (call_with("x<int>1</int>"), "text beside"),
    (call_with("<struct><member><value>1</value></member></struct>"), "<member>"),
    (call_with("<struct><member><name>a</name><value>1</value></member>"
               "<member><name>a</name><value>1</value></member></struct>"), "twice"),
    (call_with("<array><value>1</value></array>"), "unexpected <value>"),
    (call_with("<foo/>"), "unexpected <foo>"),
    (call_with("<nil>x</nil>"), "empty"),
    (b"<methodCall><params/></methodCall>", "no <methodName>"),
    (b"<methodCall><methodName> </methodName></methodCall>", "empty"),
    (b"<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>",
     "more than one"),
    (b"<methodCall>junk<methodName>a</methodName></methodCall>", "unexpected text"),
])
def test_invalid_documents(body: bytes, message: str) -> None:
    with pytest.raises(XmlRpcDecodeError, match=message) as info:
        parse_call(body)
    assert info.value.code in (FAULT_PARSE, FAULT_INVALID_REQUEST)
    if message == "not well-formed":
        assert isinstance(info.value, ParseError)
    else:
        assert isinstance(info.value, InvalidRequest)


def test_int_result_widths() -> None:
    assert b"<int>2147483647</int>" in encode_response(2**31 - 1)
    assert b"<int>-2147483648</int>" in encode_response(-(2**31))
    assert b"<i8>2147483648</i8>" in encode_response(2**31)
    assert xmlrpc.client.loads(encode_response(-(2**63)))[0] == (-(2**63),)
    with pytest.raises(EncodeError):
        encode_response(2**63)


def test_strings_escaped_and_carriage_return_kept() -> None:
    text = "a<b>&c\r\nd，"
    assert xmlrpc.client.loads(encode_response(text))[0] == (text,)


def test_control_characters_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError, match="control"):
        encode_response("a\x00b")
    with pytest.raises(EncodeError):
        encode_response(float("nan"))
    with pytest.raises(EncodeError):
        encode_response(object())
    fault = encode_fault(-32602, "bad \x01 <value>")
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(fault)
    assert info.value.faultCode == -32602
    assert info.value.faultString == "bad \ufffd <value>"


def test_parse_response_result_and_fault() -> None:
    assert parse_response(encode_response([1, "x", {"a": None}])) == [1, "x", {"a": None}]
    with pytest.raises(Fault) as info:
        parse_response(encode_fault(-32601, "rpc: can't find service X.y"))
    assert (info.value.code, info.value.string) == (-32601, "rpc: can't find service X.y")
    assert str(info.value) == "fault -32601: rpc: can't find service X.y"
    with pytest.raises(InvalidRequest):
        parse_response(b"<methodResponse><fault><value>x</value></fault></methodResponse>")
    with pytest.raises(InvalidRequest):
        parse_response(b"<methodResponse></methodResponse>")


def test_encode_call_read_by_stdlib() -> None:
    params, name = xmlrpc.client.loads(encode_call("Programmer.GetSkill", ["J&", "G<"]))
    assert (name, params) == ("Programmer.GetSkill", ("J&", "G<"))


# -- properties ------------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"
                              "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12"
                              "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff"),
                max_size=20)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts
    | st.floats(allow_nan=False, allow_infinity=False) | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(values)
def test_encode_then_stdlib_and_ourselves_decode_the_same(value: object) -> None:
    data = encode_response(value)
    assert parse_response(data) == value
    stdlib = xmlrpc.client.loads(data, use_builtin_types=True)[0][0]
    if not any(isinstance(v, float) and math.isnan(v) for v in [value]):
        assert stdlib == value


# What the stdlib can send faithfully: 32-bit ints, and no "\r" (it does not escape it, so
# XML line-end normalisation turns it into "\n").
texts_no_cr = texts.map(lambda text: text.replace("\r", ""))
values32 = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | texts_no_cr
    | st.floats(allow_nan=False, allow_infinity=False) | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts_no_cr, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(values32, max_size=3))
def test_stdlib_dumps_parse_the_same(params: list[object]) -> None:
    body = xmlrpc.client.dumps(tuple(params), "A.b", allow_none=True).encode()
    assert parse_call(body) == ("A.b", params)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 400), st.binary(max_size=20))
def test_mutated_documents_never_raise_anything_else(junk: bytes, cut: int, insert: bytes) -> None:
    base = encode_call("Algorithm.Sum", [1, {"X": [1, "a"]}])
    for data in (junk, base[:cut] + insert + base[cut:], base[:cut]):
        try:
            parse_call(data)
        except XmlRpcDecodeError:
            pass


# -- the expat-free fast path agrees with expat -------------------------------------------

ws = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])
fast_texts = st.text(st.characters(codec="utf-8", blacklist_categories=("Cs",)), max_size=12)


@st.composite
def flat_calls(draw: st.DrawFn) -> bytes:
    parts = [draw(st.sampled_from(["", '<?xml version="1.0"?>', "<?xml version='1.0' "
                                   "encoding='UTF-8'?>", '<?xml version="1.0" encoding="latin-1"?>',
                                   "\ufeff"])), draw(ws), "<methodCall>", draw(ws),
             f"<methodName>{draw(st.sampled_from(['Algorithm.Sum', 'a', ' a.b', 'x&amp;']))}"
             "</methodName>", draw(ws)]
    if draw(st.booleans()):
        parts.append("<params>")
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["int", "i4", "i8", "string", "bare", "mixed"]))
            if kind in ("int", "i4", "i8"):
                number = draw(st.integers(-(10**19), 10**19))
                value = f"<{kind}>{draw(st.sampled_from(['', '+', ' ']))}{number}</{kind}>"
            elif kind == "string":
                value = f"<string>{draw(fast_texts)}</string>"
            elif kind == "bare":
                value = draw(fast_texts)
            else:
                value = f"{draw(ws)}<int>1</int>"
            parts += [draw(ws), "<param>", draw(ws), f"<value>{value}</value>", draw(ws),
                      "</param>"]
        parts += [draw(ws), "</params>"]
    parts += [draw(ws), "</methodCall>", draw(ws)]
    return "".join(parts).encode("utf-8")


def by_expat(data: bytes) -> object:
    try:
        return _parse_call(data, 100)
    except XmlRpcDecodeError as e:
        return type(e)


def by_parse_call(data: bytes) -> object:
    try:
        return parse_call(data)
    except XmlRpcDecodeError as e:
        return type(e)


@settings(max_examples=200, deadline=None)
@given(flat_calls())
def test_fast_path_agrees_with_expat(data: bytes) -> None:
    fast = _fast_call(data)
    if fast is not None:
        assert fast == by_expat(data)
    assert by_parse_call(data) == by_expat(data)


@settings(max_examples=200, deadline=None)
@given(flat_calls(), st.integers(0, 300), st.binary(min_size=1, max_size=4))
def test_fast_path_never_accepts_what_expat_refuses(data: bytes, cut: int,
                                                    insert: bytes) -> None:
    mutated = data[:cut] + insert + data[cut:]
    assert by_parse_call(mutated) == by_expat(mutated)


@settings(max_examples=300, deadline=None)
@given(flat_calls(), st.integers(0, 300), st.binary(max_size=4))
def test_params_counted_read_as_the_general_fast_grammar(data: bytes, cut: int,
                                                        insert: bytes) -> None:
    for doc in (data, data[:cut] + insert + data[cut:]):
        assert _fast_call(doc) == _fast_call_general(doc)


def test_fast_path_used_for_the_common_shapes() -> None:
    assert _fast_call(xmlrpc.client.dumps((1, 2), "Algorithm.Sum").encode()) == (
        "Algorithm.Sum", [1, 2])
    assert _fast_call(encode_call("Programmer.GetSkill", ["Java", "Go，"])) == (
        "Programmer.GetSkill", ["Java", "Go，"])
    assert _fast_call(BILLION_LAUGHS) is None
    assert _fast_call(call_with("<string>a&amp;b</string>")) is None
