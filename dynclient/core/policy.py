"""Timeouts and retries as small immutable values, and the retry decision itself.

Retries follow the official ``openai`` package: connection faults, timeouts,
408, 409, 429 and 5xx, with exponential backoff and jitter,
``Retry-After``/``retry-after-ms`` honoured up to a cap, ``x-should-retry``
obeyed, and a 429 for an exhausted quota final. A request that is not
idempotent (POST, PATCH) is the exception: after a fault that may come after
the server received it (a reset, a read timeout) sending it again could do it
twice. ``RetryPolicy.non_idempotent`` says what to do then:

    "with-key"  (default) retry, with one ``Idempotency-Key`` header per logical
                call sent on every attempt, so that the server (OpenAI's, Stripe's)
                does it once
    "never"     do not retry such a fault; a refused connection (nothing was
                sent) and an error status (the server answered) are still retried
    "always"    retry without a key, for servers that refuse unknown headers

Nothing here sleeps: ``delay`` says how long, the shell waits.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from ..errors import CertificateVerifyError, ConfigError, ResponseDecodeError, ResponseTooLargeError

log = logging.getLogger("dynclient")

# Faults that another attempt would only repeat.
FINAL_ERRORS = (ResponseDecodeError, ResponseTooLargeError, CertificateVerifyError)
NON_IDEMPOTENT_CHOICES = ("with-key", "never", "always")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})   # RFC 9110, 9.2.2
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _seconds(name: str, value: Any, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"timeout: {name} must be a number of seconds > 0"
                          f"{' or None' if allow_none else ''}, not {value!r}")
    return seconds


@dataclass(frozen=True)
class Timeout:
    """How long a call may wait: `connect` for a connection, `read` between two pieces of the answer,
    `total` for the whole call, retries and their waits included (None: no overall limit).

    A server that keeps every read short (one byte a second, endless `100 Continue`) is stopped by
    `total`. For `stream()` the total covers the call until the answer's head arrives; reading the
    stream afterwards is bounded by `read` between pieces and by the event size limit.

    AsyncClient keeps `read` itself for a call read whole whose body is at most 1 MiB, when `connect`
    is set (aiohttp's timer costs 5% of such a call): the answer's head within `connect + read` of
    the attempt's start (it cannot see when a connection was made), then `read` between pieces of
    the body, a silence noticed within `read / 8` after it reaches `read` (async_transport.ReadWatch).
    `Client` keeps `read` by its watchdog thread while such a call waits for the head: within `read`
    of the request's sending, and of `connect + read` from the attempt's start while it is being
    sent (deadline.Deadline.arm); the body is read with the socket's own `read` timeout.
    """

    connect: float | None = 5.0
    read: float | None = 600.0
    total: float | None = 900.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            object.__setattr__(self, name, _seconds(name, getattr(self, name), allow_none=True))

    @classmethod
    def of(cls, value: Any) -> "Timeout":
        """A Timeout from what a caller may pass: None (the default), a number (connect and read),
        a (connect, read) or (connect, read, total) tuple, a Timeout, or a urllib3.Timeout."""
        if value is None:
            return DEFAULT_TIMEOUT
        if isinstance(value, Timeout):
            return value
        if isinstance(value, tuple):
            if len(value) not in (2, 3):
                raise ConfigError(f"timeout: a tuple is (connect, read) or (connect, read, total), not {value!r}")
            return cls(*value)
        if hasattr(value, "connect_timeout") and hasattr(value, "read_timeout"):   # a urllib3.Timeout
            total = getattr(value, "total", None)
            return cls(_plain(value.connect_timeout), _plain(value.read_timeout), total)
        return cls(value, value, DEFAULT_TIMEOUT.total)

    def remaining(self, deadline: float | None, now: float) -> tuple[float | None, float | None]:
        """(connect, read) for an attempt starting at `now` under `deadline`: neither outlasts it."""
        if deadline is None:
            return self.connect, self.read
        connect, read, left = self.connect, self.read, deadline - now
        if connect is not None and read is not None and connect < left and read < left:
            return connect, read   # the usual case, far from the deadline
        left = max(left, 0.001)
        return (left if self.connect is None else min(self.connect, left),
                left if self.read is None else min(self.read, left))


def _plain(value: Any) -> float | None:
    """urllib3's Timeout keeps a sentinel object for 'unset'."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


DEFAULT_TIMEOUT = Timeout()

# A body of at most this many bytes is sent at once, as far as timeouts go: its sending is not waiting.
WATCHED_BODY_BYTES = 1 << 20


def watches_head(timeout: Timeout, body: Any) -> bool:
    """Whether a shell keeps the read timeout of an attempt's wait for its answer's head itself (the sync
    watchdog, the async DeadlineKeeper; see Timeout): a call with a read timeout, a connect timeout to
    bound the connecting by, and a body sent at once (none, or bytes of at most WATCHED_BODY_BYTES)."""
    return timeout.read is not None and timeout.connect is not None and (
        body is None or (type(body) is bytes and len(body) <= WATCHED_BODY_BYTES))


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying again; immutable, like urllib3's Retry."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0       # a Retry-After longer than this is cut to it
    statuses: frozenset[int] = frozenset({408, 409, 429})   # and every 5xx
    final_codes: frozenset[str] = frozenset({"insufficient_quota"})
    non_idempotent: str = "with-key"    # see the module's docstring

    def __post_init__(self) -> None:
        if self.non_idempotent not in NON_IDEMPOTENT_CHOICES:
            raise ConfigError(f"RetryPolicy: non_idempotent must be one of {NON_IDEMPOTENT_CHOICES}, "
                              f"not {self.non_idempotent!r}")
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) or self.max_retries < 0:
            raise ConfigError(f"max_retries must be a whole number >= 0, not {self.max_retries!r}")

    def retries_status(self, status: int, headers: Mapping[str, str], data: bytes) -> bool:
        should = str(headers.get("x-should-retry", "")).strip().lower()
        if should in ("true", "false"):
            return should == "true"
        if status not in self.statuses and status < 500:
            return False
        return error_code(data) not in self.final_codes

    def retries_fault(self, method: str, sent: bool) -> bool:
        """Whether a connection fault may be retried: always when nothing was sent, and for a request
        the server may already have, unless it is not idempotent and the policy says never."""
        return not sent or self.non_idempotent != "never" or method.upper() in IDEMPOTENT_METHODS

    def idempotency_key(self, method: str) -> str | None:
        """The key a new logical call of `method` carries on every attempt, or None."""
        return new_idempotency_key() if self.wants_key(method) else None

    def wants_key(self, method: str) -> bool:
        """Whether each logical call of `method` carries an idempotency key."""
        return self.non_idempotent == "with-key" and self.max_retries != 0 and method.upper() not in IDEMPOTENT_METHODS

    def delay(self, retry_number: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1 for the first retry)."""
        asked = retry_after(headers or {})
        if asked is not None:
            return min(max(asked, 0.0), self.max_retry_after)
        backoff = min(self.initial_delay * 2 ** (retry_number - 1), self.max_delay)
        return backoff * (1 - 0.25 * random.random())


class _KeySource:
    """Unique keys, cheaply: a random 128-bit prefix per process (made again in a forked child) and a
    counter. uuid4() per call cost 2 µs, a tenth of dynclient's whole overhead on a call (and importing
    uuid costs `import dynclient` its `platform` module)."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = f"dynclient-{os.urandom(16).hex()}-"
        self.counter = itertools.count(1)


