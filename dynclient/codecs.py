"""Body codecs: one encoder per request media type, one decoder per response media type.

A new media type is one entry in ENCODERS or DECODERS, not a branch in the
client. Lookup goes from the exact type to its structured-syntax suffix
(``+json``) to its major type (``text/*``) to the default (raw bytes).
"""

from __future__ import annotations

import enum
import functools
import json
import os
import uuid
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote

try:
    import orjson
except ImportError:   # pragma: no cover - a platform without its wheel: json alone, the same results
    orjson = None
from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary

from .core.sse import Event, EventParser
from .errors import ResponseDecodeError
from .params import RESERVED, deep_pairs, text

BINARY_PLACEHOLDER = "<binary>"


class EncodeError(ValueError):
    """A body value that cannot be put into the chosen media type; the client names the operation."""


@functools.lru_cache(maxsize=512)   # a call asks two or three times, for a handful of distinct types
def media_essence(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


WILDCARD = "*"   # the key of a table's entry for the ranges that admit JSON, when it has one
JSON_RANGES = frozenset({"*/*", "application/*"})


def lookup(table: dict[str, Any], content_type: str) -> Any:
    essence = media_essence(content_type)
    if essence in JSON_RANGES and WILDCARD in table:
        return table[WILDCARD]
    if essence in table:
        return table[essence]
    if essence.endswith("+json"):
        return table["application/json"]
    major = essence.split("/", 1)[0] + "/*"
    return table.get(major, table["*/*"])


def match_media(declared: Iterable[str], content_type: str) -> str | None:
    """The declared media type key that covers a concrete content type (`image/*`, `*/*` too)."""
    essence = media_essence(content_type)
    keys = list(declared)
    for key in keys:
        if media_essence(key) == essence:
            return key
    for key in keys:
        k = media_essence(key)
        if k.endswith("/*") and essence.startswith(k[:-1]) or k == "*/*":
            return key
    return None


# --- bodies that can be sent again -------------------------------------------


class ReplayableBody:
    """A request body produced in chunks, of known length, that can be produced again from the
    start (a retry sends it byte for byte again). `parts` is a function returning a fresh iterator."""

    def __init__(self, parts: Callable[[], Iterator[bytes]], length: int):
        self._parts = parts
        self.length = length

    def chunks(self, on_progress: Callable[[int, int], None] | None = None) -> Iterator[bytes]:
        sent = 0
        for chunk in self._parts():
            sent += len(chunk)
            yield chunk
            if on_progress is not None:
                on_progress(sent, self.length)

    def read(self) -> bytes:
        """The whole body in memory (for inspection and tests; sending streams it)."""
        return b"".join(self._parts())

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"<ReplayableBody {self.length} bytes>"


# --- files ------------------------------------------------------------------


def is_file_value(value: Any) -> bool:
    return (isinstance(value, (bytes, bytearray, memoryview, os.PathLike)) or hasattr(value, "read")
            or (isinstance(value, tuple) and 2 <= len(value) <= 4 and isinstance(value[0], (str, type(None)))))


def body_instance(content_type: str, body: Any) -> Any:
    """The body as its schema sees it, for a request of `content_type` (the declared media type):
    JSON as it is; under a range (`*/*`), JSON data as it is and bytes holding JSON parsed; otherwise
    file values stand as strings (`format: binary`)."""
    essence = media_essence(content_type)
    if essence == "application/json" or essence.endswith("+json"):
        return body
    if essence in JSON_RANGES:
        if not is_file_value(body):
            return body
        if isinstance(body, (bytes, bytearray)):
            found = json_document(body)
            if found is not None:
                return found
    return for_validation(body)


def for_validation(body: Any) -> Any:
    """The body as its schema sees it: file values stand as strings (`format: binary`)."""
    if isinstance(body, dict):
        return {k: for_validation(v) for k, v in body.items()}
    if isinstance(body, list):
        return [for_validation(v) for v in body]
    return BINARY_PLACEHOLDER if is_file_value(body) else body


class FileSource:
    """File data read from its start each time it is sent (a retry sends it again), never whole into
    memory: a path is reopened, a seekable file object is sought back to where it stood."""

    def __init__(self, path: str | None = None, fileobj: Any = None):
        self.path, self.fileobj = path, fileobj
        if path is not None:
            self.start, self.size = 0, os.stat(path).st_size
        else:
            self.start = fileobj.tell()
            self.size = fileobj.seek(0, os.SEEK_END) - self.start
            fileobj.seek(self.start)

    def chunks(self, size: int = 1024 * 1024) -> Iterator[bytes]:
        if self.path is not None:
            with open(self.path, "rb") as fh:
                yield from iter(lambda: fh.read(size), b"")
            return
        self.fileobj.seek(self.start)
        remaining = self.size
        while remaining > 0:
            chunk = self.fileobj.read(min(size, remaining))
            if not chunk:
                raise EncodeError(f"the file shrank while it was being sent ({remaining} bytes missing)")
            chunk = chunk.encode() if isinstance(chunk, str) else chunk
            remaining -= len(chunk)
            yield chunk

    def read(self) -> bytes:
        return b"".join(self.chunks())


def _seekable(fileobj: Any) -> bool:
    try:
        return bool(fileobj.seekable()) and "b" in getattr(fileobj, "mode", "b")
    except (AttributeError, OSError, ValueError):
        return False


def file_source(value: Any, default_name: str) -> tuple[str | None, bytes | FileSource, str | None]:
    """(filename, bytes or a FileSource to stream, content type) of any value a file field accepts."""
    if isinstance(value, tuple):
        filename, data, *rest = value
        _, content, _ = file_source(data, default_name)
        return filename, content, rest[0] if rest else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return default_name, bytes(value), None
    if isinstance(value, os.PathLike):
        return os.path.basename(os.fspath(value)), FileSource(path=os.fspath(value)), None
    if hasattr(value, "read"):
        name = getattr(value, "name", None)
        filename = os.path.basename(name) if isinstance(name, str) else default_name
        if _seekable(value):
            return filename, FileSource(fileobj=value), None
        data = value.read()   # a pipe or a text stream: it can only be read once, so it is kept
        return filename, data.encode() if isinstance(data, str) else bytes(data), None
    if isinstance(value, str):
        return None, value.encode(), None
    raise EncodeError(f"cannot send a {type(value).__name__} as file data")


def replayable(pieces: list[bytes | FileSource]) -> bytes | ReplayableBody:
    """Bytes when everything is in memory; otherwise a body streamed piece by piece, again on a retry."""
    if all(isinstance(piece, bytes) for piece in pieces):
        return b"".join(pieces)   # type: ignore[arg-type]

    def parts() -> Iterator[bytes]:
        for piece in pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield from piece.chunks()

    return ReplayableBody(parts, sum(len(p) if isinstance(p, bytes) else p.size for p in pieces))


# --- encoders: (body, encoding map) -> (bytes, content type) ------------------


class _Encoder(json.JSONEncoder):
    """json's side of encode_json: compact, UTF-8, no NaN; a UUID as its text and an Enum as its value,
    as orjson writes them, so both sides give the same for every value either takes."""

    def default(self, o: Any) -> Any:
        if isinstance(o, uuid.UUID):
            return str(o)
        if isinstance(o, enum.Enum):
            return o.value
        return super().default(o)


JSON_ENCODER = _Encoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# orjson encodes a request in a fifteenth of json's time (0.4 µs against 5.6 for benchmarks/payloads.py's
# createChatCompletion); what it refuses (keys that are not strings,
# integers beyond 64 bits, subclasses of str, int, dict or list, dataclasses, dates, lone surrogates,
# nesting beyond 255) or would write where json refuses (NaN and Infinity, which orjson writes as null)
# goes to json, which decides, and words its errors, as before.
_ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_SUBCLASS) if orjson is not None else 0


