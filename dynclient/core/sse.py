"""An event-stream parser fed with bytes as they arrive: linear in its input, bounded per event.

    parser = EventParser(max_event_bytes=32 << 20)
    for chunk in chunks:
        for event in parser.feed(chunk):
            ...
        if parser.done:          # OpenAI's `data: [DONE]`
            break
    events = parser.close()      # whatever the end of the stream completes

Lines are split on CR, LF or CRLF only (a CRLF may straddle two chunks), as
bytes: those bytes never occur inside a UTF-8 sequence, so a line is decoded
once it is whole. Each byte is looked at a bounded number of times, however
the stream is cut: a 16 MiB line in 4 KiB pieces costs what one read of it
costs. A line, or an event's data, longer than `max_event_bytes` stops the
stream with ResponseTooLargeError: a server cannot make the client hold an
event that never ends. Event streams are UTF-8 (WHATWG HTML, 9.2.5).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ResponseDecodeError, ResponseTooLargeError

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
LINE_BREAK = re.compile(rb"\r\n|\r|\n")
DONE = "[DONE]"


@dataclass(frozen=True)
class Event:
    """One server-sent event; `data` is parsed JSON when it is JSON, else the text."""

    event: str | None
    data: Any
    id: str | None = None


def parse_data(payload: str) -> Any:
    """An event's data: JSON when it parses, else the text; JSON too deep to parse is an error."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload
    except RecursionError:
        raise ResponseDecodeError("an event's data is JSON nested too deeply to decode") from None


class EventParser:
    """Bytes of a text/event-stream in, Events out."""

    def __init__(self, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES):
        self.max_event_bytes = max_event_bytes
        self.done = False
        self._line: list[bytes] = []     # pieces of the line not yet ended
        self._line_size = 0
        self._after_cr = False           # the last chunk ended in CR: a LF starting the next one is its pair
        self._started = False            # a BOM may open the stream
        self._name: str | None = None
        self._data: list[str] = []
        self._data_size = 0
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[Any]:
        """The events that `chunk` completes."""
        if self.done or not chunk:
            return []
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._after_cr = chunk[-1:] == b"\r"
        pieces = LINE_BREAK.split(chunk)
        events: list[Any] = []
        for piece in pieces[:-1]:   # every piece but the last ends a line
            if self._line:
                self._grow(piece)
                piece, self._line, self._line_size = b"".join(self._line), [], 0
            elif self.max_event_bytes is not None and len(piece) > self.max_event_bytes:
                self._too_large()
            event = self._on_line(piece)
            if event is not None:
                events.append(event)
            if self.done:
                return events
        if pieces[-1]:
            self._grow(pieces[-1])
        return events

    def close(self) -> list[Any]:
        """The end of the stream: a last line without its line break, and a last event without its
        blank line, still count (as browsers do not, but servers that forget the blank line exist)."""
        events = []
        if self._line and not self.done:
            line, self._line, self._line_size = b"".join(self._line), [], 0
            event = self._on_line(line)
            if event is not None:
                events.append(event)
        if self._data and not self.done:
            event = self._dispatch()
            if event is not None:
                events.append(event)
        return events

    def _grow(self, piece: bytes) -> None:
        self._line.append(piece)
        self._line_size += len(piece)
        if self.max_event_bytes is not None and self._line_size + self._data_size > self.max_event_bytes:
            self._too_large()

    def _too_large(self) -> None:
        raise ResponseTooLargeError(self.max_event_bytes, what="an event of the stream",
                                    setting="max_event_bytes")

    def _on_line(self, raw: bytes) -> Any:
        if not self._started:
            self._started = True
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw:
            return self._dispatch() if self._data else self._reset()
        if raw[:1] == b":":
            return None   # a comment (a keep-alive)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ResponseDecodeError(f"event stream is not valid UTF-8: {exc}") from None
        field, _, value = line.partition(":")
        value = value[1:] if value[:1] == " " else value
        if field == "data":
            self._data_size += len(raw)
            if self.max_event_bytes is not None and self._data_size > self.max_event_bytes:
                self._too_large()
            self._data.append(value)
        elif field == "event":
            self._name = value
        elif field == "id" and "\0" not in value:
            self._id = value
        return None

    def _reset(self) -> None:
        self._name, self._data, self._data_size = None, [], 0

    def _dispatch(self) -> Any:
        payload = "\n".join(self._data)
        name, event_id = self._name, self._id
        self._reset()
        if payload == DONE:
            self.done = True
            return None
        return Event(name, parse_data(payload), event_id)
