"""Tests for the test server itself, driven with plain urllib3 and raw sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import urllib3
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.filepost import encode_multipart_formdata

from httpserver import Headers, Part, Recorded, Reply, TestServer


@pytest.fixture
def server(server):
    """The conftest server, plus: no unexpected exception in a handler thread."""
    yield server
    assert server.errors == []


@pytest.fixture
def pool():
    pm = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=2))
    yield pm
    pm.clear()


def raw_exchange(server: TestServer, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes (send Connection: close)."""
    with socket.create_connection((server.host, server.port), timeout=2) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------


def test_records_method_path_query_headers_body(server, pool):
    body = b"\x00\xff raw \r\n bytes"
    r = pool.request(
        "POST",
        server.url + "/v1/a%2Fb/c%20d?x=1&y=%2F&y=2&empty=&plus=a+b",
        body=body,
        headers={"X-Custom": "Value", "Content-Type": "application/octet-stream"},
    )
    assert r.status == 200
    assert r.json() == {"ok": True}
    assert r.headers["Content-Type"] == "application/json"

    (rec,) = server.requests
    assert rec.method == "POST"
    assert rec.path == "/v1/a%2Fb/c%20d"  # raw, not unquoted
    assert rec.query == "x=1&y=%2F&y=2&empty=&plus=a+b"
    assert rec.target == "/v1/a%2Fb/c%20d?x=1&y=%2F&y=2&empty=&plus=a+b"
    assert rec.query_pairs() == [("x", "1"), ("y", "/"), ("y", "2"), ("empty", ""), ("plus", "a b")]
    assert rec.body == body
    assert rec.headers["x-custom"] == "Value"
    assert rec.headers["X-CUSTOM"] == "Value"
    assert "content-length" in rec.headers
    assert rec.headers["Content-Length"] == str(len(body))
    assert rec.headers["host"] == f"127.0.0.1:{server.port}"
    assert rec.version == "HTTP/1.1"
    assert rec.connection_id == 1


