"""The mock server's behaviour, over real sockets on 127.0.0.1.

Requests the client would refuse are sent with a raw urllib3 pool, so what is
checked is the mock's own validation. Each claim of the README's "mock server"
section has a test here; the document-independent ones (examples first, a 500
that says why) use tiny inline documents, the rest OpenAI's 2025-04-29 one.
"""

from __future__ import annotations

import json
import re

import pytest
import urllib3

import dynclient
from dynclient.codecs import decode_sse
from dynclient.schema import SchemaSet
from dynclient.testing.mock import MockServer

OPENAI_ERROR_KEYS = {"message", "type", "param", "code"}
AUTH = {"Authorization": "Bearer sk-test"}
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def spec(spec_2025):
    return dynclient.Spec(spec_2025)


@pytest.fixture(scope="module")
def mock(spec):
    with MockServer(spec) as server:
        yield server


@pytest.fixture
def fresh(spec):
    """A mock with empty state, for the tests that count objects."""
    with MockServer(spec) as server:
        yield server


@pytest.fixture(scope="module")
def http():
    pool = urllib3.PoolManager(retries=False, timeout=10)
    yield pool
    pool.clear()


def client_for(server: MockServer, **options) -> dynclient.Client:
    return dynclient.Client(server.app.spec, base_url=server.base_url, api_key="sk-test", **options)


def post(http, url: str, body, headers=JSON) -> urllib3.BaseHTTPResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.request("POST", url, body=data, headers=headers)


def openai_error(response) -> dict:
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.data)
    assert set(body) == {"error"} and set(body["error"]) == OPENAI_ERROR_KEYS, body
    return body["error"]


# --- routing ------------------------------------------------------------------------------------


def test_the_base_url_carries_the_server_prefix_and_routes_under_it(mock, http):
    assert mock.base_url == mock.url + "/v1"
    assert http.request("GET", mock.base_url + "/models", headers=AUTH).status == 200
    outside = http.request("GET", mock.url + "/models", headers=AUTH)
    assert outside.status == 404
    assert "GET /models" in openai_error(outside)["message"]


def test_an_unknown_path_or_method_is_a_404_in_the_error_shape(mock, http):
    assert http.request("GET", mock.base_url + "/no/such/thing", headers=AUTH).status == 404
    wrong_method = http.request("PUT", mock.base_url + "/models", headers=AUTH)
    assert wrong_method.status == 404
    assert openai_error(wrong_method)["type"] == "invalid_request_error"


def test_literal_paths_win_over_templates(mock, http):
    """`/threads/runs` (createThreadAndRun) is not `/threads/{thread_id}` (modifyThread)."""
    body = {"assistant_id": "asst_1"}
    response = post(http, mock.base_url + "/threads/runs", body)
    assert response.status == 200, response.data
    assert json.loads(response.data)["object"] == "thread.run"


# --- requests: 400 and 401 -----------------------------------------------------------------------


@pytest.mark.parametrize("path, body, param, words", [
    ("/assistants", {"model": "gpt-4o", "temperature": "hot"}, "temperature", "number"),
    ("/assistants", {"name": "no model"}, None, "model"),
    ("/chat/completions", {"model": "gpt-4o", "messages": [{"role": "usr", "content": "hi"}]},
     "messages[0].role", "usr"),
    ("/embeddings", {"model": "text-embedding-3-small", "input": "x", "dimensions": 0}, "dimensions", "minimum"),
])
def test_an_invalid_body_forced_past_the_client_is_a_400_naming_the_field(mock, http, path, body, param, words):
    response = post(http, mock.base_url + path, body)
    assert response.status == 400
    error = openai_error(response)
    assert error["type"] == "invalid_request_error"
    assert words in error["message"]
    if param is not None:
        assert error["param"] == param


def test_the_client_stops_the_same_body_before_sending(mock):
    with client_for(mock) as client, pytest.raises(dynclient.RequestValidationError, match="temperature"):
        client.call("createAssistant", {"model": "gpt-4o", "temperature": "hot"})


