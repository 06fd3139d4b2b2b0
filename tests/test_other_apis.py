"""Documents of other APIs, called as their servers read them (issue #19, items 2-4).

The fixture is written here from the issue's descriptions, in the shapes Stripe and Kubernetes
publish (no third-party document is copied). The expected wire bytes are written by hand: the
client is checked against a recording server on 127.0.0.1, and the mock is given those same
bytes, so client and mock cannot agree on a wrong format between themselves.
"""

from __future__ import annotations

import json

import pytest

import dynclient
from dynclient.errors import RequestValidationError
from dynclient.testing.mock import MockApp, MockServer

from httpserver import Reply

FORM = "application/x-www-form-urlencoded"
OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
LINE_ITEM = {"type": "object", "additionalProperties": False, "required": ["price"],
             "properties": {"price": {"type": "string"}, "quantity": {"type": "integer"}}}
METADATA = {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "string", "enum": [""]}]}
DEEP = {"style": "deepObject", "explode": True}

DOCUMENT = {
    "openapi": "3.0.0", "info": {"title": "payments and clusters", "version": "1"},
    "servers": [{"url": "https://api.example.test/"}],
    "paths": {
        "/v1/checkout/sessions": {"post": {
            "operationId": "PostCheckoutSessions",
            "requestBody": {"required": True, "content": {FORM: {
                "schema": {"type": "object", "additionalProperties": False, "required": ["line_items"],
                           "properties": {"line_items": {"type": "array", "items": LINE_ITEM},
                                          "metadata": METADATA,
                                          "expand": {"type": "array", "items": {"type": "string"}},
                                          "mode": {"type": "string", "enum": ["payment", "subscription"]},
                                          "payment_method_types": {"type": "array", "items": {"type": "string"}}}},
                "encoding": {"line_items": DEEP, "metadata": DEEP, "expand": DEEP,
                             "payment_method_types": {"style": "form", "explode": False}}}}},
            "responses": OK}},
        "/v1/invoices/upcoming": {"get": {
            "operationId": "GetInvoicesUpcoming",
            "parameters": [
                {"name": "customer", "in": "query", "schema": {"type": "string"}},
                {"name": "subscription_items", "in": "query", "style": "deepObject", "explode": True,
                 "schema": {"type": "array", "items": LINE_ITEM}},
                {"name": "automatic_tax", "in": "query", "style": "deepObject", "explode": True,
                 "schema": {"type": "object", "additionalProperties": False,
                            "properties": {"enabled": {"type": "boolean"}, "limit": {"type": "integer"}}}}],
            "responses": OK}},
        "/v1/files": {"post": {
            "operationId": "PostFiles",
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "required": ["file", "purpose"], "additionalProperties": False,
                           "properties": {"file": {"type": "string", "format": "binary"},
                                          "purpose": {"type": "string"},
                                          "file_link_data": {"type": "object", "additionalProperties": False,
                                                             "properties": {"create": {"type": "boolean"},
                                                                            "expires_at": {"type": "integer"}}}}},
                "encoding": {"file_link_data": DEEP}}}},
            "responses": OK}},
        "/api/v1/namespaces/{namespace}/configmaps": {"post": {
            "operationId": "createCoreV1NamespacedConfigMap",
            "parameters": [{"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"*/*": {"schema": {
                "type": "object", "required": ["metadata"],
                "properties": {"metadata": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"}}},
                               "data": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
            "responses": {"201": {"description": "created", "content": {
                "application/json": {"schema": {"type": "object"}}}}}}},
    },
}

SESSION = {"line_items": [{"price": "price_1", "quantity": 2}], "metadata": {"order_id": "6735"},
           "expand": ["line_items", "customer"], "mode": "payment", "payment_method_types": ["card", "link"]}
SESSION_WIRE = (b"line_items[0][price]=price_1&line_items[0][quantity]=2&metadata[order_id]=6735"
                b"&expand[0]=line_items&expand[1]=customer&mode=payment&payment_method_types=card%2Clink")


@pytest.fixture
def client(server):
    server.reply(Reply(200, body={"id": "x"}))
    return dynclient.Client(DOCUMENT, base_url=server.url)


def mock_answer(document: dict, method: str, target: str, body: bytes = b"", content_type: str = FORM):
    app = MockApp(document, require_auth=False)
    headers = {"Content-Type": content_type} if body else {}
    reply = app.handle(method, target, headers, body)
    return reply.status, json.loads(reply.body) if reply.body else None


# --- item 2: form bodies follow the media type's `encoding` ------------------------------------


def test_a_form_body_is_sent_as_its_encoding_says(client, server):
    client.call("PostCheckoutSessions", SESSION)
    assert server.last.headers["content-type"] == FORM
    assert server.last.body == SESSION_WIRE


def test_the_mock_reads_a_hand_written_deep_object_form():
    assert mock_answer(DOCUMENT, "POST", "/v1/checkout/sessions", SESSION_WIRE)[0] == 200
    assert mock_answer(DOCUMENT, "POST", "/v1/checkout/sessions", b"line_items[0][price]=p&metadata=")[0] == 200


@pytest.mark.parametrize("wire,where", [
    (b"line_items[0][price]=price_1&line_items[0][quantity]=two", "line_items[0].quantity"),
    (b"line_items[0][quantity]=2", "line_items[0]"),                      # price missing
    (b"line_items[0][price]=p&line_items[0][colour]=red", "line_items[0]"),
    (b"line_items[0][price]=p&mode=refund", "mode"),
])
def test_the_mock_rejects_a_wrong_member_by_its_place(wire, where):
    status, answer = mock_answer(DOCUMENT, "POST", "/v1/checkout/sessions", wire)
    assert status == 400, answer
    assert answer["error"]["param"] == where


def test_json_text_is_not_a_deep_object():
    """What the client sent before: the mock must not take it either."""
    status, _ = mock_answer(DOCUMENT, "POST", "/v1/checkout/sessions",
                            b"line_items=%7B%22price%22%3A%22price_1%22%7D&expand=line_items")
    assert status == 400


def test_a_multipart_field_follows_its_encoding(server):
    server.reply(Reply(200, body={"id": "file_1"}))
    client = dynclient.Client(DOCUMENT, base_url=server.url)
    client.call("PostFiles", {"file": ("a.csv", b"a,b\n", "text/csv"), "purpose": "dispute_evidence",
                              "file_link_data": {"create": True, "expires_at": 1700000000}})
    parts = [(part.name, part.filename, part.data) for part in server.last.multipart()]
    assert parts == [("file", "a.csv", b"a,b\n"), ("purpose", None, b"dispute_evidence"),
                     ("file_link_data[create]", None, b"true"), ("file_link_data[expires_at]", None, b"1700000000")]


def test_the_mock_reads_a_hand_written_deep_object_multipart():
    def body(expires: bytes) -> bytes:
        return (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
                b"Content-Type: text/csv\r\n\r\na,b\n\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ndispute_evidence\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file_link_data[create]\"\r\n\r\ntrue\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file_link_data[expires_at]\"\r\n\r\n" + expires
                + b"\r\n--XyZ--\r\n")
    content_type = "multipart/form-data; boundary=XyZ"
    assert mock_answer(DOCUMENT, "POST", "/v1/files", body(b"1700000000"), content_type)[0] == 200
    status, answer = mock_answer(DOCUMENT, "POST", "/v1/files", body(b"soon"), content_type)
    assert status == 400 and answer["error"]["param"] == "file_link_data.expires_at"


# --- item 3: deepObject query parameters ---------------------------------------------------------


def test_a_deep_object_query_holding_an_array_of_objects(client, server):
    client.call("GetInvoicesUpcoming", customer="cus_1",
                subscription_items=[{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
                automatic_tax={"enabled": True})
    on_the_wire = server.last.query.replace("%5B", "[").replace("%5D", "]")   # urllib3 quotes brackets
    assert on_the_wire == ("customer=cus_1&subscription_items[0][price]=price_1"
                           "&subscription_items[0][quantity]=2&subscription_items[1][price]=price_2"
                           "&automatic_tax[enabled]=true")


def test_the_mock_types_deep_object_members():
    target = ("/v1/invoices/upcoming?subscription_items[0][price]=price_1&subscription_items[0][quantity]=2"
              "&automatic_tax[enabled]=true&automatic_tax[limit]=5")
    assert mock_answer(DOCUMENT, "GET", target)[0] == 200
    status, answer = mock_answer(DOCUMENT, "GET", "/v1/invoices/upcoming?subscription_items[0][quantity]=2x")
    assert status == 400 and "subscription_items" in answer["error"]["message"]
    assert mock_answer(DOCUMENT, "GET", "/v1/invoices/upcoming?automatic_tax[limit]=many")[0] == 400


# --- item 4: a `*/*` body with a JSON-shaped schema ----------------------------------------------


def test_a_wildcard_body_goes_as_json(server):
    server.reply(Reply(201, body={"kind": "ConfigMap"}))
    server.reply(Reply(201, body={"kind": "ConfigMap"}))
    client = dynclient.Client(DOCUMENT, base_url=server.url)
    client.call("createCoreV1NamespacedConfigMap", {"metadata": {"name": "settings"}, "data": {"a": "1"}},
                namespace="default")
    assert server.last.headers["content-type"] == "application/json"
    assert json.loads(server.last.body) == {"metadata": {"name": "settings"}, "data": {"a": "1"}}
    raw = b'{"metadata": {"name": "raw"}}'
    client.call("createCoreV1NamespacedConfigMap", raw, namespace="default")
    assert server.last.headers["content-type"] == "application/json" and server.last.body == raw
    with pytest.raises(RequestValidationError, match="metadata"):
        client.call("createCoreV1NamespacedConfigMap", {"data": {}}, namespace="default")
    with pytest.raises(RequestValidationError):
        client.call("createCoreV1NamespacedConfigMap", b'{"data": {}}', namespace="default")
    assert len(server.requests) == 2


def test_a_wildcard_body_through_the_mock():
    with MockServer(DOCUMENT, require_auth=False) as mock:
        client = dynclient.Client(DOCUMENT, base_url=mock.url)
        assert isinstance(client.call("createCoreV1NamespacedConfigMap", {"metadata": {"name": "m"}},
                                      namespace="default"), dict)
        assert isinstance(client.call("PostCheckoutSessions", SESSION), dict)
        assert isinstance(client.call("GetInvoicesUpcoming", subscription_items=[{"price": "p", "quantity": 3}]),
                          dict)


def test_strategies_generate_wildcard_bodies_the_client_sends():
    hypothesis = pytest.importorskip("hypothesis")
    from dynclient.testing import strategies as ds
    client = dynclient.Client(DOCUMENT, base_url="http://127.0.0.1:9")

    @hypothesis.settings(max_examples=25, deadline=None)
    @hypothesis.given(ds.request_body(client, "createCoreV1NamespacedConfigMap"))
    def sends(body):
        prepared = client.prepare("createCoreV1NamespacedConfigMap", body, namespace="n")
        assert prepared.headers["Content-Type"] == "application/json"

    sends()


# --- the mock answers as such a server would (issue #19, item 6, in part) ------------------------

STRIPE_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["type"],
    "properties": {"type": {"type": "string", "enum": ["api_error", "card_error", "invalid_request_error"]},
                   "message": {"type": "string"}, "param": {"type": "string"}, "code": {"type": "string"}}}}}


def with_errors(document: dict) -> dict:
    document = json.loads(json.dumps(document))
    for item in document["paths"].values():
        for operation in item.values():
            operation["responses"]["default"] = {"description": "error", "content": {
                "application/json": {"schema": STRIPE_ERROR}}}
    return document


def test_a_stripe_style_error_carries_its_message():
    app = MockApp(with_errors(DOCUMENT), require_auth=False)
    reply = app.handle("POST", "/v1/checkout/sessions", {"Content-Type": FORM},
                       b"line_items[0][price]=p&line_items[0][quantity]=many")
    answer = json.loads(reply.body)
    assert reply.status == 400 and answer["error"]["type"] == "invalid_request_error"
    assert "line_items/0/quantity" in answer["error"]["message"] and answer["error"]["param"] == "line_items[0].quantity"


def test_empty_arrays_and_objects_are_absent_from_a_form():
    """An empty array or deepObject has no pair on the wire; a body of nothing else is empty."""
    document = json.loads(json.dumps(DOCUMENT))
    schema = document["paths"]["/v1/checkout/sessions"]["post"]["requestBody"]["content"][FORM]["schema"]
    schema["required"] = ["line_items", "metadata"]
    schema["properties"]["metadata"] = {"type": "object", "additionalProperties": {"type": "string"}}
    app = MockApp(document, require_auth=False)
    assert app.handle("POST", "/v1/checkout/sessions", {"Content-Type": FORM}, b"").status == 200
    assert app.handle("POST", "/v1/checkout/sessions", {}, b"").status == 200
    with MockServer(document, require_auth=False) as mock:
        client = dynclient.Client(document, base_url=mock.url)
        assert isinstance(client.call("PostCheckoutSessions", {"line_items": [], "metadata": {}}), dict)


def test_a_default_that_misses_required_members_is_not_the_answer():
    document = json.loads(json.dumps(DOCUMENT))
    document["components"] = {"schemas": {"Tax": {"type": "object", "required": ["enabled"],
                                                   "properties": {"enabled": {"type": "boolean"}}}}}
    document["paths"]["/v1/invoices/upcoming"]["get"]["responses"] = {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"type": "object", "required": ["automatic_tax"], "properties": {
            "automatic_tax": {"allOf": [{"$ref": "#/components/schemas/Tax"}], "default": {}}}}}}}}
    status, answer = mock_answer(document, "GET", "/v1/invoices/upcoming")
    assert status == 200 and answer["automatic_tax"]["enabled"] in (True, False)


@pytest.mark.parametrize("rule,wire", [
    ({}, b"expand=a&expand=b"),
    ({"style": "form", "explode": False}, b"expand=a%2Cb"),
    ({"style": "spaceDelimited", "explode": False}, b"expand=a%20b"),
    ({"style": "pipeDelimited", "explode": False}, b"expand=a%7Cb"),
    ({"style": "deepObject", "explode": True}, b"expand[0]=a&expand[1]=b"),
])
def test_form_array_styles(rule, wire):
    document = json.loads(json.dumps(DOCUMENT))
    document["paths"]["/v1/checkout/sessions"]["post"]["requestBody"]["content"][FORM]["encoding"] = {"expand": rule}
    prepared = dynclient.Client(document).prepare("PostCheckoutSessions", {"line_items": [], "expand": ["a", "b"]})
    assert prepared.body == wire


def test_allow_reserved_never_lets_a_value_add_a_pair():
    document = json.loads(json.dumps(DOCUMENT))
    media = document["paths"]["/v1/checkout/sessions"]["post"]["requestBody"]["content"][FORM]
    media["schema"]["properties"]["mode"] = {"type": "string"}
    media["encoding"] = {"mode": {"allowReserved": True}}
    prepared = dynclient.Client(document).prepare("PostCheckoutSessions", {"line_items": [], "mode": "a/b?c&d=e+f"})
    assert prepared.body == b"mode=a/b?c%26d%3De%2Bf"


def collections_document() -> dict:
    def object_schema(id_schema: dict, required: list) -> dict:
        return {"type": "object", "required": required, "properties": {"id": id_schema, "name": {"type": "string"}}}

    def answer(schema: dict) -> dict:
        return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}

    def collection(path: str, name: str, schema: dict, parents: list) -> dict:
        body = {"content": {"application/json": {"schema": {"type": "object",
                                                            "properties": {"name": {"type": "string"}}}}}}
        item = f"{name}_id"
        return {
            path: {"post": {"operationId": f"create_{name}", "parameters": parents, "requestBody": body,
                            "responses": answer(schema)}},
            f"{path}/{{{item}}}": {"get": {"operationId": f"get_{name}", "responses": answer(schema), "parameters": [
                *parents, {"name": item, "in": "path", "required": True, "schema": {"type": "string"}}]}}}

    widget_id = {"name": "widget_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {"openapi": "3.0.3", "info": {"title": "collections", "version": "1"}, "paths": {
        **collection("/widgets", "widget", object_schema({"type": "integer"}, ["id", "name"]), []),
        **collection("/gadgets", "gadget", object_schema({"type": "string"}, ["name"]), []),
        **collection("/widgets/{widget_id}/parts", "part", object_schema({"type": "string"}, ["id"]), [widget_id])}}


def test_created_objects_can_be_found_whatever_their_id():
    document = collections_document()
    with MockServer(document, require_auth=False) as mock:
        client = dynclient.Client(document, base_url=mock.url)
        first, second = client.call("create_widget", {"name": "a"}), client.call("create_widget", {"name": "b"})
        assert isinstance(first["id"], int) and first["id"] != second["id"]
        assert client.call("get_widget", widget_id=str(second["id"]))["name"] == "b"
        gadget = client.call("create_gadget", {"name": "g"})   # `id` is not required: it gets one all the same
        assert client.call("get_gadget", gadget_id=gadget["id"])["name"] == "g"


def test_no_child_under_a_parent_that_does_not_exist():
    document = collections_document()
    with MockServer(document, require_auth=False, strict_ids=True) as mock:   # (else a parent never seen is assumed)
        client = dynclient.Client(document, base_url=mock.url)
        with pytest.raises(dynclient.errors.NotFoundError, match="999"):
            client.call("create_part", {"name": "p"}, widget_id="999")
        widget = client.call("create_widget", {"name": "w"})
        part = client.call("create_part", {"name": "p"}, widget_id=str(widget["id"]))
        assert client.call("get_part", widget_id=str(widget["id"]), part_id=part["id"])["id"] == part["id"]
