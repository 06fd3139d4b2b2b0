"""How fast a run of many calls may send: decided here, waited for by the runner (dynclient/run.py).

One `RateLimits` per run, shared by all its workers. It never sleeps and never
reads a clock: every method takes `now` (monotonic seconds), and `delay()` says
how long a request must wait before it may go. It combines

- the caller's budgets (requests and tokens per minute): token buckets that
  refill continuously and hold at most one second's worth (so a run never
  opens with a burst of a whole minute), a request bigger than a bucket going
  when the bucket is full and leaving it in debt;
- what the server says of its own limits (`x-ratelimit-limit-*`,
  `x-ratelimit-remaining-*`, `x-ratelimit-reset-*`): the limit, when the
  caller gave none, becomes the budget; a remaining count that runs out holds
  every request until the reset;
- 429s: the whole run pauses for Retry-After (or a backoff), and the number of
  requests allowed in flight is halved, then grows back by one per success
  (additive increase, multiplicative decrease, as TCP does), so a run that hits
  a limit slows down as a whole instead of hammering the server with retries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError
from .policy import retry_after

MAX_PAUSE = 300.0   # no single pause is longer, whatever a header says
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
_HEADER_NAMES = tuple((kind, tuple(f"x-ratelimit-{what}-{kind}" for what in ("limit", "remaining", "reset")))
                      for kind in ("requests", "tokens"))
_TOLD = tuple(name for _, names in _HEADER_NAMES for name in names[:2])   # the headers that say something
_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ms|h|m|s)")


def parse_reset(text: Any) -> float | None:
    """OpenAI's reset durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or plain seconds; None if unreadable."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _count(text: Any) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


class Bucket:
    """A token bucket: `per_minute` refilled continuously, holding at most one second's worth (at least
    one request's worth), allowed to go into debt for a request bigger than itself."""

    def __init__(self, per_minute: float, now: float):
        self.rate = per_minute / 60.0
        self.capacity = max(self.rate, 1.0)
        self.level = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def delay(self, amount: float, now: float) -> float:
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount


@dataclass
class Window:
    """What the server last said it would still accept before a reset."""
    remaining: float
    reset_at: float


class RateLimits:
    """The pace of one run (see the module's docstring)."""

    def __init__(self, *, requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 concurrency: int = 1, now: float = 0.0):
        for name, value in (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"{name} must be a number > 0, not {value!r}")
        self.chosen = {"requests": requests_per_minute, "tokens": tokens_per_minute}
        self.buckets: dict[str, Bucket] = {kind: Bucket(value, now) for kind, value in self.chosen.items() if value}
        self.server: dict[str, Window] = {}
        self.concurrency = concurrency
        self.window = float(concurrency)     # requests allowed in flight now (AIMD)
        self.in_flight = 0
        self.paused_until = 0.0
        self.pauses = 0                       # consecutive 429s without a success between them
        self.last_reason = ""

    @property
    def counts_tokens(self) -> bool:
        """Whether a request's tokens matter (a tokens budget, or the server's token window)."""
        return "tokens" in self.buckets or "tokens" in self.server

    # --- before a request ---------------------------------------------------------------

    def start(self, tokens: float, now: float) -> float:
        """0 when a request of `tokens` goes now (it is then counted as started); otherwise the seconds
        until it may go (ask again then)."""
        if not self.buckets and not self.server and self.paused_until <= now and self.in_flight < self.window:
            self.in_flight += 1   # nothing limits (the common case): `delay` and `started` in short
            return 0.0
        wait = self.delay(tokens, now)
        if wait <= 0:
            self.started(tokens, now)
        return wait

    def delay(self, tokens: float, now: float) -> float:
        """Seconds until a request of `tokens` may go; 0 means now (then call `started`)."""
        if not self.buckets and not self.server and self.paused_until <= now and self.in_flight < self.window:
            return 0.0   # no budget, nothing heard from the server, no pause: the common case, at once
        waits = [self.paused_until - now]
        if self.in_flight >= int(self.window):
            waits.append(0.05)   # a slot frees when an answer comes; look again soon
        for kind, amount in (("requests", 1.0), ("tokens", tokens)):
            bucket = self.buckets.get(kind)
            if bucket is not None:
                waits.append(bucket.delay(amount, now))
            window = self.server.get(kind)
            if window is not None and window.remaining < amount and now < window.reset_at:
                waits.append(window.reset_at - now)
        return max(0.0, max(waits))

    def started(self, tokens: float, now: float) -> None:
        self.in_flight += 1
        if not self.buckets and not self.server:
            return
        for kind, amount in (("requests", 1.0), ("tokens", tokens)):
            bucket = self.buckets.get(kind)
            if bucket is not None:
                bucket.take(amount, now)
            window = self.server.get(kind)
            if window is not None:
                window.remaining -= amount

    # --- after it -----------------------------------------------------------------------

    def finished(self, headers: Mapping[str, str] | None, now: float, *, limited: bool = False) -> float:
        """Account for an answer (or a fault: headers None). For a 429 (`limited`), pause the whole run and
        return the pause in seconds; otherwise return 0."""
        if self.in_flight > 0:
            self.in_flight -= 1
        if headers is not None and any(map(headers.__contains__, _TOLD)):   # four lookups in C
            self.observe(headers, now)
        if not limited:
            self.pauses = 0
            if self.window < self.concurrency:   # growing back after a 429 halved it
                self.window = min(float(self.concurrency), self.window + 1.0 / max(self.window, 1.0))
            return 0.0
        self.pauses += 1
        self.window = max(1.0, self.window / 2)
        asked = retry_after(headers or {})
        if asked is None:
            resets = [parse_reset((headers or {}).get(f"x-ratelimit-reset-{kind}")) for kind in ("requests", "tokens")]
            asked = max([r for r in resets if r is not None], default=None)
        pause = asked if asked is not None else min(BACKOFF_START * 2 ** (self.pauses - 1), BACKOFF_MAX)
        pause = min(max(pause, 0.0), MAX_PAUSE)
        self.paused_until = max(self.paused_until, now + pause)
        self.last_reason = "429"
        return pause

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Learn from `x-ratelimit-*` headers (any answer may carry them)."""
        for kind, names in _HEADER_NAMES:
            limit_text, remaining_text = headers.get(names[0]), headers.get(names[1])
            if limit_text is None and remaining_text is None:   # most answers of most servers
                continue
            limit = _count(limit_text)
            if limit and not self.chosen[kind]:
                bucket = self.buckets.get(kind)
                if bucket is None or abs(bucket.rate * 60 - limit) > 1e-9:
                    self.buckets[kind] = Bucket(limit, now)
            remaining = _count(remaining_text)
            reset = parse_reset(headers.get(names[2]))
            if remaining is not None and reset is not None:
                # Requests sent after this one was answered are not counted in `remaining` yet.
                others = max(self.in_flight, 0) if kind == "requests" else 0
                self.server[kind] = Window(remaining - others, now + min(reset, MAX_PAUSE))

    def describe(self, now: float) -> str:
        """A short account for a progress line: budgets and any pause."""
        parts = []
        for kind, unit in (("requests", "rpm"), ("tokens", "tpm")):
            bucket = self.buckets.get(kind)
            if bucket is not None:
                parts.append(f"{bucket.rate * 60:,.0f} {unit}")
        if self.window < self.concurrency:
            parts.append(f"{int(self.window)}/{self.concurrency} in flight")
        if self.paused_until > now:
            parts.append(f"paused {self.paused_until - now:.0f}s ({self.last_reason})")
        return ", ".join(parts)
