"""The mock runs Batch API jobs: files keep their bytes, batches really execute their input file.

    MockServer(spec, batch_seconds=2)            # a batch takes 2 s from creation to `completed`
    dynclient mock openai@2025-04-29 --batch-seconds 2 --batch-window-seconds 1   # ...and expires after 1 s

**Files.** `createFile` keeps the uploaded file's bytes in a temporary directory of the mock (removed when
the server stops; the socket side already bounds a body by `max_body_bytes`), and sets the file object's
`bytes` and `filename`; `downloadFile` (GET /files/{file_id}/content) streams them back, as it does the
output and error files of batches; `deleteFile` removes them.

**Batches.** `createBatch` checks that the input file exists (404, as the API says it; unless the mock
runs with `strict_ids`, a file id it never saw is assumed, a file without bytes of any purpose, as
MockApp.assume assumes any id) and was uploaded with purpose `batch`, and that the endpoint is a POST operation of the document; the batch starts
`validating`. Nothing runs in the background: each `retrieveBatch`, `listBatches` or `cancelBatch`
moves the batch to where the clock says it is. Over `batch_seconds` (T):

    [0, 0.1 T)    validating   the input file through BatchChecker (batch.py); a bad line -> `failed`,
                               `errors: {object: list, data: [{code, message, param, line}]}`
    [0.1, 0.9 T)  in_progress  each line through the mock's own handler for its endpoint (the code path
                               of a live call, so answers are schema-valid); request_counts grow with time
    [0.9 T, T)    finalizing
    T             completed    output_file_id (2xx answers), error_file_id (the others), when not empty

A batch not finished when its completion window closes (`completion_window`, "24h", or
`batch_window_seconds`) is `expired`: what ran is in the output file, the rest in the error file with
code `batch_expired`. `cancelBatch` makes it `cancelling` (no line runs after that) and, 0.1 T later,
`cancelled`, the rest in the error file as `batch_cancelled`. Cancelling an ended batch is a 400.
An override (overrides.py) is merged over the batch the engine draws, in each answer, and changes
nothing in the run: createBatch with `Prefer: dynclient-override={"status": "completed"}` answers
`completed` (and sends its webhook event), the next retrieveBatch tells where the run really is.

Output and error lines have the API's shape (its `BatchRequestOutput`): `{"id": "batch_req_...",
"custom_id": ..., "response": {"status_code": 200, "request_id": "req_...", "body": {...}},
"error": null}`; an answer that is not 2xx goes to the error file in the same shape (status and
error body in `response`, `error` null), a request that never ran has `response: null` and
`error: {code, message}`.

**Making requests fail, for tests** (written into a line's `custom_id`, so an input file carries it):

    dynclient-status=429        the request answers 429 (any 4xx/5xx) with the API's error body
    dynclient-break-schema      the request answers 200 with a body its response schema rejects

**Limits** (LIMITS, from batchflow.py; `engine.limits` may be lowered by a test): more than 50,000
requests or 200 MB in one input file fails the batch (codes `too_many_requests`, `file_too_large`);
at most MAX_ERRORS problems are listed. The validation error codes are the mock's own names: the
document does not list the API's.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..batch import BatchChecker, Problem
from ..batchflow import LIMITS
from ..core.call import Bound
from ..spec import Operation
from .reading import openai_param, success
from .synth import fresh_id

MAX_ERRORS = 100              # problems listed in a failed batch's `errors`
CANCEL_FRACTION = 0.1         # `cancelling` lasts this part of batch_seconds
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
STAMPS = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at",
          "cancelled_at")
OPTIONAL = (*STAMPS, "output_file_id", "error_file_id", "errors")
FORCED_STATUS = re.compile(r"dynclient-status=([45][0-9][0-9])")
BREAK_SCHEMA = "dynclient-break-schema"
NEVER_RAN = {"batch_expired": "This request could not be executed before the completion window expired.",
             "batch_cancelled": "This request was not executed because the batch was cancelled."}


@dataclass
class Upload:
    """The file part of one createFile request, written to the mock's directory as it is read."""
    directory: str
    path: str | None = None
    filename: str | None = None
    size: int = 0
    handle: Any = None

    def __call__(self, name: str, filename: str) -> "Upload | None":
        """parse_multipart asks where a file part goes: the `file` field comes here, others nowhere."""
        if name != "file" or self.handle is not None:
            return None
        self.handle = tempfile.NamedTemporaryFile(dir=self.directory, prefix="upload-", delete=False)
        self.path, self.filename = self.handle.name, filename
        return self

    def append(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()

    def discard(self) -> None:
        self.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


@dataclass
class Run:
    """A batch as the engine runs it; the stored batch object is drawn from this."""
    id: str
    input_path: str
    endpoint: str
    created: float
    expires: float
    status: str = "validating"
    stamps: dict[str, int] = field(default_factory=dict)
    errors: list[dict] | None = None
    total: int = 0
    ran: int = 0                  # lines answered (completed + failed), in input order
    completed: int = 0
    failed: int = 0
    offset: int = 0               # where the next line to run starts in the input file
    cancel_at: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)    # "output" | "error" -> path (closed between polls)
    file_ids: dict[str, str] = field(default_factory=dict)   # "output_file_id" | "error_file_id" -> id


