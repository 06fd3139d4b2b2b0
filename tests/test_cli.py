"""The real `dynclient` console script, in a subprocess, against the mock server on 127.0.0.1.

Every run has a canary token in OPENAI_API_KEY; `run` asserts it never shows in stdout or stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dynclient
from dynclient.cli import build_parser
from dynclient.schema import SchemaSet
from dynclient.testing.mock import MockServer
from dynclient.testing.synth import synthesize

from _specs import spec_30

CANARY = "sk-cli-canary-5f2e"
SCRIPT = Path(sys.executable).with_name("dynclient")
CHAT_OK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
CHAT_BAD = {"model": "gpt-4o", "messages": [{"role": "usr", "content": "hi"}]}

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script not installed at {SCRIPT}")


def run(*args: str, env: dict | None = None, stdin: bytes | None = None, cwd: Path | None = None):
    full_env = {**os.environ, "OPENAI_API_KEY": CANARY, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    done = subprocess.run([str(SCRIPT), *args], capture_output=True, input=stdin, env=full_env, timeout=60,
                          cwd=cwd)
    for stream in (done.stdout, done.stderr):
        assert CANARY.encode() not in stream, "the token was printed"
    return done


def text(done) -> tuple[int, str, str]:
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.fixture(scope="module")
def spec_path(spec_2025) -> str:
    return str(spec_2025)


@pytest.fixture(scope="module")
def mock(spec_path):
    with MockServer(spec_path) as server:
        client = dynclient.Client(spec_path, base_url=server.base_url, api_key="sk-fixture")
        client.call("createAssistant", {"model": "gpt-4o"})   # so that lists are not empty
        yield server.base_url


# --- help --------------------------------------------------------------------------


def test_every_command_has_help_with_an_example():
    code, out, _ = text(run("call", "--help"))   # the real script once; the parser alone for the rest
    assert code == 0 and "SPEC OP" in out and "dynclient call openai@" in out.split("example:")[1]
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) >= {"demo", "ops", "describe", "call", "validate", "batch", "mock"}
    nested = {f"batch {name}": p for name, p in commands["batch"]._subparsers._group_actions[0].choices.items()}
    for name, child in {**commands, **nested}.items():
        help_text = child.format_help()
        parts = re.split(r"examples?:", help_text)
        assert len(parts) > 1, f"{name}: no example in its help"
        assert f"dynclient {name}" in parts[1], name


def test_no_command_prints_help_and_exits_2():
    code, out, _ = text(run())
    assert code == 2 and "describe" in out and "batch" in out


# --- ops ---------------------------------------------------------------------------


def test_ops_is_an_aligned_table_with_deprecated_marked(spec_path):
    code, out, _ = text(run("ops", spec_path))
    assert code == 0
    spec = dynclient.Spec(spec_path)
    rows = out.splitlines()
    assert len(rows) == len(spec.operations)
    method_columns = {row.index(f" {op.method} ") for row, op in zip(rows, spec)}
    assert len(method_columns) == 1, "the method column is not aligned"
    assert all(row.split()[0] == op.operation_id for row, op in zip(rows, spec))


def test_ops_marks_deprecated_operations(tmp_path):
    document = spec_30()
    document["paths"]["/ping"]["get"]["deprecated"] = True
    document["paths"]["/ping"]["get"]["summary"] = "Check the service."
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(document))
    code, out, _ = text(run("ops", str(path)))
    rows = {row.split()[0]: row for row in out.splitlines()}
    assert code == 0 and len(rows) == len(dynclient.Spec(document).operations)
    assert rows["ping"].endswith("[deprecated] Check the service.")
    assert sum("[deprecated]" in row for row in rows.values()) == 1


def test_ops_filters_by_tag_and_word(spec_path):
    code, out, _ = text(run("ops", spec_path, "--tag", "AUDIO"))
    ids = [row.split()[0] for row in out.splitlines()]
    assert code == 0 and ids == [op.operation_id for op in dynclient.Spec(spec_path) if "Audio" in op.tags]
    assert set(ids) == {"createSpeech", "createTranscription", "createTranslation"}
    code, out, _ = text(run("ops", spec_path, "--grep", "AUDIO/SPEECH", "--json"))
    found = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [f["operation_id"] for f in found] == ["createSpeech"]
    assert found[0]["method"] == "POST" and found[0]["path"] == "/audio/speech"
    code, out, err = text(run("ops", spec_path, "--grep", "no-such-word"))
    assert code == 0 and out == "" and "no operations match" in err


# --- describe ------------------------------------------------------------------------


def test_describe_text_and_json(spec_path):
    code, out, _ = text(run("describe", spec_path, "createAssistant", "--width", "70"))
    assert code == 0
    assert out.startswith("createAssistant  POST /assistants")
    assert "* model" in out and "Example body" in out and "AssistantObject" in out
    assert max(len(line) for line in out.splitlines()) <= 70
    code, out, _ = text(run("describe", spec_path, "listAssistants", "--json"))
    info = json.loads(out)
    assert code == 0 and [p["name"] for p in info["parameters"]] == ["limit", "order", "after", "before"]
    assert info["parameters"][1]["enum"] == ["asc", "desc"]


def test_describe_unknown_operation_exits_2_with_a_suggestion(spec_path):
    code, out, err = text(run("describe", spec_path, "createAssistent"))
    assert code == 2 and out == "" and "did you mean createAssistant" in err


# --- call ------------------------------------------------------------------------------


def test_call_both_forms_compact_when_piped(spec_path, mock):
    code, out, err = text(run("call", spec_path, "createAssistant", "--base-url", mock,
                              "--body", json.dumps({"model": "gpt-4o", "name": "Tutor"})))
    assert code == 0, err
    assert len(out.splitlines()) == 1
    created = json.loads(out)
    assert created["name"] == "Tutor" and created["object"] == "assistant"
    code, out, _ = text(run("call", "getAssistant", "--spec", spec_path, "--base-url", mock,
                            "-p", f"assistant_id={created['id']}"))
    assert code == 0 and json.loads(out) == created


def test_call_body_from_file_and_typed_params(spec_path, mock, tmp_path):
    (tmp_path / "body.json").write_text(json.dumps({"model": "gpt-4o", "name": "FromFile"}))
    code, out, err = text(run("call", spec_path, "createAssistant", "--base-url", mock, "--body", "@body.json",
                              cwd=tmp_path))
    assert code == 0 and json.loads(out)["name"] == "FromFile", err
    code, out, _ = text(run("call", spec_path, "listAssistants", "--base-url", mock, "-p", "limit=1",
                            "-p", "order=asc"))
    assert code == 0 and len(json.loads(out)["data"]) == 1


def test_call_validation_error_names_the_field_and_exits_2(spec_path, mock):
    code, out, err = text(run("call", spec_path, "createChatCompletion", "--base-url", mock,
                              "--body", json.dumps(CHAT_BAD)))
    assert code == 2 and out == ""
    assert "invalid body /messages/0/role" in err and "'usr'" in err
    code, _, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "-p", "limit=many"))
    assert code == 2 and "query limit" in err and "integer" in err
    code, _, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "-p", "limt=1"))
    assert code == 2 and "did you mean 'limit'" in err


def test_call_api_error_exits_1_with_status_and_message(spec_path, mock):
    client = dynclient.Client(spec_path, base_url=mock, api_key="sk-fixture")
    gone = client.call("createAssistant", {"model": "gpt-4o"})["id"]
    client.call("deleteAssistant", assistant_id=gone)   # a deleted id is a 404, as on the real API
    code, out, err = text(run("call", spec_path, "getAssistant", "--base-url", mock, "-p", f"assistant_id={gone}"))
    assert code == 1 and out == ""
    assert "HTTP 404" in err and gone in err


def test_call_raw_prints_status_and_headers_without_credentials(spec_path, mock):
    code, out, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "--raw"))
    assert code == 0, err
    head, _, body = out.partition("\n\n")
    assert head.splitlines()[0] == "HTTP 200"
    assert any(line.lower().startswith("content-type: application/json") for line in head.splitlines())
    assert json.loads(body)["object"] == "list"
    code, out, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "--raw",
                              env={"OPENAI_API_KEY": None}))
    assert code == 1 and out.startswith("HTTP 401") and "HTTP 401" in err


def test_call_token_from_a_named_variable(spec_path, mock):
    env = {"OPENAI_API_KEY": None, "MY_TOKEN": CANARY}
    code, _, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "--api-key-env", "MY_TOKEN",
                            env=env))
    assert code == 0, err
    code, _, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "--api-key-env", "UNSET_VAR",
                            env=env))
    assert code == 2 and "UNSET_VAR is not set" in err


def test_call_stream_prints_one_event_per_line(spec_path, mock):
    code, out, err = text(run("call", spec_path, "createChatCompletion", "--base-url", mock,
                              "--body", json.dumps({**CHAT_OK, "stream": True})))
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 and all(e["object"] == "chat.completion.chunk" for e in events)


def test_call_binary_goes_to_output_or_the_pipe(spec_path, mock, tmp_path):
    body = json.dumps({"model": "tts-1", "input": "hello", "voice": "alloy"})
    piped = run("call", spec_path, "createSpeech", "--base-url", mock, "--body", body)
    assert piped.returncode == 0 and piped.stdout
    target = tmp_path / "speech.mp3"
    code, out, err = text(run("call", spec_path, "createSpeech", "--base-url", mock, "--body", body,
                              "--output", str(target)))
    assert code == 0 and out == "" and f"to {target}" in err
    assert target.read_bytes() == piped.stdout


def test_call_usage_errors_exit_2(spec_path, mock):
    code, _, err = text(run("call", "createAssistant", "--base-url", mock))
    assert code == 2 and "SPEC OP" in err
    code, _, err = text(run("call", spec_path, "createAssistant", "--base-url", mock, "--body", "{model"))
    assert code == 2 and "--body is not valid JSON" in err
    code, _, err = text(run("call", spec_path, "createAssistant", "--base-url", mock))
    assert code == 2 and "missing required request body" in err
    code, _, err = text(run("call", spec_path, "listAssistants", "--base-url", mock, "-H", "no colon"))
    assert code == 2 and "-H takes" in err


# --- validate ----------------------------------------------------------------------------


def test_validate_request_and_response_files(spec_path, tmp_path):
    schemas = SchemaSet(dynclient.Spec(spec_path))
    op = schemas.spec.operations["createChatCompletion"]
    answer = synthesize(schemas, op.responses["200"].content["application/json"].pointer)
    files = {"good.json": CHAT_OK, "bad.json": CHAT_BAD, "answer.json": answer,
             "wrong.json": {**answer, "choices": "none"}}
    for name, value in files.items():
        (tmp_path / name).write_text(json.dumps(value))
    good, bad = str(tmp_path / "good.json"), str(tmp_path / "bad.json")
    code, out, _ = text(run("validate", spec_path, "createChatCompletion", "--request", good,
                            "--response", "200", str(tmp_path / "answer.json")))
    assert code == 0 and out.count("ok:") == 2
    code, out, err = text(run("validate", spec_path, "createChatCompletion", "--request", bad))
    assert code == 2 and f"{bad}: createChatCompletion: invalid body /messages/0/role" in err
    code, _, err = text(run("validate", spec_path, "createChatCompletion", "--response", "200",
                            str(tmp_path / "wrong.json")))
    assert code == 2 and "response 200: /choices: expected an array" in err
    code, _, err = text(run("validate", spec_path, "createChatCompletion", "--response", "418",
                            str(tmp_path / "answer.json")))
    assert code == 2 and "status 418 is not declared" in err
    code, _, err = text(run("validate", spec_path, "createChatCompletion", "--request", "-",
                            stdin=b'{"model": 1}'))
    assert code == 2 and "/model" in err or "messages" in err


def test_validate_an_event_stream_event_by_event(spec_path, tmp_path):
    schemas = SchemaSet(dynclient.Spec(spec_path))
    media = schemas.spec.operations["createChatCompletion"].responses["200"].content["text/event-stream"]
    chunk = synthesize(schemas, media.pointer)
    stream = tmp_path / "stream.sse"
    stream.write_text(f"data: {json.dumps(chunk)}\n\ndata: {json.dumps({**chunk, 'choices': 3})}\n\n"
                      "data: [DONE]\n\n")
    code, _, err = text(run("validate", spec_path, "createChatCompletion", "--response", "200", str(stream),
                            "--content-type", "text/event-stream"))
    assert code == 2 and "event 2 /choices" in err and "event 1" not in err


# --- batch ---------------------------------------------------------------------------------


def _line(custom_id: str, body: dict, url: str = "/v1/chat/completions") -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def test_batch_validate_reports_each_bad_line(spec_path, tmp_path):
    lines = [
        _line("r1", CHAT_OK),
        _line("r1", CHAT_OK),                                  # 2: duplicate id
        _line("r3", CHAT_BAD),                                 # 3: schema error
        _line("r4", CHAT_OK, "/v1/chat/completion"),           # 4: unknown endpoint
        "{not json",                                           # 5
        json.dumps({"custom_id": "r6", "url": "/v1/chat/completions", "body": CHAT_OK}),   # 6: no method
        _line("r7", {"model": "text-embedding-3-small", "input": "x"}, "/v1/embeddings"),  # 7: second endpoint
        _line("r8", {**CHAT_OK, "temperature": 5}),            # 8: out of range
    ]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = text(run("batch", "validate", spec_path, str(path)))
    assert code == 2
    report = out.splitlines()
    assert [r.split(":")[0].split(" (")[0] for r in report] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    assert "duplicate custom_id 'r1' (first on line 1)" in report[0]
    assert report[1].startswith("line 3 (r3): createChatCompletion: invalid body /messages/0/role")
    assert "did you mean POST /v1/chat/completions" in report[2]
    assert "not valid JSON at column 2" in report[3]
    assert "missing 'method'" in report[4]
    assert "a batch has one endpoint" in report[5]
    assert "/temperature" in report[6]
    assert "8 lines, 7 bad" in err


def test_batch_validate_good_file_and_no_progress_when_piped(spec_path, tmp_path):
    path = tmp_path / "requests.jsonl"
    count = 2000   # > 256 KB, the size at which a terminal would get a progress indicator
    path.write_text("".join(_line(f"r{i}", {**CHAT_OK, "messages": [{"role": "user", "content": "x" * 60}]}) + "\n"
                            for i in range(count)))
    assert path.stat().st_size > 256 * 1024
    code, out, err = text(run("batch", "validate", spec_path, str(path)))
    assert code == 0 and out == ""
    assert err == f"ok: {path}: {count} lines, 0 bad\n"


def test_batch_build_writes_a_file_that_validates(spec_path, tmp_path):
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({**CHAT_OK, "key": f"k{i}"}) + "\n" for i in range(3)))
    out_file = tmp_path / "requests.jsonl"
    code, _, err = text(run("batch", "build", spec_path, "createChatCompletion", str(bodies), "-o", str(out_file),
                            "--id-field", "key"))
    assert code == 0, err
    written = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [w["custom_id"] for w in written] == ["k0", "k1", "k2"]
    assert written[0] == {"custom_id": "k0", "method": "POST", "url": "/v1/chat/completions", "body": CHAT_OK}
    assert run("batch", "validate", spec_path, str(out_file)).returncode == 0
    code, _, _ = text(run("batch", "build", spec_path, "createChatCompletion", str(bodies), "-o", str(out_file),
                          "--id-prefix", "job-"))
    written = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert code == 0 and [w["custom_id"] for w in written] == ["job-1", "job-2", "job-3"]
    assert written[2]["body"]["key"] == "k2", "without --id-field the body is kept whole"
    bodies.write_text(json.dumps(CHAT_OK) + "\n" + json.dumps(CHAT_BAD) + "\n")
    fresh = tmp_path / "fresh.jsonl"
    code, _, err = text(run("batch", "build", spec_path, "createChatCompletion", str(bodies), "-o", str(fresh)))
    assert code == 2 and "line 2 (request-2)" in err and "/messages/0/role" in err
    assert not fresh.exists()


# --- the commands that were there before -----------------------------------------------------


def test_demo_still_runs(corpus_dir):
    code, out, err = text(run("demo", env={"DYNCLIENT_SPEC_PATH": str(corpus_dir)}))
    assert code == 0, err
    assert "createAssistant ->" in out and "RequestValidationError" in out


def test_mock_command_serves(spec_path):
    proc = subprocess.Popen([str(SCRIPT), "mock", spec_path, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": CANARY})
    try:
        banner = proc.stdout.readline().decode()
        base_url = banner.rsplit(" at ", 1)[1].strip()
        code, out, err = text(run("call", spec_path, "createAssistant", "--base-url", base_url,
                                  "--body", '{"model": "gpt-4o"}'))
        assert code == 0 and json.loads(out)["object"] == "assistant", err
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- against a scripted server: what --raw shows, and that refused calls send nothing ---------


def test_raw_redacts_credentials_the_server_echoes(server, tmp_path):
    from httpserver import Reply
    document = spec_30()
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(document))
    server.reply(Reply(body={"ok": True}, headers=[("X-Echo", f"Bearer {CANARY}"), ("Set-Cookie", "sid=s3cr3t"),
                                                   ("X-Request-Id", "req_42")]))
    code, out, err = text(run("call", str(path), "ping", "--base-url", server.url, "--raw"))
    assert code == 0, err
    assert server.last.headers["Authorization"] == f"Bearer {CANARY}", "the token was sent"
    head, _, body = out.partition("\n\n")
    lines = head.splitlines()
    assert lines[0] == "HTTP 200" and "X-Request-Id: req_42" in lines
    assert "X-Echo: Bearer <redacted>" in lines and "Set-Cookie: <redacted>" in lines
    assert "s3cr3t" not in out and json.loads(body) == {"ok": True}
    code, _, err = text(run("call", str(path), "search", "--base-url", server.url, "-p", "limit=ten"))
    assert code == 2 and "query limit" in err
    assert len(server.requests) == 1, "a refused call reached the server"


# --- uploads with -F ------------------------------------------------------------------


def test_call_form_uploads_a_file(spec_path, mock, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "a"}\n')
    code, out, err = text(run("call", spec_path, "createFile", "--base-url", mock,
                              "-F", f"file=@{data}", "-F", "purpose=fine-tune"))
    assert code == 0, err
    assert json.loads(out)["object"] == "file" and "uploading" not in err, "no progress bar when not a terminal"


def test_call_form_refuses_a_missing_file_and_a_bad_field(spec_path, mock, tmp_path):
    code, _, err = text(run("call", spec_path, "createFile", "--base-url", mock,
                            "-F", f"file=@{tmp_path / 'nope.jsonl'}", "-F", "purpose=batch"))
    assert code == 2 and "no such file" in err
    code, _, err = text(run("call", spec_path, "createFile", "--base-url", mock, "-F", "justaname"))
    assert code == 2 and "-F takes NAME=VALUE" in err
