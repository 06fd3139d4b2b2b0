"""What a call is, and every decision about one that needs no I/O.

    bind_arguments       call arguments -> path/query/header/cookie values; unknown, missing ones fail
    choose_request_media the media type a body goes out as
    validate_request     parameters and body against their schemas, before anything is sent
    response_media       the declared media type of an answer, or what is wrong with its status/type
    response_problem     an answer's body against its schema
    event_problem        one streamed event against the event schema
    admit_event          an event as a caller gets it, or the typed error it stands for

The shells (Client, AsyncClient) and the tools that check calls without
sending them (the mock, `dynclient check`, the Batch validator) all use these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit


from .. import codecs
from ..codecs import ReplayableBody
from ..errors import (APIStreamError, ConfigError, ParameterError, RequestValidationError, ResponseDecodeError,
                      SchemaCompileError)
from ..schema import SchemaSet, schema_properties, short_repr
from ..spec import Operation, Parameter, Spec
from .headers import Headers
from .policy import RetryPolicy, Timeout
from .redact import REDACTOR
from .sse import DEFAULT_MAX_EVENT_BYTES, Event

DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()
VALIDATION_MODES = ("strict", "warn", "off")
ProgressCallback = Callable[[int, int], None]
USER_AGENT = "dynclient/0.1"


@dataclass(frozen=True)
class Options:
    """Per-client settings; `Client.with_options` makes a changed copy, never a mutation."""

    base_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: Timeout = field(default_factory=Timeout)
    validate_requests: bool = True
    validate_responses: str = "strict"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES   # for bodies read whole; None: no limit
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES         # for one event of a stream; None: no limit


def filled_directly(cls: type) -> type:
    """Give a frozen dataclass (made with init=False) an __init__ that fills the instance's __dict__
    directly, taking exactly its fields, defaults included. PreparedRequest, Result and RawResponse are
    made for every call, and the generated __init__ calls object.__setattr__ per field: 13,000
    instructions for eight fields against 4,600 (valgrind), a twentieth of a call's whole overhead for
    the three. Equality, repr, dataclasses.replace and no assignment stay the dataclass's."""
    names, defaults = [], {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a default_factory is not supported here")
        if f.default is dataclasses.MISSING:
            names.append(f.name)
        else:
            defaults[f"default_{f.name}"] = f.default
            names.append(f"{f.name}=default_{f.name}")
    fills = "".join(f"\n    fields[{f.name!r}] = {f.name}" for f in dataclasses.fields(cls))
    exec(f"def __init__(self, {', '.join(names)}):\n    fields = self.__dict__{fills}", defaults)
    cls.__init__ = defaults["__init__"]
    cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return cls


@filled_directly
@dataclass(frozen=True, init=False)
class PreparedRequest:
    """A request that passed binding, validation and encoding: exactly what will be sent."""

    operation_id: str
    method: str
    url: str
    headers: Headers
    body: bytes | ReplayableBody | None   # ReplayableBody: files streamed from disk
    call: Any = field(default=None, repr=False, compare=False)   # the call as a cassette matches it

    def __repr__(self) -> str:   # the URL may carry an apiKey-in-query credential
        size = "no body" if self.body is None else f"{len(self.body)} bytes"
        return (f"PreparedRequest({self.operation_id}: {self.method} {REDACTOR.redact(self.url)}, "
                f"headers={self.headers!r}, {size})")


@filled_directly
@dataclass(frozen=True, init=False)
class Result:
    """The raw form of a call: everything about the response, with the decoded, validated body."""

    operation_id: str
    status: int
    headers: Mapping[str, str]   # case-insensitive (urllib3's HTTPHeaderDict, aiohttp's CIMultiDictProxy)
    body: Any
    request_id: str | None
    elapsed: float
    content_type: str
    attempts: int = 1     # 1 + the number of retries it took


class Bound:
    """The bound parameter values of one call, by location."""

    __slots__ = ("path", "query", "header", "cookie")

    def __init__(self) -> None:
        self.path: dict[str, Any] = {}
        self.query: list[tuple[Parameter, Any]] = []
        self.header: list[tuple[Parameter, Any]] = []
        self.cookie: list[tuple[Parameter, Any]] = []


@filled_directly
@dataclass(frozen=True, init=False)
class RawResponse:
    """An answer as the transport got it: status, headers, the body's bytes (or the open stream)."""

    status: int
    headers: Mapping[str, str]   # case-insensitive, as the shell's HTTP library gives them
    data: bytes
    elapsed: float
    attempts: int = 1
    stream: Any = field(default=None, repr=False)   # the open response when streamed (the shell's own kind)
    url: str = ""                                   # where the answer came from (after redirects)
    read_timeout: float | None = None               # the read timeout in effect for it
    redirected_by: int | None = None                # the status of the redirect followed to `url`, if any


# --- the steps, as functions ----------------------------------------------------


def bind_arguments(op: Operation, arguments: Iterable[tuple[str, Any]]) -> Bound:
    """Map (name, value) call arguments to parameters; unknown, doubled and missing ones fail here."""
    bound = Bound()
    seen: dict[str, str] = {}
    by_name = op.parameters_by_name
    for given_name, value in arguments:
        p = by_name.get(given_name)
        if p is None:
            valid = sorted({q.name for q in op.parameters})
            import difflib   # only for the suggestions of an error
            close = difflib.get_close_matches(given_name, list(by_name), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listing = f"valid parameters: {', '.join(valid)}" if valid else "it takes no parameters"
            raise ParameterError(op.operation_id, given_name,
                                 f"unknown parameter {given_name!r}{hint} ({listing})")
        if p.name in seen:
            raise ParameterError(op.operation_id, p.name,
                                 f"parameter {p.name!r} given twice (as {seen[p.name]!r} and {given_name!r})")
        seen[p.name] = given_name
        if value is None and not p.required:
            continue   # None means "leave it out", as in requests
        if p.location == "path":
            bound.path[p.name] = value
        else:
            getattr(bound, p.location).append((p, value))
    missing = [p.name for p in op.parameters if p.required and p.name not in seen]
    if missing:
        raise ParameterError(op.operation_id, missing[0],
                             f"missing required parameter{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(repr(m) for m in missing)}")
    return bound


def compiled(schemas: SchemaSet, op: Operation, pointer: str, direction: str) -> Any:
    """The validator of one of the operation's schemas; a schema that cannot be compiled fails this
    operation alone, with an error that names it (its neighbours keep working)."""
    try:
        return schemas.compiled(pointer, direction)
    except SchemaCompileError as exc:
        if exc.operation_id:
            raise
        raise SchemaCompileError(exc.pointer, exc.reason, op.operation_id) from None


def validate_request(schemas: SchemaSet, op: Operation, bound: Bound, media: Any, body: Any) -> None:
    """Every bound parameter and the body against their schemas; the first failure is raised."""
    if op.parameters:
        validate_parameters(schemas, op, bound)
    if media is not None and body is not MISSING and media.schema is not None:
        validate_body(schemas, op, media, body)


def validate_parameters(schemas: SchemaSet, op: Operation, bound: Bound) -> None:
    given = [*((p, bound.path[p.name]) for p in op.parameters if p.name in bound.path),
             *bound.query, *bound.header, *bound.cookie]
    for p, value in given:
        if p.schema is None:
            continue
        violation = compiled(schemas, op, p.pointer, "request").violation(value)
        if violation:
            raise RequestValidationError(op.operation_id, p.location, p.name + violation.pointer,
                                         violation.message, violation.expected, violation.given,
                                         violation.messages)


def validate_body(schemas: SchemaSet, op: Operation, media: Any, body: Any) -> None:
    """A request body (given, of a media type with a schema) against that schema."""
    try:
        instance = codecs.body_instance(media.content_type, body)
    except RecursionError:
        raise RequestValidationError(op.operation_id, "body", "", "the body is nested too deeply to validate",
                                     None, None) from None
    check_body(op, compiled(schemas, op, media.pointer, "request"), instance)


def check_body(op: Operation, validator: Any, instance: Any) -> None:
    """A body as its schema sees it against that schema, compiled: the first failure is raised."""
    violation = validator.violation(instance)
    if violation:
        raise RequestValidationError(op.operation_id, "body", violation.pointer, violation.message,
                                     violation.expected, violation.given, violation.messages)


def choose_request_media(op: Operation, body: Any, content_type: str | None):
    """The request media type to use: the one asked for, else the document's first."""
    request_body = op.request_body
    if request_body is None:
        if body is not MISSING:
            raise ParameterError(op.operation_id, "body", f"{op.operation_id} takes no request body")
        return None
    if body is MISSING:
        if request_body.required:
            kinds = ", ".join(request_body.content)
            raise ParameterError(op.operation_id, "body", f"missing required request body ({kinds})")
        return None
    if not request_body.content:
        return None
    if content_type is None:
        return next(iter(request_body.content.values()))
    key = codecs.match_media(request_body.content, content_type)
    if key is None:
        raise ParameterError(op.operation_id, "content_type",
                             f"content type {content_type!r} is not accepted; the document allows "
                             f"{', '.join(request_body.content)}")
    return request_body.content[key]


def check_call(schemas: SchemaSet, op: Operation, arguments: Iterable[tuple[str, Any]], body: Any,
               content_type: str | None, validate: bool = True) -> tuple[Bound, Any]:
    """Bind the arguments, choose the request media and (with `validate`) check both against the document:
    what a call is before it is encoded. (bound values, media) or the RequestError."""
    bound = bind_arguments(op, arguments)
    media = choose_request_media(op, body, content_type)
    if validate:
        validate_request(schemas, op, bound, media, body)
    return bound, media


def response_media(op: Operation, status: int, content_type: str, *, binary: bool,
                   has_body: bool = True) -> tuple[Any, tuple[str, str] | None]:
    """(the declared media type of an answer or None, the problem with its status, presence or content
    type or None). Checked for every answer, whether its body is read whole or streamed."""
    response = op.response_for(status)
    if response is None and not op.responses:
        return None, None   # the document says nothing of the answers (Kubernetes' /logs/: `responses: {}`)
    if response is None:
        return None, ("", f"status {status} is not declared (declared: {', '.join(op.responses)})")
    if not response.content:
        return None, None
    if not has_body:
        return None, ("", f"empty body, but the document declares {', '.join(response.content)}")
    key = codecs.match_media(response.content, content_type)
    if key is None and binary and "application/octet-stream" in response.content:
        return None, None   # octet-stream is the generic binary type (createSpeech answers audio/mpeg)
    if key is None:
        return None, ("", f"content type {content_type or 'none'!r} is not declared; "
                          f"expected {', '.join(response.content)}")
    return response.content[key], None


def beyond_the_document(op: Operation, raw: RawResponse) -> bool:
    """An answer reached through a redirect the operation declares, with a status it does not declare
    (GitHub's tarball download: a 302 to another host, which answers 200): the document describes the
    redirect, not what is at its Location, so there is nothing to check the answer against."""
    return raw.redirected_by is not None and op.response_for(raw.status) is None \
        and op.response_for(raw.redirected_by) is not None


def response_problem(schemas: SchemaSet, op: Operation, status: int, body: Any, content_type: str,
                     has_body: bool) -> tuple[str, str] | None:
    """None when the response matches the document; else (JSON pointer, what is wrong)."""
    return answer_check(schemas, op, status, content_type, binary=isinstance(body, bytes), has_body=has_body)(body)


JSON_VALUES = (dict, list, str, int, float, bool)


class AnswerCheck:
    """What is checked of every answer of one operation, status and content type, worked out once:
    the problem with its status, presence or type (or None), and the schema its body meets (compiled
    when a body first needs it)."""

    __slots__ = ("problem", "schemas", "op", "pointer", "validator")

    def __init__(self, problem: tuple[str, str] | None, schemas: SchemaSet | None = None, op: Operation | None = None,
                 pointer: str | None = None):
        self.problem, self.schemas, self.op, self.pointer = problem, schemas, op, pointer
        self.validator: Any = None

    def __call__(self, body: Any) -> tuple[str, str] | None:
        """None when the decoded body matches the document; else (JSON pointer, what is wrong)."""
        if self.pointer is None or not isinstance(body, JSON_VALUES):
            return self.problem   # bytes, and events (validated one by one when streamed), meet no JSON schema
        validator = self.validator
        if validator is None:
            validator = self.validator = compiled(self.schemas, self.op, self.pointer, "response")
        violation = validator.violation(body)
        if violation is None:
            return None
        return violation.pointer, violation.message + (f" (given {short_repr(violation.given)})"
                                                       if violation.keyword not in ("type", "enum", "const") else "")


def answer_check(schemas: SchemaSet, op: Operation, status: int, content_type: str, *, binary: bool,
                 has_body: bool) -> AnswerCheck:
    """The check of an answer's body (see response_problem), the same for every body of its kind."""
    media, problem = response_media(op, status, content_type, binary=binary, has_body=has_body)
    if media is None or media.schema is None or codecs.media_essence(media.content_type) == "text/event-stream":
        return AnswerCheck(problem)
    return AnswerCheck(problem, schemas, op, media.pointer)


def event_problem(schemas: SchemaSet, op: Operation, status: int, event: Event) -> tuple[str, str] | None:
    """None when a streamed event matches the document's event schema. Most documents describe the
    event's data; some (OpenAI's assistant streams) describe `{event, data}` together: either passes."""
    response = op.response_for(status)
    key = codecs.match_media(response.content, "text/event-stream") if response else None
    media = response.content[key] if key else None
    if media is None or media.schema is None:
        return None
    validator = compiled(schemas, op, media.pointer, "response")
    violation = validator.violation(event.data)
    if violation is None or (event.event is not None
                             and validator.is_valid({"event": event.event, "data": event.data})):
        return None
    return violation.pointer, violation.message


def ask_to_stream(spec: Spec, op: Operation, body: Any, content_type: str | None) -> Any:
    """Add `"stream": true` to a JSON body whose schema has a `stream` property and that does not
    mention it (as the official package's `stream=True` does)."""
    if not isinstance(body, dict) or "stream" in body or op.request_body is None:
        return body
    media = choose_request_media(op, body, content_type)
    if media is None or codecs.media_essence(media.content_type) != "application/json":
        return body
    return {**body, "stream": True} if "stream" in schema_properties(media.schema, spec.resolve_ref) else body


def serves_openai(spec: Spec) -> bool:
    """Whether a server of the document is OpenAI's (openai.com or a host under it). Only then are
    the OPENAI_* variables read, so an OpenAI key never goes to a server another document names
    (a host is compared, not a substring: `openai.com.example.net` is not OpenAI's)."""
    for server in spec.servers:
        host = (urlsplit(str(server.get("url", ""))).hostname or "") if isinstance(server, dict) else ""
        if host == "openai.com" or host.endswith(".openai.com"):
            return True
    return False


def with_max_retries(policy: RetryPolicy, max_retries: int | None) -> RetryPolicy:
    if max_retries is None:
        return policy
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number >= 0, not {max_retries!r}")
    return dataclasses.replace(policy, max_retries=max_retries)


def is_error_event(event: Event) -> bool:
    """`event: error`, or (chat completions) a data object whose only business is an `error`."""
    if event.event == "error":
        return True
    data = event.data
    return event.event is None and isinstance(data, dict) and isinstance(data.get("error"), dict) \
        and "choices" not in data and "type" not in data


def admit_event(event: Event, operation_id: str, status: int, content_type: str, request_id: str | None) -> Event:
    """An event as a caller may have it, or the error it stands for: an error event raises APIStreamError,
    data that looks like JSON but does not parse a ResponseDecodeError. (The schema check is the client's,
    which knows the validation mode.)"""
    if is_error_event(event):
        raise APIStreamError(operation_id, event.event, event.data, request_id)
    if isinstance(event.data, str) and event.data[:1] in ("{", "["):
        raise ResponseDecodeError(f"malformed JSON in an event's data: {event.data[:80]!r}", operation_id,
                                  status, content_type)
    return event
