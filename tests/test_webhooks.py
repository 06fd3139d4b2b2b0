"""Webhooks: the Standard Webhooks signature, the document's events, the dispatcher, and the mock
sending real signed events to a listener over loopback sockets.

Signatures are computed here from the scheme's definition (HMAC-SHA256 of `{id}.{timestamp}.{body}`),
and cross-checked against the official `openai` package's `verify_signature`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import urllib3

import dynclient
from dynclient import webhooks
from dynclient.errors import ConfigError, WebhookEventError, WebhookVerificationError
from dynclient.testing.mock import MockServer

RAW_KEY = b"a webhook key of thirty-two bytes"
SECRET = "whsec_" + base64.b64encode(RAW_KEY).decode()
EVENT_SCHEMA = {"type": "object", "required": ["id", "type", "created_at", "data"], "properties": {
    "id": {"type": "string"}, "object": {"type": "string", "enum": ["event"]},
    "created_at": {"type": "integer"},
    "data": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}


def event_schema(event_type: str) -> dict:
    schema = json.loads(json.dumps(EVENT_SCHEMA))
    schema["properties"]["type"] = {"type": "string", "enum": [event_type]}
    return schema


BATCH = {"type": "object", "required": ["id", "object", "status"], "properties": {
    "id": {"type": "string"}, "object": {"type": "string", "enum": ["batch"]},
    "status": {"type": "string", "enum": ["validating", "in_progress", "completed", "cancelled"]},
    "input_file_id": {"type": "string"}}}
DOCUMENT = {
    "openapi": "3.1.0", "info": {"title": "Hooks", "version": "1"},
    "servers": [{"url": "http://127.0.0.1/v1"}],
    "components": {"schemas": {"Batch": BATCH, "BatchCompleted": event_schema("batch.completed"),
                               "BatchCancelled": event_schema("batch.cancelled")}},
    "paths": {
        "/batches": {"post": {"operationId": "createBatch", "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "properties": {"input_file_id": {"type": "string"}}}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"}}}}}}},
        "/batches/{batch_id}": {"get": {"operationId": "retrieveBatch", "parameters": [
            {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"}}}}}}},
        "/batches/{batch_id}/cancel": {"post": {"operationId": "cancelBatch", "parameters": [
            {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"}}}}}}},
    },
    "webhooks": {
        "batch_completed": {"post": {"summary": "Sent when a batch has completed.", "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchCompleted"}}}},
            "responses": {"200": {"description": "ok"}}}},
        "batch_cancelled": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/BatchCancelled"}}}}, "responses": {"200": {"description": "ok"}}}},
    },
}


@pytest.fixture(scope="module")
def spec():
    return dynclient.Spec(DOCUMENT)


def event(event_type: str = "batch.completed", **changes) -> bytes:
    body = {"id": "evt_1", "object": "event", "type": event_type, "created_at": 1_700_000_000,
            "data": {"id": "batch_1"}, **changes}
    return json.dumps(body).encode()


def signed(payload: bytes, key: bytes = RAW_KEY, webhook_id: str = "msg_1", timestamp: int | None = None,
           extra: list[str] = ()) -> dict:
    """Headers as the scheme defines them, computed here, independently of dynclient."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join([*extra, "v1," + base64.b64encode(mac).decode()])}


# --- the signature -----------------------------------------------------------------------


def test_a_signature_made_by_the_schemes_definition_verifies():
    payload = event()
    webhooks.verify(payload, signed(payload), SECRET)
    webhooks.verify(payload.decode(), signed(payload), SECRET)           # text payload
    webhooks.verify(payload, signed(payload, key=b"plain"), "plain")     # a raw secret
    assert webhooks.sign(payload, SECRET, webhook_id="msg_1", timestamp=5)["webhook-signature"] == \
        signed(payload, timestamp=5)["webhook-signature"]


@pytest.mark.parametrize("case, check", [
    ("tampered body", "signature"),
    ("wrong secret", "signature"),
    ("too old", "timestamp"),
    ("too new", "timestamp"),
    ("not a number", "timestamp"),
    ("no v1 entry", "signature"),
    ("missing header", "headers"),
    ("duplicated header", "headers"),
])
def test_each_failed_check_is_named_and_the_secret_never_shown(case, check):
    payload = event()
    headers: object = signed(payload)
    if case == "tampered body":
        payload = payload.replace(b"batch_1", b"batch_2")
    elif case == "wrong secret":
        headers = signed(payload, key=b"another key")
    elif case == "too old":
        headers = signed(payload, timestamp=int(time.time()) - 301)
    elif case == "too new":
        headers = signed(payload, timestamp=int(time.time()) + 301)
    elif case == "not a number":
        headers = {**headers, "webhook-timestamp": "1e9"}
    elif case == "no v1 entry":
        headers = {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}
    elif case == "missing header":
        del headers["webhook-id"]
    elif case == "duplicated header":
        headers = [*headers.items(), ("Webhook-Id", "msg_2")]
    with pytest.raises(WebhookVerificationError) as info:
        webhooks.verify(payload, headers, SECRET)
    assert info.value.check == check
    shown = str(info.value) + repr(info.value)
    assert SECRET not in shown and base64.b64encode(RAW_KEY).decode() not in shown
    assert signed(event())["webhook-signature"][3:] not in shown


