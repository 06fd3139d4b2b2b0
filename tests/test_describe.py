"""describe(): an operation as data and as wrapped text; client.ops as documented callables."""

from __future__ import annotations

import inspect
import json

import pytest

import dynclient
from dynclient.describe import describe, render_text
from dynclient.schema import SchemaSet
from dynclient.testing.mock import serve

from _specs import spec_30, spec_31


def _field(shape: dict, name: str) -> dict:
    found = [f for f in shape.get("fields") or () if f["name"] == name]
    assert found, f"no field {name!r} among {[f['name'] for f in shape.get('fields') or ()]}"
    return found[0]


def _walk(shape: dict, depth: int = 0):
    yield shape, depth
    for f in shape.get("fields") or ():
        yield from _walk(f, depth + 1)
    for b in shape.get("branches") or ():
        yield from _walk(b, depth + 1)


@pytest.fixture(scope="module")
def schemas_2025(spec_2025) -> SchemaSet:
    return SchemaSet(dynclient.Spec(str(spec_2025)))


def test_chat_completion_body_tree(schemas_2025):
    info = describe(schemas_2025, "createChatCompletion")
    assert (info["method"], info["path"]) == ("POST", "/chat/completions")
    media = info["request_body"]["content"]["application/json"]
    assert info["request_body"]["required"] is True
    messages, model = _field(media, "messages"), _field(media, "model")
    assert messages["required"] and model["required"]
    assert not _field(media, "temperature")["required"]
    assert _field(media, "temperature")["nullable"] is True
    assert _field(media, "temperature")["default"] == 1
    # messages: an array whose items are one of six roles, chosen by `role`
    assert messages["type"].startswith("array of")
    assert messages["chosen_by"] == "role"
    roles = {v for b in messages["branches"] for v in b["discriminator"]["values"]}
    assert roles == {"developer", "system", "user", "assistant", "tool", "function"}
    titles = [b["title"] for b in messages["branches"]]
    assert "User message" in titles
    user = messages["branches"][titles.index("User message")]
    assert _field(user, "role")["enum"] == ["user"] and _field(user, "content")["required"]
    # the model is any string or one of the listed ids
    assert "gpt-4o" in model["enum"] and model["open_enum"] is True
    # responses in brief
    ok = info["responses"]["200"]["content"]
    assert ok["application/json"]["ref"] == "CreateChatCompletionResponse"
    assert "choices" in ok["application/json"]["fields"]
    assert "text/event-stream" in ok


def test_example_body_validates_for_every_operation(schemas_2025):
    checked = 0
    for op in schemas_2025.spec:
        body = describe(schemas_2025, op.operation_id)["request_body"]
        for content_type, media in (body or {"content": {}})["content"].items():
            assert media.get("example_error") is None, (op.operation_id, content_type, media["example_error"])
            pointer = op.request_body.content[content_type].pointer
            assert schemas_2025.compiled(pointer, "request").violation(media["example"]) is None
            checked += 1
    assert checked >= 50


def test_parameters_with_location_type_default():
    info = describe(dynclient.Spec(spec_30()), "search")
    by_name = {p["name"]: p for p in info["parameters"]}
    assert by_name["limit"]["type"] == "integer" and by_name["limit"]["in"] == "query"
    assert by_name["tags"]["type"] == "array of string"
    assert by_name["X-Flag"]["in"] == "header" and by_name["session"]["in"] == "cookie"
    assert by_name["include[]"]["alias"] == "include"
    listing = describe(dynclient.Spec(spec_31()), "putRecord")
    version = next(p for p in listing["parameters"] if p["name"] == "version")
    assert version["required"] is False
    body = listing["request_body"]["content"]["application/json"]
    assert _field(body, "kind")["enum"] == ["record"]
    assert _field(body, "score")["nullable"] is True and _field(body, "score")["type"] == "number"
    assert _field(body, "name")["constraints"] == ["min length 1"]


RECURSIVE = {
    "openapi": "3.0.3", "info": {"title": "Tree", "version": "1"},
    "components": {"schemas": {"Node": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "parent": {"$ref": "#/components/schemas/Node"}}}}},
    "paths": {"/nodes": {"post": {"operationId": "createNode", "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
        "responses": {"204": {"description": "done"}}}}},
}


def test_recursive_schema_is_cut_at_the_cycle():
    info = describe(dynclient.Spec(RECURSIVE), "createNode", max_depth=10)
    media = info["request_body"]["content"]["application/json"]
    children = _field(media, "children")
    assert children["cycle"] is True and children["type"] == "array of Node"
    assert _field(media, "parent")["cycle"] is True
    text = render_text(info, 60)
    assert "recursive" in text and "* name" in text
    assert info["responses"]["204"] == {"description": "done", "content": {}}


def test_depth_limit_bounds_the_tree(schemas_2025):
    for depth in (1, 2, 3):
        media = describe(schemas_2025, "createChatCompletion", max_depth=depth,
                         example=False)["request_body"]["content"]["application/json"]
        deepest = max(d for _, d in _walk(media))
        assert deepest <= depth + 1, (depth, deepest)
        assert "example" not in media


