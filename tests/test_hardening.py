"""Issue 14, the client side: each attack found by trying to break dynclient, over real sockets.

Credentials that could leave for another host (a path key that names a host, headers carried over a
cross-origin redirect, a secret in a log line), a POST re-sent with nothing to deduplicate it,
streams and calls with no bound, and raw Python exceptions where a typed error belongs.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from httpserver import Reply, TestServer

import dynclient
from dynclient import (APIConnectionError, APITimeoutError, DynclientError, ResponseDecodeError,
                       ResponseTooLargeError, SpecError)
from dynclient import RetryPolicy

from faultserver import head, json_reply, reset, sse

CANARY = "sk-hardening-canary-0123456789"
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01, max_retry_after=0.05)
OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def document(paths: dict, schemes: dict | None = None, security: list | None = None) -> dict:
    return {"openapi": "3.0.3", "info": {"title": "hardening", "version": "1"},
            "components": {"securitySchemes": schemes or {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": security if security is not None else [{"bearer": []}], "paths": paths}


def get(operation_id: str, **extra) -> dict:
    return {"get": {"operationId": operation_id, "responses": OK, **extra}}


@pytest.fixture
def other():
    srv = TestServer()
    try:
        yield srv
    finally:
        srv.close()


# --- 1. a path key cannot change scheme, host, port or route ------------------------------


@pytest.mark.parametrize("template", [
    "@127.0.0.1:{port}/steal",          # base + this = http://127.0.0.1:A@127.0.0.1:B/steal
    ":{port}/steal",                    # a port of its own
    "steal",                            # no leading slash at all
])
def test_a_path_key_without_a_leading_slash_cannot_reach_another_host(server, other, template, make_client):
    path = template.format(port=other.port)
    client = make_client(document({path: get("steal")}), base_url=server.url, api_key=CANARY)
    with pytest.raises(SpecError) as info:
        client.call("steal")
    assert "/paths/" in str(info.value) and "must begin with '/'" in str(info.value)
    assert other.requests == [] and server.requests == []


@pytest.mark.parametrize("template", ["/v1/../admin", "/./x", "/a/%2e%2e/b", "/a/%2E./b", "/a/..", "/x#frag",
                                      "/x?a=1#frag", "/x\r\nHost: evil", "/x y\t", "/x\x00"])
def test_dot_segments_fragments_and_control_characters_in_a_template_are_refused(server, template, make_client):
    client = make_client(document({template: get("bad")}), base_url=server.url + "/v1", api_key=CANARY)
    with pytest.raises(SpecError) as info:
        client.prepare("bad")
    assert "/paths/" in str(info.value)
    with pytest.raises(SpecError):
        client.call("bad")
    assert server.requests == []


def test_a_fixed_query_in_a_template_stays_a_query(server, make_client):
    # OpenAI's 2026 documents have `/responses?beta=true` path keys: the query is part of the route.
    paths = {"/things?beta=true": {"get": {"operationId": "things", "responses": OK, "parameters": [
        {"name": "limit", "in": "query", "schema": {"type": "integer"}}]}}}
    client = make_client(document(paths), base_url=server.url + "/v1", api_key=CANARY)
    server.reply(Reply(body={}))
    client.call("things", limit=3)
    assert server.last.path == "/v1/things" and server.last.query_pairs() == [("beta", "true"), ("limit", "3")]


def test_non_ascii_and_spaces_in_a_template_are_percent_encoded_not_sent_raw(server, make_client):
    client = make_client(document({"/café menu": get("menu")}), base_url=server.url, api_key=CANARY)
    server.reply(Reply(body={}))
    client.call("menu")
    assert server.last.target == "/caf%C3%A9%20menu"


# --- 2. a cross-origin redirect carries no credential ---------------------------------------


SCHEMES = {"bearer": {"type": "http", "scheme": "bearer"},
           "azure": {"type": "apiKey", "in": "header", "name": "api-key"}}


def test_a_cross_origin_redirect_strips_every_credential_and_caller_header(server, other, make_client):
    paths = {"/things": {"post": {"operationId": "create", "responses": OK, "parameters": [
                 {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
             "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    client = make_client(document(paths, SCHEMES, [{"bearer": [], "azure": []}]), base_url=server.url,
                              credentials={"bearer": CANARY, "azure": CANARY + "-azure"},
                              organization="org-secret-1", project="proj-secret-1",
                              headers={"x-api-key": CANARY + "-x", "X-Tenant": "tenant-7"})
    server.reply(Reply(status=307, headers={"Location": other.url + "/landing"}))
    other.reply(Reply(body={}))
    client.call("create", {"a": 1}, headers={"X-Per-Call": "private"}, X_Trace="trace-1")
    sent = server.last.headers
    assert sent["Authorization"] == f"Bearer {CANARY}" and sent["api-key"] == CANARY + "-azure"
    assert sent["OpenAI-Organization"] == "org-secret-1" and sent["X-Tenant"] == "tenant-7"
    arrived = other.last
    names = {name.lower() for name, _ in arrived.headers.raw}
    assert names <= {"host", "user-agent", "accept", "accept-encoding", "content-type", "content-length"}, names
    assert arrived.json() == {"a": 1}                     # a 307 keeps the method and the body
    assert CANARY not in repr(arrived.headers.raw)


def test_a_same_origin_redirect_keeps_the_headers(server, make_client):
    client = make_client(document({"/a": get("a"), "/b": get("b")}), base_url=server.url, api_key=CANARY,
                              organization="org-1", headers={"X-Tenant": "t"})
    server.reply(Reply(status=302, headers={"Location": "/b"}), Reply(body={}))
    client.call("a")
    second = server.requests[1]
    assert second.path == "/b" and second.headers["Authorization"] == f"Bearer {CANARY}"
    assert second.headers["OpenAI-Organization"] == "org-1" and second.headers["X-Tenant"] == "t"


def test_a_later_cross_origin_hop_strips_too_and_no_hop_comes_back_with_credentials(server, other, make_client):
    client = make_client(document({"/a": get("a")}), base_url=server.url, api_key=CANARY,
                              organization="org-1")
    # same origin, then another origin, then back to the first: the credentials are gone for good
    server.reply(Reply(status=302, headers={"Location": "/hop"}),
                 Reply(status=302, headers={"Location": other.url + "/away"}), Reply(body={}))
    other.reply(Reply(status=302, headers={"Location": server.url + "/back"}))
    client.call("a")
    assert [r.path for r in server.requests] == ["/a", "/hop", "/back"]
    assert server.requests[1].headers["Authorization"] == f"Bearer {CANARY}"
    for request in (other.last, server.requests[2]):
        assert "Authorization" not in request.headers and "OpenAI-Organization" not in request.headers


def test_a_redirect_to_another_scheme_or_port_is_cross_origin(server, other, make_client):
    client = make_client(document({"/a": get("a")}), base_url=server.url, api_key=CANARY)
    server.reply(Reply(status=302, headers={"Location": f"http://127.0.0.1:{other.port}/a"}))
    other.reply(Reply(body={}))
    client.call("a")
    assert "Authorization" not in other.last.headers


# --- 3. no secret in any log, whatever logger is configured ---------------------------------


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {self.format(record)}")


@pytest.fixture
def root_at_debug():
    root = logging.getLogger()
    handler, level = Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)
               if n.startswith(("urllib3", "dynclient"))]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for lg, old in levels:
            lg.setLevel(old)


def test_an_api_key_in_the_query_never_reaches_a_log_through_a_redirect(server, other, root_at_debug, make_client):
    schemes = {"query": {"type": "apiKey", "in": "query", "name": "key"}}
    client = make_client(document({"/a": get("a"), "/b": get("b")}, schemes, [{"query": []}]),
                              base_url=server.url, credentials={"query": CANARY})
    server.reply(Reply(status=302, headers={"Location": f"/b?key={CANARY}"}),
                 Reply(status=302, headers={"Location": f"{other.url}/c?key={CANARY}"}))
    other.reply(Reply(body={}))
    client.call("a")
    assert server.requests[0].query_pairs() == [("key", CANARY)]
    assert root_at_debug.lines, "nothing was logged: the test would prove nothing"
    leaked = [line for line in root_at_debug.lines if CANARY in line]
    assert leaked == []


def test_a_logger_urllib3_made_after_import_is_masked_too(server, root_at_debug, make_client):
    late = logging.getLogger("urllib3.contrib.late_module")   # as a lazily imported module makes one
    client = make_client(document({"/a": get("a")}), base_url=server.url, api_key=CANARY)
    late.debug("sending %s", CANARY)
    assert [line for line in root_at_debug.lines if CANARY in line] == []
    client.close()


# --- 4. a retried POST carries one Idempotency-Key -----------------------------------------


POST_THING = {"/things": {"post": {"operationId": "create", "responses": OK, "requestBody": {
    "required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}}}


def test_a_post_retried_after_a_reset_carries_the_same_idempotency_key(srv, make_client):
    client = make_client(document(POST_THING), base_url=srv.url, api_key=CANARY, retry=FAST)
    srv.queue(reset, reset, json_reply({}))
    client.call("create", {"a": 1})
    keys = [a.headers.get("idempotency-key") for a in srv.attempts]
    assert len(keys) == 3 and keys[0] and len(set(keys)) == 1
    srv.queue(json_reply({}))
    client.call("create", {"a": 2})
    assert srv.attempts[-1].headers["idempotency-key"] != keys[0], "one key per logical call"


def test_a_callers_idempotency_key_is_kept(srv, make_client):
    client = make_client(document(POST_THING), base_url=srv.url, api_key=CANARY, retry=FAST)
    srv.queue(reset, json_reply({}))
    client.call("create", {}, headers={"Idempotency-Key": "mine-1"})
    assert [a.headers["idempotency-key"] for a in srv.attempts] == ["mine-1", "mine-1"]


def test_a_get_gets_no_idempotency_key(srv, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, retry=FAST)
    srv.queue(reset, json_reply({}))
    client.call("a")
    assert [a.headers.get("idempotency-key") for a in srv.attempts] == [None, None]


def test_non_idempotent_never_does_not_resend_a_post_the_server_may_have(srv, make_client):
    policy = RetryPolicy(initial_delay=0.001, non_idempotent="never")
    client = make_client(document(POST_THING), base_url=srv.url, api_key=CANARY, retry=policy)
    srv.queue(reset)
    with pytest.raises(APIConnectionError):
        client.call("create", {})
    assert len(srv.attempts) == 1 and "idempotency-key" not in srv.attempts[0].headers
    srv.queue(json_reply({}, status=503), json_reply({}))
    client.call("create", {})   # an answer is not a fault: the server said it did nothing
    assert len(srv.attempts) == 3


def test_non_idempotent_never_still_retries_a_connect_failure(make_client):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()   # nothing listens: every connect is refused, so nothing was ever sent
    policy = RetryPolicy(initial_delay=0.001, non_idempotent="never")
    client = make_client(document(POST_THING), base_url=f"http://127.0.0.1:{port}", api_key=CANARY,
                              retry=policy)
    started = time.perf_counter()
    with pytest.raises(APIConnectionError) as info:
        client.call_raw("create", {})
    assert "attempt" in str(info.value) or time.perf_counter() - started < 5


def test_an_unknown_non_idempotent_choice_is_refused():
    with pytest.raises(ValueError, match="non_idempotent"):
        RetryPolicy(non_idempotent="sometimes")


# --- 5. event streams are bounded and parsed in linear time --------------------------------


STREAM = {"/chat": {"post": {"operationId": "chat", "requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "ok", "content": {
        "text/event-stream": {"schema": {}}}}}}}}


def stream_client(make, url: str, **options):
    return make(document(STREAM), base_url=url, api_key=CANARY, retry=FAST, max_retries=0, **options)


def test_a_line_that_never_ends_stops_at_the_event_limit(srv, make_client):
    client = stream_client(make_client, srv.url, max_event_bytes=1 << 20)
    srv.queue(sse([b"data: " + b"x" * (64 << 10)] * 40))   # 2.5 MiB of one line, no newline
    started = time.perf_counter()
    with pytest.raises(ResponseTooLargeError) as info:
        list(client.stream("chat", {}))
    assert info.value.limit == 1 << 20 and "event" in str(info.value)
    assert time.perf_counter() - started < 5


def test_an_event_that_never_ends_stops_at_the_event_limit(srv, make_client):
    client = stream_client(make_client, srv.url, max_event_bytes=1 << 20)
    srv.queue(sse([b"data: " + b"y" * 1000 + b"\n"] * 3000))   # 3 MB of data lines, no blank line
    with pytest.raises(ResponseTooLargeError):
        list(client.stream("chat", {}))


def test_a_long_line_is_parsed_in_linear_time(srv, make_client):
    # 16 MiB of one line, sent as fast as it goes: quadratic parsing took 4.8 s here.
    payload = b"data: " + json.dumps({"big": "z" * (16 << 20)}).encode() + b"\n\n"

    def script(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "text/event-stream"}))
        for i in range(0, len(payload), 4096):
            conn.sendall(payload[i:i + 4096])
    srv.queue(script)
    client = stream_client(make_client, srv.url, max_event_bytes=64 << 20)
    started = time.perf_counter()
    events = list(client.stream("chat", {}))
    assert len(events) == 1 and len(events[0].data["big"]) == 16 << 20
    assert time.perf_counter() - started < 4


def test_the_parser_is_linear_however_the_stream_is_cut():
    from dynclient.core.sse import EventParser
    line = b"data: " + b"q" * (16 << 20)
    for size in (1 << 12, 1 << 16):
        parser, started = EventParser(max_event_bytes=None), time.perf_counter()
        for i in range(0, len(line), size):
            assert parser.feed(line[i:i + size]) == []
        events = parser.feed(b"\r") + parser.feed(b"\n\r\n")   # a CRLF cut in two, then a CRLF
        assert time.perf_counter() - started < 2, size
        assert len(events) == 1 and len(events[0].data) == 16 << 20


def test_events_within_the_limit_are_unchanged(srv, make_client):
    srv.queue(sse(["data: {\"a\": 1}\r\n\r\n", "event: e\ndata: x\ndata: y\n\n", "data: [DONE]\n\n"]))
    client = stream_client(make_client, srv.url)
    assert [(e.event, e.data) for e in client.stream("chat", {})] == [(None, {"a": 1}), ("e", "x\ny")]


# --- 6. one deadline for the whole call ----------------------------------------------------


def trickle(seconds: float, every: float = 0.1):
    """Headers at once, then one byte of body per `every` seconds: each read is quick, the call is not."""
    def script(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}, 10_000))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendall(b" ")
            time.sleep(every)
    return script


def endless_continue(seconds: float):
    def script(conn, attempt):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            time.sleep(0.05)
    return script


@pytest.mark.parametrize("script", [trickle, endless_continue], ids=["one-byte-at-a-time", "endless-100"])
def test_a_total_timeout_bounds_a_server_that_keeps_each_read_short(srv, script, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, retry=FAST,
                              timeout=dynclient.Timeout(read=1.0, total=0.8))
    srv.queue(script(5.0), script(5.0), script(5.0))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError) as info:
        client.call("a")
    elapsed = time.perf_counter() - started
    assert 0.7 < elapsed < 2.0, elapsed
    assert "total" in str(info.value)


def test_the_total_timeout_covers_retries_and_their_waits(srv, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY,
                              retry=RetryPolicy(initial_delay=0.4, max_retries=10), timeout=(1.0, 1.0, 1.0))
    srv.queue(*[json_reply({}, status=503)] * 20)
    started = time.perf_counter()
    with pytest.raises(DynclientError):
        client.call("a")
    assert time.perf_counter() - started < 1.6
    assert len(srv.attempts) < 5


def test_a_per_call_total_timeout_and_the_pool_afterwards(srv, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, max_retries=0)
    srv.queue(trickle(3.0))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        client.call("a", timeout=dynclient.Timeout(total=0.5))
    assert time.perf_counter() - started < 1.5
    srv.queue(json_reply({"ok": True}))
    assert client.call("a") == {"ok": True}


def test_a_head_that_never_comes_on_a_kept_alive_connection_is_a_read_timeout(server, make_client):
    # The sync client's socket blocks while the head is awaited, the watchdog keeping the read timeout
    # (deadline.Deadline.arm): on a reused connection, and with no total, it still ends the wait
    client = make_client(document({"/a": get("a")}), base_url=server.url, api_key=CANARY, max_retries=0,
                         timeout=dynclient.Timeout(connect=0.5, read=0.3, total=None))
    server.reply(Reply(body={"n": 1}), Reply(body={"n": 2}, delay=3.0), Reply(body={"n": 3}))
    assert client.call("a") == {"n": 1}
    started = time.perf_counter()
    with pytest.raises(APITimeoutError, match=r"read timeout: nothing received from .* for 0.3 s"):
        client.call("a")
    assert 0.29 < time.perf_counter() - started < 0.5 + 0.3 + 0.5
    assert client.call("a") == {"n": 3}   # the timed-out connection was dropped, not handed on
    assert server.connections == 2


def test_the_sync_clients_read_timeout_on_a_head_counts_from_the_sending(server):
    # not from the attempt's start plus the connect timeout: a reused connection's head is late at `read`
    client = dynclient.Client(document({"/a": get("a")}), base_url=server.url, api_key=CANARY, max_retries=0,
                              timeout=dynclient.Timeout(connect=5, read=0.3))
    server.reply(Reply(body={"n": 1}), Reply(body={"n": 2}, delay=3.0))
    assert client.call("a") == {"n": 1}
    started = time.perf_counter()
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.call("a")
    assert 0.29 < time.perf_counter() - started < 1.5


def test_a_calls_total_timeout_ends_its_own_connection_not_one_it_gave_back(server):
    # A gets a 500 on connection X and gives X back; B (another thread) takes X and waits for a slow
    # answer; A retries on a new connection Y and runs out of its total: the watchdog shuts Y, not X
    seen_a = threading.Event()
    counts = {"/a": 0}

    def answer(request):
        if request.path == "/b":
            return Reply(body={"who": "b"}, delay=2.0)
        counts["/a"] += 1
        if counts["/a"] == 1:
            seen_a.set()
            return Reply(status=500, body={"error": {"message": "once", "type": "server_error"}})
        return Reply(body={"who": "a"}, delay=4.0)

    server.default = answer
    client = dynclient.Client(document({"/a": get("a"), "/b": get("b")}), base_url=server.url, api_key=CANARY,
                              retry=RetryPolicy(initial_delay=0.4, max_delay=0.4, max_retries=1),
                              timeout=dynclient.Timeout(connect=2, read=10, total=1.0))
    outcome = {}

    def call_b():
        seen_a.wait(5)
        time.sleep(0.15)   # A has read its 500 and given X back
        try:
            outcome["b"] = client.call("b", timeout=dynclient.Timeout(connect=2, read=10, total=10))
        except DynclientError as exc:
            outcome["b"] = exc
    thread = threading.Thread(target=call_b)
    thread.start()
    with pytest.raises(APITimeoutError, match="total timeout"):
        client.call("a")
    thread.join(10)
    assert outcome["b"] == {"who": "b"}
    assert server.connections == 2   # A's second attempt had a connection of its own


def test_read_timeouts_under_threads_end_only_the_calls_that_waited_too_long(server):
    # 48 calls on 16 threads sharing one client's pool, one in four to a path that answers after 2 s:
    # those end in a read timeout at 0.3 s (the watchdog shuts their sockets), every other call gets
    # its own answer, and the pool serves afterwards
    from concurrent.futures import ThreadPoolExecutor

    def answer(request):
        number = int(request.path.rsplit("/", 1)[1])
        return Reply(body={"n": number}, delay=2.0 if number % 4 == 0 else 0.0)

    server.default = answer
    spec = document({"/n/{n}": {"get": {"operationId": "n", "responses": OK, "parameters": [
        {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}]}}})
    client = dynclient.Client(spec, base_url=server.url, api_key=CANARY, max_retries=0, pool_maxsize=16,
                              timeout=dynclient.Timeout(connect=2, read=0.3))

    def call(number):
        started = time.perf_counter()
        try:
            return number, client.call("n", n=number), time.perf_counter() - started
        except APITimeoutError as exc:
            return number, exc, time.perf_counter() - started

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(call, range(1, 49)))
    for number, outcome, elapsed in outcomes:
        if number % 4 == 0:
            assert isinstance(outcome, APITimeoutError) and "read timeout" in str(outcome), (number, outcome)
            assert 0.29 < elapsed < 1.5, (number, elapsed)
        else:
            assert outcome == {"n": number}, (number, outcome)
    assert client.call("n", n=7) == {"n": 7}


def test_timeout_values_are_checked():
    with pytest.raises(ValueError):
        dynclient.Timeout(total=-1)
    with pytest.raises(ValueError):
        dynclient.Timeout(read=float("nan"))


# --- 9. deep JSON is a typed error -----------------------------------------------------


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def test_a_response_nested_100000_deep_is_a_decode_error(srv, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, max_retries=0)
    srv.queue(lambda conn, attempt: conn.sendall(head(200, {"Content-Type": "application/json"}, 200_000)
                                                 + deep(100_000)))
    with pytest.raises(ResponseDecodeError) as info:
        client.call("a")
    assert "deep" in str(info.value)


def test_an_event_nested_100000_deep_is_a_decode_error(srv, make_client):
    srv.queue(sse([b"data: " + deep(100_000) + b"\n\n"]))
    with pytest.raises(ResponseDecodeError):
        list(stream_client(make_client, srv.url).stream("chat", {}))


def test_an_error_answer_nested_deep_is_still_a_status_error(srv, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, max_retries=0)
    srv.queue(lambda conn, attempt: conn.sendall(head(400, {"Content-Type": "application/json"}, 200_000)
                                                 + deep(100_000)))
    with pytest.raises(dynclient.BadRequestError):
        client.call("a")


# --- 11. Retry-After that is not a number -----------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "-5", "banana", ""])
def test_an_unreadable_retry_after_falls_back_to_backoff(srv, value, make_client):
    client = make_client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, retry=FAST)
    srv.queue(json_reply({}, status=429, headers={"Retry-After": value, "retry-after-ms": value}), json_reply({}))
    started = time.perf_counter()
    client.call("a")
    assert time.perf_counter() - started < 1.0 and len(srv.attempts) == 2


def test_retry_after_parsing_never_gives_a_non_finite_delay():
    policy = RetryPolicy()
    for value in ("nan", "inf", "-inf", "1e999", "-1"):
        delay = policy.delay(1, {"retry-after": value})
        assert 0 <= delay <= policy.max_retry_after


# --- the threads: a pool shared by many callers stays sane under deadlines ---------------


def test_deadlines_of_concurrent_calls_do_not_cross(srv):
    client = dynclient.Client(document({"/a": get("a")}), base_url=srv.url, api_key=CANARY, max_retries=0,
                              timeout=dynclient.Timeout(total=0.6))
    results: list = []

    def slow_then_fast(i):
        try:
            results.append(client.call("a"))
        except APITimeoutError as exc:
            results.append(exc)

    srv.queue(trickle(2.0), json_reply({"ok": 1}), json_reply({"ok": 2}))
    threads = [threading.Thread(target=slow_then_fast, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(5)
    assert sorted(type(r).__name__ for r in results) == ["APITimeoutError", "dict", "dict"]