def test_one_valid_signature_among_several_is_enough():
    payload = event()
    headers = signed(payload, extra=["v1,bm90IGl0", "v1a,c29tZXRoaW5nIGVsc2U="])
    webhooks.verify(payload, headers, SECRET)


@pytest.mark.parametrize("case", ["valid", "tampered", "wrong secret", "too old", "too new", "several",
                                  "raw secret"])
def test_the_official_package_accepts_and_rejects_alike(case):
    openai = pytest.importorskip("openai")
    payload, secret, key = event(), SECRET, RAW_KEY
    if case == "raw secret":
        secret, key = "a plain secret", b"a plain secret"
    headers = signed(payload, key=key)
    if case == "tampered":
        payload = payload + b" "
    elif case == "wrong secret":
        headers = signed(payload, key=b"not it")
    elif case == "too old":
        headers = signed(payload, key=key, timestamp=int(time.time()) - 1000)
    elif case == "too new":
        headers = signed(payload, key=key, timestamp=int(time.time()) + 1000)
    elif case == "several":
        headers = signed(payload, key=key, extra=["v1,d3Jvbmc="])
    theirs = openai.OpenAI(api_key="sk-unused", webhook_secret=secret).webhooks
    try:
        theirs.verify_signature(payload, headers, secret=secret)
        they_accept = True
    except openai.InvalidWebhookSignatureError:
        they_accept = False
    try:
        webhooks.verify(payload, headers, secret)
        we_accept = True
    except WebhookVerificationError:
        we_accept = False
    assert we_accept == they_accept == (case in ("valid", "several", "raw secret"))


def test_a_bad_secret_is_refused_when_the_dispatcher_is_made(spec):
    for secret in ("", "whsec_not*base64", b""):
        with pytest.raises(WebhookVerificationError):
            webhooks.Webhooks(spec, secret)


# --- the event -------------------------------------------------------------------------


def test_the_documents_events_are_indexed_by_type(spec):
    assert set(spec.webhooks) == {"batch.completed", "batch.cancelled"}
    assert spec.webhooks["batch.completed"].name == "batch_completed"


def test_unwrap_gives_the_validated_event(spec):
    payload = event()
    assert webhooks.unwrap(payload, signed(payload), SECRET, spec=spec)["data"] == {"id": "batch_1"}


@pytest.mark.parametrize("payload, message", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not an event"),
    (event(data={"id": 5}), "/data/id"),
    (event(created_at="yesterday"), "/created_at"),
    (event("batch.exploded"), "not an event of Hooks"),
])
def test_an_event_outside_the_document_is_refused(spec, payload, message):
    with pytest.raises(WebhookEventError) as info:
        webhooks.unwrap(payload, signed(payload), SECRET, spec=spec)
    assert message in str(info.value)


def test_an_unknown_type_passes_with_a_warning_when_not_strict(spec, caplog):
    payload = event("batch.exploded")
    assert webhooks.unwrap(payload, signed(payload), SECRET, spec=spec, strict=False)["type"] == "batch.exploded"
    assert "batch.exploded" in caplog.text


def test_the_2026_document_declares_sixteen_events(spec_2026):
    spec = dynclient.Spec(spec_2026)
    assert len(spec.webhooks) == 16 and "batch.completed" in spec.webhooks
    payload = event()
    assert webhooks.unwrap(payload, signed(payload), SECRET, spec=spec)["type"] == "batch.completed"


# --- the dispatcher --------------------------------------------------------------------


