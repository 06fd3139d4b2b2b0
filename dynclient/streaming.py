"""Responses read as they arrive: server-sent events, or bytes in chunks.

    with client.stream("createChatCompletion", {"model": "gpt-4o", "messages": [...]}) as events:
        for event in events:            # codecs.Event(event, data, id), data validated
            print(event.data["choices"][0]["delta"])

    with client.stream("downloadFile", file_id="file-1") as body:
        body.write_to("out.jsonl")      # or: for chunk in body.iter_bytes(): ...

Leaving the loop early, or the `with` block, closes the connection; a stream
that stalls longer than the read timeout raises APITimeoutError.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import urllib3

from . import codecs
from .core.sse import DEFAULT_MAX_EVENT_BYTES, EventParser
from .errors import APIStreamError, ResponseDecodeError, ResponseTooLargeError
from .transport import CHUNK, RawResponse, iter_body, release


class Stream:
    """An open response: iterating gives events for `text/event-stream`, byte chunks otherwise."""

    def __init__(self, operation_id: str, raw: RawResponse, check_event: Callable[[codecs.Event], None],
                 max_bytes: int | None = None, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES):
        self.operation_id = operation_id
        self.status = raw.status
        self.headers: urllib3.HTTPHeaderDict = raw.headers
        self.request_id: str | None = raw.headers.get("x-request-id")
        self.content_type: str = raw.headers.get("Content-Type", "")
        self.attempts = raw.attempts
        self.is_event_stream = codecs.media_essence(self.content_type) == "text/event-stream"
        self._response = raw.stream
        self._check_event = check_event
        self._max_bytes = max_bytes
        self._max_event_bytes = max_event_bytes
        self._started = False

    def __repr__(self) -> str:
        return f"<Stream {self.operation_id} {self.status} {self.content_type or 'no content type'}>"

    def __iter__(self) -> Iterator[Any]:
        return self.events() if self.is_event_stream else self.iter_bytes()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection; an unread remainder is dropped with it."""
        release(self._response)

    # --- bytes ---------------------------------------------------------------------

    def iter_bytes(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The body in chunks as they arrive (decompressed), at most `max_bytes` in all."""
        if self._started:
            raise RuntimeError(f"{self.operation_id}: this stream has already been read")
        self._started = True
        return iter_body(self._response, self.operation_id, chunk_size, self._max_bytes)

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
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        return written

    # --- events --------------------------------------------------------------------

    def events(self) -> Iterator[codecs.Event]:
        """Decoded events, each checked against the document's event schema; an error event raises
        APIStreamError; OpenAI's `data: [DONE]` ends the stream. An event (or a line) larger than
        `max_event_bytes` raises ResponseTooLargeError."""
        parser = EventParser(self._max_event_bytes)
        try:
            for chunk in self.iter_bytes():
                for event in parser.feed(chunk):
                    yield self._checked(event)
                if parser.done:
                    return
            for event in parser.close():
                yield self._checked(event)
        except ResponseTooLargeError as exc:
            raise exc if exc.operation_id else exc.for_operation(self.operation_id) from None
        except ResponseDecodeError as exc:
            if exc.operation_id:
                raise
            raise ResponseDecodeError(str(exc), self.operation_id, self.status, self.content_type) from None
        finally:
            self.close()

    def _checked(self, event: codecs.Event) -> codecs.Event:
        if is_error_event(event):
            raise APIStreamError(self.operation_id, event.event, event.data, self.request_id)
        if isinstance(event.data, str) and event.data[:1] in ("{", "["):
            raise ResponseDecodeError(f"malformed JSON in an event's data: {event.data[:80]!r}",
                                      self.operation_id, self.status, self.content_type)
        self._check_event(event)
        return event


def is_error_event(event: codecs.Event) -> bool:
    """`event: error`, or (chat completions) a data object whose only business is an `error`."""
    if event.event == "error":
        return True
    data = event.data
    return event.event is None and isinstance(data, dict) and isinstance(data.get("error"), dict) \
        and "choices" not in data and "type" not in data
