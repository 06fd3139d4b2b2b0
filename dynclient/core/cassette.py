"""Cassettes without their I/O: what an exchange is on a line, how a request is matched, what is scrubbed.

A cassette is a JSON-lines file: a header line, then one exchange a line, in the order they ended::

    {"dynclient_cassette": 1, "spec": "openai@2025-04-29", "sha256": "…", "title": "OpenAI API", "version": "2.3.0"}
    {"operation": "createAssistant", "request": {"method": "POST", "path": "/assistants", "arguments": {},
     "body": {"model": "gpt-4o"}}, "response": {"status": 200, "headers": {…}, "attempts": 1, "body": {…}}}

The request is the validated call as the caller gave it (arguments, body, content type, call headers:
the form `Client(record=...)` writes, so `dynclient check` reads both), never the encoded bytes: a
multipart boundary or an idempotency key does not stop a match, and the base URL may change between
recording and replaying. A response body is written by its kind: `body` (JSON), `text`, `events`
(an event stream, as its events; `done` for OpenAI's `[DONE]`), or `file` (the sha256 of a side file
holding the bytes: binary bodies, and any body over `INLINE_MAX`).

Secrets never reach the file: the credential headers (Authorization, API keys, cookies, OpenAI's
organization and project ids) are written as `<redacted>`, any string holding a credential the
process knows is `<redacted>`, and so is every body field named in `scrub_fields`; a `scrubber`
callable sees each exchange last. The file I/O (reading, appending, side files, streams) is the
shells' (dynclient/cassette.py).
"""

from __future__ import annotations

import json
import os
from collections import deque
from typing import Any, Callable, Hashable, Iterable, Mapping

from .. import codecs
from ..codecs import is_file_value
from ..errors import CassetteError, ConfigError, DynclientError
from .headers import SENSITIVE_HEADERS
from .redact import REDACTOR
from .sse import Event, EventParser

FORMAT = 1
RECORD_MODES = ("once", "new_episodes", "none", "all")
INLINE_MAX = 256 * 1024            # a body larger than this goes to a side file
MAX_LINE = 16 * 1024 * 1024        # a cassette line longer than this is refused when read
REDACTED = "<redacted>"
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})
SECRET_HEADERS = SENSITIVE_HEADERS | {"set-cookie", "openai-organization", "openai-project"}
# Written bodies are decoded: their transfer headers would describe other bytes.
UNWRITTEN_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"})
MATCH_FIELDS = ("method", "path", "arguments", "body", "content_type", "headers")
DEFAULT_MATCH_ON = ("arguments", "body", "content_type")


# --- request values as JSON (shared with evolve/record.py) -------------------------------


def masked(value: Any) -> Any:
    """Any string value holding a credential the process knows becomes `<redacted>`; keys stay.

    Only credentials of 8 characters or more count: a real key is long, and a short
    one would mask innocent text (a test's api_key="k" would eat every "k"). A value whose JSON
    text holds none of them is returned as it is, without a walk.
    """
    secrets = [s for s in REDACTOR.secrets if isinstance(s, str) and len(s) >= 8]
    if not secrets:
        return value
    if all(json.dumps(s, ensure_ascii=False)[1:-1] == s for s in secrets):   # found in JSON text as they are
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = None
        if text is not None and not any(s in text for s in secrets):
            return value
    return _masked(value, secrets)


