"""The examples, run as a user runs them: `python examples/NAME.py` in a subprocess.

Without a key they start the built-in mock themselves, with the answer
overrides of examples/_connect.py, and reach their happy ending. With a key
they talk to whatever the configuration names, here a loopback server that
plays OpenAI's API with schema-valid answers built from the document, so the
requests they send and the outputs they print (every other ending) can both
be checked.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest

import dynclient
from dynclient.schema import SchemaSet
from dynclient.testing.synth import synthesize
from httpserver import Recorded, Reply, TestServer
from _specs import CANARY

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRUBBED = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "DYNCLIENT_SPEC",
            "DYNCLIENT_CONFIG", "MY_KEY")


@pytest.fixture(scope="module")
def environment(corpus_dir: Path) -> dict[str, str]:
    """The process environment with no key and no dynclient settings; the corpus on the search path."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["DYNCLIENT_SPEC_PATH"] = str(corpus_dir)
    return env


def run(script: str, *args: str, cwd: Path, env: dict[str, str], stdin: str | None = None,
        **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env={**env, **extra_env},
                          input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=60)


def connect_module():
    """examples/_connect.py, for the overrides it gives the mock."""
    found = importlib.util.spec_from_file_location("_connect", EXAMPLES / "_connect.py")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def answer_section(stdout: str) -> str:
    found = re.search(r"^--- answer ---\n(.*?)^--- end ---$", stdout, re.M | re.S)
    assert found, f"no answer section in:\n{stdout}"
    return found.group(1).strip()


# --- a loopback server playing OpenAI's API -------------------------------------------------


class Bodies:
    """Schema-valid response bodies of openai-2025-04-29, synthesized and then changed as a test needs."""

    def __init__(self, spec_path: Path):
        self.spec = dynclient.Spec(str(spec_path))
        self.schemas = SchemaSet(self.spec)

    def __call__(self, operation_id: str, **changes: Any) -> dict:
        op = self.spec.operations[operation_id]
        pointer = op.responses["200"].content["application/json"].pointer
        body = {**synthesize(self.schemas, pointer), **changes}
        problem = self.schemas.compiled(pointer, "response").violation(body)
        assert problem is None, f"test body for {operation_id} is invalid: {problem}"
        return body


@pytest.fixture(scope="module")
def bodies(spec_2025: Path) -> Bodies:
    return Bodies(spec_2025)


def routed(routes: dict[tuple[str, str], Callable[[Recorded], Any]]) -> Callable[[Recorded], Reply]:
    """A reply source answering by method and path pattern; anything unexpected is a 404 the example reports."""
    def answer(request: Recorded) -> Reply:
        for (method, pattern), make in routes.items():
            if request.method == method and re.fullmatch(pattern, request.path):
                return Reply(body=make(request))
        return Reply(status=404, body={"error": {"message": f"unexpected {request.method} {request.path}",
                                                 "type": "invalid_request_error", "param": None, "code": None}})
    return answer


@pytest.fixture
def api() -> TestServer:
    srv = TestServer()
    yield srv
    srv.close()


# --- financial_assistant.py ----------------------------------------------------------------------


def test_financial_assistant_completes_against_the_built_in_mock(tmp_path, environment):
    done = run("financial_assistant.py", "--poll-interval", "0.2", cwd=tmp_path, env=environment)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "built-in mock server of openai@2025-04-29 at http://127.0.0.1:" in done.stderr
    assert "Its answers are the mock's" in done.stderr and "createRun, getRun, listMessages" in done.stderr
    connect = connect_module()
    assert re.fullmatch(
        r"assistant: asst_\w+\nthread: thread_\w+\nmessage: msg_\w+\n"
        rf"run: {connect.MOCK_RUN} \(completed\)\noutcome: the run completed\n"
        r"--- answer ---\n.*\n--- end ---\ndeleted the thread and the assistant \(pass --keep to keep them\)\n",
        out, re.S), out
    assert answer_section(out) == connect.MOCK_ANSWER and "mock server, not a model" in connect.MOCK_ANSWER


