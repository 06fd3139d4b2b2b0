"""Every exception dynclient raises, in one place.

    DynclientError
    ├── ConfigError                  a setting that cannot be used (also a ValueError)
    ├── SpecError                    the document itself is unusable
    │   ├── SpecLoadError            cannot read or parse it (origin, line, column)
    │   ├── NotOpenAPIError          parsed, but not an OpenAPI 3.x document
    │   ├── IntegrityError           sha256 pin mismatch
    │   └── SchemaCompileError       a schema that cannot be compiled (JSON pointer)
    ├── RequestError                 the call was refused before a byte was sent
    │   ├── UnknownOperationError    no such operationId (suggests the closest)
    │   ├── ParameterError           unknown, missing or unencodable argument
    │   └── RequestValidationError   a parameter or the body fails its schema
    ├── ResponseValidationError      the server answered outside the document
    ├── APIConnectionError           no usable HTTP exchange happened
    │   ├── APITimeoutError          connect or read timeout (also an idle stream)
    │   ├── ResponseDecodeError      the response could not be decoded (bad JSON, bad SSE, …)
    │   └── ResponseTooLargeError    the body exceeded the size limit (also a gzip bomb)
    ├── APIStreamError               an event stream reported an error mid-stream
    ├── PaginationError              the operation does not page, or the server repeats a cursor
    ├── CassetteError                a cassette cannot answer a request, or cannot be read or written
    ├── RunError                     a run of many calls (dynclient.run)
    │   ├── RunInputError            the input cannot be run: duplicate or missing custom_ids, …
    │   └── RunStoppedError          the run stopped before the end (insufficient_quota); resumable
    ├── WebhookError                 an event the API sent back (dynclient.webhooks)
    │   ├── WebhookVerificationError its signature, timestamp or headers do not check out
    │   └── WebhookEventError        verified, but not an event the document declares
    └── APIStatusError               the server answered 4xx/5xx
        ├── BadRequestError          400
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── ConflictError            409
        ├── UnprocessableEntityError 422
        ├── RateLimitError           429
        └── InternalServerError      5xx

The status-error names follow the official ``openai`` package so code written
against it reads the same here. Every error keeps its facts as attributes
(operation id, location, JSON pointer, expected vs given, status, request id)
and builds its message from them; none of them ever holds a credential.
"""

from __future__ import annotations

from typing import Any, Mapping

from urllib3 import HTTPHeaderDict


class DynclientError(Exception):
    """Base class of everything dynclient raises."""


class ConfigError(DynclientError, ValueError):
    """A configuration file or setting that cannot be used; the message names the key and the file."""


# --- the document -----------------------------------------------------------


class SpecError(DynclientError):
    """The OpenAPI document cannot be used."""


class SpecLoadError(SpecError):
    def __init__(self, origin: str, message: str, line: int | None = None, column: int | None = None):
        self.origin = origin
        self.line = line
        self.column = column
        self.reason = message
        where = origin if line is None else f"{origin}:{line}:{column}"
        super().__init__(f"{where}: {message}")


class NotOpenAPIError(SpecError):
    def __init__(self, origin: str, what: str):
        self.origin = origin
        self.what = what
        super().__init__(f"{origin}: not an OpenAPI 3.x document: {what}")


class IntegrityError(SpecError):
    def __init__(self, origin: str, expected: str, actual: str):
        self.origin = origin
        self.expected = expected
        self.actual = actual
        super().__init__(f"{origin}: sha256 mismatch: pinned {expected}, got {actual}; refusing to load it")


class SchemaCompileError(SpecError):
    """A schema the validators cannot read. Raised for the operation that needs it, naming it: the
    other operations of the document are unaffected (schemas are compiled per operation, lazily)."""

    def __init__(self, pointer: str, message: str, operation_id: str | None = None):
        self.pointer = pointer
        self.reason = message
        self.operation_id = operation_id
        prefix = f"{operation_id}: cannot be called: " if operation_id else ""
        super().__init__(f"{prefix}schema at {pointer} cannot be compiled: {message}")


# --- the request, refused before sending ------------------------------------


