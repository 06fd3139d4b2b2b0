"""jobs.decode_line, the strict one-pass reader of request lines, against Python's json on any line.

It must read every line json reads (less the undefined ones: a name repeated in one object, NaN),
to the same value, and say exactly where the top-level `body` is written, since those bytes are what
a bulk run sends."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from dynclient.jobs import decode_line, read_request

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
                      max_leaves=12)
spaces = st.sampled_from(["", " ", "  ", "\t", "\n ", "\r\n"])


@st.composite
def lines(draw):
    """A request-like object written with any spacing, key order and escaping, and its value."""
    top = draw(st.dictionaries(st.sampled_from(["custom_id", "method", "url", "operation", "params", "x"]),
                               values, max_size=4))
    if draw(st.booleans()):
        top["body"] = draw(values)
    keys = draw(st.permutations(list(top)))
    ascii_only = draw(st.booleans())
    parts = []
    for key in keys:
        parts.append(draw(spaces) + json.dumps(key, ensure_ascii=ascii_only) + draw(spaces) + ":" + draw(spaces)
                     + json.dumps(top[key], ensure_ascii=ascii_only, separators=(draw(spaces) + ",", ":" + draw(spaces))))
    return draw(spaces) + "{" + ",".join(parts) + draw(spaces) + "}" + draw(spaces), top


@settings(max_examples=400, deadline=None)
@given(lines())
def test_reads_what_json_reads_and_finds_the_body(case):
    text, value = case
    decoded, span = decode_line(text)
    assert decoded == json.loads(text) == value
    if "body" in value:
        assert span is not None and json.loads(text[span[0]:span[1]]) == value["body"]
        assert text[span[0]:span[1]] == text[span[0]:span[1]].strip()
    else:
        assert span is None


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1, "a": 2}', "the name 'a' appears twice"),
    ('{"custom_id": "x", "method": "POST", "url": "/u", "body": {"m": {"k": 1, "k": 1}}}', "the name 'k' appears twice"),
    ('{"body": [Infinity]}', "Infinity is not JSON"),
    ('{"body": -Infinity}', "-Infinity is not JSON"),
    ('{"custom_id": "x", "method": "POST", "url": "/u", "body": {"a": 1}} {"b": 2}', "Extra data"),
    ('{"custom_id": "x", "method": "POST", "url": "/u", "body": }', "Expecting value"),
    ('{"custom_id": "x\u0001", "body": 1}', "Invalid control character"),
    ('{"custom_id": "x", "body": 1,}', "Expecting property name"),
])
def test_lines_json_would_refuse_or_read_ambiguously_are_errors(text, expected):
    with pytest.raises(ValueError, match=expected):
        decode_line(text)


def test_a_line_that_is_not_utf8_is_an_invalid_line_not_a_crash():
    job = read_request(None, 3, b'{"custom_id": "x", "body": "\xff"}\n')
    assert job.problem["type"] == "InvalidLine" and "line 3" in job.problem["message"]


def test_the_body_bytes_of_a_non_ascii_line_are_its_utf8_text():
    text = '{"custom_id": "é", "method": "POST", "url": "/v1/x", "body": {"t": "雪"} }\n'
    job = read_request(None, 1, text.encode("utf-8"))
    assert job.body_text == '{"t": "雪"}'.encode("utf-8") and job.body == {"t": "雪"}


_ECHO = {"openapi": "3.0.3", "info": {"title": "echo", "version": "1"}, "servers": [{"url": "http://127.0.0.1/v1"}],
         "paths": {"/echo": {"post": {"operationId": "echo", "responses": {"200": {"description": "ok"}}}}}}
bodies = values | st.integers(-10**40, 10**40).map(lambda n: {"n": n}) \
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda x: [x, -x, x / 3, x * 1e-300])


@settings(max_examples=400, deadline=None)
@given(bodies, st.booleans(), st.sampled_from(["", " ", "\t "]))
def test_a_line_spaced_as_json_dumps_reads_as_json_reads_it(body, ascii_only, after):
    # Such lines are read the short way (orjson, when that certainly gives json's value); the Job must be
    # what json reads, with the body's own bytes.
    from dynclient import Spec
    from dynclient.jobs import Router
    router = Router(Spec(_ECHO))
    written = json.dumps(body, ensure_ascii=ascii_only)
    line = f'{{"custom_id": "c-1", "method": "POST", "url": "/v1/echo", "body": {written}{after}}}\n'.encode("utf-8")
    job = read_request(router, 7, line)
    assert job.problem is None and job.operation_id == "echo" and (job.line, job.custom_id) == (7, "c-1")
    assert job.body == json.loads(written) and type(job.body) is type(json.loads(written))
    assert repr(job.body) == repr(json.loads(written))   # -0.0 and 0.0, 1 and 1.0 told apart
    assert job.body_text == written.encode("utf-8") and job.size == len(line)


@pytest.mark.parametrize("written, expected", [
    ('{"a": 1, "b": {"c": 2, "c": 3}}', "the name 'c' appears twice"),
    ('[{"k": "x:y"}, {"k": ":", "k": 1}]', "the name 'k' appears twice"),
    ('{"a:b": 1, "a:b": 1}', "the name 'a:b' appears twice"),
    ('{"\\u003a": 1, ":": 2}', "the name ':' appears twice"),
    ('{"n": NaN}', "NaN is not JSON"),
])
def test_a_line_spaced_as_json_dumps_with_an_undefined_body_is_refused(written, expected):
    from dynclient import Spec
    from dynclient.jobs import Router
    line = f'{{"custom_id": "c-1", "method": "POST", "url": "/v1/echo", "body": {written}}}\n'.encode("utf-8")
    job = read_request(Router(Spec(_ECHO)), 1, line)
    assert job.problem["type"] == "InvalidLine" and expected in job.problem["message"]
