"""Bulk runs (dynclient/run.py): many requests from JSONL, validated, rate-limited, resumable, crash-safe.

Over real sockets: the mock of OpenAI's document, and a loopback server that
misbehaves on purpose (tests/faultserver.py) serving a small document written
here. Every test checks the results file the way a user would: one line per
custom_id, never two.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import dynclient
from dynclient.testing.mock import MockServer
from faultserver import Attempt, FaultServer, error_reply, json_reply, reset

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "echo", "version": "1"},
    "servers": [{"url": "http://127.0.0.1/v1"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/echo": {"post": {
            "operationId": "echo",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["text"],
                "properties": {"text": {"type": "string"}, "max_tokens": {"type": "integer"}}}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["echo"], "properties": {"echo": {"type": "string"}}}}}}}}},
        "/things/{thing_id}": {"get": {
            "operationId": "getThing",
            "parameters": [{"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}}}}},
    },
}
KEY = "sk-run-canary-5f1e"


def echo(delay: float = 0.0, headers: dict | None = None):
    """A script answering `{"echo": <the request's text>}` after `delay` seconds."""
    def script(conn, attempt: Attempt) -> None:
        if delay:
            time.sleep(delay)
        if attempt.method == "GET":
            body = {"id": attempt.target.split("/")[-1].split("?")[0]}
        else:
            body = {"echo": json.loads(attempt.body)["text"]}
        json_reply(body, headers=headers)(conn, attempt)
    return script


def requests_file(path: Path, count: int, form: str = "batch", start: int = 0) -> Path:
    with open(path, "w") as fh:
        for i in range(start, start + count):
            if form == "batch":
                line = {"custom_id": f"q-{i}", "method": "POST", "url": "/v1/echo", "body": {"text": f"t{i}"}}
            else:
                line = {"custom_id": f"q-{i}", "operation": "echo", "body": {"text": f"t{i}"}}
            fh.write(json.dumps(line) + "\n")
    return path


def results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def once_each(path: Path, expected: int) -> dict[str, dict]:
    """Every custom_id exactly once; the results by id."""
    found = results(path)
    counts = Counter(r["custom_id"] for r in found)
    assert [cid for cid, n in counts.items() if n > 1] == []
    assert len(counts) == expected
    return {r["custom_id"]: r for r in found}


@pytest.fixture
def doc_path(tmp_path):
    path = tmp_path / "echo.json"
    path.write_text(json.dumps(DOC))
    return path


@pytest.fixture
def server():
    with FaultServer(default=echo) as srv:
        yield srv


def client_for(srv: FaultServer, **options) -> dynclient.Client:
    return dynclient.Client(DOC, base_url=srv.url + "/v1", api_key=KEY, **options)


# --- the basics ----------------------------------------------------------------------


def test_both_line_forms_run_and_each_result_is_the_answer_to_its_own_request(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 40)
    with open(path, "a") as fh:
        fh.write(json.dumps({"custom_id": "op-1", "operation": "echo", "body": {"text": "by name"}}) + "\n")
        fh.write(json.dumps({"custom_id": "get-1", "method": "GET", "url": "/v1/things/abc?verbose=true"}) + "\n")
    out = tmp_path / "out.jsonl"
    summary = client_for(server).run(path, out=out, concurrency=8, progress=False)
    assert (summary.total, summary.done, summary.failed, summary.invalid, summary.skipped) == (42, 42, 0, 0, 0)
    by_id = once_each(out, 42)
    assert all(by_id[f"q-{i}"]["body"] == {"echo": f"t{i}"} for i in range(40))
    assert by_id["op-1"]["body"] == {"echo": "by name"} and by_id["op-1"]["operation"] == "echo"
    assert by_id["get-1"]["body"] == {"id": "abc"} and by_id["get-1"]["status"] == 200
    assert any(a.target == "/v1/things/abc?verbose=true" for a in server.attempts)
    first = out.read_text().splitlines()[0]
    assert first.startswith('{"custom_id": "q-') and ', "line": ' in first   # what a resume reads fast
    assert KEY not in out.read_text()


def test_invalid_lines_are_answered_in_the_results_and_never_sent(tmp_path, server):
    path = tmp_path / "in.jsonl"
    lines = [
        {"custom_id": "ok", "operation": "echo", "body": {"text": "fine"}},
        {"custom_id": "bad-type", "operation": "echo", "body": {"text": 5}},
        {"custom_id": "no-op", "operation": "eccho", "body": {"text": "x"}},
        {"custom_id": "no-route", "method": "POST", "url": "/v1/nowhere", "body": {}},
        {"custom_id": "extra", "operation": "echo", "body": {"text": "x"}, "bogus": 1},
        # the Batch API's line has custom_id, method, url and body, as `batch validate` says: before
        # the body, or after it (where json.dumps puts a name added last)
        {"custom_id": "batch-extra", "method": "POST", "url": "/v1/echo", "x": 1, "body": {"text": "x"}},
        {"custom_id": "batch-extra-after", "method": "POST", "url": "/v1/echo", "body": {"text": "x"}, "y": 2},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"custom_id": "torn", "operation": \n')
    out = tmp_path / "out.jsonl"
    summary = client_for(server).run(path, out=out, progress=False)
    assert (summary.done, summary.invalid) == (1, 7)
    assert len(server.attempts) == 1   # only the valid line was sent
    by_id = once_each(out, 8)
    assert by_id["batch-extra"]["error"]["message"] == ("line 6 (batch-extra): unknown field 'x' (a line has custom_id, "
                                                        "method, url, body)")
    assert "unknown field 'y'" in by_id["batch-extra-after"]["error"]["message"]
    error = by_id["bad-type"]["error"]
    assert error["type"] == "RequestValidationError" and error["pointer"] == "/text"
    assert "echo" in error["message"] and "string" in error["message"]
    assert by_id["bad-type"]["line"] == 2 and by_id["bad-type"]["status"] is None
    assert by_id["no-op"]["error"]["type"] == "UnknownOperationError" and "echo" in by_id["no-op"]["error"]["message"]
    assert "POST /v1/nowhere" in by_id["no-route"]["error"]["message"]
    assert "bogus" in by_id["extra"]["error"]["message"]
    assert by_id["torn"]["error"]["type"] == "InvalidLine" and "not JSON" in by_id["torn"]["error"]["message"]


def test_a_body_goes_out_as_written_in_its_line(tmp_path, server):
    # The body's own text, spacing, escapes and key order kept, whatever the order of the line's names.
    bodies = {
        "batch-order": '{ "text" :"spaced",\t"max_tokens":  7 }',
        "escaped": '{"text": "caf\\u00e9 \\"q\\" \\n"}',
        "utf-8": '{"max_tokens": 1, "text": "naïve 雪"}',
        "body-first": '{"text":"first"}',
        "by-name": '{"text": "op"}',
    }
    path = tmp_path / "in.jsonl"
    path.write_text(
        f'{{"custom_id": "batch-order", "method": "POST", "url": "/v1/echo", "body": {bodies["batch-order"]}}}\n'
        f'{{"custom_id":"escaped","method":"POST","url":"/v1/echo","body":{bodies["escaped"]} }}\n'
        f'{{"custom_id": "utf-8", "method": "POST", "url": "/v1/echo", "body": {bodies["utf-8"]}}}\n'
        f'{{"body": {bodies["body-first"]}, "url": "/v1/echo", "method": "POST", "custom_id": "body-first"}}\n'
        f'{{"custom_id": "by-name", "operation": "echo", "body": {bodies["by-name"]}}}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = client_for(server).run(path, out=out, concurrency=1, progress=False)
    assert summary.done == 5, summary
    sent = [a.body for a in server.attempts]
    assert sent == [text.encode("utf-8") for text in bodies.values()]
    by_id = once_each(out, 5)
    assert by_id["escaped"]["body"] == {"echo": 'café "q" \n'} and by_id["utf-8"]["body"] == {"echo": "naïve 雪"}


@pytest.mark.parametrize("line, expected", [
    ('{"custom_id": "dup", "method": "POST", "url": "/v1/echo", "body": {"text": 5, "text": "ok"}}',
     "the name 'text' appears twice in one object"),
    ('{"custom_id": "dup", "method": "POST", "url": "/v1/echo", "body": {"text": "ok"}, "body": {"text": "x"}}',
     "the name 'body' appears twice in one object"),
    ('{"custom_id": "dup", "operation": "echo", "body": {"text": "ok", "max_tokens": NaN}}', "NaN is not JSON"),
])
def test_a_body_whose_meaning_is_not_defined_is_refused_and_not_sent(tmp_path, server, line, expected):
    # Python would read the last of repeated names, and NaN; a server may read them otherwise, so what was
    # validated might not be what it acts on.
    path = tmp_path / "in.jsonl"
    path.write_text(line + "\n")
    summary = client_for(server).run(path, out=tmp_path / "out.jsonl", progress=False)
    assert (summary.done, summary.invalid) == (0, 1) and server.attempts == []
    error = once_each(tmp_path / "out.jsonl", 1)["dup"]["error"]
    assert error["type"] == "InvalidLine" and expected in error["message"] and "line 1" in error["message"]


def test_lines_written_by_json_dumps_give_the_results_of_any_other_spacing(tmp_path, server):
    # Lines spaced as json.dumps spaces them are read the short way (jobs._read_dumps_line); the same
    # requests spaced otherwise are read the general way. Same requests, same results file, byte for byte,
    # and the same calls on the wire.
    requests = [
        ({"custom_id": "plain-1", "method": "POST", "url": "/v1/echo", "body": {"text": "hi", "max_tokens": 5}}, True),
        ({"custom_id": "no-prefix", "method": "POST", "url": "/echo", "body": {"text": "short url"}}, True),
        ({"custom_id": "utf-8 body", "method": "POST", "url": "/v1/echo", "body": {"text": "naïve 雪"}}, False),
        ({"custom_id": "café", "method": "POST", "url": "/v1/echo", "body": {"text": "id not ASCII"}}, False),
        ({"custom_id": "escaped \"id\"", "method": "POST", "url": "/v1/echo", "body": {"text": "q"}}, True),
        ({"custom_id": "get-1", "method": "GET", "url": "/v1/things/abc?verbose=true", "body": None}, True),
        ({"custom_id": "get-2", "method": "GET", "url": "/v1/things/a%20b", "body": None}, True),
        ({"custom_id": "lower", "method": "post", "url": "/v1/echo", "body": {"text": "lower-case method"}}, True),
        ({"custom_id": "nowhere", "method": "POST", "url": "/v1/nowhere", "body": {"text": "x"}}, True),
        ({"custom_id": "bad-type", "method": "POST", "url": "/v1/echo", "body": {"text": 5}}, True),
        ({"custom_id": "a list", "method": "POST", "url": "/v1/echo", "body": [1]}, True),
        ({"custom_id": "x" * 600, "method": "POST", "url": "/v1/echo", "body": {"text": "long id"}}, True),
        ({"custom_id": "empty-url", "method": "POST", "url": "", "body": {"text": "x"}}, True),
        ({"custom_id": "big int", "method": "POST", "url": "/v1/echo",
          "body": {"text": "a: b", "max_tokens": 123456789012345678901234567890}}, True),
        ({"custom_id": "floats", "method": "POST", "url": "/v1/echo", "body": {"text": "0.1", "max_tokens": 1e300}}, True),
    ]
    dumped = [json.dumps(line, ensure_ascii=ascii_only) for line, ascii_only in requests]
    compact = [json.dumps(line, ensure_ascii=ascii_only, separators=(",", ":")) for line, ascii_only in requests]
    tail = ', "method": "POST", "url": "/v1/echo", "body": '   # lines json.dumps cannot write
    dumped += ['{"custom_id": "dup"' + tail + '{"text": "a", "text": "b"}}',
               '{"custom_id": "nan"' + tail + '{"text": "a", "max_tokens": NaN}}',
               '{"custom_id": "spaces after"' + tail + '{"text": "s"}}  \t',
               '{"custom_id": "extra"' + tail + '{"text": "s"}, "x": 1}',
               '{"custom_id": "dup-nested"' + tail + '{"text": "a:b", "m": [{"k": ":", "k": 2}]}}',
               '{"custom_id": "escaped colon"' + tail + '{"text": "\\u003a", "m": {"k": 1, "\\u003a": 2}}}',
               '{"custom_id": "space before"' + tail + '  {"text": "s"}  }']
    compact += [line.replace('": ', '":').replace(', "', ',"') for line in dumped[len(requests):]]
    out = tmp_path / "out.jsonl"
    results_of, calls_of = [], []
    for lines in (dumped, compact):
        path = tmp_path / "in.jsonl"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        for stale in (out, Path(str(out) + ".resume")):
            stale.unlink(missing_ok=True)
        before = len(server.attempts)
        summary = client_for(server).run(path, out=out, concurrency=1, progress=False)
        assert (summary.done, summary.invalid) == (13, 9), summary
        results_of.append(out.read_bytes())
        calls_of.append([(a.method, a.target, a.headers.get("idempotency-key"), a.body and json.loads(a.body))
                         for a in server.attempts[before:]])
    assert results_of[0] == results_of[1]
    assert calls_of[0] == calls_of[1] and len(calls_of[0]) == 13
    by_id = once_each(out, len(dumped))
    assert by_id["café"]["body"] == {"echo": "id not ASCII"} and by_id["utf-8 body"]["body"] == {"echo": "naïve 雪"}
    assert by_id["get-2"]["body"] == {"id": "a%20b"} and by_id["lower"]["status"] == 200
    assert by_id["dup"]["error"]["type"] == "InvalidLine" and "appears twice" in by_id["dup"]["error"]["message"]
    assert "the name 'k' appears twice" in by_id["dup-nested"]["error"]["message"]
    assert by_id["big int"]["status"] == 200 and by_id["floats"]["status"] == 200
    assert by_id["escaped colon"]["body"] == {"echo": ":"}
    assert "unknown field 'x'" in by_id["extra"]["error"]["message"]   # as `batch validate` says


@pytest.mark.parametrize("lines, expected", [
    ([{"custom_id": "a"}, {"custom_id": "b"}, {"custom_id": "a"}], "custom_id 'a' is on lines 1, 3"),
    ([{"custom_id": "a"}, {"method": "POST"}], "line 2: no custom_id"),
    ([{"custom_id": "a"}, {"custom_id": 7}], "line 2: custom_id must be a non-empty string"),
    ([{"custom_id": "a"}, "not json"], "line 2: not a JSON object"),
])
def test_duplicate_or_missing_ids_are_reported_before_anything_is_sent(tmp_path, server, lines, expected):
    path = tmp_path / "in.jsonl"
    path.write_text("".join((json.dumps({**line, "operation": "echo", "body": {"text": "x"}})
                             if isinstance(line, dict) else line) + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    with pytest.raises(dynclient.RunInputError) as caught:
        client_for(server).run(path, out=out, progress=False)
    assert expected in str(caught.value) and "nothing was sent" in str(caught.value)
    assert server.attempts == []
    assert not out.exists() or out.read_text() == ""


def test_ids_written_differently_are_the_same_id(tmp_path, server):
    """`"\\u00e9"` and `"é"` are one custom_id: a duplicate, and a resume recognises either."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "caf\\u00e9", "operation": "echo", "body": {"text": "1"}}\n'
                    '{"custom_id": "café", "operation": "echo", "body": {"text": "2"}}\n', encoding="utf-8")
    with pytest.raises(dynclient.RunInputError, match="café"):
        client_for(server).run(path, out=tmp_path / "out.jsonl", progress=False)
    path.write_text('{"custom_id": "caf\\u00e9", "operation": "echo", "body": {"text": "1"}}\n', encoding="utf-8")
    client_for(server).run(path, out=tmp_path / "out.jsonl", progress=False)
    path.write_text('{"operation": "echo", "custom_id": "café", "body": {"text": "1"}}\n', encoding="utf-8")
    summary = client_for(server).run(path, out=tmp_path / "out.jsonl", progress=False)
    assert (summary.skipped, summary.done) == (1, 0) and len(server.attempts) == 1


