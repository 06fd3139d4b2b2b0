"""A fast loopback HTTP/1.1 server for the benchmarks, run in its own process.

A raw socket server (one thread per connection, keep-alive) rather than
http.server: its per-request cost is a few tens of microseconds, so what the
benchmarks measure is the client, not the server. It answers every request
with the body routed by (method, path) and counts nothing; the benchmark
checks the answers on the client side.

    python -m benchmarks.server ROUTES.json      # prints the port, then serves until stdin closes

ROUTES.json maps "METHOD /path" to the JSON value to answer with.
"""

from __future__ import annotations

import json
import socket
import sys
import threading

HEAD_END = b"\r\n\r\n"


def build_replies(routes: dict) -> dict[tuple[bytes, bytes], bytes]:
    replies = {}
    for key, value in routes.items():
        method, path = key.split(" ", 1)
        body = json.dumps(value, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"x-request-id: req_bench\r\nConnection: keep-alive\r\n\r\n").encode()
        replies[(method.encode(), path.encode())] = head + body
    return replies


NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
             b"Connection: keep-alive\r\n\r\n{}")


def serve_quietly(conn: socket.socket, replies: dict) -> None:
    """serve_connection, where a client that resets its connection (closing its pool of keep-alive
    connections at the end of a variant) simply ends it, without a traceback in the run's output."""
    try:
        serve_connection(conn, replies)
    except ConnectionError:
        pass


def serve_connection(conn: socket.socket, replies: dict) -> None:
    buffer = b""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            end = buffer.find(HEAD_END)
            while end < 0:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                end = buffer.find(HEAD_END)
            head, buffer = buffer[:end], buffer[end + 4:]
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            while len(buffer) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[length:]   # the body itself is not looked at
            path = target.split(b"?", 1)[0]
            conn.sendall(replies.get((method, path), NOT_FOUND))


def main() -> None:
    with open(sys.argv[1]) as file:
        replies = build_replies(json.load(file))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)   # 256 clients at once must not be reset (the kernel caps it at somaxconn)
    print(listener.getsockname()[1], flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve_quietly, args=(conn, replies), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()   # the parent closes our stdin (or dies) to stop us


if __name__ == "__main__":
    main()
