"""The mock's answer overrides, path values and actions on an item, over real sockets on 127.0.0.1.

- Path values: fields named after a path parameter take the path's value where
  the schema allows (a run created at /threads/T/runs has `thread_id` T).
- Overrides: a JSON object per operation, deep-merged into its answers before
  they are validated and stored; an override that breaks the answer is a 500
  naming the field, never an invalid body. Given to MockServer/serve, the
  pytest marker, `dynclient mock --override`, or per request in `Prefer`.
- Actions: a POST one segment below an item that answers with the item's
  schema (cancelRun) answers with the stored item and stores its answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

import dynclient
from dynclient.testing.mock import MockServer, serve
from dynclient.testing.overrides import deep_merge, parse_override

pytest_plugins = ["pytester"]

AUTH = {"Authorization": "Bearer sk-test"}
BETA = {"OpenAI-Beta": "assistants=v2"}
SCRIPT = Path(sys.executable).with_name("dynclient")


@pytest.fixture(scope="module")
def spec(spec_2025):
    return dynclient.Spec(spec_2025)


def client_for(server: MockServer) -> dynclient.Client:
    return dynclient.Client(server.app.spec, base_url=server.base_url, api_key="sk-test").with_options(headers=BETA)


def a_run(client: dynclient.Client, **run_body) -> tuple[str, dict]:
    thread = client.call("createThread", {})["id"]
    assistant = client.call("createAssistant", {"model": "gpt-4o"})["id"]
    return thread, client.call("createRun", {"assistant_id": assistant, **run_body}, thread_id=thread)


# --- path values ----------------------------------------------------------------------------------


MEMBER = {"type": "object", "required": ["id", "group_id", "name"],
          "properties": {"id": {"type": "string"}, "group_id": {"type": "string", "pattern": "^grp_"},
                         "name": {"type": "string"}}}


def groups() -> dict:
    """A tiny document: members kept per group, whose `group_id` must start with `grp_`."""
    def answer(schema):
        return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
    group_id = {"name": "group_id", "in": "path", "required": True, "schema": {"type": "string"}}
    member_id = {"name": "member_id", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"name": {"type": "string"}}}}}}
    page = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": MEMBER}}}
    return {"openapi": "3.0.3", "info": {"title": "groups", "version": "1"}, "servers": [{"url": "/api"}],
            "paths": {"/groups/{group_id}/members": {
                          "parameters": [group_id],
                          "post": {"operationId": "addMember", "requestBody": body, "responses": answer(MEMBER)},
                          "get": {"operationId": "listMembers", "responses": answer(page)}},
                      "/groups/{group_id}/members/{member_id}": {
                          "parameters": [group_id, member_id],
                          "get": {"operationId": "getMember", "responses": answer(MEMBER)}}}}


def test_a_created_object_takes_its_parents_id_from_the_path(spec):
    with MockServer(spec) as server, client_for(server) as client:
        thread, run = a_run(client)
        message = client.call("createMessage", {"role": "user", "content": "hi"}, thread_id=thread)
        assert run["thread_id"] == thread and message["thread_id"] == thread
        assert client.call("getRun", thread_id=thread, run_id=run["id"])["thread_id"] == thread


def test_path_values_go_only_where_the_schema_allows_them():
    with MockServer(groups(), require_auth=False) as server:
        client = dynclient.Client(server.app.spec, base_url=server.base_url)
        fits = client.call("addMember", {"name": "ann"}, group_id="grp_7")
        misfit = client.call("addMember", {"name": "bob"}, group_id="team-7")   # no `grp_` prefix
    assert fits["group_id"] == "grp_7" and fits["name"] == "ann"
    assert misfit["group_id"].startswith("grp_") and misfit["group_id"] != "team-7"


def test_listed_objects_from_an_override_take_the_path_values():
    listed = {"data": [{"id": "m1", "group_id": "grp_other", "name": "cy"}]}
    with MockServer(groups(), require_auth=False, overrides={"listMembers": listed}) as server:
        page = dynclient.Client(server.app.spec, base_url=server.base_url).call("listMembers", group_id="grp_9")
    assert page["data"] == [{"id": "m1", "group_id": "grp_9", "name": "cy"}]


# --- overrides --------------------------------------------------------------------------------------


def test_deep_merge_merges_objects_and_replaces_everything_else():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": None}
    merged = deep_merge(base, {"a": {"c": [3], "f": {"g": True}}, "d": None, "h": 0})
    assert merged == {"a": {"b": 1, "c": [3], "f": {"g": True}}, "d": None, "e": None, "h": 0}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": None}   # the base is left alone


def test_an_override_is_deep_merged_into_the_answer(spec):
    override = {"metadata": {"team": "finance"}, "tools": [{"type": "file_search"}], "description": "fixed"}
    with MockServer(spec, overrides={"createAssistant": override}) as server, client_for(server) as client:
        made = client.call("createAssistant", {"model": "gpt-4o", "name": "n", "metadata": {"owner": "me"},
                                               "tools": [{"type": "code_interpreter"}]})
    assert made["metadata"] == {"owner": "me", "team": "finance"}        # objects merge
    assert made["tools"] == [{"type": "file_search"}]                      # arrays replace
    assert (made["description"], made["name"], made["model"]) == ("fixed", "n", "gpt-4o")
    assert made["id"].startswith("asst_")


def test_later_reads_agree_with_an_overridden_answer(spec):
    done = {"status": "completed", "completed_at": 1700000100}
    with MockServer(spec, overrides={"createAssistant": {"name": "fixed"}, "getRun": done}) as server, \
            client_for(server) as client:
        made = client.call("createAssistant", {"model": "gpt-4o", "name": "asked"})
        assert client.call("getAssistant", assistant_id=made["id"])["name"] == "fixed"
        assert [a["name"] for a in client.call("listAssistants")["data"]] == ["fixed"]

        thread, run = a_run(client)
        assert run["status"] == "queued"   # createRun has no override
        got = client.call("getRun", thread_id=thread, run_id=run["id"])
        assert (got["id"], got["thread_id"], got["status"], got["completed_at"]) == (
            run["id"], thread, "completed", 1700000100)
        assert [r["status"] for r in client.call("listRuns", thread_id=thread)["data"]] == ["completed"]


def test_an_override_that_breaks_the_answer_is_a_500_naming_it_and_nothing_is_stored(spec):
    with MockServer(spec, overrides={"createAssistant": {"tools": [{"type": "hammer"}]}}) as server:
        response = urllib3.request("POST", server.base_url + "/assistants", json={"model": "gpt-4o"},
                                   headers=AUTH, retries=False, timeout=10)
        assert response.status == 500
        error = json.loads(response.data)["error"]
        assert error["type"] == "server_error" and error["param"] == "tools[0].type"
        assert "createAssistant: the override" in error["message"] and '"hammer"' in error["message"]
        assert "invalid at /tools/0" in error["message"]
        assert server.app.store.get("/assistants", {}) == {}


def test_a_prefer_header_overrides_one_answer_over_the_servers_override(spec):
    with MockServer(spec, overrides={"getRun": {"status": "completed"}}) as server, client_for(server) as client:
        thread, run = a_run(client)
        failed = {"status": "failed", "last_error": {"code": "server_error", "message": "scripted"}}
        one = client.with_options(headers={"Prefer": f"respond-async, dynclient-override={json.dumps(failed)}"})
        got = one.call("getRun", thread_id=thread, run_id=run["id"])
        assert (got["status"], got["last_error"]["message"]) == ("failed", "scripted")
        with pytest.raises(dynclient.BadRequestError) as refused:
            client.with_options(headers={"Prefer": "dynclient-override={oops"}).call(
                "getRun", thread_id=thread, run_id=run["id"])
        assert "Prefer: dynclient-override=" in str(refused.value) and "not valid JSON" in str(refused.value)


@pytest.mark.parametrize("overrides, error, words", [
    ({"getRunn": {}}, dynclient.UnknownOperationError, "did you mean getRun"),
    ({"getRun": ["completed"]}, ValueError, "getRun: expected a JSON object, got list"),
    ({"createSpeech": {"a": 1}}, ValueError, "createSpeech: its answer is not JSON"),
])
def test_a_bad_override_stops_the_mock_from_starting(spec, overrides, error, words):
    with pytest.raises(error, match=words):
        MockServer(spec, overrides=overrides)


def test_serve_takes_overrides(spec):
    with serve(spec, overrides={"listModels": {"data": []}}) as base_url:
        answer = urllib3.request("GET", base_url + "/models", headers=AUTH, retries=False, timeout=10)
    assert json.loads(answer.data)["data"] == []


# --- actions on an item -----------------------------------------------------------------------------


def test_cancel_answers_with_the_stored_run_and_later_reads_agree(spec):
    with MockServer(spec, overrides={"cancelRun": {"status": "cancelling"}}, strict_ids=True) as server, \
            client_for(server) as client:
        thread, run = a_run(client, metadata={"k": "v"})
        cancelled = client.call("cancelRun", thread_id=thread, run_id=run["id"])
        assert {**run, "status": "cancelling"} == cancelled
        assert client.call("getRun", thread_id=thread, run_id=run["id"]) == cancelled
        with pytest.raises(dynclient.NotFoundError):
            client.call("cancelRun", thread_id=thread, run_id="run_missing")
    roles = {r.operation.operation_id: r.role for r in server.app.routes}
    assert roles["cancelRun"] == roles["cancelBatch"] == roles["submitToolOuputsToRun"] == "action"
    assert roles["listRunSteps"] == "other"   # below an item, but a list of something else


# --- the command line and the pytest marker ----------------------------------------------------------


def test_the_mock_command_takes_repeated_overrides(spec_2025):
    proc = subprocess.Popen([str(SCRIPT), "mock", str(spec_2025), "--port", "0",
                             "--override", 'createThread={"metadata": {"a": "1"}}',
                             "--override", 'createThread={"metadata": {"b": "2"}}'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = proc.stdout.readline().decode()
        assert "answers of createThread overridden" in banner
        base_url = banner.rsplit(" at ", 1)[1].strip()
        thread = urllib3.request("POST", base_url + "/threads", json={}, headers={**AUTH, **BETA},
                                 retries=False, timeout=10)
        assert thread.status == 200 and json.loads(thread.data)["metadata"] == {"a": "1", "b": "2"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("text, words", [
    ("getRun", "expected OPERATION_ID=JSON"),
    ("getRun={status: 1}", "override for getRun: not valid JSON"),
    ('getRun="completed"', "override for getRun: expected a JSON object, got str"),
])
def test_a_malformed_override_argument_is_refused(text, words, capsys):
    with pytest.raises(ValueError, match=words):
        parse_override(text)
    from dynclient.cli import main
    with pytest.raises(SystemExit) as stopped:
        main(["mock", "openai@2025-04-29", "--override", text])
    assert stopped.value.code == 2 and f"argument --override: {words}" in capsys.readouterr().err


def test_the_pytest_marker_passes_overrides(pytester, spec_2025):
    pytester.makeini(f"[pytest]\ndynclient_spec = {spec_2025}\n")
    pytester.makepyfile(test_inner='''
import pytest

@pytest.mark.dynclient_spec(overrides={"createAssistant": {"name": "from the marker"}})
def test_overridden(dynclient_mock):
    made = dynclient_mock.client.call("createAssistant", {"model": "gpt-4o", "name": "asked"})
    assert made["name"] == "from the marker"
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
