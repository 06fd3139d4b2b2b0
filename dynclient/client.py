"""The Client: one generic invoker for every operation of a document, sending through urllib3.

A call reads top to bottom in ``Client.call_raw``:

    prepare (bind -> validate -> encode) -> send -> interpret (decode -> validate -> result)

`prepare` and `interpret` are the I/O-free core's (core/base.py), shared with
AsyncClient; `send` is the transport's (transport.py). Nothing is sent until
binding, validation and encoding have all succeeded. `stream`, `download` and
`paginate` are the same line with another ending.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Mapping

from .core.base import BaseClient
from .core.call import MISSING, PreparedRequest, ProgressCallback, RawResponse, Result
from .core.policy import Timeout
from .errors import ConfigError
from .streaming import Stream
from .transport import Transport

if TYPE_CHECKING:
    from .pagination import Paginator   # imported when first used: a first call never pages

log = logging.getLogger("dynclient")


class Client(BaseClient):
    """A client for every operation of an OpenAPI 3.x document.

    >>> client = Client("openai-2025-04-29.yaml", base_url="http://127.0.0.1:8080/v1")
    >>> client.call("createAssistant", {"model": "gpt-4o"})
    >>> client.call("getAssistant", assistant_id="asst_123")
    """

    transport: Transport

    def _new_transport(self, **options: Any) -> Transport:
        return Transport(**options)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def call(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
             stream: bool = False, progress: ProgressCallback | None = None, **arguments: Any) -> Any:
        """Call an operation and return its decoded, validated body.

        `body` is the request body; parameters come as keyword arguments (by
        name, or by their Python alias: `include[]` -> `include`) or in
        `params=` (for any name, including `params`, `headers`, `timeout`).
        `stream=True` returns a Stream instead (see `stream`); `progress` is
        called as `progress(bytes_sent, total)` while a file body uploads.
        """
        if stream:
            return self.stream(operation_id, body, params=params, headers=headers, timeout=timeout,
                               content_type=content_type, progress=progress, **arguments)
        prepared = self.prepare_call(operation_id, body, params, headers, content_type, arguments)
        raw = self._send(prepared, timeout, progress)
        return self.answer(self.spec.operations[prepared.operation_id], raw)[0]   # no Result to drop

    def call_raw(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
                 progress: ProgressCallback | None = None, **arguments: Any) -> Result:
        """Like `call`, but returns a Result with status, headers, request id, elapsed time and attempts."""
        prepared = self.prepare(operation_id, body, params=params, headers=headers,
                                content_type=content_type, **arguments)
        raw = self._send(prepared, timeout, progress)
        return self.interpret(self.spec.operations[prepared.operation_id], raw)

    def stream(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
               progress: ProgressCallback | None = None, max_bytes: int | None = None,
               **arguments: Any) -> Stream:
        """Call an operation and read its response as it arrives.

        For a `text/event-stream` response, iterating gives `Event`s, each
        validated against the document's event schema; otherwise byte chunks
        (`iter_bytes`, `write_to`, `read`). A JSON body whose schema has a
        `stream` property gets `"stream": true` unless it says otherwise. Use
        it as a context manager so the connection is released early.
        """
        op = self.operation(operation_id)
        prepared = self.prepare(operation_id, self.streaming_body(op, body, content_type), params=params,
                                headers=headers, content_type=content_type, **arguments)
        raw = self._send(prepared, timeout, progress, stream=True)
        if raw.stream is None:   # an error answer, read whole
            self.interpret(op, raw)
        stream = Stream(op.operation_id, raw, self.event_checker(op, raw), max_bytes, self.options.max_event_bytes)
        self.check_stream_media(op, raw, stream.close)
        return stream

    def download(self, operation_id: str, body: Any = MISSING, /, *, to: str | os.PathLike,
                 max_bytes: int | None = None, **options: Any) -> Result:
        """Stream a (binary) response into the file `to`, never holding it whole in memory; returns a
        Result whose body is the path written (`max_bytes` caps the size; a failure leaves no file)."""
        started = time.perf_counter()
        with self.stream(operation_id, body, max_bytes=max_bytes, **options) as stream:
            size = stream.write_to(to)
        log.debug("%s: wrote %d bytes to %s", operation_id, size, to)
        return Result(stream.operation_id, stream.status, stream.headers, to, stream.request_id,
                      time.perf_counter() - started, stream.content_type, stream.attempts)

    def paginate(self, operation_id: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: Any = None, **arguments: Any) -> Paginator:
        """Iterate the items of every page of a list operation (`.pages()` for whole pages); the cursor
        rule is inferred from the document (see pagination.py). Raises PaginationError at once for an
        operation that does not page."""
        options = {"headers": headers, "timeout": timeout}
        from .pagination import Paginator
        return Paginator(self, operation_id, options, {**(params or {}), **arguments})

    @property
    def batch(self) -> Any:
        """The Batch API workflow: `client.batch.submit(...)`, `.status`, `.watch`, `.collect`, `.cancel`
        (see dynclient/batchflow.py); run on an AsyncClient of the same document and settings."""
        from .async_client import AsyncClient
        from .batchflow import SyncBatchWorkflow
        return SyncBatchWorkflow(self, AsyncClient)

    def run(self, requests: Any, *, out: str | os.PathLike, **options: Any) -> Any:
        """Many calls, resumable: `requests` is a JSONL path or an iterable of request dicts, `out` the
        results file (run again to resume); returns a RunSummary. Options: concurrency,
        requests_per_minute, tokens_per_minute, estimate, progress, read_ahead (see AsyncClient.run).
        Runs on an AsyncClient of the same document and settings (see dynclient/run.py); not inside a
        running event loop."""
        try:
            from .async_client import AsyncClient
        except ImportError as exc:   # pragma: no cover - aiohttp comes with every install that runs tests
            raise ConfigError(f"Client.run needs aiohttp (pip install 'dynclient[async]'): {exc}") from None
        from .run import run_sync
        return run_sync(self, AsyncClient, requests, out, **options)

    def _send(self, prepared: PreparedRequest, timeout: Any, progress: ProgressCallback | None,
              stream: bool = False) -> RawResponse:
        return self.transport.send(prepared, Timeout.of(timeout) if timeout is not None else self.options.timeout,
                                   self.options.retry, stream=stream, max_bytes=self.options.max_response_bytes,
                                   on_progress=progress)
