"""AsyncClient: the Client's calls, awaited. The same constructor, options, configuration file and
environment, the same prepared requests and the same results and errors, because everything but the
I/O is the core's (core/base.py); this module only awaits the transport (async_transport.py).

    async with dynclient.AsyncClient("openai@2025-04-29", base_url="http://127.0.0.1:8080/v1") as c:
        asst = await c.call("createAssistant", {"model": "gpt-4o"})
        async for event in await c.stream("createChatCompletion", {...}):   # validated events
            ...
        async for assistant in c.paginate("listAssistants", limit=20):
            ...
        await c.download("downloadFile", file_id="file-1", to="out.jsonl")
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, AsyncIterator, Awaitable, Mapping

from .async_transport import AsyncTransport, iter_body, release
from .core.base import BaseClient
from .core.call import MISSING, PreparedRequest, ProgressCallback, RawResponse, Result
from .core.policy import Timeout
from .core.sse import Event
from .errors import ResponseDecodeError, ResponseTooLargeError
from .pagination import PageWalk, items_of, page_rule
from .streaming import StreamBase
from .transport import CHUNK

log = logging.getLogger("dynclient")


class AsyncClient(BaseClient):
    """A client for every operation of an OpenAPI 3.x document, for asyncio programs.

    >>> async with AsyncClient("openai@2025-04-29", base_url="http://127.0.0.1:8080/v1") as client:
    ...     await client.call("createAssistant", {"model": "gpt-4o"})
    """

    transport: AsyncTransport

    def _new_transport(self, **options: Any) -> AsyncTransport:
        return AsyncTransport(**options)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def call(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
                   stream: bool = False, progress: ProgressCallback | None = None, **arguments: Any) -> Any:
        """As Client.call, awaited: the decoded, validated body (or, with stream=True, an AsyncStream)."""
        if stream:
            return await self.stream(operation_id, body, params=params, headers=headers, timeout=timeout,
                                     content_type=content_type, progress=progress, **arguments)
        # call_raw's lines, not an await of it: each coroutine between a call and the socket is passed
        # through again every time the call resumes
        prepared = self.prepare_call(operation_id, body, params, headers, content_type, arguments)
        raw = await self._send(prepared, timeout, progress)
        return self.answer(self.spec.operations[prepared.operation_id], raw)[0]

    async def call_raw(self, operation_id: str, body: Any = MISSING, /, *,
                       params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                       timeout: Any = None, content_type: str | None = None,
                       progress: ProgressCallback | None = None, **arguments: Any) -> Result:
        """As Client.call_raw: a Result with status, headers, request id, elapsed time and attempts."""
        prepared = self.prepare(operation_id, body, params=params, headers=headers,
                                content_type=content_type, **arguments)
        raw = await self._send(prepared, timeout, progress)
        return self.interpret(self.spec.operations[prepared.operation_id], raw)

    async def stream(self, operation_id: str, body: Any = MISSING, /, *,
                     params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                     timeout: Any = None, content_type: str | None = None,
                     progress: ProgressCallback | None = None, max_bytes: int | None = None,
                     **arguments: Any) -> "AsyncStream":
        """As Client.stream: the open answer; `async for` gives validated events for an event stream,
        byte chunks otherwise. Use `async with` so the connection is released early."""
        op = self.operation(operation_id)
        prepared = self.prepare(operation_id, self.streaming_body(op, body, content_type), params=params,
                                headers=headers, content_type=content_type, **arguments)
        raw = await self._send(prepared, timeout, progress, stream=True)
        if raw.stream is None:   # an error answer, read whole
            self.interpret(op, raw)
        stream = AsyncStream(op.operation_id, raw, self.event_checker(op, raw), max_bytes,
                             self.options.max_event_bytes)
        self.check_stream_media(op, raw, stream.close)
        return stream

    async def download(self, operation_id: str, body: Any = MISSING, /, *, to: str | os.PathLike,
                       max_bytes: int | None = None, **options: Any) -> Result:
        """As Client.download: the body streamed into the file `to` (memory flat in its size); a failure
        leaves no file."""
        started = time.perf_counter()
        async with await self.stream(operation_id, body, max_bytes=max_bytes, **options) as stream:
            size = await stream.write_to(to)
        log.debug("%s: wrote %d bytes to %s", operation_id, size, to)
        return Result(stream.operation_id, stream.status, stream.headers, to, stream.request_id,
                      time.perf_counter() - started, stream.content_type, stream.attempts)

    def paginate(self, operation_id: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: Any = None,
                 **arguments: Any) -> "AsyncPaginator":
        """`async for item in client.paginate(...)` (or `.pages()`); PaginationError at once for an
        operation that does not page."""
        return AsyncPaginator(self, operation_id, {"headers": headers, "timeout": timeout},
                              {**(params or {}), **arguments})

    @property
    def batch(self) -> Any:
        """The Batch API workflow: `await client.batch.submit(...)`, `.status`, `.watch`, `.collect`,
        `.cancel` (see dynclient/batchflow.py)."""
        from .batchflow import BatchWorkflow
        return BatchWorkflow(self)

    async def run(self, requests: Any, *, out: str | os.PathLike, **options: Any) -> Any:
        """Many calls, resumable: `requests` is a JSONL path or an iterable of request dicts, `out` the
        results file; returns a RunSummary. Options: concurrency, requests_per_minute,
        tokens_per_minute, estimate (tokens of a Job), progress, read_ahead (None: a second process reads
        and validates a file of 1,000 lines or more on Linux; True, False). See dynclient/run.py."""
        from .run import run_async
        return await run_async(self, requests, out, **options)

    def _send(self, prepared: PreparedRequest, timeout: Any, progress: ProgressCallback | None,
              stream: bool = False) -> Awaitable[RawResponse]:
        """The transport's send, to be awaited by the caller (no coroutine of its own in between)."""
        options = self.options
        return self.transport.send(prepared, options.timeout if timeout is None else Timeout.of(timeout),
                                   options.retry, stream=stream, max_bytes=options.max_response_bytes,
                                   on_progress=progress)


