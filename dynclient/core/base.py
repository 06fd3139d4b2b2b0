"""What Client and AsyncClient share: construction, options, credentials, and every step of a call
that is not I/O.

A shell subclasses BaseClient and adds the calls that move bytes (`call`,
`stream`, `download`, `paginate`, `close`), each of them the same line:

    prepared = self.prepare(...)                  # bind, validate, encode: here
    raw = <send it>                               # the shell's transport
    return self.interpret(op, raw)                # decode, validate, typed errors: here

so both clients take the same arguments, read the same configuration and
environment, and give the same results and errors for the same answers.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
from typing import Any, Callable, Mapping

from .. import codecs, params
from ..errors import (ConfigError, ParameterError, ResponseDecodeError, ResponseValidationError, SpecError,
                      UnknownOperationError, status_error)
from ..spec import TOKEN, Operation, Parameter, Spec, expect
from .call import (DEFAULT_MAX_RESPONSE_BYTES, MISSING, USER_AGENT, VALIDATION_MODES, AnswerCheck, Bound, Options,
                   PreparedRequest, RawResponse, Result, admit_event, answer_check, ask_to_stream, beyond_the_document,
                   check_body, check_call, compiled, event_problem, response_media, serves_openai, with_max_retries)
from .headers import SENSITIVE_HEADERS, Headers
from .policy import IDEMPOTENCY_HEADER, RetryPolicy, Timeout, new_idempotency_key
from .redact import Secret
from .sse import DEFAULT_MAX_EVENT_BYTES, Event

log = logging.getLogger("dynclient")


class BaseClient:
    """A client for every operation of an OpenAPI 3.x document, without its I/O (see Client, AsyncClient)."""

    def __init__(self, spec: Any, *, base_url: str | None = None, api_key: str | None = None,
                 credentials: Mapping[str, Any] | None = None, organization: str | None = None,
                 project: str | None = None, headers: Mapping[str, str] | None = None,
                 timeout: Any = None, validate_requests: bool = True, validate_responses: str = "strict",
                 max_retries: int | None = None, retry: RetryPolicy | None = None,
                 max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
                 max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES, verify: bool = True,
                 ca_certs: str | None = None, pool_maxsize: int = 10, max_connections: int | None = None,
                 proxy: str | bool | None = None, record: str | os.PathLike | None = None,
                 cassette: Any = None, record_mode: str | None = None, **load_options: Any):
        """`spec` is a path, URL, dict, named source (`openai@2025-04-29`) or a loaded Spec.

        `pool_maxsize` connections per origin are kept alive; `max_connections` (None: no limit) caps
        how many are open at once, a call waiting for a free one. The transport options (verify,
        ca_certs, proxy) go to the shell's transport; everything else is the same for both clients.
        `cassette` (a path or a dynclient.cassette.Cassette) answers from recorded exchanges and
        records new ones as `record_mode` says (once, new_episodes, none, all; see dynclient/cassette.py).
        """
        if validate_responses not in VALIDATION_MODES:
            raise ConfigError(f"validate_responses must be one of {VALIDATION_MODES}, not {validate_responses!r}")
        if isinstance(spec, Spec) and load_options:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {sorted(load_options)} (the document "
                            f"is already loaded, so no loading options apply)")
        self.spec = spec if isinstance(spec, Spec) else Spec(spec, **load_options)
        self.schemas = self.spec.schemas   # shared with every client of this Spec: compiled once
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
            retry=with_max_retries(retry or RetryPolicy(), max_retries),
            max_response_bytes=max_response_bytes,
            max_event_bytes=max_event_bytes,
        )
        self._sensitive = frozenset(   # a name that is not a string is refused where the scheme is used
            s["name"].lower() for s in self.spec.security_schemes.values()
            if s.get("type") == "apiKey" and s.get("in") == "header" and isinstance(s.get("name"), str)
        )
        self._templates: dict[str, tuple[Headers, str, list]] = {}   # see _header_template
        self._json_plans: dict[str, JsonPlan | None] = {}   # see _json_plan
        self._answer_checks: dict[tuple, AnswerCheck] = {}   # see _answer_check
        if not verify:
            _warn_unverified_once()
        if max_connections is not None and (not isinstance(max_connections, int) or max_connections < 1):
            raise ConfigError(f"max_connections must be a whole number >= 1 or None, not {max_connections!r}")
        self.recorder = None
        if record:
            from ..evolve.record import Recorder   # dynclient.evolve.record
            self.recorder = Recorder(record, self.spec)
        self.transport_options = {"verify": verify, "ca_certs": ca_certs, "pool_maxsize": pool_maxsize,
                                  "max_connections": max_connections, "proxy": proxy}
        self.transport = self._new_transport(**self.transport_options)
        self.cassette = None
        if cassette is not None or record_mode is not None:
            from .. import cassette as cassettes   # the shells' side of a cassette: files and streams
            if cassette is None:
                raise ConfigError(f"record_mode={record_mode!r} needs a cassette= to record to")
            self.cassette = cassettes.CassetteStore(cassettes.Cassette.of(cassette, record_mode), self.spec,
                                                    self.sensitive_headers)
            self.transport = cassettes.wrap(self.cassette, self.transport)

    @property
    def sensitive_headers(self) -> frozenset[str]:
        """Lower-case names of the headers that carry credentials (shown as <redacted>)."""
        return SENSITIVE_HEADERS | self._sensitive

    def _new_transport(self, **options: Any) -> Any:
        """The shell's transport (urllib3 for Client, asyncio for AsyncClient)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, path: Any = None, **overrides: Any) -> Any:
        """A client from arguments > environment > `dynclient.toml` (or `path`, or $DYNCLIENT_CONFIG).

        `overrides` are settings by name (spec, base_url, api_key, api_key_env, ...);
        see dynclient/config.py for the keys and the precedence.
        """
        from ..config import client_from_config
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
            raise ConfigError(f"credentials for unknown security schemes {sorted(unknown)}; "
                             f"the document defines {sorted(self.spec.security_schemes)}")
        return found

    def _default_base_url(self) -> str | None:
        server = self.spec.servers[0] if self.spec.servers else {"url": "/"}
        url = str(server.get("url", "/"))
        origin = self.spec.document.origin
        for name, variable in expect(server.get("variables") or {}, dict, origin, "/servers/0/variables").items():
            default = expect(variable, dict, origin, f"/servers/0/variables/{name}").get("default", "")
            url = url.replace("{" + str(name) + "}", str(default))
        return url if url.startswith(("http://", "https://")) else None

    def with_options(self, **changes: Any) -> Any:
        """A client sharing this one's document, schemas and pool, with some options changed.

        Accepts base_url, headers (merged over the current ones), timeout,
        validate_requests, validate_responses, max_retries, retry (a RetryPolicy),
        max_response_bytes, max_event_bytes.
        """
        if "timeout" in changes:
            changes["timeout"] = Timeout.of(changes["timeout"])
        if "max_retries" in changes:
            changes["retry"] = with_max_retries(changes.get("retry") or self.options.retry, changes.pop("max_retries"))
        if "headers" in changes:
            changes["headers"] = {**self.options.headers, **changes["headers"]}
        if changes.get("validate_responses", "strict") not in VALIDATION_MODES:
            raise ConfigError(f"validate_responses must be one of {VALIDATION_MODES}")
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.options = dataclasses.replace(self.options, **changes)
        clone._templates, clone._json_plans = {}, {}
        return clone

    def sibling(self, shell: type, **transport_options: Any) -> Any:
        """A client of another shell (an AsyncClient for a Client, or back) with this one's document,
        schemas, options and credentials, and a transport of its own (`transport_options` change
        pool_maxsize, max_connections, ...). The caller closes it."""
        clone = object.__new__(shell)
        clone.__dict__.update(self.__dict__)
        clone._templates, clone._json_plans = {}, {}
        clone.transport_options = {**self.transport_options, **transport_options}
        clone.transport = clone._new_transport(**clone.transport_options)
        if self.cassette is not None:   # the same cassette, read and written through the sibling's shell
            from .. import cassette as cassettes
            clone.transport = cassettes.wrap(self.cassette, clone.transport)
        return clone

    def __repr__(self) -> str:
        return (f"<dynclient.{type(self).__name__} {self.spec.title!r} {self.spec.version} "
                f"({len(self.spec.operations)} operations) at {self.options.base_url}>")

    @property
    def ops(self) -> Any:
        """Every operation as a callable: `client.ops.createAssistant(body, **params)`; see dynclient.namespace."""
        ops = self.__dict__.get("_ops")
        if ops is None or ops._client is not self:   # a with_options copy gets its own
            from ..namespace import Operations
            ops = self._ops = Operations(self)
        return ops

    def describe(self, operation_id: str, **options: Any) -> dict:
        """What an operation takes and returns, as data (see dynclient.describe)."""
        from ..describe import describe
        return describe(self.schemas, operation_id, **options)

    # --- the call ---------------------------------------------------------------

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.spec.operations[operation_id]
        except KeyError:
            import difflib   # only for the suggestions of an error
            close = difflib.get_close_matches(operation_id, self.spec.operations, n=3, cutoff=0.6)
            raise UnknownOperationError(operation_id, close) from None

    def prepare(self, operation_id: str, body: Any = MISSING, /, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, content_type: str | None = None,
                body_text: bytes | None = None, **arguments: Any) -> PreparedRequest:
        """Bind, validate and encode a call without sending it. `body_text` is the JSON text `body` was
        decoded from (a bulk run's line): when the body goes out as JSON, it goes out as written."""
        return self.prepare_call(operation_id, body, params, headers, content_type, arguments, body_text)

    def prepare_call(self, operation_id: str, body: Any, params: Mapping[str, Any] | None,
                     headers: Mapping[str, str] | None, content_type: str | None,
                     arguments: Mapping[str, Any], body_text: bytes | None = None) -> PreparedRequest:
        """`prepare` with its arguments as they are (the shells' calls pass them on without packing
        them into keywords again)."""
        if type(body) is dict and not (params or arguments or content_type) \
                and self.cassette is None and not self.recorder:
            plan = self._json_plans.get(operation_id, MISSING)
            if plan is MISSING:
                plan = self._json_plan(self.operation(operation_id))
            if plan is not None:
                return plan.prepare(self, body, body_text, headers)
        op = self.operation(operation_id)
        bound, media = check_call(self.schemas, op, [*(params or {}).items(), *arguments.items()], body,
                                  content_type, self.options.validate_requests)
        prepared = self._encode(op, bound, media, body, headers or {}, body_text)
        if self.cassette is not None:
            prepared = dataclasses.replace(prepared, call=self.cassette.request_form(
                op, prepared.url, self.options.base_url, body, {**(params or {}), **arguments}, headers,
                content_type))
        if self.recorder:
            self.recorder.record(operation_id, body, {**(params or {}), **arguments}, headers, content_type)
        return prepared

    # --- encode -----------------------------------------------------------------

    def _encode(self, op: Operation, bound: Bound, media: Any, body: Any,
                call_headers: Mapping[str, str], body_text: bytes | None = None) -> PreparedRequest:
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
            encoder = codecs.lookup(codecs.ENCODERS, media.content_type)
            try:
                data, produced_type = ((body_text, "application/json") if body_text is not None and
                                       encoder is codecs.encode_json else encoder(body, media.encoding))
            except codecs.EncodeError as exc:
                raise ParameterError(op.operation_id, "body", str(exc)) from None
            headers["Content-Type"] = params.check_header_value(op, "Content-Type",
                                                                produced_type or media.content_type)
            if isinstance(data, codecs.ReplayableBody):   # streamed from disk: its length is not counted
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

    def _json_plan(self, op: Operation) -> "JsonPlan | None":
        """The plan of `op`'s calls with a JSON body and no other argument, or None when they take the
        general path (the operation has parameters, or its first request media type is not JSON)."""
        plan = None
        request_body = op.request_body
        if not op.parameters and "{" not in op.path and self.options.base_url and request_body is not None \
                and request_body.content:
            media = next(iter(request_body.content.values()))
            if codecs.media_essence(media.content_type) == "application/json":
                plan = JsonPlan(self, op, media)
        self._json_plans[op.operation_id] = plan
        return plan

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
                if kind == "apiKey" and where in ("header", "cookie") and not (
                        isinstance(scheme.get("name"), str) and TOKEN.fullmatch(scheme["name"])):
                    raise SpecError(f"{self.spec.document.origin}: /components/securitySchemes/{name}/name: "
                                    f"{scheme.get('name')!r} is not an HTTP token (no spaces, colons, CR, LF or "
                                    f"other separators)")
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

    # --- decode and validate the response (the shells call these) -------------------------

    def interpret(self, op: Operation, raw: RawResponse) -> Result:
        """An answer read whole as the caller gets it: the decoded, validated body in a Result, or the
        typed error it stands for (an APIStatusError for 4xx/5xx)."""
        body, content_type, request_id = self.answer(op, raw)
        return Result(op.operation_id, raw.status, raw.headers, body, request_id, raw.elapsed, content_type,
                      raw.attempts)

    def answer(self, op: Operation, raw: RawResponse) -> tuple[Any, str, str | None]:
        """What `interpret` finds in an answer: (decoded, validated body, content type, request id), or
        the typed error. `call` takes the body from here, without making the Result it would drop."""
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
        if self.options.validate_responses != "off" and not beyond_the_document(op, raw):
            # An answer to HEAD has no body by definition (RFC 9110, 9.3.2): its content type still counts.
            has_body = bool(raw.data) or op.method == "HEAD"
            problem = self._answer_check(op, raw.status, content_type, isinstance(body, bytes), has_body)(body)
            if problem is not None:
                self._report(op, raw.status, problem, body, request_id)
        return body, content_type, request_id

    def _answer_check(self, op: Operation, status: int, content_type: str, binary: bool,
                      has_body: bool) -> AnswerCheck:
        """How answers of this kind are checked (core/call.py: answer_check), kept for the next one."""
        key = (op.operation_id, status, content_type, binary, has_body)
        found = self._answer_checks.get(key)
        if found is None:
            found = answer_check(self.schemas, op, status, content_type, binary=binary, has_body=has_body)
            if len(self._answer_checks) >= 256:   # content types are the server's to vary: keep few
                self._answer_checks.clear()
            self._answer_checks[key] = found
        return found

    def streaming_body(self, op: Operation, body: Any, content_type: str | None) -> Any:
        """The body of a `stream()` call: `"stream": true` added where the schema has that property."""
        return ask_to_stream(self.spec, op, body, content_type)

    def check_stream_media(self, op: Operation, raw: RawResponse, close: Callable[[], None]) -> None:
        """A streamed answer is not held, so only its status and content type are checked (in strict
        mode a mismatch closes it with `close` and raises)."""
        if self.options.validate_responses == "off" or beyond_the_document(op, raw):
            return
        content_type = raw.headers.get("Content-Type", "")
        if codecs.media_essence(content_type) == "text/event-stream":
            return   # its events are checked one by one
        _, problem = response_media(op, raw.status, content_type, binary=True)
        if problem is not None and self.options.validate_responses == "strict":
            close()   # about to raise: nobody will read it (in warn mode the caller still does)
        self._report(op, raw.status, problem, None, raw.headers.get("x-request-id"))

    def event_checker(self, op: Operation, raw: RawResponse) -> Callable[[Event], Event]:
        """What a stream does with each parsed event: an error event raises APIStreamError, and the
        event is validated against the document's event schema."""
        status, request_id = raw.status, raw.headers.get("x-request-id")
        content_type = raw.headers.get("Content-Type", "")

        def check(event: Event) -> Event:
            admit_event(event, op.operation_id, status, content_type, request_id)
            if self.options.validate_responses != "off":
                problem = event_problem(self.schemas, op, status, event)
                self._report(op, status, problem, event.data, request_id, " (an event)")
            return event
        return check

    def _report(self, op: Operation, status: int, problem: tuple[str, str] | None, body: Any,
                request_id: str | None, what: str = "") -> None:
        if problem is None:
            return
        pointer, message = problem
        if self.options.validate_responses == "strict":
            raise ResponseValidationError(op.operation_id, status, pointer, message + what, body, request_id)
        log.warning("%s: response %s%s does not match the document at %s: %s", op.operation_id, status, what,
                    pointer or "/", message)