def test_handle_answers_as_a_sender_expects(spec):
    hooks = webhooks.Webhooks(spec, SECRET, seen=True, max_bytes=2000)
    got, fail = [], [True]

    @hooks.on("batch.completed")
    def on_done(evt):
        if fail[0]:
            fail[0] = False
            raise RuntimeError("the database is down")
        got.append(evt["data"]["id"])

    payload = event()
    headers = signed(payload)
    assert hooks.handle(payload, headers)[0] == 500            # the sender retries
    assert hooks.handle(payload, headers) == (200, {"ok": True})
    assert hooks.handle(payload, headers) == (200, {"ok": True, "duplicate": True})   # not handled twice
    assert got == ["batch_1"]
    assert hooks.handle(payload + b" ", headers)[0] == 400     # tampered
    big = event(data={"id": "x" * 3000})
    assert hooks.handle(big, signed(big))[0] == 413
    other = event("batch.cancelled")
    assert hooks.handle(other, signed(other, webhook_id="msg_9")) == (200, {"ok": True})   # no handler: fine
    with pytest.raises(ConfigError):
        hooks.on("batch.exploded")
    assert SECRET not in repr(hooks)


class Listener:
    """`hooks.wsgi_app()` under wsgiref on a loopback port, in a thread."""

    def __init__(self, app):
        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass
        self.server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_wsgi_app_over_a_real_socket(spec):
    hooks = webhooks.Webhooks(spec, SECRET)
    got = []
    hooks.on("*")(got.append)
    listener = Listener(hooks.wsgi_app())
    try:
        payload = event()
        answer = urllib3.request("POST", listener.url, body=payload, headers=signed(payload))
        assert answer.status == 200 and got and got[0]["type"] == "batch.completed"
        assert urllib3.request("POST", listener.url, body=payload, headers=signed(payload, key=b"x")).status == 400
        assert urllib3.request("GET", listener.url).status == 405
    finally:
        listener.close()


