"""Ids the mock never created, and form fields named by the brackets convention, over real sockets.

- An id never seen is assumed: it stands for an object made elsewhere, drawn on first use from the
  schema of the collection's GET, with that id and the path's values, and kept, so that reads,
  updates and lists agree afterwards. A child under a parent never seen assumes the parent too.
- An id the mock created and deleted is a 404, as on the real API; an assumed id that is deleted is
  forgotten (a mock shared by many tests must not let one test's delete of a placeholder id break
  another's read of it).
- `strict_ids=True` (MockServer, serve, the pytest marker) and `dynclient mock --strict-ids` keep
  the 404 for every id never created.
- Form and multipart fields named `include[]` and `expires_after[anchor]` fill the properties the
  schema names `include` (an array) and `expires_after` (an object), typed by the schema.

The documents are small ones written here; the wire bodies are written by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
import urllib3

import dynclient
from dynclient.testing.mock import MockServer

pytest_plugins = ["pytester"]

SCRIPT = Path(sys.executable).with_name("dynclient")


def _list_of(item: str) -> dict:
    return {"type": "object", "required": ["object", "data", "has_more"],
            "properties": {"object": {"type": "string", "enum": ["list"]},
                           "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                           "first_id": {"type": ["string", "null"]}, "last_id": {"type": ["string", "null"]},
                           "has_more": {"type": "boolean"}}}


def _answer(schema: str | dict) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"200": {"description": "ok", "content": {"application/json": {"schema": ref}}}}


def _json_body(schema: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


FORM = {"type": "object", "required": ["purpose"],
        "properties": {"purpose": {"type": "string"},
                       "file": {"type": "string", "format": "binary"},
                       "include": {"type": "array", "items": {"type": "string", "enum": ["logprobs", "usage"]}},
                       "expires_after": {"type": "object", "required": ["anchor", "seconds"],
                                         "properties": {"anchor": {"type": "string", "enum": ["created_at"]},
                                                        "seconds": {"type": "integer", "minimum": 1}}}}}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Workshop", "version": "1.0.0"},
    "servers": [{"url": "https://workshop.example/v2"}],
    "security": [{"key": []}],
    "paths": {
        "/widgets": {
            "post": {"operationId": "createWidget", "requestBody": _json_body("WidgetRequest"),
                     "responses": _answer("Widget")},
            "get": {"operationId": "listWidgets",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": _answer(_list_of("Widget"))},
        },
        "/widgets/{widget_id}": {
            "parameters": [{"name": "widget_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"operationId": "getWidget", "responses": _answer("Widget")},
            "post": {"operationId": "modifyWidget", "requestBody": _json_body("WidgetRequest"),
                     "responses": _answer("Widget")},
            "delete": {"operationId": "deleteWidget", "responses": _answer("WidgetDeleted")},
        },
        "/widgets/{widget_id}/parts": {
            "parameters": [{"name": "widget_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "post": {"operationId": "createPart", "requestBody": _json_body("WidgetRequest"),
                     "responses": _answer("Part")},
            "get": {"operationId": "listParts", "responses": _answer(_list_of("Part"))},
        },
        "/widgets/{widget_id}/parts/{part_id}": {
            "parameters": [{"name": "widget_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "part_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"operationId": "getPart", "responses": _answer("Part")},
        },
        "/counters": {"post": {"operationId": "createCounter", "responses": _answer("Counter")}},
        "/counters/{counter_id}": {
            "parameters": [{"name": "counter_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"operationId": "getCounter", "responses": _answer("Counter")},
            "delete": {"operationId": "deleteCounter", "responses": _answer("CounterDeleted")}},
        # A create answering one schema, a list showing another (another tag, a field the create lacks).
        "/gadgets": {
            "post": {"operationId": "createGadget", "responses": _answer("Gadget")},
            "get": {"operationId": "listGadgets", "responses": _answer(_list_of("ListedGadget"))},
        },
        "/gadgets/{gadget_id}": {
            "get": {"operationId": "getGadget", "responses": _answer("Gadget"),
                    "parameters": [{"name": "gadget_id", "in": "path", "required": True,
                                    "schema": {"type": "string"}}]}},
        "/uploads": {"post": {"operationId": "upload", "responses": _answer("Upload"), "requestBody": {
            "required": True, "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/Form"}},
                                          "application/x-www-form-urlencoded": {
                                              "schema": {"$ref": "#/components/schemas/Form"}}}}}},
    },
    "components": {
        "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "WidgetRequest": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Widget": {"type": "object", "required": ["id", "name", "colour"],
                       "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                      "colour": {"type": "string", "enum": ["red", "blue"]},
                                      "object": {"type": "string", "enum": ["widget"]},   # optional type tag
                                      "note": {"type": "string"}}},
            "WidgetDeleted": {"type": "object", "required": ["id", "deleted"],
                              "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}}},
            "Part": {"type": "object", "required": ["id", "widget_id", "name"],
                     "properties": {"id": {"type": "string"}, "widget_id": {"type": "string"},
                                    "name": {"type": "string"}}},
            "Counter": {"type": "object", "required": ["id", "count"],
                        "properties": {"id": {"type": "integer"}, "count": {"type": "integer"}}},
            "CounterDeleted": {"type": "object", "required": ["id", "deleted"],
                               "properties": {"id": {"type": "integer"}, "deleted": {"type": "boolean"}}},
            "Gadget": {"type": "object", "required": ["id", "object"],
                       "properties": {"id": {"type": "string"}, "object": {"const": "gadget"}}},
            "ListedGadget": {"type": "object", "required": ["id", "object", "active"],
                             "properties": {"id": {"type": "string"}, "object": {"const": "listed.gadget"},
                                            "active": {"type": "boolean"}}},
            "Form": FORM,
            "Upload": {"type": "object", "required": ["id", "purpose"],
                       "properties": {"id": {"type": "string"}, "purpose": {"type": "string"},
                                      "include": FORM["properties"]["include"],
                                      "expires_after": FORM["properties"]["expires_after"]}},
        },
    },
}

AUTH = {"Authorization": "Bearer sk-test"}


def schema_of(name: str) -> dict:
    """A validator for a component of DOCUMENT (an independent check that an answer is schema-valid)."""
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                            "components": DOCUMENT["components"]})


@pytest.fixture
def served():
    servers = []

    def start(**options) -> tuple[MockServer, urllib3.PoolManager]:
        server = MockServer(DOCUMENT, **options).start()
        servers.append(server)
        return server, urllib3.PoolManager(retries=False, timeout=10, headers=AUTH)
    yield start
    for server in servers:
        server.stop()


def call(http: urllib3.PoolManager, server: MockServer, method: str, path: str, body=None) -> tuple[int, dict]:
    sent = http.request(method, server.base_url + path, **({"json": body} if body is not None else {}))
    return sent.status, json.loads(sent.data) if sent.data else None


# --- assumed ids -------------------------------------------------------------------------------------


def test_a_never_seen_id_is_assumed_and_then_kept(served):
    server, http = served()
    status, widget = call(http, server, "GET", "/widgets/wid_made_elsewhere")
    assert status == 200 and widget["id"] == "wid_made_elsewhere"
    assert schema_of("Widget").is_valid(widget) and widget["object"] == "widget"   # the optional tag too
    assert call(http, server, "GET", "/widgets/wid_made_elsewhere") == (200, widget)

    status, changed = call(http, server, "POST", "/widgets/wid_made_elsewhere", {"name": "renamed"})
    assert status == 200 and changed == {**widget, "name": "renamed"}
    assert call(http, server, "GET", "/widgets/wid_made_elsewhere") == (200, changed)
    listed = call(http, server, "GET", "/widgets")[1]["data"]
    assert listed == [changed]


def test_an_assumed_id_takes_the_type_its_path_parameter_declares(served):
    server, http = served()
    status, counter = call(http, server, "GET", "/counters/42")
    assert status == 200 and counter["id"] == 42 and schema_of("Counter").is_valid(counter)


def test_deleting_an_object_with_an_integer_id_answers_that_integer(served):
    # GitHub's pulls/delete-pending-review: the path's text "0" is not the id the answer's schema wants.
    server, http = served()
    for number in (0, 7):
        assert call(http, server, "GET", f"/counters/{number}")[1]["id"] == number
        assert call(http, server, "DELETE", f"/counters/{number}") == (200, {"id": number, "deleted": True})


def test_a_deleted_id_is_a_404_and_a_deleted_assumed_id_is_forgotten(served):
    server, http = served()
    made = call(http, server, "POST", "/widgets", {"name": "mine"})[1]
    assert call(http, server, "DELETE", f"/widgets/{made['id']}") == (200, {"id": made["id"], "deleted": True})
    for method in ("GET", "DELETE"):
        status, error = call(http, server, method, f"/widgets/{made['id']}")
        assert status == 404 and made["id"] in error["error"]["message"]
    assert call(http, server, "GET", f"/widgets/{made['id']}/parts")[0] == 404   # nor are its children

    # An assumed id: the delete answers, and a later read assumes it again (another test's placeholder).
    assert call(http, server, "DELETE", "/widgets/wid_placeholder") == (200, {"id": "wid_placeholder",
                                                                              "deleted": True})
    assert call(http, server, "DELETE", "/widgets/wid_placeholder")[0] == 200
    assert call(http, server, "GET", "/widgets/wid_placeholder")[0] == 200
    assert [w["id"] for w in call(http, server, "GET", "/widgets")[1]["data"]] == ["wid_placeholder"]


def test_a_child_under_a_never_seen_parent_assumes_the_parent(served):
    server, http = served()
    status, part = call(http, server, "POST", "/widgets/wid_parent/parts", {"name": "bolt"})
    assert status == 200 and part["widget_id"] == "wid_parent" and part["name"] == "bolt"
    assert call(http, server, "GET", "/widgets/wid_parent")[1]["id"] == "wid_parent"
    assert call(http, server, "GET", "/widgets/wid_parent/parts")[1]["data"] == [part]
    status, other = call(http, server, "GET", "/widgets/wid_other/parts/part_seen_nowhere")
    assert status == 200 and (other["id"], other["widget_id"]) == ("part_seen_nowhere", "wid_other")
    assert schema_of("Part").is_valid(other)
    assert sorted(server.app.store["/widgets"]) == ["wid_other", "wid_parent"]


def test_a_list_shows_a_kept_object_as_its_item_schema_says(served):
    server, http = served()
    made = call(http, server, "POST", "/gadgets", {})[1]
    assert made["object"] == "gadget" and "active" not in made
    status, page = call(http, server, "GET", "/gadgets")
    assert status == 200 and [g["id"] for g in page["data"]] == [made["id"]]
    assert page["data"][0]["object"] == "listed.gadget" and isinstance(page["data"][0]["active"], bool)
    assert call(http, server, "GET", f"/gadgets/{made['id']}") == (200, made)   # the kept object is unchanged


def test_strict_ids_keeps_the_404_for_ids_never_created(served):
    server, http = served(strict_ids=True)
    status, error = call(http, server, "GET", "/widgets/wid_never")
    assert status == 404 and error["error"]["code"] == "not_found" and error["error"]["param"] == "widget_id"
    assert call(http, server, "POST", "/widgets/wid_never/parts", {"name": "bolt"})[0] == 404
    assert call(http, server, "DELETE", "/widgets/wid_never")[0] == 404
    assert server.app.store.get("/widgets", {}) == {}
    made = call(http, server, "POST", "/widgets", {"name": "mine"})[1]
    assert call(http, server, "GET", f"/widgets/{made['id']}") == (200, made)


def test_the_mock_command_takes_strict_ids(tmp_path):
    document = tmp_path / "workshop.json"
    document.write_text(json.dumps(DOCUMENT))
    statuses = {}
    for flags in ((), ("--strict-ids",)):
        proc = subprocess.Popen([str(SCRIPT), "mock", str(document), "--port", "0", *flags],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base_url = proc.stdout.readline().rsplit(" at ", 1)[1].strip()
            statuses[flags] = urllib3.request("GET", base_url + "/widgets/wid_never", headers=AUTH,
                                              retries=False, timeout=10).status
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert statuses == {(): 200, ("--strict-ids",): 404}


def test_the_pytest_marker_takes_strict_ids(pytester, tmp_path):
    document = tmp_path / "workshop.json"
    document.write_text(json.dumps(DOCUMENT))
    pytester.makepyfile(test_inner=f'''
import pytest, dynclient

@pytest.mark.dynclient_spec({str(document)!r}, strict_ids=True)
def test_strict(dynclient_mock):
    with pytest.raises(dynclient.NotFoundError):
        dynclient_mock.client.call("getWidget", widget_id="wid_never")

@pytest.mark.dynclient_spec({str(document)!r})
def test_assumed(dynclient_mock):
    assert dynclient_mock.client.call("getWidget", widget_id="wid_never")["id"] == "wid_never"
''')
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(passed=2)


# --- the brackets convention for form fields ----------------------------------------------------------

BOUNDARY = "dynclient-test-boundary"


def multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                 f'Content-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n')
    return "".join(parts).encode()


def urlencoded(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in fields).encode()


ENCODINGS = {"multipart": (f"multipart/form-data; boundary={BOUNDARY}", multipart),
             "urlencoded": ("application/x-www-form-urlencoded", urlencoded)}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_bracket_named_form_fields_fill_the_properties_named_without_brackets(served, encoding):
    server, http = served()
    content_type, encode = ENCODINGS[encoding]
    fields = [("purpose", "batch"), ("include[]", "logprobs"), ("include[]", "usage"),
              ("expires_after[anchor]", "created_at"), ("expires_after[seconds]", "3600")]
    sent = http.request("POST", server.base_url + "/uploads", body=encode(fields),
                        headers={**AUTH, "Content-Type": content_type})
    assert sent.status == 200, sent.data
    answer = json.loads(sent.data)
    assert answer["include"] == ["logprobs", "usage"]
    assert answer["expires_after"] == {"anchor": "created_at", "seconds": 3600}   # an integer, as the schema says

    one = http.request("POST", server.base_url + "/uploads", headers={**AUTH, "Content-Type": content_type},
                       body=encode([("purpose", "batch"), ("include[]", "usage")]))
    assert json.loads(one.data)["include"] == ["usage"]   # one `include[]` is still an array

    wrong = http.request("POST", server.base_url + "/uploads", headers={**AUTH, "Content-Type": content_type},
                         body=encode([("purpose", "batch"), ("expires_after[anchor]", "updated_at"),
                                      ("expires_after[seconds]", "60")]))
    error = json.loads(wrong.data)["error"]
    assert wrong.status == 400 and error["param"] == "expires_after.anchor" and "updated_at" in error["message"]


def test_the_client_sends_what_the_mock_reads(served):
    """The same document through dynclient's own Client: a multipart body with an array and an object."""
    server, _ = served()
    client = dynclient.Client(DOCUMENT, base_url=server.base_url, api_key="sk-test")
    answer = client.call("upload", {"purpose": "batch", "file": ("a.txt", b"hello"), "include": ["usage"],
                                    "expires_after": {"anchor": "created_at", "seconds": 60}})
    assert answer["include"] == ["usage"] and answer["expires_after"] == {"anchor": "created_at", "seconds": 60}
