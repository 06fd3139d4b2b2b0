"""Peak memory of a streamed upload and a streamed download, against a loopback server.

    python benchmarks/bench_streaming.py [--mb 200]

The server runs in this process; each client runs in a fresh subprocess whose
peak RSS (ru_maxrss) is compared with a baseline subprocess that does
everything but the transfer (imports, spec, client). Flat memory means the
difference stays small whatever the size.
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

SPEC = {
    "openapi": "3.0.3", "info": {"title": "bench", "version": "1"},
    "paths": {
        "/upload": {"post": {"operationId": "upload", "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object"}}}}}}},
        "/download": {"get": {"operationId": "download", "responses": {"200": {"description": "bytes", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}}},
    },
}

CLIENT = """
import json, resource, sys, time, dynclient
spec, base, mode, path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
client = dynclient.Client(spec, base_url=base)
started = time.perf_counter()
if mode == "upload":
    client.call("upload", {"file": __import__("pathlib").Path(path)})
elif mode == "download":
    client.download("download", to=path)
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - started}))
"""


def serve(size: int) -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def handle(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            received = len(body)
            while received < length:   # read and discard: the server must not hold the upload either
                received += len(conn.recv(1 << 20))
            if head.startswith(b"GET"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
                block = b"\0" * (1 << 20)
                for _ in range(size >> 20):
                    conn.sendall(block)
            else:
                reply = json.dumps({"received": received}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(reply)).encode() + b"\r\n\r\n" + reply)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


def run_client(base: str, mode: str, path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CLIENT, json.dumps(SPEC), base, mode, path],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the transfer in MiB (default 200)")
    args = parser.parse_args()
    size = args.mb << 20
    listener, port = serve(size)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        upload_path = os.path.join(tmp, "upload.bin")
        with open(upload_path, "wb") as fh:
            fh.truncate(size)   # sparse: costs no disk, reads as zeros
        baseline = run_client(base, "none", "")
        upload = run_client(base, "upload", upload_path)
        download = run_client(base, "download", os.path.join(tmp, "download.bin"))
        assert os.path.getsize(os.path.join(tmp, "download.bin")) == size
    listener.close()
    print(f"| {args.mb} MiB over loopback | peak RSS | over baseline | time | throughput |")
    print("|---|---|---|---|---|")
    print(f"| baseline (imports, spec, client) | {baseline['rss_mb']:.1f} MB | - | - | - |")
    for name, row in (("multipart upload from a path", upload), ("download to a file", download)):
        print(f"| {name} | {row['rss_mb']:.1f} MB | {row['rss_mb'] - baseline['rss_mb']:+.1f} MB | "
              f"{row['seconds']:.2f} s | {args.mb / row['seconds']:.0f} MiB/s |")


if __name__ == "__main__":
    main()
