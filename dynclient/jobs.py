"""The lines of a job: requests in, results out (JSONL), shared by `dynclient run` and the Batch workflow.

A request line takes one of two forms:

    {"custom_id": "q-17", "method": "POST", "url": "/v1/chat/completions", "body": {...}}     the Batch API's
    {"custom_id": "q-17", "operation": "createChatCompletion", "body": {...}, "params": {...}} any document's

The first is routed by method and path (the server URL's path, `/v1`, may lead
the URL or not; a query string becomes parameters, path segments path
parameters); the second names its operation. `read_request` turns either into a
`Job`, or a Job whose `problem` says what is wrong with the line (it is then
answered by an error result and never sent). Lines are read strictly (a name
repeated in one object, or NaN, makes a line invalid), and a JSON body goes out
as its line wrote it: the bytes sent are the bytes whose value was validated.

A result line always begins `{"custom_id": ..., "line": N, ...}`, in that order
and with that spacing, so a resumed run finds what is done without parsing the
bodies (ledger.py); then `operation`, `status`, `request_id`, `attempts`,
`body` (the validated response body, or the error body of an error answer) and
`error` (null, or `{type, message, ...}` with the fields of the typed error).
Nothing here does I/O.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

try:   # a dependency, but the line reader works without it (the strict scanner reads every line)
    import orjson
except ImportError:   # pragma: no cover
    orjson = None

from .codecs import may_exceed_64_bits
from .core.sse import Event
from .errors import APIStatusError, DynclientError, RequestValidationError
from .schema import SchemaSet, from_text, schema_kind
from .spec import Operation, Spec

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_CUSTOM_ID = 512   # characters; longer ids are refused (they go into every result line)


@dataclass
class Job:
    """One request line, read: where it came from, which call it makes, or what is wrong with it."""
    line: int
    custom_id: str
    operation_id: str | None = None
    body: Any = None
    params: dict = field(default_factory=dict)
    size: int = 0                        # bytes of the line as read (a cheap size for token estimates)
    from_url: bool = False               # params are texts from a URL, to be typed by their schemas
    problem: dict | None = None          # the error of a line that cannot be sent
    body_text: bytes | None = None       # the JSON text `body` was read from (sent as written)
    checked: tuple | None = None         # (tokens, result line if invalid): read and validated by a reader process


def canonical_key(custom_id: str) -> bytes:
    """The bytes that stand for a custom_id in a results file (its JSON form, ASCII, without quotes), so a
    resumed run can compare ids without parsing lines."""
    return json.dumps(custom_id)[1:-1].encode("ascii")


ID_TEXT = rb'((?:[^"\\\n]|\\.)*)'   # the text of a JSON string between its quotes (one line)
LEADING_ID = rb'\{\s*"custom_id"\s*:\s*"' + ID_TEXT + rb'"'   # a line that begins with its custom_id


def id_from_raw(raw: bytes) -> str:
    """The custom_id whose JSON text (between the quotes) is `raw`; ValueError if that is not JSON."""
    return raw.decode("ascii") if raw.isascii() and b"\\" not in raw else json.loads(b'"' + raw + b'"')


def key_from_raw(raw: bytes) -> bytes:
    """`canonical_key` of the id whose JSON text (between the quotes) is `raw`, as found in a line."""
    if raw.isascii() and b"\\" not in raw:
        return raw
    return canonical_key(json.loads(b'"' + raw + b'"'))


class Router:
    """Method and URL (as in the Batch API's lines) to an operation and its path and query values."""

    def __init__(self, spec: Spec):
        server = spec.servers[0].get("url", "") if spec.servers and isinstance(spec.servers[0], dict) else ""
        self.prefix = urlsplit(server).path.rstrip("/") if "{" not in server else ""
        self.literal: dict[tuple[str, str], str] = {}     # (method, path) -> operationId, for fixed paths
        self.seen: dict[tuple[str, str], str] = {}        # (method, url) -> operationId, for the urls of fixed paths
        self.routes: list[tuple[str, re.Pattern, list[str], tuple, str]] = []
        for op in spec:
            template, _, fixed = op.path.partition("?")
            names = re.findall(r"\{([^}]+)\}", template)
            if not names and not fixed:
                self.literal.setdefault((op.method, template), op.operation_id)
            regex = "".join("([^/]+)" if part.startswith("{") else re.escape(part)
                            for part in re.split(r"(\{[^}]+\})", template))
            self.routes.append((op.method, re.compile(regex + "$"), names, tuple(parse_qsl(fixed)), op.operation_id))
        # Literal paths before templated ones; routes with a fixed query first.
        self.routes.sort(key=lambda r: (-len(r[3]), r[1].pattern.count("([^/]+)"), -len(r[1].pattern)))
        self.has_fixed_query = any(r[3] for r in self.routes)

    def route(self, method: str, url: str) -> tuple[str, dict, list[tuple[str, str]]] | None:
        found = self.seen.get((method, url))   # the common line: a plain path, as an earlier line wrote it
        if found is not None:
            return found, {}, []
        if "?" not in url and "#" not in url and "%" not in url:
            path = url[len(self.prefix):] if self.prefix and url.startswith(self.prefix + "/") else url
            found = self.literal.get((method, path))
            if found is not None and not self.has_fixed_query:
                if len(self.seen) < 1024:   # each a fixed path, with or without the prefix: few
                    self.seen[(method, url)] = found
                return found, {}, []
        parts = urlsplit(url)
        path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = path[len(self.prefix):]
        for route_method, pattern, names, fixed, operation_id in self.routes:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match and all(pair in query for pair in fixed):
                values = {name: unquote(value) for name, value in zip(names, match.groups())}
                return operation_id, values, [pair for pair in query if pair not in fixed]
        return None


def problem(type_: str, message: str, **facts: Any) -> dict:
    return {"type": type_, "message": message, **{k: v for k, v in facts.items() if v is not None}}


# --- reading a line ----------------------------------------------------------------


def _unique_names(pairs: list[tuple[str, Any]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = next(name for name in found if names.count(name) > 1)
        raise ValueError(f"the name {repeated!r} appears twice in one object (which value is meant is "
                         f"not defined)")
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# The strict reader of request lines: a repeated name in an object, or NaN/Infinity, makes the line
# invalid (what a server would read there is not defined, so what was validated might not be what is
# sent), instead of Python's last-name-wins and its NaN extension.
STRICT = json.JSONDecoder(object_pairs_hook=_unique_names, parse_constant=_no_constant)
_scan = STRICT.scan_once
_SPACE = " \t\n\r"
_WS = r"[ \t\n\r]*"
_PLAIN_STRING = r'"([^"\\\x00-\x1f]*)"'   # a JSON string without escapes (or control characters)
# A line in the Batch API's order of names, its first three values plain strings: `body` is the rest.
_BATCH_HEAD = re.compile(_WS + r"\{" + f"{_WS},".join(f'{_WS}"{name}"{_WS}:{_WS}{_PLAIN_STRING}'
                                                      for name in ("custom_id", "method", "url"))
                         + f'{_WS},{_WS}"body"{_WS}:{_WS}')


def _after_space(text: str, position: int) -> int:
    """Where the first character at or after `position` that is not JSON whitespace is (IndexError
    when there is none)."""
    while text[position] in _SPACE:
        position += 1
    return position


def decode_line(text: str) -> tuple[Any, tuple[int, int] | None]:
    """A request line's value, and where the text of its top-level `body` lies in `text` (None when it
    has none): the C scanner reads the values, a few Python steps the top-level names. ValueError (a
    JSONDecodeError) or RecursionError for a line that is not strict JSON."""
    head = _BATCH_HEAD.match(text)
    if head is not None:   # the Batch API's order of names: the body's value, then the object's end
        try:
            body, end = _scan(text, head.end())
        except (ValueError, StopIteration):
            pass   # the general way below says what is wrong
        else:
            if text[end:].strip(_SPACE) == "}":
                custom_id, method, url = head.groups()
                return {"custom_id": custom_id, "method": method, "url": url, "body": body}, (head.end(), end)
    pairs: list[tuple[str, Any]] = []
    span = None
    try:
        position = _after_space(text, 0)
        if text[position] != "{":
            return STRICT.decode(text), None
        position = _after_space(text, position + 1)
        ended = text[position] == "}"
        while not ended:   # "name": value, then "," or "}"
            if text[position] != '"':
                raise ValueError
            name, position = _scan(text, position)
            position = _after_space(text, position)
            if text[position] != ":":
                raise ValueError
            start = _after_space(text, position + 1)
            value, position = _scan(text, start)
            if name == "body":
                span = (start, position)
            pairs.append((name, value))
            position = _after_space(text, position)
            if text[position] == ",":
                position = _after_space(text, position + 1)
            elif text[position] == "}":
                ended = True
            else:
                raise ValueError
        if text[position + 1:].strip(_SPACE):
            raise ValueError
    except (ValueError, IndexError, StopIteration):   # not JSON after all: the decoder says where and why
        return STRICT.decode(text), None
    return _unique_names(pairs), span


# The Batch API's line as json.dumps writes it (most files are written so), its first three values plain
# strings: a shorter match than _BATCH_HEAD's for the same line, spaces being where json.dumps puts them,
# which also checks what read_request checks of them (an id of 1 to MAX_CUSTOM_ID characters, a method, a url).
_DUMPS_HEAD = re.compile(r'\{"custom_id": "([^"\\\x00-\x1f]{1,%d})", "method": "(%s)", "url": "([^"\\\x00-\x1f]+)", '
                         r'"body": ' % (MAX_CUSTOM_ID, "|".join(sorted(METHODS))))


_SLOW = object()   # _quick_value's "read it the strict way"


def _quick_value(data: bytes) -> Any:
    """The value of a JSON text as the strict reader (STRICT) reads it, read by orjson (a seventh of the
    time) when that is certainly the same value; _SLOW otherwise (the strict reader then reads it, and says
    what is wrong, if anything). orjson refuses NaN, Infinity, lone surrogates and control characters as
    STRICT does; it reads an integer beyond 64 bits as a float (so no run of 19 digits is left to it), and
    a repeated name as its last value. A repeated name is found by counting colons: outside strings a colon
    only ends a name, so the text has one for each name it writes plus those inside its strings, and
    orjson's writing of the value one for each name it kept plus the same ones inside strings (a colon is
    never escaped on the way out; `\\u003a` on the way in is left to STRICT): fewer colons, a name was
    dropped."""
    if orjson is None or data.find(b"\\u003") >= 0 or may_exceed_64_bits(data):
        return _SLOW
    try:
        value = orjson.loads(data)
        if orjson.dumps(value).count(b":") != data.count(b":"):
            return _SLOW
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _SLOW
    return value


def _read_dumps_line(router: Router, number: int, text: bytes, string: str) -> Job | None:
    """The Job of a Batch API line written as json.dumps writes it, read the short way: the Job the general
    way (read_request) gives for it. None for any other line, and for one with something wrong, which the
    general way reads again and says what."""
    head = _DUMPS_HEAD.match(string)
    if head is None:
        return None
    start = head.end()
    end = len(string.rstrip(_SPACE)) - 1   # the line's last "}"; the body's text ends before it
    if end <= start or string[end] != "}" or string[start] in _SPACE:
        return None
    while string[end - 1] in _SPACE:
        end -= 1
    size = len(text)
    body_text = text[start:end] if len(string) == size else string[start:end].encode("utf-8")
    body = _quick_value(body_text)
    if body is _SLOW:
        try:
            body, scanned = _scan(string, start)
        except (ValueError, StopIteration, RecursionError):
            return None
        if scanned != end:
            return None
    custom_id, method, url = head.groups()
    found = router.route(method, url)
    if found is None:
        return None
    operation_id, path_values, query = found
    return Job(number, custom_id, operation_id, body, {**path_values, **query_values(query)} if query else path_values,
               size, True, None, body_text)


BATCH_FIELDS = ("custom_id", "method", "url", "body")   # a line of the Batch API's input file


def unknown_fields(line: dict) -> str | None:
    """What is wrong with a Batch API line's names, if it has one beyond BATCH_FIELDS (as `batch validate`
    and a run both say it)."""
    unknown = sorted(set(line) - set(BATCH_FIELDS))
    if not unknown:
        return None
    return f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} " \
           f"(a line has {', '.join(BATCH_FIELDS)})"


def read_request(router: Router | None, number: int, text: bytes | str, data: Any = None) -> Job:
    """One request line (its text, or an already decoded `data`) as a Job; a line that cannot be sent is a
    Job with a `problem` (bad JSON, a missing field, an unknown operation or endpoint)."""
    if data is None and router is not None and type(text) is bytes:
        try:
            string = text.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            job = _read_dumps_line(router, number, text, string)
            if job is not None:
                return job
    size = len(text)
    body_text = None
    if data is None:
        try:
            string = text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text
            data, span = decode_line(string)
        except (ValueError, RecursionError) as exc:
            return Job(number, _leading_id(text), size=size,
                       problem=problem("InvalidLine", f"line {number}: not JSON: {exc}"))
        if span is not None:   # the body's own bytes: ASCII lines are sliced, others encoded again
            body_text = (text[span[0]:span[1]] if isinstance(text, bytes) and len(string) == size
                         else string[span[0]:span[1]].encode("utf-8"))
    if not isinstance(data, dict):
        return Job(number, "", size=size,
                   problem=problem("InvalidLine", f"line {number}: a request must be a JSON object, "
                                                  f"not {type(data).__name__}"))
    custom_id = data.get("custom_id")
    job = Job(number, custom_id if isinstance(custom_id, str) else "", size=size)
    bad = custom_id_problem(custom_id)
    if bad:
        job.problem = problem("InvalidLine", f"line {number}: {bad}")
        return job
    body = data.get("body")
    job.body, job.body_text = body, body_text
    if "operation" in data:
        unknown = sorted(set(data) - {"custom_id", "operation", "body", "params"})
        operation_id, params = data["operation"], data.get("params") or {}
        if unknown:
            job.problem = problem("InvalidLine", f"line {number} ({custom_id}): unknown fields {unknown} (a line with "
                                                 f"`operation` has custom_id, operation, body, params)")
        elif not isinstance(operation_id, str) or not operation_id:
            job.problem = problem("InvalidLine", f"line {number} ({custom_id}): `operation` must be an operationId")
        elif not isinstance(params, dict):
            job.problem = problem("InvalidLine", f"line {number} ({custom_id}): `params` must be an object")
        else:
            job.operation_id, job.params = operation_id, dict(params)
        return job
    unknown = unknown_fields(data)
    if unknown:
        job.problem = problem("InvalidLine", f"line {number} ({custom_id}): {unknown}")
        return job
    method, url = data.get("method"), data.get("url")
    if not isinstance(method, str) or method.upper() not in METHODS or not isinstance(url, str) or not url:
        job.problem = problem("InvalidLine", f"line {number} ({custom_id}): a request line needs `operation`, or "
                                             f"`method` and `url` (as in the Batch API)")
        return job
    found = router.route(method.upper(), url) if router is not None else None
    if found is None:
        job.problem = problem("UnknownOperationError",
                              f"line {number} ({custom_id}): no operation of the document serves {method.upper()} {url}")
        return job
    job.operation_id, path_values, query = found
    job.params = {**path_values, **query_values(query)} if query else path_values
    job.from_url = True
    return job


def typed_params(schemas: SchemaSet, op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    """Path and query values read from a URL (texts) as the JSON values their schemas describe, so that
    `?limit=5` is the integer 5 and `?include=a&include=b` an array; the validator then judges them."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        p = op.parameters_by_name.get(name)
        if p is None or p.schema is None:
            typed[name] = value
            continue
        root, resolve = schemas.translated(p.pointer, "request")
        kind, items = schema_kind(root, resolve)
        texts = value if isinstance(value, list) else [value]
        if kind == "array":
            item_kind = schema_kind(items, resolve)[0]
            parts = texts if len(texts) > 1 else [t for t in texts[0].split(",") if t] if texts[0] else []
            typed[name] = [from_text(t, item_kind) for t in parts]
        else:
            typed[name] = from_text(texts[-1], kind)
    return typed


_LEADING_ID = re.compile(rb'\s*' + LEADING_ID)


def _leading_id(text: bytes | str) -> str:
    """The custom_id a broken line begins with (as the input survey read it), or ""."""
    match = _LEADING_ID.match(text.encode("utf-8", "replace") if isinstance(text, str) else text)
    try:
        return id_from_raw(match.group(1)) if match else ""
    except ValueError:
        return ""


def custom_id_problem(custom_id: Any) -> str | None:
    if custom_id is None:
        return "no custom_id (every request needs one, unique in the file)"
    if not isinstance(custom_id, str) or not custom_id:
        return f"custom_id must be a non-empty string, not {custom_id!r}"
    if len(custom_id) > MAX_CUSTOM_ID:
        return f"custom_id is {len(custom_id)} characters long (at most {MAX_CUSTOM_ID})"
    return None


def query_values(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query pairs by name; a repeated name is an array of its values."""
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name in values:
            previous = values[name]
            values[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            values[name] = value
    return values


# --- results -----------------------------------------------------------------------------


def result_line(job: Job, *, status: int | None = None, request_id: str | None = None, attempts: int = 0,
                body: Any = None, error: Mapping[str, Any] | None = None, body_json: bytes | None = None) -> bytes:
    """One result line, custom_id and line first (see the module's docstring), ending in a newline.

    `body_json` is the body as the server sent it, when that JSON text can go into the line as it is
    (see `embeddable`): the same value as `body`, without encoding it again."""
    if body_json is not None and error is None:   # the common line, written without json.dumps
        operation = _NAMES.get(job.operation_id)
        if operation is None:
            operation = _text(job.operation_id)
            if len(_NAMES) < 4096:   # a document's operations: a few hundred
                _NAMES[job.operation_id] = operation
        text = (f'{{"custom_id": {_ascii(job.custom_id)}, "line": {job.line}, "operation": {operation}, "status": '
                f'{"null" if status is None else int(status)}, "request_id": '
                f'{"null" if request_id is None else _encode_string(str(request_id))}, "attempts": {int(attempts)}, '
                f'"error": null, "body": ')
        return b"".join((text.encode("utf-8"), body_json, b"}\n"))
    head = f'{{"custom_id": {_ascii(job.custom_id)}, "line": {job.line}, '
    rest = json.dumps({"operation": job.operation_id, "status": status, "request_id": request_id,
                       "attempts": attempts, "body": body, "error": error}, ensure_ascii=False,
                      separators=(", ", ": "), default=_jsonable)
    return (head + rest[1:] + "\n").encode("utf-8")


def _jsonable(value: Any) -> Any:
    """Bodies that are not JSON values: the events of a stream as `{event, data, id}`, bytes (a binary
    answer) as `{"base64": ...}`, anything else as its text."""
    if isinstance(value, Event):
        return {"event": value.event, "data": value.data, "id": value.id}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


_ascii = json.encoder.encode_basestring_ascii   # the JSON string of a str, as json.dumps writes it
_encode_string = json.encoder.encode_basestring   # the same with ensure_ascii=False


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_string(str(value))


_NAMES: dict[str | None, str] = {}   # operationId -> its JSON text


def embeddable(data: bytes) -> bool:
    """Whether a JSON body the client decoded can be written into a result line as it is: one line, and
    UTF-8 (the decoder also reads UTF-16 and -32, whose NUL bytes give them away), under 64 MiB."""
    # find, not `in`: bytes' `in` first tries its argument as an integer, and raises and drops a TypeError
    return (0 < len(data) < 1 << 26 and data[:1] in (b"{", b"[") and data.find(b"\n") < 0 and data.find(b"\r") < 0
            and data.find(b"\x00", 0, 4) < 0)


def error_facts(exc: DynclientError) -> dict:
    """The `error` of a result: the typed error's class, message and facts (never a credential: errors
    hold none)."""
    facts: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIStatusError):
        facts.update(status=exc.status, code=exc.code, param=exc.param, request_id=exc.request_id)
    elif isinstance(exc, RequestValidationError):
        facts.update(location=exc.location, pointer=exc.pointer, expected=_plain(exc.expected))
    else:
        for name in ("pointer", "status", "request_id"):
            value = getattr(exc, name, None)
            if value is not None:
                facts[name] = value
    return {k: v for k, v in facts.items() if v is not None}


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
