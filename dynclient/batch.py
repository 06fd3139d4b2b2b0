"""OpenAI Batch API input files (JSONL), checked against the document before anyone pays for them.

Each line is `{"custom_id": ..., "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
`BatchChecker.check(line_number, text)` matches the line to its operation by
method and path template (the server's path prefix, `/v1`, stripped: `jobs.Router`,
the one `dynclient run` uses) and validates the body and any query or path
values with the client's own validator. It reports, per line: bad JSON, a
missing or malformed field, an unknown endpoint, a duplicate `custom_id`, a
second endpoint in one file (a batch has one), and schema errors with their
JSON pointer.

`build_lines(...)` goes the other way: bodies in, valid batch lines out.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

from .core.call import MISSING, check_call
from .errors import RequestError
from .jobs import BATCH_FIELDS, Router, query_values, typed_params, unknown_fields
from .spec import Operation, Spec

MAX_REQUESTS = 50_000      # OpenAI's limit on requests in one batch input file


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    custom_id: str | None = None
    pointer: str | None = None     # JSON pointer into the line's body, for schema errors

    def __str__(self) -> str:
        who = f" ({self.custom_id})" if self.custom_id is not None else ""
        return f"line {self.line}{who}: {self.message}"


class BatchChecker:
    """Checks the lines of one batch input file, in order; keeps what spans lines (ids, endpoint)."""

    def __init__(self, source: Any):
        self.spec = source if isinstance(source, Spec) else Spec(source)   # a Spec, or anything Spec() accepts
        self.schemas = self.spec.schemas   # compiled once for every client, mock and checker of this Spec
        self.router = Router(self.spec)
        self.prefix = self.router.prefix
        self.first_line: dict[str, int] = {}   # custom_id -> line it was first seen on
        self.endpoint: tuple[str, str, int] | None = None
        self.count = 0

    def check(self, number: int, text: str) -> list[Problem]:
        if not text.strip():
            return [Problem(number, "empty line (every line must be one request)")]
        try:
            line = json.loads(text)
        except ValueError as exc:
            return [Problem(number, not_json(exc))]
        if not isinstance(line, dict):
            return [Problem(number, f"expected a JSON object with {', '.join(BATCH_FIELDS)}")]
        self.count += 1
        custom_id = line.get("custom_id")
        label = custom_id if isinstance(custom_id, str) else None
        problems = [Problem(number, message, label) for message in self.shape_problems(line)]
        if self.count == MAX_REQUESTS + 1:
            problems.append(Problem(number, f"more than {MAX_REQUESTS} requests in one file", label))
        if isinstance(custom_id, str):
            first = self.first_line.setdefault(custom_id, number)
            if first != number:
                problems.append(Problem(number, f"duplicate custom_id {custom_id!r} (first on line {first})", label))
        if problems:
            return problems
        return [Problem(number, message, label, pointer) for message, pointer in self.request_problems(line, number)]

    @staticmethod
    def shape_problems(line: dict) -> Iterator[str]:
        for name in ("custom_id", "method", "url"):
            if name not in line:
                yield f"missing {name!r}"
            elif not isinstance(line[name], str) or not line[name]:
                yield f"{name!r} must be a non-empty string, not {json.dumps(line[name])[:40]}"
        unknown = unknown_fields(line)
        if unknown:
            yield unknown

    def request_problems(self, line: dict, number: int) -> Iterator[tuple[str, str | None]]:
        method, url = line["method"].upper(), line["url"]
        found = self.router.route(method, url)
        path = urlsplit(url).path
        if found is None:
            yield self.unknown_endpoint(method, path), None
            return
        operation_id, path_values, query = found
        op: Operation = self.spec.operations[operation_id]
        if self.endpoint is None:
            self.endpoint = (method, path, number)
        elif self.endpoint[:2] != (method, path):
            yield (f"{method} {path} differs from the file's endpoint {self.endpoint[0]} "
                   f"{self.endpoint[1]} (line {self.endpoint[2]}); a batch has one endpoint"), None
        body = line.get("body", MISSING)
        texts = {**path_values, **{name: value for name, value in query_values(query).items()
                                    if name in op.parameters_by_name}}   # names the operation lacks are ignored
        try:
            check_call(self.schemas, op, typed_params(self.schemas, op, texts).items(), body,
                       "application/json" if body is not MISSING else None)
        except RequestError as exc:
            yield str(exc), getattr(exc, "pointer", None)
        except ValueError as exc:   # a query text its schema cannot read
            yield f"{op.operation_id}: {exc}", None

    def unknown_endpoint(self, method: str, path: str) -> str:
        prefix = self.prefix
        known = [f"{op.method} {prefix}{op.path}" for op in self.spec]
        close = difflib.get_close_matches(f"{method} {path}", known, n=1, cutoff=0.6)
        return f"no operation for {method} {path}" + (f"; did you mean {close[0]}?" if close else "")


def not_json(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON at column {exc.colno}: {exc.msg}"
    return f"not valid JSON: {exc}"


def build_lines(source: Any, operation_id: str, bodies: Iterator[tuple[int, str]], *,
                id_field: str | None = None, id_prefix: str = "request-") -> Iterator[tuple[int, dict | None, list[Problem]]]:
    """(line number, batch line or None, problems) for each body line of a JSONL file.

    The custom_id is `id_prefix` + the line number, or the value of `id_field`,
    which is taken out of the body.
    """
    checker = BatchChecker(source)
    op = checker.spec.operations.get(operation_id)
    if op is None:
        from .errors import UnknownOperationError
        raise UnknownOperationError(operation_id, difflib.get_close_matches(operation_id, checker.spec.operations))
    if "{" in op.path:
        raise ValueError(f"{operation_id}: {op.path} has path parameters; the Batch API endpoints have none")
    url = checker.prefix + op.path
    for number, text in bodies:
        if not text.strip():
            continue   # blank lines in the input are not requests
        try:
            body = json.loads(text)
        except ValueError as exc:
            yield number, None, [Problem(number, not_json(exc))]
            continue
        custom_id: Any = f"{id_prefix}{number}"
        if id_field is not None:
            if not isinstance(body, dict) or id_field not in body:
                yield number, None, [Problem(number, f"no {id_field!r} field to take the custom_id from")]
                continue
            custom_id = body.pop(id_field)
            if not isinstance(custom_id, (str, int)) or isinstance(custom_id, bool):
                yield number, None, [Problem(number, f"{id_field!r} must be a string or an integer")]
                continue
        line = {"custom_id": str(custom_id), "method": op.method, "url": url, "body": body}
        yield number, line, checker.check(number, json.dumps(line))