class BatchEngine:
    """Files and batches for one MockApp (see the module's docstring)."""

    def __init__(self, app: Any, batch_seconds: float = 0.0, window_seconds: float | None = None):
        if batch_seconds < 0 or (window_seconds is not None and window_seconds <= 0):
            raise ValueError("batch_seconds must be >= 0 and batch_window_seconds > 0")
        self.app, self.seconds, self.window = app, float(batch_seconds), window_seconds
        ops = app.spec.operations
        self.active = all(name in ops for name in ("createFile", "downloadFile", "createBatch", "retrieveBatch"))
        self.limits = {"requests_per_file": LIMITS["requests_per_file"], "bytes_per_file": LIMITS["bytes_per_file"]}
        self.files: dict[str, str] = {}     # file id -> its bytes on disk
        self.runs: dict[str, Run] = {}
        self.lock = threading.RLock()       # taken before app.lock, never after it
        self._directory: str | None = None
        self._nullable: dict[str, bool] = {}

    @property
    def directory(self) -> str:
        with self.lock:
            if self._directory is None:
                self._directory = tempfile.mkdtemp(prefix="dynclient-mock-files-")
            return self._directory

    def disk_name(self, kind: str) -> str:
        """A new path in the directory, never made from an id (an override may set ids to anything)."""
        return os.path.join(self.directory, f"{kind}-{uuid.uuid4().hex}")

    def close(self) -> None:
        with self.lock:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None

    # --- the hooks MockApp calls ---------------------------------------------------------

    def upload_for(self, op: Operation) -> Upload | None:
        return Upload(self.directory) if self.active and op.operation_id == "createFile" else None

    def before(self, op: Operation, path_values: dict, body: Any) -> Any:
        """An answer the engine gives itself, or None to let the mock answer (after bringing state up to date)."""
        name = op.operation_id
        if not self.active or name not in ("downloadFile", "createBatch", "retrieveBatch", "listBatches",
                                           "cancelBatch"):
            return None
        last = list(path_values.values())[-1] if path_values else None
        if name == "downloadFile":
            return self.download(op, last)
        if name == "createBatch":
            return self.refused(op, body)
        with self.lock:
            if name == "listBatches":
                for run in list(self.runs.values()):
                    self.advance(run)
            elif last in self.runs:
                self.advance(self.runs[last])
                if name == "cancelBatch":
                    return self.cancel(op, self.runs[last])
        return None

    def after(self, op: Operation, path_values: dict, body: Any, reply: Any, upload: Upload | None,
              override: dict | None = None) -> Any:
        name = op.operation_id
        if not self.active or not 200 <= reply.status < 300:
            return reply
        if name == "createFile" and upload is not None and upload.path is not None:
            return self.adopt(op, reply, upload)
        if name == "deleteFile":
            with self.lock:
                path = self.files.pop(list(path_values.values())[-1], None)
                running = any(run.input_path == path and run.status not in TERMINAL for run in self.runs.values())
            if path and not running:   # (a running batch's input stays on disk until the mock stops)
                with contextlib.suppress(OSError):
                    os.unlink(path)
        if name == "createBatch":
            return self.start(op, reply, body, override)
        return reply

    # --- files -----------------------------------------------------------------------------

    def adopt(self, op: Operation, reply: Any, upload: Upload) -> Any:
        upload.close()
        created = json.loads(reply.body)
        file_id = created.get("id")
        path = self.disk_name("file")
        os.replace(upload.path, path)
        upload.path = None
        obj = self.fitted(op, created, {"bytes": upload.size, "filename": upload.filename or "upload",
                                        "created_at": int(time.time()), "status": "processed"})
        with self.lock:
            self.files[file_id] = path
            with self.app.lock:
                self.app.store.setdefault("/files", {})[file_id] = obj
        return self.app.json_reply(reply.status, obj, reply)

    def fitted(self, op: Operation, obj: dict, fields: dict) -> dict:
        """`obj` with each of `fields` that keeps it valid against the operation's answer schema."""
        media = self.app.json_media(op)
        compiled = self.app.schemas.compiled(media.pointer, "response")
        for name, value in fields.items():
            if name in obj and compiled.is_valid({**obj, name: value}):
                obj = {**obj, name: value}
        return obj

    def download(self, op: Operation, file_id: str | None) -> Any:
        path = self.file_path(file_id or "")
        if path is None or not os.path.exists(path):
            return self.app.error(404, f"No such File object: {file_id}", "invalid_request_error",
                                  param="file_id", op=op)
        # The content type the document declares (application/json in both OpenAI documents, though the
        # bytes are JSONL): a strict client checks it, and the mock speaks the document.
        response = success(op)[1]
        declared = next(iter(response.content), None) if response is not None and response.content else None
        return self.app.file_reply(200, path, declared if declared and "*" not in declared
                                   else "application/octet-stream")

    def file_path(self, file_id: str) -> str | None:
        """Where a file's bytes are. A file id the mock never saw (unless `strict_ids`) is assumed, as the mock
        assumes any id (MockApp.assume): a file made elsewhere, whose bytes the mock does not have (none)."""
        with self.lock:
            if file_id in self.files or not file_id:
                return self.files.get(file_id)
            with self.app.lock:
                assumed = file_id in self.app.assumed.get("/files", {}) or self.app.assume("/files", "/files", file_id)
            if not assumed:
                return None
            path = self.files[file_id] = self.disk_name("file")
            open(path, "wb").close()
            return path

    def new_file(self, run: Run, kind: str) -> str:
        """Register a batch's closed output or error file as a file object; its id."""
        op = self.app.spec.operations["createFile"]
        file_id = fresh_id("file")
        path = self.disk_name("file")
        os.replace(run.outputs.pop(kind), path)
        base = self.app.example(op, self.app.json_media(op))
        obj = self.fitted(op, base, {"id": file_id, "object": "file", "bytes": os.path.getsize(path),
                                     "filename": f"{run.id}_{kind}.jsonl", "purpose": "batch_output",
                                     "created_at": int(time.time()), "status": "processed"})
        self.files[file_id] = path
        with self.app.lock:
            self.app.store.setdefault("/files", {})[obj.get("id", file_id)] = obj
        return obj.get("id", file_id)

    # --- batches -----------------------------------------------------------------------------

    def refused(self, op: Operation, body: Any) -> Any:
        """Why createBatch cannot start, as the API answers it; None when it can."""
        file_id, endpoint = body.get("input_file_id"), body.get("endpoint")
        if self.file_path(str(file_id or "")) is None:
            return self.app.error(404, f"No such File object: {file_id}", "invalid_request_error",
                                  param="input_file_id", op=op)
        with self.app.lock:
            stored = self.app.store.get("/files", {}).get(file_id) or {}
            assumed = file_id in self.app.assumed.get("/files", {})   # (its purpose is not known: any will do)
        if stored.get("purpose", "batch") != "batch" and not assumed:
            return self.app.error(400, f"File {file_id} was uploaded with purpose {stored.get('purpose')!r}; "
                                       f"a batch's input file needs purpose 'batch'", "invalid_request_error",
                                  param="input_file_id", op=op)
        found = self.app.route("POST", str(endpoint), [])
        if found is None:
            return self.app.error(400, f"{endpoint!r} is not a POST operation of {self.app.spec.title} "
                                       f"{self.app.spec.version}", "invalid_request_error", param="endpoint", op=op)
        return None

    def window_seconds(self, completion_window: Any) -> float:
        if self.window is not None:
            return self.window
        match = re.fullmatch(r"([0-9]+)\s*h", str(completion_window))
        return int(match.group(1)) * 3600.0 if match else 24 * 3600.0

    def start(self, op: Operation, reply: Any, body: dict, override: dict | None) -> Any:
        created = json.loads(reply.body)
        now = time.time()
        run = Run(created["id"], self.files[body["input_file_id"]], body["endpoint"], now,
                  now + self.window_seconds(body.get("completion_window")))
        with self.lock:
            self.runs[run.id] = run
            obj = self.publish(op, run, created)
        if override:   # merged over the answer, as everywhere (`{"status": "completed"}` for a webhook test)
            obj = self.app.finish(op, self.app.json_media(op), obj, override, Bound())
            if not isinstance(obj, dict):
                return obj   # the 500 that says the override breaks the answer
        return self.app.json_reply(reply.status, obj, reply)

    def publish(self, op: Operation, run: Run, base: dict | None = None) -> dict:
        """Draw the batch object from the run, store it and return it (under self.lock)."""
        with self.app.lock:
            items = self.app.store.setdefault("/batches", {})
            obj = dict(base if base is not None else items.get(run.id, {}))
            obj.update({"id": run.id, "endpoint": run.endpoint, "status": run.status,
                        "created_at": int(run.created), "expires_at": int(run.expires),
                        "request_counts": {"total": run.total, "completed": run.completed, "failed": run.failed}})
            values: dict[str, Any] = {**run.stamps, **run.file_ids}
            if run.errors is not None:
                values["errors"] = {"object": "list", "data": run.errors}
            for name in OPTIONAL:
                if name in values:
                    obj[name] = values[name]
                elif self.nullable(op, obj, name):
                    obj[name] = None
                else:
                    obj.pop(name, None)
            items[run.id] = obj
            return obj

    def nullable(self, op: Operation, obj: dict, name: str) -> bool:
        """Whether the document lets this field of a batch be null (2025-04-29 does not: absent then)."""
        if name not in self._nullable:
            media = self.app.json_media(op)
            self._nullable[name] = self.app.schemas.compiled(media.pointer, "response").is_valid({**obj, name: None})
        return self._nullable[name]

    def cancel(self, op: Operation, run: Run) -> Any:
        if run.status in TERMINAL or run.cancel_at is not None:
            if run.status == "cancelled" or run.cancel_at is not None:
                return self.app.json_reply(200, self.publish(op, run))
            return self.app.error(400, f"Cannot cancel a batch with status {run.status!r}", "invalid_request_error",
                                  op=op)
        now = time.time()
        run.cancel_at, run.status = now, "cancelling"
        run.stamps["cancelling_at"] = int(now)
        self.advance(run)
        return self.app.json_reply(200, self.publish(op, run))

    def advance(self, run: Run, now: float | None = None) -> None:
        """Bring the run to the moment `now` (under self.lock): validate, run lines, end it."""
        if run.status in TERMINAL:
            return
        now = time.time() if now is None else now
        span = self.seconds
        validated, ran_all, done = run.created + 0.1 * span, run.created + 0.9 * span, run.created + span
        horizon = min(now, run.expires, run.cancel_at if run.cancel_at is not None else math.inf)
        if run.status in ("validating", "cancelling") and "in_progress_at" not in run.stamps \
                and run.errors is None and horizon >= validated:
            self.validate(run, validated)
            if run.status == "failed":
                self.publish(self.app.spec.operations["retrieveBatch"], run)
                return
        if "in_progress_at" in run.stamps:
            fraction = 1.0 if ran_all <= validated else min(max((horizon - validated) / (ran_all - validated), 0), 1)
            self.run_lines(run, run.total if fraction >= 1 else int(run.total * fraction))
        if run.cancel_at is not None:
            if now >= run.cancel_at + CANCEL_FRACTION * span:
                self.finish(run, "cancelled", "cancelled_at", run.cancel_at + CANCEL_FRACTION * span,
                            "batch_cancelled")
        elif now >= run.expires and done > run.expires:
            self.finish(run, "expired", "expired_at", run.expires, "batch_expired")
        elif "in_progress_at" in run.stamps and run.ran == run.total and now >= ran_all:
            run.status = "finalizing"
            run.stamps["finalizing_at"] = int(ran_all)
            if now >= done:
                self.finish(run, "completed", "completed_at", done, None)
        self.publish(self.app.spec.operations["retrieveBatch"], run)

    def validate(self, run: Run, at: float) -> None:
        """The whole input file through BatchChecker; `in_progress` or `failed` with the problems."""
        problems: list[dict] = []
        size = os.path.getsize(run.input_path)
        if size > self.limits["bytes_per_file"]:
            problems.append(self.problem("file_too_large", f"The input file is {size:,} bytes; the limit is "
                                                           f"{self.limits['bytes_per_file']:,}"))
        else:
            checker = BatchChecker(self.app.spec)
            count = 0
            with open(run.input_path, "rb") as source:
                for number, raw in enumerate(source, 1):
                    text = raw.decode("utf-8", "replace")
                    count += bool(text.strip())
                    try:
                        found = checker.check(number, text) if len(problems) < MAX_ERRORS else []
                    except RecursionError:
                        found = [Problem(number, "not valid JSON: nested too deeply to read")]
                    problems += [self.from_checker(p) for p in found]
                    if not found and checker.endpoint is not None and checker.endpoint[2] == number \
                            and checker.endpoint[1] != run.endpoint:
                        problems.append(self.problem("mismatched_endpoint", f"The line's url {checker.endpoint[1]} "
                                                     f"differs from the batch's endpoint {run.endpoint}", number))
            if count > self.limits["requests_per_file"]:
                problems = [self.problem("too_many_requests", f"The input file has {count:,} requests; the limit "
                                                              f"is {self.limits['requests_per_file']:,}")]
            elif count == 0:
                problems.append(self.problem("empty_file", "The input file has no requests"))
            run.total = count
        if problems:
            run.status, run.errors, run.total = "failed", problems[:MAX_ERRORS], 0
            run.stamps["failed_at"] = int(at)
            return
        if run.status == "validating":
            run.status = "in_progress"
        run.stamps["in_progress_at"] = int(at)

    @staticmethod
    def problem(code: str, message: str, line: int | None = None, param: str | None = None) -> dict:
        return {"code": code, "message": message, "param": param, "line": line}

    def from_checker(self, problem: Problem) -> dict:
        message = problem.message
        code = ("invalid_json_line" if "JSON" in message or message.startswith("empty line") else
                "duplicate_custom_id" if message.startswith("duplicate custom_id") else
                "mismatched_endpoint" if "a batch has one endpoint" in message else
                "invalid_url" if message.startswith("no operation for") else "invalid_request")
        param = openai_param("body", problem.pointer) if problem.pointer is not None else None
        return self.problem(code, message, problem.line, param)

    def run_lines(self, run: Run, target: int) -> None:
        """Answer the input's lines in order until `target` of them have run."""
        if run.ran >= target:
            return
        with open(run.input_path, "rb") as source:
            source.seek(run.offset)
            while run.ran < target:
                raw = source.readline()
                if not raw:
                    break
                run.offset += len(raw)
                if not raw.strip():
                    continue
                record, ok = self.answer(json.loads(raw))
                self.write(run, "output" if ok else "error", record)
                run.ran += 1
                run.completed += ok
                run.failed += not ok

    def answer(self, line: dict) -> tuple[dict, bool]:
        """One input line through the mock's handler, as an output-file record; and whether it is 2xx."""
        custom_id = line["custom_id"]
        forced = FORCED_STATUS.search(custom_id)
        target = line["url"]
        data = json.dumps(line["body"]).encode() if "body" in line else b""
        if forced:
            status = int(forced.group(1))
            found = self.app.route(line["method"].upper(), target.split("?")[0], [])
            reply = self.app.error(status, f"answered {status} because the custom_id {custom_id!r} asks "
                                                  f"for it (dynclient-status=)",
                                          "invalid_request_error" if status < 500 else "server_error",
                                          op=found[0].operation if found else None)
        else:
            reply = self.app.dispatch(line["method"].upper(), target, {"content-type": "application/json"}, data)
        try:
            body: Any = json.loads(reply.body) if reply.body else None
        except ValueError:
            body = reply.body.decode("utf-8", "replace")   # an event stream, answered as the live call would
        ok = 200 <= reply.status < 300
        if ok and BREAK_SCHEMA in custom_id:
            body = self.broken(line, body)
        return {"id": fresh_id("batch_req"), "custom_id": custom_id,
                "response": {"status_code": reply.status, "request_id": "req_" + uuid.uuid4().hex[:24],
                             "body": body}, "error": None}, ok

    def broken(self, line: dict, body: Any) -> Any:
        """A body that the operation's response schema rejects (for tests of a client's checks)."""
        found = self.app.route(line["method"].upper(), line["url"].split("?")[0], [])
        media = self.app.json_media(found[0].operation) if found else None
        if media is None or media.schema is None:
            return body
        compiled = self.app.schemas.compiled(media.pointer, "response")
        return next((c for c in ({}, "dynclient: not a valid body", [None]) if not compiled.is_valid(c)), body)

    def write(self, run: Run, kind: str, record: dict) -> None:
        if kind not in run.outputs:
            run.outputs[kind] = self.disk_name(kind)
        with open(run.outputs[kind], "ab") as sink:   # (no file stays open between two polls)
            sink.write(json.dumps(record).encode() + b"\n")

    def finish(self, run: Run, status: str, stamp: str, at: float, never_ran: str | None) -> None:
        """End the run: lines that never ran go to the error file with `never_ran`; files registered."""
        if never_ran is not None:
            with open(run.input_path, "rb") as source:
                source.seek(run.offset)
                for raw in source:
                    try:
                        custom_id = json.loads(raw).get("custom_id")
                    except (ValueError, AttributeError):
                        continue   # (an input that was never validated)
                    self.write(run, "error", {"id": fresh_id("batch_req"), "custom_id": custom_id, "response": None,
                                              "error": {"code": never_ran, "message": NEVER_RAN[never_ran]}})
                    if "in_progress_at" not in run.stamps:   # ended before validation counted the lines
                        run.total += 1
                run.offset = os.path.getsize(run.input_path)
        run.status = status
        run.stamps[stamp] = int(at)
        for kind in ("output", "error"):
            if kind in run.outputs:
                run.file_ids[f"{kind}_file_id"] = self.new_file(run, kind)