def test_an_invalid_query_parameter_is_a_400_naming_it(mock, http):
    response = http.request("GET", mock.base_url + "/assistants?limit=many", headers=AUTH)
    assert response.status == 400
    assert openai_error(response)["param"] == "limit"
    enum = http.request("GET", mock.base_url + "/assistants?order=sideways", headers=AUTH)
    assert enum.status == 400 and "sideways" in openai_error(enum)["message"]


def test_a_body_that_is_not_json_or_of_an_undeclared_type_is_a_400(mock, http):
    broken = post(http, mock.base_url + "/assistants", b'{"model": ')
    assert broken.status == 400 and "not valid JSON" in openai_error(broken)["message"]
    wrong_type = post(http, mock.base_url + "/assistants", b"model=gpt-4o",
                      {**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status == 400 and "application/json" in openai_error(wrong_type)["message"]
    missing = http.request("POST", mock.base_url + "/assistants", headers=JSON)
    assert missing.status == 400 and "missing required request body" in openai_error(missing)["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcjpwdw=="},
                                     {"Authorization": "sk-test"}])
def test_missing_or_malformed_credentials_are_a_401(mock, http, headers):
    response = http.request("GET", mock.base_url + "/assistants", headers=headers)
    assert response.status == 401
    assert "credentials" in openai_error(response)["message"]


def test_auth_is_checked_before_the_body(mock, http):
    response = post(http, mock.base_url + "/assistants", {"model": 3}, {"Content-Type": "application/json"})
    assert response.status == 401


def test_require_auth_false_serves_without_credentials(spec, http):
    with MockServer(spec, require_auth=False) as server:
        assert http.request("GET", server.base_url + "/assistants").status == 200


# --- responses: examples, then synthesis, always valid -------------------------------------------


def tiny(schema: dict, example=None) -> dict:
    media = {"schema": schema, **({"example": example} if example is not None else {})}
    return {"openapi": "3.0.3", "info": {"title": "tiny", "version": "1"},
            "servers": [{"url": "http://example.test/api"}],
            "paths": {"/thing": {"get": {"operationId": "getThing",
                                         "responses": {"200": {"description": "ok",
                                                               "content": {"application/json": media}}}}}}}


THING = {"type": "object", "required": ["id", "size"],
         "properties": {"id": {"type": "string"}, "size": {"type": "integer", "minimum": 3},
                        "kind": {"type": "string", "enum": ["big", "small"]}}}


def test_a_valid_example_is_what_the_mock_answers(http):
    example = {"id": "thing_42", "size": 7, "kind": "small"}
    with MockServer(tiny(THING, example)) as server:
        assert server.base_url.endswith("/api")
        response = http.request("GET", server.base_url + "/thing")
        assert response.status == 200 and json.loads(response.data) == example


def test_an_invalid_example_is_replaced_by_a_valid_synthesis(http):
    with MockServer(tiny(THING, {"id": "thing_42", "size": 1})) as server:   # size below its minimum
        body = json.loads(http.request("GET", server.base_url + "/thing").data)
    assert body["size"] >= 3 and isinstance(body["id"], str)
    assert SchemaSet(dynclient.Spec(tiny(THING))).compiled(
        "/paths/~1thing/get/responses/200/content/application~1json/schema", "response").violation(body) is None