# --- resuming --------------------------------------------------------------------------


def test_a_second_run_sends_nothing_and_a_grown_input_sends_only_the_new_lines(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 30)
    out = tmp_path / "out.jsonl"
    client = client_for(server)
    client.run(path, out=out, concurrency=4, progress=False)
    assert len(server.attempts) == 30
    again = client.run(path, out=out, concurrency=4, progress=False)
    assert (again.skipped, again.done) == (30, 0) and len(server.attempts) == 30
    with open(path, "a") as fh:   # more lines, later: only they are sent
        for i in range(30, 35):
            fh.write(json.dumps({"custom_id": f"q-{i}", "operation": "echo", "body": {"text": f"t{i}"}}) + "\n")
    grown = client.run(path, out=out, concurrency=4, progress=False)
    assert (grown.skipped, grown.done) == (30, 5) and len(server.attempts) == 35
    once_each(out, 35)


@pytest.mark.parametrize("checkpoint", [True, False])
def test_a_torn_last_line_is_dropped_and_its_request_sent_again(tmp_path, server, checkpoint):
    path = requests_file(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    client_for(server).run(path, out=out, progress=False)
    if not checkpoint:
        os.unlink(str(out) + ".resume")
    text = out.read_bytes()
    last = text[:-1].rsplit(b"\n", 1)[1]
    out.write_bytes(text[:-len(last) - 1] + last[:25])   # the last result, half written
    torn_id = json.loads(last)["custom_id"]
    summary = client_for(server).run(path, out=out, progress=False)
    # A checkpoint made when the file was longer is not trusted: the file itself decides.
    assert (summary.skipped, summary.done) == (9, 1)
    assert json.loads(server.attempts[-1].body) == {"text": "t" + torn_id[2:]}
    once_each(out, 10)


def test_a_resume_reads_only_what_follows_the_checkpoint_and_trusts_it(tmp_path, server, monkeypatch):
    import shutil
    from dynclient import ledger
    monkeypatch.setattr(ledger, "CHECKPOINT_EVERY", 0.0)   # a checkpoint after every result
    path = requests_file(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    state = Path(str(out) + ".resume")
    snapshot = tmp_path / "snapshot"

    def estimate(job):
        if job.custom_id == "q-7":   # results 0..6 are written, and checkpointed
            shutil.copy(state, snapshot)
        return 1

    client_for(server).run(path, out=out, concurrency=1, estimate=estimate, tokens_per_minute=1e12,
                           progress=False)   # (a tokens budget, so that estimate is asked)
    shutil.copy(snapshot, state)   # as if the process had died after writing 3 more results
    assert json.loads(state.read_text())["results_bytes"] < out.stat().st_size
    summary = client_for(server).run(path, out=out, progress=False)
    assert (summary.skipped, summary.done) == (10, 0) and len(server.attempts) == 10
    once_each(out, 10)


def test_reordered_input_is_resumed_by_id(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 20)
    out = tmp_path / "out.jsonl"
    client_for(server).run(path, out=out, progress=False)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(reversed(lines)) + "\n" + json.dumps(
        {"custom_id": "new", "operation": "echo", "body": {"text": "n"}}) + "\n")
    summary = client_for(server).run(path, out=out, progress=False)
    assert (summary.skipped, summary.done) == (20, 1)
    once_each(out, 21)


def test_a_results_file_from_something_else_is_not_appended_to(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    out.write_text('{"hello": "world"}\n')
    with pytest.raises(dynclient.RunInputError, match="not a result line of dynclient run"):
        client_for(server).run(path, out=out, progress=False)
    assert server.attempts == [] and out.read_text() == '{"hello": "world"}\n'


RUNNER = ("import sys; from dynclient.cli import main; raise SystemExit(main(sys.argv[1:]))")


def ctrl_c_answered() -> None:
    """In the command's process before it starts: SIGINT as a terminal leaves it. A job started in the
    background of a shell that is not interactive (`pytest &`) inherits SIGINT ignored, and Python
    then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(doc_path: Path, srv: FaultServer, path: Path, out: Path, *extra: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    return subprocess.Popen([sys.executable, "-c", RUNNER, "run", str(doc_path), str(path), "-o", str(out),
                             "--base-url", srv.url + "/v1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=ctrl_c_answered, **popen)


def wait_for_lines(out: Path, count: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} results after {timeout} s")


def test_kill_9_mid_run_then_resume_every_id_exactly_once(tmp_path, doc_path):
    with FaultServer(default=lambda: echo(delay=0.01)) as srv:
        path = requests_file(tmp_path / "in.jsonl", 400)
        out = tmp_path / "out.jsonl"
        proc = start_cli(doc_path, srv, path, out, "--concurrency", "8", "--no-progress")
        wait_for_lines(out, 120, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        written = out.read_bytes().count(b"\n")
        assert 120 <= written < 400
        summary = client_for(srv).run(path, out=out, concurrency=8, progress=False)
        by_id = once_each(out, 400)
        assert summary.skipped + summary.done == 400
        assert all(by_id[f"q-{i}"]["body"] == {"echo": f"t{i}"} for i in range(400))
        # What was lost is at most what was in flight when the process died: sent again, once.
        assert len(srv.attempts) - 400 <= 8


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, doc_path):
    with FaultServer(default=lambda: echo(delay=0.01)) as srv:
        path = requests_file(tmp_path / "in.jsonl", 400)
        out = tmp_path / "out.jsonl"
        proc = start_cli(doc_path, srv, path, out, "--concurrency", "4", "--no-progress")
        wait_for_lines(out, 40, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 130, stderr
        assert "resume with:" in stderr and f"dynclient run {doc_path} {path} -o {out}" in stderr
        assert KEY not in stderr + stdout
        assert "Traceback" not in stderr
        partial = out.read_text()
        assert partial.endswith("\n")
        assert len(partial.splitlines()) < 400
        client_for(srv).run(path, out=out, concurrency=4, progress=False)
        once_each(out, 400)


# --- rate limits ---------------------------------------------------------------------------


def test_a_429_storm_pauses_the_whole_run_for_retry_after(tmp_path):
    limited_until = [0.0]
    lock = threading.Lock()

    def storm():
        def script(conn, attempt: Attempt) -> None:
            with lock:
                first = limited_until[0] == 0.0
                if first:
                    limited_until[0] = attempt.at + 0.5
            if first or attempt.at < limited_until[0] - 0.45:   # the first request, and the ones beside it
                error_reply(429, "rate_limit_exceeded", {"Retry-After": "0.5"})(conn, attempt)
            else:
                echo()(conn, attempt)
        return script

    with FaultServer(default=storm) as srv:
        path = requests_file(tmp_path / "in.jsonl", 60)
        out = tmp_path / "out.jsonl"
        summary = client_for(srv).run(path, out=out, concurrency=8, progress=False)
        assert (summary.done, summary.failed) == (60, 0)
        once_each(out, 60)
        rejected = [a for a in srv.attempts if a.at < limited_until[0] - 0.45]
        assert rejected, "the server never said 429"
        # After the first 429, nothing was sent until Retry-After had passed: the whole run paused.
        first_429 = min(a.at for a in srv.attempts)
        later = [a.at for a in srv.attempts if a.at > max(a.at for a in rejected)]
        assert later and min(later) >= first_429 + 0.45
        assert all(r["attempts"] >= 1 for r in results(out))
        assert sum(r["attempts"] for r in results(out)) >= 60 + len(rejected) - 8


def test_retry_after_exhausted_gives_a_rate_limit_error_result(tmp_path):
    with FaultServer(default=lambda: error_reply(429, "rate_limit_exceeded", {"Retry-After": "0.01"})) as srv:
        path = requests_file(tmp_path / "in.jsonl", 2)
        out = tmp_path / "out.jsonl"
        summary = client_for(srv).run(path, out=out, concurrency=1, progress=False, max_rate_limited=3)
        assert (summary.failed, summary.done) == (2, 0)
        for result in results(out):
            assert result["status"] == 429 and result["error"]["type"] == "RateLimitError"
            assert result["attempts"] == 4
        assert len(srv.attempts) == 8


def test_insufficient_quota_stops_the_run_at_once_and_resume_finishes_it(tmp_path):
    state = {"quota": True, "served": 0}
    lock = threading.Lock()

    def quota():
        def script(conn, attempt: Attempt) -> None:
            with lock:
                state["served"] += 1
                over = state["quota"] and state["served"] > 10
            if over:
                error_reply(429, "insufficient_quota")(conn, attempt)
            else:
                echo(delay=0.005)(conn, attempt)
        return script

    with FaultServer(default=quota) as srv:
        path = requests_file(tmp_path / "in.jsonl", 100)
        out = tmp_path / "out.jsonl"
        with pytest.raises(dynclient.RunStoppedError) as caught:
            client_for(srv).run(path, out=out, concurrency=4, progress=False)
        assert caught.value.reason == "insufficient_quota"
        assert "insufficient_quota" in str(caught.value) and "resume" in str(caught.value)
        assert len(srv.attempts) <= 10 + 4 + 1   # it stopped at once, not after trying everything
        done = results(out)
        assert all(r["status"] == 200 for r in done) and len(done) <= 10
        state["quota"] = False
        summary = client_for(srv).run(path, out=out, concurrency=4, progress=False)
        assert summary.skipped == len(done) and summary.done == 100 - len(done)
        once_each(out, 100)


def test_requests_per_minute_budget_paces_the_run(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 40)
    started = time.monotonic()
    client_for(server).run(path, out=tmp_path / "out.jsonl", concurrency=8, requests_per_minute=1200, progress=False)
    elapsed = time.monotonic() - started
    times = sorted(a.at for a in server.attempts)
    # 20 a second after a burst of at most one second's worth (20): the last 20 take a second.
    assert times[-1] - times[0] >= 0.75, times   # jitter of loopback connects under load: the bound is well above a run with no budget (< 0.1 s)
    assert times[19] - times[0] < 0.5
    assert elapsed < 10


def test_remaining_zero_in_the_rate_limit_headers_holds_requests_until_the_reset(tmp_path):
    with FaultServer(default=lambda: echo(headers={"x-ratelimit-limit-requests": "100000",
                                                   "x-ratelimit-remaining-requests": "0",
                                                   "x-ratelimit-reset-requests": "300ms"})) as srv:
        path = requests_file(tmp_path / "in.jsonl", 4)
        client_for(srv).run(path, out=tmp_path / "out.jsonl", concurrency=1, progress=False)
        times = [a.at for a in srv.attempts]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(gaps) == 3 and min(gaps) >= 0.25, gaps


def test_tokens_per_minute_budget_uses_the_estimate(tmp_path, server):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"q-{i}", "operation": "echo",
                                        "body": {"text": "x", "max_tokens": 100}}) + "\n" for i in range(4)))
    seen = []

    def estimate(job):
        seen.append(job.custom_id)
        return 100

    client_for(server).run(path, out=tmp_path / "out.jsonl", concurrency=4, tokens_per_minute=12000,
                           estimate=estimate, progress=False)
    times = sorted(a.at for a in server.attempts)
    assert sorted(seen) == [f"q-{i}" for i in range(4)]
    assert times[-1] - times[0] >= 0.75   # 200 tokens a second: 200 tokens beyond the first 200 take a second


def test_default_estimate_counts_the_line_and_the_completion_budget():
    from dynclient.jobs import Job
    from dynclient.run import estimate_tokens
    job = Job(1, "a", body={"messages": [], "max_completion_tokens": 50, "n": 2}, size=400)
    assert estimate_tokens(job) == 100 + 100
    assert estimate_tokens(Job(1, "a", body={"max_tokens": True}, size=8)) == 2


# --- faults ----------------------------------------------------------------------------------


def test_a_server_that_resets_connections_gives_typed_error_results_not_a_hang(tmp_path):
    count = [0]
    lock = threading.Lock()

    def flaky():
        with lock:
            count[0] += 1
            n = count[0]
        return reset if n % 3 == 0 else echo()

    with FaultServer(default=flaky) as srv:
        path = requests_file(tmp_path / "in.jsonl", 30)
        out = tmp_path / "out.jsonl"
        summary = client_for(srv, max_retries=0).run(path, out=out, concurrency=4, progress=False)
        by_id = once_each(out, 30)
        assert summary.done + summary.failed == 30 and summary.failed >= 5
        failed = [r for r in by_id.values() if r["error"]]
        assert all(r["error"]["type"] == "APIConnectionError" for r in failed)
        retried = client_for(srv, max_retries=3)
        path2 = requests_file(tmp_path / "in2.jsonl", 30)
        summary = retried.run(path2, out=tmp_path / "out2.jsonl", concurrency=4, progress=False)
        assert summary.done == 30


def test_an_answer_outside_the_document_is_a_failed_result(tmp_path):
    with FaultServer(default=lambda: json_reply({"echo": 5})) as srv:
        path = requests_file(tmp_path / "in.jsonl", 2)
        out = tmp_path / "out.jsonl"
        summary = client_for(srv).run(path, out=out, progress=False)
        assert summary.failed == 2
        assert all(r["error"]["type"] == "ResponseValidationError" and r["status"] == 200 for r in results(out))


# --- inputs that are not files -----------------------------------------------------------------


def test_an_iterable_of_dicts_runs_and_resumes(tmp_path, server):
    requests = [{"custom_id": f"q-{i}", "operation": "echo", "body": {"text": f"t{i}"}} for i in range(10)]
    out = tmp_path / "out.jsonl"
    client_for(server).run(requests[:6], out=out, progress=False)
    summary = client_for(server).run(iter(requests), out=out, progress=False)
    assert (summary.skipped, summary.done) == (6, 4) and len(server.attempts) == 10
    once_each(out, 10)
    with pytest.raises(dynclient.RunInputError, match="repeats"):
        client_for(server).run(requests + [requests[0]], out=tmp_path / "x.jsonl", progress=False)


def test_a_one_shot_iterator_with_a_duplicate_stops_there(tmp_path, server):
    def requests():
        for i in range(5):
            yield {"custom_id": f"q-{i % 3}", "operation": "echo", "body": {"text": "x"}}
    with pytest.raises(dynclient.RunInputError, match="q-0.*repeats"):
        client_for(server).run(requests(), out=tmp_path / "out.jsonl", concurrency=1, progress=False)
    once_each(tmp_path / "out.jsonl", 3)


def test_async_client_run(tmp_path, server):
    import asyncio
    path = requests_file(tmp_path / "in.jsonl", 20, form="operation")

    async def main():
        async with dynclient.AsyncClient(DOC, base_url=server.url + "/v1", api_key=KEY) as client:
            return await client.run(path, out=tmp_path / "out.jsonl", concurrency=5, progress=False)
    summary = asyncio.run(main())
    assert summary.done == 20
    once_each(tmp_path / "out.jsonl", 20)


def test_idempotency_key_is_the_same_when_a_request_is_sent_again(tmp_path, server):
    path = requests_file(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    client_for(server).run(path, out=out, progress=False)
    out.write_text("")   # as if nothing had been written: everything goes again
    os.unlink(str(out) + ".resume")
    client_for(server).run(path, out=out, progress=False)
    keys = [a.headers["idempotency-key"] for a in server.attempts]
    assert len(keys) == 6 and len(set(keys)) == 3


def test_bad_options_are_config_errors(tmp_path, server):
    client = client_for(server)
    path = requests_file(tmp_path / "in.jsonl", 1)
    for options in ({"concurrency": 0}, {"requests_per_minute": -1}, {"progress": "fancy"}):
        with pytest.raises(dynclient.ConfigError):
            client.run(path, out=tmp_path / "out.jsonl", **options)
    with pytest.raises(dynclient.RunInputError, match="no such file"):
        client.run(tmp_path / "missing.jsonl", out=tmp_path / "out.jsonl")
    assert server.attempts == []


# --- on OpenAI's document, against the mock ----------------------------------------------


def test_openai_batch_lines_against_the_mock(tmp_path, spec_2025):
    path = tmp_path / "in.jsonl"
    lines = [{"custom_id": f"c-{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]}}
             for i in range(50)]
    lines.append({"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions",
                  "body": {"model": "gpt-4o", "messages": [{"role": "usr", "content": "x"}]}})
    lines.append({"custom_id": "emb", "operation": "createEmbedding",
                  "body": {"model": "text-embedding-3-small", "input": "hello"}})
    lines.append({"custom_id": "stream", "operation": "createChatCompletion",
                  "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]}})
    lines.append({"custom_id": "speech", "operation": "createSpeech",
                  "body": {"model": "tts-1", "input": "hello", "voice": "alloy"}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with MockServer(str(spec_2025)) as mock:
        client = dynclient.Client(str(spec_2025), base_url=mock.base_url, api_key=KEY)
        summary = client.run(path, out=tmp_path / "out.jsonl", concurrency=16, progress=False)
        sent = len(mock.app.requests)
    assert (summary.done, summary.invalid) == (53, 1) and sent == 53
    by_id = once_each(tmp_path / "out.jsonl", 54)
    events = by_id["stream"]["body"]
    assert isinstance(events, list) and events and set(events[0]) == {"event", "data", "id"}
    assert events[0]["data"]["object"] == "chat.completion.chunk"
    assert base64.b64decode(by_id["speech"]["body"]["base64"])
    assert by_id["c-7"]["body"]["object"] == "chat.completion"
    assert by_id["bad"]["error"]["pointer"] == "/messages/0/role"
    assert by_id["emb"]["operation"] == "createEmbedding" and by_id["emb"]["status"] == 200


# --- progress ------------------------------------------------------------------------------------


def test_a_terminal_shows_a_progress_bar_and_the_summary(tmp_path, doc_path, server):
    from test_cli_terminal import SCRIPT, in_terminal
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed at {SCRIPT}")
    path = requests_file(tmp_path / "in.jsonl", 300)
    code, shown = in_terminal(["run", str(doc_path), str(path), "-o", str(tmp_path / "out.jsonl"),
                               "--base-url", server.url + "/v1"], 100)
    assert code == 0, shown
    assert "run: 100%|" in shown and "300/300" in shown   # tqdm's bar: done/total, rate, ETA
    assert "300 requests: 300 done, 0 failed, 0 invalid, 0 skipped" in shown


def test_without_a_terminal_progress_is_plain_lines(tmp_path, server, monkeypatch, capsys):
    from dynclient import run
    monkeypatch.setattr(run, "PROGRESS_EVERY", 0.0)
    path = requests_file(tmp_path / "in.jsonl", 5)
    client_for(server).run(path, out=tmp_path / "out.jsonl", concurrency=1, progress="lines")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5 and lines[-1].startswith("run: 5/5 (0 errors), ") and "/s" in lines[-1]
    assert "\r" not in "".join(lines) and "\x1b" not in "".join(lines)


def test_reading_in_small_chunks_with_every_kind_of_id(tmp_path, server, monkeypatch):
    """The fast paths (whole chunks read by C code) and the slow ones (an id with an escape, a non-ASCII
    id, a blank line, custom_id not the first key) give the same answers, across chunk boundaries."""
    from dynclient import ledger
    monkeypatch.setattr(ledger, "CHUNK", 97)
    ids = [f"q-{i}" for i in range(30)] + ['quo"te', "café", "tab\there", "back\\slash", "ünï"]
    lines = []
    for n, custom_id in enumerate(ids):
        line = {"custom_id": custom_id, "operation": "echo", "body": {"text": custom_id}}
        lines.append(json.dumps(line) if n % 3 else json.dumps({"body": line["body"], "operation": "echo",
                                                                 "custom_id": custom_id}, ensure_ascii=False))
        if n % 7 == 0:
            lines.append("   ")
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    client_for(server).run(path, out=out, concurrency=3, progress=False)
    assert {r["custom_id"]: r["body"]["echo"] for r in results(out)} == {i: i for i in ids}
    kept = out.read_text().splitlines()[::2]   # as if every other result had been lost
    out.write_text("\n".join(kept) + "\n")
    os.unlink(str(out) + ".resume")
    summary = client_for(server).run(path, out=out, concurrency=3, progress=False)
    assert (summary.skipped, summary.done) == (len(kept), len(ids) - len(kept))
    once_each(out, len(ids))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"custom_id": "café", "operation": "echo", "body": {"text": "again"}}) + "\n")
    with pytest.raises(dynclient.RunInputError, match="café"):
        client_for(server).run(path, out=out, progress=False)


@pytest.mark.parametrize("small_input", [0, 1 << 17])   # the bitmap's way, and the set's (small inputs)
def testhas_repeats_finds_a_repeat_and_only_a_repeat(monkeypatch, small_input):
    import array
    from dynclient import ledger
    from dynclient.ledger import has_repeats
    monkeypatch.setattr(ledger, "SMALL_INPUT", small_input)
    mask = (1 << 27) - 1
    base = [i * 7919 for i in range(1, 5000)]
    clashing = array.array("q", base + [b + (1 << 40) for b in base[:50]])   # same bitmap bits, other values
    assert has_repeats(clashing) is False
    assert has_repeats(array.array("q", base + [base[123]])) is True
    assert has_repeats(array.array("q", [])) is False and all((b + (1 << 40)) & mask == b & mask for b in base[:50])


def test_an_overlong_line_or_an_unwritable_output_is_a_typed_error(tmp_path, server, monkeypatch):
    from dynclient import ledger
    monkeypatch.setattr(ledger, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(ledger, "CHUNK", 256)
    path = requests_file(tmp_path / "in.jsonl", 3)
    with open(path, "a") as fh:
        fh.write(json.dumps({"custom_id": "big", "operation": "echo", "body": {"text": "x" * 5000}}) + "\n")
    with pytest.raises(dynclient.RunInputError, match="longer than 1,000 bytes"):
        client_for(server).run(path, out=tmp_path / "out.jsonl", progress=False)
    assert server.attempts == []
    (tmp_path / "dir").mkdir()
    with pytest.raises(dynclient.RunError, match="cannot run"):
        client_for(server).run(requests_file(tmp_path / "ok.jsonl", 1), out=tmp_path / "dir", progress=False)


def test_the_command_line_exits_2_when_the_input_cannot_be_run(tmp_path, doc_path, capsys):
    from dynclient.cli import main
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "a", "operation": "echo", "body": {"text": "x"}}\n' * 2)
    assert main(["run", str(doc_path), str(path), "-o", str(tmp_path / "out.jsonl"),
                 "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "custom_id 'a' is on lines 1, 2" in capsys.readouterr().err
