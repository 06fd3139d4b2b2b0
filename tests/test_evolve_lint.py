"""dynclient.evolve.lint: each defect found with its JSON pointer, the draft overlay mending what
can be mended (lint again: those findings are gone), on a small document, on the corpus, and
through `dynclient lint`."""

from __future__ import annotations

import collections
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dynclient
from dynclient.evolve.lint import draft_overlay, lint
from dynclient.evolve.overlay import apply

DYNCLIENT = str(Path(sys.executable).with_name("dynclient"))
UNMENDABLE = {"unresolvable-ref", "invalid-example"}

DEFECTS = {
    "openapi": "3.1.0", "info": {"title": "defects", "version": "1"},
    "paths": {
        "/pets/{pet_id}": {
            "get": {   # no operationId, {pet_id} undeclared, a hop-by-hop header, an invalid example
                "responses": {"200": {"description": "ok",
                                      "headers": {"Transfer-Encoding": {"schema": {"type": "string"}},
                                                  "X-Rate": {"schema": {"type": "integer"}}},
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Pet"},
                                          "example": {"name": 7}}}}},
            },
        },
        "/owners/{owner_id}": {
            "get": {"operationId": "getOwner",
                    "parameters": [{"name": "ownerId", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Missing"}}}}}},
        },
    },
    "components": {"schemas": {
        "Pet": {"type": "object", "required": ["name", "name"],
                "properties": {"name": {"type": "string"},
                               "nickname": {"type": "string", "nullable": True},
                               "size": {"type": "string", "enum": ["s", "l"], "nullable": True},
                               "owner": {"$ref": "#/components/schemas/Owner", "nullable": True},
                               "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                               "required": {"type": "boolean"}}},   # a property named `required`
        "Owner": {"type": "object", "required": [], "properties": {"id": {"type": "string"}}},
        "Shape": {"oneOf": [{"$ref": "#/components/schemas/Circle"}, {"$ref": "#/components/schemas/Square"}],
                  "discriminator": {"propertyName": "kind"}},
        "Circle": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["circle"]}}},
        "Square": {"type": "object", "properties": {"kind": {"type": "string", "const": "square"}}},
        "Filter": {"$recursiveAnchor": True, "type": "object", "properties": {
            "filters": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"$recursiveRef": "#"}]}}}},
    }},
}

EXPECTED = [
    ("unresolvable-ref", "/paths/~1owners~1{owner_id}/get/responses/200/content/application~1json/schema/$ref"),
    ("hop-by-hop-header", "/paths/~1pets~1{pet_id}/get/responses/200/headers/Transfer-Encoding"),
    ("required-duplicate", "/components/schemas/Pet/required"),
    ("nullable-in-3.1", "/components/schemas/Pet/properties/nickname/nullable"),
    ("nullable-in-3.1", "/components/schemas/Pet/properties/size/nullable"),
    ("nullable-in-3.1", "/components/schemas/Pet/properties/owner/nullable"),
    ("boolean-exclusive-bound-in-3.1", "/components/schemas/Pet/properties/weight/exclusiveMinimum"),
    ("required-empty", "/components/schemas/Owner/required"),
    ("discriminator-without-mapping", "/components/schemas/Shape/discriminator"),
    ("recursive-ref", "/components/schemas/Filter/properties/filters/items/oneOf/1"),
    ("missing-operation-id", "/paths/~1pets~1{pet_id}/get"),
    ("undeclared-path-parameter", "/paths/~1pets~1{pet_id}/get"),
    ("undeclared-path-parameter", "/paths/~1owners~1{owner_id}/get"),
    ("invalid-example", "/paths/~1pets~1{pet_id}/get/responses/200/content/application~1json/example"),
]


def spec_of(doc: dict) -> dynclient.Spec:
    return dynclient.Spec(copy.deepcopy(doc), overlays=False)


def test_each_defect_is_found_at_its_pointer():
    findings = lint(spec_of(DEFECTS))
    assert sorted((f.code, f.pointer) for f in findings) == sorted(EXPECTED)
    by_code = {f.code: f for f in findings}
    assert by_code["invalid-example"].message == (
        "get_pets_pet_id: the example does not validate against its schema: /name: expected a string, got integer 7")
    assert {f.code for f in findings if not f.actions} == UNMENDABLE


