"""One sweep for a canary credential across everything a user can see.

A scenario drives the client through successes, retries, status errors, a
refused request, a stream, warn-mode validation and a recorded calls file,
with every logger (ours and urllib3's) at DEBUG. Then the canary is looked for
in: all log text, repr and str of the client, prepared requests, results,
streams and every exception raised, and the recorded calls file.
"""

from __future__ import annotations

import logging

import pytest

import dynclient
from dynclient import DynclientError

from faultserver import FaultServer, error_reply, json_reply, reset, sse
from test_resilience import SPEC

CANARY = "sk-sweep-canary-7d1c0e9a"
QUERY_SPEC = {**SPEC, "components": {**SPEC["components"], "securitySchemes": {
    "bearer": {"type": "http", "scheme": "bearer"},
    "key": {"type": "apiKey", "in": "query", "name": "api_key"}}},
    "security": [{"key": []}]}


@pytest.mark.parametrize("spec, how", [(SPEC, "bearer"), (QUERY_SPEC, "query")])
def test_the_canary_appears_nowhere(spec, how, tmp_path, caplog):
    seen: list[str] = []
    record = tmp_path / "calls.jsonl"
    with FaultServer() as srv, caplog.at_level(logging.DEBUG):
        client = dynclient.Client(spec, base_url=srv.url, api_key=CANARY, record=str(record),
                                  retry=dynclient.RetryPolicy(initial_delay=0.001), max_retries=1,
                                  validate_responses="warn")
        seen += [repr(client), str(client)]
        srv.queue(error_reply(503), json_reply({"id": "t1"}),          # retried, then fine
                  error_reply(401), error_reply(500), error_reply(500),  # status errors
                  reset, reset,                                          # connection error
                  json_reply({"wrong": True}),                           # warn-mode mismatch
                  sse(['data: {"delta": "a"}\n\n', 'event: error\ndata: {"error": {"message": "x"}}\n\n']))
        prepared = client.prepare("getThing", id="t1")
        seen += [repr(prepared), str(prepared), repr(prepared.headers)]
        result = client.call_raw("getThing", id="t1")
        seen += [repr(result), str(result)]
        for action in (lambda: client.call("getThing", id="t1"),
                       lambda: client.call("getThing", id="t1"),
                       lambda: client.call("getThing", id="t1"),
                       lambda: client.call("getThing", id="t1"),
                       lambda: list(client.stream("chat", {"prompt": "p"})),
                       lambda: client.call("getThing", id="bad/../id"),
                       lambda: client.call("createThing", {"name": 5}),
                       lambda: client.call("getThing", id="t1", headers={"X-Bad": "a\nb"})):
            try:
                seen.append(repr(action()))
            except DynclientError as exc:
                seen += [str(exc), repr(exc), repr(exc.__dict__)]
        assert len(srv.attempts) >= 8
        if how == "query":
            assert CANARY in srv.attempts[0].target, "the credential did travel, in the query"
        else:
            assert srv.attempts[0].headers["authorization"] == f"Bearer {CANARY}"
    seen.append(caplog.text)
    seen += [r.getMessage() for r in caplog.records]
    seen.append(record.read_text())
    assert caplog.records, "the scenario logged nothing: the sweep would prove nothing"
    leaks = [text[:200] for text in seen if CANARY in text]
    assert not leaks, leaks