def encode_json(body: Any, encoding: dict) -> tuple[bytes, str]:
    if orjson is not None:
        try:
            data = orjson.dumps(body, option=_ORJSON_OPTIONS)
        except TypeError:   # orjson.JSONEncodeError among them
            pass
        else:
            if data.find(b"null") < 0:   # no null, so no NaN or Infinity written as one (find: bytes' `in` tries an int first)
                return data, "application/json"
    try:
        return JSON_ENCODER.encode(body).encode(), "application/json"
    except UnicodeEncodeError as exc:   # a lone surrogate: json writes it, UTF-8 cannot
        raise EncodeError(f"the body is not valid Unicode: a string holds the lone surrogate "
                          f"{exc.object[exc.start:exc.end]!r}") from None
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"the body is not JSON-serializable: {exc}") from None
    except RecursionError:
        raise EncodeError("the body is nested too deeply to encode as JSON") from None


def part_content_type(declared: Any) -> str | None:
    """The Content-Type of a part from an `encoding` entry's `contentType`, which may list several
    (`image/png, image/jpeg`) or a range (`image/*`): the first concrete one, else none."""
    for item in str(declared or "").split(","):
        if item.strip() and "*" not in item:
            return item.strip()
    return None


# `allowReserved` leaves reserved characters as they are, except those that would end the value,
# add a pair or read as a space in a form (`&`, `=`, `#`, `+`): no value can change the body's shape.
FORM_RESERVED = "".join(ch for ch in RESERVED if ch not in "&=#+")
FORM_DELIMITERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def form_pairs(name: str, value: Any, rule: Any) -> list[tuple[str, Any]]:
    """A body field as (name, value) pairs by its `encoding` entry (`style`, `explode`, `contentType`):
    deepObject gives `name[key][0]=...`; form (the default) repeats an array's members, or joins them
    with the style's delimiter when `explode: false`. An object under no style, or whose
    `contentType` is JSON, goes as JSON text (3.0's default content type for objects); under an
    explicit form style it is flattened into its own pairs (`explode`) or `name=k,v,...`. Values
    stay as they are (files, objects) for the codec to write."""
    rule = rule if isinstance(rule, dict) else {}
    style = rule.get("style")
    explode = rule.get("explode", style in (None, "form"))
    as_json = "json" in str(rule.get("contentType") or "")
    if value is None:
        return []
    if style == "deepObject" and isinstance(value, (dict, list)) and not as_json:
        return deep_pairs(name, value)
    if isinstance(value, list):   # (a tuple is a file: name, data, type)
        if explode or style not in FORM_DELIMITERS:
            return [(name, item) for item in value if item is not None]
        return [(name, FORM_DELIMITERS[style].join(text(item) for item in value if item is not None))]
    if isinstance(value, dict) and style == "form" and not as_json:
        if explode:
            return [(str(k), v) for k, v in value.items() if v is not None]
        return [(name, ",".join(f"{k},{text(v)}" for k, v in value.items() if v is not None))]
    return [(name, value)]