_KEYS = _KeySource()
os.register_at_fork(after_in_child=_KEYS.renew)


def new_idempotency_key() -> str:
    """A key no other logical call of this process (or of any other) has."""
    return f"{_KEYS.prefix}{next(_KEYS.counter)}"


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None   # "nan" and "inf" parse, but are no delay


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    millis = _finite(headers.get("retry-after-ms") or "")
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.timestamp() - time.time() if when else None


def error_code(data: bytes) -> str | None:
    """OpenAI's `error.code` (or `error.type`) of an error body, if it has one."""
    if not data or len(data) > 65536:
        return None
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None
    code = (error.get("code") or error.get("type")) if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class Attempts:
    """The retry loop of one call: decided here, run by a shell (which sends, reads the clock and sleeps).

        attempts = Attempts(policy, request, deadline)          # deadline: a time.monotonic() or None
        while True:
            try:
                answer = send(request)
            except Fault as fault:
                wait = attempts.after_fault(fault.error, fault.sent, time.monotonic())   # or raises
            else:
                wait = attempts.after_answer(status, headers, body, time.monotonic())
                if wait is None:
                    return answer                                 # the answer, error statuses included
            sleep(wait)

    `number` is the attempt in progress (1 for the first).
    """

    __slots__ = ("policy", "request", "deadline", "number")

    def __init__(self, policy: RetryPolicy, request: Any, deadline: float | None):
        self.policy, self.request, self.deadline = policy, request, deadline
        self.number = 1

    def after_fault(self, error: Exception, sent: bool, now: float) -> float:
        """Seconds to wait before the next attempt after a connection fault; raises `error` when there
        is none (a final fault, no retry left, a non-idempotent request the policy keeps, no time)."""
        final = isinstance(error, FINAL_ERRORS) or self.number > self.policy.max_retries
        if final or not self.policy.retries_fault(self.request.method, sent):
            raise error
        wait = self.policy.delay(self.number)
        if not self._fits(wait, now, error):
            raise error
        return self._next(wait, error)

    def after_answer(self, status: int, headers: Mapping[str, str], data: bytes, now: float) -> float | None:
        """Seconds to wait before the next attempt after an answer, or None: it is the answer."""
        if status < 400 or self.number > self.policy.max_retries \
                or not self.policy.retries_status(status, headers, data):
            return None
        wait = self.policy.delay(self.number, headers)
        why = f"HTTP {status}"
        return self._next(wait, why) if self._fits(wait, now, why) else None

    def _fits(self, wait: float, now: float, why: Any) -> bool:
        if self.deadline is None or now + wait < self.deadline:
            return True
        log.info("%s: not retrying %s %s after %s: the total timeout would pass first",
                 self.request.operation_id, self.request.method, log_path(self.request.url), why)
        return False

    def _next(self, wait: float, why: Any) -> float:
        log.info("%s: retrying %s %s in %.2f s (retry %d) after %s", self.request.operation_id,
                 self.request.method, log_path(self.request.url), wait, self.number, why)
        self.number += 1
        return wait

    def log(self, outcome: Any, started: float, headers: Mapping[str, str] | None = None) -> None:
        """One attempt's line at DEBUG: status or error class, time, attempt number, request id (from
        the answer's `headers`, read only when the line is written)."""
        if log.isEnabledFor(logging.DEBUG):
            shown = outcome if isinstance(outcome, int) else type(outcome).__name__
            log.debug("%s %s %s -> %s in %.1f ms (attempt %d) [request id %s]", self.request.operation_id,
                      self.request.method, log_path(self.request.url), shown,
                      (time.perf_counter() - started) * 1000, self.number,
                      headers.get("x-request-id") if headers is not None else None)


def log_path(url: str) -> str:
    """The path of a URL, for a log line: its query may carry an apiKey-in-query credential."""
    return urlsplit(url).path
