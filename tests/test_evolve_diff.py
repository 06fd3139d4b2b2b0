"""dynclient.evolve.diff: chosen corpus pairs asserted field by field, each rule family on small
documents, every consecutive corpus pair, and the `dynclient diff` command."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dynclient import Spec
from dynclient.evolve.diff import RULES, Change, diff

DYNCLIENT = str(Path(sys.executable).with_name("dynclient"))


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path) -> dict[str, Spec]:
    """Every corpus version by date, loaded once (the loader's cache makes this a json.load each)."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    return {v["date"]: Spec(corpus_dir / v["file"]) for v in manifest["versions"]}


def by_op(changes: list[Change], op_id: str, kind: str | None = None) -> list[Change]:
    return [c for c in changes if c.operation_id == op_id and (kind is None or c.kind == kind)]


# --- chosen corpus pairs -----------------------------------------------------------------


def test_key_id_renamed_to_api_key_id_between_2025_04_29_and_2026_08_21(corpus):
    changes = diff(corpus["2025-04-29"], corpus["2026-08-21"])
    for op_id, method in (("retrieve-project-api-key", "get"), ("delete-project-api-key", "delete")):
        renamed = by_op(changes, op_id, "parameter-renamed")
        assert renamed == [Change(
            kind="parameter-renamed", operation_id=op_id,
            location=f"/paths/~1organization~1projects~1{{project_id}}~1api_keys~1{{api_key_id}}/{method}/parameters/1",
            old="key_id", new="api_key_id", breaking=True,
            message=f"{op_id}: path parameter 'key_id' renamed to 'api_key_id'")]
        # A rename, not a removal plus an addition, and the path did not "move".
        kinds = {c.kind for c in by_op(changes, op_id)}
        assert not kinds & {"parameter-removed", "parameter-added", "parameter-added-required",
                            "operation-path-changed", "operation-removed", "operation-added"}
        # The location is where the new document declares the parameter.
        assert Spec.resolve_pointer(corpus["2026-08-21"], renamed[0].location)["name"] == "api_key_id"


def _raw_operation_ids(spec: Spec) -> set[str]:
    """operationIds straight from the document, not through the index diff uses."""
    return {op["operationId"] for item in spec.data["paths"].values() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}


def test_operations_added_between_2025_03_22_and_2025_04_29(corpus):
    old, new = corpus["2025-03-22"], corpus["2025-04-29"]
    changes = diff(old, new)
    added = {c.operation_id: c for c in changes if c.kind == "operation-added"}
    assert set(added) == {
        "listEvals", "createEval", "getEval", "updateEval", "deleteEval", "getEvalRuns", "createEvalRun",
        "getEvalRun", "cancelEvalRun", "deleteEvalRun", "getEvalRunOutputItems", "getEvalRunOutputItem",
        "listOrganizationCertificates", "uploadCertificate", "activateOrganizationCertificates",
        "deactivateOrganizationCertificates", "getCertificate", "modifyCertificate", "deleteCertificate",
        "listProjectCertificates", "activateProjectCertificates", "deactivateProjectCertificates"}
    assert set(added) == _raw_operation_ids(new) - _raw_operation_ids(old)
    assert not [c for c in changes if c.kind == "operation-removed"]
    get_eval_run = added["getEvalRun"]
    assert (get_eval_run.location, get_eval_run.old, get_eval_run.new, get_eval_run.breaking) == (
        "/paths/~1evals~1{eval_id}~1runs~1{run_id}/get", None, "GET /evals/{eval_id}/runs/{run_id}", False)
    assert get_eval_run.message == "operation getEvalRun added (GET /evals/{eval_id}/runs/{run_id})"


def test_chat_audio_voices_removed_2024_11_12_is_a_breaking_request_enum_change(corpus):
    """2024-10-17 -> 2024-11-12: createChatCompletion's audio.voice lost 'fable', 'nova' and 'onyx'."""
    old, new = corpus["2024-10-17"], corpus["2024-11-12"]
    pointer = "/components/schemas/CreateChatCompletionRequest/properties/audio/properties/voice/enum"
    removed = [c for c in by_op(diff(old, new), "createChatCompletion", "request-enum-value-removed")
               if c.location == pointer]
    assert sorted(c.old for c in removed) == ["fable", "nova", "onyx"]
    assert sorted(set(Spec.resolve_pointer(old, pointer)) - set(Spec.resolve_pointer(new, pointer))) == \
        ["fable", "nova", "onyx"]
    for c in removed:
        assert (c.new, c.breaking) == (None, True)
        assert c.message == f"createChatCompletion: request body (application/json) audio.voice: enum value {c.old!r} removed"


def test_service_tier_enum_in_responses_2025_04_29(corpus):
    """ServiceTier gained 'auto' and 'flex' and lost 'scale': in a response, an added value is
    breaking (a client switching over the values meets one it does not know), a removed one is not."""
    changes = by_op(diff(corpus["2025-03-22"], corpus["2025-04-29"]), "getChatCompletion")
    tier = [(c.kind, c.old, c.new, c.breaking) for c in changes if c.location == "/components/schemas/ServiceTier/enum"]
    assert sorted(tier, key=str) == sorted([("response-enum-value-added", None, "auto", True),
                                            ("response-enum-value-added", None, "flex", True),
                                            ("response-enum-value-removed", "scale", None, False)], key=str)


# --- rule families on small documents ---------------------------------------------------------

BASE = {
    "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
    "paths": {
        "/things/{thing_id}": {
            "post": {
                "operationId": "updateThing",
                "parameters": [{"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}}},
            },
            "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}}},
        },
    },
    "components": {"schemas": {
        "Thing": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 10},
            "kind": {"type": "string", "enum": ["x", "y"]},
            "size": {"type": "integer"},
            "note": {"type": "string", "nullable": True},
            "child": {"$ref": "#/components/schemas/Thing"},    # a cycle
            "tags": {"type": "array", "items": {"type": "string"}},
        }},
    }},
}