class AsyncStream(StreamBase):
    """An open answer read with `async for`: events for `text/event-stream`, byte chunks otherwise."""

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.events() if self.is_event_stream else self.iter_bytes()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection; an unread remainder is dropped with it."""
        release(self.response)

    aclose = close   # there is nothing to await: closing drops the connection at once

    def iter_bytes(self, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        self.begin_reading()
        return iter_body(self.response, self.where, chunk_size, self.max_bytes)

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_bytes()])

    async def write_to(self, path: str | os.PathLike) -> int:
        """Write the body to a file chunk by chunk; returns the number of bytes written. A failed or
        cancelled download leaves no partial file behind."""
        written = 0
        try:
            with open(path, "wb") as fh:
                async for chunk in self.iter_bytes():
                    fh.write(chunk)
                    written += len(chunk)
        except BaseException:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        return written

    async def events(self) -> AsyncIterator[Event]:
        """Decoded, validated events (see Stream.events)."""
        parser = self.new_parser()
        try:
            async for chunk in self.iter_bytes():
                for event in parser.feed(chunk):
                    yield self.check(event)
                if parser.done:
                    return
            for event in parser.close():
                yield self.check(event)
        except (ResponseDecodeError, ResponseTooLargeError) as exc:
            raise self.typed_error(exc) from None
        finally:
            self.close()


class AsyncPaginator:
    """`async for item in paginator` over every page's items; `async for page in paginator.pages()`."""

    def __init__(self, client: AsyncClient, operation_id: str, call_options: dict, arguments: dict):
        op = client.operation(operation_id)
        self.rule = page_rule(client.spec, op)
        self._client, self._operation_id = client, op.operation_id
        self._call_options, self._arguments = call_options, arguments

    def __repr__(self) -> str:
        return f"<AsyncPaginator {self._operation_id} by {self.rule.cursor!r}>"

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for item in items_of(self.rule, page):
                yield item

    async def pages(self) -> AsyncIterator[Any]:
        walk = PageWalk(self.rule, self._operation_id, self._arguments)
        arguments: dict | None = dict(self._arguments)
        while arguments is not None:
            page = await self._client.call(self._operation_id, **self._call_options, **arguments)
            yield page
            arguments = walk.next_arguments(page)
