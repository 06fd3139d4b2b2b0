"""AsyncClient over real loopback sockets: what only an asyncio client can get wrong.

The fault, retry, stream and pagination tests of test_resilience.py,
test_hostile_responses.py and test_hardening.py already run on both clients
(the `make_client` fixture); here: many calls in flight, cancellation, every
timeout kind, big bodies with flat memory, and the promise that both clients
give the same errors, word for word.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import tracemalloc

import pytest

import dynclient
from dynclient import APIConnectionError, APITimeoutError, RequestValidationError, RetryPolicy

from faultserver import head, json_reply, raw_reply, reset, reset_mid_body, silent, sse
from test_resilience import CANARY, SPEC

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)


def run(coroutine):
    return asyncio.run(coroutine)


# --- many calls at once ------------------------------------------------------------------


class EchoServer:
    """Keep-alive HTTP/1.1 on loopback, a thread per connection: GET /things/{id} answers {"id": id}
    after a short random pause, so answers come back out of order."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head_bytes, buffer = buffer.split(b"\r\n\r\n", 1)
                target = head_bytes.split(b" ")[1].decode()
                thing = target.rsplit("/", 1)[1]
                time.sleep((hash(thing) % 5) / 1000)
                body = json.dumps({"id": thing}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.open -= 1

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def test_results_match_their_requests_with_many_in_flight(echo):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=echo.url, api_key=CANARY, max_connections=16) as client:
            ids = [f"t{i}" for i in range(600)]
            answers = await asyncio.gather(*[client.call("getThing", id=i) for i in ids])
            return ids, answers
    ids, answers = run(main())
    assert [a["id"] for a in answers] == ids
    assert echo.most_open <= 16 and echo.connections <= 16, "max_connections caps the open connections"


def test_keep_alive_reuses_connections(echo):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=echo.url, api_key=CANARY) as client:
            for i in range(50):
                await client.call("getThing", id=f"k{i}")
    run(main())
    assert echo.connections == 1


# --- cancellation ------------------------------------------------------------------------


def half_a_body(srv):
    def script(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}, 1000) + b'{"id": "half')
        srv.closing.wait(10)
    return script


def test_a_call_cancelled_mid_body_releases_its_connection(srv):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=srv.url, api_key=CANARY, max_connections=1,
                                         max_retries=0) as client:
            srv.queue(half_a_body(srv))
            task = asyncio.create_task(client.call("getThing", id="t"))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            srv.queue(json_reply({"id": "after"}))   # the one connection the pool has must be free again
            return await asyncio.wait_for(client.call("getThing", id="after"), 3)
    assert run(main()) == {"id": "after"}


def test_asyncio_timeout_around_a_call_leaves_the_pool_usable(srv):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=srv.url, api_key=CANARY, max_connections=1,
                                         max_retries=0) as client:
            srv.queue(half_a_body(srv))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.call("getThing", id="t"), 0.3)
            srv.queue(json_reply({"id": "after"}))
            return await asyncio.wait_for(client.call("getThing", id="after"), 3)
    assert run(main()) == {"id": "after"}


def test_a_stream_cancelled_mid_event_releases_its_connection(srv):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=srv.url, api_key=CANARY, max_connections=1,
                                         max_retries=0) as client:
            srv.queue(sse(['data: {"delta": "a"}\n\n', 'data: {"del'], stall=10, server=srv))

            async def read_all():
                async with await client.stream("chat", {"prompt": "hi"}) as events:
                    return [event async for event in events]
            task = asyncio.create_task(read_all())
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            srv.queue(json_reply({"id": "after"}))
            return await asyncio.wait_for(client.call("getThing", id="after"), 3)
    assert run(main()) == {"id": "after"}


# --- every timeout kind ------------------------------------------------------------------


