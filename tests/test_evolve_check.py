"""Client(record=...) and `dynclient check`: calls recorded against 2025-04-29 through the mock
server on a loopback port, checked against 2026-08-21, where `key_id` became `api_key_id`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dynclient
from dynclient.evolve.record import check_calls, read_calls
from dynclient.testing.mock import serve

DYNCLIENT = str(Path(sys.executable).with_name("dynclient"))
KEY = "sk-recorded-canary-5150"

# (operation, body or None, parameters); the two project-api-key calls use the renamed parameter.
CALLS = [
    ("createAssistant", {"model": "gpt-4o", "name": "Tutor", "metadata": {"team": "math"}}, {}),
    ("listAssistants", None, {"limit": 5, "order": "desc"}),
    ("list-project-api-keys", None, {"project_id": "proj_1", "limit": 2}),
    ("retrieve-project-api-key", None, {"project_id": "proj_1", "key_id": "key_1"}),
    ("createChatCompletion", {"model": "gpt-4o", "messages": [{"role": "user", "content": "2 + 2?"}]}, {}),
    ("delete-project-api-key", None, {"project_id": "proj_1", "key_id": "key_2"}),
    ("createEmbedding", {"model": "text-embedding-3-small", "input": "hello"}, {}),
]
BROKEN = {"retrieve-project-api-key", "delete-project-api-key"}


@pytest.fixture(scope="module")
def recorded(spec_2025: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("calls") / "calls.jsonl"
    with serve(spec_2025) as base_url:
        client = dynclient.Client(spec_2025, base_url=base_url, api_key=KEY, record=path)
        for op, body, params in CALLS:
            args = (body,) if body is not None else ()
            client.call(op, *args, **params, headers={"Authorization": f"Bearer {KEY}", "X-Trace": "t1"})
    return path


def test_record_writes_one_line_per_call_without_secrets(recorded: Path):
    text = recorded.read_text()
    assert KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["operation_id"] for line in lines] == [op for op, _, _ in CALLS]
    assert lines[3] == {"operation_id": "retrieve-project-api-key",
                        "arguments": {"project_id": "proj_1", "key_id": "key_1"},
                        "headers": {"Authorization": "<redacted>", "X-Trace": "t1"}}
    assert lines[0]["body"] == CALLS[0][1]


def test_check_against_the_same_document_passes_everything(recorded: Path, spec_2025: Path):
    results = check_calls(dynclient.Spec(spec_2025), read_calls(recorded))
    assert [(r.operation_id, r.ok) for r in results] == [(op, True) for op, _, _ in CALLS]


def test_check_against_2026_flags_exactly_the_renamed_path_parameter(recorded: Path, spec_2026: Path):
    results = check_calls(dynclient.Spec(spec_2026), read_calls(recorded))
    assert {r.operation_id for r in results if not r.ok} == BROKEN
    for r in results:
        if r.operation_id in BROKEN:
            assert (r.error, r.location, r.pointer) == ("ParameterError", "parameter", "key_id")
            assert r.reason == (f"{r.operation_id}: unknown parameter 'key_id'; did you mean 'api_key_id'? "
                                f"(valid parameters: api_key_id, project_id)")
        else:
            assert (r.ok, r.reason) == (True, "")


def test_check_reports_a_body_that_no_longer_validates(tmp_path: Path, spec_2025: Path):
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"operation_id": "createEmbedding", "body": {"model": "m", "input": 5}}) + "\n"
                     + json.dumps({"operation_id": "noSuchOperation", "arguments": {}}) + "\n")
    first, second = check_calls(dynclient.Spec(spec_2025), read_calls(calls))
    assert (first.ok, first.error, first.location) == (False, "RequestValidationError", "body")
    assert first.pointer == "/input"
    assert (second.ok, second.error, second.reason) == (False, "UnknownOperationError",
                                                        "operation 'noSuchOperation' is not in the document")


def test_record_masks_apikey_scheme_headers_and_parameters(tmp_path: Path, server):
    spec = {"openapi": "3.0.3", "info": {"title": "k", "version": "1"},
            "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
            "security": [{"key": []}],
            "paths": {"/ping": {"get": {"operationId": "ping", "parameters": [
                {"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}}}}}}
    path = tmp_path / "calls.jsonl"
    client = dynclient.Client(spec, base_url=server.url, api_key="canary-key-77", record=path,
                              validate_responses="off")
    client.call("ping", X_Api_Key="other-secret", q="visible", headers={"x-api-key": "third-secret"})
    line = json.loads(path.read_text())
    assert line == {"operation_id": "ping", "arguments": {"X_Api_Key": "<redacted>", "q": "visible"},
                    "headers": {"x-api-key": "<redacted>"}}
    assert (server.requests[0].path, server.requests[0].query) == ("/ping", "q=visible")   # the call was made


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DYNCLIENT, *args], capture_output=True, text=True, timeout=120)


def test_cli_check(recorded: Path, spec_2025: Path, spec_2026: Path):
    moved = run("check", str(spec_2026), "--calls", str(recorded))
    assert moved.returncode == 1, moved.stderr
    assert moved.stdout.splitlines() == [
        f"7 recorded calls against {spec_2026}: 5 pass, 2 fail",
        "FAIL  line 4: retrieve-project-api-key: unknown parameter 'key_id'; did you mean 'api_key_id'? "
        "(valid parameters: api_key_id, project_id)",
        "FAIL  line 6: delete-project-api-key: unknown parameter 'key_id'; did you mean 'api_key_id'? "
        "(valid parameters: api_key_id, project_id)"]
    same = run("check", str(spec_2025), "--calls", str(recorded), "--format", "json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["failed"] == 0


def test_record_masks_a_credential_wherever_it_appears_but_not_short_ones(tmp_path: Path, server):
    spec = {"openapi": "3.0.3", "info": {"title": "k", "version": "1"},
            "paths": {"/notes": {"post": {"operationId": "createNote", "requestBody": {"content": {
                "application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "ok"}}}}}}
    from dynclient.core.redact import Secret
    Secret(KEY), Secret("k")   # credentials this process holds; a short one masks nothing
    path = tmp_path / "calls.jsonl"
    client = dynclient.Client(spec, base_url=server.url, credentials={}, record=path, validate_responses="off")
    client.call("createNote", {"text": f"my key is {KEY}", "kind": "kept"})
    assert json.loads(path.read_text()) == {"operation_id": "createNote",
                                            "arguments": {}, "body": {"text": "<redacted>", "kind": "kept"}}


def test_recorded_files_are_kept_by_size_or_name_and_check_again(tmp_path: Path, spec_2025: Path, spec_2026: Path):
    import io
    path = tmp_path / "calls.jsonl"
    with serve(spec_2025) as base_url:
        client = dynclient.Client(spec_2025, base_url=base_url, api_key=KEY, record=path)
        client.call("createFile", {"file": ("data.jsonl", b'{"a": 1}\n'), "purpose": "fine-tune"})
        client.call("createFile", {"file": io.BytesIO(b"xyz"), "purpose": "batch"})
        client.call("createFile", {"file": b"raw", "purpose": "batch"})
    files = [json.loads(line)["body"]["file"] for line in path.read_text().splitlines()]
    assert files == [{"$file": "data.jsonl"}, {"$file": "<file>"}, {"$file": 3}]
    for spec in (spec_2025, spec_2026):
        assert [r.ok for r in check_calls(dynclient.Spec(spec), read_calls(path))] == [True, True, True]
