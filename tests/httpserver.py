"""A small, real HTTP/1.1 server on 127.0.0.1 for the client's tests.

The server records exactly what arrived on the wire (raw request target,
all header lines, the de-chunked body), counts accepted TCP connections and
raw bytes read from every socket, and answers with queued or default
:class:`Reply` objects.  Nothing here mocks urllib3: tests talk to it over
real sockets.

    with TestServer() as srv:
        srv.reply(Reply(status=201, body={"id": 1}))
        ...  # drive the client against srv.url
        assert srv.requests[0].path == "/v1/things"
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import http
import io
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union
from urllib.parse import parse_qsl

__all__ = ["Headers", "Part", "Recorded", "Reply", "TestServer"]

_MAX_LINE = 65536


# --------------------------------------------------------------------------
# Case-insensitive multi-valued headers
# --------------------------------------------------------------------------


class Headers(Mapping):
    """Read-only, case-insensitive, multi-valued header mapping.

    ``h["x-a"]`` returns all values of that field joined with ``", "`` (the
    HTTP rule for combining repeated fields); ``h.get_all("x-a")`` returns
    them as a list.  ``h.raw`` is the list of ``(name, value)`` pairs exactly
    as received, in order and with the original name case.
    """

    __slots__ = ("raw",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        if isinstance(items, Headers):
            pairs = list(items.raw)
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        self.raw: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]

    def get_all(self, name: str, default: Any = None) -> list[str] | Any:
        key = name.lower()
        values = [v for k, v in self.raw if k.lower() == key]
        return values if values else ([] if default is None else default)

    getlist = get_all

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(k.lower() == key for k, _ in self.raw)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self.raw:
            if k.lower() not in seen:
                seen.add(k.lower())
                yield k

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self.raw})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            other_h = other if isinstance(other, Headers) else Headers(other)
            return {k.lower(): self[k] for k in self} == {k.lower(): other_h[k] for k in other_h}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


# --------------------------------------------------------------------------
# What arrived
# --------------------------------------------------------------------------


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str | None
    filename: str | None
    content_type: str | None  # the part's Content-Type header, None if absent
    data: bytes
    headers: Headers = field(default_factory=Headers)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Recorded:
    """One request exactly as it arrived."""

    method: str
    path: str  # raw target path, not unquoted, without the query
    query: str  # raw query string, "" if none
    headers: Headers
    body: bytes  # de-chunked if Transfer-Encoding: chunked
    version: str = "HTTP/1.1"
    trailers: Headers = field(default_factory=Headers)  # chunked trailer fields
    connection_id: int = 0  # 1-based ordinal of the TCP connection it came on
    _target: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)
        if not isinstance(self.trailers, Headers):
            self.trailers = Headers(self.trailers)

    @property
    def target(self) -> str:
        """The raw request target as received (path + "?" + query)."""
        if self._target is not None:
            return self._target
        return self.path + ("?" + self.query if self.query else "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def form(self) -> list[tuple[str, str]]:
        """Parse an application/x-www-form-urlencoded body."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def multipart(self) -> list[Part]:
        """Parse a multipart/form-data body (binary-exact)."""
        ctype = self.headers.get("content-type")
        if not ctype:
            raise ValueError("request has no Content-Type")
        msg = email.message.Message()
        msg["content-type"] = ctype
        if msg.get_content_maintype() != "multipart":
            raise ValueError(f"not a multipart body: {ctype!r}")
        boundary = msg.get_param("boundary")
        if not boundary or not isinstance(boundary, str):
            raise ValueError(f"multipart Content-Type without boundary: {ctype!r}")
        return [_parse_part(raw) for raw in _split_multipart(self.body, boundary.encode("latin-1"))]


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """Split a multipart body into raw parts (headers + CRLFCRLF + data)."""
    buf = b"\r\n" + body  # so a delimiter at the very start is found too
    sep = b"\r\n--" + boundary
    pos = buf.find(sep)
    if pos < 0:
        raise ValueError("multipart boundary not found in body")
    parts: list[bytes] = []
    while True:
        start = pos + len(sep)
        if buf.startswith(b"--", start):  # close delimiter; the rest is epilogue
            return parts
        eol = buf.find(b"\r\n", start)
        if eol < 0 or buf[start:eol].strip(b" \t"):
            raise ValueError("malformed multipart boundary line")
        content_start = eol + 2
        nxt = buf.find(sep, content_start)
        if nxt < 0:
            raise ValueError("multipart body has no closing boundary")
        parts.append(buf[content_start:nxt])
        pos = nxt


def _parse_part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    else:
        head, sep, data = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without header/body separator")
    msg = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(
        head.decode("utf-8", "surrogateescape")
    )
    name = msg.get_param("name", header="content-disposition")
    if name is not None:
        name = email.utils.collapse_rfc2231_value(name)
    filename = msg.get_filename()
    return Part(
        name=name,
        filename=filename,
        content_type=msg.get("content-type"),
        data=data,
        headers=Headers(msg.items()),
    )


# --------------------------------------------------------------------------
# What the server answers
# --------------------------------------------------------------------------

