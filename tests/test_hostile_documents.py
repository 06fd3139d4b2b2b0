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


# --- issue 14: documents with the wrong structure, hostile patterns, deep values -------------

import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

from faultserver import json_reply  # noqa: E402

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def document() -> dict:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/x/{id}": {"post": {
                "operationId": "x", "tags": ["t"],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                "responses": copy.deepcopy(OK)}}},
            "components": {"schemas": {"A": {"type": "object"}},
                           "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
            "security": [{"k": []}]}


def put(path: list, value) -> dict:
    doc = document()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def deep_schema(levels: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return put(["components", "schemas", "A"], schema)


def ref_chain(length: int) -> dict:
    doc = document()
    schemas = doc["components"]["schemas"]
    for i in range(length):
        schemas[f"S{i}"] = {"$ref": f"#/components/schemas/S{i + 1}"}
    schemas[f"S{length}"] = {"type": "object"}
    schemas["A"] = {"$ref": "#/components/schemas/S0"}
    return doc


OP = ["paths", "/x/{id}", "post"]
WRONG = {   # name -> (a function making the document, the pointer the error must name, or None when it may be used as it is)
    "responses: 5": (lambda: put(OP + ["responses"], 5), "/responses"),
    "info: 5": (lambda: put(["info"], 5), "/info"),
    "components: 5": (lambda: put(["components"], 5), "/components"),
    "paths: 5": (lambda: put(["paths"], 5), "/paths"),
    "a path item that is a list": (lambda: put(["paths", "/x/{id}"], [1]), "/paths/~1x~1{id}"),
    "parameters: 5": (lambda: put(OP + ["parameters"], 5), "/parameters"),
    "a parameter that is a string": (lambda: put(OP + ["parameters"], ["id"]), "/parameters/0"),
    "requestBody: 5": (lambda: put(OP + ["requestBody"], 5), "/requestBody"),
    "content: 5": (lambda: put(OP + ["requestBody", "content"], 5), "/requestBody/content"),
    "a media type that is a number": (lambda: put(OP + ["requestBody", "content", "application/json"], 5),
                                      "/content/application~1json"),
    "schema: 5": (lambda: put(OP + ["requestBody", "content", "application/json", "schema"], 5), "/schema"),
    "securitySchemes: 5": (lambda: put(["components", "securitySchemes"], 5), "/components/securitySchemes"),
    "a security scheme that is a number": (lambda: put(["components", "securitySchemes", "k"], 5),
                                           "/components/securitySchemes/k"),
    "servers: 5": (lambda: put(["servers"], 5), "/servers"),
    "security: 5": (lambda: put(["security"], 5), "/security"),
    "a security requirement that is a number": (lambda: put(["security"], [5]), "/security"),
    "a response that is a number": (lambda: put(OP + ["responses", "200"], 5), "/responses/200"),
    "response content: 5": (lambda: put(OP + ["responses", "200", "content"], 5), "/responses/200/content"),
    "tags: 5": (lambda: put(OP + ["tags"], 5), "/tags"),
    "encoding: 5": (lambda: put(OP + ["requestBody", "content", "application/json", "encoding"], 5), "/encoding"),
    "style: 5": (lambda: put(OP + ["parameters"], [{"name": "id", "in": "path", "required": True, "style": 5}]), "/style"),
    "a 100,000-long $ref chain": (lambda: ref_chain(100_000), "/requestBody/content/application~1json/schema"),
    "a schema 900 deep": (lambda: deep_schema(900), "/requestBody/content/application~1json/schema"),
    "a schema 5,000 deep": (lambda: deep_schema(5000), "/requestBody/content/application~1json/schema"),
    "a header parameter named with CR LF": (lambda: put(OP + ["parameters"], [
        {"name": "id", "in": "path", "required": True}, {"name": "X-A\r\nX-B", "in": "header"}]), "/parameters/1"),
    "a header parameter named with a colon": (lambda: put(OP + ["parameters"], [
        {"name": "id", "in": "path", "required": True}, {"name": "X-A: 1", "in": "header"}]), "/parameters/1"),
    "an apiKey header named with CR LF": (lambda: put(["components", "securitySchemes", "k", "name"], "X-K\r\nEvil: 1"),
                                          "/components/securitySchemes/k/name"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_document_of_the_wrong_shape_is_a_document_error_naming_the_pointer(name, srv):
    make, pointer = WRONG[name]
    errors = []
    for step in ("load", "prepare", "call", "describe", "ops", "problems"):
        try:
            if step == "load":
                dynclient.Spec(make())
                continue
            client = dynclient.Client(make(), base_url=srv.url, credentials={"k": "secret-key-1"})
            if step == "prepare":
                client.prepare("x", {"a": 1}, id="1")
            elif step == "call":
                client.call("x", {"a": 1}, id="1")
            elif step == "describe":
                client.describe("x")
            elif step == "ops":
                client.ops.x.__doc__
            else:
                client.spec.problems
        except dynclient.DynclientError as exc:   # anything else fails the test by escaping
            errors.append(exc)
    assert errors, "a broken document was used as if it were whole"
    assert all(isinstance(e, dynclient.SpecError) for e in errors), [type(e).__name__ for e in errors]
    assert any(pointer in str(e) for e in errors), [str(e) for e in errors]
    assert srv.attempts == [], "a request was sent from a broken document"


def test_a_catastrophic_pattern_is_explained_as_fast_as_it_is_rejected():
    # Python's re takes for ever on ^(a+)+$ against 40 a's and a '!'; jsonschema-rs rejects it at once.
    code = textwrap.dedent('''
        import time, dynclient
        doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"post": {
            "operationId": "x", "requestBody": {"content": {"application/json": {"schema": {"type": "object",
            "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}}}},
            "responses": {"200": {"description": "ok"}}}}}}
        client = dynclient.Client(doc, base_url="http://127.0.0.1:9")
        started = time.perf_counter()
        try:
            client.prepare("x", {"name": "a" * 40 + "!"})
        except dynclient.RequestValidationError as exc:
            print(exc.pointer, "|", exc, "|", round(time.perf_counter() - started, 3))
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    pointer, message, seconds = done.stdout.strip().split(" | ")
    assert pointer == "/name" and "^(a+)+$" in message and float(seconds) < 1


def test_an_alias_bomb_under_the_value_limit_is_refused_at_load():
    # 1 KB: 7 levels of 7 aliases of a schema, 9.8 million values, under MAX_NODES; before, the first
    # prepare took 32 s and 5 GB expanding it (benchmarks/bench_hostile_documents.py).
    lines = ["openapi: 3.0.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n",
             "    s0: &s0 {type: object, properties: {a: {type: string}}}\n"]
    for level in range(1, 8):
        members = ", ".join(f"p{i}: *s{level - 1}" for i in range(7))
        lines.append(f"    s{level}: &s{level} {{type: object, properties: {{{members}}}}}\n")
    lines.append("paths: {}\n")
    with pytest.raises(SpecLoadError) as info:
        dynclient.loader.parse_bytes("".join(lines).encode(), "bomb.yaml")
    assert "alias bomb" in str(info.value) and "bomb.yaml" in str(info.value)


RECURSIVE = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
             "components": {"schemas": {"Node": {"type": "object", "properties": {
                 "child": {"$ref": "#/components/schemas/Node"}}}}},
             "paths": {"/tree": {"post": {"operationId": "tree", "requestBody": {"content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/Node"}}}}, "responses": {"200": {
                     "description": "ok", "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/Node"}}}}}}}}}


def nested(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"child": node}
    return node


def test_a_900_deep_answer_to_a_recursive_schema_is_a_typed_error(srv):
    client = dynclient.Client(RECURSIVE, base_url=srv.url, max_retries=0)
    srv.queue(json_reply(nested(900)))
    with pytest.raises(dynclient.ResponseValidationError) as info:
        client.call("tree", {})
    assert "nested too deeply" in str(info.value)
    srv.queue(json_reply(nested(20)))
    assert client.call("tree", {}) == nested(20)


def test_a_900_deep_request_body_for_a_recursive_schema_is_refused_before_sending(srv):
    client = dynclient.Client(RECURSIVE, base_url=srv.url)
    with pytest.raises(dynclient.RequestValidationError) as info:
        client.call("tree", nested(900))
    assert "nested too deeply" in str(info.value) and srv.attempts == []


# --- found after the first round (helper's review): every regex keyword, every server variable ----


@pytest.mark.parametrize("schema, value", [
    ({"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}}, {"a" * 40 + "!": "x", "aaa": "x"}),
    ({"type": "object", "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False},
     {"a" * 40 + "!": 1}),
])
def test_catastrophic_patterns_in_property_names_are_explained_fast(schema, value):
    code = textwrap.dedent(f'''
        import time, dynclient
        doc = {{"openapi": "3.0.3", "info": {{"title": "t", "version": "1"}}, "paths": {{"/x": {{"post": {{
            "operationId": "x", "requestBody": {{"content": {{"application/json": {{"schema": {schema!r}}}}}}},
            "responses": {{"200": {{"description": "ok"}}}}}}}}}}}}
        client = dynclient.Client(doc, base_url="http://127.0.0.1:9")
        started = time.perf_counter()
        try:
            client.prepare("x", {value!r})
        except dynclient.RequestValidationError as exc:
            print(round(time.perf_counter() - started, 3))
    ''')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and float(done.stdout.strip()) < 1, done.stderr[-500:]


def test_property_patterns_still_decide_as_before():
    schema = {"type": "object", "properties": {"id": {"type": "string"}},
              "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
    client = dynclient.Client(put(OP + ["requestBody", "content", "application/json", "schema"], schema),
                              base_url="http://127.0.0.1:9", credentials={"k": "secret-key-1"})
    client.prepare("x", {"id": "a", "x-count": 3}, id="1")
    for bad in ({"x-count": "three"}, {"other": 1}):
        with pytest.raises(dynclient.RequestValidationError):
            client.prepare("x", bad, id="1")


@pytest.mark.parametrize("make, pointer", [
    (lambda: put(["servers"], [{"url": "https://{v}.example", "variables": 5}]), "/servers/0/variables"),
    (lambda: put(["servers"], [{"url": "https://{v}.example", "variables": {"v": 5}}]), "/servers/0/variables/v"),
])
def test_server_variables_of_the_wrong_shape_name_their_pointer(make, pointer):
    with pytest.raises(dynclient.SpecError) as info:
        dynclient.Client(make())
    assert pointer in str(info.value)


def test_an_api_key_named_by_a_number_is_refused_where_it_is_used(srv):
    client = dynclient.Client(put(["components", "securitySchemes", "k", "name"], 5), base_url=srv.url,
                              credentials={"k": "secret-key-1"})
    with pytest.raises(dynclient.SpecError) as info:
        client.prepare("x", {}, id="1")
    assert "/components/securitySchemes/k/name" in str(info.value) and srv.attempts == []


def test_a_small_alias_bomb_is_refused_too():
    # 5 levels of 7 aliases, about 108,000 values from under 100 written: under the first floor
    # (250,000) a bomb this size loaded, and its first prepare cost hundreds of ms and MB; OpenAI's
    # documents expand at most 1.071 times.
    lines = ["openapi: 3.0.0\ninfo: {title: t, version: '1'}\ncomponents:\n  schemas:\n",
             "    s0: &s0 {type: object, properties: {a: {type: string}}}\n"]
    for level in range(1, 6):
        members = ", ".join(f"p{i}: *s{level - 1}" for i in range(7))
        lines.append(f"    s{level}: &s{level} {{type: object, properties: {{{members}}}}}\n")
    lines.append("paths: {}\n")
    with pytest.raises(SpecLoadError, match="alias bomb"):
        dynclient.loader.parse_bytes("".join(lines).encode(), "small-bomb.yaml")