def _masked(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    if isinstance(value, str) and any(s in value for s in secrets):
        return REDACTED
    return value


def storable(value: Any) -> Any:
    """JSON-ready: file values become {"$file": size or name}, tuples lists."""
    if is_file_value(value):
        return {"$file": file_label(value)}
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def file_label(value: Any) -> int | str:
    """A file value by its size (bytes) or its name (a path, a named file, a (name, data) tuple)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, tuple):
        return str(value[0] or file_label(value[1]))
    name = getattr(value, "name", None) if not isinstance(value, os.PathLike) else os.fspath(value)
    return os.path.basename(name) if isinstance(name, str) else "<file>"


def scrub_fields(value: Any, names: frozenset[str]) -> Any:
    """Every object member named in `names`, at any depth, becomes `<redacted>`."""
    if not names:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if k in names else scrub_fields(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_fields(v, names) for v in value]
    return value


def secret_names(security_schemes: Mapping[str, Any]) -> frozenset[str]:
    """Lower-case names of the headers and parameters that carry a document's credentials."""
    return ALWAYS_SECRET | {str(s["name"]).lower() for s in security_schemes.values()
                            if isinstance(s, dict) and s.get("type") == "apiKey" and "name" in s}


def scrubbed_value(name: str, value: Any, secrets: frozenset[str]) -> Any:
    lower = name.lower()
    return REDACTED if lower in secrets or lower.replace("_", "-") in secrets else storable(value)


def request_form(method: str, path: str, body: Any, arguments: Mapping[str, Any],
                 headers: Mapping[str, str] | None, content_type: str | None, secrets: frozenset[str],
                 missing: Any) -> dict:
    """A validated call as a cassette (and `Client(record=...)`) writes it; secrets `<redacted>`."""
    form: dict[str, Any] = {"method": method, "path": REDACTOR.redact(path),
                            "arguments": {k: scrubbed_value(k, v, secrets) for k, v in arguments.items()}}
    if body is not missing:
        form["body"] = storable(body)
    if content_type:
        form["content_type"] = content_type
    if headers:
        form["headers"] = {k: scrubbed_value(k, v, secrets | SECRET_HEADERS) for k, v in headers.items()}
    return masked(form)


# --- response bodies ---------------------------------------------------------------


def body_entry(data: bytes, content_type: str, limit: int | None = INLINE_MAX) -> dict | None:
    """How a whole body is written: {"body": JSON} | {"text": str} | {"events": [...], "done": bool},
    or None when it goes to a side file (binary, undecodable, or over `limit`)."""
    if not data:
        return {}
    if limit is not None and len(data) > limit:
        return None
    essence = codecs.media_essence(content_type)
    try:
        if essence == "text/event-stream":
            parser = EventParser(None)
            events = [*parser.feed(data), *parser.close()]
            entry: dict[str, Any] = {"events": [event_entry(e) for e in events]}
            if parser.done:
                entry["done"] = True
            return entry
        if essence == "application/json" or essence.endswith("+json"):
            return {"body": json.loads(data)}
        if essence.startswith("text/") or essence in ("application/xml", "application/x-ndjson"):
            return {"text": data.decode("utf-8")}
    except (ValueError, RecursionError, DynclientError):   # undecodable: the bytes go to a side file
        return None
    return None


def event_entry(event: Event) -> dict:
    entry: dict[str, Any] = {}
    if event.event is not None:
        entry["event"] = event.event
    entry["data"] = event.data
    if event.id is not None:
        entry["id"] = event.id
    return entry


def entry_bytes(response: Mapping[str, Any]) -> bytes:
    """The bytes a written body (not a side file) stands for, as the server would send them."""
    if "body" in response:
        return json.dumps(response["body"], ensure_ascii=False).encode()
    if "text" in response:
        return str(response["text"]).encode()
    if "events" in response:
        out = []
        for event in response["events"]:
            if event.get("event") is not None:
                out.append(f"event: {event['event']}\n")
            data = event.get("data")
            text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
            out += [f"data: {line}\n" for line in text.split("\n")]
            if event.get("id") is not None:
                out.append(f"id: {event['id']}\n")
            out.append("\n")
        if response.get("done"):
            out.append("data: [DONE]\n\n")
        return "".join(out).encode()
    return b""


def response_headers(headers: Mapping[str, str], secrets: frozenset[str]) -> dict[str, str]:
    """Headers as written: credentials `<redacted>`, transfer headers left out, repeats joined."""
    out: dict[str, str] = {}
    for name, value in headers.items():   # a repeated name comes once per value
        lower = name.lower()
        if lower in UNWRITTEN_HEADERS:
            continue
        value = REDACTED if lower in secrets or lower in SECRET_HEADERS else masked(str(value))
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


# --- the tape: recorded exchanges and how a request finds one -----------------------


def match_key(operation_id: str, form: Mapping[str, Any], match_on: Any) -> Hashable:
    """What two requests must share to match: the operation and the fields in `match_on` (or what a
    callable `match_on(operation_id, form)` returns)."""
    if callable(match_on):
        return (operation_id, match_on(operation_id, form))
    return (operation_id, json.dumps([form.get(name) for name in match_on], sort_keys=True, default=str))


def check_match_on(match_on: Any) -> Any:
    if callable(match_on):
        return match_on
    if isinstance(match_on, str) or not all(name in MATCH_FIELDS for name in match_on):
        raise ConfigError(f"match_on must be a callable or names among {MATCH_FIELDS}, not {match_on!r}")
    return tuple(match_on)


def check_record_mode(mode: Any) -> str:
    if mode not in RECORD_MODES:
        raise ConfigError(f"record_mode must be one of {RECORD_MODES}, not {mode!r}")
    return mode


class Tape:
    """The exchanges of a cassette in memory, and which of them a replay has used.

    A request is answered by the first unused exchange with its key, so that the same request made
    twice gets the two answers recorded for it, in order.
    """

    def __init__(self, match_on: Any = DEFAULT_MATCH_ON):
        self.match_on = check_match_on(match_on)
        self.exchanges: list[tuple[int, dict]] = []    # (line number, exchange)
        self._unused: dict[Hashable, deque[int]] = {}
        self.header: dict | None = None

    def read_lines(self, lines: Iterable[tuple[int, str]], origin: str) -> None:
        for number, text in lines:
            if not text.strip():
                continue
            if len(text) > MAX_LINE:
                raise CassetteError(f"{origin}:{number}: a line of {len(text)} characters (at most {MAX_LINE})")
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise CassetteError(f"{origin}:{number}: not a JSON line: {exc}") from None
            if not isinstance(value, dict):
                raise CassetteError(f"{origin}:{number}: expected a JSON object, found {type(value).__name__}")
            if "dynclient_cassette" in value:
                if value["dynclient_cassette"] != FORMAT:
                    raise CassetteError(f"{origin}:{number}: cassette format {value['dynclient_cassette']!r}; "
                                        f"this dynclient reads format {FORMAT}")
                self.header = value
                continue
            if not isinstance(value.get("operation"), str) or not isinstance(value.get("request"), dict) \
                    or not isinstance(value.get("response"), dict) \
                    or not isinstance(value["response"].get("status"), int):
                raise CassetteError(f"{origin}:{number}: an exchange needs operation, request and response "
                                    f"(with its status)")
            self.add(number, value)

    def add(self, line: int, exchange: dict) -> None:
        self.exchanges.append((line, exchange))
        key = match_key(exchange["operation"], exchange["request"], self.match_on)
        self._unused.setdefault(key, deque()).append(len(self.exchanges) - 1)

    def take(self, operation_id: str, form: Mapping[str, Any]) -> dict | None:
        """The next unused exchange matching the request, now used; None when there is none."""
        waiting = self._unused.get(match_key(operation_id, form, self.match_on))
        if not waiting:
            return None
        return self.exchanges[waiting.popleft()][1]

    def unmatched(self, operation_id: str, form: Mapping[str, Any], origin: str, mode: str) -> CassetteError:
        """The error for a request no exchange answers, naming the closest recorded one and how it differs."""
        why = f"no recorded exchange in {origin} matches this request (record_mode={mode!r}"
        why += ", which never sends)" if mode in ("none", "once") else ")"
        if not self.exchanges:
            return CassetteError(f"{operation_id}: {why}; the cassette holds no exchange", operation_id)
        used = match_key(operation_id, form, self.match_on) in self._unused
        if used:
            count = sum(1 for _, e in self.exchanges if match_key(e["operation"], e["request"], self.match_on)
                        == match_key(operation_id, form, self.match_on))
            return CassetteError(f"{operation_id}: {why}; the {count} exchange{'s' * (count != 1)} recorded "
                                 f"for it {'have' if count != 1 else 'has'} been replayed already", operation_id)
        line, closest, difference = closest_exchange(operation_id, form, self.exchanges)
        return CassetteError(f"{operation_id}: {why}; closest: line {line} ({closest['operation']}), "
                             f"{difference}", operation_id)


def closest_exchange(operation_id: str, form: Mapping[str, Any],
                     exchanges: list[tuple[int, dict]]) -> tuple[int, dict, str]:
    """The recorded exchange nearest a request (same operation first, then fewest differing fields),
    and the first difference as a JSON pointer."""
    def distance(item: tuple[int, dict]) -> tuple[int, int]:
        exchange = item[1]
        diffs = differences(exchange["request"], form)
        return (exchange["operation"] != operation_id, len(diffs))

    line, best = min(exchanges, key=distance)
    if best["operation"] != operation_id:
        return line, best, f"another operation (none of {operation_id} is recorded)"
    diffs = differences(best["request"], form)
    if not diffs:
        return line, best, "which matches on the fields compared but was not chosen by the matcher"
    pointer, recorded, asked = diffs[0]
    more = f" (and {len(diffs) - 1} more difference{'s' * (len(diffs) > 2)})" if len(diffs) > 1 else ""
    return line, best, f"which differs at /request{pointer}: recorded {short(recorded)}, asked {short(asked)}{more}"


def differences(recorded: Any, asked: Any, pointer: str = "", limit: int = 50) -> list[tuple[str, Any, Any]]:
    """(JSON pointer, recorded value, asked value) for each place two JSON values differ."""
    found: list[tuple[str, Any, Any]] = []
    stack = [(pointer, recorded, asked)]
    while stack and len(found) < limit:
        where, a, b = stack.pop()
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), reverse=True):
                token = str(key).replace("~", "~0").replace("/", "~1")
                stack.append((f"{where}/{token}", a.get(key, ABSENT), b.get(key, ABSENT)))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            stack += [(f"{where}/{i}", x, y) for i, (x, y) in reversed(list(enumerate(zip(a, b))))]
        elif a != b or type(a) is not type(b):
            found.append((where, a, b))
    return found


ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "nothing"})()


def short(value: Any, limit: int = 60) -> str:
    text = repr(value) if value is ABSENT else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header_line(origin: str, sha256: str | None, title: str, version: str) -> dict:
    return {"dynclient_cassette": FORMAT, "spec": origin, "sha256": sha256, "title": title, "version": version}


def exchange_line(operation_id: str, form: dict, response: dict, scrub: frozenset[str],
                  scrubber: Callable[[dict], dict] | None) -> dict:
    """An exchange as written: body fields named in `scrub` `<redacted>`, then the user's scrubber."""
    exchange = {"operation": operation_id, "request": scrub_fields(form, scrub),
                "response": scrub_fields(masked(response), scrub)}
    if scrubber is not None:
        exchange = scrubber(exchange)
        if not isinstance(exchange, dict):
            raise CassetteError(f"{operation_id}: the cassette's scrubber returned {type(exchange).__name__}, "
                                f"not the exchange (a dict)", operation_id)
    return exchange
