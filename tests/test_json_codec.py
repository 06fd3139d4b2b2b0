"""JSON bodies: encoded by orjson, with json deciding whatever orjson refuses or would write
differently; decoded by orjson, with json reading whatever orjson refuses and any text with a run of
19 digits (orjson reads an integer beyond 64 bits as a float).

These tests hold codecs.encode_json and codecs.decode_json to what the standard library's json
(compact, UTF-8, no NaN) gives: the same value on the wire and back, the same refusals, for any
value, and over a real socket for the values where the two libraries part ways (NaN, integers
beyond 64 bits, lone surrogates, subclasses, UUIDs and Enums, a BOM).
"""

from __future__ import annotations

import enum
import json
import math
import uuid

import pytest
from httpserver import Reply
from hypothesis import given, settings, strategies as st

import dynclient
from dynclient import codecs

from _specs import CANARY, assert_nothing_sent

ECHO = {
    "openapi": "3.0.3",
    "info": {"title": "echo", "version": "1"},
    "paths": {"/echo": {"post": {
        "operationId": "echo",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
        "responses": {"200": {"description": "the body it was sent",
                              "content": {"application/json": {"schema": {}}}}},
    }}},
}


def reference(value):
    """What json alone writes (codecs' settings): the bytes, or the exception it raises."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        return exc


def same(a, b) -> bool:
    """Equal as JSON values, NaN equal to NaN and 1 not equal to True."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 63 - 5, max_value=2 ** 70)
           | st.floats() | st.text() | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(max_size=5) | st.integers(), kids, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(values)
def test_encoding_agrees_with_json_on_any_value(value):
    expected = reference(value)
    if isinstance(expected, Exception) or isinstance(_utf8(expected), Exception):
        with pytest.raises(codecs.EncodeError):
            codecs.encode_json(value, {})
        return
    data, content_type = codecs.encode_json(value, {})
    assert content_type == "application/json"
    assert same(json.loads(data), json.loads(expected))


def _utf8(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(values)
def test_decoding_agrees_with_json_on_any_text(value):
    try:
        text = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(codecs.DecodeError):
            codecs.decode_json(text, "application/json")
        return
    assert same(codecs.decode_json(text, "application/json"), expected)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.sampled_from([b'{"a":1', b"[1,]", b"\xef\xbb\xbf{}", b"{'a':1}", b"NaN",
                                                  b"1e400", b"-0", b'"\\ud800"', b"\xff", b"[" * 3000]))
def test_decoding_agrees_with_json_on_any_bytes(data):
    try:
        expected = json.loads(data) if data and not data.isspace() else None
    except (ValueError, RecursionError):
        with pytest.raises(codecs.DecodeError):
            codecs.decode_json(data, "application/json")
        return
    assert same(codecs.decode_json(data, "application/json"), expected)


numbers = st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)


@settings(max_examples=500, deadline=None)
@given(numbers | st.integers(min_value=-2 ** 65, max_value=2 ** 65).map(str))
def test_decoding_reads_any_number_as_json_does(number):
    """Every float to the last bit and every integer exactly, those near and beyond 64 bits among them
    (where orjson alone would give a float), alone and inside a document."""
    for text in (number, f'{{"a": [1, {number}], "b": "x"}}'):
        data = text.encode()
        assert same(codecs.decode_json(data, "application/json"), json.loads(data)), text


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    LARGE = 3


class Name(str):
    pass


@pytest.mark.parametrize("value, sent", [
    ({"n": 2 ** 64 + 1}, {"n": 2 ** 64 + 1}),                     # beyond orjson's integers
    ({"x": 1e-05, "y": 1e16, "z": -0.0}, {"x": 1e-05, "y": 1e16, "z": -0.0}),
    ({"é": "naïve ✓", "nul": "\x00"}, {"é": "naïve ✓", "nul": "\x00"}),
    ({"k": None, "u": uuid.UUID(int=7)}, {"k": None, "u": "00000000-0000-0000-0000-000000000007"}),  # json's side
    ({"u": uuid.UUID(int=7), "c": Colour.RED}, {"u": "00000000-0000-0000-0000-000000000007", "c": "red"}),
    ({"s": Size.LARGE, "n": Name("x")}, {"s": 3, "n": "x"}),       # subclasses: json's side
    ({1: "int key"}, {"1": "int key"}),
])
def test_the_server_receives_the_value_and_the_client_reads_it_back(server, value, sent):
    server.reply(lambda request: Reply(body=request.body, headers={"Content-Type": "application/json"}))
    with dynclient.Client(ECHO, base_url=server.url, api_key=CANARY, validate_requests=False) as client:
        answer = client.call("echo", value)
    assert same(json.loads(server.requests[0].body), sent)
    assert same(answer, sent)


@pytest.mark.parametrize("value, expected", [
    ({"x": float("nan")}, "Out of range float values are not JSON compliant"),
    ({"x": [1, float("inf")]}, "Out of range float values are not JSON compliant"),
    ({"x": "\ud800"}, "a string holds the lone surrogate '\\ud800'"),
    ({"x": object()}, "Object of type object is not JSON serializable"),
])
def test_a_body_json_refuses_is_refused_before_sending(server, value, expected):
    with dynclient.Client(ECHO, base_url=server.url, api_key=CANARY, validate_requests=False) as client:
        with pytest.raises(dynclient.ParameterError) as caught:
            client.call("echo", value)
    assert "echo" in str(caught.value) and expected in str(caught.value)
    assert_nothing_sent(server)


@pytest.mark.parametrize("data, expected", [
    (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
    (b'{"n": -9223372036854775809}', {"n": -9223372036854775809}),   # orjson: -9.223372036854776e+18
    (b'{"x": NaN, "y": -Infinity}', {"x": float("nan"), "y": float("-inf")}),
    (b'\xef\xbb\xbf{"bom": true}', {"bom": True}),
    ('{"utf16": 1}'.encode("utf-16"), {"utf16": 1}),
    (b'{"s": "\\ud83d"}', {"s": "\ud83d"}),
])
def test_an_answer_beyond_strict_json_or_64_bits_is_read_as_json_reads_it(server, data, expected):
    server.reply(Reply(body=data, headers={"Content-Type": "application/json"}))
    with dynclient.Client(ECHO, base_url=server.url, api_key=CANARY) as client:
        assert same(client.call("echo", {}), expected)


def test_a_malformed_answer_is_a_decode_error_worded_by_json(server):
    server.reply(Reply(body=b'{"a": ', headers={"Content-Type": "application/json"}))
    with dynclient.Client(ECHO, base_url=server.url, api_key=CANARY) as client:
        with pytest.raises(dynclient.ResponseDecodeError, match=r"malformed JSON body: Expecting value: line 1"):
            client.call("echo", {})