def test_the_asgi_app_awaits_coroutine_handlers(spec):
    hooks = webhooks.Webhooks(spec, SECRET, max_bytes=500)
    got = []

    @hooks.on("batch.completed")
    async def on_done(evt):
        await asyncio.sleep(0)
        got.append(evt["id"])

    async def call(body: bytes, headers: dict, pieces: int = 2) -> tuple[int, dict]:
        cut = len(body) // pieces
        messages = [{"type": "http.request", "body": body[:cut], "more_body": True},
                    {"type": "http.request", "body": body[cut:], "more_body": False}]
        sent = []

        async def receive():
            return messages.pop(0)

        async def send(message):
            sent.append(message)
        scope = {"type": "http", "method": "POST", "path": "/",
                 "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
        await hooks.asgi_app()(scope, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    payload = event()
    assert asyncio.run(call(payload, signed(payload))) == (200, {"ok": True}) and got == ["evt_1"]
    assert asyncio.run(call(payload, signed(payload, key=b"x")))[0] == 400
    big = event(data={"id": "y" * 600})
    assert asyncio.run(call(big, signed(big)))[0] == 413


# --- the mock sends them ------------------------------------------------------------------


def test_the_mock_sends_signed_events_the_listener_verifies(spec):
    hooks = webhooks.Webhooks(spec, SECRET)
    got = []
    hooks.on("*")(got.append)
    listener = Listener(hooks.wsgi_app())
    try:
        with MockServer(DOCUMENT, require_auth=False, webhook_url=listener.url, webhook_secret=SECRET) as mock:
            client = dynclient.Client(DOCUMENT, base_url=mock.base_url)
            batch = client.call("createBatch", {"input_file_id": "file-1"})
            assert batch["status"] == "validating"
            done = client.call("createBatch", {}, headers={"Prefer": 'dynclient-override={"status": "completed"}'})
            cancelled = client.call("cancelBatch", batch_id=batch["id"])
            assert cancelled["status"] == "cancelled"
            client.call("retrieveBatch", batch_id=batch["id"])            # the same state: no second event
            assert mock.app.webhooks.wait_idle(10)
            deliveries = mock.app.webhooks.deliveries
    finally:
        listener.close()
    assert sorted((e["type"], e["data"]["id"]) for e in got) == sorted(
        [("batch.completed", done["id"]), ("batch.cancelled", batch["id"])])
    assert all(d.delivered and d.statuses == (200,) for d in deliveries)


def test_the_mock_retries_an_endpoint_that_fails_then_gives_up(spec):
    answers, seen_ids = [500, 503, 200], []

    def app(environ, start_response):
        seen_ids.append(environ.get("HTTP_WEBHOOK_ID"))
        status = answers.pop(0) if answers else 500
        start_response(f"{status} X", [("Content-Length", "0")])
        return [b""]
    listener = Listener(app)
    try:
        with MockServer(DOCUMENT, require_auth=False, webhook_url=listener.url, webhook_secret=SECRET) as mock:
            mock.app.webhooks.backoff = 0.01
            client = dynclient.Client(DOCUMENT, base_url=mock.base_url)
            client.call("createBatch", {}, headers={"Prefer": 'dynclient-override={"status": "completed"}'})
            assert mock.app.webhooks.wait_idle(10)
            first = mock.app.webhooks.deliveries[-1]
            client.call("createBatch", {}, headers={"Prefer": 'dynclient-override={"status": "completed"}'})
            assert mock.app.webhooks.wait_idle(10)
            second = mock.app.webhooks.deliveries[-1]
    finally:
        listener.close()
    assert first.statuses == (500, 503, 200) and first.delivered
    assert len(set(seen_ids[:3])) == 1, "one webhook-id on every attempt"
    assert second.statuses == (500,) * 5 and not second.delivered


def test_the_mock_needs_a_secret_and_a_document_with_webhooks(spec_2025):
    with pytest.raises(ValueError, match="webhook_secret"):
        MockServer(DOCUMENT, webhook_url="http://127.0.0.1:9/")
    with pytest.raises(ValueError, match="declares no webhooks"):
        MockServer(spec_2025, webhook_url="http://127.0.0.1:9/", webhook_secret=SECRET)


def test_listen_and_mock_from_the_command_line(tmp_path, spec_2026):
    """`dynclient webhooks listen` prints the event `dynclient mock --webhook-url` sends when a batch of
    OpenAI's 2026 document completes."""
    dynclient_cli = str(Path(sys.executable).with_name("dynclient"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "OPENAI_WEBHOOK_SECRET": SECRET}
    listen = subprocess.Popen([dynclient_cli, "webhooks", "listen", str(spec_2026), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    mock = subprocess.Popen([dynclient_cli, "mock", str(spec_2026), "--port", "0", "--no-auth",
                             "--webhook-url", f"http://127.0.0.1:{port}/", "--webhook-secret", SECRET],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in listen.stderr.readline()
        base_url = mock.stdout.readline().rsplit(" at ", 1)[1].strip()
        client = dynclient.Client(dynclient.Spec(spec_2026), base_url=base_url)
        upload = client.call("createFile", {"file": ("in.jsonl", b'{"custom_id": "1"}\n'), "purpose": "batch"})
        batch = client.call("createBatch", {"input_file_id": upload["id"], "endpoint": "/v1/chat/completions",
                                            "completion_window": "24h"},
                            headers={"Prefer": 'dynclient-override={"status": "completed"}'})
        printed = json.loads(listen.stdout.readline())
        assert printed["type"] == "batch.completed" and printed["data"]["id"] == batch["id"]
    finally:
        for process in (listen, mock):
            process.terminate()
            process.wait(10)


# --- describe and diff --------------------------------------------------------------------


def test_describe_shows_an_events_payload(spec):
    from dynclient.describe import describe, render_text
    info = describe(spec, "batch.completed")
    assert info["operation_id"] == "batch.completed" and info["path"] == "webhook batch_completed"
    text = render_text(info, 100)
    assert "data  object, required" in text and "Sent when a batch has completed." in text


def test_diff_reports_events_added_removed_and_a_widened_payload():
    from dynclient.evolve.diff import diff
    newer = json.loads(json.dumps(DOCUMENT))
    del newer["webhooks"]["batch_cancelled"]
    newer["components"]["schemas"]["BatchFailed"] = event_schema("batch.failed")
    newer["webhooks"]["batch_failed"] = {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/BatchFailed"}}}}, "responses": {"200": {"description": "ok"}}}}
    newer["components"]["schemas"]["BatchCompleted"]["properties"]["object"]["enum"] = ["event", "notification"]
    changes = diff(dynclient.Spec(DOCUMENT), dynclient.Spec(newer))
    found = {(c.kind, c.operation_id, c.breaking) for c in changes}
    assert ("webhook-added", "batch.failed", False) in found
    assert ("webhook-removed", "batch.cancelled", True) in found
    assert ("response-enum-value-added", "batch.completed", True) in found   # a receiver meets a new value


def test_a_spec_used_to_check_events_is_freed_once_nothing_holds_it():
    # The validators compiled for its events go with it (Spec.schemas), not into a table that keeps it
    import gc
    import weakref
    spec = dynclient.Spec(json.loads(json.dumps(DOCUMENT)))
    body = json.dumps({"id": "evt_1", "type": "batch.completed", "created_at": 1, "data": {"id": "batch_1"}})
    assert webhooks.parse_event(body, spec)["type"] == "batch.completed"
    gone = weakref.ref(spec)
    del spec
    gc.collect()
    assert gone() is None
