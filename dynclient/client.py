"""The Client: one generic invoker for every operation of a document.

A call reads top to bottom in ``Client.call_raw``:

    bind -> validate -> encode -> send -> decode -> validate -> result

each step a small function below. Nothing is sent until binding, validation
and encoding have all succeeded. `stream`, `download` and `paginate` are the
same line with another ending (streaming.py, pagination.py).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import urllib3

from . import codecs, params
from .core.policy import IDEMPOTENCY_HEADER, RetryPolicy, Timeout
from .core.redact import REDACTOR, Secret
from .core.sse import DEFAULT_MAX_EVENT_BYTES
from .errors import (ConfigError, ParameterError, RequestValidationError, ResponseDecodeError,
                     ResponseValidationError, UnknownOperationError, status_error)
from .schema import SchemaSet, schema_properties, short_repr
from .spec import Operation, Parameter, Spec
from .streaming import Stream
from .transport import DEFAULT_MAX_RESPONSE_BYTES, Headers, RawResponse, ReplayableBody, Transport

if TYPE_CHECKING:
    from .pagination import Paginator   # imported when first used: a first call never pages

log = logging.getLogger("dynclient")

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


@dataclass(frozen=True)
class PreparedRequest:
    """A request that passed binding, validation and encoding: exactly what will be sent."""

    operation_id: str
    method: str
    url: str
    headers: Headers
    body: bytes | ReplayableBody | None   # ReplayableBody: files streamed from disk

    def __repr__(self) -> str:   # the URL may carry an apiKey-in-query credential
        size = "no body" if self.body is None else f"{len(self.body)} bytes"
        return (f"PreparedRequest({self.operation_id}: {self.method} {REDACTOR.redact(self.url)}, "
                f"headers={self.headers!r}, {size})")


@dataclass(frozen=True)
class Result:
    """The raw form of a call: everything about the response, with the decoded, validated body."""

    operation_id: str
    status: int
    headers: urllib3.HTTPHeaderDict
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


class Client:
    """A client for every operation of an OpenAPI 3.x document.

    >>> client = Client("openai-2025-04-29.yaml", base_url="http://127.0.0.1:8080/v1")
    >>> client.call("createAssistant", {"model": "gpt-4o"})
    >>> client.call("getAssistant", assistant_id="asst_123")
    """

    def __init__(self, spec: Any, *, base_url: str | None = None, api_key: str | None = None,
                 credentials: Mapping[str, Any] | None = None, organization: str | None = None,
                 project: str | None = None, headers: Mapping[str, str] | None = None,
                 timeout: Any = None, validate_requests: bool = True, validate_responses: str = "strict",
                 max_retries: int | None = None, retry: RetryPolicy | None = None,
                 max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
                 max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES, verify: bool = True, ca_certs: str | None = None, pool_maxsize: int = 10,
                 proxy: str | bool | None = None, record: str | os.PathLike | None = None,
                 **load_options: Any):
        if validate_responses not in VALIDATION_MODES:
            raise ConfigError(f"validate_responses must be one of {VALIDATION_MODES}, not {validate_responses!r}")
        if isinstance(spec, Spec) and load_options:
            raise TypeError(f"Client() got unexpected keyword arguments {sorted(load_options)} (the document "
                            f"is already loaded, so no loading options apply)")
        self.spec = spec if isinstance(spec, Spec) else Spec(spec, **load_options)
        self.schemas = SchemaSet(self.spec)
        is_openai = serves_openai(self.spec)
        if api_key is None and is_openai:
            api_key = os.environ.get("OPENAI_API_KEY")
        self._credentials = self._collect_credentials(api_key, credentials or {})
        default_headers = {"User-Agent": USER_AGENT}
        organization = organization or (os.environ.get("OPENAI_ORG_ID") if is_openai else None)
        project = project or (os.environ.get("OPENAI_PROJECT_ID") if is_openai else None)
        if organization:
            default_headers["OpenAI-Organization"] = organization
        if project:
            default_headers["OpenAI-Project"] = project
        default_headers.update(headers or {})
        self.options = Options(
            base_url=(base_url or self._default_base_url()),
            headers=default_headers,
            timeout=Timeout.of(timeout),
            validate_requests=validate_requests,
            validate_responses=validate_responses,
            retry=_retry_policy(retry or RetryPolicy(), max_retries),
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
        )
        self._sensitive = frozenset(
            s["name"].lower() for s in self.spec.security_schemes.values()
            if isinstance(s, dict) and s.get("type") == "apiKey" and s.get("in") == "header" and "name" in s
        )
        self._templates: dict[str, tuple[Headers, str, list]] = {}   # see _header_template
        if not verify:
            _warn_unverified_once()
        self.transport = Transport(verify=verify, ca_certs=ca_certs, pool_maxsize=pool_maxsize, proxy=proxy)
        self.recorder = None
        if record:
            from .evolve.record import Recorder   # dynclient.evolve.record
            self.recorder = Recorder(record, self.spec)

    @classmethod
    def from_config(cls, path: Any = None, **overrides: Any) -> "Client":
        """A client from arguments > environment > `dynclient.toml` (or `path`, or $DYNCLIENT_CONFIG).

        `overrides` are settings by name (spec, base_url, api_key, api_key_env, ...);
        see dynclient/config.py for the keys and the precedence.
        """
        from .config import client_from_config
        return client_from_config(cls, path, **overrides)

    # --- construction helpers --------------------------------------------------

    def _collect_credentials(self, api_key: str | None, given: Mapping[str, Any]) -> dict[str, Secret]:
        found = {}
        for name, scheme in self.spec.security_schemes.items():
            if name in given:
                found[name] = Secret(given[name])
            elif api_key and isinstance(scheme, dict) and (
                    scheme.get("type") in ("apiKey", "oauth2", "openIdConnect")
                    or (scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer")):
                found[name] = Secret(api_key)
        unknown = set(given) - set(self.spec.security_schemes)
        if unknown:
            raise ValueError(f"credentials for unknown security schemes {sorted(unknown)}; "
                             f"the document defines {sorted(self.spec.security_schemes)}")
        return found

    def _default_base_url(self) -> str | None:
        server = self.spec.servers[0] if self.spec.servers else {"url": "/"}
        url = str(server.get("url", "/"))
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        return url if url.startswith(("http://", "https://")) else None

    def with_options(self, **changes: Any) -> "Client":
        """A client sharing this one's document, schemas and pool, with some options changed.

        Accepts base_url, headers (merged over the current ones), timeout,
        validate_requests, validate_responses, max_retries, retry (a RetryPolicy),
        max_response_bytes, max_event_bytes.
        """
        if "timeout" in changes:
            changes["timeout"] = Timeout.of(changes["timeout"])
        if "max_retries" in changes:
            changes["retry"] = _retry_policy(changes.get("retry") or self.options.retry, changes.pop("max_retries"))
        if "headers" in changes:
            changes["headers"] = {**self.options.headers, **changes["headers"]}
        if changes.get("validate_responses", "strict") not in VALIDATION_MODES:
            raise ConfigError(f"validate_responses must be one of {VALIDATION_MODES}")
        clone = object.__new__(Client)
        clone.__dict__.update(self.__dict__)
        clone.options = dataclasses.replace(self.options, **changes)
        clone._templates = {}
        return clone

    def __repr__(self) -> str:
        return (f"<dynclient.Client {self.spec.title!r} {self.spec.version} "
                f"({len(self.spec.operations)} operations) at {self.options.base_url}>")

    @property
    def ops(self) -> Any:
        """Every operation as a callable: `client.ops.createAssistant(body, **params)`; see dynclient.namespace."""
        ops = self.__dict__.get("_ops")
        if ops is None or ops._client is not self:   # a with_options copy gets its own
            from .namespace import Operations
            ops = self._ops = Operations(self)
        return ops

    def describe(self, operation_id: str, **options: Any) -> dict:
        """What an operation takes and returns, as data (see dynclient.describe)."""
        from .describe import describe
        return describe(self.schemas, operation_id, **options)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- the call ---------------------------------------------------------------

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.spec.operations[operation_id]
        except KeyError:
            import difflib   # only for the suggestions of an error
            close = difflib.get_close_matches(operation_id, self.spec.operations, n=3, cutoff=0.6)
            raise UnknownOperationError(operation_id, close) from None

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
        return self.call_raw(operation_id, body, params=params, headers=headers, timeout=timeout,
                             content_type=content_type, progress=progress, **arguments).body

    def call_raw(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
                 progress: ProgressCallback | None = None, **arguments: Any) -> Result:
        """Like `call`, but returns a Result with status, headers, request id, elapsed time and attempts."""
        prepared = self.prepare(operation_id, body, params=params, headers=headers,
                                content_type=content_type, **arguments)
        raw = self._send(prepared, timeout, progress)
        return self._handle_response(self.spec.operations[prepared.operation_id], raw)

    def stream(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, timeout: Any = None, content_type: str | None = None,
               progress: ProgressCallback | None = None, max_bytes: int | None = None,
               **arguments: Any) -> Stream:
        """Call an operation and read its response as it arrives.

        For a `text/event-stream` response, iterating gives `codecs.Event`s,
        each validated against the document's event schema; otherwise byte
        chunks (`iter_bytes`, `write_to`, `read`). A JSON body whose schema has
        a `stream` property gets `"stream": true` unless it says otherwise.
        Use it as a context manager so the connection is released early.
        """
        op = self.operation(operation_id)
        body = ask_to_stream(self.spec, op, body, content_type)
        prepared = self.prepare(operation_id, body, params=params, headers=headers,
                                content_type=content_type, **arguments)
        raw = self._send(prepared, timeout, progress, stream=True)
        if raw.stream is None:   # an error answer, read whole
            self._handle_response(op, raw)
        stream = Stream(op.operation_id, raw, lambda event: self._check_event(op, raw, event), max_bytes,
                        self.options.max_event_bytes)
        if self.options.validate_responses != "off" and not stream.is_event_stream:
            self._check_stream_media(op, stream)
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

    def _send(self, prepared: PreparedRequest, timeout: Any, progress: ProgressCallback | None,
              stream: bool = False) -> RawResponse:
        return self.transport.send(prepared, Timeout.of(timeout) if timeout is not None else self.options.timeout,
                                   self.options.retry, stream=stream, max_bytes=self.options.max_response_bytes,
                                   on_progress=progress)

    def prepare(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, content_type: str | None = None,
                **arguments: Any) -> PreparedRequest:
        """Bind, validate and encode a call without sending it."""
        op = self.operation(operation_id)
        bound = bind_arguments(op, [*(params or {}).items(), *arguments.items()])
        media = choose_request_media(op, body, content_type)
        if self.options.validate_requests:
            validate_request(self.schemas, op, bound, media, body)
        prepared = self._encode(op, bound, media, body, headers or {})
        if self.recorder:
            self.recorder.record(operation_id, body, {**(params or {}), **arguments}, headers, content_type)
        return prepared

    # --- encode -----------------------------------------------------------------

    def _encode(self, op: Operation, bound: Bound, media: Any, body: Any,
                call_headers: Mapping[str, str]) -> PreparedRequest:
        base_url = self.options.base_url
        if not base_url:
            raise ParameterError(op.operation_id, "base_url",
                                 "the document names no absolute server URL; pass base_url= to the Client")
        url = base_url.rstrip("/") + params.expand_path(op, bound.path)
        template, extra_query, auth_cookies = self._header_template(op)
        headers = template.copy()
        cookies = [*bound.cookie, *auth_cookies]
        for p, value in bound.header:
            headers[p.name] = params.encode_header(op, p, value)
        if cookies:
            headers["Cookie"] = params.encode_cookies(op, cookies)
        data = None
        if media is not None and body is not MISSING:
            try:
                data, produced_type = codecs.lookup(codecs.ENCODERS, media.content_type)(body, media.encoding)
            except codecs.EncodeError as exc:
                raise ParameterError(op.operation_id, "body", str(exc)) from None
            headers["Content-Type"] = params.check_header_value(op, "Content-Type",
                                                                produced_type or media.content_type)
            if isinstance(data, ReplayableBody):   # streamed from disk, so urllib3 cannot count it
                headers["Content-Length"] = str(data.length)
        for name, value in call_headers.items():
            headers[name] = params.check_header_value(op, name, str(value))
        key = self.options.retry.idempotency_key(op.method) if IDEMPOTENCY_HEADER not in headers else None
        if key is not None:   # one per logical call, the same on every attempt: the server does it once
            headers[IDEMPOTENCY_HEADER] = key
        query_string = params.encode_query(op, list(bound.query))
        if extra_query:
            query_string = "&".join(filter(None, [query_string, extra_query]))
        if query_string:
            url += ("&" if "?" in url else "?") + query_string
        return PreparedRequest(op.operation_id, op.method, url, headers, data)

    def _header_template(self, op: Operation) -> tuple[Headers, str, list]:
        """The default and auth headers of an operation, built and checked once per client options
        (a call copies them): (headers, query text for apiKey-in-query, auth cookies)."""
        found = self._templates.get(op.operation_id)
        if found is None:
            headers = Headers(self.options.headers)
            headers.sensitive = headers.sensitive | self._sensitive
            cookies: list = []
            extra_query = self._apply_auth(op, headers, cookies)
            for name, value in headers.items():
                params.check_header_value(op, name, value)
            found = self._templates[op.operation_id] = (headers, extra_query, cookies)
        return found

    def _apply_auth(self, op: Operation, headers: Headers, cookies: list) -> str:
        """Apply the first security requirement we hold credentials for; returns extra query text."""
        for requirement in op.security:
            if not all(name in self._credentials for name in requirement):
                continue
            query = []
            for name in requirement:
                scheme, secret = self.spec.security_schemes[name], self._credentials[name].reveal()
                kind, where = scheme.get("type"), scheme.get("in")
                if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                    user, password = secret if isinstance(secret, tuple) else (secret, "")
                    token = base64.b64encode(f"{user}:{password}".encode()).decode()
                    headers["Authorization"] = f"Basic {token}"
                elif kind == "apiKey" and where == "header":
                    headers[scheme["name"]] = params.check_header_value(op, scheme["name"], str(secret))
                elif kind == "apiKey" and where == "query":
                    query.append(f"{params.quote(scheme['name'], safe='')}={params.quote(str(secret), safe='')}")
                elif kind == "apiKey" and where == "cookie":
                    cookies.append((Parameter(scheme["name"], "cookie", True, None, "", "form", True), secret))
                else:   # http bearer, oauth2, openIdConnect: a bearer token
                    headers["Authorization"] = params.check_header_value(op, "Authorization", f"Bearer {secret}")
            return "&".join(query)
        return ""

    # --- decode and validate the response -----------------------------------------

    def _handle_response(self, op: Operation, raw: RawResponse) -> Result:
        content_type = raw.headers.get("Content-Type", "")
        request_id = raw.headers.get("x-request-id")
        try:
            body = codecs.lookup(codecs.DECODERS, content_type)(raw.data, content_type) if raw.data else None
        except codecs.DecodeError as exc:
            if raw.status >= 400:
                body = raw.data.decode("utf-8", "replace")
            else:
                raise ResponseDecodeError(str(exc), op.operation_id, raw.status, content_type) from None
        if raw.status >= 400:
            raise status_error(op.operation_id, raw.status, body, raw.headers, request_id)
        if self.options.validate_responses != "off":
            self._validate_response(op, raw, body, content_type, request_id)
        return Result(op.operation_id, raw.status, raw.headers, body, request_id, raw.elapsed, content_type,
                      raw.attempts)

    def _validate_response(self, op: Operation, raw: RawResponse, body: Any, content_type: str,
                           request_id: str | None) -> None:
        problem = response_problem(self.schemas, op, raw.status, body, content_type, bool(raw.data))
        self._report(op, raw.status, problem, body, request_id)

    def _check_stream_media(self, op: Operation, stream: Stream) -> None:
        """A streamed body is not held, so only its status and content type are checked."""
        _, problem = response_media(op, stream.status, stream.content_type, binary=True)
        if problem is not None and self.options.validate_responses == "strict":
            stream.close()   # about to raise: nobody will read it (in warn mode the caller still does)
        self._report(op, stream.status, problem, None, stream.request_id)

    def _check_event(self, op: Operation, raw: RawResponse, event: codecs.Event) -> None:
        if self.options.validate_responses == "off":
            return
        problem = event_problem(self.schemas, op, raw.status, event)
        self._report(op, raw.status, problem, event.data, raw.headers.get("x-request-id"), " (an event)")

    def _report(self, op: Operation, status: int, problem: tuple[str, str] | None, body: Any,
                request_id: str | None, what: str = "") -> None:
        if problem is None:
            return
        pointer, message = problem
        if self.options.validate_responses == "strict":
            raise ResponseValidationError(op.operation_id, status, pointer, message + what, body, request_id)
        log.warning("%s: response %s%s does not match the document at %s: %s", op.operation_id, status, what,
                    pointer or "/", message)


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


def validate_request(schemas: SchemaSet, op: Operation, bound: Bound, media: Any, body: Any) -> None:
    """Every bound parameter and the body against their schemas; the first failure is raised."""
    given = [*((p, bound.path[p.name]) for p in op.parameters if p.name in bound.path),
             *bound.query, *bound.header, *bound.cookie] if op.parameters else ()
    for p, value in given:
        if p.schema is None:
            continue
        violation = schemas.compiled(p.pointer, "request").violation(value)
        if violation:
            raise RequestValidationError(op.operation_id, p.location, p.name + violation.pointer,
                                         violation.message, violation.expected, violation.given,
                                         violation.messages)
    if media is not None and body is not MISSING and media.schema is not None:
        instance = body if codecs.media_essence(media.content_type) == "application/json" \
            else codecs.for_validation(body)
        violation = schemas.compiled(media.pointer, "request").violation(instance)
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


def response_media(op: Operation, status: int, content_type: str, *, binary: bool,
                   has_body: bool = True) -> tuple[Any, tuple[str, str] | None]:
    """(the declared media type of an answer or None, the problem with its status, presence or content
    type or None). Checked for every answer, whether its body is read whole or streamed."""
    response = op.response_for(status)
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


def response_problem(schemas: SchemaSet, op: Operation, status: int, body: Any, content_type: str,
                     has_body: bool) -> tuple[str, str] | None:
    """None when the response matches the document; else (JSON pointer, what is wrong)."""
    media, problem = response_media(op, status, content_type, binary=isinstance(body, bytes), has_body=has_body)
    if media is None or media.schema is None or not isinstance(body, (dict, list, str, int, float, bool)) \
            or codecs.media_essence(media.content_type) == "text/event-stream":
        return problem   # bytes, and events (validated one by one when streamed), have no JSON schema to meet
    violation = schemas.compiled(media.pointer, "response").violation(body)
    if violation is None:
        return None
    return violation.pointer, violation.message + (f" (given {short_repr(violation.given)})"
                                                   if violation.keyword not in ("type", "enum", "const") else "")


def event_problem(schemas: SchemaSet, op: Operation, status: int, event: codecs.Event) -> tuple[str, str] | None:
    """None when a streamed event matches the document's event schema. Most documents describe the
    event's data; some (OpenAI's assistant streams) describe `{event, data}` together: either passes."""
    response = op.response_for(status)
    key = codecs.match_media(response.content, "text/event-stream") if response else None
    media = response.content[key] if key else None
    if media is None or media.schema is None:
        return None
    validator = schemas.compiled(media.pointer, "response")
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


def _retry_policy(policy: RetryPolicy, max_retries: int | None) -> RetryPolicy:
    if max_retries is None:
        return policy
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number >= 0, not {max_retries!r}")
    return dataclasses.replace(policy, max_retries=max_retries)


_warned_unverified: list[bool] = []


def _warn_unverified_once() -> None:
    if not _warned_unverified:
        _warned_unverified.append(True)
        log.warning("TLS certificate verification is off (verify=False): responses could come from anyone "
                    "between you and the server; use ca_certs= for a private CA instead")
