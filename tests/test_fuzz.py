"""Property-based fuzzing of the public entry points: arbitrary JSON, parameter values and raw bytes.

The only outcomes allowed are a result or one of the documented exceptions (a
DynclientError subclass): never a KeyError, TypeError, hang or crash. The
number of examples per property is DYNCLIENT_FUZZ_EXAMPLES (default 150, so
CI stays quick); SECURITY.md gives the figures of a long run.
"""

from __future__ import annotations

import os
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dynclient
from dynclient import DynclientError
from dynclient.testing.mock import MockServer

from faultserver import FaultServer, raw_reply
from test_resilience import CANARY, SPEC

EXAMPLES = int(os.environ.get("DYNCLIENT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
odd_values = json_values | st.binary(max_size=16) | st.tuples(st.text(max_size=3), st.integers()) \
    | st.sets(st.integers(), max_size=3) | st.just(float("nan")) | st.just(object())


@pytest.fixture(scope="module")
def openai_client(spec_2025):
    return dynclient.Client(spec_2025, base_url="http://127.0.0.1:9/v1", api_key=CANARY)


@pytest.fixture(scope="module")
def operation_ids(openai_client):
    return sorted(openai_client.spec.operations)


@FUZZ
@given(data=st.data(), body=odd_values)
def test_any_body_for_any_operation_is_prepared_or_refused(openai_client, operation_ids, data, body):
    operation_id = data.draw(st.sampled_from(operation_ids))
    try:
        openai_client.prepare(operation_id, body)
    except DynclientError as exc:
        assert CANARY not in str(exc)


@FUZZ
@given(data=st.data(), values=st.dictionaries(st.sampled_from(["after", "limit", "order", "assistant_id",
                                                                "include[]", "file_id", "thread_id", "x"]),
                                               odd_values, max_size=4))
def test_any_parameter_values_are_prepared_or_refused(openai_client, operation_ids, data, values):
    operation_id = data.draw(st.sampled_from(operation_ids))
    try:
        prepared = openai_client.prepare(operation_id, params=values)
    except DynclientError:
        return
    assert "\r" not in prepared.url and "\n" not in prepared.url and " " not in prepared.url.split("?")[0]


@pytest.fixture(scope="module")
def fault_server():
    with FaultServer() as server:
        yield server


@FUZZ
@given(status=st.sampled_from([200, 200, 200, 201, 204, 400, 404, 429, 500]), body=st.binary(max_size=200),
       content_type=st.sampled_from(["application/json", "text/event-stream", "text/plain",
                                     "application/octet-stream", "", "application/json; charset=latin-1"]))
def test_any_response_bytes_give_a_result_or_a_typed_error(fault_server, status, body, content_type):
    client = dynclient.Client(SPEC, base_url=fault_server.url, api_key=CANARY, max_retries=0)
    headers = {"Content-Type": content_type} if content_type else {}
    fault_server.queue(raw_reply(status, body, headers))
    try:
        client.call("getThing", id="t")
    except DynclientError as exc:
        assert CANARY not in str(exc)
    fault_server.queue(raw_reply(200, body, {"Content-Type": "text/event-stream"}))
    try:
        for _ in client.stream("chat", {"prompt": "p"}):
            pass
    except DynclientError:
        pass


@pytest.fixture(scope="module")
def mock_server(spec_2025):
    with MockServer(spec_2025) as server:
        yield server


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@FUZZ
@given(method=st.sampled_from([b"GET", b"POST", b"DELETE", b"PATCH", b"BREW"]),
       path=st.sampled_from([b"/v1/assistants", b"/v1/chat/completions", b"/v1/files", b"/v1/../etc",
                             b"/v1/assistants/%00", b"/nowhere"]) | st.binary(min_size=1, max_size=30),
       body=st.binary(max_size=300), content_type=st.sampled_from([b"application/json", b"multipart/form-data",
                                                                   b"multipart/form-data; boundary=x", b"x/y"]))
@example(method=b"GET", path=b"\t", body=b"", content_type=b"x/y")       # found by this test: a two-word
@example(method=b"GET", path=b"\xa0", body=b"", content_type=b"x/y")     # request line was answered as HTTP/0.9
def test_the_mock_answers_any_bytes_with_http(mock_server, method, path, body, content_type):
    request = (method + b" " + path.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b"")
               + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-x\r\nContent-Type: " + content_type
               + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    answer = raw_exchange(mock_server.port, request)
    assert answer.startswith(b"HTTP/1.") or answer == b"", answer[:100]
    status = int(answer.split(b" ", 2)[1]) if answer else 400
    assert 200 <= status < 500 or status == 501, answer[:300]