@pytest.fixture
def full_backlog():
    """A listener that never accepts, its queue already full: a connect to it hangs (Linux drops the SYN)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    for sock in [*fillers, listener]:
        sock.close()


def test_a_connect_timeout(full_backlog, make_client):
    client = make_client(SPEC, base_url=full_backlog, api_key=CANARY, max_retries=0, timeout=(0.3, 5))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError) as info:
        client.call("getThing", id="t")
    assert "connect timeout" in str(info.value) and time.perf_counter() - started < 2


def test_a_read_timeout(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, max_retries=0, timeout=(2, 0.3))
    srv.queue(silent(5, srv))
    with pytest.raises(APITimeoutError) as info:
        client.call("getThing", id="t")
    assert "read timeout" in str(info.value)


def stalled_body(server):
    """The head and the first tenth of the body at once, then silence."""
    def script(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}, 100) + b'{"id": "t"')
        server.closing.wait(5)
    return script


def trickled_body(pieces: int, every: float):
    """The head at once, then the body a byte every `every` seconds (spaces, then the JSON)."""
    def script(conn, attempt):
        body = b" " * pieces + b'{"id": "t"}'
        conn.sendall(head(200, {"Content-Type": "application/json"}, len(body)))
        for i in range(pieces):
            conn.sendall(body[i:i + 1])
            time.sleep(every)
        conn.sendall(body[pieces:])
    return script


def test_a_body_that_stops_coming_is_a_read_timeout_soon_after_the_read_time(srv, make_client):
    # AsyncClient looks at a call every read / 8 s (async_transport.ReadWatch): noticed within 9/8 of it
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, max_retries=0, timeout=(2, 0.4))
    srv.queue(stalled_body(srv))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError) as info:
        client.call("getThing", id="t")
    elapsed = time.perf_counter() - started
    assert "read timeout: nothing received from" in str(info.value) and "for 0.4 s" in str(info.value)
    assert 0.39 < elapsed < 0.4 * 9 / 8 + 0.3, elapsed


def test_a_body_that_keeps_coming_is_no_read_timeout_however_long_it_takes(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, max_retries=0, timeout=(2, 0.3))
    srv.queue(trickled_body(8, 0.1))
    started = time.perf_counter()
    assert client.call("getThing", id="t") == {"id": "t"}
    assert time.perf_counter() - started > 0.75   # more than twice the read timeout, a byte at a time


def test_a_head_that_never_comes_is_a_read_timeout_within_connect_and_read(srv, make_client):
    # AsyncClient cannot see when its connection was made, so it waits connect + read for a head
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, max_retries=0, timeout=(0.5, 0.3))
    srv.queue(silent(5, srv))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.call("getThing", id="t")
    assert 0.29 < time.perf_counter() - started < 0.5 + 0.3 + 0.5


def test_a_total_timeout_over_retries(srv, make_client):
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=RetryPolicy(initial_delay=0.2),
                         max_retries=5, timeout=dynclient.Timeout(read=0.2, total=0.7))
    srv.queue(*[silent(5, srv)] * 6)
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        client.call("getThing", id="t")
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize("fault", ["head never comes", "body keeps coming"])
def test_a_total_timeout_shorter_than_the_read_ends_the_call_at_the_total(srv, make_client, fault):
    # AsyncClient keeps such a call's total deadline on its read watch (async_transport.ReadWatch)
    client = make_client(SPEC, base_url=srv.url, api_key=CANARY, max_retries=0,
                         timeout=dynclient.Timeout(connect=2, read=3, total=0.5))
    srv.queue(silent(5, srv) if fault == "head never comes" else trickled_body(40, 0.1))
    started = time.perf_counter()
    with pytest.raises(APITimeoutError, match=r"total timeout: the call took longer than its 0.5 s"):
        client.call("getThing", id="t")
    assert 0.45 < time.perf_counter() - started < 1.2


# --- the same errors, word for word --------------------------------------------------------


FAULTS = {
    "reset": lambda srv: reset,
    "reset mid-body": lambda srv: reset_mid_body(),
    "silence": lambda srv: silent(5, srv),
    "bad gzip": lambda srv: raw_reply(200, b"not gzip", {"Content-Type": "application/json",
                                                          "Content-Encoding": "gzip"}),
    "truncated JSON": lambda srv: raw_reply(200, b'{"id": ', {"Content-Type": "application/json"}),
    "500": lambda srv: json_reply({"error": {"message": "boom", "type": "server_error"}}, status=500,
                                  headers={"x-request-id": "req_9"}),
    "429 quota": lambda srv: json_reply({"error": {"message": "no", "code": "insufficient_quota"}}, status=429),
    "wrong shape": lambda srv: json_reply({"name": 3}),
    "html": lambda srv: raw_reply(200, b"<html>", {"Content-Type": "text/html"}),
    "event error": lambda srv: sse(['data: {"error": {"message": "mid-stream", "type": "x"}}\n\n']),
}


def outcome(client, srv, fault) -> tuple[str, str]:
    srv.queue(FAULTS[fault](srv))
    try:
        if fault == "event error":
            with client.stream("chat", {"prompt": "hi"}) as events:
                list(events)
        else:
            client.call("getThing", id="t")
    except dynclient.DynclientError as exc:
        return type(exc).__name__, str(exc)
    return "no error", ""


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_same_fault_gives_the_same_error_from_both_clients(srv, fault):
    from asyncfacade import AsyncFacade
    options = dict(base_url=srv.url, api_key=CANARY, max_retries=0, timeout=(2, 0.3))
    with dynclient.Client(SPEC, **options) as sync, AsyncFacade(dynclient.AsyncClient(SPEC, **options)) as aio:
        expected = outcome(sync, srv, fault)
        assert expected[0] != "no error"
        assert outcome(aio, srv, fault) == expected


@pytest.mark.parametrize("call", [
    ("getThing", (), {}),                                     # a missing path parameter
    ("getThing", (), {"id": "t", "color": "red"}),            # an unknown one
    ("createThing", ({"name": 7},), {}),                      # a body of the wrong type
    ("createThing", (), {}),                                  # a missing body
    ("listThings", (), {"limit": "ten"}),                     # a query parameter of the wrong type
])
def test_bad_input_gives_the_same_error_and_sends_nothing(srv, call):
    from asyncfacade import AsyncFacade
    operation, args, kwargs = call
    errors = []
    with dynclient.Client(SPEC, base_url=srv.url, api_key=CANARY) as sync, \
            AsyncFacade(dynclient.AsyncClient(SPEC, base_url=srv.url, api_key=CANARY)) as aio:
        for client in (sync, aio):
            with pytest.raises(dynclient.RequestError) as info:
                client.call(operation, *args, **kwargs)
            errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1] and srv.attempts == []


def test_a_validation_error_names_the_operation_and_the_pointer(srv):
    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=srv.url, api_key=CANARY) as client:
            await client.call("createThing", {"name": ["not", "a", "string"]})
    with pytest.raises(RequestValidationError) as info:
        run(main())
    assert info.value.operation_id == "createThing" and info.value.pointer == "/name"


# --- big bodies, flat memory --------------------------------------------------------------


class BulkServer:
    """Reads an upload to its end without keeping it (counting bytes), and sends a download generated
    on the fly: the server holds neither, so the memory measured is the client's."""

    def __init__(self, download_size: int):
        self.size = download_size
        self.received = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head_bytes, rest = data.split(b"\r\n\r\n", 1)
            lines = head_bytes.decode("latin-1").split("\r\n")
            length = next((int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")), 0)
            got = len(rest)
            while got < length:
                got += len(conn.recv(1 << 20))
            if lines[0].startswith("GET"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                             + str(self.size).encode() + b"\r\nConnection: close\r\n\r\n")
                block = b"z" * (1 << 20)
                for _ in range(self.size >> 20):
                    conn.sendall(block)
            else:
                self.received = got
                body = b'{"id": "file-1"}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)


def test_a_50_mb_upload_and_download_keep_memory_flat(tmp_path):
    size = 50 << 20
    upload = tmp_path / "upload.bin"
    with open(upload, "wb") as fh:
        fh.truncate(size)   # a sparse file: nothing of it in this process's memory
    server = BulkServer(size)

    async def main():
        async with dynclient.AsyncClient(SPEC, base_url=server.url, api_key=CANARY) as client:
            tracemalloc.start()
            sent = await client.call("upload", {"file": upload, "purpose": "batch"})
            result = await client.download("download", id="f", to=tmp_path / "down.bin")
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return sent, result, peak
    sent, result, peak = run(main())
    assert sent == {"id": "file-1"} and server.received > size
    assert os.path.getsize(result.body) == size
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB for 50 MB up and 50 MB down"