def assistant_api(bodies: Bodies, statuses: list[str], **final: Any) -> dict:
    """Routes for one conversation whose getRun answers walk through `statuses` (the last one stays)."""
    ids = {"assistant": "asst_fin1", "thread": "thread_fin1", "run": "run_fin1"}
    answer = {"type": "text", "text": {"value": "Budget: save $500 a month; the goal is realistic.",
                                       "annotations": []}}
    walk = iter(statuses)
    last = {"status": statuses[0]}

    def run_body(request: Recorded) -> dict:
        last["status"] = next(walk, last["status"])
        extra = final if last["status"] == statuses[-1] else {}
        return bodies("getRun", id=ids["run"], thread_id=ids["thread"], assistant_id=ids["assistant"],
                      status=last["status"], **extra)

    reply = bodies("listMessages", data=[
        bodies("createMessage", id="msg_user1", thread_id=ids["thread"], role="user", content=[]),
        bodies("createMessage", id="msg_bot1", thread_id=ids["thread"], role="assistant", content=[answer],
               run_id=ids["run"], assistant_id=ids["assistant"], status="completed")],
        first_id="msg_user1", last_id="msg_bot1", has_more=False)
    thread_path = "/v1/threads/thread_fin1"
    return {
        ("POST", "/v1/assistants"): lambda r: bodies("createAssistant", id=ids["assistant"], model="gpt-4o"),
        ("POST", "/v1/threads"): lambda r: bodies("createThread", id=ids["thread"]),
        ("POST", thread_path + "/messages"): lambda r: bodies("createMessage", id="msg_user1",
                                                               thread_id=ids["thread"]),
        ("POST", thread_path + "/runs"): lambda r: bodies("createRun", id=ids["run"], thread_id=ids["thread"],
                                                           assistant_id=ids["assistant"], status="queued"),
        ("GET", thread_path + "/runs/run_fin1"): run_body,
        ("POST", thread_path + "/runs/run_fin1/cancel"): lambda r: bodies("cancelRun", status="cancelling"),
        ("GET", thread_path + "/messages"): lambda r: reply,
        ("DELETE", thread_path): lambda r: bodies("deleteThread", id=ids["thread"], deleted=True),
        ("DELETE", "/v1/assistants/asst_fin1"): lambda r: bodies("deleteAssistant", id=ids["assistant"],
                                                                 deleted=True),
    }


def test_financial_assistant_against_the_api_prints_the_answer(tmp_path, environment, api, bodies):
    api.default = routed(assistant_api(bodies, ["in_progress", "in_progress", "completed"]))
    done = run("financial_assistant.py", "--poll-interval", "0.05", "--question", "Can I save $6,000 this year?",
               cwd=tmp_path, env=environment, OPENAI_API_KEY=CANARY, OPENAI_BASE_URL=api.url + "/v1")
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "mock" not in done.stderr and CANARY not in out + done.stderr
    assert "assistant: asst_fin1\nthread: thread_fin1\nmessage: msg_user1\nrun: run_fin1 (queued)\n" in out
    assert "run status: queued -> in_progress\nrun status: in_progress -> completed\n" in out
    assert "outcome: the run completed\n" in out
    assert answer_section(out) == "Budget: save $500 a month; the goal is realistic."

    sent = api.requests
    assert [f"{r.method} {r.path}" for r in sent] == [
        "POST /v1/assistants", "POST /v1/threads", "POST /v1/threads/thread_fin1/messages",
        "POST /v1/threads/thread_fin1/runs", *["GET /v1/threads/thread_fin1/runs/run_fin1"] * 3,
        "GET /v1/threads/thread_fin1/messages", "DELETE /v1/threads/thread_fin1", "DELETE /v1/assistants/asst_fin1"]
    assert all(r.headers["OpenAI-Beta"] == "assistants=v2" for r in sent)
    assert all(r.headers["Authorization"] == f"Bearer {CANARY}" for r in sent)
    created = sent[0].json()
    assert created["tools"] == [{"type": "code_interpreter"}] and "personal finance" in created["instructions"]
    assert sent[2].json() == {"role": "user", "content": "Can I save $6,000 this year?"}
    assert sent[3].json() == {"assistant_id": "asst_fin1"}


@pytest.mark.parametrize("status, final, said", [
    ("failed", {"last_error": {"code": "rate_limit_exceeded", "message": "Quota used up"}},
     "the run failed (code: rate_limit_exceeded, message: Quota used up)"),
    ("requires_action", {}, "the run is waiting for tool outputs (requires_action)"),
    ("cancelled", {}, "the run was cancelled"),
    ("expired", {}, "the run expired before it finished"),
    ("incomplete", {"incomplete_details": {"reason": "max_completion_tokens"}},
     "the run ended incomplete (reason: max_completion_tokens)"),
])
def test_financial_assistant_tells_how_a_run_ended(tmp_path, environment, api, bodies, status, final, said):
    api.default = routed(assistant_api(bodies, ["in_progress", status], **final))
    done = run("financial_assistant.py", "--poll-interval", "0.05", "--keep", cwd=tmp_path, env=environment,
               OPENAI_API_KEY=CANARY, OPENAI_BASE_URL=api.url + "/v1")
    assert done.returncode == 1, done.stderr
    assert f"outcome: {said}" in done.stdout
    assert "DELETE" not in {r.method for r in api.requests}   # --keep


def test_financial_assistant_stops_polling_at_its_timeout_and_cancels(tmp_path, environment, api, bodies):
    api.default = routed(assistant_api(bodies, ["in_progress"]))
    done = run("financial_assistant.py", "--poll-interval", "0.1", "--timeout", "0.5", cwd=tmp_path,
               env=environment, OPENAI_API_KEY=CANARY, OPENAI_BASE_URL=api.url + "/v1")
    assert done.returncode == 1, done.stderr
    assert "outcome: the run was still in_progress after 0.5 s; giving up" in done.stdout
    assert "cancel requested: run is now cancelling" in done.stdout
    polls = [r for r in api.requests if r.method == "GET" and r.path.endswith("/runs/run_fin1")]
    assert 2 <= len(polls) <= 6   # 0.5 s at one poll per 0.1 s, bounded


