"""A loopback HTTP server that misbehaves on purpose, one scripted connection at a time.

Each accepted connection reads one whole request (recorded in `attempts`), then
runs the next queued script, which writes whatever it likes to the socket:
a proper answer, half an answer, nothing, a reset. Every answer says
`Connection: close`, so each attempt the client makes is one connection here.

    with FaultServer() as srv:
        srv.queue(status(503), json_reply({"id": "a"}))
        ...
        assert len(srv.attempts) == 2
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

Script = Callable[[socket.socket, "Attempt"], None]


@dataclass
class Attempt:
    method: str
    target: str
    headers: dict[str, str]    # lower-case names
    body: bytes
    at: float


class FaultServer:
    def __init__(self, default: Callable[[], Script] | None = None) -> None:
        self._default = default or (lambda: json_reply({"ok": True}))
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.attempts: list[Attempt] = []
        self._scripts: deque[Script] = deque()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def queue(self, *scripts: Script) -> None:
        self._scripts.extend(scripts)

    def __enter__(self) -> "FaultServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()   # wake accept()
        except OSError:
            pass
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def closing(self) -> threading.Event:
        return self._closing

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._closing.is_set():
                conn.close()
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            attempt = read_request(conn)
            if attempt is None:
                return
            self.attempts.append(attempt)
            try:
                script = self._scripts.popleft()
            except IndexError:
                script = self._default()
            script(conn, attempt)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


def read_request(conn: socket.socket) -> Attempt | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(min(1 << 20, length - len(body)))
        if not chunk:
            break
        body += chunk
    return Attempt(method, target, headers, body, time.monotonic())


# --- scripts -------------------------------------------------------------------------


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Script:
    def script(conn: socket.socket, attempt: Attempt) -> None:
        conn.sendall(head(status, headers, len(body)) + body)
    return script


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Script:
    return raw_reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def error_reply(status: int, code: str | None = None, headers: dict[str, str] | None = None) -> Script:
    body = {"error": {"message": f"status {status}", "type": "server_error", "param": None, "code": code}}
    return json_reply(body, status, headers)


def reset(conn: socket.socket, attempt: Attempt) -> None:
    """Drop the connection with a TCP RST before answering anything."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def reset_mid_body(status: int = 200, declared: int = 1000, sent: bytes = b'{"id": "asst_') -> Script:
    """Send the head and part of the body, then reset."""
    def script(conn: socket.socket, attempt: Attempt) -> None:
        conn.sendall(head(status, {"Content-Type": "application/json"}, declared) + sent)
        time.sleep(0.05)
        reset(conn, attempt)
    return script


def silent(seconds: float, server: FaultServer) -> Script:
    """Read the request, then say nothing (no status line ever comes) until `seconds` pass."""
    def script(conn: socket.socket, attempt: Attempt) -> None:
        server.closing.wait(seconds)
    return script


def sse(events: list[str | bytes], stall: float = 0.0, server: FaultServer | None = None,
        headers: dict[str, str] | None = None) -> Script:
    """An event stream: each item of `events` is sent as is (include the blank line), then an
    optional stall with the connection held open."""
    def script(conn: socket.socket, attempt: Attempt) -> None:
        conn.sendall(head(200, {"Content-Type": "text/event-stream", **(headers or {})}))
        for text in events:
            conn.sendall(text if isinstance(text, bytes) else text.encode())
            time.sleep(0.002)
        if stall and server is not None:
            server.closing.wait(stall)
    return script


def chunks(parts: list[bytes], content_type: str, delay: float = 0.0) -> Script:
    """A body sent in several writes, with its total length declared."""
    def script(conn: socket.socket, attempt: Attempt) -> None:
        conn.sendall(head(200, {"Content-Type": content_type}, sum(map(len, parts))))
        for part in parts:
            conn.sendall(part)
            if delay:
                time.sleep(delay)
    return script