def test_a_response_that_cannot_be_made_valid_is_a_500_that_says_why(http):
    impossible = {"type": "object", "required": ["n"],
                  "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 5}}}
    with MockServer(tiny(impossible)) as server:
        response = http.request("GET", server.base_url + "/thing")
    assert response.status == 500
    error = openai_error(response)
    assert error["type"] == "server_error"
    assert "cannot" in error["message"] and "/n: expected a number with minimum 10" in error["message"]


@pytest.mark.parametrize("operation_id, body, params", [
    ("listModels", None, {}),
    ("createChatCompletion", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, {}),
    ("createEmbedding", {"model": "text-embedding-3-small", "input": "hello"}, {}),
    ("createModeration", {"input": "hello"}, {}),
    ("createImage", {"prompt": "a cat"}, {}),
    ("listFiles", None, {"limit": 3}),
    ("createVectorStore", {"name": "docs"}, {}),
    ("createResponse", {"model": "gpt-4o", "input": "hi"}, {}),
])
def test_answers_pass_the_clients_strict_validation(mock, operation_id, body, params):
    with client_for(mock) as client:
        result = client.call_raw(operation_id, body if body is not None else dynclient.core.call.MISSING, **params)
    assert 200 <= result.status < 300
    assert result.request_id and result.request_id.startswith("req_")


def test_ids_look_like_ids_and_the_request_is_reflected(mock):
    with client_for(mock) as client:
        asst = client.call("createAssistant", {"model": "gpt-4o", "name": "Math Tutor"})
        other = client.call("createAssistant", {"model": "gpt-4o-mini"})
    assert asst["id"].startswith("asst_") and asst["id"] != other["id"]
    assert (asst["object"], asst["model"], asst["name"]) == ("assistant", "gpt-4o", "Math Tutor")
    assert other["model"] == "gpt-4o-mini"


# --- state --------------------------------------------------------------------------------------


def test_objects_live_from_create_to_delete_with_cursor_pagination(fresh):
    with client_for(fresh) as client:
        empty = client.call("listAssistants")
        assert empty["data"] == [] and empty["has_more"] is False
        ids = [client.call("createAssistant", {"model": "gpt-4o", "name": f"n{i}"})["id"] for i in range(5)]
        assert client.call("getAssistant", assistant_id=ids[2])["name"] == "n2"

        page = client.call("listAssistants", limit=2, order="asc")
        assert [a["id"] for a in page["data"]] == ids[:2]
        assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[1], True)
        page = client.call("listAssistants", limit=2, order="asc", after=page["last_id"])
        assert [a["id"] for a in page["data"]] == ids[2:4] and page["has_more"] is True
        page = client.call("listAssistants", limit=2, order="asc", after=page["last_id"])
        assert [a["id"] for a in page["data"]] == ids[4:] and page["has_more"] is False
        before = client.call("listAssistants", limit=2, order="asc", before=ids[4])
        assert [a["id"] for a in before["data"]] == ids[2:4]
        newest_first = client.call("listAssistants", limit=3)   # the document's default order: desc
        assert [a["id"] for a in newest_first["data"]] == ids[::-1][:3]

        changed = client.call("modifyAssistant", {"name": "renamed"}, assistant_id=ids[0])
        assert changed["name"] == "renamed" and changed["id"] == ids[0]
        assert client.call("getAssistant", assistant_id=ids[0])["name"] == "renamed"

        gone = client.call("deleteAssistant", assistant_id=ids[0])
        assert gone == {"id": ids[0], "object": "assistant.deleted", "deleted": True}
        with pytest.raises(dynclient.NotFoundError) as caught:
            client.call("getAssistant", assistant_id=ids[0])
        assert caught.value.param == "assistant_id" and ids[0] in caught.value.message
        with pytest.raises(dynclient.NotFoundError):
            client.call("deleteAssistant", assistant_id=ids[0])
        assert ids[0] not in [a["id"] for a in client.call("listAssistants", limit=100)["data"]]


def test_nested_collections_are_kept_per_parent(fresh):
    with client_for(fresh) as client:
        one, two = (client.call("createThread", {})["id"] for _ in range(2))
        message = client.call("createMessage", {"role": "user", "content": "hello"}, thread_id=one)
        assert message["content"] and message["role"] == "user"
        assert [m["id"] for m in client.call("listMessages", thread_id=one)["data"]] == [message["id"]]
        assert client.call("listMessages", thread_id=two)["data"] == []
        assert client.call("getMessage", thread_id=one, message_id=message["id"])["id"] == message["id"]
        # Under thread two that id was never created: assumed there, a message of thread two of its own.
        elsewhere = client.call("getMessage", thread_id=two, message_id=message["id"])
        assert elsewhere["thread_id"] == two and elsewhere != message


