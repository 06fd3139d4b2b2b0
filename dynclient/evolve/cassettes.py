"""Check a cassette against another version of the document: every recorded request, and every
recorded response, as that version's client would validate them.

    dynclient check --cassette tests/cassettes/assistants.jsonl --spec openai@2026-08-21

A request is bound and validated as `dynclient check --calls` does (evolve/record.py); a response
(2xx/3xx: an error answer is never validated) is validated against the schema for its status and
content type, an event stream event by event, and a body in a side file by its media type only.
Each failure names the cassette line, the operation, the status and the JSON pointer in the body.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.call import DEFAULT_MAX_RESPONSE_BYTES, event_problem, response_problem
from ..core.cassette import Tape, body_entry
from ..core.headers import Headers
from ..core.sse import Event
from ..errors import CassetteError
from ..spec import Spec
from .record import CheckResult, check_call


def read_cassette(path: str | os.PathLike) -> Tape:
    """The exchanges of a cassette file, with their line numbers."""
    tape = Tape()
    origin = os.fspath(path)
    try:
        with open(origin, encoding="utf-8") as file:
            tape.read_lines(enumerate(file, 1), origin)
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {origin}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CassetteError(f"cassette {origin} is not UTF-8 text: {exc.reason}") from None
    return tape


def check_cassette(spec: Spec, path: str | os.PathLike) -> list[CheckResult]:
    """One result per recorded request and one per recorded response, in the cassette's order."""
    from ..schema import SchemaSet
    schemas = SchemaSet(spec)
    results = []
    files = os.path.splitext(os.fspath(path))[0] + ".files"
    for line, exchange in read_cassette(path).exchanges:
        request = check_call(spec, schemas, line, {"operation_id": exchange["operation"], **exchange["request"]})
        results.append(request)
        op = spec.operations.get(exchange["operation"])
        if op is not None:
            results.append(check_response(schemas, op, line, side_file_read(exchange["response"], files)))
    return results


def side_file_read(response: dict, files: str) -> dict:
    """A body written to a side file (over the inline limit) read back as the cassette would have
    written it inline, so that its schema is checked too; binary bodies stay bytes."""
    side = response.get("file")
    if not isinstance(side, dict) or not isinstance(side.get("size"), int) \
            or side["size"] > DEFAULT_MAX_RESPONSE_BYTES:
        return response
    content_type = Headers(response.get("headers") or {}).get("Content-Type", "")
    try:
        with open(os.path.join(files, os.path.basename(str(side.get("sha256", "")))), "rb") as file:
            entry = body_entry(file.read(), content_type, None)
    except OSError:
        return response   # a missing side file: the answer is checked by its media type only
    if not entry:
        return response
    return {**{k: v for k, v in response.items() if k != "file"}, **entry}


def check_response(schemas: Any, op: Any, line: int, response: dict) -> CheckResult:
    status = response["status"]
    operation_id = op.operation_id
    if status >= 400:
        return CheckResult(line, operation_id, True, location="response")
    content_type = Headers(response.get("headers") or {}).get("Content-Type", "")
    if "events" in response:
        events = response["events"] if isinstance(response["events"], list) else []
        for index, entry in enumerate(events):
            if not isinstance(entry, dict):
                continue
            event = Event(entry.get("event"), entry.get("data"), entry.get("id"))
            problem = event_problem(schemas, op, status, event)
            if problem is not None:
                return failed(line, operation_id, status, f"/events/{index}/data{problem[0]}", problem[1])
        problem = response_problem(schemas, op, status, None, content_type, bool(events))
    elif "file" in response:   # bytes: only their media type is checked
        problem = response_problem(schemas, op, status, b"", content_type, True)
    else:
        body = response["body"] if "body" in response else response.get("text")
        problem = response_problem(schemas, op, status, body, content_type, "body" in response or "text" in response)
        if problem is not None:
            problem = (f"/body{problem[0]}", problem[1])
    if problem is not None:
        return failed(line, operation_id, status, *problem)
    return CheckResult(line, operation_id, True, location="response")


def failed(line: int, operation_id: str, status: int, pointer: str, message: str) -> CheckResult:
    return CheckResult(line, operation_id, False,
                       f"{operation_id}: the recorded response {status} does not match the document at "
                       f"{pointer or '/'}: {message}", "ResponseValidationError", "response", pointer)
