"""The Batch API end to end: submit, watch, collect, cancel — recorded in a manifest, resumable.

    job = client.batch.submit("requests.jsonl", manifest="job.json")     # validate, split, upload, create
    client.batch.watch("job.json")                                       # until every part has ended
    summary = client.batch.collect("job.json", out="results.jsonl")      # validated, in input order

The input is the one of `dynclient run` (jobs.py), so a job moves between live
calls and the Batch API by changing one word; the results are in run's format,
so `dynclient run requests.jsonl -o results.jsonl` afterwards sends exactly the
requests the batches did not finish (the same ones `retry.jsonl` lists).

**submit** validates every line first (nothing is uploaded while a line is
invalid, unless `skip_invalid`, which writes the rejects to a file), splits the
requests into parts within the API's limits (LIMITS) with one endpoint each,
uploads each part (streamed from disk, `purpose=batch`) and creates its batch.
Every step is recorded in the manifest (replaced atomically) as it happens;
a part's file is named after the job and the part, and its batch carries them
in its metadata, so a submit interrupted between an upload or a creation and
its record finds the file or the batch again (listFiles, listBatches) instead
of uploading or creating it twice.

**collect** downloads each part's output and error files, validates every
answer's body against the response schema of its operation, and writes the
results in input order. Answers to send again (expired, cancelled, never run,
429, 5xx) get no result line and go to `retry.jsonl`; bodies outside the
document are failed results, listed.

Everything here is awaited on an AsyncClient; `Client.batch` runs the same
coroutines in an event loop of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote, urlencode

from .core.call import MISSING, check_call, response_problem
from .errors import (STATUS_ERRORS, APIStatusError, ConfigError, DynclientError, PaginationError, RequestError,
                     RunError, RunInputError)
from .jobs import (LEADING_ID, Job, Router, canonical_key, error_facts, id_from_raw, key_from_raw, read_request,
                   result_line, typed_params)
from .run import on_own_loop
from .schema import schema_properties, unwrap

# The Batch API's limits (https://platform.openai.com/docs/guides/batch): one table, used by submit.
LIMITS = {
    "requests_per_file": 50_000,         # requests in one batch input file
    "bytes_per_file": 200 * 1000 ** 2,   # 200 MB per input file
    "metadata_pairs": 16,                # key-value pairs of a batch's metadata (two are the job's)
}
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
RETRY_CODES = frozenset({"batch_expired", "batch_cancelled", "request_timeout", "server_error"})
MANIFEST_FORMAT = 1


_ANSWER_HEAD = re.compile(rb'\{"id": ?"[^"\\]*", ?"custom_id": ?"((?:[^"\\\n]|\\.)*)"')
_BODY_KEY, _ANSWER_TAIL = b'"body": ', b'}, "error": null}'
_SUCCESS_HEAD = re.compile(rb'"response": \{"status_code": (\d{3}), "request_id": "([A-Za-z0-9_.:-]*)", "body": ')
_REQUEST_ID = re.compile(LEADING_ID)


def _body_text(line: bytes) -> bytes | None:
    """The JSON text of `response.body` in an answer line of the API's layout (`..."response": {"status_code":
    ..., "request_id": ..., "body": BODY}, "error": null}`), to write into a result as it is; None when the
    line is laid out otherwise. Inside a JSON string every quote is escaped, so the first `"body": ` after
    `"response": {` is the response's own key (status_code and request_id hold no objects)."""
    line = line.rstrip(b"\r\n")
    start = line.find(b'"response": {')
    if start < 0 or not line.endswith(_ANSWER_TAIL):
        return None
    key = line.find(_BODY_KEY, start)
    if key < 0:
        return None
    body = line[key + len(_BODY_KEY):-len(_ANSWER_TAIL)]
    return body if body[:1] in (b"{", b"[") else None


class BatchJobError(RunError):
    """The Batch workflow cannot go on: a manifest for another input, a part not finished, …"""


# --- the manifest ------------------------------------------------------------------------


def load_manifest(path: str | os.PathLike) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        raise BatchJobError(f"{path}: no such manifest (`batch submit` writes it)") from None
    except (OSError, ValueError) as exc:
        raise BatchJobError(f"{path}: not a manifest of dynclient batch: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or "parts" not in manifest:
        raise BatchJobError(f"{path}: not a manifest of dynclient batch (format {MANIFEST_FORMAT})")
    return manifest


def save_manifest(path: str | os.PathLike, manifest: dict) -> None:
    """Replace the manifest atomically (a crash leaves the old one or the new one, never half of one)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class CollectSummary:
    """What `collect` found: `done` and `failed` are result lines written; `to_retry` are the requests
    in `retry.jsonl`; `invalid_output` lists (custom_id, pointer, message) of answers outside the
    document (also failed results)."""
    output: str
    retry_file: str | None
    done: int = 0
    failed: int = 0
    to_retry: int = 0
    invalid_output: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)   # why each request is to be sent again, counted

    def __str__(self) -> str:
        why = ", ".join(f"{n:,} {reason}" for reason, n in sorted(self.reasons.items()))
        return (f"{self.done:,} done, {self.failed:,} failed ({len(self.invalid_output):,} with an answer outside "
                f"the document), {self.to_retry:,} to send again{f' ({why})' if why else ''} -> {self.output}"
                + (f"; retry: {self.retry_file}" if self.retry_file and self.to_retry else ""))


# --- the workflow ------------------------------------------------------------------------


class BatchWorkflow:
    """`client.batch` of an AsyncClient (see the module's docstring)."""

    def __init__(self, client: Any):
        self.client = client
        self.router = Router(client.spec)
        for name in ("createFile", "createBatch", "retrieveBatch", "downloadFile"):
            if name not in client.spec.operations:
                raise ConfigError(f"the Batch workflow needs the operation {name!r}, which "
                                  f"{client.spec.title} {client.spec.version} does not have")

    # --- submit --------------------------------------------------------------------------

    async def submit(self, requests: str | os.PathLike, *, manifest: str | os.PathLike,
                     completion_window: str = "24h", metadata: dict[str, str] | None = None,
                     skip_invalid: bool = False, rejects: str | os.PathLike | None = None,
                     limits: dict[str, int] | None = None) -> dict:
        """Validate, split, upload and create (or finish doing so, from the manifest); the manifest."""
        limits = {**LIMITS, **(limits or {})}
        metadata = dict(metadata or {})
        if len(metadata) > limits["metadata_pairs"] - 2 or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ConfigError(f"metadata: at most {limits['metadata_pairs'] - 2} pairs of strings (two more are "
                              f"the job's)")
        requests = os.fspath(requests)
        resumed = Path(manifest).exists()
        if resumed:
            job = load_manifest(manifest)
            if job["input"]["sha256"] != file_sha256(requests):
                raise BatchJobError(f"{manifest} was made for another {requests} (its sha256 differs); give "
                                    f"another --manifest for a new job")
        else:
            job = self._split(requests, Path(manifest), completion_window, metadata, skip_invalid, rejects, limits)
            save_manifest(manifest, job)
        for part in job["parts"]:
            if not part.get("file_id"):
                await self._upload(job, part, manifest, resumed)
            if not part.get("batch_id"):
                await self._create(job, part, manifest)
        return job

    def _split(self, requests: str, manifest: Path, window: str, metadata: dict, skip_invalid: bool,
               rejects: str | os.PathLike | None, limits: dict) -> dict:
        job_id = f"job_{secrets.token_hex(8)}"
        workdir = Path(f"{manifest}.parts")
        workdir.mkdir(parents=True, exist_ok=True)
        allowed = self._allowed_endpoints()
        parts: list[dict] = []
        open_parts: dict[str, tuple[dict, Any, Any]] = {}   # endpoint -> (part, its file, its sha256 so far)
        problems: list[str] = []
        rejected: list[bytes] = []
        seen: dict[bytes, int] = {}
        total = 0
        input_digest = hashlib.sha256()
        try:
            with open(requests, "rb") as fh:
                for number, text in enumerate(fh, 1):
                    input_digest.update(text)
                    if not text.strip():
                        continue
                    job = read_request(self.router, number, text)
                    line, problem = self._batch_line(job, allowed, seen)
                    if problem is not None:
                        problems.append(problem["message"])
                        rejected.append(result_line(job, error=problem))
                        continue
                    total += 1
                    endpoint = line["url"].split("?")[0]
                    data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
                    current = open_parts.get(endpoint)
                    if current is None or current[0]["requests"] >= limits["requests_per_file"] \
                            or current[0]["bytes"] + len(data) > limits["bytes_per_file"]:
                        if current is not None:
                            current[1].close()
                            current[0]["sha256"] = current[2].hexdigest()
                        index = len(parts) + 1
                        name = f"dynclient-{job_id}-part-{index:04d}.jsonl"
                        part = {"index": index, "endpoint": endpoint, "file": str(workdir / name), "filename": name,
                                "requests": 0, "bytes": 0, "first_line": number, "last_line": number}
                        parts.append(part)
                        current = open_parts[endpoint] = (part, open(part["file"], "wb"), hashlib.sha256())
                    part, out, digest = current
                    out.write(data)
                    digest.update(data)
                    part["requests"] += 1
                    part["bytes"] += len(data)
                    part["last_line"] = number
        finally:
            for part, out, digest in open_parts.values():
                out.close()
                part["sha256"] = digest.hexdigest()
        if problems and not skip_invalid:
            shutil.rmtree(workdir, ignore_errors=True)
            raise RunInputError(requests, problems)
        if rejected:
            rejects = os.fspath(rejects or f"{manifest}.rejects.jsonl")
            with open(rejects, "wb") as out:
                out.writelines(rejected)
        if not parts:
            shutil.rmtree(workdir, ignore_errors=True)
            raise RunInputError(requests, ["no request to submit"])
        return {"format": MANIFEST_FORMAT, "job": job_id, "created": int(time.time()),
                "input": {"path": os.path.abspath(requests), "sha256": input_digest.hexdigest(), "requests": total,
                          "rejected": len(rejected), "rejects": os.fspath(rejects) if rejected else None},
                "completion_window": window, "metadata": metadata, "parts": parts}

    def _allowed_endpoints(self) -> frozenset[str] | None:
        """The endpoints createBatch accepts, from its schema's `endpoint` enum (None: any)."""
        op = self.client.operation("createBatch")
        media = op.request_body.content.get("application/json") if op.request_body else None
        if media is None or media.schema is None:
            return None
        root, resolve = self.client.schemas.translated(media.pointer, "request")
        endpoint = unwrap(schema_properties(root, resolve).get("endpoint"), resolve)
        values = endpoint.get("enum") if isinstance(endpoint, dict) else None
        return frozenset(v for v in values if isinstance(v, str)) if values else None

    def _batch_line(self, job: Job, allowed: frozenset[str] | None, seen: dict) -> tuple[dict | None, dict | None]:
        """The line as the Batch API takes it, or the problem that keeps it out."""
        if job.problem is not None:
            return None, job.problem
        key = canonical_key(job.custom_id)
        if key in seen:
            return None, {"type": "InvalidLine", "message": f"line {job.line}: custom_id {job.custom_id!r} repeats "
                                                            f"line {seen[key]}"}
        seen[key] = job.line
        client = self.client
        try:
            op = client.operation(job.operation_id)
            params = typed_params(client.schemas, op, job.params) if job.from_url else job.params
            body = MISSING if job.body is None else job.body
            # What prepare checks, without building the HTTP request (the line is the request here).
            check_call(client.schemas, op, params.items(), body, "application/json" if body is not MISSING else None)
        except RequestError as exc:
            return None, error_facts(exc)
        path = op.path.split("?")[0]
        query = []
        for name, value in params.items():
            p = op.parameters_by_name.get(name)
            if p is not None and p.location == "path":
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            else:
                query.append((name, value))
        url = self.router.prefix + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        if allowed is not None and url.split("?")[0] not in allowed:
            return None, {"type": "InvalidLine", "message": f"line {job.line} ({job.custom_id}): the Batch API does "
                                                            f"not take {op.method} {url} (it takes "
                                                            f"{', '.join(sorted(allowed))})"}
        line = {"custom_id": job.custom_id, "method": op.method, "url": url}
        if job.body is not None:
            line["body"] = job.body
        return line, None

    async def _upload(self, job: dict, part: dict, manifest: str | os.PathLike, resumed: bool) -> None:
        """Upload a part, unless an earlier submit did and died before recording it (looked for only when
        an earlier submit had begun this upload)."""
        found = await self._find_file(part) if part.get("uploading") else None
        if found is None:
            if resumed and file_sha256(part["file"]) != part["sha256"]:
                raise BatchJobError(f"{part['file']} changed since it was split (sha256); submit again with a "
                                    f"new manifest")
            part["uploading"] = True
            save_manifest(manifest, job)
            answer = await self.client.call("createFile", {"file": Path(part["file"]), "purpose": "batch"})
            found = answer["id"]
        part["file_id"] = found
        save_manifest(manifest, job)

    async def _find_file(self, part: dict) -> str | None:
        if "listFiles" not in self.client.spec.operations:
            return None
        async for item in self._listed("listFiles", purpose="batch"):
            if isinstance(item, dict) and item.get("filename") == part["filename"] \
                    and item.get("bytes") in (None, part["bytes"]):
                return item.get("id")
        return None

    async def _listed(self, operation_id: str, **arguments: Any) -> AsyncIterator[Any]:
        """Every item of a list operation: all its pages, or its one answer when it does not page."""
        try:
            pages = self.client.paginate(operation_id, **arguments)
        except PaginationError:
            page = await self.client.call(operation_id, **arguments)
            for item in (page.get("data") or []) if isinstance(page, dict) else []:
                yield item
            return
        async for item in pages:
            yield item

    async def _create(self, job: dict, part: dict, manifest: str | os.PathLike) -> None:
        """Create a part's batch, unless an earlier submit did and died before recording it."""
        tags = {"dynclient_job": job["job"], "dynclient_part": str(part["index"])}
        found = await self._find_batch(tags) if part.get("creating") else None
        if found is None:
            part["creating"] = True
            save_manifest(manifest, job)
            answer = await self.client.call("createBatch", {
                "input_file_id": part["file_id"], "endpoint": part["endpoint"],
                "completion_window": job["completion_window"], "metadata": {**job["metadata"], **tags}})
            found = answer
        part["batch_id"], part["status"] = found["id"], found.get("status")
        save_manifest(manifest, job)

    async def _find_batch(self, tags: dict) -> dict | None:
        if "listBatches" not in self.client.spec.operations:
            return None
        async for batch in self._listed("listBatches", limit=100):
            metadata = batch.get("metadata") if isinstance(batch, dict) else None
            if isinstance(metadata, dict) and all(metadata.get(k) == v for k, v in tags.items()):
                return batch
        return None

    # --- status, watch, cancel ------------------------------------------------------------------

    async def status(self, manifest: str | os.PathLike) -> list[dict]:
        """Each part's batch as the API sees it now (recorded in the manifest)."""
        return (await self._refresh(manifest))["parts"]

    async def _refresh(self, manifest: str | os.PathLike) -> dict:
        """The job, each part's batch brought up to date from the API and recorded."""
        job = load_manifest(manifest)
        for part in job["parts"]:
            if part.get("batch_id"):
                batch = await self.client.call("retrieveBatch", batch_id=part["batch_id"])
                part.update(status=batch.get("status"), request_counts=batch.get("request_counts"),
                            output_file_id=batch.get("output_file_id"), error_file_id=batch.get("error_file_id"),
                            errors=batch.get("errors"))
        save_manifest(manifest, job)
        return job

    async def watch(self, manifest: str | os.PathLike, *, interval: float = 2.0, max_interval: float = 60.0,
                    timeout: float | None = None, progress: bool | None = None,
                    on_status: Callable[[list[dict]], None] | None = None) -> list[dict]:
        """Poll until every part has ended, waiting `interval` seconds at first and 1.5 times longer each
        time nothing moved (at most `max_interval`); a progress bar on a terminal."""
        started, wait, last, bar = time.monotonic(), interval, None, None
        try:
            while True:
                parts = await self.status(manifest)
                counts = [p.get("request_counts") or {} for p in parts]
                finished = sum((c.get("completed") or 0) + (c.get("failed") or 0) for c in counts)
                total = sum(p["requests"] for p in parts)
                if bar is None and (progress or (progress is None and sys.stderr.isatty())):
                    from tqdm import tqdm
                    bar = tqdm(total=total, unit="req", desc="batch", file=sys.stderr, dynamic_ncols=True)
                if bar is not None:
                    bar.n = finished
                    bar.set_postfix_str(", ".join(f"{p['index']}: {p.get('status')}" for p in parts)[:60])
                if on_status is not None:
                    on_status(parts)
                if all(p.get("status") in TERMINAL for p in parts):
                    return parts
                if timeout is not None and time.monotonic() - started > timeout:
                    raise BatchJobError(f"{manifest}: not finished after {timeout:.0f} s "
                                        f"({', '.join(str(p.get('status')) for p in parts)})")
                state = [(p.get("status"), json.dumps(p.get("request_counts"), sort_keys=True)) for p in parts]
                wait = interval if state != last else min(wait * 1.5, max_interval)
                last = state
                await asyncio.sleep(wait)
        finally:
            if bar is not None:
                bar.close()

    async def cancel(self, manifest: str | os.PathLike) -> list[dict]:
        """Cancel every part that has not ended."""
        job = load_manifest(manifest)
        for part in job["parts"]:
            if part.get("batch_id") and part.get("status") not in TERMINAL:
                batch = await self.client.call("cancelBatch", batch_id=part["batch_id"])
                part["status"] = batch.get("status")
        save_manifest(manifest, job)
        return job["parts"]

    # --- collect -------------------------------------------------------------------------

    async def collect(self, manifest: str | os.PathLike, *, out: str | os.PathLike,
                      retry: str | os.PathLike | None = None) -> CollectSummary:
        """Download, validate and merge every part's answers, in input order (see the module's docstring)."""
        job = await self._refresh(manifest)
        parts = job["parts"]
        running = [f"part {p['index']} is {p.get('status')}" for p in parts if p.get("status") not in TERMINAL]
        if running:
            raise BatchJobError(f"{manifest}: not finished ({'; '.join(running)}); `batch status --watch` waits")
        workdir = Path(f"{manifest}.parts")
        workdir.mkdir(parents=True, exist_ok=True)
        answers: dict[bytes, tuple[int, int, int]] = {}   # custom_id -> (file number, offset, length)
        files: list[str] = []
        for part in parts:
            for kind in ("output_file_id", "error_file_id"):
                if part.get(kind):
                    path = workdir / f"part-{part['index']:04d}.{kind.split('_')[0]}.jsonl"
                    await self.client.download("downloadFile", file_id=part[kind], to=path)
                    self._index(path, len(files), answers)
                    files.append(str(path))
        operations = [self._operation_of(part) for part in parts for kind in ("output_file_id", "error_file_id")
                      if part.get(kind)]
        retry = os.fspath(retry or Path(out).with_name("retry.jsonl"))
        summary = CollectSummary(os.fspath(out), retry)
        handles = [open(path, "rb") for path in files]
        temporary, retry_tmp = f"{out}.tmp", f"{retry}.tmp"
        try:
            with open(job["input"]["path"], "rb") as source, open(temporary, "wb") as results, \
                    open(retry_tmp, "wb") as again:
                used: set[bytes] = set()   # a repeated id was refused at submit: its first line has the answer
                refused = self._refused_lines(job)
                for number, text in enumerate(source, 1):
                    match = _REQUEST_ID.match(text)
                    key = key_from_raw(match.group(1)) if match else None
                    found = answers.get(key) if key is not None else None
                    if found is not None:   # the common line: its id read by a pattern, its operation its part's
                        request = Job(number, id_from_raw(match.group(1)), operations[found[0]])
                    else:
                        if not text.strip() or number in refused:
                            continue
                        request = read_request(self.router, number, text)
                        if request.problem is not None or not request.custom_id:
                            continue   # refused at submit (in the rejects file)
                        key = canonical_key(request.custom_id)
                        found = answers.get(key)
                    if key in used:
                        continue
                    used.add(key)
                    line, reason = self._result(request, found, handles, summary)
                    if line is not None:
                        results.write(line)
                    else:
                        again.write(text if text.endswith(b"\n") else text + b"\n")
                        summary.to_retry += 1
                        summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
        finally:
            for handle in handles:
                handle.close()
        os.replace(temporary, out)
        os.replace(retry_tmp, retry)
        return summary

    @staticmethod
    def _index(path: Path, number: int, answers: dict) -> None:
        """custom_id -> where its answer is; the id read by a pattern from the API's line layout (`{"id": ...,
        "custom_id": ...`), the line parsed only when the layout differs."""
        offset = 0
        with open(path, "rb") as fh:
            for text in fh:
                match = _ANSWER_HEAD.match(text)
                if match:
                    key = key_from_raw(match.group(1))
                else:
                    try:
                        custom_id = json.loads(text).get("custom_id")
                    except (ValueError, AttributeError, RecursionError):
                        custom_id = None
                    key = canonical_key(custom_id) if isinstance(custom_id, str) else None
                if key is not None:
                    answers[key] = (number, offset, len(text))
                offset += len(text)

    @staticmethod
    def _refused_lines(job: dict) -> set[int]:
        """The input lines submit refused (with skip_invalid), from its rejects file."""
        path = job["input"].get("rejects")
        if not path:
            return set()
        try:
            with open(path, "rb") as fh:
                return {json.loads(line)["line"] for line in fh if line.strip()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BatchJobError(f"{path}: the rejects of the submit cannot be read ({exc}); without them, refused "
                                f"lines would look unanswered") from None

    def _operation_of(self, part: dict) -> str:
        found = self.router.route("POST", part["endpoint"])
        if found is None:
            raise BatchJobError(f"part {part['index']}: no operation of the document serves POST {part['endpoint']}")
        return found[0]

    def _result(self, request: Job, found: tuple[int, int, int] | None, handles: list,
                summary: CollectSummary) -> tuple[bytes | None, str]:
        """The result line of one request, or (None, why it is to be sent again)."""
        if found is None:
            return None, "never answered"
        number, offset, length = found
        handle = handles[number]
        handle.seek(offset)
        text = handle.read(length)
        head, body_text = _SUCCESS_HEAD.search(text), _body_text(text)
        try:
            if head is not None and body_text is not None:   # the API's layout: only the body is parsed
                status, request_id = int(head.group(1)), head.group(2).decode("ascii")
                body, error = json.loads(body_text), None
            else:
                answer = json.loads(text)
                response = answer.get("response") if isinstance(answer, dict) else None
                error = answer.get("error") if isinstance(answer, dict) else None
                if not isinstance(response, dict) or not isinstance(response.get("status_code"), int):
                    code = error.get("code") if isinstance(error, dict) else None
                    return None, str(code or "no answer")
                status, body = response["status_code"], response.get("body")
                request_id = response.get("request_id") if isinstance(response.get("request_id"), str) else None
        except (ValueError, RecursionError):
            return None, "unreadable answer"
        op = self.client.operation(request.operation_id)
        if status == 429 or status >= 500:
            return None, f"HTTP {status}"
        if status >= 400:
            exc: DynclientError = STATUS_ERRORS.get(status, APIStatusError)(op.operation_id, status, body, {},
                                                                             request_id)
            summary.failed += 1
            return result_line(request, status=status, request_id=request_id, attempts=1, body=body,
                               error=error_facts(exc)), ""
        problem = response_problem(self.client.schemas, op, status, body, "application/json", body is not None)
        if problem is not None:
            pointer, message = problem
            summary.failed += 1
            summary.invalid_output.append((request.custom_id, pointer or "/", message))
            error_ = {"type": "ResponseValidationError", "message": f"{op.operation_id}: response {status} "
                                                                   f"{pointer or '/'}: {message}",
                      "pointer": pointer or "/", "status": status}
            return result_line(request, status=status, request_id=request_id, attempts=1, error=error_), ""
        summary.done += 1
        return result_line(request, status=status, request_id=request_id, attempts=1, body=body,
                           body_json=body_text), ""


class SyncBatchWorkflow:
    """`client.batch` of a Client: the same workflow, each call run in an event loop of its own on an
    AsyncClient of the same document and settings."""

    def __init__(self, client: Any, shell: type):
        self.client, self.shell = client, shell

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return on_own_loop(self.client, self.shell,
                           lambda aclient: getattr(BatchWorkflow(aclient), method)(*args, **kwargs), "Client.batch")

    def submit(self, requests: str | os.PathLike, **options: Any) -> dict:
        return self._run("submit", requests, **options)

    def status(self, manifest: str | os.PathLike) -> list[dict]:
        return self._run("status", manifest)

    def watch(self, manifest: str | os.PathLike, **options: Any) -> list[dict]:
        return self._run("watch", manifest, **options)

    def cancel(self, manifest: str | os.PathLike) -> list[dict]:
        return self._run("cancel", manifest)

    def collect(self, manifest: str | os.PathLike, **options: Any) -> CollectSummary:
        return self._run("collect", manifest, **options)
