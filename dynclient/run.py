"""Many calls from a JSONL file (or any iterable of requests): `dynclient run`, `Client.run`, `AsyncClient.run`.

    summary = client.run("requests.jsonl", out="results.jsonl", concurrency=64,
                         requests_per_minute=5000, tokens_per_minute=2_000_000)

The requests are the lines of jobs.py (the Batch API's, or `operation` + `body`
+ `params` for any document); each is validated before it is sent, and an
invalid one is answered by an error result without being sent. Results are
appended as calls finish (ledger.py), so the same run again resumes where this
one stopped, whether it finished, was interrupted or was killed.

The work is a loop of `concurrency` tasks over one AsyncClient (a Client's run
uses an AsyncClient of the same document and settings: asyncio carries 1.8-2.6×
the calls of 64 threads, benchmarks/RESULTS.md, "Many calls"). Each task takes
the next line, waits for its turn (core/limits.py: budgets, the server's rate
limit headers, pauses after a 429), sends it with the client's own transport and
retry policy (less 429, which the whole run answers), and appends the result.
`insufficient_quota` stops the run at once; Ctrl-C stops it cleanly; both leave
the results as they are, to resume.

A file of READ_AHEAD_LINES lines or more to send is read, checked and validated
by a forked reader process (readahead.py) where that is safe, and the tasks take
its records instead of reading lines: the same results, the run's own process
left to send and write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Iterator

from .core.call import MISSING
from .core.limits import RateLimits
from .core.policy import IDEMPOTENCY_HEADER, IDEMPOTENT_METHODS, error_code
from .errors import (APIStatusError, ConfigError, DynclientError, RequestError, RunError, RunInputError,
                     RunStoppedError)
from . import readahead
from .jobs import (Job, Router, canonical_key, custom_id_problem, embeddable, error_facts, read_request,
                   result_line, typed_params)
from .ledger import Ledger, Survey, file_identity, key_hash
from .spec import Operation

log = logging.getLogger("dynclient.run")

DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 4096
MAX_RATE_LIMITED = 10        # 429s one request may get before its result is the 429
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")   # a custom_id that may stand in a header as it is
PROGRESS_EVERY = 10.0        # seconds between plain progress lines (not on a terminal)


@dataclass
class RunSummary:
    """What a run did. `done` answered with success, `failed` with an error (after retries), `invalid`
    were refused before sending, `skipped` had a result from an earlier run."""
    output: str
    total: int | None
    done: int = 0
    failed: int = 0
    invalid: int = 0
    skipped: int = 0
    elapsed: float = 0.0
    stopped: str | None = None
    read_ahead: bool = False     # the input was read, checked and validated in a process of its own

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.invalid

    def __str__(self) -> str:
        rate = self.finished / self.elapsed if self.elapsed > 0 else 0.0
        total = f"{self.total:,} requests" if self.total is not None else "requests"
        return (f"{total}: {self.done:,} done, {self.failed:,} failed, {self.invalid:,} invalid, "
                f"{self.skipped:,} skipped (done before) in {self.elapsed:.1f} s ({rate:,.0f}/s) -> {self.output}")


def estimate_tokens(job: Job) -> int:
    """A request's tokens, roughly, for a tokens-per-minute budget: its line's length / 4 (the prompt;
    about four characters a token in English) plus the completion it may ask for (`max_tokens`,
    `max_completion_tokens` or `max_output_tokens`, times `n`). Replace it with `estimate_tokens=`."""
    body = job.body if isinstance(job.body, dict) else {}
    size = job.size or len(json.dumps(body, default=str))
    completion = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens") or 0
    n = body.get("n") or 1
    if not isinstance(completion, int) or isinstance(completion, bool):
        completion = 0
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        n = 1
    return size // 4 + completion * n


class Progress:
    """A tqdm bar on a terminal; plain lines every PROGRESS_EVERY seconds otherwise ("lines"); or nothing."""

    def __init__(self, mode: str, total: int | None, skipped: int):
        self.mode, self.total = mode, total
        self.bar: Any = None
        self.last_line = time.monotonic()
        self.started = time.monotonic()
        if mode == "bar":
            from tqdm import tqdm
            self.bar = tqdm(total=None if total is None else total - skipped, unit="req", dynamic_ncols=True,
                            smoothing=0.1, file=sys.stderr, desc="run")

    def update(self, summary: RunSummary, limits: RateLimits, now: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n % 64 == 0 or summary.failed + summary.invalid == 1:
                errors, pace = summary.failed + summary.invalid, limits.describe(now)
                self.bar.set_postfix_str(f"errors {errors:,}" + (f", {pace}" if pace else ""), refresh=False)
        elif self.mode == "lines" and now - self.last_line >= PROGRESS_EVERY:
            self.last_line = now
            self.line(summary, limits.describe(now), now)

    def line(self, summary: RunSummary, limits: str, now: float) -> None:
        elapsed = now - self.started
        rate = summary.finished / elapsed if elapsed > 0 else 0.0
        left = (self.total - summary.skipped - summary.finished) if self.total is not None else None
        eta = f", ETA {left / rate:,.0f}s" if left is not None and rate > 0 else ""
        total = f"{self.total:,}" if self.total is not None else "?"
        print(f"run: {summary.finished + summary.skipped:,}/{total} "
              f"({summary.failed + summary.invalid:,} errors), {rate:,.0f}/s{eta}"
              f"{', ' + limits if limits else ''}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_mode(progress: bool | str | None) -> str:
    """None: a bar on a terminal, nothing otherwise; True: a bar on a terminal, lines otherwise; False: nothing."""
    if isinstance(progress, str):
        if progress not in ("bar", "lines", "off"):
            raise ConfigError(f"progress must be True, False, None, 'bar', 'lines' or 'off', not {progress!r}")
        return progress
    if progress is False:
        return "off"
    if sys.stderr.isatty():
        return "bar"
    return "lines" if progress else "off"


class Runner:
    """One run (see the module's docstring). `client` is an AsyncClient; when its transport cannot hold
    `concurrency` connections, the run uses a sibling of it whose pool can, and closes that."""

    def __init__(self, client: Any, requests: Any, out: str | os.PathLike, *, concurrency: int = DEFAULT_CONCURRENCY,
                 requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 estimate: Callable[[Job], int] | None = None, max_rate_limited: int = MAX_RATE_LIMITED,
                 progress: bool | str | None = None, read_ahead: bool | None = None):
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ConfigError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency!r}")
        if out is None:
            raise ConfigError("run needs `out`, the results file (JSONL) to write and to resume from")
        self.client = client
        self.requests = requests
        self.out = os.fspath(out)
        self.concurrency = concurrency
        self.limits = RateLimits(requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute,
                                 concurrency=concurrency, now=time.monotonic())
        self.estimate = estimate or estimate_tokens
        self.max_rate_limited = max_rate_limited
        self.progress_mode = progress_mode(progress)
        self.router = Router(client.spec)
        self.ledger = Ledger(self.out)
        self.survey: Survey | None = None
        self.pending = bytearray()    # the survey's (for a file): which lines are still to do
        self.identity: dict | None = None
        self.summary = RunSummary(self.out, None)
        self.stopping: str | None = None
        self.stop_error: Exception | None = None
        self.failure: Exception | None = None
        self.flush_due = False
        self.loop: Any = None   # the run's event loop, once it runs
        self.key_prefix = f"dynclient-run-{hashlib.sha256(os.path.abspath(self.out).encode()).hexdigest()[:16]}-"
        self.operations: dict[str, tuple[Operation, bool]] = {}   # operationId -> (operation, keyed)
        if read_ahead not in (None, True, False):
            raise ConfigError(f"read_ahead must be True, False or None (when it pays), not {read_ahead!r}")
        self.read_ahead = read_ahead
        self.reader: readahead.ReadAhead | None = None
        self.unchecked: Any = None   # the caller, not validating again what the reader validated
        self.progress: Progress | None = None

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        started = time.perf_counter()
        self.loop = asyncio.get_running_loop()   # once: on Python 3.11 each lookup is a getpid system call
        jobs = self._prepare_input()
        own = getattr(self.client.transport, "capacity", 0) < self.concurrency
        worker_client = self.client.sibling(type(self.client), pool_maxsize=self.concurrency,
                                            max_connections=self.concurrency) if own else self.client
        self.caller = worker_client
        self.policy = dataclasses.replace(worker_client.options.retry,
                                          statuses=worker_client.options.retry.statuses - {429})
        tasks: list[asyncio.Future] = []
        try:
            self._start_reader()
            self.progress = Progress(self.progress_mode, self.summary.total, self.summary.skipped)
            tasks = [asyncio.ensure_future(self._work(jobs)) for _ in range(self.concurrency)]
            self.tasks = tasks
            await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:   # the run itself was cancelled (Ctrl-C): drop what is in flight
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            if self.reader is not None:
                self.reader.close()
            self.summary.elapsed = time.perf_counter() - started
            if self.progress is not None:
                self.progress.close()
            self.ledger.sync(self.survey, self.identity)
            self.ledger.close()
            if own:
                await worker_client.aclose()
        if self.failure is not None:
            raise self.failure
        if self.stopping:
            self.summary.stopped = self.stopping
            raise RunStoppedError(self.stopping, f"{self.stop_error}; the run stopped ({self.summary}); "
                                                 f"run it again to resume", self.summary)
        return self.summary

    def _prepare_input(self) -> Iterator[Job]:
        requests = self.requests
        if isinstance(requests, (str, os.PathLike)):
            path = os.fspath(requests)
            if not os.path.isfile(path):
                raise RunInputError(path, ["no such file"])
            try:
                self.identity = file_identity(path)
                self.ledger.open(self.identity)
                self.survey = self.ledger.survey_file(path, self.identity)
            except OSError as exc:
                raise RunError(f"cannot run {path} into {self.out}: {exc}") from None
            self.summary.total, self.summary.skipped = self.survey.total, self.survey.skipped
            self.pending = self.survey.pending
            return self._file_jobs(path, self.survey.pending)
        if isinstance(requests, (bytes, dict)) or not isinstance(requests, Iterable):
            raise ConfigError("run takes a path to a JSONL file, or an iterable of request dicts")
        try:
            self.ledger.open(None)
        except OSError as exc:
            raise RunError(f"cannot write the results to {self.out}: {exc}") from None
        if isinstance(requests, Sequence):
            self._check_ids(requests)
            self.summary.total = len(requests)
        return self._iterable_jobs(requests, self.ledger.done_ids())

    def _file_jobs(self, path: str, pending: bytearray) -> Iterator[Job]:
        """The jobs of the lines still to do: read here, or by the reader process if one was started."""
        if self.reader is not None:
            yield from map(self._job_of, self.reader.records())
        else:
            yield from self._read_jobs(path, pending)

    def _start_reader(self) -> None:
        """Fork the reader process (readahead.py) of a file input when that pays and is safe: once the
        workers' client is ready, before anything starts a thread (a progress bar's monitor)."""
        path = self.requests
        if self.survey is None or self.read_ahead is False or self.caller.cassette is not None \
                or self.caller.recorder:
            return   # (a cassette records each request's body, which the reader does not pass on)
        if self.limits.counts_tokens and self.estimate is not estimate_tokens:
            return   # a caller's estimate runs in the caller's process
        if self.read_ahead is None and self.survey.total - self.survey.skipped < readahead.READ_AHEAD_LINES:
            return
        if not readahead.possible(forced=self.read_ahead is True):
            return
        pending = self.survey.pending
        try:
            self.reader = readahead.ReadAhead(lambda: self._records(os.fspath(path), pending))
        except OSError as exc:   # no fork to be had (memory, process limit): the run reads its lines itself
            log.info("reading the input in the run's own process: cannot fork a reader (%s)", exc)
            return
        self.unchecked = self.caller.with_options(validate_requests=False)
        self.summary.read_ahead = True

    def _read_jobs(self, path: str, pending: bytearray) -> Iterator[Job]:
        # The survey refused lines longer than ledger.MAX_LINE_BYTES, so a line read here is bounded.
        router = self.router
        with open(path, "rb", buffering=1 << 20) as fh:   # a read a megabyte, not 8 KiB
            for number, text in enumerate(fh, 1):
                if number < len(pending) and pending[number]:
                    yield read_request(router, number, text)

    # A record of the reader: (line, custom_id, operation_id, params, body_text, body, tokens, invalid), where
    # `invalid` is the result line of a line that cannot be sent (the rest then unused), and `body_text` the
    # JSON object sent as written (`body` then None), or None and `body` the body to encode.

    def _records(self, path: str, pending: bytearray) -> Iterator[tuple]:
        """In the reader process: each line to do, checked and validated as `_prepare` would."""
        counts = self.limits.counts_tokens
        for job in self._read_jobs(path, pending):
            found = self._check(job, self.caller)
            if type(found) is bytes:
                yield job.line, job.custom_id, None, None, None, None, 0, found
                continue
            op, params, prepared = found
            as_written = job.body_text is not None and prepared.body is job.body_text and type(job.body) is dict
            yield (job.line, job.custom_id, op.operation_id, params, job.body_text if as_written else None,
                   None if as_written else job.body, self.estimate(job) if counts else 0, None)

    @staticmethod
    def _job_of(record: tuple) -> Job:
        line, custom_id, operation_id, params, body_text, body, tokens, invalid = record
        job = Job(line, custom_id, operation_id, {} if body_text is not None else body, params or {},
                  body_text=body_text)
        job.checked = (tokens, invalid)
        return job

    @staticmethod
    def _check_id(number: int, item: Any, seen: dict[int, int]) -> tuple[int, str | None]:
        """The ledger hash of a request's custom_id, and what is wrong with it (None) given the earlier ones."""
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        bad = custom_id_problem(custom_id) if isinstance(item, dict) else "a request must be a dict"
        if bad:
            return 0, f"request {number}: {bad}"
        found = key_hash(canonical_key(custom_id))
        if found in seen:
            return found, f"request {number}: custom_id {custom_id!r} repeats request {seen[found]}"
        seen[found] = number
        return found, None

    def _check_ids(self, requests: Sequence) -> None:
        seen: dict[int, int] = {}
        problems = [bad for number, item in enumerate(requests, 1) if (bad := self._check_id(number, item, seen)[1])]
        if problems:
            raise RunInputError("requests", problems)

    def _iterable_jobs(self, requests: Iterable, done: set[int]) -> Iterator[Job]:
        checked = isinstance(requests, Sequence)   # a sequence was checked whole; a one-shot iterator as it comes
        seen: dict[int, int] = {}
        for number, item in enumerate(requests, 1):
            found, bad = self._check_id(number, item, seen if not checked else {})
            if bad:
                raise RunInputError("requests", [f"{bad} (the requests before it were run; fix it and run again "
                                                 f"to resume)"])
            if found in done:
                self.summary.skipped += 1
                continue
            yield read_request(self.router, number, b"", data=item)

    # --- one worker -----------------------------------------------------------------

    async def _work(self, jobs: Iterator[Job]) -> None:
        """One worker: the next line, its turn, its call, its result, and again. One coroutine for all of it:
        a coroutine a request would be passed through again each time its call resumes (a few times a call)."""
        limits, policy, client = self.limits, self.policy, self.caller
        send, options = client.transport.send, client.options
        timeout, max_bytes = options.timeout, options.max_response_bytes
        try:
            while not self.stopping:
                job = next(jobs, None)
                if job is None:
                    return
                call = self._prepare(job)
                if call is None:
                    continue
                op, prepared = call
                tokens = 0 if not limits.counts_tokens else \
                    job.checked[0] if job.checked is not None else self.estimate(job)
                limited = 0   # 429s this request got
                while True:
                    if self.stopping or limits.start(tokens, time.monotonic()) > 0:   # the common case: at once
                        if not await self._turn(tokens):
                            return
                    try:
                        raw = await send(prepared, timeout, policy, max_bytes=max_bytes)
                    except DynclientError as exc:
                        limits.finished(None, time.monotonic())
                        self._write(job, "failed", result_line(job, error=error_facts(exc),
                                                               attempts=policy.max_retries + 1 + limited))
                        break
                    except BaseException:
                        limits.finished(None, time.monotonic())
                        raise
                    if raw.status == 429 and self._paused(job, raw, limited):
                        limited += 1
                        continue
                    self._answered(job, op, raw, limited)
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # a bad one-shot input, or a bug: stop the others, raise it after
            if self.failure is None:
                self.failure = exc
            self._stop("failed", exc)

    def _prepare(self, job: Job) -> tuple[Operation, Any] | None:
        """The operation and prepared request of a job; None when it cannot be sent (its result written)."""
        if job.checked is None:
            found = self._check(job, self.caller)
        else:   # read, checked and validated by the reader: prepared without validating again
            found = job.checked[1] or self._check(job, self.unchecked)
        if type(found) is bytes:
            self._write(job, "invalid", found)
            return None
        return found[0], found[2]

    def _check(self, job: Job, client: Any) -> tuple[Operation, dict, Any] | bytes:
        """`_request`'s operation, params and prepared request, or the result line of a job that cannot be
        sent (what is wrong with its line, or with its request)."""
        if job.problem is not None:
            return result_line(job, error=job.problem)
        try:
            return self._request(job, client)
        except RequestError as exc:
            return result_line(job, error=error_facts(exc))

    def _request(self, job: Job, client: Any) -> tuple[Operation, dict, Any]:
        """The operation, params and prepared request of a job (RequestError if it cannot be sent)."""
        found = self.operations.get(job.operation_id)
        if found is None:
            op = client.operation(job.operation_id)
            found = self.operations[job.operation_id] = (
                op, op.method not in IDEMPOTENT_METHODS and self.policy.non_idempotent == "with-key")
        op, keyed = found
        headers = None
        if keyed:
            # The same key on every attempt of every run of this output: a server that honours it
            # does not do twice what a resumed run sends again.
            custom_id = job.custom_id
            if not _PLAIN_ID.fullmatch(custom_id):
                custom_id = hashlib.sha256(custom_id.encode()).hexdigest()[:32]
            headers = {IDEMPOTENCY_HEADER: self.key_prefix + custom_id}
        params = typed_params(client.schemas, op, job.params) if job.from_url and job.params else job.params
        return op, params, client.prepare_call(op.operation_id, MISSING if job.body is None else job.body, params,
                                               headers, None, {}, job.body_text)

    def _paused(self, job: Job, raw: Any, limited: int) -> bool:
        """After a 429: True when the whole run pauses and the request is sent again after the pause."""
        if limited >= self.max_rate_limited or error_code(raw.data) in self.policy.final_codes:
            return False
        pause = self.limits.finished(raw.headers, time.monotonic(), limited=True)
        log.info("%s: 429, the run pauses %.1f s", job.custom_id, pause)
        return True

    def _answered(self, job: Job, op: Operation, raw: Any, limited: int) -> None:
        """The result of an answer (or the stop of the run, for insufficient_quota)."""
        self.limits.finished(raw.headers, time.monotonic())
        attempts = raw.attempts + limited
        try:
            body, _, request_id = self.caller.answer(op, raw)
        except APIStatusError as exc:
            if raw.status == 429 and error_code(raw.data) in self.policy.final_codes:
                self._stop("insufficient_quota", exc)
                return
            self._write(job, "failed", result_line(job, status=exc.status, request_id=exc.request_id,
                                                   attempts=attempts, body=exc.body, error=error_facts(exc)))
        except DynclientError as exc:
            self._write(job, "failed", result_line(job, status=raw.status, attempts=attempts,
                                                   error=error_facts(exc),
                                                   request_id=getattr(exc, "request_id", None)))
        else:
            data = raw.data
            as_sent = data if isinstance(body, (dict, list)) and embeddable(data) else None
            self._write(job, "done", result_line(job, status=raw.status, request_id=request_id,
                                                 attempts=attempts, body=body, body_json=as_sent))

    async def _turn(self, tokens: int) -> bool:
        """Wait until the limits let a request go: True (it is counted as started), or False when the run
        is stopping."""
        while not self.stopping:
            wait = self.limits.start(tokens, time.monotonic())
            if wait <= 0:
                return True
            await asyncio.sleep(min(wait, 1.0))
        return False

    def _flush(self) -> None:
        """Once a turn of the loop: the results of the turn in one write, and a checkpoint when one is due."""
        self.flush_due = False
        ledger = self.ledger
        ledger.flush()
        if ledger.due(time.monotonic()):
            ledger.sync(self.survey, self.identity)

    def _stop(self, reason: str, error: Exception) -> None:
        """Stop everything now: what is in flight is dropped (and sent again on resume)."""
        if self.stopping:
            return
        self.stopping, self.stop_error = reason, error
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()

    def _write(self, job: Job, outcome: str, line: bytes) -> None:
        self.ledger.append(line)
        if not self.flush_due:   # one write for all the results of this turn of the loop
            self.flush_due = True
            self.loop.call_soon(self._flush)
        pending = self.pending
        if job.line < len(pending):
            pending[job.line] = 0
        summary = self.summary
        if outcome == "done":
            summary.done += 1
        elif outcome == "failed":
            summary.failed += 1
        else:
            summary.invalid += 1
        if self.progress.mode != "off":
            self.progress.update(summary, self.limits, time.monotonic())


