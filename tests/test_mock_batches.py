"""The mock runs Batch API jobs (dynclient/testing/batches.py), over real sockets with the project's
Client: upload (createFile), create, poll (retrieveBatch), download (downloadFile), cancel, list. Every
answer in an output file is checked with the client's own response validator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dynclient
from dynclient.core.call import response_problem
from dynclient.testing.mock import MockServer

KEY = "sk-batchmock-canary-31"
TERMINAL = {"completed", "failed", "expired", "cancelled"}
ENDPOINTS = {   # endpoint -> (operation, a valid body)
    "/v1/chat/completions": ("createChatCompletion",
                             {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}),
    "/v1/embeddings": ("createEmbedding", {"model": "text-embedding-3-small", "input": "hello"}),
    "/v1/completions": ("createCompletion", {"model": "gpt-3.5-turbo-instruct", "prompt": "hello"}),
}
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module", params=["2025", "2026"])
def spec(request, corpus_dir):
    name = {"2025": "openai-2025-04-29.yaml", "2026": "openai-2026-08-21.yaml"}[request.param]
    if not (corpus_dir / name).is_file():
        pytest.skip(f"OpenAI spec {name} not found in corpus at {corpus_dir}")
    return dynclient.Spec(corpus_dir / name)


@pytest.fixture(scope="module")
def spec_2025_loaded(spec_2025):
    return dynclient.Spec(spec_2025)


def lines_for(endpoint: str, count: int, ids: list[str] | None = None) -> list[dict]:
    body = ENDPOINTS[endpoint][1]
    return [{"custom_id": (ids or [f"r-{i}" for i in range(count)])[i], "method": "POST", "url": endpoint,
             "body": body} for i in range(count)]


def upload(client: dynclient.Client, tmp_path: Path, lines: list, purpose: str = "batch") -> dict:
    path = tmp_path / f"input-{time.monotonic_ns()}.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    with open(path, "rb") as fh:
        return client.call("createFile", {"file": fh, "purpose": purpose})


def submit(client: dynclient.Client, tmp_path: Path, lines: list, endpoint: str = CHAT) -> dict:
    file = upload(client, tmp_path, lines)
    return client.call("createBatch", {"input_file_id": file["id"], "endpoint": endpoint, "completion_window": "24h"})


def poll(client: dynclient.Client, batch_id: str, seen: list | None = None, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.call("retrieveBatch", batch_id=batch_id)
        if seen is not None:
            seen.append((batch["status"], dict(batch["request_counts"])))
        if batch["status"] in TERMINAL:
            return batch
        assert time.monotonic() < deadline, f"batch {batch_id} still {batch['status']} after {timeout} s"
        time.sleep(0.02)


def download(client: dynclient.Client, tmp_path: Path, file_id: str | None) -> list[dict]:
    if not file_id:
        return []
    path = tmp_path / f"{file_id}.jsonl"
    client.download("downloadFile", file_id=file_id, to=path)
    return [json.loads(line) for line in path.read_text().splitlines()]


def body_problem(client: dynclient.Client, endpoint: str, record: dict):
    op = client.operation(ENDPOINTS[endpoint][0])
    response = record["response"]
    return response_problem(client.schemas, op, response["status_code"], response["body"], "application/json", True)


@pytest.fixture
def served(spec):
    servers = []

    def start(**options) -> tuple[MockServer, dynclient.Client]:
        server = MockServer(spec, **options).start()
        servers.append(server)
        return server, dynclient.Client(spec, base_url=server.base_url, api_key=KEY, max_retries=0)
    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_batch_runs_every_line_through_the_mock_and_every_answer_is_valid(served, tmp_path, endpoint):
    server, client = served()
    lines = lines_for(endpoint, 3)
    created = submit(client, tmp_path, lines, endpoint)
    assert created["status"] == "validating" and created["endpoint"] == endpoint
    assert created["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    batch = poll(client, created["id"])
    assert batch["status"] == "completed", batch
    assert batch["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert all(isinstance(batch[name], int) for name in ("created_at", "in_progress_at", "finalizing_at",
                                                         "completed_at", "expires_at"))
    assert batch["expires_at"] - batch["created_at"] == 24 * 3600
    assert not batch.get("error_file_id") and not batch.get("failed_at")
    output = download(client, tmp_path, batch["output_file_id"])
    assert [r["custom_id"] for r in output] == ["r-0", "r-1", "r-2"]
    for record in output:
        assert record["id"].startswith("batch_req_") and record["error"] is None
        assert record["response"]["status_code"] == 200 and record["response"]["request_id"].startswith("req_")
        assert body_problem(client, endpoint, record) is None
    # The output file is a file object like the others, and the input file gives back its bytes.
    info = client.call("retrieveFile", file_id=batch["output_file_id"])
    assert info["purpose"] == "batch_output" and info["bytes"] == sum(
        len(json.dumps(r)) + 1 for r in output)
    again = download(client, tmp_path, batch["input_file_id"])
    assert again == lines
    assert KEY not in (tmp_path / f"{batch['output_file_id']}.jsonl").read_text()


def test_an_invalid_input_file_fails_with_the_lines_named(served, tmp_path):
    server, client = served()
    lines = lines_for(CHAT, 5)
    lines[1] = {**lines[1], "body": {**lines[1]["body"], "messages": [{"role": "usr", "content": "x"}]}}
    lines[2] = '{"custom_id": "r-2", "method": '
    lines[4] = {**lines[4], "custom_id": "r-0"}
    batch = poll(client, submit(client, tmp_path, lines)["id"])
    assert batch["status"] == "failed" and isinstance(batch["failed_at"], int)
    errors = batch["errors"]
    assert errors["object"] == "list"
    assert [(e["line"], e["code"]) for e in errors["data"]] == [
        (2, "invalid_request"), (3, "invalid_json_line"), (5, "duplicate_custom_id")]
    assert errors["data"][0]["param"].startswith("messages[0]")
    assert "line 1" in errors["data"][2]["message"]
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert not batch.get("output_file_id") and not batch.get("error_file_id")


def test_a_line_for_another_endpoint_fails_the_batch(served, tmp_path):
    server, client = served()
    batch = poll(client, submit(client, tmp_path, lines_for("/v1/embeddings", 2), CHAT)["id"])
    assert batch["status"] == "failed"
    assert [(e["line"], e["code"]) for e in batch["errors"]["data"]] == [(1, "mismatched_endpoint")]


def test_partial_failures_land_in_the_error_file_and_a_broken_body_in_the_output(served, tmp_path):
    server, client = served()
    ids = ["ok-0", "slow-dynclient-status=429", "ok-2", "bad-dynclient-status=400", "odd-dynclient-break-schema"]
    batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 5, ids))["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 5, "completed": 3, "failed": 2}
    output = download(client, tmp_path, batch["output_file_id"])
    errors = download(client, tmp_path, batch["error_file_id"])
    assert [r["custom_id"] for r in output] == ["ok-0", "ok-2", "odd-dynclient-break-schema"]
    assert [(r["custom_id"], r["response"]["status_code"]) for r in errors] == [
        ("slow-dynclient-status=429", 429), ("bad-dynclient-status=400", 400)]
    for record in errors:   # the API's error body, in `response`; `error` is null (as the API writes it)
        assert record["error"] is None and set(record["response"]["body"]["error"]) >= {"message", "type"}
    assert [body_problem(client, CHAT, r) is None for r in output] == [True, True, False]


def test_request_counts_grow_while_the_batch_is_in_progress(served, tmp_path):
    server, client = served(batch_seconds=1.0)
    seen: list = []
    started = time.monotonic()
    batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 20))["id"], seen)
    assert batch["status"] == "completed" and time.monotonic() - started >= 0.95
    statuses = [s for s, _ in seen]
    order = ["validating", "in_progress", "finalizing", "completed"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    assert {"in_progress", "completed"} <= set(statuses)
    done = [c["completed"] for _, c in seen]
    assert done == sorted(done) and done[-1] == 20
    assert any(s == "in_progress" and 0 < c["completed"] < 20 for s, c in seen), seen


def test_a_batch_not_done_within_its_window_expires_with_what_it_finished(served, tmp_path):
    server, client = served(batch_seconds=2.0, batch_window_seconds=1.0)
    created = submit(client, tmp_path, lines_for(CHAT, 10))
    assert created["expires_at"] - created["created_at"] in (0, 1)
    batch = poll(client, created["id"])
    assert batch["status"] == "expired" and isinstance(batch["expired_at"], int)
    finished = batch["request_counts"]["completed"]
    assert 0 < finished < 10 and batch["request_counts"]["total"] == 10
    output = download(client, tmp_path, batch["output_file_id"])
    errors = download(client, tmp_path, batch["error_file_id"])
    assert [r["custom_id"] for r in output] == [f"r-{i}" for i in range(finished)]
    assert [r["custom_id"] for r in errors] == [f"r-{i}" for i in range(finished, 10)]
    assert all(r["response"] is None and r["error"]["code"] == "batch_expired" for r in errors)


def test_a_cancelled_batch_keeps_what_it_finished(served, tmp_path):
    server, client = served(batch_seconds=2.0)
    created = submit(client, tmp_path, lines_for(CHAT, 10))
    seen: list = []
    while not seen or seen[-1][1]["completed"] == 0:
        seen.append((None, client.call("retrieveBatch", batch_id=created["id"])["request_counts"]))
        time.sleep(0.02)
    cancelling = client.call("cancelBatch", batch_id=created["id"])
    assert cancelling["status"] == "cancelling" and isinstance(cancelling["cancelling_at"], int)
    batch = poll(client, created["id"])
    assert batch["status"] == "cancelled" and isinstance(batch["cancelled_at"], int)
    finished = batch["request_counts"]["completed"]
    assert 0 < finished < 10
    output = download(client, tmp_path, batch["output_file_id"])
    errors = download(client, tmp_path, batch["error_file_id"])
    assert len(output) == finished and all(r["response"]["status_code"] == 200 for r in output)
    assert [r["error"]["code"] for r in errors] == ["batch_cancelled"] * (10 - finished)
    assert client.call("cancelBatch", batch_id=created["id"])["status"] == "cancelled"   # again: no change


def test_cancelling_an_ended_batch_is_refused(served, tmp_path):
    server, client = served()
    batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 1))["id"])
    with pytest.raises(dynclient.BadRequestError) as caught:
        client.call("cancelBatch", batch_id=batch["id"])
    assert "completed" in str(caught.value)


def test_list_batches_pages_through_the_created_ones_in_their_current_state(served, tmp_path):
    server, client = served()
    created = [submit(client, tmp_path, lines_for(CHAT, 1))["id"] for _ in range(5)]
    first = client.call("listBatches", limit=2)
    assert [b["id"] for b in first["data"]] == created[::-1][:2] and first["has_more"] is True
    second = client.call("listBatches", limit=2, after=first["data"][-1]["id"])
    third = client.call("listBatches", limit=2, after=second["data"][-1]["id"])
    assert [b["id"] for page in (first, second, third) for b in page["data"]] == created[::-1]
    assert third["has_more"] is False
    assert {b["status"] for page in (first, second, third) for b in page["data"]} == {"completed"}


def test_a_batch_needs_an_uploaded_batch_file(served, tmp_path):
    server, client = served(strict_ids=True)
    with pytest.raises(dynclient.NotFoundError) as caught:
        client.call("createBatch", {"input_file_id": "file-nope", "endpoint": CHAT, "completion_window": "24h"})
    assert caught.value.param == "input_file_id" and "file-nope" in str(caught.value)
    tuned = upload(client, tmp_path, lines_for(CHAT, 1), purpose="fine-tune")
    with pytest.raises(dynclient.BadRequestError) as caught:
        client.call("createBatch", {"input_file_id": tuned["id"], "endpoint": CHAT, "completion_window": "24h"})
    assert "purpose" in str(caught.value)
    with pytest.raises(dynclient.NotFoundError):
        client.download("downloadFile", file_id="file-nope", to=tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_a_file_id_never_seen_is_an_assumed_file_without_bytes(served, tmp_path):
    """Unless strict_ids, an input file the mock never saw stands for one uploaded elsewhere, whose bytes it
    does not have: the batch is created, and fails its validation as an empty input does."""
    server, client = served()
    created = client.call("createBatch", {"input_file_id": "file-elsewhere", "endpoint": CHAT,
                                          "completion_window": "24h"})
    assert created["input_file_id"] == "file-elsewhere" and created["status"] == "validating"
    assert client.call("retrieveFile", file_id="file-elsewhere")["id"] == "file-elsewhere"
    batch = poll(client, created["id"])
    assert batch["status"] == "failed" and batch["errors"]["data"]
    client.download("downloadFile", file_id="file-elsewhere", to=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere").read_bytes() == b""
    made = upload(client, tmp_path, lines_for(CHAT, 1))
    client.call("deleteFile", file_id=made["id"])   # a file it made and deleted is gone, as everywhere
    with pytest.raises(dynclient.NotFoundError):
        client.call("createBatch", {"input_file_id": made["id"], "endpoint": CHAT, "completion_window": "24h"})


def test_an_input_file_beyond_the_limits_fails(served, tmp_path):
    server, client = served()
    server.app.batches.limits["requests_per_file"] = 3
    batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 4))["id"])
    assert batch["status"] == "failed"
    assert [(e["code"], e["line"]) for e in batch["errors"]["data"]] == [("too_many_requests", None)]
    server.app.batches.limits.update(requests_per_file=50_000, bytes_per_file=100)
    batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 4))["id"])
    assert [e["code"] for e in batch["errors"]["data"]] == ["file_too_large"]


def test_deleted_files_are_gone_and_the_mock_leaves_no_files_behind(spec_2025_loaded, tmp_path):
    with MockServer(spec_2025_loaded) as server:
        client = dynclient.Client(spec_2025_loaded, base_url=server.base_url, api_key=KEY)
        batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 2))["id"])
        directory = Path(server.app.batches.directory)
        assert len(list(directory.iterdir())) == 2   # the input and the output
        client.call("deleteFile", file_id=batch["input_file_id"])
        with pytest.raises(dynclient.NotFoundError):
            client.download("downloadFile", file_id=batch["input_file_id"], to=tmp_path / "gone")
        assert len(list(directory.iterdir())) == 1
    assert not directory.exists()


def test_an_override_changes_the_answer_not_the_run(served, tmp_path):
    server, client = served(batch_seconds=30.0)
    file = upload(client, tmp_path, lines_for(CHAT, 1))
    created = client.call("createBatch", {"input_file_id": file["id"], "endpoint": CHAT, "completion_window": "24h"},
                          headers={"Prefer": 'dynclient-override={"status": "completed"}'})
    assert created["status"] == "completed"   # what the test asked to see (a webhook test needs this)
    assert client.call("retrieveBatch", batch_id=created["id"])["status"] == "validating"   # the run's own


def test_the_mock_command_takes_the_batch_timing(spec_2025, tmp_path):
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", "import sys; from dynclient.cli import console_main; sys.exit(console_main())",
               "mock", str(spec_2025), "--port", "0", "--no-auth", "--batch-seconds", "2",
               "--batch-window-seconds", "0.5"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        base_url = proc.stdout.readline().rsplit(" at ", 1)[1].strip()
        client = dynclient.Client(dynclient.Spec(spec_2025), base_url=base_url)
        batch = poll(client, submit(client, tmp_path, lines_for(CHAT, 4))["id"])
        assert batch["status"] == "expired" and batch["request_counts"]["completed"] < 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)
