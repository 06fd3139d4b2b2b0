"""The mock under load: many clients at once, and a large upload's memory.

    python -m benchmarks.bench_mock_load [--clients 256] [--rounds 5] [--upload-mb 128]

The mock runs as `dynclient mock` in its own process (no auth, a small inline document), so its
memory is its own. Concurrency: `--clients` threads each open a connection at the same moment
(a barrier), send one request and read the answer; the run counts answers, connection errors
(resets, refusals) and the time for all of them, over `--rounds` rounds. Upload: one multipart
request with a `--upload-mb` file, streamed from disk by dynclient's Client; the mock process's
peak RSS (VmHWM) before and after is read from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dynclient

DOCUMENT = {
    "openapi": "3.0.3", "info": {"title": "load", "version": "1"}, "servers": [{"url": "http://127.0.0.1/v1"}],
    "paths": {
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


class Mock:
    """`dynclient mock` in a subprocess on a free port."""

    def __enter__(self) -> "Mock":
        self.document = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(DOCUMENT, self.document)
        self.document.close()
        self.process = subprocess.Popen([sys.executable, "-m", "dynclient.cli", "mock", self.document.name,
                                         "--port", "0", "--no-auth"], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        self.base_url = line.rsplit(" at ", 1)[1].strip()
        host_port = self.base_url.split("//", 1)[1].split("/", 1)[0]
        self.host, self.port = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)
        os.unlink(self.document.name)

    def peak_rss_mb(self) -> float:
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
        return float("nan")


def burst(mock: Mock, clients: int) -> tuple[int, list[str], float]:
    start = threading.Barrier(clients)
    answered: list[int] = []
    errors: list[str] = []
    request = f"GET {mock.base_url.split(str(mock.port), 1)[1]}/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    def one() -> None:
        try:
            start.wait(10)
            with socket.create_connection((mock.host, mock.port), timeout=30) as conn:
                conn.sendall(request.encode())
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                answered.append(1)
            else:
                errors.append(f"answer {data[:20]!r}")
        except (OSError, threading.BrokenBarrierError) as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return len(answered), errors, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--upload-mb", type=int, default=128)
    args = parser.parse_args(argv)
    with Mock() as mock:
        total_errors: list[str] = []
        for number in range(1, args.rounds + 1):
            answered, errors, seconds = burst(mock, args.clients)
            total_errors += errors
            print(f"round {number}: {args.clients} clients at once: {answered} answered, {len(errors)} errors "
                  f"{sorted(set(errors))}, {seconds:.2f} s")
        print(f"concurrency: {len(total_errors)} errors in {args.rounds * args.clients} connections")
    if args.upload_mb:
        with Mock() as mock, tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "upload.bin"
            with open(path, "wb") as file:
                file.truncate(args.upload_mb << 20)
            client = dynclient.Client(DOCUMENT, base_url=mock.base_url, timeout=(5, 300))
            client.call("upload", {"file": b"warm", "purpose": "batch"})
            before = mock.peak_rss_mb()
            started = time.perf_counter()
            client.call("upload", {"file": path, "purpose": "batch"})
            print(f"upload: {args.upload_mb} MiB multipart in {time.perf_counter() - started:.2f} s; mock peak RSS "
                  f"{before:.1f} MB before, {mock.peak_rss_mb():.1f} MB after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
