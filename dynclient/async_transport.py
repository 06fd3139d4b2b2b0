"""aiohttp underneath: the async shell's bytes, the sibling of transport.py.

The same loop as the sync transport, awaited: the core decides what to retry
and how long to wait (core/policy.py) and where a redirect goes with which
headers (core/redirects.py); this module sends, reads and sleeps without
blocking the loop. The total timeout covers the whole call (attempts, waits and
redirects): the loop's DeadlineKeeper cancels a call past it, and the cancel
becomes an APITimeoutError, so a server that keeps every read short cannot
keep a call alive. A cancelled call (`task.cancel()`, `asyncio.timeout`)
releases its connection on the way out: a response being read is closed by
the `except` that lets the cancellation through.

Why aiohttp: measured in benchmarks/bench_async.py (figures in
benchmarks/RESULTS.md), it sent the same requests 15 to 20 times faster than
httpx at 64 in flight, and 2.5 times faster than urllib3-future's
AsyncPoolManager; its connection limit, keep-alive, proxies and TLS map one
to one onto the sync client's options.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import ssl
import sys
import time
import weakref
from typing import Any, AsyncIterator, Callable, Mapping

try:
    import aiohttp
    import yarl
except ImportError as exc:   # the optional extra
    raise ImportError("dynclient.AsyncClient needs aiohttp: pip install 'dynclient[async]'") from exc
from .codecs import ReplayableBody
from .core import redirects
from .core.call import DEFAULT_MAX_RESPONSE_BYTES, PreparedRequest, RawResponse
from .core.policy import Attempts, RetryPolicy, Timeout, log_path, watches_head
from .core.redact import REDACTOR, guard_loggers
from .core.headers import Headers
from .core.faults import (BEFORE_SENDING, CONNECT, CONNECT_TIMEOUT, DECODE, LOST, READ_TIMEOUT, TLS_VERIFY,
                          UNSENDABLE, Where, fault_error, strerror, total_timeout_error)
from .errors import APIConnectionError, ResponseTooLargeError
from .proxies import Proxy, proxy_for, split_credentials, with_scheme
from .transport import CHUNK

log = logging.getLogger("dynclient")
# Without a limit, 10,000 tasks would open 10,000 sockets at once (httpx and aiohttp default to 100 too).
DEFAULT_MAX_CONNECTIONS = 100


class Deadline:
    """One call's total deadline, kept by its loop's DeadlineKeeper."""

    __slots__ = ("due", "at", "task", "cancelling", "expired", "keeper", "key")

    def __init__(self, keeper: "DeadlineKeeper", key: int, due: float, at: float, task: asyncio.Task):
        self.keeper, self.key, self.task = keeper, key, task
        self.due, self.at = due, at   # on the loop's clock (for the timer), on time.monotonic (for retries)
        self.cancelling = task.cancelling()
        self.expired = False

    def close(self, expired_now: bool = False) -> bool:
        """Forget the deadline. With `expired_now` (the call is being cancelled): True when the cancel
        was the deadline's own, which is then taken back so that it becomes an APITimeoutError; a
        cancel from anyone else stays a cancel."""
        self.keeper.calls.pop(self.key, None)
        if expired_now and self.expired:
            self.expired = False
            return self.task.uncancel() <= self.cancelling
        return False

    def check(self, now: float) -> float | None:
        """The keeper's look at it: cancel the call once the deadline has passed (None: forget it), else
        when to look again."""
        if self.due > now:
            return self.due
        self.expired = True
        self.task.cancel()
        return None


class ReadWatch:
    """One attempt's read timeout, kept by the loop's DeadlineKeeper in place of aiohttp's own timer.

    aiohttp bounds the wait between two pieces of an answer with a timer it makes when the request
    is sent and makes again, cancelling the last, each time bytes arrive: 35,000 instructions of a
    call, 5% of an AsyncClient call (valgrind, with and without aiohttp's timer). Here the keeper looks at the
    attempt every `read / 8` seconds instead, which a call shorter than that never meets: the answer's
    head must have come within `connect + read` of the attempt's start (a head arrives whole or not
    at all, as far as anyone outside aiohttp can see), then the body must have grown within every
    `read` seconds. A silence is noticed between `read` and `read * 9 / 8` after it began, never
    before. Used for calls read whole with a small body (an upload's time would count as waiting)
    and a connect timeout (without one, a connection's making has no bound to allow for); the others
    keep aiohttp's timer. The watch keeps the call's total deadline too (`total_due`), so that such a
    call has one entry in the keeper, not two (a Deadline cost about 4 µs of a call in place).
    """

    __slots__ = ("keeper", "key", "task", "cancelling", "due", "read", "step", "head_within", "since", "response",
                 "seen", "where", "expired", "total_due")

    def __init__(self, keeper: "DeadlineKeeper", key: int, read: float, connect: float, now: float,
                 task: asyncio.Task, total_due: float = math.inf):
        self.keeper, self.key, self.task = keeper, key, task
        self.cancelling = task.cancelling()
        self.read, self.step = read, max(read / 8, 0.005)
        self.head_within = read + connect
        self.total_due = total_due   # the call's total deadline, kept by its watch (no Deadline of its own)
        self.since, self.due = now, min(now + self.step, total_due)   # on the loop's clock
        self.response: aiohttp.ClientResponse | None = None
        self.seen = 0
        self.where: Where | None = None   # the hop being waited for: what a timeout names
        self.expired: str | None = None   # READ or TOTAL, once it cancelled the call

    def restart(self, now: float, where: Where) -> None:
        """A new hop (after a redirect) waits for its head from now."""
        self.since, self.response, self.where = now, None, where

    def body(self, response: aiohttp.ClientResponse) -> None:
        """The head has come: from now on the body's growth is what counts."""
        self.response, self.since = response, self.keeper.loop.time()
        self.seen = getattr(response.content, "total_bytes", 0)   # (an empty answer's reader may lack it in older aiohttp)

    def check(self, now: float) -> float | None:
        if now >= self.total_due:
            self.expired = TOTAL
            self.task.cancel()
            return None
        response = self.response
        if response is not None:
            seen = getattr(response.content, "total_bytes", 0)
            if seen != self.seen:   # it grew since the last look: the silence starts no earlier than now
                self.seen, self.since = seen, now
        limit = self.since + (self.read if response is not None else self.head_within)
        if now < limit:
            return min(limit, now + self.step, self.total_due)
        self.expired = READ
        self.task.cancel()
        return None

    def close(self) -> str | None:
        """Forget the watch; READ or TOTAL when it cancelled the call (that cancel is then taken back: the
        call becomes a read timeout, or a total one, unless someone else cancelled it too), else None."""
        self.keeper.calls.pop(self.key, None)
        expired = self.expired
        if expired is not None:
            self.expired = None
            return expired if self.task.uncancel() <= self.cancelling else None
        return None


READ, TOTAL = "read", "total"   # what a ReadWatch's cancel was for


class DeadlineKeeper:
    """The total deadlines of a loop's calls, and one timer for the earliest of them.

    asyncio.timeout per call costs a timer (a heap push and a cancel) per call, about 10 µs here;
    with every call given the same total, a new deadline is never the earliest, so opening one is a
    dict insert, and the one timer fires at most once per deadline that passes. It keeps the calls'
    ReadWatches the same way.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.calls: dict[int, Deadline | ReadWatch] = {}
        self.keys = itertools.count(1)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = math.inf   # when the timer fires (TimerHandle.when() is a call more per open)

    def open(self, seconds: float) -> Deadline:
        due = self.loop.time() + seconds
        deadline = Deadline(self, next(self.keys), due, time.monotonic() + seconds, asyncio.current_task(self.loop))
        self.calls[deadline.key] = deadline
        if due < self.timer_due:
            self._arm(due)
        return deadline

    def watch(self, read: float, connect: float, total_due: float = math.inf) -> ReadWatch:
        """A read watch for the current task's attempt (see ReadWatch), keeping the call's total deadline
        `total_due` (on the loop's clock) too; `close` it after."""
        loop = self.loop
        watch = ReadWatch(self, next(self.keys), read, connect, loop.time(), asyncio.current_task(loop), total_due)
        self.calls[watch.key] = watch
        if watch.due < self.timer_due:
            self._arm(watch.due)
        return watch

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.timer_due = self.loop.call_at(when, self._fire), when

    def _fire(self) -> None:
        self.timer, self.timer_due = None, math.inf
        now = self.loop.time()
        soon = now + 0.002   # a watch due this soon is looked at now: looking early is harmless
        earliest = None
        for entry in list(self.calls.values()):
            if entry.due <= soon:
                due = entry.check(now)
                if due is None:
                    self.calls.pop(entry.key, None)
                    continue
                entry.due = due
            if earliest is None or entry.due < earliest:
                earliest = entry.due
        if earliest is not None:
            self._arm(earliest)


_keepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DeadlineKeeper]" = weakref.WeakKeyDictionary()


def deadline_keeper(loop: asyncio.AbstractEventLoop | None = None) -> DeadlineKeeper:
    """The DeadlineKeeper of `loop` (the running loop by default)."""
    loop = loop or asyncio.get_running_loop()
    keeper = _keepers.get(loop)
    if keeper is None:
        keeper = _keepers[loop] = DeadlineKeeper(loop)
    return keeper


@functools.lru_cache(maxsize=16)
def verified_context(cafile: str | None) -> ssl.SSLContext:
    """The TLS context that verifies against `cafile` (None: the system's CAs), made once a process:
    loading the system's CA bundle took 19 ms of a new AsyncClient's first call (22 ms in all, with
    its document's validators already compiled), even for a plain http:// server."""
    return ssl.create_default_context(cafile=cafile)


class Fault(Exception):
    """A failed attempt: the typed error, and whether the request may have reached the server."""

    def __init__(self, error: APIConnectionError, sent: bool):
        self.error, self.sent = error, sent


class AsyncTransport:
    """Sends requests on an aiohttp session (made in the running loop on first use); owns the pool."""

    def __init__(self, *, verify: bool = True, ca_certs: str | None = None, pool_maxsize: int = 10,
                 max_connections: int | None = None, max_redirects: int = 5, proxy: Proxy = None):
        if isinstance(proxy, str) and proxy:
            proxy = with_scheme(proxy)
            url, credentials = split_credentials(proxy)
            if credentials:
                REDACTOR.add(credentials[1])
        self.proxy = proxy
        self.max_redirects = max_redirects
        self._verify, self._ca_certs = verify, ca_certs
        self._limit = max_connections or DEFAULT_MAX_CONNECTIONS
        self.capacity = self._limit   # connections open at once (what a run's concurrency may use)
        self._keep = pool_maxsize
        self._session: aiohttp.ClientSession | None = None
        self._keeper: DeadlineKeeper | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, tuple[str, aiohttp.BasicAuth | None] | None] = {}   # origin -> proxy
        self._targets: dict[str, tuple[yarl.URL, str | None, aiohttp.BasicAuth | None]] = {}   # see _target
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}
        guard_loggers()

    # --- the session -------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self._verify:
            return False
        return verified_context(self._ca_certs)

    def session(self, loop: asyncio.AbstractEventLoop | None = None) -> aiohttp.ClientSession:
        """The session of the running loop, `loop` when the caller has it already (a client used from
        another loop gets a new one)."""
        loop = loop or asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=self._ssl(), keepalive_timeout=60)
        session = self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),      # cookies are parameters, never state
            timeout=aiohttp.ClientTimeout(total=None))
        # aiohttp re-sends an idempotent request once, on its own, when a connection drops; the
        # policy decides retries here (and counts them), so that one is turned off where it exists.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        self._loop = loop
        return session

    def keeper(self, loop: asyncio.AbstractEventLoop | None = None) -> DeadlineKeeper:
        """The running loop's DeadlineKeeper (of `loop` when the caller has it already), remembered for
        the loop this transport last ran on."""
        loop = loop or asyncio.get_running_loop()
        if self._keeper is None or self._keeper.loop is not loop:
            self._keeper = deadline_keeper(loop)
        return self._keeper

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def close_outside_loop(self) -> None:
        """Close from code that runs no loop (a fixture's teardown): on the session's own loop if it
        is still open; a loop already closed has closed the connections with it."""
        session, loop, self._session = self._session, self._loop, None
        if session is None or session.closed:
            return
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(session.close())
            return
        connector = session.connector
        session.detach()
        if connector is not None:
            try:   # mark it closed; its transports died with their loop
                close = connector.close()
                getattr(close, "close", lambda: None)()   # an awaitable that will never be awaited
            except RuntimeError:   # "Event loop is closed", from a transport it tried to close
                pass

    def _proxy(self, url: str) -> tuple[str, aiohttp.BasicAuth | None] | None:
        end = url.find("/", url.find("://") + 3)
        origin = url if end < 0 else url[:end]   # scheme://host:port: the same for every call of a client
        if origin not in self._proxies:
            origin = redirects.split_origin(url)[0]
            found = proxy_for(self.proxy, origin)
            if found is None:
                self._proxies[origin] = None
            else:
                plain, credentials = split_credentials(found)
                if credentials:
                    REDACTOR.add(credentials[1])
                self._proxies[origin] = (plain, aiohttp.BasicAuth(*credentials) if credentials else None)
        return self._proxies[origin]

    def _target(self, url: str) -> tuple[yarl.URL, str | None, aiohttp.BasicAuth | None]:
        """The URL as aiohttp takes it, already encoded (never re-quoted), and the proxy that carries
        requests to it with the proxy's credentials (or None, None); the last few URLs are kept."""
        found = self._targets.get(url)
        if found is None:
            if len(self._targets) >= 256:
                self._targets.clear()
            proxy = self._proxy(url)
            found = self._targets[url] = (yarl.URL(url, encoded=True), *(proxy or (None, None)))
        return found

    def _timeout(self, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        found = self._timeouts.get((connect, read))
        if found is None:
            if len(self._timeouts) >= 64:   # near a deadline each call has its own: keep few
                self._timeouts.clear()
            found = self._timeouts[(connect, read)] = aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=connect, sock_read=read)
        return found

    # --- a call --------------------------------------------------------------------------

    async def send(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy, *,
                   stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
                   on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        """As Transport.send: retries as the policy decides, within `timeout.total`; a streamed success
        comes back unread (`RawResponse.stream` is the open aiohttp response)."""
        # The loop, once a call: on Python 3.11 every asyncio.get_running_loop() (and current_task()
        # without a loop) is a getpid system call, which no instruction count shows.
        loop = asyncio.get_running_loop()
        keeper = self.keeper(loop)
        watched = not stream and sys.version_info >= (3, 11) and watches_head(timeout, request.body)
        deadline = None   # the call's total deadline, kept apart when no watch keeps it
        total_due, at = math.inf, None   # a watched call's, on the loop's clock and on time.monotonic
        if timeout.total is not None:
            if sys.version_info < (3, 11):   # pragma: no cover - no Task.uncancel: the slower, plain way
                return await self._send_within(request, timeout, policy, stream, max_bytes, on_progress)
            if watched:   # each attempt's watch keeps it (between attempts, Attempts waits only within it)
                total_due, at = loop.time() + timeout.total, time.monotonic() + timeout.total
            else:
                deadline = keeper.open(timeout.total)
                at = deadline.at
        started = time.perf_counter()
        attempts = Attempts(policy, request, at)
        try:
            while True:
                attempt_started = time.perf_counter()
                watch = None
                if watched:
                    connect, read = timeout.remaining(attempts.deadline, time.monotonic())
                    watch = keeper.watch(read, connect, total_due)
                try:
                    try:
                        response, where = await self._attempt(request, timeout, attempts.deadline, on_progress,
                                                              watch, loop)
                        try:
                            if watch is not None:
                                watch.body(response)
                            data = b"" if stream and response.status < 400 else \
                                await read_body(response, max_bytes, where)
                        except APIConnectionError as exc:
                            raise Fault(exc, True) from None
                    except asyncio.CancelledError:
                        expired = watch.close() if watch is not None else None   # the watch's own cancel?
                        if expired is READ:
                            raise Fault(fault_error(READ_TIMEOUT, watch.where), True) from None
                        if expired is TOTAL:
                            raise total_timeout_error(timeout.total, request.operation_id) from None
                        raise
                    finally:
                        if watch is not None:
                            watch.close()
                except Fault as fault:
                    attempts.log(fault.error, attempt_started)
                    await asyncio.sleep(attempts.after_fault(fault.error, fault.sent, time.monotonic()))
                    continue
                headers = response.headers   # case-insensitive already; copied only for an APIStatusError
                if log.isEnabledFor(logging.DEBUG):
                    attempts.log(response.status, attempt_started, headers)
                wait = None if response.status < 400 else \
                    attempts.after_answer(response.status, headers, data, time.monotonic())
                if wait is None:
                    return RawResponse(response.status, headers, data, time.perf_counter() - started,
                                       attempts.number, response if stream and response.status < 400 else None,
                                       where.url, where.read_timeout, where.redirected_by)
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            if deadline is not None and deadline.close(expired_now=True):
                raise total_timeout_error(timeout.total, request.operation_id) from None
            raise
        finally:
            if deadline is not None:
                deadline.close()

    async def _send_within(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy, stream: bool,
                           max_bytes: int | None, on_progress: Any) -> RawResponse:   # pragma: no cover
        try:
            return await asyncio.wait_for(self.send(request, Timeout(timeout.connect, timeout.read, None), policy,
                                                    stream=stream, max_bytes=max_bytes, on_progress=on_progress),
                                          timeout.total)
        except asyncio.TimeoutError:
            raise total_timeout_error(timeout.total, request.operation_id) from None

    async def _attempt(self, request: PreparedRequest, timeout: Timeout, deadline: float | None,
                       on_progress: Callable[[int, int], None] | None, watch: ReadWatch | None = None,
                       loop: asyncio.AbstractEventLoop | None = None) -> tuple[aiohttp.ClientResponse, Where]:
        """One attempt, following redirects (core/redirects.py decides where, and with which headers);
        with a `watch`, it bounds the waits for the heads, and aiohttp is given no read timeout."""
        method, url, headers, body = request.method, request.url, request.headers, request.body
        redirected_by = None
        for hop in range(self.max_redirects + 1):
            connect, read = timeout.remaining(deadline, time.monotonic())
            where = Where(request.operation_id, url, read, redirected_by)
            if watch is not None:
                if hop:
                    watch.restart(watch.keeper.loop.time(), where)
                else:
                    watch.where = where
            target, proxy, proxy_auth = self._target(url)
            try:
                response = await self.session(loop).request(
                    method, target, allow_redirects=False,
                    # a plain dict: aiohttp copies a dict subclass item by item (2,000 instructions more)
                    headers=dict(headers) if type(headers) is Headers else headers,
                    data=_async_chunks(body, on_progress) if isinstance(body, ReplayableBody) else body,
                    timeout=self._timeout(connect, None if watch is not None else read),
                    skip_auto_headers=skipped_auto_headers(headers),
                    proxy=proxy, proxy_auth=proxy_auth)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                kind, reason = classify(exc)
                raise Fault(fault_error(kind, where, seconds=connect, reason=reason, detail=exc),
                            sent=kind not in BEFORE_SENDING) from None
            except ValueError as exc:   # a URL or header aiohttp refuses: final
                raise fault_error(UNSENDABLE, where, reason=str(exc), detail=exc) from None
            if response.status not in redirects.REDIRECT_STATUSES:   # most answers: nothing to follow
                return response, where
            location = response.headers.get("Location") if hop < self.max_redirects else None
            following = redirects.follow(method, url, headers, body, response.status, location)
            if following is None:
                return response, where
            await discard(response)
            log.debug("redirected %s -> %s%s", log_path(url), log_path(following.url),
                      " (another origin: credentials dropped)" if following.cross_origin else "")
            method, url, headers, body = following.method, following.url, following.headers, following.body
            redirected_by = response.status
        raise AssertionError("unreachable")   # the last hop never follows


def skipped_auto_headers(headers: Mapping[str, str]) -> tuple[str, ...] | None:
    """The headers aiohttp must not add of its own: its User-Agent, and `application/octet-stream` for
    a POST without a Content-Type (a body-less POST has none). None when the request has both
    already, which spares aiohttp building a table of them for each request."""
    if isinstance(headers, Headers):   # as every call's are, until a redirect: one lookup for both
        return None if headers.has_all(AUTO_HEADERS) else AUTO_HEADERS
    return None if all(name in headers for name in AUTO_HEADERS) else AUTO_HEADERS


AUTO_HEADERS = ("User-Agent", "Content-Type")


async def _async_chunks(body: ReplayableBody, on_progress: Callable[[int, int], None] | None) -> AsyncIterator[bytes]:
    for chunk in body.chunks(on_progress):   # files are read a MiB at a time: short, local reads
        yield chunk


async def read_body(response: aiohttp.ClientResponse, max_bytes: int | None, where: Where) -> bytes:
    """The whole (decoded) body, refusing more than `max_bytes`; the connection goes back to the pool."""
    length = response.content_length
    if length is not None and (max_bytes is None or length <= max_bytes) and not response.headers.get(
            "Content-Encoding"):
        try:   # an honest, uncompressed length within the limit: one read
            data = await response.read()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            response.close()
            raise typed(exc, where) from None
        except BaseException:   # cancelled mid-body
            response.close()
            raise
        response.release()
        return data
    chunks, size = [], 0
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, where.operation_id)   # never drain a bomb: drop it
            chunks.append(chunk)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        response.close()
        raise typed(exc, where) from None
    except BaseException:   # too large, or cancelled mid-body: the connection holds an unread remainder
        response.close()
        raise
    response.release()
    return b"".join(chunks)


