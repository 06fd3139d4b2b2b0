"""Retries, timeouts, streams, pagination, uploads and downloads, against a server that misbehaves.

Every test counts the attempts the server saw. Backoff is made small through a
RetryPolicy so the suite stays fast; the policy's own arithmetic is tested on
its own.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import os
import subprocess
import sys
import time

import pytest

import dynclient
from dynclient import (APIConnectionError, APIStreamError, APITimeoutError, InternalServerError, PaginationError,
                       RateLimitError, ResponseDecodeError, ResponseTooLargeError, ResponseValidationError)
from dynclient.codecs import Event
from dynclient import RetryPolicy
from dynclient.codecs import ReplayableBody

from faultserver import (FaultServer, chunks, error_reply, json_reply, raw_reply, reset, reset_mid_body, silent,
                         sse)

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_retry_after=0.3)
CANARY = "sk-canary-resilience-0123456789"

THING = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "faults", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                   "schemas": {"Thing": THING}},
    "security": [{"bearer": []}],
    "paths": {
        "/things": {
            "get": {"operationId": "listThings",
                    "parameters": [{"name": "after", "in": "query", "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["data", "has_more"],
                        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}},
                                       "has_more": {"type": "boolean"},
                                       "last_id": {"type": "string", "nullable": True}}}}}}}},
            "post": {"operationId": "createThing",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "properties": {"name": {"type": "string"}}}}}},
                     "responses": {"200": {"description": "ok", "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/Thing"}}}}}},
        },
        "/things/{id}": {"get": {"operationId": "getThing",
                                 "parameters": [{"name": "id", "in": "path", "required": True,
                                                 "schema": {"type": "string"}}],
                                 "responses": {"200": {"description": "ok", "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Thing"}}}}}}},
        "/models": {"get": {"operationId": "listModels", "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array"}}}}}}}}},
        "/uploads": {"post": {"operationId": "upload", "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}, "purpose": {"type": "string"}}}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Thing"}}}}}}},
        "/files/{id}/content": {"get": {"operationId": "download",
                                        "parameters": [{"name": "id", "in": "path", "required": True,
                                                        "schema": {"type": "string"}}],
                                        "responses": {"200": {"description": "bytes", "content": {
                                            "application/octet-stream": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}}}},
        "/chat": {"post": {"operationId": "chat", "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "required": ["prompt"], "properties": {
                "prompt": {"type": "string"}, "stream": {"type": "boolean", "nullable": True}}}}}},
            "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                "text/event-stream": {"schema": {"type": "object", "required": ["delta"],
                                                 "properties": {"delta": {"type": "string"}}}}}}}}},
    },
}


@pytest.fixture
def client(srv, make_client):
    """Both clients: every test that takes this fixture runs on Client and on AsyncClient."""
    return make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST)


def gaps(srv: FaultServer) -> list[float]:
    return [b.at - a.at for a, b in zip(srv.attempts, srv.attempts[1:])]


# --- retries -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_retryable_status_then_success(client, srv, status):
    srv.queue(error_reply(status), json_reply({"id": "t1"}))
    result = client.call_raw("getThing", id="t1")
    assert result.body == {"id": "t1"} and result.attempts == 2
    assert len(srv.attempts) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_final(client, srv, status):
    srv.queue(error_reply(status), json_reply({"id": "t1"}))
    with pytest.raises(dynclient.APIStatusError) as info:
        client.call("getThing", id="t1")
    assert info.value.status == status and len(srv.attempts) == 1


def test_retries_give_up_after_max_retries(client, srv):
    srv.queue(*[error_reply(500)] * 5)
    with pytest.raises(InternalServerError):
        client.call("getThing", id="t1")
    assert len(srv.attempts) == 3, "default max_retries is 2: three attempts in all"


def test_max_retries_per_client_and_with_options(client, srv):
    srv.queue(*[error_reply(503)] * 10)
    with pytest.raises(InternalServerError):
        client.with_options(max_retries=0).call("getThing", id="t1")
    assert len(srv.attempts) == 1
    with pytest.raises(InternalServerError):
        client.with_options(max_retries=4).call("getThing", id="t1")
    assert len(srv.attempts) == 1 + 5
    assert client.options.retry.max_retries == 2, "with_options must not change the client it came from"
    with pytest.raises(ValueError):
        client.with_options(max_retries=-1)


def test_retry_after_seconds_is_honoured(client, srv):
    srv.queue(error_reply(429, headers={"Retry-After": "0.25"}), json_reply({"id": "t1"}))
    client.call("getThing", id="t1")
    assert len(srv.attempts) == 2 and 0.24 <= gaps(srv)[0] < 1.0


def test_retry_after_ms_wins_over_retry_after(client, srv):
    srv.queue(error_reply(503, headers={"retry-after-ms": "150", "Retry-After": "5"}), json_reply({"id": "t1"}))
    client.call("getThing", id="t1")
    assert 0.14 <= gaps(srv)[0] < 1.0


def test_retry_after_http_date_is_capped(client, srv):
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    srv.queue(error_reply(429, headers={"Retry-After": later}), json_reply({"id": "t1"}))
    started = time.perf_counter()
    client.call("getThing", id="t1")
    assert 0.28 <= gaps(srv)[0] < 1.5, "a 30 s Retry-After is cut to the policy's 0.3 s cap"
    assert time.perf_counter() - started < 2


def test_insufficient_quota_is_final(client, srv):
    srv.queue(error_reply(429, code="insufficient_quota"), json_reply({"id": "t1"}))
    with pytest.raises(RateLimitError) as info:
        client.call("getThing", id="t1")
    assert info.value.code == "insufficient_quota" and len(srv.attempts) == 1


def test_x_should_retry_is_obeyed_both_ways(client, srv):
    srv.queue(error_reply(503, headers={"x-should-retry": "false"}))
    with pytest.raises(InternalServerError):
        client.call("getThing", id="t1")
    assert len(srv.attempts) == 1
    srv.queue(error_reply(400, headers={"x-should-retry": "true"}), json_reply({"id": "t1"}))
    assert client.call("getThing", id="t1") == {"id": "t1"}
    assert len(srv.attempts) == 3


def test_reset_before_the_answer_is_retried(client, srv):
    srv.queue(reset, json_reply({"id": "t1"}))
    assert client.call_raw("createThing", {"name": "n"}).attempts == 2
    assert srv.attempts[0].body == srv.attempts[1].body == b'{"name":"n"}'


def test_reset_during_the_body_is_retried(client, srv):
    srv.queue(reset_mid_body(), json_reply({"id": "t1"}))
    assert client.call("getThing", id="t1") == {"id": "t1"}
    assert len(srv.attempts) == 2


def test_reset_every_time_ends_in_a_connection_error(client, srv):
    srv.queue(reset, reset, reset)
    with pytest.raises(APIConnectionError) as info:
        client.call("getThing", id="t1")
    assert not isinstance(info.value, APITimeoutError) and info.value.operation_id == "getThing"
    assert len(srv.attempts) == 3


def test_truncated_json_is_a_decode_error_not_retried(client, srv):
    srv.queue(raw_reply(200, b'{"id": "t', {"Content-Type": "application/json"}), json_reply({"id": "t1"}))
    with pytest.raises(ResponseDecodeError) as info:
        client.call("getThing", id="t1")
    assert "malformed JSON" in str(info.value) and len(srv.attempts) == 1


def test_headers_that_never_come_time_out_on_every_attempt(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, max_retries=1, timeout=0.2)
    srv.queue(silent(5, srv), silent(5, srv))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        client.call("getThing", id="t1")
    assert len(srv.attempts) == 2 and time.perf_counter() - started < 2.0


def test_the_pool_is_usable_after_faults(client, srv):
    srv.queue(reset, reset, reset, raw_reply(200, b"{", {"Content-Type": "application/json"}))
    for expected in (APIConnectionError, ResponseDecodeError):
        with pytest.raises(expected):
            client.call("getThing", id="t1")
    srv.queue(json_reply({"id": "t9"}))
    assert client.call("getThing", id="t9") == {"id": "t9"}


@pytest.mark.parametrize("retry, low, high", [(1, 0.375, 0.5), (2, 0.75, 1.0), (3, 1.5, 2.0), (5, 6.0, 8.0),
                                              (9, 6.0, 8.0)])
def test_backoff_doubles_with_jitter_and_a_cap(retry, low, high):
    policy = RetryPolicy()
    delays = [policy.delay(retry) for _ in range(200)]
    assert all(low <= d <= high for d in delays), (min(delays), max(delays))
    assert max(delays) - min(delays) > 0.01 * high, "jitter spreads the delays"


def test_retry_policy_reads_retry_after_forms():
    policy = RetryPolicy()
    assert policy.delay(1, {"retry-after": "3"}) == 3.0
    assert policy.delay(1, {"retry-after-ms": "250"}) == 0.25
    assert policy.delay(1, {"retry-after": "10000"}) == 60.0
    assert 0.375 <= policy.delay(1, {"retry-after": "soon"}) <= 0.5   # unreadable: plain backoff


# --- uploads -------------------------------------------------------------------------


def test_multipart_file_is_streamed_and_resent_byte_identical(client, srv, tmp_path):
    path = tmp_path / "data.jsonl"
    payload = os.urandom(300_000)
    path.write_bytes(payload)
    prepared = client.prepare("upload", {"file": path, "purpose": "batch"})
    assert isinstance(prepared.body, ReplayableBody), "a file given by path is streamed, not read into memory"
    srv.queue(error_reply(503), json_reply({"id": "file-1"}))
    seen = []
    result = client.call_raw("upload", {"file": path, "purpose": "batch"},
                             progress=lambda sent, total: seen.append((sent, total)))
    assert result.body == {"id": "file-1"} and result.attempts == 2
    first, second = srv.attempts
    assert first.body == second.body and payload in first.body
    assert int(first.headers["content-length"]) == len(first.body) == prepared.body.length
    assert "transfer-encoding" not in first.headers
    totals = {total for _, total in seen}
    assert totals == {len(first.body)} and seen[-1][0] == len(first.body)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen) or seen[0][0] < seen[-1][0]


def test_open_file_object_is_resent_from_where_it_stood(client, srv, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"HEADER" + b"x" * 5000)
    srv.queue(reset, json_reply({"id": "file-1"}))
    with open(path, "rb") as fh:
        fh.read(6)   # the caller skipped a header: only the rest is the file
        client.call("upload", {"file": fh})
    first, second = srv.attempts
    assert first.body == second.body and b"x" * 5000 in first.body and b"HEADER" not in first.body


def test_a_pipe_like_file_object_is_read_once_and_resent(client, srv):
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.data = io.BytesIO(b"streamed-once")

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self.data.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    srv.queue(error_reply(500), json_reply({"id": "f"}))
    client.call("upload", {"file": Unseekable()})
    assert srv.attempts[0].body == srv.attempts[1].body and b"streamed-once" in srv.attempts[0].body


# --- downloads -----------------------------------------------------------------------


def test_download_to_a_file_in_chunks(client, srv, tmp_path):
    parts = [os.urandom(40_000) for _ in range(5)]
    srv.queue(chunks(parts, "application/octet-stream", delay=0.01))
    result = client.download("download", id="file-1", to=tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"".join(parts)
    assert result.body == tmp_path / "out.bin" and result.status == 200


def test_download_iterated_in_chunks(client, srv):
    parts = [b"a" * 10_000, b"b" * 10_000]
    srv.queue(chunks(parts, "application/octet-stream"))
    with client.stream("download", id="file-1") as body:
        got = list(body.iter_bytes(4096))
    assert b"".join(got) == b"".join(parts) and max(map(len, got)) <= 4096


def test_download_over_its_size_limit_leaves_no_file(client, srv, tmp_path):
    srv.queue(chunks([b"z" * 100_000], "application/octet-stream"), json_reply({"id": "t"}))
    with pytest.raises(ResponseTooLargeError) as info:
        client.download("download", id="file-1", to=tmp_path / "out.bin", max_bytes=50_000)
    assert info.value.limit == 50_000 and not (tmp_path / "out.bin").exists()
    assert client.call("getThing", id="t") == {"id": "t"}, "the pool is usable afterwards"


def test_a_body_over_max_response_bytes_is_refused(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, max_response_bytes=1000)
    srv.queue(json_reply({"id": "x" * 5000}), json_reply({"id": "t"}))
    with pytest.raises(ResponseTooLargeError):
        client.call("getThing", id="t1")
    assert len(srv.attempts) == 1, "too large is not retried"
    assert client.call("getThing", id="t") == {"id": "t"}


# --- streams -------------------------------------------------------------------------


def test_sse_events_multiline_names_comments_and_done(client, srv):
    srv.queue(sse([
        ": keep-alive comment\n\n",
        'data: {"delta":\ndata: "hel"}\n\n',                 # multi-line data joined with \n
        "event: message\r\nid: 7\r\ndata: {\"delta\": \"lo\"}\r\n\r\n",
        ":\n\n",
        "retry: 1000\n\n",
        "data: [DONE]\n\n",
        'data: {"delta": "after done"}\n\n',
    ]))
    with client.stream("chat", {"prompt": "hi"}) as events:
        got = list(events)
    assert got == [Event(None, {"delta": "hel"}), Event("message", {"delta": "lo"}, "7")]
    assert json.loads(srv.attempts[0].body) == {"prompt": "hi", "stream": True}, "stream: true is added"


def test_call_with_stream_true_returns_the_stream(client, srv):
    srv.queue(sse(['data: {"delta": "a"}\n\n', 'data: {"delta": "b"}\n\n']))
    stream = client.call("chat", {"prompt": "hi", "stream": True}, stream=True)
    assert [e.data["delta"] for e in stream] == ["a", "b"]


def test_a_line_split_across_packets_and_crlf_straddling(client, srv):
    srv.queue(sse(['data: {"del', 'ta": "é', 'x"}\r', '\n\r\n', 'data: [DONE]\n\n']))
    with client.stream("chat", {"prompt": "hi"}) as events:
        assert [e.data for e in events] == [{"delta": "éx"}]


def test_an_event_outside_the_schema_is_refused(client, srv):
    srv.queue(sse(['data: {"delta": "ok"}\n\n', 'data: {"delta": 5}\n\n']))
    got = []
    with pytest.raises(ResponseValidationError) as info:
        with client.stream("chat", {"prompt": "hi"}) as events:
            for event in events:
                got.append(event)
    assert len(got) == 1 and info.value.pointer == "/delta" and "event" in str(info.value)


def test_an_event_outside_the_schema_only_warns_in_warn_mode(client, srv, caplog):
    srv.queue(sse(['data: {"delta": 5}\n\n']))
    with caplog.at_level(logging.WARNING, logger="dynclient"):
        events = list(client.with_options(validate_responses="warn").stream("chat", {"prompt": "hi"}))
    assert events == [Event(None, {"delta": 5})] and "does not match" in caplog.text


@pytest.mark.parametrize("text, event_name", [
    ('event: error\ndata: {"error": {"message": "overloaded", "code": "server_busy"}}\n\n', "error"),
    ('data: {"error": {"message": "overloaded", "type": "server_error", "code": "server_busy"}}\n\n', None),
])
def test_an_error_event_raises(client, srv, text, event_name):
    srv.queue(sse(['data: {"delta": "a"}\n\n', text]))
    with pytest.raises(APIStreamError) as info:
        for _ in client.stream("chat", {"prompt": "hi"}):
            pass
    assert info.value.message == "overloaded" and info.value.code == "server_busy"
    assert info.value.event == event_name and info.value.operation_id == "chat"


def test_malformed_json_in_an_event_is_a_decode_error(client, srv):
    srv.queue(sse(['data: {"delta": "a"\n\n']))
    with pytest.raises(ResponseDecodeError):
        list(client.stream("chat", {"prompt": "hi"}))


def test_invalid_utf8_in_a_stream_is_a_decode_error(client, srv):
    srv.queue(sse([b'data: {"delta": "\xff\xfe"}\n\n']))
    with pytest.raises(ResponseDecodeError):
        list(client.stream("chat", {"prompt": "hi"}))


def test_a_stalled_stream_times_out(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, timeout=0.3)
    srv.queue(sse(['data: {"delta": "a"}\n\n'], stall=5, server=srv))
    got = []
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        for event in client.stream("chat", {"prompt": "hi"}):
            got.append(event)
    assert len(got) == 1 and time.perf_counter() - started < 2.0
    assert len(srv.attempts) == 1, "a stream that already started is never retried"


def test_leaving_a_stream_early_releases_the_connection(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, pool_maxsize=1, timeout=2)
    srv.queue(sse(['data: {"delta": "a"}\n\n'], stall=5, server=srv), json_reply({"id": "t"}))
    started = time.perf_counter()
    with client.stream("chat", {"prompt": "hi"}) as events:
        for event in events:
            break
    assert client.call("getThing", id="t") == {"id": "t"}
    assert time.perf_counter() - started < 1.5, "the next call did not wait for the stalled stream"


def test_an_error_status_on_a_stream_request_is_retried_then_raised(client, srv):
    srv.queue(error_reply(503), error_reply(400))
    with pytest.raises(dynclient.BadRequestError):
        client.stream("chat", {"prompt": "hi"})
    assert len(srv.attempts) == 2


# --- pagination ----------------------------------------------------------------------


def page_server(items: list[str], srv: FaultServer, size: int = 2) -> None:
    def page(after: str | None) -> dict:
        start = items.index(after) + 1 if after else 0
        chunk = items[start:start + size]
        return {"data": [{"id": i} for i in chunk], "has_more": start + size < len(items),
                "last_id": chunk[-1] if chunk else None}
    cursors = [None] + items[size - 1::size]
    srv.queue(*[json_reply(page(c)) for c in cursors if c is None or items.index(c) + 1 < len(items)])


def test_paginate_item_by_item_across_pages(client, srv):
    items = [f"t{i}" for i in range(7)]
    page_server(items, srv)
    assert [t["id"] for t in client.paginate("listThings", limit=2)] == items
    assert [a.target for a in srv.attempts] == ["/things?limit=2", "/things?limit=2&after=t1",
                                               "/things?limit=2&after=t3", "/things?limit=2&after=t5"]


def test_paginate_page_by_page(client, srv):
    page_server(["a", "b", "c"], srv)
    pages = list(client.paginate("listThings", limit=2).pages())
    assert [[t["id"] for t in p["data"]] for p in pages] == [["a", "b"], ["c"]]


def test_paginate_is_lazy(client, srv):
    page_server([f"t{i}" for i in range(10)], srv)
    first_three = []
    for thing in client.paginate("listThings", limit=2):
        first_three.append(thing["id"])
        if len(first_three) == 3:
            break
    assert first_three == ["t0", "t1", "t2"] and len(srv.attempts) == 2


def test_paginate_a_repeated_cursor_stops_with_an_error(client, srv):
    same = json_reply({"data": [{"id": "a"}], "has_more": True, "last_id": "a"})
    srv.queue(same, same, same)
    with pytest.raises(PaginationError) as info:
        list(client.paginate("listThings"))
    assert "repeated" in str(info.value) and len(srv.attempts) == 2


def test_paginate_an_operation_that_does_not_page(client, srv):
    with pytest.raises(PaginationError) as info:
        client.paginate("listModels")
    assert "listModels" in str(info.value) and "after" in str(info.value)
    assert srv.attempts == []


# --- observability -------------------------------------------------------------------


def test_each_attempt_is_logged_without_secrets(client, srv, caplog):
    srv.queue(error_reply(503, headers={"x-request-id": "req_1"}), json_reply({"id": "t1"},
                                                                             headers={"x-request-id": "req_2"}))
    with caplog.at_level(logging.DEBUG, logger="dynclient"):
        client.call("getThing", id="t1")
    attempts = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert len(attempts) == 2
    assert "getThing GET /things/t1 -> 503" in attempts[0] and "(attempt 1)" in attempts[0]
    assert "req_1" in attempts[0] and "(attempt 2)" in attempts[1] and "req_2" in attempts[1]
    assert any("retrying" in r.getMessage() and "(retry 1)" in r.getMessage() for r in caplog.records)
    assert CANARY not in caplog.text


def test_dynclient_log_environment_variable(srv, tmp_path):
    srv.queue(json_reply({"id": "t1"}))
    script = (f"import dynclient, json; spec = json.loads({json.dumps(json.dumps(SPEC))}); "
              f"c = dynclient.Client(spec, base_url={srv.url!r}, api_key={CANARY!r}); "
              f"print(c.call('getThing', id='t1'))")
    env = {**os.environ, "DYNCLIENT_LOG": "debug"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "getThing GET /things/t1 -> 200" in out.stderr and CANARY not in out.stderr + out.stdout


def test_an_undeclared_streamed_content_type_warns_and_stays_readable(client, srv, caplog):
    srv.queue(chunks([b"<xml/>"], "application/xml"), chunks([b"<xml/>"], "application/xml"))
    with caplog.at_level(logging.WARNING, logger="dynclient"):
        with client.with_options(validate_responses="warn").stream("chat", {"prompt": "hi"}) as body:
            assert body.read() == b"<xml/>"
    assert "is not declared" in caplog.text
    with pytest.raises(ResponseValidationError):
        client.stream("chat", {"prompt": "hi"})
