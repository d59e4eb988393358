"""The gob codec: golden bytes from Go's documentation and from Go 1.19, round-trips,
hostile input.  No Go needed: the vectors below were printed by ``tests/rpc/go/gobgolden``
(``go run ./gobgolden`` in ``tests/rpc/go``) and are checked there again when Go is present."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsuite.rpc.gob._codec import (
    BOOL,
    BYTES,
    COMPLEX,
    FLOAT,
    INT,
    INTERFACE,
    STRING,
    UINT,
    Array,
    Decoder,
    Encoder,
    Field,
    GobError,
    Map,
    Opaque,
    Slice,
    Struct,
    decode_int,
    decode_uint,
    encode_float,
    encode_int,
    encode_uint,
    go_type_string,
    split_message,
)
from netsuite.rpc.gob._protocol import INVALID_REQUEST, REQUEST, RESPONSE

# From the "Encoding Details" section of Go's encoding/gob documentation (doc.go).
POINT_DOC = bytes.fromhex(
    "1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00"
    "01 02 01 01 58 01 04 00 01 01 59 01 04 00 00 00"
    "07 ff 82 01 2c 01 42 00"
)
POINT = Struct("Point", (Field("X", INT), Field("Y", INT)))
ARGS = Struct("Args", (Field("X", INT), Field("Y", INT)))
SKILL = Struct("Skill", (Field("Java", STRING), Field("Go", STRING)))

# Printed by Go 1.19's encoding/gob and net/rpc types (tests/rpc/go/gobgolden).  Go numbers
# types per process, so each stream starts at the id given (our Encoder's first_id).
GOLDEN = {
    "request_sum": (66, bytes.fromhex(
        "2fff83030101075265717565737401ff84000102010d536572766963654d6574686f64010c0001035365"
        "7101060000001 2ff84010d416c676f726974686d2e53756d001eff85030101044172677301ff8600010201"
        "0158010400010159010400000007ff86010201040014ff84010d416c676f726974686d2e53756d01010009"
        "ff86010901fe025800".replace(" ", ""))),
    "response_int": (69, bytes.fromhex(
        "3aff8903010108526573706f6e736501ff8a000103010d536572766963654d6574686f64010c000103536571"
        "01060001054572726f72010c00000012ff8a010d416c676f726974686d2e53756d000304000614ff8a010d41"
        "6c676f726974686d2e53756d0101000b0400f8ffffffffffffffff")),
    "response_string": (69, bytes.fromhex(
        "3aff8903010108526573706f6e736501ff8a000103010d536572766963654d6574686f64010c000103536571"
        "01060001054572726f72010c0000001bff8a011350726f6772616d6d65722e476574536b696c6c01ffc80016"
        "0c0013536b696c6c313a4aefbc8c536b696c6c32476f")),
    "response_error": (69, bytes.fromhex(
        "3aff8903010108526573706f6e736501ff8a000103010d536572766963654d6574686f64010c000103536571"
        "01060001054572726f72010c00000031ff8a01084e6f70652e53756d010301207270633a2063616e27742066"
        "696e642073657276696365204e6f70652e53756d000aff8b030102ff8c00000003ff8c00")),
}
EVERYTHING_GO = bytes.fromhex(
    "6aff8d0301010a45766572797468696e6701ff8e00010c010142010200010149010400010155010600010146"
    "010800010143010e00010153010c0001024273010a000102536c01ff90000102417201ff920001014d01ff94"
    "000102496e01ff96000102507301ff9a00000016ff8f020101085b5d737472696e6701ff9000010c000016ff"
    "91010101065b335d696e7401ff92000104010600001eff930401010e6d61705b737472696e675d696e7401ff"
    "9400010c0104000020ff9503010105496e6e657201ff96000102010141010c0001014201ff9800000013ff97"
    "020101055b5d696e7401ff9800010400001bff990201010c5b5d6d61696e2e496e6e657201ff9a0001ff9600"
    "0048ff8e010101fe010101f8800000000000000001fe314001fef83fffc0010668c3a96c6c6f010300010201"
    "0201610001030002000101016b0201010178010102000102000101790000"
)
LIST_GO = bytes.fromhex(
    "22ff9b030101044e6f646501ff9c00010201015601040001044e65787401ff9c0000000dff9c010201010401"
    "0106000000"
)

# struct{ When time.Time }: a GobEncoder field, whose type is defined after its user.
MARSHALER_GO = bytes.fromhex(
    "16ff9d030102ff9e00010101045768656e01ffa000000010ff9f0501010454696d6501ffa000000014ff9e01"
    "0f010000000ec28be77000000000ffff00"
)


def values(stream: bytes) -> list:
    return [v for _, v in Decoder().messages(stream)]


# ---------------------------------------------------------------- golden bytes


def test_point_doc_example_encodes_byte_for_byte() -> None:
    assert Encoder().encode(POINT, {"X": 22, "Y": 33}) == POINT_DOC


def test_point_doc_example_decodes() -> None:
    [(gob_type, value)] = list(Decoder().messages(POINT_DOC))
    assert value == {"X": 22, "Y": 33}
    assert gob_type.name == "Point"
    assert [f.name for f in gob_type.fields] == ["X", "Y"]
    assert value.gob_type is gob_type


def test_doc_integer_examples() -> None:
    assert encode_uint(0) == b"\x00"
    assert encode_uint(7) == b"\x07"
    assert encode_uint(256) == bytes.fromhex("fe0100")
    assert encode_int(-129) == bytes.fromhex("fe0101")
    assert encode_float(17.0) == bytes.fromhex("fe3140")
    assert decode_uint(bytes.fromhex("fe0100"), 0) == (256, 3)
    assert decode_int(bytes.fromhex("fe0101"), 0) == (-129, 3)


def test_net_rpc_request_stream_matches_go() -> None:
    first_id, golden = GOLDEN["request_sum"]
    enc = Encoder(first_id=first_id)
    ours = (enc.encode(REQUEST, {"ServiceMethod": "Algorithm.Sum", "Seq": 0})
            + enc.encode(ARGS, {"X": 1, "Y": 2})
            + enc.encode(REQUEST, {"ServiceMethod": "Algorithm.Sum", "Seq": 1})
            + enc.encode(ARGS, {"X": -5, "Y": 300}))
    assert ours == golden
    assert values(golden) == [{"ServiceMethod": "Algorithm.Sum", "Seq": 0}, {"X": 1, "Y": 2},
                              {"ServiceMethod": "Algorithm.Sum", "Seq": 1}, {"X": -5, "Y": 300}]


def test_net_rpc_responses_match_go() -> None:
    first_id, golden = GOLDEN["response_int"]
    enc = Encoder(first_id=first_id)
    ours = (enc.encode(RESPONSE, {"ServiceMethod": "Algorithm.Sum", "Seq": 0, "Error": ""})
            + enc.encode(INT, 3)
            + enc.encode(RESPONSE, {"ServiceMethod": "Algorithm.Sum", "Seq": 1, "Error": ""})
            + enc.encode(INT, -(2**63)))
    assert ours == golden

    first_id, golden = GOLDEN["response_string"]
    enc = Encoder(first_id=first_id)
    ours = (enc.encode(RESPONSE, {"ServiceMethod": "Programmer.GetSkill", "Seq": 200})
            + enc.encode(STRING, "Skill1:J，Skill2Go"))
    assert ours == golden

    first_id, golden = GOLDEN["response_error"]
    enc = Encoder(first_id=first_id)
    ours = (enc.encode(RESPONSE, {"ServiceMethod": "Nope.Sum", "Seq": 3,
                                  "Error": "rpc: can't find service Nope.Sum"})
            + enc.encode(INVALID_REQUEST, {}))
    assert ours == golden


def test_go_struct_of_every_kind_decodes() -> None:
    [value] = values(EVERYTHING_GO)
    assert value == {
        "B": True, "I": -129, "U": 1 << 63, "F": 17.0, "C": complex(1.5, -2), "S": "héllo",
        "Bs": b"\x00\x01\x02", "Sl": ["a", ""], "Ar": [0, 1, 0], "M": {"k": 1},
        "In": {"A": "x", "B": [1]}, "Ps": [{"A": "", "B": None}, {"A": "y", "B": None}],
    }
    fields = {f.name: f.type for f in value.gob_type.fields}
    assert go_type_string(fields["M"]) == "map[string]int"
    assert go_type_string(fields["Ar"]) == "[3]int"


def test_go_recursive_type_decodes() -> None:
    assert values(LIST_GO) == [{"V": 1, "Next": {"V": 2, "Next": {"V": 3, "Next": None}}}]


def test_missing_fields_take_zero_values() -> None:
    enc = Encoder()
    t = Struct("Z", (Field("B", BOOL), Field("I", INT), Field("F", FLOAT), Field("S", STRING),
                     Field("Bs", BYTES), Field("L", Slice(INT)), Field("C", COMPLEX)))
    assert values(enc.encode(t, {})) == [
        {"B": False, "I": 0, "F": 0.0, "S": "", "Bs": b"", "L": None, "C": 0j}]


# ---------------------------------------------------------------- round trips

EVERYTHING = Struct("Everything", (
    Field("B", BOOL), Field("I", INT), Field("U", UINT), Field("F", FLOAT),
    Field("C", COMPLEX), Field("S", STRING), Field("Bs", BYTES),
    Field("Sl", Slice(STRING)), Field("Ar", Array(INT, 3)), Field("M", Map(STRING, INT)),
    Field("In", Struct("Inner", (Field("A", STRING), Field("B", Slice(INT))))),
    Field("Ps", Slice(Struct("Inner", (Field("A", STRING), Field("B", Slice(INT)))))),
    Field("Nil", INTERFACE),
))


@pytest.mark.parametrize(("gob_type", "value"), [
    (BOOL, True), (BOOL, False), (INT, 0), (INT, -1), (INT, 2**63 - 1), (INT, -(2**63)),
    (UINT, 0), (UINT, 2**64 - 1), (FLOAT, 0.0), (FLOAT, -1.5e300), (FLOAT, float("inf")),
    (COMPLEX, complex(3, -4)), (STRING, ""), (STRING, "Skill1:J，Skill2G"),
    (STRING, "bad \udcff utf-8"), (BYTES, b"\x00\xff"), (Slice(INT), [1, -2, 3]),
    (Slice(Slice(STRING)), [["a"], [], ["b", "c"]]), (Array(BOOL, 2), [True, False]),
    (Map(STRING, Slice(INT)), {"a": [1], "b": []}), (Map(INT, FLOAT), {}),
    (POINT, {"X": 22, "Y": 33}),
    (EVERYTHING, {"B": True, "I": -129, "U": 1 << 63, "F": 17.0, "C": complex(1.5, -2),
                  "S": "héllo", "Bs": b"\x00", "Sl": ["a", ""], "Ar": [0, 1, 0],
                  "M": {"k": 1}, "In": {"A": "x", "B": [1]},
                  "Ps": [{"A": "", "B": None}, {"A": "y", "B": [2]}], "Nil": None}),
])
def test_round_trip(gob_type, value) -> None:
    enc = Encoder()
    stream = enc.encode(gob_type, value) + enc.encode(gob_type, value)  # types sent once
    assert values(stream) == [value, value]


def test_types_are_defined_once_per_stream() -> None:
    enc = Encoder()
    first = enc.encode(POINT, {"X": 1, "Y": 2})
    second = enc.encode(POINT, {"X": 1, "Y": 2})
    assert len(first) > len(second)
    assert second == bytes.fromhex("07ff82010201040 0".replace(" ", ""))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(),
       st.lists(st.floats(allow_nan=False)), st.dictionaries(st.text(max_size=5),
                                                             st.binary(max_size=5)))
def test_round_trip_property(i, s, fs, m) -> None:
    t = Struct("P", (Field("I", INT), Field("S", STRING), Field("Fs", Slice(FLOAT)),
                     Field("M", Map(STRING, BYTES))))
    value = {"I": i, "S": s, "Fs": fs, "M": m}
    [decoded] = values(Encoder().encode(t, value))
    assert decoded == {"I": i, "S": s, "Fs": fs or None, "M": m or None}


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uint_round_trip_property(u) -> None:
    data = encode_uint(u)
    assert decode_uint(data, 0) == (u, len(data))
    assert len(data) == 1 or data[1] != 0  # minimal length


def test_encoder_refuses_bad_values() -> None:
    with pytest.raises(GobError):
        Encoder().encode(INT, 2**63)
    with pytest.raises(GobError):
        Encoder().encode(UINT, -1)
    with pytest.raises(GobError):
        Encoder().encode(STRING, 5)
    with pytest.raises(GobError):
        Encoder().encode(Array(INT, 2), [1])
    with pytest.raises(GobError):
        Encoder().encode(INTERFACE, 5)


# ---------------------------------------------------------------- hostile input


def msg(payload: bytes) -> bytes:
    return encode_uint(len(payload)) + payload


def decode_all(stream: bytes) -> list:
    return values(stream)


@pytest.mark.parametrize("payload", [
    b"",                                     # nothing at all
    bytes.fromhex("f7") + b"\x00" * 9,       # 9-byte integer
    bytes.fromhex("fe01"),                   # integer cut short
    encode_int(66) + b"\x00\x04",            # value of an undefined type
    encode_int(6) + b"\x00\x05ab",           # string length past the end
    encode_int(6) + b"\x01\x01a",            # singleton with a non-zero delta
    encode_int(6) + b"\x00\x01ab",           # extra data after the value
    encode_int(2) + b"\x00",                 # int missing
    encode_int(1) + b"\x00\x02",             # bool 2
    encode_int(16) + b"\x00",                # value of an internal type
    encode_int(-3) + b"\x00",                # redefining a builtin id
    encode_int(8) + b"\x00\x03abc",          # non-nil interface
])
def test_malformed_messages_raise_gob_error(payload) -> None:
    with pytest.raises(GobError):
        Decoder().decode_message(payload)


def test_struct_field_number_out_of_range() -> None:
    stream = Encoder().encode(POINT, {"X": 1, "Y": 2})
    with pytest.raises(GobError, match="out of range"):
        decode_all(stream[:-3] + b"\x05\x02\x00")  # delta 5 from field 0


def test_absurd_counts_are_refused_before_allocation() -> None:
    # A slice claiming 2**60 elements in a 20-byte message.
    enc = Encoder()
    defs = enc.encode(Slice(INT), [])
    tid = encode_int(65)
    with pytest.raises(GobError, match="exceeds"):
        decode_all(defs + msg(tid + b"\x00" + encode_uint(2**60) + b"\x00" * 10))
    with pytest.raises(GobError, match="past the end"):
        decode_all(msg(encode_int(5) + b"\x00" + encode_uint(2**40)))
    enc = Encoder()
    defs = enc.encode(Map(INT, INT), {})
    with pytest.raises(GobError, match="exceeds"):
        decode_all(defs + msg(tid + b"\x00" + encode_uint(6) + b"\x02" * 10))


def test_message_size_limit_checked_from_the_count_alone() -> None:
    with pytest.raises(GobError, match="exceeds"):
        split_message(encode_uint((1 << 20) + 1))  # no payload bytes needed to refuse it
    assert split_message(encode_uint(1 << 20)) is None  # allowed: waits for more bytes
    with pytest.raises(GobError, match="limit of 10"):
        split_message(encode_uint(11) + b"x" * 11, max_message=10)
    with pytest.raises(GobError):
        split_message(b"\x00")


def test_deep_nesting_is_refused() -> None:
    t = INT
    for _ in range(150):
        t = Slice(t)
    value: list = [5]
    for _ in range(149):
        value = [value]
    stream = Encoder().encode(t, value)
    with pytest.raises(GobError, match=r"nest|itself"):
        decode_all(stream)
    # 99 levels is fine
    t = INT
    for _ in range(99):
        t = Slice(t)
    value = [5]
    for _ in range(98):
        value = [value]
    assert decode_all(Encoder().encode(t, value)) == [value]


def test_recursive_struct_value_depth_is_bounded() -> None:
    # Go's Node{V int; Next *Node} with 200 levels: refused at 100, no RecursionError.
    head = LIST_GO[: LIST_GO.index(bytes.fromhex("0dff9c"))]
    body = encode_int(78)  # Go gave Node type id 78 in that stream
    for _ in range(200):
        body += b"\x01\x02\x01"  # V=1, then Next
    body += b"\x00" * 201
    with pytest.raises(GobError, match="nest"):
        decode_all(head + msg(body))


def test_self_referential_slice_type_is_refused() -> None:
    # type T []T: a definition naming itself as its element.
    definition = encode_int(-65) + b"\x02\x01\x01\x01T\x01" + encode_int(65) + b"\x00" \
        + b"\x01" + encode_int(65) + b"\x00\x00"
    with pytest.raises(GobError, match="itself"):
        decode_all(msg(definition) + msg(encode_int(65) + b"\x00\x00"))


def test_duplicate_and_too_many_type_definitions() -> None:
    stream = Encoder().encode(POINT, {"X": 1, "Y": 1})
    definition = stream[: stream[0] + 1]
    with pytest.raises(GobError, match="duplicate"):
        decode_all(definition + definition)
    dec = Decoder(max_types=3)
    for i in range(3):
        enc = Encoder(first_id=65 + i)
        dec.decode_message(enc.encode(POINT, {"X": 1})[1:][: stream[0]])
    enc = Encoder(first_id=68)
    with pytest.raises(GobError, match="more than 3"):
        dec.decode_message(enc.encode(POINT, {"X": 1})[1:][: stream[0]])


def test_type_definition_with_undefined_element_fails_at_use() -> None:
    # A slice of type 99, never defined: fine until a value uses it.
    definition = encode_int(-65) + b"\x02\x01\x02" + encode_int(65) + b"\x00\x01" \
        + encode_int(99) + b"\x00\x00"
    dec = Decoder()
    assert dec.decode_message(definition) is None
    with pytest.raises(GobError, match="undefined type id 99"):
        dec.decode_message(encode_int(65) + b"\x00\x00")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_gob_error(data) -> None:
    dec = Decoder()
    try:
        list(dec.messages(data, max_message=1000))
    except GobError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_streams_never_raise_anything_but_gob_error(data) -> None:
    stream = bytearray(EVERYTHING_GO + LIST_GO)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(stream) - 1))
        stream[i] = data.draw(st.integers(0, 255))
    try:
        list(Decoder().messages(bytes(stream)))
    except GobError:
        pass


def test_float_bits_are_byte_reversed() -> None:
    raw = encode_float(1.0)
    u, _ = decode_uint(raw, 0)
    assert struct.unpack("<d", u.to_bytes(8, "big"))[0] == 1.0


def test_type_definitions_are_bounded_in_bytes_per_stream() -> None:
    wide = Struct("Wide", tuple(Field(f"F{i}", INT) for i in range(50)))
    stream = Encoder().encode(wide, {})
    definition = stream[: stream.index(b"\x03\xff\x82")]  # up to the value message
    dec = Decoder(max_type_bytes=len(definition))
    list(dec.messages(definition))
    dec = Decoder(max_type_bytes=len(definition) - 5)
    with pytest.raises(GobError, match="exceed"):
        list(dec.messages(definition))


@pytest.mark.parametrize("kind", ["GobEncoder", "BinaryMarshaler", "TextMarshaler"])
def test_marshaler_types_travel_as_bytes(kind) -> None:
    t = Struct("Event", (Field("When", Opaque("time.Time", kind)), Field("N", INT)))
    enc = Encoder()
    stream = enc.encode(t, {"When": b"\x01\x00\x0e", "N": 2})
    [(gob_type, value)] = list(Decoder().messages(stream))
    assert value == {"When": b"\x01\x00\x0e", "N": 2}
    assert gob_type.fields[0].type == Opaque("time.Time", kind)


def test_go_gob_encoder_field_decodes_as_bytes() -> None:
    [(gob_type, value)] = list(Decoder().messages(MARSHALER_GO))
    assert value == {"When": bytes.fromhex("010000000ec28be77000000000ffff")}
    assert gob_type.fields[0].type == Opaque("Time", "GobEncoder")