async def iter_body(response: aiohttp.ClientResponse, where: Where, chunk_size: int = CHUNK,
                    max_bytes: int | None = None) -> AsyncIterator[bytes]:
    """A streamed body in chunks as they arrive, faults typed; closes the response at the end."""
    size = 0
    try:
        while chunk := await response.content.read(chunk_size):   # what has arrived, at most chunk_size
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, where.operation_id)
            yield chunk
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        raise typed(exc, where) from None
    finally:
        release(response)


def release(response: aiohttp.ClientResponse) -> None:
    """Give the connection back when the body was read to its end; otherwise close it."""
    if response.content.at_eof():
        response.release()
    else:
        response.close()


async def discard(response: aiohttp.ClientResponse) -> None:
    """A redirect's body: a short one is read so the connection is kept, a long one closes it."""
    if response.content_length is not None and response.content_length <= CHUNK:
        try:
            await response.read()
        except (aiohttp.ClientError, OSError):
            pass
    release(response)


def classify(exc: BaseException) -> tuple[str, str | None]:
    """The kind of an aiohttp failure (core/faults.py), and its reason where it has one."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        verify = exc.certificate_error
        return TLS_VERIFY, getattr(verify, "verify_message", None) or str(verify)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return CONNECT, strerror(exc.os_error)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return CONNECT_TIMEOUT, None
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return READ_TIMEOUT, None
    if isinstance(exc, aiohttp.ClientPayloadError) and "encoding" in str(exc).lower():
        return DECODE, None
    return LOST, None


def typed(exc: BaseException, where: Where) -> APIConnectionError:
    kind, reason = classify(exc)
    return fault_error(kind, where, reason=reason, detail=exc)
