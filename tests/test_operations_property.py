"""The core property over every operation of the 2025-04-29 document.

From generated arguments (``dynclient.testing.strategies``), the local server
receives the right method, path, query, headers and body, and the drawn
response comes back decoded and validated, for each of the 148 operations.

The expected wire form is computed here from the OpenAPI rules, not with
``dynclient.params``: path values percent-encoded whole (``quote(v, safe="")``),
query ``form`` parameters exploded (arrays repeat the name, objects give their
own keys), ``deepObject`` as ``name[key]``, booleans as ``true``/``false``,
multipart fields one part per value (files as bytes, objects as JSON).

One TestServer and one Client serve the whole module (Hypothesis and
function-scoped fixtures do not mix); each example resets the server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import dynclient  # noqa: E402
from dynclient.core.call import MISSING  # noqa: E402
from dynclient.testing import strategies as ds  # noqa: E402
from httpserver import Reply, TestServer  # noqa: E402

CORPUS = Path(os.environ.get("DYNCLIENT_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai")
SPEC_2025 = CORPUS / "openai-2025-04-29.yaml"
EXAMPLES = int(os.environ.get("DYNCLIENT_PROPERTY_EXAMPLES", "4"))


def _operation_ids() -> list:
    if not SPEC_2025.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"OpenAI spec corpus not found at {CORPUS}"))]
    return list(dynclient.Spec(SPEC_2025).operations)


OPERATION_IDS = _operation_ids()


@pytest.fixture(scope="module")
def wire():
    if not SPEC_2025.is_file():
        pytest.skip(f"OpenAI spec corpus not found at {CORPUS}")
    server = TestServer()
    client = dynclient.Client(SPEC_2025, base_url=server.url, api_key="sk-test")
    try:
        yield server, client
    finally:
        client.close()
        server.close()


# --- the expected wire form, from the OpenAPI rules -----------------------------------------


def as_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def canonical(value: Any) -> str:
    """JSON text that tells True from 1 (Python's == does not)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def expected_path(op: dynclient.Operation, params: dict) -> str:
    path = op.path
    for p in op.parameters:
        if p.location == "path":
            path = path.replace("{" + p.name + "}", quote(as_text(params[p.name]), safe=""))
    return path


def expected_query(op: dynclient.Operation, params: dict) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []

    def deep(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if item is not None:
                    deep(f"{prefix}[{key}]", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):   # numbered, as Stripe reads them
                if item is not None:
                    deep(f"{prefix}[{index}]", item)
        else:
            pairs.append((prefix, as_text(value)))

    for p in op.parameters:
        if p.location != "query" or p.name not in params:
            continue
        value = params[p.name]
        if value is None and not p.required:
            continue   # None leaves an optional parameter out
        if p.style == "deepObject" and isinstance(value, dict):
            deep(p.name, value)
        elif isinstance(value, list):
            assert (p.style, p.explode) == ("form", True), "only exploded form arrays in this document"
            pairs.extend((p.name, as_text(item)) for item in value)
        elif isinstance(value, dict):
            assert (p.style, p.explode) == ("form", True), "only exploded form objects in this document"
            pairs.extend((key, as_text(item)) for key, item in value.items() if item is not None)
        else:
            pairs.append((p.name, as_text(value)))
    return pairs


def check_multipart(recorded, body: dict) -> None:
    expected = [(name, item) for name, value in body.items()
                for item in (value if isinstance(value, list) else [value]) if item is not None]
    parts = recorded.multipart()
    assert [part.name for part in parts] == [name for name, _ in expected]
    for part, (name, item) in zip(parts, expected):
        if isinstance(item, (bytes, bytearray)):
            assert part.data == item, name
            assert part.filename == name, name
        elif isinstance(item, (dict, list)):
            assert part.content_type == "application/json", name
            assert canonical(json.loads(part.data)) == canonical(item), name
        else:
            assert part.filename is None, name
            assert part.data.decode("utf-8") == as_text(item), name


def success_status(op: dynclient.Operation) -> str:
    return "200" if "200" in op.responses else next(s for s in op.responses if s.startswith("2"))


# --- the property ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_every_operation_sends_what_was_drawn_and_validates_the_reply(wire, operation_id, data):
    server, client = wire
    op = client.spec[operation_id]

    params = data.draw(ds.parameters(client, operation_id), label="params")
    body, content_type = MISSING, None
    if op.request_body and op.request_body.content and (
            op.request_body.required or data.draw(st.booleans(), label="send a body")):
        content_type = data.draw(st.sampled_from(list(op.request_body.content)), label="content type")
        body = data.draw(ds.request_body(client, operation_id, content_type), label="body")
    status = success_status(op)
    declared = list(op.responses[status].content)
    reply_type = data.draw(st.sampled_from(declared), label="reply type") if declared else None
    reply = data.draw(ds.response_body(client, operation_id, status, reply_type), label="reply")

    server.reset()
    server.reply(Reply(status=int(status), headers={"Content-Type": reply_type} if reply_type else {},
                       body=ds.encode_response_body(reply, reply_type or "")))
    result = client.call_raw(operation_id, body, params=params, content_type=content_type)

    sent = server.last
    assert sent.method == op.method
    assert sent.path == expected_path(op, params)
    assert sorted(sent.query_pairs()) == sorted(expected_query(op, params))
    assert sent.headers["Authorization"] == "Bearer sk-test"
    for p in op.parameters:
        if p.location == "header" and params.get(p.name) is not None:
            assert sent.headers[p.name] == as_text(params[p.name])
    if body is MISSING:
        assert sent.body == b""
        assert "Content-Type" not in sent.headers
    elif content_type == "application/json":
        assert sent.headers["Content-Type"] == "application/json"
        assert canonical(json.loads(sent.body)) == canonical(body)
    elif content_type == "multipart/form-data":
        assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        check_multipart(sent, body)
    else:
        pytest.fail(f"no check for {content_type} bodies")

    assert result.status == int(status)
    if reply_type == "text/event-stream":
        assert [canonical(event.data) for event in result.body] == [canonical(event.data) for event in reply]
    elif reply_type is None or isinstance(reply, bytes):
        assert result.body == reply
    else:
        assert canonical(result.body) == canonical(reply)
    assert server.errors == []


def test_the_property_covers_every_operation():
    if not SPEC_2025.is_file():
        pytest.skip(f"OpenAI spec corpus not found at {CORPUS}")
    assert len(OPERATION_IDS) == 148


def test_event_stream_data_may_hold_unicode_line_separators(wire):
    """An SSE line ends at CR, LF or CRLF only (WHATWG HTML, server-sent events); U+0085, U+2028 and
    U+2029 are data, and JSON may carry them unescaped. Found by the property above (createChatCompletion
    and createTranscription streams with a '\\x85' in a string)."""
    server, client = wire
    chunk = {"id": "c\x85", "object": "chat.completion.chunk", "created": 0, "model": "m\u2028x\u2029",
             "choices": []}
    server.reset()
    server.reply(Reply(headers={"Content-Type": "text/event-stream"},
                       body=("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\ndata: [DONE]\n\n").encode()))
    result = client.call_raw("createChatCompletion", {"model": "gpt-4o", "stream": True,
                                                      "messages": [{"role": "user", "content": "hi"}]})
    assert [event.data for event in result.body] == [chunk]