class RequestError(DynclientError):
    """The call was refused before anything was sent."""

    def __init__(self, operation_id: str, message: str):
        self.operation_id = operation_id
        super().__init__(f"{operation_id}: {message}")


class UnknownOperationError(RequestError, KeyError):
    def __init__(self, operation_id: str, suggestions: list[str]):
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        RequestError.__init__(self, operation_id, f"no operation with this operationId{hint}")

    __str__ = Exception.__str__  # KeyError would quote the message


class ParameterError(RequestError, TypeError):
    """An argument that is unknown, missing, or cannot be encoded."""

    def __init__(self, operation_id: str, name: str, message: str):
        self.name = name
        RequestError.__init__(self, operation_id, message)


class RequestValidationError(RequestError, ValueError):
    """A parameter or the body does not match its schema.

    ``location`` is ``"body"`` or a parameter location (``"path"``, ``"query"``,
    ``"header"``, ``"cookie"``); ``pointer`` is a JSON pointer into the body, or
    the parameter name followed by a pointer into its value.
    """

    def __init__(self, operation_id: str, location: str, pointer: str, message: str,
                 expected: Any = None, given: Any = None, errors: list[str] | None = None):
        self.location = location
        self.pointer = pointer
        self.expected = expected
        self.given = given
        self.errors = errors or [message]
        where = location if location == "body" and not pointer else f"{location} {pointer or '/'}"
        RequestError.__init__(self, operation_id, f"invalid {where}: {message}")


# --- the response -----------------------------------------------------------


class ResponseValidationError(DynclientError):
    def __init__(self, operation_id: str, status: int, pointer: str, message: str, body: Any = None,
                 request_id: str | None = None):
        self.operation_id = operation_id
        self.status = status
        self.pointer = pointer
        self.body = body
        self.request_id = request_id
        super().__init__(f"{operation_id}: response {status} does not match the document at "
                         f"{pointer or '/'}: {message}")


class APIConnectionError(DynclientError):
    """No usable HTTP exchange happened (refused, reset, TLS failure, ...). `detail` keeps the HTTP
    library's own account of the fault, for debugging; the message is the same whichever client."""

    detail: object = None

    def __init__(self, message: str, operation_id: str | None = None):
        self.operation_id = operation_id
        super().__init__(f"{operation_id}: {message}" if operation_id else message)


class APITimeoutError(APIConnectionError):
    pass


class CertificateVerifyError(APIConnectionError):
    """The server's TLS certificate failed verification (an unknown CA, another host's name, expired).
    Never retried: the same certificate fails again. `ca_certs=` trusts a private CA."""


class ResponseDecodeError(APIConnectionError):
    def __init__(self, message: str, operation_id: str | None = None, status: int | None = None,
                 content_type: str | None = None):
        self.status = status
        self.content_type = content_type
        super().__init__(message, operation_id)


class ResponseTooLargeError(APIConnectionError):
    def __init__(self, limit: int, operation_id: str | None = None, *, what: str = "the response body",
                 setting: str = "max_response_bytes"):
        self.limit = limit
        self.what = what
        self.setting = setting
        hint = " (raise max_response_bytes, or use client.stream() / client.download() for large bodies)" \
            if setting == "max_response_bytes" else f" (raise {setting})"
        super().__init__(f"{what} exceeds the limit of {limit:,} bytes{hint}", operation_id)

    def for_operation(self, operation_id: str) -> "ResponseTooLargeError":
        """The same error, naming the operation (the core raises it before it knows which)."""
        return ResponseTooLargeError(self.limit, operation_id, what=self.what, setting=self.setting)


class APIStreamError(DynclientError):
    """An error event inside a text/event-stream (the HTTP status was already 200)."""

    def __init__(self, operation_id: str, event: str | None, data: Any, request_id: str | None = None):
        self.operation_id = operation_id
        self.event = event
        self.data = data
        self.request_id = request_id
        error = data.get("error", data) if isinstance(data, dict) else {}
        error = error if isinstance(error, dict) else {}
        self.message = error.get("message") or (data if isinstance(data, str) else None)
        self.type = error.get("type")
        self.code = error.get("code")
        super().__init__(_api_message(f"{operation_id}: the stream reported an error", self.message, self.code,
                                      request_id))