@pytest.mark.parametrize("width", [40, 60, 100])
def test_text_is_wrapped_and_never_a_schema_dump(schemas_2025, width):
    text = render_text(describe(schemas_2025, "createChatCompletion"), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "$ref" not in text and "urn:dynclient" not in text and '{"type"' not in text
    assert "* messages" in text and "* model" in text and "(* required)" in text
    assert 'role="user"' in text
    example_at = lines.index("Example body")
    example = "\n".join(lines[example_at + 1:lines.index("Responses")]).strip()
    if width >= 60:   # short enough that no line of the example had to be wrapped
        assert json.loads(example)["messages"]


def test_unknown_operation_suggests(schemas_2025):
    with pytest.raises(dynclient.UnknownOperationError, match="createChatCompletion"):
        describe(schemas_2025, "createChatCompletions")


# --- client.describe and client.ops ----------------------------------------------------


def test_client_describe_is_the_same_data(spec_2025):
    client = dynclient.Client(str(spec_2025), base_url="http://127.0.0.1:9/v1")
    assert client.describe("getAssistant") == describe(client.schemas, "getAssistant")
    assert "148 operations" in repr(client)


def test_ops_namespace_docs_and_signatures(spec_2025):
    client = dynclient.Client(str(spec_2025), base_url="http://127.0.0.1:9/v1")
    names = dir(client.ops)
    assert names == sorted(client.spec.operations) and "createAssistant" in names
    fn = client.ops.listAssistants
    assert fn.__name__ == "listAssistants"
    sig = inspect.signature(fn)
    assert sig.parameters["limit"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["limit"].annotation is int and sig.parameters["limit"].default is None
    assert "body" not in sig.parameters and "headers" in sig.parameters
    get = inspect.signature(client.ops.getAssistant).parameters["assistant_id"]
    assert get.default is inspect.Parameter.empty
    create = inspect.signature(client.ops.createAssistant).parameters["body"]
    assert create.kind is inspect.Parameter.POSITIONAL_ONLY and create.default is inspect.Parameter.empty
    doc = client.ops.createAssistant.__doc__
    assert doc.startswith("createAssistant  POST /assistants") and "* model" in doc
    assert max(len(line) for line in doc.splitlines()) <= 78
    assert "Returns a list of assistants." in inspect.getdoc(fn)
    assert not hasattr(client.ops, "createAssistants")
    with pytest.raises(AttributeError, match="did you mean createAssistant"):
        client.ops.createAssistants


def test_ops_call_the_server_like_call(spec_2025):
    with serve(str(spec_2025)) as base_url:
        client = dynclient.Client(str(spec_2025), base_url=base_url, api_key="sk-test")
        created = client.ops.createAssistant({"model": "gpt-4o", "name": "Tutor"})
        assert created["name"] == "Tutor"
        assert client.ops.getAssistant(assistant_id=created["id"]) == client.call("getAssistant",
                                                                                   assistant_id=created["id"])
        page = client.ops.listAssistants(limit=1)
        assert page["data"][0]["id"] == created["id"]
        with pytest.raises(dynclient.RequestValidationError, match="/messages/0/role"):
            client.ops.createChatCompletion({"model": "gpt-4o", "messages": [{"role": "usr", "content": "x"}]})
        with pytest.raises(TypeError):
            client.ops.getAssistant(assistant_idx="a")


def test_ops_for_ids_that_are_not_identifiers_and_for_copies(spec_2025):
    client = dynclient.Client(str(spec_2025), base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    assert "admin-api-keys-list" in dir(client.ops)
    listing = client.ops["admin-api-keys-list"]
    assert listing.__name__ == "admin-api-keys-list" and "GET /organization/admin_api_keys" in listing.__doc__
    assert client.ops.createAssistant is client.ops.createAssistant   # looked up once, then kept
    with serve(str(spec_2025)) as base_url:
        moved = client.with_options(base_url=base_url).ops   # bound to the copy, not to the original
        created = moved.createAssistant({"model": "gpt-4o"}, headers={"X-Trace": "1"})
        assert created["object"] == "assistant"
        with pytest.raises(dynclient.APIConnectionError):
            client.ops.getAssistant(assistant_id=created["id"], timeout=2)   # the original's port 9: refused


def test_keywords_and_clashing_names_stay_reachable_through_params():
    document = spec_30()
    document["paths"]["/search"]["get"]["parameters"].append({"name": "from", "in": "query",
                                                               "schema": {"type": "string"}})
    client = dynclient.Client(document, base_url="http://127.0.0.1:9")
    sig = inspect.signature(client.ops.search)
    assert "from" not in sig.parameters and "include" in sig.parameters
    assert list(sig.parameters)[-4:] == ["params", "headers", "timeout", "content_type"]
    prepared = client.prepare("search", params={"from": "x", "timeout": "t"})
    assert "from=x" in prepared.url and "timeout=t" in prepared.url
