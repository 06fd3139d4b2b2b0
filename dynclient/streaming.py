"""Responses read as they arrive: server-sent events, or bytes in chunks (the sync shell's).

    with client.stream("createChatCompletion", {"model": "gpt-4o", "messages": [...]}) as events:
        for event in events:            # Event(event, data, id), data validated
            print(event.data["choices"][0]["delta"])

    with client.stream("downloadFile", file_id="file-1") as body:
        body.write_to("out.jsonl")      # or: for chunk in body.iter_bytes(): ...

Leaving the loop early, or the `with` block, closes the connection; a stream
that stalls longer than the read timeout raises APITimeoutError. Parsing and
checking events is the core's (core/sse.py, BaseClient.event_checker): this
module only reads.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator


from . import codecs
from .core.call import RawResponse
from .core.faults import Where
from .core.sse import DEFAULT_MAX_EVENT_BYTES, Event, EventParser
from .errors import ResponseDecodeError, ResponseTooLargeError
from .transport import CHUNK, iter_body, release


class StreamBase:
    """What a stream is, whichever shell reads it: its status, headers and kind."""

    def __init__(self, operation_id: str, raw: RawResponse, check: Callable[[Event], Event],
                 max_bytes: int | None = None, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES):
        self.operation_id = operation_id
        self.status = raw.status
        self.headers = raw.headers   # case-insensitive
        self.request_id: str | None = raw.headers.get("x-request-id")
        self.content_type: str = raw.headers.get("Content-Type", "")
        self.attempts = raw.attempts
        self.is_event_stream = codecs.media_essence(self.content_type) == "text/event-stream"
        self.response = raw.stream
        self.where = Where(operation_id, raw.url, raw.read_timeout)
        self.check = check
        self.max_bytes = max_bytes
        self.max_event_bytes = max_event_bytes
        self.started = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.operation_id} {self.status} {self.content_type or 'no content type'}>"

    def begin_reading(self) -> None:
        if self.started:
            raise RuntimeError(f"{self.operation_id}: this stream has already been read")
        self.started = True

    def new_parser(self) -> EventParser:
        return EventParser(self.max_event_bytes)

    def typed_error(self, exc: ResponseDecodeError | ResponseTooLargeError) -> Exception:
        """A core error (which knows no operation) as the caller sees it."""
        if exc.operation_id:
            return exc
        if isinstance(exc, ResponseTooLargeError):
            return exc.for_operation(self.operation_id)
        return ResponseDecodeError(str(exc), self.operation_id, self.status, self.content_type)


class Stream(StreamBase):
    """An open response: iterating gives events for `text/event-stream`, byte chunks otherwise."""

    def __iter__(self) -> Iterator[Any]:
        return self.events() if self.is_event_stream else self.iter_bytes()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection; an unread remainder is dropped with it."""
        release(self.response)

    def iter_bytes(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The body in chunks as they arrive (decompressed), at most `max_bytes` in all."""
        self.begin_reading()
        return iter_body(self.response, self.where, chunk_size, self.max_bytes)

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def write_to(self, path: str | os.PathLike) -> int:
        """Write the body to a file chunk by chunk; returns the number of bytes written. A failed
        download leaves no partial file behind."""
        written = 0
        try:
            with open(path, "wb") as fh:
                for chunk in self.iter_bytes():
                    fh.write(chunk)
                    written += len(chunk)
        except BaseException:
            _remove(path)
            raise
        return written

    def events(self) -> Iterator[Event]:
        """Decoded events, each checked against the document's event schema; an error event raises
        APIStreamError; OpenAI's `data: [DONE]` ends the stream. An event (or a line) larger than
        `max_event_bytes` raises ResponseTooLargeError."""
        parser = self.new_parser()
        try:
            for chunk in self.iter_bytes():
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


def _remove(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