# --- streams and binaries -------------------------------------------------------------------------


def test_stream_true_gets_schema_valid_events_ending_with_done(mock, http, spec):
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = post(http, mock.base_url + "/chat/completions", body)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert int(response.headers["Content-Length"]) == len(response.data)
    text = response.data.decode()
    assert text.endswith("data: [DONE]\n\n") and text.count("[DONE]") == 1
    media = spec.operations["createChatCompletion"].responses["200"].content["text/event-stream"]
    compiled = SchemaSet(spec).compiled(media.pointer, "response")
    events = decode_sse(response.data, "text/event-stream")
    assert events and all(compiled.violation(e.data) is None for e in events)
    assert all(e.data["object"] == "chat.completion.chunk" and e.data["model"] == "gpt-4o" for e in events)


def test_the_client_reads_the_stream(mock):
    with client_for(mock) as client:
        result = client.call_raw("createChatCompletion", {"model": "gpt-4o", "stream": True,
                                                          "messages": [{"role": "user", "content": "hi"}]})
    assert result.body and all(event.data["object"] == "chat.completion.chunk" for event in result.body)


def test_without_stream_the_same_operation_answers_json(mock, http):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = post(http, mock.base_url + "/chat/completions", body)
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.data)["object"] == "chat.completion"


def test_binary_bytes_with_their_length_and_no_hop_by_hop_header_from_the_document(mock, http, spec):
    declared = spec.operations["createSpeech"].responses["200"]
    assert "Transfer-Encoding" in declared.headers   # what the document says, and must not be copied
    response = post(http, mock.base_url + "/audio/speech", {"model": "tts-1", "input": "hi", "voice": "alloy"})
    assert response.status == 200
    assert response.headers["Content-Type"] in declared.content
    assert "Transfer-Encoding" not in response.headers
    assert response.data and int(response.headers["Content-Length"]) == len(response.data)
    with client_for(mock) as client:
        assert client.call("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"}) == response.data


def test_declared_end_to_end_headers_are_sent(http):
    document = tiny(THING, {"id": "t", "size": 3})
    document["paths"]["/thing"]["get"]["responses"]["200"]["headers"] = {
        "X-Rate": {"schema": {"type": "integer", "example": 60}},
        "Connection": {"schema": {"type": "string", "example": "close"}},
    }
    with MockServer(document) as server:
        response = http.request("GET", server.base_url + "/thing")
    assert response.headers["X-Rate"] == "60"
    assert response.headers.get("Connection") != "close"


def test_multipart_upload_creates_a_file(fresh):
    with client_for(fresh) as client:
        created = client.call("createFile", {"file": ("notes.jsonl", b'{"a": 1}\n', "application/jsonl"),
                                             "purpose": "assistants"})
        assert created["id"].startswith("file") and created["purpose"] == "assistants"
        assert client.call("retrieveFile", file_id=created["id"])["id"] == created["id"]


SYNTHESIZED = {
    "type": "object",
    "required": ["id", "kind", "code", "when", "size", "ratio", "tags", "shape", "note"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["thing"]},
        "code": {"type": "string", "pattern": "^[a-z]{3}-[0-9]{2}$"},
        "when": {"type": "string", "format": "date-time"},
        "size": {"type": "integer", "minimum": 5, "maximum": 9},
        "ratio": {"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 2},
        "tags": {"type": "array", "minItems": 2, "uniqueItems": True,
                 "items": {"type": "string", "enum": ["a", "b", "c"]}},
        "shape": {"oneOf": [{"$ref": "#/components/schemas/Circle"}, {"$ref": "#/components/schemas/Square"}],
                  "discriminator": {"propertyName": "type"}},
        "note": {"type": "string", "nullable": True, "minLength": 4},
    },
}
SHAPES = {
    "Circle": {"type": "object", "required": ["type", "r"],
               "properties": {"type": {"type": "string", "enum": ["Circle"]}, "r": {"type": "number", "minimum": 1}}},
    "Square": {"type": "object", "required": ["type", "side"],
               "properties": {"type": {"type": "string", "enum": ["Square"]}, "side": {"type": "integer"}}},
}