def test_raw_target_kept_exactly(server):
    # http.server would collapse '//' and nothing may unquote or re-encode.
    raw_exchange(server, b"GET //double/%7e/%2f?q=%ZZ&&a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rec = server.last
    assert rec.path == "//double/%7e/%2f"
    assert rec.query == "q=%ZZ&&a"
    assert rec.target == "//double/%7e/%2f?q=%ZZ&&a"


def test_trailing_question_mark_kept_in_target(server):
    raw_exchange(server, b"GET /x? HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rec = server.last
    assert (rec.path, rec.query, rec.target) == ("/x", "", "/x?")


def test_repeated_headers_keep_all_values(server):
    raw_exchange(
        server,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Multi: one\r\nx-multi: two\r\nConnection: close\r\n\r\n",
    )
    h = server.last.headers
    assert h.get_all("X-MULTI") == ["one", "two"]
    assert h["x-multi"] == "one, two"
    assert ("X-Multi", "one") in h.raw and ("x-multi", "two") in h.raw
    assert h.get("missing") is None and h.get_all("missing") == []


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"])
def test_any_method(server, pool, method):
    r = pool.request(method, server.url + "/m", body=b"x" if method != "GET" else None)
    assert r.status == 200
    assert server.last.method == method


def test_head_gets_length_but_no_body(server, pool):
    server.reply(Reply(body=b"0123456789"))
    r = pool.request("HEAD", server.url + "/h")
    assert r.status == 200
    assert r.headers["Content-Length"] == "10"
    assert r.data == b""
    # the connection is still usable afterwards
    assert pool.request("GET", server.url + "/after").json() == {"ok": True}
    assert server.connections == 1


def test_form_body(server, pool):
    pool.request("POST", server.url + "/f", fields={"a": "1 2", "b": "x&y=z", "c": "é"}, encode_multipart=False)
    rec = server.last
    assert rec.headers["content-type"] == "application/x-www-form-urlencoded"
    assert rec.form() == [("a", "1 2"), ("b", "x&y=z"), ("c", "é")]


def test_json_helper(server, pool):
    pool.request("POST", server.url + "/j", json={"a": [1, None]})
    assert server.last.json() == {"a": [1, None]}


# --------------------------------------------------------------------------
# Bodies: multipart and chunked
# --------------------------------------------------------------------------


def test_multipart_round_trip_binary(server, pool):
    blob = bytes(range(256)) * 3 + b"\r\n--not-the-boundary\r\n\r\n" + b"\r"
    fields = [
        ("file", ("blob.bin", blob, "application/octet-stream")),
        ("note", "héllo\r\nworld"),
        ("empty", ("e.txt", b"", "text/plain")),
        ("crlf", ("c.bin", b"\r\n", "application/octet-stream")),
    ]
    body, ctype = encode_multipart_formdata(fields)
    pool.request("POST", server.url + "/upload", body=body, headers={"Content-Type": ctype})

    rec = server.last
    assert rec.body == body
    parts = rec.multipart()
    assert [p.name for p in parts] == ["file", "note", "empty", "crlf"]
    assert parts[0] == Part("file", "blob.bin", "application/octet-stream", blob, parts[0].headers)
    assert parts[0].headers["content-disposition"].startswith("form-data;")
    assert parts[1].filename is None and parts[1].content_type is None
    assert parts[1].text == "héllo\r\nworld"
    assert (parts[2].filename, parts[2].content_type, parts[2].data) == ("e.txt", "text/plain", b"")
    assert parts[3].data == b"\r\n"


def test_multipart_rejects_non_multipart(server, pool):
    pool.request("POST", server.url + "/", body=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(ValueError):
        server.last.multipart()


def test_chunked_request_body_urllib3(server, pool):
    def gen():
        yield b"hello "
        yield b"\x00\xff"
        yield b" world"

    pool.request("POST", server.url + "/c", body=gen(), chunked=True)
    rec = server.last
    assert rec.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in rec.headers
    assert rec.body == b"hello \x00\xff world"


def test_chunked_with_extensions_and_trailers(server):
    resp = raw_exchange(
        server,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    assert resp.startswith(b"HTTP/1.1 200 ")
    rec = server.last
    assert rec.body == b"hello0123456789"
    assert rec.trailers["x-trailer"] == "t"


def test_malformed_chunked_gets_400(server):
    resp = raw_exchange(
        server,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    assert resp.startswith(b"HTTP/1.1 400 ")
    assert server.requests == []


# --------------------------------------------------------------------------
# Connection and byte counting
# --------------------------------------------------------------------------


def test_two_pool_managers_two_connections(server):
    for _ in range(2):
        pm = urllib3.PoolManager(retries=False)
        assert pm.request("GET", server.url + "/").status == 200
        pm.clear()
    assert server.connections == 2
    assert [r.connection_id for r in server.requests] == [1, 2]


def test_keep_alive_reuses_one_connection(server, pool):
    server.reply(Reply(status=204))  # bodiless replies keep the connection too
    for i in range(4):
        pool.request("POST", server.url + f"/k{i}", body=b"x" * i)
    assert server.connections == 1
    assert {r.connection_id for r in server.requests} == {1}
    assert [r.path for r in server.requests] == ["/k0", "/k1", "/k2", "/k3"]


def test_connection_sending_nothing_is_counted(server):
    assert server.connections == 0
    with socket.create_connection((server.host, server.port), timeout=2):
        assert server.wait_for(lambda s: s.connections == 1, timeout=2)
    assert server.bytes_received == 0
    assert server.requests == []


def test_bytes_received_is_exact(server):
    assert server.bytes_received == 0
    req = b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde"
    raw_exchange(server, req)
    assert server.bytes_received == len(req)
    assert server.last.body == b"abcde"


def test_no_connection_means_zero(server):
    assert (server.connections, server.bytes_received, server.requests) == (0, 0, [])


# --------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------


def test_queued_replies_in_order_then_default(server, pool):
    server.reply(
        Reply(status=201, body={"n": 1}),
        Reply(status=404, headers={"X-Id": "abc"}, body="nope"),
        Reply(status=500, body=b"\x00raw", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
    )
    assert server.pending_replies == 3
    r1 = pool.request("GET", server.url + "/1")
    r2 = pool.request("GET", server.url + "/2")
    r3 = pool.request("GET", server.url + "/3")
    r4 = pool.request("GET", server.url + "/4")
    assert (r1.status, r1.json()) == (201, {"n": 1})
    assert r1.headers["content-type"] == "application/json"
    assert (r2.status, r2.data, r2.headers["x-id"]) == (404, b"nope", "abc")
    assert r2.headers["content-type"] == "text/plain; charset=utf-8"
    assert (r3.status, r3.data) == (500, b"\x00raw")
    assert "content-type" not in r3.headers
    assert r3.headers.getlist("set-cookie") == ["a=1", "b=2"]
    assert (r4.status, r4.json()) == (200, {"ok": True})
    assert server.pending_replies == 0
    assert server.connections == 1  # keep-alive survived every reply


def test_explicit_content_type_wins(server, pool):
    server.reply(Reply(body={"a": 1}, headers={"content-type": "application/problem+json"}))
    r = pool.request("GET", server.url + "/")
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json() == {"a": 1}


def test_default_can_be_changed(server, pool):
    server.default = Reply(status=418, body=[1, 2])
    r = pool.request("GET", server.url + "/")
    assert (r.status, r.json()) == (418, [1, 2])


def test_callable_reply_echoes_request(server, pool):
    def echo(rec: Recorded) -> Reply:
        return Reply(status=202, body={"method": rec.method, "target": rec.target, "body": rec.body.decode()})

    server.reply(echo, lambda rec: Reply(body=lambda r: r.body[::-1]))
    r = pool.request("PATCH", server.url + "/e?x=%20", body=b"abc")
    assert (r.status, r.json()) == (202, {"method": "PATCH", "target": "/e?x=%20", "body": "abc"})
    r = pool.request("POST", server.url + "/e", body=b"abc")
    assert r.data == b"cba"
    server.default = lambda rec: {"path": rec.path}  # non-Reply results become the body
    assert pool.request("GET", server.url + "/zz").json() == {"path": "/zz"}


def test_delay_causes_read_timeout(server, pool):
    server.reply(Reply(delay=3.0))
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        pool.request("GET", server.url + "/slow", timeout=urllib3.Timeout(connect=1, read=0.2))
    assert time.monotonic() - start < 1.5
    assert server.last.path == "/slow"  # recorded even though never answered in time
    # the server goes on serving (on a new connection)
    assert pool.request("GET", server.url + "/fast").status == 200


def test_close_resets_connection(server, pool):
    server.reply(Reply(close=True))
    with pytest.raises(ProtocolError):
        pool.request("GET", server.url + "/drop")
    assert server.last.path == "/drop"
    assert pool.request("GET", server.url + "/next").status == 200
    assert server.connections == 2


def test_reset_clears_everything(server, pool):
    server.reply(Reply(status=500), Reply(status=501))
    pool.request("GET", server.url + "/")
    server.reset()
    assert (server.requests, server.connections, server.bytes_received, server.pending_replies) == ([], 0, 0, 0)
    assert pool.request("GET", server.url + "/").status == 200  # queue cleared, default kept


# --------------------------------------------------------------------------
# Concurrency and lifecycle
# --------------------------------------------------------------------------


def test_concurrent_requests_all_recorded(server):
    server.default = Reply(delay=0.05, body={"ok": True})
    errors = []

    def worker(i: int) -> None:
        try:
            pm = urllib3.PoolManager(retries=False)
            assert pm.request("GET", server.url + f"/p{i}").status == 200
            pm.clear()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.path for r in server.requests) == sorted(f"/p{i}" for i in range(16))
    assert server.connections == 16


def test_context_manager_and_fast_close_with_idle_keepalive():
    pm = urllib3.PoolManager(retries=False)
    with TestServer() as srv:
        assert pm.request("GET", srv.url + "/").status == 200  # leaves an idle keep-alive conn
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    with pytest.raises(OSError):
        socket.create_connection((srv.host, srv.port), timeout=1).close()
    pm.clear()


def test_close_interrupts_pending_delay():
    srv = TestServer()
    srv.reply(Reply(delay=30))
    done = threading.Event()

    def client() -> None:
        try:
            urllib3.PoolManager(retries=False).request("GET", srv.url + "/", timeout=10)
        except Exception:
            pass
        done.set()

    threading.Thread(target=client, daemon=True).start()
    assert srv.wait_for(lambda s: len(s.requests) == 1)
    start = time.monotonic()
    srv.close()
    srv.close()  # idempotent
    assert time.monotonic() - start < 1.0
    assert done.wait(2)


def test_recorded_and_headers_helpers():
    rec = Recorded("GET", "/p", "a=1&b=", {"Content-Type": "x/y"}, b'{"k": 1}')
    assert isinstance(rec.headers, Headers)
    assert rec.headers["content-type"] == "x/y"
    assert rec.target == "/p?a=1&b="
    assert rec.query_pairs() == [("a", "1"), ("b", "")]
    assert rec.json() == {"k": 1}
    assert Headers({"A": "1"}) == {"a": "1"}
    assert Recorded("GET", "/", "", {}, b"").target == "/"