BodyType = Union[bytes, bytearray, memoryview, str, dict, list]


@dataclass
class Reply:
    """What the server answers.

    ``body``: bytes are sent as is; str is UTF-8 encoded (default
    Content-Type ``text/plain; charset=utf-8``); dict/list are JSON encoded
    (default Content-Type ``application/json``); a callable receives the
    :class:`Recorded` request and returns any of those.
    ``headers``: a mapping or a list of (name, value) pairs (repeats allowed).
    Content-Length is always added (except for 1xx/204/304 or when given in
    ``headers``).  ``delay`` sleeps before answering; ``close`` drops the
    connection with a TCP reset instead of answering.
    """

    status: int = 200
    headers: Mapping[str, Any] | Iterable[tuple[str, Any]] = field(default_factory=dict)
    body: BodyType | Callable[[Recorded], BodyType] = b""
    delay: float = 0.0
    close: bool = False
    reason: str | None = None  # status line reason phrase; standard one if None

    def render(self, request: Recorded) -> tuple[int, str, list[tuple[str, str]], bytes]:
        body = self.body
        if callable(body):
            body = body(request)
        default_ctype = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            default_ctype = "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            default_ctype = "text/plain; charset=utf-8"
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
        else:
            raise TypeError(f"unsupported Reply body type: {type(body).__name__}")
        headers = Headers(self.headers).raw
        names = {k.lower() for k, _ in headers}
        if default_ctype and "content-type" not in names:
            headers.append(("Content-Type", default_ctype))
        bodiless = self.status < 200 or self.status in (204, 304)
        if not bodiless and "content-length" not in names and "transfer-encoding" not in names:
            headers.append(("Content-Length", str(len(data))))
        if bodiless:
            data = b""
        if self.reason is not None:
            reason = self.reason
        else:
            try:
                reason = http.HTTPStatus(self.status).phrase
            except ValueError:
                reason = ""
        return self.status, reason, headers, data


ReplySource = Union[Reply, Callable[[Recorded], Any]]


def _resolve(source: Any, request: Recorded) -> Reply:
    """Turn a Reply, callable or bare body into a Reply."""
    while not isinstance(source, Reply) and callable(source):
        source = source(request)
    if isinstance(source, Reply):
        return source
    return Reply(body=source)


