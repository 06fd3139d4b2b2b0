"""The round trip, over real sockets, for every operation of 2025-04-29 (3.0) and 2026-08-21 (3.1).

For each operation: arguments drawn by ``dynclient.testing.strategies`` go
through the Client to the mock and come back as a response the Client
validated strictly (``validate_responses="strict"``), with a declared 2xx
status. An operation on one item (``GET /assistants/{assistant_id}``, or an
action on it such as ``POST /threads/{thread_id}/runs/{run_id}/cancel``) is
first given an item: the collection's create operation is called with a drawn
body and the new id replaces the drawn one, so the answer is the object, not a
404. The mock keeps files and runs batches (testing/batches.py), so a drawn
`file_id` of downloadFile and a drawn `input_file_id` of createBatch are
replaced by an uploaded file's, and batches take an hour (they stay
`validating`, so cancelBatch finds one it may cancel).

Invalid bodies (``strategies.invalid_request_body``) are refused by the Client
before anything is sent (the mock's request log does not move) and, forced past
it as the same bytes with a raw urllib3 request, refused by the mock with a 400
in the error shape the operation declares (OpenAI's wrapper, or the bare
``Error`` a few operations declare). The raw check is for JSON bodies: a
multipart or form field is text on the wire, so a mutation such as a number
where a string is expected cannot be seen there (``5`` and ``"5"`` are the
same field).

``tests/test_operations_property.py`` checks the wire form against a recording
server; this file checks the mock and the strategies against each other.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")
import urllib3  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import dynclient  # noqa: E402
from dynclient import codecs  # noqa: E402
from dynclient.core.call import MISSING  # noqa: E402
from dynclient.testing import strategies as ds  # noqa: E402
from dynclient.testing.mock import MockServer  # noqa: E402

CORPUS = Path(os.environ.get("DYNCLIENT_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai")
DOCUMENTS = {"2025": CORPUS / "openai-2025-04-29.yaml", "2026": CORPUS / "openai-2026-08-21.yaml"}
EXAMPLES = int(os.environ.get("DYNCLIENT_MOCK_EXAMPLES", "2"))   # per operation; raise it to search harder


def few(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _cases(invalid: bool = False) -> list:
    cases = []
    for name, path in DOCUMENTS.items():
        if not path.is_file():
            cases.append(pytest.param(name, None, marks=pytest.mark.skip(reason=f"OpenAI spec {path} not found")))
            continue
        for op in dynclient.Spec(path):
            if invalid and not _json_body(op):
                continue
            cases.append(pytest.param(name, op.operation_id, id=f"{name}-{op.operation_id}"))
    return cases


def _json_body(op) -> str | None:
    """The operation's JSON request media type, if it has one with a schema."""
    content = op.request_body.content if op.request_body else {}
    return next((k for k, m in content.items() if codecs.media_essence(k) == "application/json"
                 and m.schema is not None), None)


@pytest.fixture(scope="module")
def mocks():
    """One mock and one Client per document for the module (Hypothesis and function fixtures do not mix)."""
    started: dict[str, tuple[MockServer, dynclient.Client]] = {}
    yield started
    for server, client in started.values():
        client.close()
        server.stop()


def mock_for(mocks: dict, name: str) -> tuple[MockServer, dynclient.Client]:
    if name not in mocks:
        server = MockServer(DOCUMENTS[name], batch_seconds=3600).start()
        mocks[name] = server, dynclient.Client(server.app.spec, base_url=server.base_url, api_key="sk-test")
    return mocks[name]


def draw_body(data, client, op) -> tuple:
    if not (op.request_body and op.request_body.content) or not (
            op.request_body.required or data.draw(st.booleans(), label="send a body")):
        return MISSING, None
    content_type = data.draw(st.sampled_from(list(op.request_body.content)), label="content type")
    return data.draw(ds.request_body(client, op.operation_id, content_type), label="body"), content_type


def with_uploaded_files(server: MockServer, client, op, params: dict, body):
    """The body, and params changed in place, naming files the mock holds where it must hold them."""
    if not server.app.batches.active:
        return body
    # (downloadFile answers with the file's bytes, and both documents declare them a JSON string: so be it)
    upload = lambda: client.call("createFile", {"file": ("in.jsonl", b'"text"\n'), "purpose": "batch"})["id"]  # noqa: E731
    if op.operation_id == "downloadFile":
        params["file_id"] = upload()
    if op.operation_id == "createBatch" and isinstance(body, dict) and "input_file_id" in body:
        body = {**body, "input_file_id": upload()}
    return body