class PaginationError(DynclientError):
    """The operation cannot be paged (raised before sending), or the server repeats a cursor."""

    def __init__(self, operation_id: str, message: str):
        self.operation_id = operation_id
        super().__init__(f"{operation_id}: {message}")


class CassetteError(DynclientError):
    """A cassette (dynclient/cassette.py) has no exchange for a request, or cannot be read or written;
    the message names the operation, the file and line, and the closest recorded exchange."""

    def __init__(self, message: str, operation_id: str | None = None):
        super().__init__(message)
        self.operation_id = operation_id


class RunError(DynclientError):
    """A run of many calls (`dynclient run`, `client.run`) that cannot go on."""


class RunInputError(RunError):
    """The input of a run cannot be run as it is; nothing was sent. `problems` lists each one with its
    line number (at most the first `MAX_LISTED` are kept)."""

    MAX_LISTED = 20

    def __init__(self, source: str, problems: list[str], more: int = 0):
        self.source = source
        self.problems = problems[:self.MAX_LISTED]
        more += max(0, len(problems) - self.MAX_LISTED)
        listed = "".join(f"\n  {problem}" for problem in self.problems)
        tail = f"\n  ... and {more} more" if more else ""
        super().__init__(f"{source}: nothing was sent:{listed}{tail}")


class RunStoppedError(RunError):
    """The run stopped before its end for a reason that stops every request (`reason`, e.g.
    `insufficient_quota`); what finished is in the results, and the same run again resumes."""

    def __init__(self, reason: str, message: str, summary: Any = None):
        self.reason = reason
        self.summary = summary
        super().__init__(message)


class WebhookError(DynclientError):
    """An incoming webhook that cannot be accepted."""


class WebhookVerificationError(WebhookError):
    """The webhook did not come from the holder of the secret, or not now: `check` names which check
    failed (headers, timestamp, signature, secret). Never shows the secret or a signature."""

    def __init__(self, check: str, message: str):
        self.check = check
        super().__init__(f"webhook verification failed ({check}): {message}")


class WebhookEventError(WebhookError):
    """A verified webhook whose payload is not an event of the document: not JSON, an unknown `type`,
    or a payload outside its event's schema (`pointer` into the payload)."""

    def __init__(self, event_type: str | None, message: str, pointer: str | None = None):
        self.event_type = event_type
        self.pointer = pointer
        where = f" at {pointer or '/'}" if pointer is not None else ""
        super().__init__(f"webhook event {event_type or '(no type)'}{where}: {message}")


class APIStatusError(DynclientError):
    """The server answered with a 4xx or 5xx status."""

    def __init__(self, operation_id: str, status: int, body: Any, headers: Mapping[str, str],
                 request_id: str | None):
        self.operation_id = operation_id
        self.status = self.status_code = status
        self.body = body
        self.headers = HTTPHeaderDict(headers)   # case-insensitive, like Result.headers
        self.request_id = request_id
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.message = error.get("message") or (body if isinstance(body, str) and body else None)
        self.type = error.get("type")
        self.param = error.get("param")
        self.code = error.get("code")
        super().__init__(_api_message(f"{operation_id}: HTTP {status}", self.message, self.code, request_id))


def _api_message(head: str, message: Any, code: Any, request_id: str | None) -> str:
    """`createX: HTTP 429: Rate limit reached (code rate_limit) [request id req_1]`."""
    text = head
    if message:
        text += f": {message}"
    if code:
        text += f" (code {code})"
    if request_id:
        text += f" [request id {request_id}]"
    return text


class BadRequestError(APIStatusError): pass
class AuthenticationError(APIStatusError): pass
class PermissionDeniedError(APIStatusError): pass
class NotFoundError(APIStatusError): pass
class ConflictError(APIStatusError): pass
class UnprocessableEntityError(APIStatusError): pass
class RateLimitError(APIStatusError): pass
class InternalServerError(APIStatusError): pass


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(operation_id: str, status: int, body: Any, headers: Mapping[str, str],
                 request_id: str | None) -> APIStatusError:
    cls = STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(operation_id, status, body, headers, request_id)