class JsonPlan:
    """A call of an operation that takes no parameters, with a JSON object body and nothing else
    (most POSTs of most APIs): the work every such call shares under one client's options is done
    on the first (URL, headers with auth, cookies and Content-Type, whether an idempotency key goes
    with it), so a call validates, encodes, copies the headers and builds its request. It gives what
    the general path (`check_call` then `_encode`) gives for the same call."""

    __slots__ = ("op", "media", "url", "headers", "keyed", "validator")   # keyed: each call gets an Idempotency-Key

    def __init__(self, client: BaseClient, op: Operation, media: Any):
        self.op, self.media = op, media
        self.validator: Any = None   # the body's compiled schema, once a call has needed it
        general = client._encode(op, Bound(), None, MISSING, {})   # URL and headers as a call without a body
        self.url, self.headers = general.url, general.headers
        if IDEMPOTENCY_HEADER not in client._header_template(op)[0]:
            self.headers.pop(IDEMPOTENCY_HEADER, None)   # each call has its own
        self.headers["Content-Type"] = params.check_header_value(op, "Content-Type", "application/json")
        self.keyed = IDEMPOTENCY_HEADER not in self.headers and client.options.retry.wants_key(op.method)

    def prepare(self, client: BaseClient, body: dict, body_text: bytes | None = None,
                call_headers: Mapping[str, str] | None = None) -> PreparedRequest:
        """The request of a call with `body` (sent as `body_text` when given: the JSON text it was read
        from) and the call's own headers, set as the general path sets them (an Idempotency-Key among
        them is the call's)."""
        op = self.op
        if client.options.validate_requests and self.media.schema is not None:
            validator = self.validator   # a JSON body is its own instance (codecs.body_instance)
            if validator is None:
                validator = self.validator = compiled(client.schemas, op, self.media.pointer, "request")
            check_body(op, validator, body)
        try:
            data = body_text if body_text is not None else codecs.encode_json(body, self.media.encoding)[0]
        except codecs.EncodeError as exc:
            raise ParameterError(op.operation_id, "body", str(exc)) from None
        if not call_headers:
            headers = self.headers.copy_with(IDEMPOTENCY_HEADER, new_idempotency_key()) if self.keyed \
                else self.headers.copy()
        else:
            headers = self.headers.copy()
            for name, value in call_headers.items():
                headers[name] = params.check_header_value(op, name, str(value))
            if self.keyed and IDEMPOTENCY_HEADER not in headers:
                headers[IDEMPOTENCY_HEADER] = new_idempotency_key()
        return PreparedRequest(op.operation_id, op.method, self.url, headers, data)


_warned_unverified: list[bool] = []


def _warn_unverified_once() -> None:
    if not _warned_unverified:
        _warned_unverified.append(True)
        log.warning("TLS certificate verification is off (verify=False): responses could come from anyone "
                    "between you and the server; use ca_certs= for a private CA instead")
