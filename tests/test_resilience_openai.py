"""Streams, pagination and downloads on OpenAI's own documents, against the mock server and a
server that speaks their event schemas."""

from __future__ import annotations

import json

import pytest

import dynclient
from dynclient import PaginationError, ResponseValidationError
from dynclient.pagination import page_rule
from dynclient.schema import schema_kind, schema_properties
from dynclient.testing.mock import serve

from faultserver import FaultServer, sse

CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}


@pytest.fixture(scope="module")
def spec_2025_loaded(spec_2025):
    return dynclient.Spec(spec_2025)


@pytest.fixture(scope="module")
def spec_2026_loaded(spec_2026):
    return dynclient.Spec(spec_2026)


@pytest.mark.parametrize("which", ["spec_2025_loaded", "spec_2026_loaded"])
def test_every_cursor_operation_has_an_inferred_page_rule(which, request):
    spec = request.getfixturevalue(which)
    paging = [op for op in spec if any(p.name == "after" and p.location == "query" for p in op.parameters)]
    assert len(paging) >= 30
    for op in paging:
        rule = page_rule(spec, op)
        assert rule.cursor == "after" and rule.items == "data" and rule.more == "has_more", op.operation_id
        if not rule.next_fields:   # then the cursor is the last item's id: the items must have one
            resolve = lambda ref: spec.resolve_pointer(ref[1:])   # noqa: E731
            page = schema_properties(op.response_for(200).content["application/json"].schema, resolve)
            kind, items = schema_kind(page["data"], resolve)
            assert kind == "array" and "id" in schema_properties(items, resolve), op.operation_id


def test_operations_without_a_cursor_do_not_page(spec_2025_loaded):
    for op in spec_2025_loaded:
        if not any(p.location == "query" and p.name == "after" for p in op.parameters):
            with pytest.raises(PaginationError):
                page_rule(spec_2025_loaded, op)


def test_paginate_assistants_on_the_mock(spec_2025_loaded):
    with serve(spec_2025_loaded) as base_url:
        client = dynclient.Client(spec_2025_loaded, base_url=base_url, api_key="sk-test")
        created = [client.call("createAssistant", {"model": "gpt-4o", "name": f"a{i}"})["id"] for i in range(5)]
        assert [a["id"] for a in client.paginate("listAssistants", limit=2, order="asc")] == created
        pages = list(client.paginate("listAssistants", limit=2, order="asc").pages())
        assert [len(p["data"]) for p in pages] == [2, 2, 1] and pages[-1]["has_more"] is False


def test_chat_completion_stream_on_the_mock(spec_2025_loaded):
    with serve(spec_2025_loaded) as base_url:
        client = dynclient.Client(spec_2025_loaded, base_url=base_url, api_key="sk-test")
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        with client.stream("createChatCompletion", body) as events:
            got = list(events)
        assert got and all(e.data["object"] == "chat.completion.chunk" for e in got)


def test_speech_download_on_the_mock(spec_2025_loaded, tmp_path):
    with serve(spec_2025_loaded) as base_url:
        client = dynclient.Client(spec_2025_loaded, base_url=base_url, api_key="sk-test")
        result = client.download("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"},
                                 to=tmp_path / "speech.mp3")
        data = (tmp_path / "speech.mp3").read_bytes()
        assert result.status == 200 and data
        assert data == client.call("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"})


def test_chat_completion_chunks_are_validated_against_the_document(spec_2025_loaded):
    with FaultServer() as srv:
        client = dynclient.Client(spec_2025_loaded, base_url=srv.url, api_key="sk-test")
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        good = f"data: {json.dumps(CHUNK)}\n\n"
        bad = f"data: {json.dumps({**CHUNK, 'object': 'chat.completion'})}\n\n"
        srv.queue(sse([good, good, "data: [DONE]\n\n"]), sse([good, bad]))
        assert len(list(client.stream("createChatCompletion", body))) == 2
        assert json.loads(srv.attempts[0].body)["stream"] is True
        with pytest.raises(ResponseValidationError) as info:
            list(client.stream("createChatCompletion", body))
        assert info.value.pointer == "/object"
