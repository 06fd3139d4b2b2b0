"""Issue #20: schema defects mended at load time (dynclient.repair), and a schema that cannot be
mended failing its own operations only.

The four published documents the issue names are not in the corpus, so each defect class has a
small document written here after the issue's description: `type: float` in verbose transcription
responses (2024-10-01) and in usage/costs schemas (2024-12-04), `type: int64` on
createChatCompletion's `seed` (2025-03-22), `required` given a non-list value in
`CompletionUsage` (2024-01-18). Calls go to the mock server over a real socket.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dynclient
from dynclient import loader
from dynclient.evolve.lint import draft_overlay, lint
from dynclient.evolve.overlay import apply
from dynclient.repair import _find, apply_repairs, find_repairs
from dynclient.schema import SchemaSet, iter_schema_pointers, operation_compile_error
from dynclient.testing.mock import MockServer
from dynclient.testing.synth import synthesize

ROOT = Path(__file__).resolve().parents[1]


def dynclient_cli(*args: str) -> subprocess.CompletedProcess:
    """The command line of this checkout (`python -m` from the repository root imports the package
    here, where the installed console script may import another checkout's)."""
    return subprocess.run([sys.executable, "-m", "dynclient.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
KEY = "sk-test-repair"


def document(schemas: dict, paths: dict, openapi: str = "3.0.0") -> dict:
    return {"openapi": openapi, "info": {"title": "repair fixture", "version": "1"},
            "servers": [{"url": "https://api.example.test/v1"}],
            "security": [{"bearer": []}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
            "paths": paths}


def post(operation_id: str, request: str | None, response: str) -> dict:
    op: dict = {"operationId": operation_id, "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}}}}
    if request:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{request}"}}}}
    return {"post": op}


MODEL = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
WORD = {"type": "object", "required": ["word", "start", "end"],
        "properties": {"word": {"type": "string"}, "start": {"type": "float"}, "end": {"type": "float"}}}

# 2024-10-01: the verbose transcription and translation responses.
TRANSCRIPTION = document({
    "Model": MODEL,
    "Word": WORD,
    "VerboseTranscription": {"type": "object", "required": ["text", "duration"], "properties": {
        "text": {"type": "string"}, "duration": {"type": "float"},
        "words": {"type": "array", "items": {"$ref": "#/components/schemas/Word"}}}},
    "VerboseTranslation": {"type": "object", "required": ["text", "duration"], "properties": {
        "text": {"type": "string"}, "duration": {"type": "double"}}},
}, {"/audio/transcriptions": post("createTranscription", None, "VerboseTranscription"),
    "/audio/translations": post("createTranslation", None, "VerboseTranslation"),
    "/models": {"get": {"operationId": "listModels", "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}}}}})

# 2024-12-04: usage and costs schemas of the organization API.
COSTS = document({
    "CostsResult": {"type": "object", "required": ["object", "amount"], "properties": {
        "object": {"type": "string", "enum": ["organization.costs.result"]},
        "amount": {"type": "object", "properties": {"value": {"type": "float"}, "currency": {"type": "string"}}}}},
    "UsageQuery": {"type": "object", "properties": {"start_time": {"type": "integer"},
                                                    "threshold": {"type": ["float", "null"]}}},
}, {"/organization/costs": post("usageCosts", "UsageQuery", "CostsResult")}, openapi="3.1.0")

# 2025-03-22: createChatCompletion's `seed`.
CHAT = document({
    "CreateChatCompletionRequest": {"type": "object", "required": ["model", "messages"], "properties": {
        "model": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role", "content"],
                     "properties": {"role": {"type": "string", "enum": ["user", "system"]},
                                    "content": {"type": "string"}}}},
        "seed": {"type": "int64", "minimum": -9223372036854775808, "maximum": 9223372036854775807,
                 "nullable": True}}},
    "ChatCompletion": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    "Model": MODEL,
}, {"/chat/completions": post("createChatCompletion", "CreateChatCompletionRequest", "ChatCompletion"),
    "/models": {"get": {"operationId": "listModels", "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}}}}})

# 2024-01-18: `required` given a non-list value in CompletionUsage.
USAGE_PROPERTIES = {"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"}}


def usage_document(required) -> dict:
    return document({
        "CompletionUsage": {"type": "object", "required": required, "properties": copy.deepcopy(USAGE_PROPERTIES)},
        "Completion": {"type": "object", "required": ["id", "usage"], "properties": {
            "id": {"type": "string"}, "usage": {"$ref": "#/components/schemas/CompletionUsage"}}},
        "CompletionRequest": {"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"},
                              "max_tokens": {"type": "integer", "required": False}}},
    }, {"/completions": post("createCompletion", "CompletionRequest", "Completion")})


USAGE_STRING = usage_document("prompt_tokens completion_tokens total_tokens")
USAGE_MAPPING = usage_document({"prompt_tokens": True, "completion_tokens": True, "total_tokens": False})
USAGE_BOOLEANS = usage_document(None)
for name, prop in USAGE_BOOLEANS["components"]["schemas"]["CompletionUsage"]["properties"].items():
    prop["required"] = name != "total_tokens"
del USAGE_BOOLEANS["components"]["schemas"]["CompletionUsage"]["required"]

# Spelling: a type in capitals, and `required:` left empty.
SPELLING = document({
    "Note": {"type": "Object", "required": None, "properties": {"text": {"type": "String"},
                                                                "tags": {"type": "array", "items": {"type": "STRING"}}}},
}, {"/notes": post("createNote", "Note", "Note")}, openapi="3.1.0")

# 2023-11-28 to 2024-09-28: createRun's body requires `thread_id` (the path parameter) and forbids it.
RUN = document({
    "CreateRunRequest": {"type": "object", "additionalProperties": False, "required": ["thread_id", "assistant_id"],
                         "properties": {"assistant_id": {"type": "string"}, "model": {"type": "string"}}},
    "Run": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
}, {"/threads/{thread_id}/runs": {"post": {**post("createRun", "CreateRunRequest", "Run")["post"], "parameters": [
    {"name": "thread_id", "in": "path", "required": True, "schema": {"type": "string"}}]}}})

FIXTURES = {
    # name: (document, [(code, pointer, was)], {pointer: value after the repair})
    "float-2024-10-01": (TRANSCRIPTION, [
        ("type-alias", "/components/schemas/Word/properties/start/type", "float"),
        ("type-alias", "/components/schemas/Word/properties/end/type", "float"),
        ("type-alias", "/components/schemas/VerboseTranscription/properties/duration/type", "float"),
        ("type-alias", "/components/schemas/VerboseTranslation/properties/duration/type", "double")],
        {"/components/schemas/Word/properties/start": {"type": "number", "format": "float"}}),
    "float-2024-12-04": (COSTS, [
        ("type-alias", "/components/schemas/CostsResult/properties/amount/properties/value/type", "float"),
        ("type-alias", "/components/schemas/UsageQuery/properties/threshold/type", ["float", "null"])],
        {"/components/schemas/UsageQuery/properties/threshold": {"type": ["number", "null"], "format": "float"}}),
    "int64-2025-03-22": (CHAT, [
        ("type-alias", "/components/schemas/CreateChatCompletionRequest/properties/seed/type", "int64")],
        {"/components/schemas/CreateChatCompletionRequest/properties/seed/type": "integer",
         "/components/schemas/CreateChatCompletionRequest/properties/seed/format": "int64"}),
    "required-string-2024-01-18": (USAGE_STRING, [
        ("required-string", "/components/schemas/CompletionUsage/required",
         "prompt_tokens completion_tokens total_tokens"),
        ("required-boolean", "/components/schemas/CompletionRequest/properties/max_tokens/required", False)],
        {"/components/schemas/CompletionUsage/required": ["prompt_tokens", "completion_tokens", "total_tokens"]}),
    "required-mapping": (USAGE_MAPPING, [
        ("required-mapping", "/components/schemas/CompletionUsage/required",
         {"prompt_tokens": True, "completion_tokens": True, "total_tokens": False}),
        ("required-boolean", "/components/schemas/CompletionRequest/properties/max_tokens/required", False)],
        {"/components/schemas/CompletionUsage/required": ["prompt_tokens", "completion_tokens"]}),
    "required-boolean": (USAGE_BOOLEANS, [
        ("required-boolean", "/components/schemas/CompletionUsage/properties/prompt_tokens/required", True),
        ("required-boolean", "/components/schemas/CompletionUsage/properties/completion_tokens/required", True),
        ("required-boolean", "/components/schemas/CompletionUsage/properties/total_tokens/required", False),
        ("required-boolean", "/components/schemas/CompletionRequest/properties/max_tokens/required", False)],
        {"/components/schemas/CompletionUsage/required": ["prompt_tokens", "completion_tokens"],
         "/components/schemas/CompletionUsage/properties/total_tokens": {"type": "integer"}}),
    "type-case-and-required-null": (SPELLING, [
        ("type-case", "/components/schemas/Note/type", "Object"),
        ("required-null", "/components/schemas/Note/required", None),
        ("type-case", "/components/schemas/Note/properties/text/type", "String"),
        ("type-case", "/components/schemas/Note/properties/tags/items/type", "STRING")],
        {"/components/schemas/Note/properties/tags": {"type": "array", "items": {"type": "string"}}}),
    "required-unsatisfiable-2024-06-24": (RUN, [
        ("required-unsatisfiable", "/components/schemas/CreateRunRequest/required", ["thread_id", "assistant_id"])],
        {"/components/schemas/CreateRunRequest/required": ["assistant_id"]}),
}


def every_schema_compiles(spec: dynclient.Spec) -> list[str]:
    schemas, failures = SchemaSet(spec), []
    for pointer, direction in iter_schema_pointers(spec):
        try:
            schemas.compiled(pointer, direction)
        except dynclient.SchemaCompileError as exc:
            failures.append(str(exc))
    return failures


@pytest.mark.parametrize("name", FIXTURES)
def test_each_defect_class_is_repaired_and_recorded(name):
    published, expected, after = FIXTURES[name]
    before = copy.deepcopy(published)
    if name.startswith("required-unsatisfiable"):   # it compiles, but no body is valid
        body = {"thread_id": "t", "assistant_id": "a"}
        for candidate in (body, {"assistant_id": "a"}):
            with pytest.raises(dynclient.RequestValidationError):
                dynclient.Client(published, base_url="http://127.0.0.1:9", repair=False).prepare(
                    "createRun", candidate, thread_id="t")
    else:
        assert every_schema_compiles(dynclient.Spec(published, repair=False)), "the fixture must be broken"
    spec = dynclient.Spec(published)
    assert published == before, "the caller's dict is repaired on a copy"
    assert [(r.code, r.pointer, r.was) for r in spec.repairs] == expected
    for pointer, value in after.items():
        assert spec.resolve_pointer(pointer) == value, pointer
    assert every_schema_compiles(spec) == []
    assert [p.split(": repaired")[0] for p in spec.problems[:len(expected)]] == [e[1] for e in expected]
    assert all(": repaired " in p for p in spec.problems[:len(expected)])


@pytest.mark.parametrize("name", FIXTURES)
def test_a_generated_valid_request_of_every_operation_passes_prepare(name):
    client = dynclient.Client(FIXTURES[name][0], base_url="http://127.0.0.1:9", api_key=KEY)
    for op in client.spec:
        body = dynclient.core.call.MISSING
        if op.request_body:
            media = next(iter(op.request_body.content.values()))
            body = synthesize(client.schemas, media.pointer, "request")
        params = {p.name: "x1" for p in op.parameters if p.required}
        client.prepare(op.operation_id, body, params=params)


def test_create_chat_completion_with_a_seed_is_called_over_a_socket():
    """The issue's worst case: 2025-03-22's most used operation, uncallable as published."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 42}
    with MockServer(CHAT, require_auth=False).start() as server:
        client = dynclient.Client(CHAT, base_url=server.base_url, api_key=KEY)
        assert client.call("createChatCompletion", body)["id"]
        with pytest.raises(dynclient.RequestValidationError, match="seed"):
            client.call("createChatCompletion", {**body, "seed": 1.5})
        published = dynclient.Client(CHAT, base_url=server.base_url, api_key=KEY, repair=False)
        with pytest.raises(dynclient.SchemaCompileError) as caught:
            published.call("createChatCompletion", body)
        assert caught.value.operation_id == "createChatCompletion"
        assert caught.value.pointer == "/components/schemas/CreateChatCompletionRequest/properties/seed/type"
        assert str(caught.value).startswith("createChatCompletion: cannot be called: schema at /components/")
        assert published.call("listModels")["id"]   # its neighbour is called


UNMENDABLE = document({
    "Model": MODEL,
    "Odd": {"type": "object", "properties": {"size": {"type": "decimal128"}}},
}, {"/odd": post("createOdd", "Odd", "Model"),
    "/models": {"get": {"operationId": "listModels", "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}}}}}})


def test_an_operation_whose_schema_cannot_be_mended_fails_alone():
    spec = dynclient.Spec(UNMENDABLE)
    assert spec.repairs == ()   # `decimal128` means nothing certain: left as it is
    with MockServer(UNMENDABLE, require_auth=False).start() as server:
        client = dynclient.Client(spec, base_url=server.base_url, api_key=KEY)
        assert client.call("listModels")["id"]
        with pytest.raises(dynclient.SchemaCompileError) as caught:
            client.call("createOdd", {"size": 1})
        assert (caught.value.operation_id, caught.value.pointer) == (
            "createOdd", "/components/schemas/Odd/properties/size/type")
        assert "createOdd" in str(caught.value) and "decimal128" in str(caught.value)
        assert client.call("listModels")["id"]   # still fine after the failure
    error = operation_compile_error(SchemaSet(spec), spec["createOdd"])
    assert error.operation_id == "createOdd"
    assert operation_compile_error(SchemaSet(spec), spec["listModels"]) is None


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_cold_and_warm_loads_report_the_same_repairs_once(tmp_path, monkeypatch, caplog):
    path, cache = write(tmp_path / "chat.yaml", TRANSCRIPTION), tmp_path / "cache"
    cold = dynclient.load(str(path), cache=cache)
    parsed = []
    real_parse = loader._parse
    monkeypatch.setattr(loader, "_parse", lambda *a: parsed.append(a) or real_parse(*a))
    warm = dynclient.load(str(path), cache=cache)
    assert parsed == [], "the warm load read the cache"
    assert warm.repairs == cold.repairs and len(cold.repairs) == 4
    assert warm.data == cold.data and warm.data["components"]["schemas"]["Word"]["properties"]["end"] == {
        "type": "number", "format": "float"}
    published = dynclient.load(str(path), cache=cache, repair=False)   # its own cache entry
    assert published.repairs == () and published.data == TRANSCRIPTION
    again = dynclient.load(str(path), cache=cache)
    assert again.repairs == cold.repairs and again.data == cold.data
    # The repaired document needs nothing more; the cache entry is deterministic.
    assert find_repairs(warm.data) == []
    with caplog.at_level(logging.WARNING, logger="dynclient"):
        for _ in range(3):
            dynclient.Spec(str(path), cache=cache)
    warnings = [r for r in caplog.records if "repaired at load" in r.getMessage()]
    assert len(warnings) == 1 and "/components/schemas/Word/properties/start/type" in warnings[0].getMessage()


def test_a_new_repair_version_is_not_hidden_by_an_old_cache_entry(tmp_path, monkeypatch):
    path, cache = write(tmp_path / "usage.yaml", USAGE_MAPPING), tmp_path / "cache"
    dynclient.load(str(path), cache=cache)
    parsed = []
    real_parse = loader._parse
    monkeypatch.setattr(loader, "_parse", lambda *a: parsed.append(a) or real_parse(*a))
    monkeypatch.setattr(loader, "REPAIR_VERSION", loader.REPAIR_VERSION + 1)
    assert len(dynclient.load(str(path), cache=cache).repairs) == 2 and len(parsed) == 1


def test_the_same_bytes_repair_to_the_same_cache_entry(tmp_path):
    path = write(tmp_path / "costs.yaml", COSTS)
    for cache in ("a", "b"):
        dynclient.load(str(path), cache=tmp_path / cache)
    [a], [b] = ((tmp_path / c / "docs").iterdir() for c in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()


def test_lint_lists_the_repairs_and_drafts_an_overlay_that_pins_them(tmp_path):
    path = write(tmp_path / "usage.yaml", USAGE_BOOLEANS)
    draft = tmp_path / "pin.yaml"
    done = dynclient_cli("lint", str(path), "--no-examples", "--overlay-out", str(draft))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{path}: 4 findings, 4 mendable by an overlay"
    assert any(line.startswith("required-boolean") and "/CompletionUsage/properties/prompt_tokens/required" in line
               for line in lines)
    overlay = yaml.safe_load(draft.read_text())
    # The pinned fix, applied to the published document with the repair pass off, is the repair.
    pinned = copy.deepcopy(USAGE_BOOLEANS)
    apply(pinned, overlay)
    assert pinned == dynclient.Spec(USAGE_BOOLEANS).data
    apply(pinned, overlay)   # twice: nothing more changes
    assert pinned == dynclient.Spec(USAGE_BOOLEANS).data
    assert every_schema_compiles(dynclient.Spec(pinned, repair=False)) == []
    again = dynclient_cli("lint", str(path), "--no-examples", "--overlay", str(draft))
    assert (again.returncode, again.stdout) == (0, f"{path}: 0 findings, 0 mendable by an overlay\n")


def test_lint_reports_what_cannot_be_mended_with_the_operations_it_breaks():
    findings = lint(dynclient.Spec(UNMENDABLE, repair=False))
    assert [(f.code, f.pointer, bool(f.actions)) for f in findings] == [
        ("schema-does-not-compile", "/components/schemas/Odd/properties/size/type", False)]
    assert "1 operation cannot be called: createOdd" in findings[0].message
    for name in ("float-2024-10-01", "int64-2025-03-22"):
        published = FIXTURES[name][0]
        overlay = draft_overlay(dynclient.Spec(published, repair=False), name)
        mended = copy.deepcopy(published)
        apply(mended, overlay)
        assert lint(dynclient.Spec(mended, repair=False), check_examples=False) == []


def test_lint_a_directory_and_ops_mark_what_cannot_be_called(tmp_path):
    survey = tmp_path / "versions"
    survey.mkdir()
    for name, (data, _, _) in FIXTURES.items():
        write(survey / f"{name}.yaml", data)
    write(survey / "unmendable.yaml", UNMENDABLE)
    (survey / "broken.yaml").write_text("openapi: 3.0.0\npaths: {a: [\n")
    done = dynclient_cli("lint", str(survey))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    by_file = {line.split()[0]: line for line in lines if line[:1] != " "}
    assert "  unreadable: " in by_file["broken.yaml"] and "broken.yaml:3:1: " in by_file["broken.yaml"]
    assert by_file["int64-2025-03-22.yaml"].split() == ["int64-2025-03-22.yaml", "2", "operations", "1",
                                                         "repaired", "(type-alias)", "0", "broken"]
    assert by_file["unmendable.yaml"].split()[1:] == ["2", "operations", "0", "repaired", "1", "broken"]
    assert any("createOdd: cannot be called" in line for line in lines)
    assert lines[-1] == "10 documents: 9 readable, 13 operations, 20 repairs, 1 operations still broken"
    as_json = json.loads(dynclient_cli("lint", str(survey), "--format", "json").stdout)
    assert as_json["totals"] == {"unreadable": 1, "operations": 13, "repairs": 20, "broken": 1}

    ops = dynclient_cli("ops", str(survey / "unmendable.yaml"))
    assert ops.returncode == 0, ops.stderr
    [odd] = [line for line in ops.stdout.splitlines() if line.startswith("createOdd")]
    assert "[uncallable: /components/schemas/Odd/properties/size/type]" in odd
    [models] = [line for line in ops.stdout.splitlines() if line.startswith("listModels")]
    assert "uncallable" not in models
    listed = dynclient_cli("ops", str(survey / "unmendable.yaml"), "--json").stdout
    rows = [json.loads(line) for line in listed.splitlines()]
    assert {r["operation_id"]: r["uncallable"] for r in rows} == {
        "createOdd": {"pointer": "/components/schemas/Odd/properties/size/type",
                      "reason": "unknown type 'decimal128'; expected one of ['array', 'boolean', 'integer', "
                                "'null', 'number', 'object', 'string']"},
        "listModels": None}


def test_names_that_are_keywords_elsewhere_are_still_walked():
    """A component called `example`, a property called `default`: names, not values to skip."""
    data = document({"example": {"type": "int64"}, "A": {"type": "object", "properties": {
        "default": {"type": "float"}, "enum": {"type": "object", "required": "x", "properties": {"x": MODEL}}}}},
        {})
    data["components"]["schemas"]["A"]["example"] = {"type": "float"}   # a value: left alone
    assert [r.pointer for r in find_repairs(data)] == [
        "/components/schemas/example/type", "/components/schemas/A/properties/default/type",
        "/components/schemas/A/properties/enum/required"]


def test_repair_false_keeps_the_document_as_published():
    spec = dynclient.Spec(CHAT, repair=False)
    assert spec.repairs == () and spec.data is CHAT and spec.problems == []
    assert [r.code for r in find_repairs(spec.data)] == ["type-alias"]


# --- the property: idempotent, and a schema that compiles is never changed -------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

TYPE_NAMES = st.sampled_from(["string", "number", "integer", "boolean", "array", "object", "null",
                              "float", "double", "int", "int32", "int64", "long", "bool", "file", "String",
                              "Integer", "decimal128", "text"])
REQUIRED = st.one_of(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3), st.booleans(), st.none(),
                     st.sampled_from(["a", "a b", "a, c", "zzz"]),
                     st.dictionaries(st.sampled_from(["a", "b"]), st.booleans(), min_size=1, max_size=2),
                     st.just(7))


def schemas(depth: int = 2):
    leaf = st.fixed_dictionaries({}, optional={"type": st.one_of(TYPE_NAMES, st.lists(TYPE_NAMES, min_size=1,
                                                                                        max_size=2)),
                                               "format": st.just("custom"), "required": REQUIRED,
                                               "nullable": st.booleans(), "example": st.just({"type": "float"})})
    if depth == 0:
        return leaf
    child = schemas(depth - 1)
    return st.one_of(leaf, st.fixed_dictionaries({}, optional={
        "type": TYPE_NAMES, "required": REQUIRED, "additionalProperties": st.booleans(),
        "properties": st.dictionaries(st.sampled_from(["a", "b", "c", "default"]), child, max_size=3),
        "items": child, "allOf": st.lists(child, min_size=1, max_size=2),
        "$ref": st.just("#/components/schemas/Target")}))


def one_schema_document(schema: dict, openapi: str) -> dict:
    return {"openapi": openapi, "info": {"title": "p", "version": "1"}, "paths": {},
            "components": {"schemas": {"Target": {"type": "string"}, "S": schema}}}


def compiles(data: dict) -> bool:
    spec = dynclient.Spec(data, repair=False)
    try:
        SchemaSet(spec, fast=False).translated("/components/schemas/S", "request")
        SchemaSet(spec, fast=False).translated("/components/schemas/S", "response")
        return True
    except dynclient.SchemaCompileError:
        return False


@settings(max_examples=300, deadline=None)
@given(schemas(), st.sampled_from(["3.0.3", "3.1.0"]))
def test_repair_is_idempotent_and_never_changes_a_schema_that_compiles(schema, openapi):
    data = one_schema_document(schema, openapi)
    original = copy.deepcopy(data)
    repairs = find_repairs(data)
    assert data == original, "finding repairs reads only"
    assert repairs == _find(data), "the quick first pass never hides a repair from the exact walk"
    if compiles(data):
        # A schema that compiles is left as it is, unless no value can satisfy it: an object schema
        # that forbids additional properties yet requires one it does not declare.
        for repair in repairs:
            assert repair.code == "required-unsatisfiable", repair
            node = data["components"]["schemas"]["S"]
            for token in repair.pointer.split("/")[4:-1]:
                node = node[token]
            assert node["type"] == "object" and node["additionalProperties"] is False
            assert any(name not in node["properties"] for name in repair.was)
    once = copy.deepcopy(data)
    apply_repairs(once, repairs)
    assert find_repairs(once) == [], "a repaired document needs no further repair"
    twice = copy.deepcopy(once)
    apply_repairs(twice, repairs)
    assert twice == once, "applying the same repairs again changes nothing"
    assert dynclient.Spec(once, repair=True).repairs == ()