@pytest.mark.parametrize("dialect", ["3.0.3", "3.1.0"])
def test_synthesis_respects_the_schemas_keywords(http, dialect):
    document = tiny(SYNTHESIZED)
    document["openapi"] = dialect
    document["components"] = {"schemas": SHAPES}
    if dialect == "3.1.0":
        document["components"]["schemas"]["Circle"]["properties"]["type"] = {"const": "Circle"}
    with MockServer(document) as server:
        response = http.request("GET", server.base_url + "/thing")
    assert response.status == 200, response.data
    body = json.loads(response.data)
    assert body["kind"] == "thing" and re.fullmatch(r"[a-z]{3}-[0-9]{2}", body["code"])
    assert 5 <= body["size"] <= 9 and body["ratio"] > 2 and body["ratio"] % 0.5 == 0
    assert len(set(body["tags"])) == len(body["tags"]) >= 2
    assert body["shape"]["type"] in ("Circle", "Square") and set(body["shape"]) in ({"type", "r"}, {"type", "side"})
    assert body["note"] is None or len(body["note"]) >= 4
    assert SchemaSet(dynclient.Spec(document)).compiled(
        "/paths/~1thing/get/responses/200/content/application~1json/schema", "response").violation(body) is None


def test_a_missing_required_query_parameter_is_a_400_naming_it(mock, http):
    response = http.request("GET", mock.base_url + "/organization/costs", headers=AUTH)
    assert response.status == 400
    error = openai_error(response)
    assert error["param"] == "start_time" and "required" in error["message"]
    assert http.request("GET", mock.base_url + "/organization/costs?start_time=1700000000",
                        headers=AUTH).status == 200


def test_a_binary_type_gets_bytes_of_that_type(http):
    document = tiny(THING)
    document["paths"]["/thing"]["get"]["responses"]["200"]["content"] = {"image/png": {"schema": {
        "type": "string", "format": "binary"}}}
    with MockServer(document) as server:
        response = http.request("GET", server.base_url + "/thing")
    assert response.headers["Content-Type"] == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in response.data
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_errors_take_the_documents_own_error_schema_where_it_declares_one(http):
    problem = {"type": "object", "required": ["status", "detail"],
               "properties": {"status": {"type": "integer"}, "detail": {"type": "string"}},
               "additionalProperties": False}
    document = tiny(THING, {"id": "t", "size": 3})
    operation = document["paths"]["/thing"]["get"]
    operation["parameters"] = [{"name": "size", "in": "query", "schema": {"type": "integer"}}]
    operation["responses"]["4XX"] = {"description": "problem", "content": {"application/json": {"schema": problem}}}
    with MockServer(document) as server:
        response = http.request("GET", server.base_url + "/thing?size=big")
    body = json.loads(response.data)
    assert response.status == 400 and set(body) == {"status", "detail"}
    assert "size" in body["detail"] and "big" in body["detail"]


def test_a_collection_keeps_its_newest_objects_only(spec_2025, monkeypatch):
    import dynclient
    from dynclient.testing import mock as mock_module
    monkeypatch.setattr(mock_module, "MAX_STORED", 3)
    with mock_module.MockServer(str(spec_2025), strict_ids=True) as server:   # (else a forgotten id is assumed)
        client = dynclient.Client(str(spec_2025), base_url=server.base_url, api_key="sk-test")
        made = [client.call("createAssistant", {"model": "gpt-4o"})["id"] for _ in range(5)]
        listed = [a["id"] for a in client.call("listAssistants", limit=20)["data"]]
        assert sorted(listed) == sorted(made[2:])
        with pytest.raises(dynclient.NotFoundError):
            client.call("getAssistant", assistant_id=made[0])
        assert client.call("getAssistant", assistant_id=made[4])["id"] == made[4]
