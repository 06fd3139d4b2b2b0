"""Issue 14, the mock: hostile clients over raw loopback sockets, each case failing before its fix.

Framing the mock cannot trust (a bad or doubled length, a bad chunk) gets a 400 and a closed
connection, as RFC 9112 asks; a body over the limit a 413; a stalled client its connection closed;
256 clients at once no reset; a large upload a small, flat footprint.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import tracemalloc

import pytest

import dynclient
from dynclient.testing.mock import MockServer

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "mock hardening", "version": "1"},
    "paths": {
        "/things": {"post": {"operationId": "createThing", "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}}}}},
        "/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"type": "object", "required": ["ok"],
                                            "properties": {"ok": {"type": "boolean"}}}}}}}}},
        "/files": {"post": {"operationId": "upload", "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file", "purpose"], "properties": {
                "file": {"type": "string", "format": "binary"}, "purpose": {"type": "string"}}}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}}}}},
    },
}


@pytest.fixture
def mock():
    with MockServer(SPEC, require_auth=False, max_body_bytes=1 << 20, read_timeout=0.5) as server:
        yield server


def exchange(server: MockServer, raw: bytes, wait: float = 3.0) -> tuple[bytes, bool]:
    """Send raw bytes; return everything the mock answers, and whether it then closed the connection."""
    with socket.create_connection((server.host, server.port), timeout=wait) as conn:
        conn.sendall(raw)
        received, closed = b"", False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
        return received, closed


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def still_serves(server: MockServer) -> None:
    answer, _ = exchange(server, b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200


# --- 13. framing the mock cannot trust ---------------------------------------------------


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"+5", b"5, 6", b"\xd9\xa3"])
def test_a_bad_content_length_is_a_400_and_the_connection_closes(mock, length):
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: " + length + b"\r\n\r\n{}")
    assert status_of(answer) == 400 and b"Content-Length" in answer and closed
    assert b"connection: close" in answer.lower()
    still_serves(mock)


@pytest.mark.parametrize("chunked", [b"zz\r\n{}\r\n0\r\n\r\n", b"-2\r\n{}\r\n0\r\n\r\n",
                                     b"2\r\n{}XX0\r\n\r\n", b"fffffffffffffffffffff\r\n"])
def test_a_bad_chunk_is_a_400_and_the_connection_closes(mock, chunked):
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert status_of(answer) in (400, 413) and closed
    still_serves(mock)


def test_a_good_chunked_body_is_read(mock):
    answer, _ = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                               b"1;ext=1\r\n{\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert status_of(answer) == 200


def test_content_length_and_chunked_together_are_refused(mock):
    # Request smuggling's classic: a front end reading one framing and the mock the other.
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"2\r\n{}\r\n0\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 400 and closed
    assert answer.count(b"HTTP/1.1 ") == 1, "nothing after the refused request may be served"


def test_json_nested_100000_deep_is_a_400_in_the_documents_error_shape(mock):
    body = b"[" * 100_000 + b"]" * 100_000
    answer, _ = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert status_of(answer) == 400
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert "nested too deeply" in error["message"] and error["type"] == "invalid_request_error"


# --- 14. many clients at once --------------------------------------------------------------


def test_256_clients_at_once_are_all_answered(mock):
    clients, errors, answered = 256, [], []
    start = threading.Barrier(clients)

    def one() -> None:
        try:
            start.wait(5)
            with socket.create_connection((mock.host, mock.port), timeout=10) as conn:
                conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            answered.append(status_of(data))
        except OSError as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == [] and answered == [200] * clients
    assert time.perf_counter() - started < 10


# --- 15. uploads: bounded, and never held whole --------------------------------------------


def test_a_body_over_the_limit_is_a_413_before_it_is_read(mock):
    length = (1 << 20) + 1
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: " + str(length).encode() + b"\r\n\r\n{")
    assert status_of(answer) == 413 and closed and b"max_body_bytes" in answer
    still_serves(mock)


def test_expect_100_continue_over_the_limit_gets_the_413_instead_of_100(mock):
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Expect: 100-continue\r\nContent-Length: 99999999\r\n\r\n")
    assert status_of(answer) == 413 and closed and b"100 Continue" not in answer


def test_a_chunked_body_over_the_limit_is_a_413(mock):
    chunk = b"x" * 65536
    body = b"".join(b"10000\r\n" + chunk + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
    answer, closed = exchange(mock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert status_of(answer) == 413 and closed


def test_a_64_mib_upload_is_streamed_to_disk_not_held(tmp_path):
    upload = tmp_path / "big.bin"
    with open(upload, "wb") as fh:
        fh.truncate(64 << 20)
    with MockServer(SPEC, require_auth=False) as server:
        client = dynclient.Client(SPEC, base_url=server.url)
        client.call("upload", {"file": b"warm", "purpose": "batch"})
        tracemalloc.start()
        answer = client.call("upload", {"file": upload, "purpose": "batch"})
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        client.close()
    assert isinstance(answer["id"], str)
    # Client and mock share this process: both stream, so 64 MiB pass through a few MiB.
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB of Python allocations for a 64 MiB upload"


def test_a_form_field_larger_than_a_mib_is_a_400():
    with MockServer(SPEC, require_auth=False) as server:
        client = dynclient.Client(SPEC, base_url=server.url, validate_requests=False)
        with pytest.raises(dynclient.BadRequestError) as info:
            client.call("upload", {"file": b"x", "purpose": "p" * (1 << 20 | 1)})
    assert "larger than" in str(info.value)


# --- 16. stalled clients ------------------------------------------------------------------


def test_a_stalled_client_is_disconnected_after_the_read_timeout(mock):
    threads_before = threading.active_count()
    with socket.create_connection((mock.host, mock.port), timeout=5) as conn:
        conn.sendall(b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Le")   # half a head, then nothing
        started = time.perf_counter()
        assert conn.recv(65536) == b""
        assert time.perf_counter() - started < 2.5
    with socket.create_connection((mock.host, mock.port), timeout=5) as conn:
        conn.sendall(b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")   # half a body
        assert conn.recv(65536) == b""
    deadline = time.monotonic() + 3
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before, "the handler threads must end with their connections"


def test_an_idle_kept_alive_connection_is_closed_too(mock):
    with socket.create_connection((mock.host, mock.port), timeout=5) as conn:
        conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        first = conn.recv(65536)
        assert status_of(first) == 200
        started = time.perf_counter()
        assert conn.recv(65536) == b""   # no second request comes: closed after read_timeout
        assert time.perf_counter() - started < 2.5
