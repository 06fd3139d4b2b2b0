"""Cassettes: real answers recorded once, replayed with no network, for both clients.

    client = Client("openai@2025-04-29", cassette="tests/cassettes/assistants.jsonl", record_mode="once")

A cassette sits between the core and the socket: `CassetteTransport` (and its async sibling) wraps
the client's transport. A request the cassette holds is answered from the file; any other is sent
by the real transport, if the record mode allows it, and the exchange appended. Everything above the
transport (validation, typed errors, retries' results, streams, pagination, downloads) runs
unchanged on a replayed answer, because it is the same RawResponse the core interprets.

    record_mode   a request the cassette holds    any other request
    once          replayed                        recorded when the file did not exist, else an error
    new_episodes  replayed                        sent and recorded
    none          replayed                        an error (CassetteError); never sends
    all           sent and recorded (the file is rewritten from its first new exchange)

The line format, the matching and the scrubbing are the core's (core/cassette.py); this module reads
and appends the file (a line flushed per exchange: a crash loses at most the one in flight), writes
side files named by sha256, and hands streams over: a live stream is copied to the cassette as it
is read (memory bounded: past `INLINE_MAX` it spills to its side file), a replayed one is read
from the cassette in chunks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
import threading
from typing import Any, Callable, Iterable

from .core.call import DEFAULT_MAX_RESPONSE_BYTES, MISSING, PreparedRequest, RawResponse
from .core.cassette import (DEFAULT_MATCH_ON, INLINE_MAX, Tape, body_entry, check_match_on, check_record_mode,
                            entry_bytes, exchange_line, header_line, request_form, response_headers, scrub_fields,
                            secret_names)
from .core.headers import Headers
from .errors import CassetteError, ConfigError, ResponseTooLargeError
from .transport import CHUNK

log = logging.getLogger("dynclient")


class Cassette:
    """Where a cassette lives and how a client uses it.

    `match_on` names the request fields two requests must share besides the operation (among
    method, path, arguments, body, content_type, headers), or is a callable
    `(operation_id, request) -> key`. `scrub_fields` are body field names written as `<redacted>`
    wherever they occur; `scrubber(exchange) -> exchange` sees each exchange before it is written
    (the request side of a lookup too, so that a scrubbed request still matches)."""

    def __init__(self, path: str | os.PathLike, record_mode: str = "once", *,
                 match_on: Any = DEFAULT_MATCH_ON, scrub_fields: Iterable[str] = (),
                 scrubber: Callable[[dict], dict] | None = None, inline_max: int = INLINE_MAX):
        self.path = os.fspath(path)
        self.record_mode = check_record_mode(record_mode)
        self.match_on = check_match_on(match_on)
        self.scrub_fields = frozenset(scrub_fields)
        self.scrubber = scrubber
        if not isinstance(inline_max, int) or inline_max < 0:
            raise ConfigError(f"inline_max must be a whole number >= 0, not {inline_max!r}")
        self.inline_max = inline_max

    def __repr__(self) -> str:
        return f"Cassette({self.path!r}, record_mode={self.record_mode!r})"

    @property
    def files(self) -> str:
        """The directory of its side files (`x.jsonl` -> `x.files/`)."""
        return os.path.splitext(self.path)[0] + ".files"

    @classmethod
    def of(cls, cassette: Any, record_mode: str | None) -> "Cassette":
        if isinstance(cassette, Cassette):
            if record_mode is None or record_mode == cassette.record_mode:
                return cassette
            changed = object.__new__(cls)
            changed.__dict__.update(cassette.__dict__, record_mode=check_record_mode(record_mode))
            return changed
        if not isinstance(cassette, (str, os.PathLike)):
            raise ConfigError(f"cassette must be a path or a Cassette, not {type(cassette).__name__}")
        return cls(cassette, record_mode or "once")


class CassetteStore:
    """One client's use of a cassette: the exchanges read from it, and the file it appends to
    (shared by a client's copies and siblings; safe between threads)."""

    def __init__(self, cassette: Cassette, spec: Any, sensitive: frozenset[str]):
        self.cassette = cassette
        self.spec = spec
        self.secrets = sensitive | secret_names(spec.security_schemes)
        self.tape = Tape(cassette.match_on)
        self.mode = cassette.record_mode
        self.existed = os.path.exists(cassette.path)
        self._lock = threading.Lock()
        self._written = False   # the header line is written (or the file was read) in this session
        self._lines = 0         # lines in the file
        self._file: Any = None  # open for appending once something is recorded
        if self.existed and self.mode != "all":
            self._read()
            self._written = True
        elif self.mode == "none":
            raise CassetteError(f"cassette {cassette.path} does not exist, and record_mode='none' never records; "
                                f"record it first (record_mode='once')")

    def __repr__(self) -> str:
        return f"<CassetteStore {self.cassette!r}: {len(self.tape.exchanges)} exchanges>"

    def _read(self) -> None:
        try:
            with open(self.cassette.path, encoding="utf-8") as file:
                lines = list(_bounded_lines(file, self.cassette.path))
            self.tape.read_lines(lines, self.cassette.path)
            self._lines = lines[-1][0] if lines else 0
        except OSError as exc:
            raise CassetteError(f"cannot read cassette {self.cassette.path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CassetteError(f"cassette {self.cassette.path} is not UTF-8 text: {exc.reason}") from None

    # --- requests ---------------------------------------------------------------------

    def request_form(self, op: Any, url: str, base_url: str | None, body: Any, arguments: dict,
                     headers: Any, content_type: str | None) -> dict:
        """The request as the cassette writes and matches it (see core/cassette.py)."""
        base = (base_url or "").rstrip("/")
        path = url[len(base):] if base and url.startswith(base) else url
        form = request_form(op.method.upper(), path, body, arguments, headers, content_type, self.secrets, MISSING)
        form = scrub_fields(form, self.cassette.scrub_fields)
        if self.cassette.scrubber is not None:
            seen = self.cassette.scrubber({"operation": op.operation_id, "request": form, "response": {}})
            form = seen.get("request", form) if isinstance(seen, dict) else form
        return form

    def lookup(self, request: PreparedRequest) -> dict | None:
        """The recorded exchange answering a request; None when it is to be sent (and recorded);
        CassetteError when it may not be."""
        form = self._form(request)
        if self.mode == "all":
            return None
        with self._lock:
            found = self.tape.take(request.operation_id, form)
            if found is None and (self.mode == "none" or (self.mode == "once" and self.existed)):
                raise self.tape.unmatched(request.operation_id, form, self.cassette.path, self.mode)
        return found

    def _form(self, request: PreparedRequest) -> dict:
        if request.call is None:
            raise CassetteError(f"{request.operation_id}: a request not prepared by this client (client.prepare) "
                                f"cannot be matched against a cassette", request.operation_id)
        return request.call

    # --- replaying --------------------------------------------------------------------

    def replayed(self, exchange: dict, request: PreparedRequest, stream: bool,
                 max_bytes: int | None) -> RawResponse:
        """A recorded answer as the transport would have returned it."""
        response = exchange["response"]
        status = response["status"]
        headers = Headers({str(k): str(v) for k, v in (response.get("headers") or {}).items()})
        body = ReplayBody(*self._source(exchange))
        log.debug("%s: answered from cassette %s", request.operation_id, self.cassette.path)
        if stream and status < 400:
            return RawResponse(status, headers, b"", 0.0, int(response.get("attempts", 1)), body, request.url)
        if max_bytes is not None and body.size > max_bytes:
            raise ResponseTooLargeError(max_bytes, request.operation_id)
        return RawResponse(status, headers, body.read_all(), 0.0, int(response.get("attempts", 1)), None, request.url)

    def _source(self, exchange: dict) -> tuple[bytes | None, str | None, int]:
        response = exchange["response"]
        side = response.get("file")
        if side is None:
            data = entry_bytes(response)
            return data, None, len(data)
        digest = str(side.get("sha256", "")) if isinstance(side, dict) else ""
        path = os.path.join(self.cassette.files, digest)
        if not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)) or not os.path.isfile(path):
            raise CassetteError(f"{exchange['operation']}: the side file {digest or '?'} of a recorded answer is "
                                f"missing from {self.cassette.files}", exchange["operation"])
        return None, path, os.path.getsize(path)

    # --- recording --------------------------------------------------------------------

    def recorded(self, request: PreparedRequest, raw: RawResponse, tee: type) -> RawResponse:
        """Record an answer: now when it was read whole; as it is read when it is a stream."""
        if raw.stream is None:
            sink = Sink(self.cassette.files, self.cassette.inline_max)
            sink.write(raw.data)
            self.write(request, raw, sink, True)
            return raw
        return dataclasses.replace(raw, stream=tee(raw.stream, Sink(self.cassette.files, self.cassette.inline_max),
                                                   lambda sink, complete: self.write(request, raw, sink, complete)))

    def write(self, request: PreparedRequest, raw: RawResponse, sink: "Sink", complete: bool) -> None:
        """Append an exchange, its body written inline or to a side file."""
        content_type = raw.headers.get("Content-Type", "")
        response: dict[str, Any] = {"status": raw.status, "headers": response_headers(raw.headers, self.secrets),
                                    "attempts": raw.attempts}
        data = sink.inline()
        entry = body_entry(data, content_type) if data is not None else None
        if entry is None:
            response["file"] = {"sha256": sink.digest, "size": sink.size}
            sink.keep()
        else:
            response.update(entry)
            sink.drop()
        if not complete and not response.get("done"):
            response["partial"] = True   # the caller stopped reading: this is what it read
        exchange = exchange_line(request.operation_id, self._form(request), response, self.cassette.scrub_fields,
                                 self.cassette.scrubber)
        self.append(exchange)

    def append(self, exchange: dict) -> None:
        import json
        line = json.dumps(exchange, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    directory = os.path.dirname(self.cassette.path)
                    if directory:
                        os.makedirs(directory, exist_ok=True)
                    self._file = open(self.cassette.path, "a" if self._written else "w", encoding="utf-8")
                if not self._written:
                    document = self.spec.document
                    self._file.write(json.dumps(header_line(document.origin, document.sha256, self.spec.title,
                                                            self.spec.version), ensure_ascii=False) + "\n")
                    self._written = True
                    self._lines = 1
                self._file.write(line)
                self._file.flush()   # a crash loses at most the exchange in flight
                self._lines += 1
            except OSError as exc:
                raise CassetteError(f"{exchange['operation']}: cannot write cassette {self.cassette.path}: "
                                    f"{exc.strerror or exc}", exchange["operation"]) from None
            self.tape.exchanges.append((self._lines, exchange))   # for the closest-match message; never replayed

    def close(self) -> None:
        """Close the file (a later exchange opens it again)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _bounded_lines(file: Any, origin: str) -> Iterable[tuple[int, str]]:
    from .core.cassette import MAX_LINE
    number = 0
    while True:
        text = file.readline(MAX_LINE + 1)
        if not text:
            return
        number += 1
        if len(text) > MAX_LINE and not text.endswith("\n"):
            raise CassetteError(f"{origin}:{number}: a line longer than {MAX_LINE} characters")
        yield number, text


# --- bodies ---------------------------------------------------------------------------


class Sink:
    """Where a recorded body goes as it is read: memory up to `inline_max` bytes, then a temporary
    side file, renamed to its sha256 when kept."""

    def __init__(self, directory: str, inline_max: int):
        self.directory, self.inline_max = directory, inline_max
        self.hash = hashlib.sha256()
        self.size = 0
        self.chunks: list[bytes] = []
        self.file: Any = None

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.hash.update(chunk)
        self.size += len(chunk)
        if self.file is None and self.size > self.inline_max:
            os.makedirs(self.directory, exist_ok=True)
            self.file = tempfile.NamedTemporaryFile("wb", dir=self.directory, prefix=".part-", delete=False)
            self.file.write(b"".join(self.chunks))
            self.chunks = []
        if self.file is not None:
            self.file.write(chunk)
        else:
            self.chunks.append(chunk)

    @property
    def digest(self) -> str:
        return self.hash.hexdigest()

    def inline(self) -> bytes | None:
        """The body when it is small enough to be written in the line, else None."""
        return None if self.file is not None else b"".join(self.chunks)

    def keep(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        target = os.path.join(self.directory, self.digest)
        if self.file is None:
            if not os.path.exists(target):
                with tempfile.NamedTemporaryFile("wb", dir=self.directory, prefix=".part-", delete=False) as file:
                    file.write(b"".join(self.chunks))
                os.replace(file.name, target)
            return
        self.file.close()
        os.replace(self.file.name, target)

    def drop(self) -> None:
        if self.file is not None:
            self.file.close()
            os.unlink(self.file.name)


class ReplayBody:
    """A recorded body read as the transports' responses are: `read1` for the sync shell
    (transport.iter_body), `content.read` for the async one (async_transport.iter_body)."""

    def __init__(self, data: bytes | None, path: str | None, size: int):
        self.data, self.path, self.size = data, path, size
        self.offset = 0
        self.closed = False
        self.content = _AsyncContent(self)

    def read_all(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as file:   # type: ignore[arg-type]
            return file.read()

    def read1(self, amount: int = CHUNK, decode_content: bool = True) -> bytes:
        if self.closed or self.offset >= self.size:
            return b""
        if self.data is not None:
            chunk = self.data[self.offset:self.offset + amount]
        else:
            with open(self.path, "rb") as file:   # type: ignore[arg-type]
                file.seek(self.offset)
                chunk = file.read(amount)
        self.offset += len(chunk)
        return chunk

    def isclosed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.closed = True

    release = release_conn


class _AsyncContent:
    def __init__(self, body: ReplayBody):
        self.body = body

    async def read(self, amount: int = CHUNK) -> bytes:
        return self.body.read1(amount)

    def at_eof(self) -> bool:
        return self.body.offset >= self.body.size


class Tee:
    """A live urllib3 response whose body is copied to a Sink as the caller reads it; the exchange is
    written when the response is closed or released."""

    def __init__(self, response: Any, sink: Sink, done: Callable[[Sink, bool], None]):
        self.response, self.sink, self.done = response, sink, done
        self.complete = False
        self.finished = False

    def read1(self, amount: int = CHUNK, decode_content: bool = True) -> bytes:
        chunk = self.response.read1(amount, decode_content=decode_content)
        if chunk:
            self.sink.write(chunk)
        else:
            self.complete = True
        return chunk

    def isclosed(self) -> bool:
        return self.response.isclosed()

    def close(self) -> None:
        self.response.close()
        self.finish()

    def release_conn(self) -> None:
        self.response.release_conn()
        self.finish()

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.done(self.sink, self.complete)


class AsyncTee(Tee):
    """An aiohttp response copied as it is read (`content.read`), written when released or closed."""

    def __init__(self, response: Any, sink: Sink, done: Callable[[Sink, bool], None]):
        super().__init__(response, sink, done)
        self.content = _TeeContent(self)

    def release(self) -> None:
        self.complete = self.complete or self.response.content.at_eof()
        self.response.release()
        self.finish()

    def close(self) -> None:
        self.complete = self.complete or self.response.content.at_eof()
        self.response.close()
        self.finish()


class _TeeContent:
    def __init__(self, tee: AsyncTee):
        self.tee = tee

    async def read(self, amount: int = CHUNK) -> bytes:
        chunk = await self.tee.response.content.read(amount)
        if chunk:
            self.tee.sink.write(chunk)
        else:
            self.tee.complete = True
        return chunk

    def at_eof(self) -> bool:
        return self.tee.response.content.at_eof()


# --- the transports -------------------------------------------------------------------


class CassetteTransport:
    """The sync client's transport with a cassette in front; anything else goes to the real one."""

    def __init__(self, store: CassetteStore, inner: Any):
        self.store, self.inner = store, inner

    def __getattr__(self, name: str) -> Any:   # close, pool, ...: the real transport's
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<CassetteTransport {self.store.cassette!r} over {self.inner!r}>"

    def send(self, request: PreparedRequest, timeout: Any, policy: Any, *, stream: bool = False,
             max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        found = self.store.lookup(request)
        if found is not None:
            return self.store.replayed(found, request, stream, max_bytes)
        raw = self.inner.send(request, timeout, policy, stream=stream, max_bytes=max_bytes, on_progress=on_progress)
        return self.store.recorded(request, raw, Tee)

    def close(self) -> None:
        self.inner.close()
        self.store.close()


class AsyncCassetteTransport(CassetteTransport):
    """The AsyncClient's transport with a cassette in front."""

    async def send(self, request: PreparedRequest, timeout: Any, policy: Any, *,   # type: ignore[override]
                   stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
                   on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        found = self.store.lookup(request)
        if found is not None:
            return self.store.replayed(found, request, stream, max_bytes)
        raw = await self.inner.send(request, timeout, policy, stream=stream, max_bytes=max_bytes,
                                    on_progress=on_progress)
        return self.store.recorded(request, raw, AsyncTee)

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.store.close()

    def close_outside_loop(self) -> None:
        self.inner.close_outside_loop()
        self.store.close()


def wrap(store: CassetteStore, transport: Any) -> Any:
    """The transport of a client with a cassette: the async wrapper for an async transport."""
    import inspect
    kind = AsyncCassetteTransport if inspect.iscoroutinefunction(transport.send) else CassetteTransport
    return kind(store, transport)