def create_in(data, server: MockServer, client, collection: str, params: dict) -> dict:
    """An object created through the collection's create operation, its parents created first
    (the mock answers 404 under a parent it never created)."""
    create = next(r.operation for r in server.app.routes if r.collection == collection and r.role == "create")
    # (the mock infers a collection only where a create operation answers with an object that has an id)
    give_it_parents(data, server, client, collection, params)
    parents = {p.name: params[p.name] for p in create.parameters if p.location == "path"}
    body, content_type = draw_body(data, client, create)
    body = with_uploaded_files(server, client, create, parents, body)
    if isinstance(body, dict) and body.get("stream") is True:
        body = {**body, "stream": False}   # the object, not a stream of events about it
    return client.call(create.operation_id, body, params=parents, content_type=content_type)


def give_it_parents(data, server: MockServer, client, collection: str | None, params: dict) -> None:
    """For a collection under an object of a kept collection (`/threads/{thread_id}/runs`), create
    that object and aim at it."""
    parent = re.fullmatch(r"(.+)/\{([^}/]+)\}/[^{}/]+", collection or "")
    if parent is not None and any(r.collection == parent.group(1) and r.role == "create" for r in server.app.routes):
        params[parent.group(2)] = create_in(data, server, client, parent.group(1), params)["id"]


def give_it_an_item(data, server: MockServer, client, op, params: dict) -> None:
    """For an operation on one item, create one through its collection and aim at it; for one on a
    collection, create the objects it hangs under."""
    route = next(r for r in server.app.routes if r.operation is op)
    if route.role in ("create", "list"):
        give_it_parents(data, server, client, route.collection, params)
    if route.role not in ("retrieve", "modify", "delete", "action"):
        return
    names = [p.name for p in op.parameters if p.location == "path"]
    params[names[-1]] = create_in(data, server, client, route.collection, params)["id"]


@pytest.mark.parametrize("document, operation_id", _cases())
@few(EXAMPLES)
@given(data=st.data())
def test_drawn_arguments_through_the_client_get_a_validated_answer(mocks, document, operation_id, data):
    server, client = mock_for(mocks, document)
    op = client.spec[operation_id]
    params = data.draw(ds.parameters(client, operation_id), label="params")
    give_it_an_item(data, server, client, op, params)
    body, content_type = draw_body(data, client, op)
    body = with_uploaded_files(server, client, op, params, body)
    result = client.call_raw(operation_id, body, params=params, content_type=content_type)   # strict validation
    assert str(result.status) in op.responses or f"{str(result.status)[0]}XX" in op.responses
    assert 200 <= result.status < 300


@pytest.mark.parametrize("document, operation_id", _cases(invalid=True))
@few(max(1, EXAMPLES // 2))
@given(data=st.data())
def test_invalid_bodies_are_stopped_by_the_client_and_by_the_mock(mocks, document, operation_id, data):
    server, client = mock_for(mocks, document)
    op = client.spec[operation_id]
    content_type = _json_body(op)
    params = data.draw(ds.parameters(client, operation_id, required_only=True), label="params")
    body = data.draw(ds.invalid_request_body(client, operation_id, content_type), label="invalid body")

    seen = len(server.app.requests)
    with pytest.raises(dynclient.RequestValidationError) as refused:
        client.call_raw(operation_id, body, params=params, content_type=content_type)
    assert refused.value.location == "body"
    assert len(server.app.requests) == seen   # nothing was sent

    forced = client.with_options(validate_requests=False).prepare(
        operation_id, body, params=params, content_type=content_type)
    response = urllib3.request(forced.method, forced.url, body=forced.body, headers=forced.headers,
                               retries=False, timeout=10)
    assert response.status == 400, response.data
    answer = json.loads(response.data)
    error = answer.get("error", answer)   # a few operations declare the bare `Error` object for 400
    assert error["type"] == "invalid_request_error" and operation_id in error["message"]
    assert "invalid body" in error["message"]
