"""Hostile and broken responses: each ends in a typed error, and the pool serves the next call.

Also: many threads sharing one client under random faults lose nothing, and a
retry never repeats a call the server completed without the caller being told.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import threading
import zlib

import pytest

import dynclient
from dynclient import APIConnectionError, DynclientError, ResponseDecodeError, ResponseTooLargeError, ResponseValidationError
from dynclient import RetryPolicy

from faultserver import FaultServer, error_reply, head, json_reply, raw_reply, reset, reset_mid_body
from test_resilience import CANARY, SPEC

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)


@pytest.fixture
def client(srv, make_client):
    """Both clients: every test that takes this fixture runs on Client and on AsyncClient."""
    with make_client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, max_retries=0,
                          max_response_bytes=1 << 20) as c:
        yield c


def gzip_bomb(expanded: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)   # 31: gzip framing
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(expanded >> 20)]
    return b"".join(parts) + compressor.flush()


def then_usable(client, srv) -> None:
    srv.queue(json_reply({"id": "after"}))
    assert client.call("getThing", id="after") == {"id": "after"}


def test_a_gzip_bomb_stops_at_the_size_limit(client, srv):
    bomb = gzip_bomb(256 << 20)   # 256 MiB of zeros in about 250 KB
    assert len(bomb) < 1 << 20
    srv.queue(raw_reply(200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    with pytest.raises(ResponseTooLargeError) as info:
        client.call("getThing", id="t")
    assert info.value.limit == 1 << 20
    then_usable(client, srv)


def test_gzip_that_is_not_gzip_is_a_decode_error(client, srv):
    srv.queue(raw_reply(200, b"this is not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    with pytest.raises(ResponseDecodeError):
        client.call("getThing", id="t")
    then_usable(client, srv)


def test_honest_gzip_is_decoded(client, srv):
    srv.queue(raw_reply(200, gzip.compress(b'{"id": "z"}'), {"Content-Type": "application/json",
                                                              "Content-Encoding": "gzip"}))
    assert client.call("getThing", id="z") == {"id": "z"}


def test_content_length_longer_than_the_body(client, srv):
    def lying(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}, 500) + b'{"id": "t"}')
    srv.queue(lying)
    with pytest.raises(APIConnectionError) as info:
        client.call("getThing", id="t")
    assert not isinstance(info.value, ResponseDecodeError)
    then_usable(client, srv)


def test_content_length_shorter_than_the_body(client, srv):
    def lying(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}, 5) + b'{"id": "t", "name": "long"}')
    srv.queue(lying)
    # urllib3 reads the 5 bytes declared, which are not JSON; aiohttp's parser reads ahead and finds the
    # excess a broken second message. Either way a typed connection-level error, and the pool serves on.
    with pytest.raises(ResponseDecodeError if isinstance(client, dynclient.Client) else APIConnectionError):
        client.call("getThing", id="t")
    then_usable(client, srv)


def test_no_content_length_reads_to_the_close(client, srv):
    def unframed(conn, attempt):
        conn.sendall(head(200, {"Content-Type": "application/json"}) + b'{"id": "t"}')
    srv.queue(unframed)
    assert client.call("getThing", id="t") == {"id": "t"}


@pytest.mark.parametrize("body, content_type, error", [
    (b'{"id": "\xff"}', "application/json", ResponseDecodeError),
    (b"<html>oops</html>", "text/html", ResponseValidationError),
    (b'{"id": "t"}', "application/xml", ResponseValidationError),
    (b"", "application/json", ResponseValidationError),
    (b"[1, 2", "application/json", ResponseDecodeError),
])
def test_bodies_that_are_not_what_they_claim(client, srv, body, content_type, error):
    srv.queue(raw_reply(200, body, {"Content-Type": content_type}))
    with pytest.raises(error):
        client.call("getThing", id="t")
    then_usable(client, srv)


def test_turning_tls_verification_off_warns_once(caplog):
    dynclient.core.base._warned_unverified.clear()
    with caplog.at_level(logging.WARNING, logger="dynclient"):
        dynclient.Client(SPEC, base_url="https://127.0.0.1:9", verify=False)
        dynclient.Client(SPEC, base_url="https://127.0.0.1:9", verify=False)
    warnings = [r for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(warnings) == 1
    assert dynclient.Client(SPEC, base_url="https://127.0.0.1:9").transport.pool.connection_pool_kw[
        "cert_reqs"] == "CERT_REQUIRED"


# --- many threads, random faults ---------------------------------------------------------


def test_concurrent_calls_under_random_faults_lose_nothing():
    """8 threads share one client; the server answers at random: success, 503, a reset before the
    answer, a reset in the middle of the body. Every call ends in a result or a typed error, and
    the server completed each call at most once: exactly once for each call that returned."""
    calls_per_thread = int(os.environ.get("DYNCLIENT_LOAD_CALLS", "60"))
    rng = random.Random(20261125)
    lock = threading.Lock()
    completed: list[str] = []

    def success(conn, attempt):
        name = json.loads(attempt.body)["name"]
        json_reply({"id": name})(conn, attempt)
        with lock:
            completed.append(name)

    def pick():
        with lock:
            roll = rng.random()
        if roll < 0.55:
            return success
        if roll < 0.7:
            return error_reply(503)
        if roll < 0.85:
            return reset
        return reset_mid_body()

    outcomes: dict[str, object] = {}
    with FaultServer(default=pick) as srv:
        client = dynclient.Client(SPEC, base_url=srv.url, api_key=CANARY, retry=FAST, max_retries=3, timeout=10)

        def worker(index: int) -> None:
            for n in range(calls_per_thread):
                name = f"call-{index}-{n}"
                try:
                    result = client.call_raw("createThing", {"name": name})
                    outcomes[name] = result
                except DynclientError as exc:
                    outcomes[name] = exc

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a call hung"
        attempts = len(srv.attempts)

    assert len(outcomes) == 8 * calls_per_thread
    returned = {name for name, o in outcomes.items() if isinstance(o, dynclient.Result)}
    failed = {name: o for name, o in outcomes.items() if not isinstance(o, dynclient.Result)}
    assert all(isinstance(e, (APIConnectionError, dynclient.InternalServerError)) for e in failed.values())
    assert all(outcomes[name].body == {"id": name} for name in returned)
    assert sorted(completed) == sorted(returned), "the server completed exactly the calls that returned, once"
    retried = sum(o.attempts - 1 for o in outcomes.values() if isinstance(o, dynclient.Result))
    assert retried > 0 and attempts >= len(outcomes)
    print(f"\nload: {len(outcomes)} calls from 8 threads, {attempts} attempts seen by the server, "
          f"{len(returned)} results ({retried} retries among them), {len(failed)} typed errors, 0 lost")
