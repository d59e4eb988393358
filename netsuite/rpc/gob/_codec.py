"""A codec for Go's ``encoding/gob`` wire format: pure functions and classes, no networking.

A gob *stream* is a sequence of messages, each an unsigned byte count followed by that many
bytes.  A message either defines a type (a negative type id, then a ``wireType`` value) or
carries a value (a positive type id, then the value).  Types are defined once per stream, so
an :class:`Encoder` and a :class:`Decoder` each belong to one direction of one connection.

Encoding (Python value -> gob) is driven by explicit type descriptions -- the Go side of a
gob stream always knows its types, and so must we::

    POINT = Struct("Point", (Field("X", INT), Field("Y", INT)))
    Encoder().encode(POINT, {"X": 22, "Y": 33})   # the bytes of Go's doc example

Decoding (gob -> Python) needs no description: the stream describes itself.  Values come
back as ``bool``, ``int`` (signed and unsigned), ``float``, ``complex``, ``bytes``, ``str``
(Go strings are bytes; invalid UTF-8 is kept with ``surrogateescape``), ``list`` (slices
and arrays), ``dict`` (maps) and :class:`StructValue` (a ``dict`` of field name -> value,
with ``.gob_type``).  A struct field that was not sent (Go omits zero fields) is filled with
its zero value: ``0``, ``False``, ``""``, ``b""``... and ``None`` for a nil slice, map or
struct.  Values of GobEncoder / BinaryMarshaler / TextMarshaler types come back as ``bytes``.
Non-nil interface values are refused (net/rpc never sends them).

Every decode is bounded: a message is limited to ``max_message`` bytes (1 MiB by default)
*before* it is buffered; string, slice, array and map counts are checked against the bytes
left in the message before anything is allocated; nesting is limited to ``max_depth``
(100) levels.  Anything malformed raises :class:`GobError`, never anything else.
"""

from __future__ import annotations

from netsuite.rpc.gob._decode import (
    Decoder,
)
from netsuite.rpc.gob._encode import Encoder, encode_stream
from netsuite.rpc.gob._errors import (
    GobError,
)
from netsuite.rpc.gob._varint import (
    decode_int,
    decode_uint,
    encode_float,
    encode_int,
    encode_uint,
    split_message,
)
from netsuite.rpc.gob._wiretypes import (
    BOOL,
    BYTES,
    COMPLEX,
    FIRST_USER_ID,
    FLOAT,
    INT,
    INTERFACE,
    STRING,
    UINT,
    Array,
    Builtin,
    Field,
    GobType,
    Map,
    Opaque,
    Slice,
    Struct,
    StructValue,
    go_type_string,
)

__all__ = [
    "BOOL",
    "BYTES",
    "COMPLEX",
    "FIRST_USER_ID",
    "FLOAT",
    "INT",
    "INTERFACE",
    "STRING",
    "UINT",
    "Array",
    "Builtin",
    "Decoder",
    "Encoder",
    "Field",
    "GobError",
    "GobType",
    "Map",
    "Opaque",
    "Slice",
    "Struct",
    "StructValue",
    "decode_int",
    "decode_uint",
    "encode_float",
    "encode_int",
    "encode_stream",
    "encode_uint",
    "go_type_string",
    "split_message",
]