# --- marketing_image.py ----------------------------------------------------------------------------


def png(width: int = 2, height: int = 1) -> bytes:
    """A real PNG (RGB, all red), made here so no file has to be shipped."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_marketing_image_saves_the_mocks_png_against_the_built_in_mock(tmp_path, environment):
    done = run("marketing_image.py", "A bamboo toothbrush", "--out", "toothbrush.png", cwd=tmp_path,
               env=environment)
    assert done.returncode == 0, done.stderr
    assert "built-in mock server of openai@2025-04-29" in done.stderr and "createImage" in done.stderr
    sent = connect_module().mock_overrides(0)["createImage"]["data"][0]["b64_json"]
    saved = (tmp_path / "toothbrush.png").read_bytes()
    assert saved[:8] == b"\x89PNG\r\n\x1a\n" and saved[12:16] == b"IHDR"
    assert struct.unpack(">II", saved[16:24]) == (1, 1)   # 1x1
    assert saved == base64.b64decode(sent, validate=True)
    assert done.stdout.startswith(f"saved {len(saved)} bytes (PNG) to toothbrush.png\nrevised prompt: ")


def test_marketing_image_saves_the_decoded_base64_image(tmp_path, environment, api, bodies):
    image = png(3, 2)
    answer = bodies("createImage", created=1700000000,
                    data=[{"b64_json": base64.b64encode(image).decode(), "revised_prompt": "A toothbrush, lit"}])
    api.default = routed({("POST", "/v1/images/generations"): lambda r: answer})
    (tmp_path / "dynclient.toml").write_text(f'base_url = "{api.url}/v1"\napi_key_env = "MY_KEY"\n')
    done = run("marketing_image.py", "A bamboo toothbrush", "--out", "brush.png", cwd=tmp_path,
               env=environment, MY_KEY=CANARY)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "brush.png").read_bytes() == image
    assert f"saved {len(image)} bytes (PNG) to brush.png\nrevised prompt: A toothbrush, lit\n" == done.stdout
    sent = api.last
    assert sent.headers["Authorization"] == f"Bearer {CANARY}"
    body = sent.json()
    assert "A bamboo toothbrush" in body["prompt"]
    assert (body["model"], body["response_format"], body["n"], body["size"]) == ("dall-e-3", "b64_json", 1,
                                                                                 "1024x1024")


def test_marketing_image_fetches_an_image_url_without_the_key(tmp_path, environment, api, bodies):
    image = png()
    answer = bodies("createImage", created=1700000000, data=[{"url": api.url + "/cdn/img-1.png"}])
    api.default = routed({("POST", "/v1/images/generations"): lambda r: answer,
                          ("GET", "/cdn/img-1.png"): lambda r: image})
    done = run("marketing_image.py", "--model", "gpt-image-1", cwd=tmp_path, env=environment,
               stdin="Hand-made ceramic mug\n", OPENAI_API_KEY=CANARY, OPENAI_BASE_URL=api.url + "/v1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "marketing_image.png").read_bytes() == image
    generate, fetch = api.requests
    assert "Hand-made ceramic mug" in generate.json()["prompt"]
    assert "response_format" not in generate.json()   # gpt-image-1 always answers in base64 and refuses it
    assert fetch.path == "/cdn/img-1.png" and "Authorization" not in fetch.headers


@pytest.mark.parametrize("answer, said", [
    ({"data": []}, "the answer has no `data`"),
    ({"data": [{"b64_json": "not base64!"}]}, "data[0].b64_json is not valid base64"),
    ({"data": [{"revised_prompt": "x"}]}, "data[0] has neither `b64_json` nor `url`"),
])
def test_marketing_image_saves_nothing_from_an_answer_without_an_image(tmp_path, environment, api, bodies,
                                                                       answer, said):
    reply = bodies("createImage", created=1700000000, **answer)
    api.default = routed({("POST", "/v1/images/generations"): lambda r: reply})
    done = run("marketing_image.py", "A mug", cwd=tmp_path, env=environment, OPENAI_API_KEY=CANARY,
               OPENAI_BASE_URL=api.url + "/v1")
    assert done.returncode == 1 and f"error: no image saved: {said}" in done.stderr
    assert not (tmp_path / "marketing_image.png").exists()


def test_marketing_image_without_a_description_is_a_usage_error(tmp_path, environment):
    done = run("marketing_image.py", cwd=tmp_path, env=environment, stdin="  \n")
    assert done.returncode == 2 and "no product description" in done.stderr


def test_a_bad_configuration_file_stops_an_example_with_its_message(tmp_path, environment):
    (tmp_path / "dynclient.toml").write_text('base_ur = "http://127.0.0.1:9"\n')
    done = run("marketing_image.py", "A mug", cwd=tmp_path, env=environment)
    assert done.returncode == 2
    assert f"error: {tmp_path / 'dynclient.toml'}: unknown key 'base_ur'; did you mean 'base_url'?" in done.stderr
