"""Responses: decoding, Result, typed status errors, response validation modes, transport faults."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import socket
import time

import pytest
from httpserver import Reply

import dynclient
from dynclient import (APIConnectionError, APIStatusError, APITimeoutError, AuthenticationError, BadRequestError,
                       ConflictError, InternalServerError, NotFoundError, PermissionDeniedError, RateLimitError,
                       ResponseDecodeError, ResponseValidationError, UnprocessableEntityError)
from dynclient.codecs import Event
from dynclient.core.call import PreparedRequest, RawResponse, Result

from _specs import CANARY, assistant, spec_30

LIST = {"object": "list", "data": [], "first_id": "a", "last_id": "b", "has_more": False}


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(openai_spec, server):
    with dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0) as c:
        yield c


@pytest.fixture
def tiny(server):
    with dynclient.Client(spec_30(), base_url=server.url + "/v1", api_key=CANARY, max_retries=0) as c:
        yield c


# --- decoding and Result -----------------------------------------------------------------


def test_json_body_decoded(client, server):
    server.reply(Reply(body=assistant(id="asst_42", name="Tutor")))
    body = client.call("getAssistant", assistant_id="asst_42")
    assert body == assistant(id="asst_42", name="Tutor")


def test_call_raw_result(client, server):
    server.reply(Reply(body=assistant(), delay=0.01,
                       headers={"X-Request-ID": "req_abc123", "Content-Type": "application/json; charset=utf-8",
                                "OpenAI-Processing-Ms": "17"}))
    result = client.call_raw("getAssistant", assistant_id="asst_1")
    assert isinstance(result, dynclient.Result)
    assert result.operation_id == "getAssistant"
    assert result.status == 200
    assert result.body == assistant()
    assert result.request_id == "req_abc123"
    assert result.content_type == "application/json; charset=utf-8"
    assert result.headers["openai-processing-ms"] == "17"       # case-insensitive
    assert result.headers["OpenAI-Processing-Ms"] == "17"
    assert 0.01 <= result.elapsed < 5


def test_request_id_absent_is_none(client, server):
    server.reply(Reply(body=assistant()))
    assert client.call_raw("getAssistant", assistant_id="a").request_id is None


def test_binary_response_returned_exactly(client, server):
    audio = bytes(range(256)) * 64 + b"\r\n\x00ID3"
    server.reply(Reply(body=audio, headers={"Content-Type": "application/octet-stream"}))
    result = client.call_raw("createSpeech", {"model": "tts-1", "input": "Hello", "voice": "alloy"})
    assert isinstance(result.body, bytes)
    assert result.body == audio
    assert result.content_type == "application/octet-stream"
    assert server.last.json() == {"model": "tts-1", "input": "Hello", "voice": "alloy"}


def test_text_plain_returns_str(tiny, server):
    server.reply(Reply(body="héllo wörld"))
    assert tiny.call("getText") == "héllo wörld"


def test_text_plain_honours_charset(tiny, server):
    server.reply(Reply(body="café".encode("latin-1"), headers={"Content-Type": "text/plain; charset=iso-8859-1"}))
    assert tiny.call("getText") == "café"


SSE = (
    b": keep-alive comment\n\n"
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    b"event: custom\r\nid: 7\r\ndata: {\"n\": 1}\r\n\r\n"
    b"data: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
    b"data: {\"after\": \"done\"}\n\n"
)


def test_sse_body_decoded_to_events(client, server):
    server.reply(Reply(body=SSE, headers={"Content-Type": "text/event-stream; charset=utf-8"}))
    events = client.call("createChatCompletion", {"model": "gpt-4o", "stream": True,
                                                  "messages": [{"role": "user", "content": "hi"}]})
    assert [type(e) for e in events] == [Event, Event, Event]
    assert events[0].event is None
    assert events[0].data["choices"][0]["delta"]["content"] == "Hel"
    assert (events[1].event, events[1].data, events[1].id) == ("custom", {"n": 1}, "7")
    assert events[2].data == "line one\nline two"


def test_sse_unicode_line_separators_inside_data_are_not_line_breaks(client, server):
    """SSE lines end only at CR, LF or CRLF; U+2028 and U+0085 are ordinary characters, and JSON
    allows both unescaped inside strings (a raw form feed would be invalid JSON, so it is not used)."""
    payload = '{"delta": "a\u2028b\u0085cd"}'
    server.reply(Reply(body=("data: " + payload + "\n\n").encode("utf-8"),
                       headers={"Content-Type": "text/event-stream"}))
    events = client.call("createChatCompletion", {"model": "gpt-4o", "stream": True,
                                                  "messages": [{"role": "user", "content": "hi"}]})
    assert events == [Event(None, {"delta": "a\u2028b\u0085cd"}, None)]


# --- typed status errors -------------------------------------------------------------------


def error_body(message="Something went wrong", type_="invalid_request_error", param="model", code="bad_model"):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@pytest.mark.parametrize("status, cls", [
    (400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError),
    (409, ConflictError), (422, UnprocessableEntityError), (429, RateLimitError),
    (500, InternalServerError), (502, InternalServerError), (503, InternalServerError),
])
def test_status_errors_are_typed(client, server, status, cls):
    server.reply(Reply(status=status, body=error_body(message=f"boom {status}"),
                       headers={"x-request-id": f"req_{status}"}))
    with pytest.raises(cls) as info:
        client.call("getAssistant", assistant_id="asst_1")
    err = info.value
    assert type(err) is cls and isinstance(err, APIStatusError)
    assert err.status == status and err.status_code == status
    assert err.operation_id == "getAssistant"
    assert err.message == f"boom {status}"
    assert (err.type, err.param, err.code) == ("invalid_request_error", "model", "bad_model")
    assert err.request_id == f"req_{status}"
    assert err.body == error_body(message=f"boom {status}")
    text = str(err)
    assert "getAssistant" in text and str(status) in text and f"boom {status}" in text
    assert f"req_{status}" in text and "bad_model" in text
    assert len(server.requests) == 1, "a status error must not be retried silently"


def test_unlisted_4xx_is_a_plain_api_status_error(client, server):
    server.reply(Reply(status=418, body=error_body(message="I'm a teapot", code=None)))
    with pytest.raises(APIStatusError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert type(info.value) is APIStatusError
    assert info.value.status == 418 and info.value.message == "I'm a teapot" and info.value.code is None


def test_status_error_carries_response_headers(client, server):
    server.reply(Reply(status=429, body=error_body(), headers={"retry-after": "7",
                                                               "x-ratelimit-remaining-requests": "0"}))
    with pytest.raises(RateLimitError) as info:
        client.call("listAssistants")
    assert info.value.headers["retry-after"] == "7"
    assert info.value.headers["x-ratelimit-remaining-requests"] == "0"


def test_status_error_headers_are_case_insensitive(client, server):
    """HTTP field names are case-insensitive (RFC 9110 5.1); Result.headers is, so must the error's be."""
    server.reply(Reply(status=429, body=error_body(), headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as info:
        client.call("listAssistants")
    assert info.value.headers.get("retry-after") == "7"


def test_status_error_with_text_body(client, server):
    server.reply(Reply(status=502, body="<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(InternalServerError) as info:
        client.call("listAssistants")
    err = info.value
    assert err.body == "<html>Bad Gateway</html>" and err.message == "<html>Bad Gateway</html>"
    assert err.type is None and err.code is None and err.param is None


def test_status_error_with_malformed_json_body_is_still_a_status_error(client, server):
    server.reply(Reply(status=500, body=b'{"error": {"message": tru', headers={"Content-Type": "application/json"}))
    with pytest.raises(InternalServerError) as info:
        client.call("listAssistants")
    assert info.value.body == '{"error": {"message": tru'


def test_status_error_with_empty_body(client, server):
    server.reply(Reply(status=404, body=b""))
    with pytest.raises(NotFoundError) as info:
        client.call("getAssistant", assistant_id="nope")
    assert info.value.body is None and info.value.message is None


# --- response validation modes -----------------------------------------------------------


def test_strict_response_validation_names_the_pointer(client, server):
    bad = assistant(id=5)
    server.reply(Reply(body=bad, headers={"x-request-id": "req_v"}))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    err = info.value
    assert err.operation_id == "getAssistant" and err.status == 200
    assert err.pointer == "/id"
    assert err.body == bad
    assert err.request_id == "req_v"
    assert "/id" in str(err) and "string" in str(err) and "getAssistant" in str(err)


def test_strict_nested_pointer(client, server):
    server.reply(Reply(body=assistant(tools=[{"type": "code_interpreter"}, {"type": "function", "function": {}}])))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert info.value.pointer.startswith("/tools/1")
    assert "name" in str(info.value)


def test_strict_missing_required_property(client, server):
    body = assistant()
    del body["model"]
    server.reply(Reply(body=body))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert info.value.pointer == "" and "'model'" in str(info.value)


def test_warn_mode_logs_and_returns(openai_spec, server, caplog):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0, validate_responses="warn")
    server.reply(Reply(body=assistant(id=5)))
    with caplog.at_level(logging.WARNING, logger="dynclient"):
        body = client.call("getAssistant", assistant_id="asst_1")
    assert body == assistant(id=5)
    warnings = [r for r in caplog.records if r.name == "dynclient" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "getAssistant" in message and "/id" in message


def test_off_mode_returns_without_warning(openai_spec, server, caplog):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0, validate_responses="off")
    server.reply(Reply(body=assistant(id=5)))
    with caplog.at_level(logging.DEBUG, logger="dynclient"):
        assert client.call("getAssistant", assistant_id="asst_1") == assistant(id=5)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_valid_response_logs_no_warning(client, server, caplog):
    server.reply(Reply(body=assistant()))
    with caplog.at_level(logging.DEBUG, logger="dynclient"):
        client.call("getAssistant", assistant_id="asst_1")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_undeclared_content_type_under_strict(client, server):
    server.reply(Reply(body="not json"))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert info.value.pointer == ""
    assert "text/plain" in str(info.value) and "application/json" in str(info.value)
    assert client.with_options(validate_responses="off").call("getAssistant", assistant_id="asst_1") == {"ok": True}


def test_undeclared_content_type_under_off_returns_decoded_text(client, server):
    server.reply(Reply(body="not json"))
    assert client.with_options(validate_responses="off").call("getAssistant", assistant_id="a") == "not json"


def test_undeclared_status_under_strict(client, server):
    server.reply(Reply(status=201, body=assistant()))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert info.value.status == 201 and "201" in str(info.value)


def test_empty_body_where_json_is_declared(client, server):
    server.reply(Reply(body=b"", headers={"Content-Type": "application/json"}))
    with pytest.raises(ResponseValidationError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    assert "empty body" in str(info.value)


def test_malformed_json_with_200_is_a_decode_error(client, server):
    server.reply(Reply(body=b'{"id": "asst_1", "object": ', headers={"Content-Type": "application/json"}))
    with pytest.raises(ResponseDecodeError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    err = info.value
    assert isinstance(err, APIConnectionError)
    assert err.operation_id == "getAssistant" and err.status == 200 and err.content_type == "application/json"
    assert "getAssistant" in str(err) and "JSON" in str(err)


def test_malformed_json_is_a_decode_error_even_with_validation_off(client, server):
    server.reply(Reply(body=b"{nope", headers={"Content-Type": "application/json"}))
    with pytest.raises(ResponseDecodeError):
        client.with_options(validate_responses="off").call("getAssistant", assistant_id="asst_1")


def test_with_options_does_not_change_the_original(client, server):
    relaxed = client.with_options(validate_responses="off", timeout=3, headers={"X-Extra": "1"})
    assert relaxed is not client
    assert client.options.validate_responses == "strict" and relaxed.options.validate_responses == "off"
    assert "X-Extra" not in client.options.headers
    server.reply(Reply(body=assistant(id=5)), Reply(body=assistant(id=5)))
    assert relaxed.call("getAssistant", assistant_id="a") == assistant(id=5)
    assert server.last.headers["X-Extra"] == "1"
    with pytest.raises(ResponseValidationError):
        client.call("getAssistant", assistant_id="a")
    assert "X-Extra" not in server.last.headers


def test_with_options_refuses_a_bad_mode(client):
    with pytest.raises(ValueError):
        client.with_options(validate_responses="sometimes")
    assert client.options.validate_responses == "strict"


# --- transport faults --------------------------------------------------------------------


def test_read_timeout(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0, timeout=0.2)
    server.reply(Reply(body=assistant(), delay=1.0))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError) as info:
        client.call("getAssistant", assistant_id="asst_1")
    elapsed = time.perf_counter() - started
    assert 0.15 <= elapsed < 0.9
    assert isinstance(info.value, APIConnectionError)
    assert info.value.operation_id == "getAssistant" and "timeout" in str(info.value)
    assert len(server.requests) == 1, "with max_retries=0 a timed-out request is sent once"


def test_read_timeout_on_post(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0, timeout=0.2)
    server.reply(Reply(body=assistant(), delay=1.0))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        client.call("createAssistant", {"model": "gpt-4o"})
    assert time.perf_counter() - started < 0.9


def test_per_call_timeout_shortens_the_clients(client, server):
    server.reply(Reply(body=assistant(), delay=1.0))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        client.call("getAssistant", assistant_id="asst_1", timeout=0.2)
    assert time.perf_counter() - started < 0.9


def test_per_call_timeout_lengthens_the_clients(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, max_retries=0, timeout=0.2)
    server.reply(Reply(body=assistant(), delay=0.4))
    assert client.call("getAssistant", assistant_id="asst_1", timeout=3)["id"] == "asst_1"


def test_with_options_timeout(client, server):
    server.reply(Reply(body=assistant(), delay=1.0))
    with pytest.raises(APITimeoutError):
        client.with_options(timeout=0.2).call("getAssistant", assistant_id="asst_1")


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connection_refused(openai_spec):
    client = dynclient.Client(openai_spec, base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=CANARY,
                              timeout=2)
    started = time.perf_counter()
    with pytest.raises(APIConnectionError) as info:
        client.call("listAssistants")
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.operation_id == "listAssistants" and "listAssistants" in str(info.value)
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize("operation, body, kwargs", [
    ("getAssistant", dynclient.core.call.MISSING, {"assistant_id": "asst_1"}),
    ("createAssistant", {"model": "gpt-4o"}, {}),
])
def test_server_reset_is_a_connection_error(client, server, operation, body, kwargs):
    server.reply(Reply(close=True))
    with pytest.raises(APIConnectionError) as info:
        client.call(operation, body, **kwargs)
    assert not isinstance(info.value, (APITimeoutError, ResponseDecodeError))
    assert info.value.operation_id == operation
    assert len(server.requests) == 1, "with max_retries=0 a reset request is sent once"


def test_client_recovers_after_a_reset(client, server):
    server.reply(Reply(close=True), Reply(body=assistant()))
    with pytest.raises(APIConnectionError):
        client.call("getAssistant", assistant_id="asst_1")
    assert client.call("getAssistant", assistant_id="asst_1") == assistant()


@pytest.mark.parametrize("cls", [PreparedRequest, Result, RawResponse])
def test_per_call_records_take_exactly_their_fields(cls):
    # Their __init__ is written by hand (core/call.py says why): it must take the dataclass's fields,
    # in order, with their defaults, and the instance must stay frozen, comparable and replaceable.
    declared = [(f.name, f.default) for f in dataclasses.fields(cls)]
    taken = [(name, p.default if p.default is not p.empty else dataclasses.MISSING)
             for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]]
    assert taken == declared
    values = {name: f"value of {name}" for name, _ in declared}
    made = cls(**values)
    assert {name: getattr(made, name) for name, _ in declared} == values
    assert made == cls(*values.values()) and dataclasses.replace(made) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, declared[0][0], "changed")
