"""The Batch workflow (dynclient/batchflow.py): submit, status, collect, cancel, against the mock over
real sockets. A submit interrupted at any step is finished by the next one without a second upload or a
second batch; collect validates every answer and restores the input order."""

from __future__ import annotations

import json
import os
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
