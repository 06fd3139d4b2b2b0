"""The mock server's start-up time and requests per second, on loopback only.

    python benchmarks/bench_mock.py [--requests 200] [--rounds 3] [--corpus ../shared/specs/openai]

Start-up is from a document path to the first answered request (parse,
index, routes, bind, first synthesis), cold (no disk cache) and warm (the
parsed document from the disk cache), each in a fresh subprocess so nothing
is already imported or compiled. Throughput is a bounded loop of requests over
one keep-alive connection, against a baseline in the same run: a bare
``http.server`` handler on the same socket settings that answers a fixed
JSON body without looking at the request. The ratio is what routing,
validation, state and response validation cost. Each figure is the best of
``--rounds`` runs (mock and baseline interleaved), as the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import urllib3

from dynclient.testing.mock import MockServer

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("2025-04-29", "2026-08-21")

STARTUP = """
import sys, time, urllib3
started = time.perf_counter()
from dynclient import Spec
from dynclient.testing.mock import MockServer
with MockServer(Spec(sys.argv[1], cache=sys.argv[2] if sys.argv[2] != "off" else False)) as server:
    answer = urllib3.request("GET", server.base_url + "/models", headers={"Authorization": "Bearer sk"})
    assert answer.status == 200, answer.data
    print(time.perf_counter() - started)
"""

AUTH = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
CALLS = {   # name: (method, path, body)
    "GET /models": ("GET", "/models", None),
    "POST /assistants": ("POST", "/assistants", {"model": "gpt-4o", "name": "bench"}),
    "GET /assistants?limit=20": ("GET", "/assistants?limit=20", None),
    "POST /chat/completions": ("POST", "/chat/completions",
                               {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
}


class Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    BODY = json.dumps({"object": "list", "data": []}).encode()

    def log_message(self, *args):
        pass

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    do_GET = do_POST = _answer


def startup(path: Path, cache: str) -> float:
    out = subprocess.run([sys.executable, "-c", STARTUP, str(path), cache], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def rate(base_url: str, method: str, path: str, body, count: int) -> float:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", int(base_url.split(":")[2].split("/")[0]), maxsize=1)
    prefix = "/" + base_url.split("/", 3)[3] if base_url.count("/") > 2 else ""
    data = json.dumps(body).encode() if body is not None else None
    pool.request(method, prefix + path, body=data, headers=AUTH)   # warm-up: compile, synthesize once
    started = time.perf_counter()
    for _ in range(count):
        answer = pool.request(method, prefix + path, body=data, headers=AUTH)
        assert answer.status == 200, answer.data
    elapsed = time.perf_counter() - started
    pool.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per row and round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is kept (default 3)")
    parser.add_argument("--corpus", default=os.environ.get("DYNCLIENT_CORPUS") or ROOT.parent / "shared" / "specs" / "openai")
    args = parser.parse_args()
    corpus = Path(args.corpus)

    print("| document | start-up, cold (no cache) | start-up, warm (disk cache) |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        for version in VERSIONS:
            path = corpus / f"openai-{version}.yaml"
            cold = min(startup(path, "off") for _ in range(args.rounds))
            startup(path, cache)   # fills the cache
            warm = min(startup(path, cache) for _ in range(args.rounds))
            print(f"| {version} | {cold:.2f} s | {warm:.2f} s |")

    bare = ThreadingHTTPServer(("127.0.0.1", 0), Bare)
    threading.Thread(target=bare.serve_forever, daemon=True).start()
    bare_url = f"http://127.0.0.1:{bare.server_address[1]}"
    print(f"\n| request ({args.requests} on one connection, best of {args.rounds}) | document | mock req/s | bare server req/s | ratio |")
    print("|---|---|---|---|---|")
    for version in VERSIONS:
        with MockServer(corpus / f"openai-{version}.yaml") as server:
            for name, (method, path, body) in CALLS.items():
                mock_rate = bare_rate = 0.0
                for _ in range(args.rounds):
                    mock_rate = max(mock_rate, rate(server.base_url, method, path, body, args.requests))
                    bare_rate = max(bare_rate, rate(bare_url, method, path, body, args.requests))
                print(f"| {name} | {version} | {mock_rate:.0f} | {bare_rate:.0f} | {mock_rate / bare_rate:.2f} |")
    bare.shutdown()


if __name__ == "__main__":
    main()