async def run_async(client: Any, requests: Any, out: str | os.PathLike, **options: Any) -> RunSummary:
    """`await aclient.run(...)`: see Runner."""
    return await Runner(client, requests, out, **options).run()


def on_own_loop(client: Any, shell: type, work: Callable[[Any], Awaitable[Any]], what: str,
                **transport_options: Any) -> Any:
    """`work(aclient)` on a sibling of `client` of the async `shell` class (same document, settings and
    credentials), in an event loop of its own, the sibling closed after: how a Client runs what is written
    for an AsyncClient. Not inside a running event loop (`what` names the call in that error)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ConfigError(f"{what} was called inside a running event loop; use the AsyncClient's")

    async def main() -> Any:
        aclient = client.sibling(shell, **transport_options)
        try:
            return await work(aclient)
        finally:
            await aclient.aclose()
    return asyncio.run(main())


def run_sync(client: Any, shell: type, requests: Any, out: str | os.PathLike, **options: Any) -> RunSummary:
    """`client.run(...)` of a Client: the same run on an AsyncClient sibling whose pool holds the concurrency."""
    concurrency = options.get("concurrency", DEFAULT_CONCURRENCY)
    return on_own_loop(client, shell, lambda aclient: run_async(aclient, requests, out, **options), "Client.run",
                       pool_maxsize=concurrency, max_connections=concurrency)