def changed(mutate) -> list[Change]:
    new = copy.deepcopy(BASE)
    mutate(new)
    return diff(Spec(copy.deepcopy(BASE)), Spec(new))


def summary(changes: list[Change]) -> set[tuple]:
    return {(c.operation_id, c.kind, c.breaking) for c in changes}


def thing(doc: dict) -> dict:
    return doc["components"]["schemas"]["Thing"]


def test_identical_documents_have_no_changes():
    assert changed(lambda d: None) == []


@pytest.mark.parametrize("mutate, expected", [
    # an enum value removed narrows: breaking in the request, harmless in the response
    (lambda d: thing(d)["properties"]["kind"].update(enum=["x"]),
     {("updateThing", "request-enum-value-removed", True), ("updateThing", "response-enum-value-removed", False)}),
    # added: harmless in the request, breaking in the response (widened)
    (lambda d: thing(d)["properties"]["kind"].update(enum=["x", "y", "z"]),
     {("updateThing", "request-enum-value-added", False), ("updateThing", "response-enum-value-added", True)}),
    (lambda d: thing(d)["required"].append("size"),
     {("updateThing", "request-required-property-added", True),
      ("updateThing", "response-required-property-added", False)}),
    (lambda d: thing(d).update(required=[]),
     {("updateThing", "request-required-property-removed", False),
      ("updateThing", "response-required-property-removed", True)}),
    (lambda d: thing(d).update(additionalProperties=False),
     {("updateThing", "request-additional-properties-closed", True),
      ("updateThing", "response-additional-properties-closed", False)}),
    (lambda d: thing(d)["properties"]["name"].update(maxLength=5),
     {("updateThing", "request-maxLength-narrowed", True), ("updateThing", "response-maxLength-narrowed", False)}),
    (lambda d: thing(d)["properties"]["size"].update(type="number"),
     {("updateThing", "request-type-widened", False), ("updateThing", "response-type-widened", True)}),
    (lambda d: thing(d)["properties"]["size"].update(type="string"),
     {("updateThing", "request-type-changed", True), ("updateThing", "response-type-changed", True)}),
    (lambda d: thing(d)["properties"]["note"].pop("nullable"),
     {("updateThing", "request-nullable-removed", True), ("updateThing", "response-nullable-removed", False)}),
    (lambda d: thing(d)["properties"]["tags"]["items"].update(enum=["t"]),
     {("updateThing", "request-enum-added", True), ("updateThing", "response-enum-added", False)}),
    (lambda d: thing(d)["properties"].pop("size"),
     {("updateThing", "request-property-removed", False), ("updateThing", "response-property-removed", False)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["post"]["parameters"][1].update(required=True),
     {("updateThing", "parameter-required", True)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["post"]["parameters"].append(
        {"name": "dry_run", "in": "query", "required": True, "schema": {"type": "boolean"}}),
     {("updateThing", "parameter-added-required", True)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["post"]["parameters"].pop(1),
     {("updateThing", "parameter-removed", True)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["delete"].update(deprecated=True),
     {("deleteThing", "operation-deprecated", False)}),
    (lambda d: d["paths"]["/things/{thing_id}"].pop("delete"),
     {("deleteThing", "operation-removed", True)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["post"]["responses"].pop("200"),
     {("updateThing", "response-success-status-removed", True)}),
    (lambda d: d["paths"]["/things/{thing_id}"]["post"]["requestBody"]["content"].update(
        {"multipart/form-data": {"schema": {"type": "object"}}}),
     {("updateThing", "request-media-type-added", False)}),
], ids=["enum-value-removed", "enum-value-added", "required-added", "required-removed", "closed",
        "maxLength", "integer-to-number", "integer-to-string", "nullable-removed", "enum-on-items",
        "property-removed", "param-required", "param-added-required", "param-removed", "deprecated",
        "op-removed", "status-removed", "media-added"])
def test_rule_family(mutate, expected):
    assert summary(changed(mutate)) == expected


def test_recursive_schema_change_is_reported_once_per_direction():
    """Thing.child is Thing: the walk stops at the cycle and reports the change where it is."""
    changes = changed(lambda d: thing(d)["properties"]["kind"].update(enum=["x"]))
    assert [(c.kind, c.location) for c in changes] == [
        ("request-enum-value-removed", "/components/schemas/Thing/properties/kind/enum"),
        ("response-enum-value-removed", "/components/schemas/Thing/properties/kind/enum")]


def test_nullable_rewritten_as_anyof_with_null_is_no_change():
    """3.0 `{type: string, nullable: true}` and 3.1 `anyOf: [{type: string}, {type: 'null'}]` mean the same."""
    def to_31(d):
        d["openapi"] = "3.1.0"
        thing(d)["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert changed(to_31) == []


def test_anyof_wrapper_compares_the_matching_branch():
    def wrap(d):
        thing(d)["properties"]["kind"] = {"anyOf": [{"type": "string", "enum": ["x"]}, {"type": "integer"}]}
    assert summary(changed(wrap)) == {
        ("updateThing", "request-type-widened", False), ("updateThing", "response-type-widened", True),
        ("updateThing", "request-enum-value-removed", True), ("updateThing", "response-enum-value-removed", False)}


def test_renamed_query_parameter_at_the_same_place():
    def rename(d):
        d["paths"]["/things/{thing_id}"]["post"]["parameters"][1]["name"] = "style"
    assert [(c.kind, c.old, c.new, c.breaking) for c in changed(rename)] == [
        ("parameter-renamed", "mode", "style", True)]


def test_path_variable_renamed():
    def rename(d):
        item = d["paths"].pop("/things/{thing_id}")
        item["post"]["parameters"][0]["name"] = "id"
        d["paths"]["/things/{id}"] = item
    changes = changed(rename)
    # deleteThing declares no parameter: the index takes {thing_id} as one, so it is renamed too.
    assert [(c.operation_id, c.kind, c.old, c.new) for c in changes] == [
        ("updateThing", "parameter-renamed", "thing_id", "id"), ("deleteThing", "parameter-renamed", "thing_id", "id")]


# --- the whole corpus ----------------------------------------------------------------------


def _resolves(spec: Spec, pointer: str) -> bool:
    try:
        spec.resolve_pointer(pointer)
        return True
    except Exception:
        return False


def test_every_consecutive_corpus_pair(corpus):
    """Runs over all 35 pairs; every change has a known kind, a boolean verdict, and a location
    that exists in the new document (or, for what was removed, the old one)."""
    dates = sorted(corpus)
    schema_families = ("request-", "response-")
    total = 0
    for before, after in zip(dates, dates[1:]):
        old, new = corpus[before], corpus[after]
        for c in diff(old, new):
            total += 1
            assert c.kind in RULES or c.kind.startswith(schema_families), c
            assert isinstance(c.breaking, bool)
            assert _resolves(new, c.location) or _resolves(old, c.location), (before, after, c)
            assert c.message.startswith(f"{c.operation_id}: ") or c.kind.startswith("operation-"), c
    assert total > 1000


# --- the command line -------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DYNCLIENT, *args], capture_output=True, text=True, timeout=120)


def test_cli_diff_json_and_fail_on_breaking(spec_2025, spec_2026):
    done = run("diff", str(spec_2025), str(spec_2026), "--format", "json", "--fail-on", "breaking")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["breaking_total"] == sum(c["breaking"] for c in report["changes"]) > 0
    assert {"kind": "parameter-renamed", "operation_id": "retrieve-project-api-key", "old": "key_id",
            "new": "api_key_id", "breaking": True}.items() <= next(
        c for c in report["changes"] if c["kind"] == "parameter-renamed"
        and c["operation_id"] == "retrieve-project-api-key").items()


def test_cli_diff_text_and_markdown(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(BASE))
    changed_doc = copy.deepcopy(BASE)
    thing(changed_doc)["properties"]["kind"]["enum"] = ["x"]
    new.write_text(yaml.safe_dump(changed_doc))
    text = run("diff", str(old), str(new))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"{old} -> {new}: 2 changes, 1 breaking"
    assert lines[1] == ("BREAKING  updateThing: request body (application/json) kind: enum value 'y' removed  "
                        "[request-enum-value-removed at /components/schemas/Thing/properties/kind/enum]")
    md = run("diff", str(old), str(new), "--format", "markdown", "--breaking-only")
    assert md.stdout.splitlines()[4:] == [
        "| breaking | operation | change | kind | location |", "|---|---|---|---|---|",
        "| **yes** | updateThing | updateThing: request body (application/json) kind: enum value 'y' removed | "
        "request-enum-value-removed | `/components/schemas/Thing/properties/kind/enum` |"]
    same = run("diff", str(old), str(old), "--fail-on", "any")
    assert (same.returncode, same.stdout.splitlines()) == (0, [f"{old} -> {old}: 0 changes, 0 breaking"])


def test_cli_diff_unreadable_document_is_a_usage_error(tmp_path):
    done = run("diff", str(tmp_path / "missing.yaml"), str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert "missing.yaml" in done.stderr and "no such file" in done.stderr


def test_cli_diff_applies_an_overlay_to_both_documents(tmp_path):
    old, new, overlay = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "pin-kind.yaml"
    old.write_text(json.dumps(BASE))
    narrowed = copy.deepcopy(BASE)
    thing(narrowed)["properties"]["kind"]["enum"] = ["x"]
    new.write_text(json.dumps(narrowed))
    overlay.write_text("overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n"
                       "  - target: $.components.schemas.Thing.properties.kind\n"
                       "    description: we only ever send x\n    update: {enum: [x]}\n")
    plain = run("diff", str(old), str(new), "--fail-on", "breaking")
    mended = run("diff", str(old), str(new), "--overlay", str(overlay), "--fail-on", "breaking")
    assert (plain.returncode, mended.returncode) == (1, 0)
    assert mended.stdout == f"{old} -> {new}: 0 changes, 0 breaking\n"
