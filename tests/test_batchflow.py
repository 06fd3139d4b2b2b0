"""The Batch workflow (dynclient/batchflow.py): submit, status, collect, cancel, against the mock over
real sockets. A submit interrupted at any step is finished by the next one without a second upload or a
second batch; collect validates every answer and restores the input order."""

from __future__ import annotations

import asyncio
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

KEY = "sk-batch-canary-77ab"


def chat_lines(count: int, start: int = 0, form: str = "operation") -> list[dict]:
    lines = []
    for i in range(start, start + count):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"say {i}"}]}
        lines.append({"custom_id": f"q-{i}", "operation": "createChatCompletion", "body": body} if form == "operation"
                     else {"custom_id": f"q-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body})
    return lines


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((json.dumps(line) if not isinstance(line, str) else line) + "\n" for line in lines))
    return path


@pytest.fixture
def mock(spec_2025):
    with MockServer(str(spec_2025)) as server:
        yield server


@pytest.fixture
def client(mock, spec_2025):
    return dynclient.Client(str(spec_2025), base_url=mock.base_url, api_key=KEY)


def sent(mock, method: str, path_end: str) -> int:
    return sum(1 for e in mock.app.requests if e.method == method and e.target.split("?")[0].endswith(path_end))


def test_submit_splits_within_the_limits_and_records_every_step(tmp_path, client, mock):
    path = write(tmp_path / "in.jsonl", chat_lines(60) + chat_lines(5, 60, form="batch"))
    manifest = tmp_path / "job.json"
    job = client.batch.submit(path, manifest=manifest, limits={"requests_per_file": 25}, metadata={"team": "evals"})
    assert [p["requests"] for p in job["parts"]] == [25, 25, 15]
    assert json.loads(manifest.read_text()) == job
    assert all(p["file_id"] and p["batch_id"] and p["endpoint"] == "/v1/chat/completions" for p in job["parts"])
    assert sent(mock, "POST", "/files") == 3 and sent(mock, "POST", "/batches") == 3
    first = Path(job["parts"][0]["file"]).read_text().splitlines()
    assert len(first) == 25 and json.loads(first[0]) == {
        "custom_id": "q-0", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say 0"}]}}
    # Run again with the same manifest: everything is recorded, nothing is uploaded or created again.
    again = client.batch.submit(path, manifest=manifest)
    assert again == json.loads(manifest.read_text()) and [p["batch_id"] for p in again["parts"]] == \
        [p["batch_id"] for p in job["parts"]]
    assert sent(mock, "POST", "/files") == 3 and sent(mock, "POST", "/batches") == 3
    assert KEY not in manifest.read_text()


def test_a_part_is_cut_at_the_byte_limit(tmp_path, client):
    path = write(tmp_path / "in.jsonl", chat_lines(10))
    size = len(json.dumps(chat_lines(1)[0]))   # about one line of the part file
    job = client.batch.submit(path, manifest=tmp_path / "job.json", limits={"bytes_per_file": 3 * size})
    sizes = [p["bytes"] for p in job["parts"]]
    assert sum(p["requests"] for p in job["parts"]) == 10 and len(sizes) >= 4
    assert all(s <= 3 * size for s in sizes)
    assert all(os.path.getsize(p["file"]) == p["bytes"] for p in job["parts"])


def test_an_invalid_line_uploads_nothing_unless_skipped(tmp_path, client, mock):
    lines = chat_lines(4)
    lines[2]["body"]["messages"][0]["role"] = "usr"
    lines.append({"custom_id": "emb", "operation": "listModels"})
    path = write(tmp_path / "in.jsonl", lines)
    manifest = tmp_path / "job.json"
    with pytest.raises(dynclient.RunInputError) as caught:
        client.batch.submit(path, manifest=manifest)
    message = str(caught.value)
    assert "/messages/0/role" in message and "nothing was sent" in message
    assert "does not take GET /v1/models" in message   # an endpoint the Batch API does not run
    assert not manifest.exists() and sent(mock, "POST", "/files") == 0
    job = client.batch.submit(path, manifest=manifest, skip_invalid=True)
    assert job["input"]["requests"] == 3 and job["input"]["rejected"] == 2
    rejects = [json.loads(line) for line in Path(job["input"]["rejects"]).read_text().splitlines()]
    assert [r["custom_id"] for r in rejects] == ["q-2", "emb"]
    assert rejects[0]["error"]["pointer"] == "/messages/0/role" and rejects[0]["line"] == 3


def test_a_manifest_for_another_input_is_refused(tmp_path, client):
    path = write(tmp_path / "in.jsonl", chat_lines(2))
    manifest = tmp_path / "job.json"
    client.batch.submit(path, manifest=manifest)
    write(path, chat_lines(3))
    with pytest.raises(dynclient.RunError, match="made for another"):
        client.batch.submit(path, manifest=manifest)


def test_duplicate_ids_are_refused_before_anything_is_uploaded(tmp_path, client, mock):
    path = write(tmp_path / "in.jsonl", chat_lines(2) + chat_lines(1))
    with pytest.raises(dynclient.RunInputError, match="repeats line 1"):
        client.batch.submit(path, manifest=tmp_path / "job.json")
    assert sent(mock, "POST", "/files") == 0


SUBMIT = "import sys; from dynclient.cli import main; raise SystemExit(main(sys.argv[1:]))"


def pause_after(mock, method: str, path_end: str, seconds: float) -> threading.Event:
    """Make the mock do the request, then hold its answer `seconds`: a client killed meanwhile has done
    the step on the server without learning so."""
    reached = threading.Event()
    handle = mock.app.handle

    def slow(m, target, headers, body):
        reply = handle(m, target, headers, body)
        if m == method and target.split("?")[0].endswith(path_end) and not reached.is_set():
            reached.set()
            time.sleep(seconds)
        return reply
    mock.app.handle = slow
    return reached


@pytest.mark.parametrize("step", ["upload", "create"])
def test_a_submit_killed_after_a_step_before_recording_it_does_not_repeat_it(tmp_path, client, mock, spec_2025,
                                                                             step):
    path = write(tmp_path / "in.jsonl", chat_lines(6))
    manifest = tmp_path / "job.json"
    reached = pause_after(mock, "POST", "/files" if step == "upload" else "/batches", 5.0)
    proc = subprocess.Popen([sys.executable, "-c", SUBMIT, "batch", "submit", str(spec_2025), str(path),
                             "--manifest", str(manifest), "--base-url", mock.base_url],
                            env={**os.environ, "OPENAI_API_KEY": KEY}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reached.wait(30), proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    mock.app.handle = type(mock.app).handle.__get__(mock.app)
    recorded = json.loads(manifest.read_text())["parts"][0]
    assert "file_id" not in recorded if step == "upload" else "batch_id" not in recorded
    job = client.batch.submit(path, manifest=manifest)
    assert sent(mock, "POST", "/files") == 1 and sent(mock, "POST", "/batches") == 1
    batches = list(client.paginate("listBatches"))
    assert [b["id"] for b in batches] == [job["parts"][0]["batch_id"]]


# --- watch and collect ----------------------------------------------------------------------------


def test_the_whole_flow_in_input_order_with_failures_reported_and_retries_listed(tmp_path, spec_2025):
    lines = chat_lines(10)
    lines[1]["custom_id"] = "q-1 dynclient-status=400"       # the mock answers this line 400
    lines[4]["custom_id"] = "q-4 dynclient-status=500"       # ... this one 500: to send again
    lines[7]["custom_id"] = "q-7 dynclient-break-schema"     # ... this one outside the document
    lines[8]["custom_id"] = "q-8 dynclient-status=429"
    path = write(tmp_path / "in.jsonl", lines)
    manifest, out = tmp_path / "job.json", tmp_path / "results.jsonl"
    with MockServer(str(spec_2025), batch_seconds=0.6) as mock:
        client = dynclient.Client(str(spec_2025), base_url=mock.base_url, api_key=KEY)
        job = client.batch.submit(path, manifest=manifest, limits={"requests_per_file": 4})
        assert len(job["parts"]) == 3
        seen = []
        parts = client.batch.watch(manifest, interval=0.1, progress=False,
                                   on_status=lambda ps: seen.append([p["status"] for p in ps]))
        assert all(p["status"] == "completed" for p in parts)
        assert seen[0] != seen[-1]   # it watched them move
        summary = client.batch.collect(manifest, out=out)
    found = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in found] == sorted(r["line"] for r in found)   # input order, across 3 parts
    by_id = {r["custom_id"]: r for r in found}
    assert len(found) == 8 and summary.done == 6 and summary.failed == 2 and summary.to_retry == 2
    assert by_id["q-0"]["status"] == 200 and by_id["q-0"]["body"]["object"] == "chat.completion"
    assert by_id["q-1 dynclient-status=400"]["error"]["type"] == "BadRequestError"
    broken = by_id["q-7 dynclient-break-schema"]["error"]
    assert broken["type"] == "ResponseValidationError" and broken["pointer"]
    assert [c for c, _, _ in summary.invalid_output] == ["q-7 dynclient-break-schema"]
    retry = [json.loads(line)["custom_id"] for line in (tmp_path / "retry.jsonl").read_text().splitlines()]
    assert retry == ["q-4 dynclient-status=500", "q-8 dynclient-status=429"]
    assert summary.reasons == {"HTTP 500": 1, "HTTP 429": 1}
    # The results are run's: the same run over the input sends exactly the two to send again.
    with MockServer(str(spec_2025)) as live:
        client = dynclient.Client(str(spec_2025), base_url=live.base_url, api_key=KEY)
        again = client.run(path, out=out, progress=False)
        assert (again.skipped, again.done) == (8, 2) and len(live.app.requests) == 2
    assert Counter(json.loads(line)["custom_id"] for line in out.read_text().splitlines()) == \
        Counter(line["custom_id"] for line in lines)


def test_collect_refuses_a_job_still_running_and_cancel_ends_it(tmp_path, spec_2025):
    path = write(tmp_path / "in.jsonl", chat_lines(6))
    manifest = tmp_path / "job.json"
    with MockServer(str(spec_2025), batch_seconds=10) as mock:   # cancelling lasts a tenth of that
        client = dynclient.Client(str(spec_2025), base_url=mock.base_url, api_key=KEY)
        client.batch.submit(path, manifest=manifest)
        with pytest.raises(dynclient.RunError, match="not finished .*part 1 is (validating|in_progress)"):
            client.batch.collect(manifest, out=tmp_path / "out.jsonl")
        parts = client.batch.cancel(manifest)
        assert parts[0]["status"] in ("cancelling", "cancelled")
        parts = client.batch.watch(manifest, interval=0.05, timeout=10, progress=False)
        assert parts[0]["status"] == "cancelled"
        summary = client.batch.collect(manifest, out=tmp_path / "out.jsonl")
    assert summary.to_retry + summary.done == 6 and summary.to_retry >= 1
    assert set(summary.reasons) <= {"batch_cancelled"}


def test_an_expired_batch_keeps_what_finished_and_lists_the_rest(tmp_path, spec_2025):
    path = write(tmp_path / "in.jsonl", chat_lines(20))
    manifest = tmp_path / "job.json"
    with MockServer(str(spec_2025), batch_seconds=2.0, batch_window_seconds=1.0) as mock:
        client = dynclient.Client(str(spec_2025), base_url=mock.base_url, api_key=KEY)
        client.batch.submit(path, manifest=manifest)
        parts = client.batch.watch(manifest, interval=0.1, timeout=20, progress=False)
        assert parts[0]["status"] == "expired"
        summary = client.batch.collect(manifest, out=tmp_path / "out.jsonl")
    assert summary.done + summary.to_retry == 20 and summary.reasons.get("batch_expired", 0) >= 1
    assert summary.done >= 1   # what ran before the window closed is kept
    retry = (tmp_path / "retry.jsonl").read_text().splitlines()
    assert len(retry) == summary.to_retry and all(json.loads(r)["operation"] == "createChatCompletion" for r in retry)


def test_the_async_client_has_the_same_workflow(tmp_path, spec_2025):
    path = write(tmp_path / "in.jsonl", chat_lines(3))

    async def main():
        with MockServer(str(spec_2025)) as mock:
            async with dynclient.AsyncClient(str(spec_2025), base_url=mock.base_url, api_key=KEY) as client:
                await client.batch.submit(path, manifest=tmp_path / "job.json")
                await client.batch.watch(tmp_path / "job.json", interval=0.05, progress=False)
                return await client.batch.collect(tmp_path / "job.json", out=tmp_path / "out.jsonl")
    summary = asyncio.run(main())
    assert summary.done == 3


def test_the_command_line_flow(tmp_path, spec_2025, capsys, monkeypatch):
    from dynclient.cli import main
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    path = write(tmp_path / "in.jsonl", chat_lines(5))
    manifest = str(tmp_path / "job.json")
    with MockServer(str(spec_2025), batch_seconds=0.3) as mock:
        common = [str(spec_2025), "--manifest", manifest, "--base-url", mock.base_url]
        assert main(["batch", "submit", *common[:1], str(path), *common[1:]]) == 0
        assert main(["batch", "status", *common, "--watch", "--interval", "0.05"]) == 0
        assert main(["batch", "collect", *common, "-o", str(tmp_path / "out.jsonl")]) == 0
    shown = capsys.readouterr()
    assert "submitted 5 requests in 1 batch(es)" in shown.out
    assert "part 1: batch_" in shown.out and "completed 5/5 completed" in shown.out
    assert "5 done, 0 failed" in shown.out
    assert KEY not in shown.out + shown.err


@pytest.mark.parametrize("line, expected", [
    ({"id": "r", "custom_id": "a", "response": {"status_code": 200, "request_id": "q",
                                                "body": {"x": {"body": [1, "\"body\": {"]}}}, "error": None},
     {"x": {"body": [1, "\"body\": {"]}}),
    ({"custom_id": "a", "id": "r", "error": None, "response": {"status_code": 200, "body": {"x": 1}}}, None),
    ({"id": "r", "custom_id": "a", "response": {"status_code": 200, "request_id": "q", "body": "text"},
      "error": None}, None),
])
def test_an_answers_body_is_taken_as_written_only_from_the_apis_layout(line, expected):
    from dynclient.batchflow import _body_text
    text = json.dumps(line).encode() + b"\n"
    found = _body_text(text)
    assert (json.loads(found) if found is not None else None) == expected


def test_a_line_refused_at_submit_gets_no_result_and_is_not_sent_again(tmp_path, client):
    lines = chat_lines(4) + [chat_lines(1, 2)[0]]          # q-2 twice: the second is refused
    lines[1]["body"]["messages"][0]["role"] = "usr"       # q-1 invalid: refused
    path = write(tmp_path / "in.jsonl", lines)
    client.batch.submit(path, manifest=tmp_path / "job.json", skip_invalid=True)
    client.batch.watch(tmp_path / "job.json", interval=0.05, progress=False)
    summary = client.batch.collect(tmp_path / "job.json", out=tmp_path / "out.jsonl")
    found = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["custom_id"], r["line"]) for r in found] == [("q-0", 1), ("q-2", 3), ("q-3", 4)]
    assert summary.to_retry == 0 and (tmp_path / "retry.jsonl").read_text() == ""
