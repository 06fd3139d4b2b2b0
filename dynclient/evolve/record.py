"""Record the calls a client makes, and check them against another version of the document.

``Client(spec, record="calls.jsonl")`` appends one JSON line per prepared call:
the operation id, the arguments, the body and the content type asked for. No
secret is written: credentials never pass through the arguments, a header or
parameter named by a security scheme (and Authorization, Cookie) is replaced
by ``<redacted>``, and so is any value that holds a credential the process
knows (as in logs). File values are recorded by size only.

``check_calls(spec, calls)`` binds and validates each recorded call against a
document with the client's own ``bind_arguments``/``validate_request``, so a
failing call gets the same precise error it would raise at run time.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

from ..core.call import MISSING
from ..core.cassette import masked, scrubbed_value, secret_names, storable
from ..errors import RequestError
from ..spec import Spec



class Recorder:
    """Appends calls to a JSON-lines file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike, spec: Spec):
        self.path = os.fspath(path)
        self.secret_names = secret_names(spec.security_schemes)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Recorder({self.path!r})"

    def record(self, operation_id: str, body: Any, arguments: dict, headers: dict | None,
               content_type: str | None) -> None:
        entry: dict[str, Any] = {"operation_id": operation_id,
                                 "arguments": {k: self.scrub(k, v) for k, v in arguments.items()}}
        if body is not MISSING:
            entry["body"] = storable(body)
        if content_type:
            entry["content_type"] = content_type
        if headers:
            entry["headers"] = {k: self.scrub(k, v) for k, v in headers.items()}
        line = json.dumps(masked(entry), ensure_ascii=False, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as file:
            file.write(line + "\n")

    def scrub(self, name: str, value: Any) -> Any:
        return scrubbed_value(name, value, self.secret_names)


def restored(value: Any) -> Any:
    """The recorded value as the client would see it again: files as bytes."""
    if isinstance(value, dict):
        if set(value) == {"$file"}:
            return b""
        return {k: restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restored(v) for v in value]
    return value


# --- check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    line: int
    operation_id: str
    ok: bool
    reason: str = ""           # the error the call would raise, or "" when it passes
    error: str = ""            # its exception class name
    location: str = ""         # path | query | header | body | operation
    pointer: str = ""          # parameter name or JSON pointer in the body

    def as_dict(self) -> dict:
        return asdict(self)


def read_calls(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as file:
        for number, text in enumerate(file, 1):
            if text.strip():
                try:
                    yield number, json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"{os.fspath(path)}:{number}: not a JSON line: {exc}") from None


def check_calls(spec: Spec, calls: Iterable[tuple[int, dict]]) -> list[CheckResult]:
    from ..schema import SchemaSet
    schemas = SchemaSet(spec)
    return [check_call(spec, schemas, line, call) for line, call in calls]


def check_call(spec: Spec, schemas: Any, line: int, call: dict) -> CheckResult:
    """A recorded call bound and validated against `spec`, as the client would at run time."""
    from ..core.call import bind_arguments, choose_request_media, validate_request

    op_id = str(call.get("operation_id"))
    op = spec.operations.get(op_id)
    if op is None:
        return CheckResult(line, op_id, False, f"operation {op_id!r} is not in the document",
                           "UnknownOperationError", "operation")
    body = restored(call["body"]) if "body" in call else MISSING
    arguments = {k: restored(v) for k, v in (call.get("arguments") or {}).items()}
    try:
        bound = bind_arguments(op, list(arguments.items()))
        media = choose_request_media(op, body, call.get("content_type"))
        validate_request(schemas, op, bound, media, body)
    except RequestError as exc:
        return CheckResult(line, op_id, False, str(exc), type(exc).__name__, getattr(exc, "location", "parameter"),
                           getattr(exc, "pointer", None) or getattr(exc, "name", ""))
    return CheckResult(line, op_id, True)