def encode_multipart(body: Any, encoding: dict) -> tuple[bytes | ReplayableBody, str]:
    """Files given as paths or seekable file objects are streamed from disk, not read into memory."""
    if not isinstance(body, dict):
        raise EncodeError(f"a multipart/form-data body must be a dict of fields, not {type(body).__name__}")
    boundary = choose_boundary()
    pieces: list[bytes | FileSource] = []
    for name, value in body.items():
        rule = encoding.get(name) or {}
        part_type = part_content_type(rule.get("contentType"))
        for field_name, item in form_pairs(name, value, rule):
            if is_file_value(item):
                filename, data, content_type = file_source(item, field_name)
                field = RequestField(field_name, b"", filename=filename or field_name)
                field.make_multipart(content_type=content_type or part_type or "application/octet-stream")
            elif isinstance(item, (dict, list)):
                data, field = json.dumps(item, separators=(",", ":")).encode(), RequestField(field_name, "")
                field.make_multipart(content_type="application/json")
            else:
                data, field = text(item).encode(), RequestField(field_name, "")
                field.make_multipart(content_type=part_type)
            pieces += [f"--{boundary}\r\n".encode(), field.render_headers().encode(), data, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    return replayable(pieces), f"multipart/form-data; boundary={boundary}"


def encode_form(body: Any, encoding: dict) -> tuple[bytes, str]:
    if not isinstance(body, dict):
        raise EncodeError(f"a form body must be a dict of fields, not {type(body).__name__}")
    pairs = []
    for name, value in body.items():
        rule = encoding.get(name) or {}
        safe = FORM_RESERVED if isinstance(rule, dict) and rule.get("allowReserved") else ""
        for key, item in form_pairs(str(name), value, rule):
            if is_file_value(item):
                raise EncodeError(f"field {key!r}: a form body cannot carry a file; use multipart/form-data")
            raw = json.dumps(item, separators=(",", ":")) if isinstance(item, (dict, list)) else text(item)
            pairs.append(f"{quote(key, safe='[]')}={quote(raw, safe=safe)}")
    return "&".join(pairs).encode(), "application/x-www-form-urlencoded"


def encode_wildcard(body: Any, encoding: dict) -> tuple[bytes | ReplayableBody, str | None]:
    """A body for a range the document declares (`*/*`, `application/*`; Kubernetes' create, replace
    and patch operations): JSON data goes as JSON with a concrete type, bytes that hold a JSON
    document as JSON too, and any other file data as it is."""
    if not is_file_value(body):
        return encode_json(body, encoding)
    if isinstance(body, (bytes, bytearray)) and json_document(body) is not None:
        return bytes(body), "application/json"
    return encode_binary(body, encoding)


def json_document(data: bytes | bytearray) -> Any:
    """The JSON object or array that bytes hold, or None (bounded: bodies past 64 MiB are not looked at)."""
    if len(data) > 64 * 1024 * 1024 or not data.lstrip()[:1] in (b"{", b"["):
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def encode_binary(body: Any, encoding: dict) -> tuple[bytes | ReplayableBody, str | None]:
    return replayable([file_source(body, "body")[1]]), None


def encode_text(body: Any, encoding: dict) -> tuple[bytes | ReplayableBody, str | None]:
    return (body.encode() if isinstance(body, str) else replayable([file_source(body, "body")[1]])), None


ENCODERS: dict[str, Callable[[Any, dict], tuple[bytes, str | None]]] = {
    "application/json": encode_json,
    "multipart/form-data": encode_multipart,
    "application/x-www-form-urlencoded": encode_form,
    "application/octet-stream": encode_binary,
    "text/*": encode_text,
    "*/*": encode_binary,
    WILDCARD: encode_wildcard,
}


# --- decoders: (bytes, content type) -> value ------------------------------------


class DecodeError(ValueError):
    """The response body does not decode as its content type says; the client makes it typed."""


def charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


# Digits as "0", anything else as " ": a run of 19 zeros in a text's translation is a number that may lie
# beyond 64 bits, which orjson reads as a float without a word (-9223372036854775809 becomes
# -9.223372036854776e+18), or a long run of digits in a string; either way json reads that text.
# Translating and finding take a tenth of the time json saves (a regular expression would take more).
_NUMERALS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def may_exceed_64_bits(data: bytes) -> bool:
    """True when the JSON text `data` has a run of 19 digits or more: a number orjson may read otherwise
    than json (an integer beyond 64 bits, as a float), or digits in a string."""
    return data.translate(_NUMERALS).find(_LONG_NUMBER) >= 0


def decode_json(data: bytes, content_type: str) -> Any:
    if not data or data.isspace():   # (isspace, unlike strip, copies nothing)
        return None
    # orjson reads an answer in a fourth of json's time, and reads it as json does where it reads it at
    # all: a text it refuses (NaN, Infinity, a lone surrogate, a byte-order mark, UTF-16, invalid UTF-8,
    # nesting beyond 1,024) goes to json, which reads it or says what is wrong with it, as before; and so
    # does a text with a number that may lie beyond 64 bits (tests/test_json_codec.py holds this).
    if orjson is not None and type(data) is bytes and not may_exceed_64_bits(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"malformed JSON body: {exc}") from None
    except RecursionError:   # json's C decoder recurses once per level: a hostile body goes deeper than Python
        raise DecodeError("the JSON body is nested too deeply to decode") from None


def decode_text(data: bytes, content_type: str) -> str:
    try:
        return data.decode(charset(content_type))
    except (UnicodeDecodeError, LookupError) as exc:
        raise DecodeError(f"text body does not decode as {charset(content_type)}: {exc}") from None


def decode_sse(data: bytes, content_type: str) -> list[Event]:
    """A whole event stream read at once (a stream's body read whole, or a recorded one)."""
    parser = EventParser(max_event_bytes=None)   # the body's own size limit already applied
    try:
        return [*parser.feed(data), *parser.close()]
    except ResponseDecodeError as exc:
        raise DecodeError(str(exc)) from None


def decode_bytes(data: bytes, content_type: str) -> bytes:
    return data


DECODERS: dict[str, Callable[[bytes, str], Any]] = {
    "application/json": decode_json,
    "text/event-stream": decode_sse,
    "text/*": decode_text,
    "*/*": decode_bytes,
}