# --------------------------------------------------------------------------
# Socket plumbing
# --------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Raw reader over a socket that counts every byte received."""

    def __init__(self, sock: socket.socket, on_bytes: Callable[[int], None]) -> None:
        self._sock = sock
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self._sock.recv_into(b)
        if n:
            self._on_bytes(n)
        return n


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dynclient-testserver/1"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        # Like StreamRequestHandler.setup, but rfile counts raw socket bytes.
        self.connection = self.request
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        except OSError:
            pass
        owner = self.server.owner
        self.rfile = io.BufferedReader(_CountingReader(self.connection, owner._add_bytes), _MAX_LINE)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any method, including non-standard ones
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    # -- request side ------------------------------------------------------

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError(f"connection closed after {len(data)} of {n} body bytes")
        return data

    def _read_chunked(self) -> tuple[bytes, list[tuple[str, str]]]:
        out = bytearray()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line.endswith(b"\n"):
                raise ValueError("truncated chunk-size line")
            size_field = line.split(b";", 1)[0].strip()
            size = int(size_field, 16)  # ValueError on garbage
            if size < 0:
                raise ValueError("negative chunk size")
            if size == 0:
                break
            out += self._read_exact(size)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise ValueError("chunk data not followed by CRLF")
        trailers: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise ValueError("truncated chunked trailer")
            name, _, value = line.decode("latin-1").partition(":")
            trailers.append((name.strip(), value.strip()))
        return bytes(out), trailers

    def _read_body(self) -> tuple[bytes, list[tuple[str, str]]]:
        te = self.headers.get_all("Transfer-Encoding") or []
        codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
        if codings:
            if codings[-1] != "chunked":
                raise ValueError(f"unsupported Transfer-Encoding: {te!r}")
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b"", []
        if len(lengths) != 1:
            raise ValueError(f"conflicting Content-Length values: {lengths!r}")
        (length_s,) = lengths
        if not length_s.isdigit():
            raise ValueError(f"bad Content-Length: {length_s!r}")
        return self._read_exact(int(length_s)), []

    # -- response side -----------------------------------------------------

    def _bad_request(self, why: str) -> None:
        data = why.encode("utf-8", "replace")
        self.close_connection = True
        self.wfile.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, answering nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()

    def _dispatch(self) -> None:
        owner = self.server.owner
        # self.path may have been normalised by http.server ('//x' -> '/x');
        # take the target straight from the raw request line instead.
        words = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
        target = words[1] if len(words) >= 2 else self.path
        path, _, query = target.partition("?")
        try:
            body, trailers = self._read_body()
        except ValueError as exc:
            self._bad_request(str(exc))
            return
        rec = Recorded(
            method=self.command,
            path=path,
            query=query,
            headers=Headers(self.headers.items()),
            body=body,
            version=self.request_version,
            trailers=Headers(trailers),
            connection_id=self.server.connection_id(self.request),
            _target=target,
        )
        owner._record(rec)
        reply = _resolve(owner._next_reply(), rec)

        if reply.delay > 0 and owner._closing.wait(reply.delay):
            self._reset()  # server is shutting down: don't answer
            return
        if reply.close:
            self._reset()
            return

        status, reason, headers, data = reply.render(rec)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            if k.lower() == "connection" and v.strip().lower() == "close":
                self.close_connection = True
        if "date" not in names:
            headers.insert(0, ("Date", email.utils.formatdate(usegmt=True)))
        if "server" not in names:
            headers.insert(0, ("Server", self.server_version))
        if self.close_connection and "connection" not in names:
            headers.append(("Connection", "close"))
        head = f"{self.protocol_version} {status} {reason}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        out = head.encode("latin-1")
        if self.command != "HEAD":
            out += data
        self.wfile.write(out)  # a single write: no Nagle/delayed-ACK stalls


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # TestServer.close() joins handler threads itself
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: TestServer) -> None:
        self.owner = owner
        self.conn_ids: dict[socket.socket, int] = {}
        self.handler_threads: list[threading.Thread] = []
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn_id = self.owner._on_accept()
        with self.owner._lock:
            self.conn_ids[conn] = conn_id
        return conn, addr

    def connection_id(self, request: Any) -> int:
        with self.owner._lock:
            return self.conn_ids.get(request, 0)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"testserver-conn-{self.connection_id(request)}",
            daemon=True,
        )
        with self.owner._lock:
            self.handler_threads = [x for x in self.handler_threads if x.is_alive()]
            self.handler_threads.append(t)
        t.start()

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.conn_ids.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):  # client went away: normal in tests
            return
        if isinstance(exc, OSError) and self.owner._closing.is_set():
            return
        self.owner._errors_append(exc)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class TestServer:
    """Threaded HTTP/1.1 server on 127.0.0.1:0 with keep-alive.

    Starts serving on construction.  ``requests``/``connections``/
    ``bytes_received`` are thread-safe snapshots.  Queued replies
    (``reply(...)``) are used in order, then ``default``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: ReplySource | None = None) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._requests: list[Recorded] = []
        self._queue: deque[ReplySource] = deque()
        self._connections = 0
        self._accepted_total = 0
        self._bytes_received = 0
        self._errors: list[BaseException] = []
        self._closing = threading.Event()
        self._closed = False
        self.default: ReplySource = default if default is not None else Reply(body={"ok": True})
        self._httpd = _HTTPServer((host, port), owner=self)
        self.host: str = self._httpd.server_address[0]
        self.port: int = self._httpd.server_address[1]
        self.url: str = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"testserver-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- observations ------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Requests in arrival order (a snapshot copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded:
        """The most recent request (IndexError if none)."""
        with self._lock:
            return self._requests[-1]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (even ones that sent nothing)."""
        with self._lock:
            return self._connections

    @property
    def bytes_received(self) -> int:
        """Raw bytes read from all sockets."""
        with self._lock:
            return self._bytes_received

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised in handler threads (client disconnects excluded)."""
        with self._lock:
            return list(self._errors)

    @property
    def pending_replies(self) -> int:
        """Queued replies not yet used."""
        with self._lock:
            return len(self._queue)

    def wait_for(self, predicate: Callable[[TestServer], bool], timeout: float = 2.0) -> bool:
        """Block until ``predicate(self)`` is true (re-checked on every server event)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # -- control -----------------------------------------------------------

    def url_for(self, target: str) -> str:
        return self.url + (target if target.startswith("/") else "/" + target)

    def reply(self, *replies: ReplySource) -> None:
        """Queue replies, used in order; when the queue is empty ``default`` answers."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Clear recorded requests, queued replies, counters and errors (not ``default``)."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._connections = 0
            self._bytes_received = 0
            self._errors.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()  # wakes delayed replies
        self._httpd.shutdown()  # stops serve_forever
        with self._lock:
            live = list(self._httpd.conn_ids)
        for conn in live:  # wake idle keep-alive handlers
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        deadline = time.monotonic() + 2.0
        with self._lock:
            threads = list(self._httpd.handler_threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> TestServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TestServer {self.url} requests={len(self._requests)} connections={self._connections}>"

    # -- called from server threads ----------------------------------------

    def _on_accept(self) -> int:
        with self._cond:
            self._connections += 1
            self._accepted_total += 1
            self._cond.notify_all()
            return self._accepted_total

    def _add_bytes(self, n: int) -> None:
        with self._cond:
            self._bytes_received += n
            self._cond.notify_all()

    def _record(self, rec: Recorded) -> None:
        with self._cond:
            self._requests.append(rec)
            self._cond.notify_all()

    def _next_reply(self) -> ReplySource:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _errors_append(self, exc: BaseException | None) -> None:
        if exc is None:
            return
        with self._cond:
            self._errors.append(exc)
            self._cond.notify_all()
