"""Documents that try to hurt their reader: each fails fast with a clear error (figures in SECURITY.md).

Alias bombs, alias cycles and object tags are covered in test_loader.py; here:
reference cycles that never reach a value, references that point outside the
document, and documents larger than the reader accepts.
"""

from __future__ import annotations

import copy

import pytest

import dynclient
from dynclient import SchemaCompileError, SpecLoadError
from dynclient.loader import MAX_DOCUMENT_BYTES

from httpserver import Reply

BASE = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {"operationId": "x", "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/A"}}}}, "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {}}}


def with_schemas(**schemas) -> dict:
    doc = copy.deepcopy(BASE)
    doc["components"]["schemas"] = schemas
    return doc


@pytest.mark.parametrize("schemas, through", [
    ({"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}, "B"),
    ({"A": {"allOf": [{"$ref": "#/components/schemas/A"}]}}, "allOf"),
    ({"A": {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/C"}]},
      "C": {"oneOf": [{"not": {"$ref": "#/components/schemas/A"}}]}}, "not"),
])
def test_a_reference_cycle_that_never_reaches_a_value_is_a_compile_error(schemas, through):
    client = dynclient.Client(with_schemas(**schemas), base_url="http://127.0.0.1:9")
    with pytest.raises(SchemaCompileError) as info:
        client.prepare("x", {"a": 1})
    assert "reference cycle" in str(info.value) and through in str(info.value)


def test_recursion_through_properties_is_fine():
    node = {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/A"},
                                             "alt": {"anyOf": [{"$ref": "#/components/schemas/A"},
                                                               {"type": "null"}]}}}
    client = dynclient.Client(with_schemas(A=node), base_url="http://127.0.0.1:9")
    client.prepare("x", {"child": {"child": {"alt": None}}})
    with pytest.raises(dynclient.RequestValidationError) as info:
        client.prepare("x", {"child": {"child": 5}})
    assert info.value.pointer == "/child/child"


@pytest.mark.parametrize("ref", ["other.yaml#/components/schemas/B", "file:///etc/passwd",
                                 "http://127.0.0.1:{port}/evil.json#/B"])
def test_references_outside_the_document_are_never_followed(ref, server):
    server.reply(Reply(body={"type": "string"}))
    doc = with_schemas(A={"$ref": ref.format(port=server.port)})
    client = dynclient.Client(doc, base_url="http://127.0.0.1:9")
    with pytest.raises(SchemaCompileError) as info:
        client.prepare("x", {"a": 1})
    assert "only local references are followed" in str(info.value)
    assert server.connections == 0, "an external reference was fetched"


def test_a_document_larger_than_the_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\nx: '" + "y" * 5000 + "'\n")
    with pytest.raises(SpecLoadError) as info:
        dynclient.Spec(str(path), cache=False, max_bytes=1000)
    assert "larger than 1,000 bytes" in str(info.value) and str(path) in str(info.value)
    assert dynclient.Spec(str(path), cache=False, max_bytes=10_000).openapi == "3.0.0"
    assert MAX_DOCUMENT_BYTES >= 16 * 1024 * 1024, "the default must fit every real document with room"


def test_a_served_document_larger_than_the_limit_is_refused(server):
    text = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\nx: '" + "y" * 5000 + "'\n"
    server.reply(Reply(body=text.encode(), headers={"Content-Type": "application/yaml"}))
    with pytest.raises(SpecLoadError) as info:
        dynclient.Spec(server.url + "/openapi.yaml", cache=False, max_bytes=1000)
    assert "larger than 1,000 bytes" in str(info.value)
