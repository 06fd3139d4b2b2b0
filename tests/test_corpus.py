"""Every version of OpenAI's document loads and indexes with the manifest's counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dynclient
from dynclient.spec import HTTP_METHODS, derived_operation_id

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"
ENTRIES = json.loads((CORPUS / "manifest.json").read_text())["versions"] if CORPUS.is_dir() else []


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_version_loads_and_indexes_with_manifest_counts(entry, corpus_dir, cache_dir):
    path = corpus_dir / entry["file"]
    spec = dynclient.Spec(path, sha256=entry["sha256"], cache=cache_dir)
    text = path.read_text(encoding="utf-8")
    # An independent count: operationId keys in the YAML text itself (none is missing one).
    in_text = len(re.findall(r"^ +operationId:", text, flags=re.M))
    assert len(spec.operations) == in_text
    if "operations" in entry:   # the manifest could not count the five duplicate-anchor files
        assert len(spec.operations) == entry["operations"]
        assert len(spec.data["components"]["schemas"]) == entry["schemas"]
        assert spec.openapi == entry["openapi"]
        assert spec.dialect == entry["openapi"][:3]
    # Besides path parameters, only the repair of createRun/createThreadAndRun's bodies (2023-11-28 to
    # 2024-09-28: `thread_id` required and forbidden by additionalProperties: false; dynclient.repair).
    assert all("path parameter" in problem or "template variable" in problem
               or "repaired required-unsatisfiable: ['thread_id', 'assistant_id'] -> ['assistant_id']" in problem
               for problem in spec.problems)
    assert [r.pointer for r in spec.repairs] in ([], ["/components/schemas/CreateRunRequest/required",
                                                      "/components/schemas/CreateThreadAndRunRequest/required"])
    for op in spec:
        assert op.method.lower() in HTTP_METHODS
        assert op.path in spec.data["paths"]
        declared = sorted(p.name for p in op.parameters if p.location == "path")
        assert declared == sorted(re.findall(r"\{([^}]+)\}", op.path)), op.operation_id


def test_renamed_path_parameter_between_versions(corpus_dir):
    """The index sees what a diff must catch: key_id became api_key_id."""
    old = dynclient.Spec(corpus_dir / "openai-2025-04-29.yaml")
    new = dynclient.Spec(corpus_dir / "openai-2026-08-21.yaml")
    old_names = {p.name for p in old["retrieve-project-api-key"].parameters if p.location == "path"}
    new_names = {p.name for p in new["retrieve-project-api-key"].parameters if p.location == "path"}
    assert old_names == {"project_id", "key_id"}
    assert new_names == {"project_id", "api_key_id"}


def test_path_parameters_the_document_forgot_or_misnamed_are_mended(spec_2025, server):
    """2025-04-29 declares `cert_id` for `{certificate_id}` and leaves `{certificate_id}` and
    `{project_id}` undeclared in five more operations; the calls still go to the right URL."""
    client = dynclient.Client(spec_2025, base_url=server.url + "/v1", validate_responses="off")
    problems = "\n".join(client.spec.problems)
    assert "'cert_id' is declared for template variable {certificate_id}" in problems
    assert "/paths/~1organization~1certificates~1{certificate_id}/delete: template variable {certificate_id}" in problems
    client.call("getCertificate", cert_id="cert_1")
    assert server.last.path == "/v1/organization/certificates/cert_1"
    client.call("getCertificate", certificate_id="cert_2")
    assert server.last.path == "/v1/organization/certificates/cert_2"
    client.call("deleteCertificate", certificate_id="cert/3")
    assert server.last.path == "/v1/organization/certificates/cert%2F3"
    with pytest.raises(dynclient.ParameterError, match="certificate_id"):
        client.call("deleteCertificate")
    assert server.connections == 1


def test_index_details_of_the_primary_document(spec_2025):
    spec = dynclient.Spec(spec_2025)
    op = spec["createAssistant"]
    assert (op.method, op.path) == ("POST", "/assistants")
    assert op.pointer == "/paths/~1assistants/post"
    assert list(op.request_body.content) == ["application/json"]
    assert op.request_body.required
    assert op.security == ({"ApiKeyAuth": []},)
    assert op.response_for(200).status == "200"
    assert op.response_for(500) is None
    listing = spec["listAssistants"]
    assert [(p.name, p.location, p.required) for p in listing.parameters] == [
        ("limit", "query", False), ("order", "query", False), ("after", "query", False), ("before", "query", False)]
    speech = spec["createSpeech"]
    assert "application/octet-stream" in speech.responses["200"].content
    deep = [p for op in spec for p in op.parameters if p.style == "deepObject"]
    assert len(deep) == 1 and deep[0].explode
    assert spec["listFineTuningCheckpointPermissions"].parameters  # query parameters indexed
    assert len([op for op in spec if op.request_body and "multipart/form-data" in op.request_body.content]) == 6


DOC = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/things/{thing_id}": {
            "parameters": [{"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}],
            "get": {"operationId": "getThing",
                    "parameters": [{"name": "verbose", "in": "query", "required": True,
                                    "schema": {"type": "integer"}}],
                    "responses": {"2XX": {"description": "ok"}, "default": {"description": "error"}}},
            "delete": {"responses": {"204": {"description": "gone"}}},
            "put": {"operationId": "getThing", "responses": {"200": {"description": "ok"}}},
        },
    },
}


def test_path_item_parameters_merge_and_operation_overrides():
    spec = dynclient.Spec(DOC)
    op = spec["getThing"]
    by_name = {p.name: p for p in op.parameters}
    assert set(by_name) == {"thing_id", "verbose"}
    assert by_name["verbose"].required and by_name["verbose"].schema == {"type": "integer"}


def test_missing_operation_id_gets_the_documented_derived_id():
    spec = dynclient.Spec(DOC)
    assert derived_operation_id("delete", "/things/{thing_id}") == "delete_things_thing_id"
    assert spec["delete_things_thing_id"].method == "DELETE"


def test_duplicate_operation_ids_are_reported_and_both_stay_callable():
    spec = dynclient.Spec(DOC)
    assert spec["getThing"].method == "GET"
    assert spec["put_things_thing_id"].method == "PUT"
    assert len(spec.problems) == 1 and "duplicate operationId 'getThing'" in spec.problems[0]


def test_status_ranges_and_default():
    op = dynclient.Spec(DOC)["getThing"]
    assert op.response_for(204).status == "2XX"
    assert op.response_for(404).status == "default"