def test_draft_overlay_mends_what_it_can():
    spec = spec_of(DEFECTS)
    overlay = draft_overlay(spec, "mend")
    assert all(a["description"] and ("update" in a) != ("remove" in a) for a in overlay["actions"])
    data = copy.deepcopy(DEFECTS)
    apply(data, overlay)
    left = lint(spec_of(data))
    assert {f.code for f in left} == UNMENDABLE
    pet = data["components"]["schemas"]["Pet"]
    assert pet["required"] == ["name"]
    assert pet["properties"]["nickname"] == {"type": ["string", "null"]}
    assert pet["properties"]["size"] == {"type": ["string", "null"], "enum": ["s", "l", None]}
    assert pet["properties"]["owner"] == {"anyOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "null"}]}
    assert pet["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}
    assert "required" not in data["components"]["schemas"]["Owner"]
    assert data["components"]["schemas"]["Shape"]["discriminator"]["mapping"] == {
        "circle": "#/components/schemas/Circle", "square": "#/components/schemas/Square"}
    assert data["components"]["schemas"]["Filter"]["properties"]["filters"]["items"]["oneOf"][1] == {
        "$ref": "#/components/schemas/Filter"}
    pets = data["paths"]["/pets/{pet_id}"]["get"]
    assert pets["operationId"] == "get_pets_pet_id" and "Transfer-Encoding" not in pets["responses"]["200"]["headers"]
    assert pets["parameters"] == [{"name": "pet_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    assert data["paths"]["/owners/{owner_id}"]["get"]["parameters"][0]["name"] == "owner_id"


def test_mended_document_validates_as_the_published_one_meant(server):
    """nullable, exclusiveMinimum and the discriminator: dynclient's verdicts with and without."""
    mended = copy.deepcopy(DEFECTS)
    apply(mended, draft_overlay(spec_of(DEFECTS), "mend"))
    mended["paths"]["/pets"] = {"post": {"operationId": "createPet", "requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}, "responses": {"200": {"description": "ok"}}}}
    for doc in (mended,):
        client = dynclient.Client(spec_of(doc), base_url=server.url)
        client.prepare("createPet", {"name": "rex", "nickname": None, "size": None, "owner": None, "weight": 0.5})
        for bad in ({"name": "rex", "weight": 0}, {"name": "rex", "size": "m"}, {"name": None}):
            with pytest.raises(dynclient.RequestValidationError):
                client.prepare("createPet", bad)


@pytest.mark.parametrize("name, before", [
    ("2026-08-21", {"nullable-in-3.1": 112, "discriminator-without-mapping": 105, "required-empty": 26,
                    "boolean-exclusive-bound-in-3.1": 7, "recursive-ref": 2, "required-duplicate": 1,
                    "hop-by-hop-header": 1}),
    ("2025-04-29", {"discriminator-without-mapping": 10, "undeclared-path-parameter": 6, "required-empty": 1,
                    "recursive-ref": 1, "hop-by-hop-header": 1}),
    # createSpeech's Transfer-Encoding; createRun and createThreadAndRun require thread_id, which their
    # bodies forbid (repaired at load: dynclient.repair)
    ("2024-06-24", {"undeclared-path-parameter": 3, "hop-by-hop-header": 1, "required-unsatisfiable": 2}),
])
def test_corpus_documents(corpus_dir, name, before):
    spec = dynclient.Spec(corpus_dir / f"openai-{name}.yaml")
    findings = lint(spec, check_examples=False)
    assert collections.Counter(f.code for f in findings) == before
    data = json.loads(json.dumps(spec.data))
    apply(data, draft_overlay(spec, name))
    left = lint(dynclient.Spec(data), check_examples=False)
    assert all(not f.actions for f in left), [f for f in left if f.actions]
    # What is left cannot be drafted: unions whose branches share a value or are inline.
    assert {f.code for f in left} <= {"discriminator-without-mapping"}
    assert all("no unique mapping" in f.message for f in left)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DYNCLIENT, *args], capture_output=True, text=True, timeout=120)


def test_cli_lint_and_overlay_out(tmp_path):
    source = tmp_path / "defects.yaml"
    source.write_text(yaml.safe_dump(DEFECTS))
    draft = tmp_path / "draft.yaml"
    done = run("lint", str(source), "--overlay-out", str(draft))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{source}: {len(EXPECTED)} findings, {len(EXPECTED) - 2} mendable by an overlay"
    assert "recursive-ref                    /components/schemas/Filter/properties/filters/items/oneOf/1  " \
           "$recursiveRef '#' is draft 2019-09, unknown to OpenAPI 3.0/3.1 validators" in lines
    assert lines[-1].startswith("wrote ") and lines[-1].endswith(f"actions to {draft}")
    assert yaml.safe_load(draft.read_text())["overlay"] == "1.0.0"
    again = run("lint", str(source), "--overlay", str(draft), "--format", "json")
    assert again.returncode == 1
    assert sorted(f["code"] for f in json.loads(again.stdout)["findings"]) == sorted(UNMENDABLE)
    clean = copy.deepcopy(DEFECTS)
    apply(clean, yaml.safe_load(draft.read_text()))
    del clean["paths"]["/owners/{owner_id}"]
    del clean["paths"]["/pets/{pet_id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    (tmp_path / "clean.json").write_text(json.dumps(clean))
    ok = run("lint", str(tmp_path / "clean.json"))
    assert (ok.returncode, ok.stdout) == (0, f"{tmp_path / 'clean.json'}: 0 findings, 0 mendable by an overlay\n")


def example_document(examples: dict, summary: str = "Get a widget") -> dict:
    return {
        "openapi": "3.0.3", "info": {"title": "widgets", "version": "1"},
        "paths": {"/widgets/{id}": {"get": {
            "operationId": "getWidget", "summary": summary,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                "examples": examples}}}}}}},
        "components": {"examples": {"good": {"value": {"id": "w1"}}, "bad": {"value": {"id": 7}}}},
    }


def test_examples_reached_through_a_ref_are_checked():
    """GitHub's documents keep most examples under components/examples; lint follows the $ref."""
    findings = lint(dynclient.Spec(example_document({"one": {"$ref": "#/components/examples/good"},
                                                     "two": {"$ref": "#/components/examples/bad"}})))
    bad = [f for f in findings if f.code == "invalid-example"]
    assert len(bad) == 1 and bad[0].pointer == "/components/examples/bad/value"
    assert "getWidget" in bad[0].message and "/id" in bad[0].message
    dangling = lint(dynclient.Spec(example_document({"gone": {"$ref": "#/components/examples/missing"}})))
    assert [f.pointer for f in dangling if f.code == "invalid-example"] == \
        ["/paths/~1widgets~1{id}/get/responses/200/content/application~1json/examples/gone"]


def test_ops_shows_html_summaries_as_text(tmp_path):
    path = tmp_path / "widgets.json"
    path.write_text(json.dumps(example_document({}, summary="<p>Returns a <code>widget</code> &amp; its parts.</p>")))
    shown = subprocess.run([sys.executable, "-m", "dynclient.cli", "ops", str(path)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "Returns a widget & its parts." in shown.stdout and "<code>" not in shown.stdout
