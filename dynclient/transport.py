"""urllib3 underneath: the sync shell's bytes. One PoolManager per client, TLS verified, typed faults.

Every urllib3 failure becomes a dynclient error: a timeout is an
APITimeoutError, anything else that prevents an HTTP exchange an
APIConnectionError. What to retry and how long to wait is the core's decision
(``core/policy.py``), where a redirect goes and which headers follow it too
(``core/redirects.py``); this module sends, reads, sleeps, and keeps the
total deadline of a call (``deadline.py``). Nothing here knows about OpenAPI.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Callable, Iterator, Mapping

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, EmptyPoolError, HTTPError, NewConnectionError, ReadTimeoutError,
                                SSLError, TimeoutError as Urllib3Timeout)

from . import deadline as deadlines
from .core import redirects
from .core.redirects import split_origin
from .codecs import ReplayableBody
from .core.call import DEFAULT_MAX_RESPONSE_BYTES, PreparedRequest, RawResponse
from .core.policy import Attempts, RetryPolicy, Timeout, log_path, watches_head
from .core.redact import REDACTOR, guard_loggers
from .core.faults import (BEFORE_SENDING, CONNECT, CONNECT_TIMEOUT, DECODE, LOST, POOL_TIMEOUT, READ_TIMEOUT,
                          TLS_VERIFY, UNSENDABLE, Where, fault_error, strerror, total_timeout_error)
from .errors import APIConnectionError, APITimeoutError, ResponseTooLargeError
from .proxies import Proxy, proxy_for, proxy_manager, split_credentials, with_scheme

log = logging.getLogger("dynclient")

CHUNK = 64 * 1024
# What `retries=False` means to urllib3, made once: urlopen would build a Retry from False per request.
NO_RETRIES = urllib3.Retry(False, redirect=False)


# --- connections that keep a deadline ------------------------------------------------


class DeadlineConnection(HTTPConnection):
    """A connection that registers its socket with the running call's Deadline (deadline.py), so the
    watchdog can end a read or write that outlasts the call's total, and that, when the Deadline is
    armed, lets its socket block while the call waits for the answer's head (the watchdog keeps the
    read timeout then)."""

    def connect(self) -> None:
        running = deadlines.current()
        if running is not None:
            running.drop()   # connecting: bounded by the connect timeout, on a socket not made yet
        super().connect()
        if running is not None:
            running.watch(self.sock)
            if running.read is not None:
                self.sock.settimeout(None)

    def request(self, *args: Any, **kwargs: Any) -> None:
        running = deadlines.current()
        if running is None:
            return super().request(*args, **kwargs)
        if self.sock is not None:   # a kept-alive connection, reused
            running.watch(self.sock)
            if running.read is not None:
                self.timeout = None   # urllib3 gives the socket this timeout before sending
        super().request(*args, **kwargs)
        running.sent()


class DeadlineHTTPSConnection(DeadlineConnection, HTTPSConnection):
    pass


class DeadlinePool(HTTPConnectionPool):
    ConnectionCls = DeadlineConnection


class DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlinePool, "https": DeadlineHTTPSPool}


class Fault(Exception):
    """A failed attempt: the typed error, and whether the request may have reached the server."""

    def __init__(self, error: APIConnectionError, sent: bool):
        self.error, self.sent = error, sent


class Transport:
    """Sends requests, retries what the policy retries, returns bytes or an open stream; owns the pool."""

    def __init__(self, *, verify: bool = True, ca_certs: str | None = None, pool_maxsize: int = 10,
                 max_connections: int | None = None, max_redirects: int = 5, proxy: Proxy = None):
        # With max_connections, a pool holds at most that many and a call waits (up to its connect
        # timeout) for a free one; without, urllib3 opens more when all are busy and keeps pool_maxsize.
        self._pool_options = {"maxsize": max_connections or pool_maxsize, "block": max_connections is not None,
                              "cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE", "ca_certs": ca_certs}
        self.pool = self._with_deadlines(urllib3.PoolManager(**self._pool_options))
        self._proxy_managers: dict[str, urllib3.ProxyManager] = {}   # by proxy URL without credentials
        if isinstance(proxy, str) and proxy:   # built now: a bad proxy fails here, and its credentials
            proxy = with_scheme(proxy)   # live only in its ProxyManager
            self._proxy_manager(proxy)
            proxy = split_credentials(proxy)[0]
        self.proxy = proxy
        self.max_redirects = max_redirects
        # origin -> its HTTPConnectionPool (direct), or the ProxyManager that carries it (see _route)
        self._routes: dict[str, Any] = {}
        self._targets: dict[str, tuple[Any, str]] = {}   # URL -> (its route, its target): the last few
        self._timeouts: dict[tuple, urllib3.Timeout] = {}
        guard_loggers()   # urllib3 has made the loggers it logs to by now

    @staticmethod
    def _with_deadlines(manager: urllib3.PoolManager) -> urllib3.PoolManager:
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def send(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy, *,
             stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        """Send, retrying as the policy decides (core/policy.py), within `timeout.total`. A streamed
        success comes back unread (`RawResponse.stream`); everything else, error answers included,
        comes back read whole (at most `max_bytes`)."""
        watch = watches_head(timeout, request.body)   # the watchdog keeps its read timeout (deadline.Deadline)
        if timeout.total is None and not watch:
            return self._send(request, timeout, policy, None, False, stream, max_bytes, on_progress)
        with deadlines.Deadline(timeout.total) as deadline:
            return self._send(request, timeout, policy, deadline, watch, stream, max_bytes, on_progress)

    def _send(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy,
              deadline: deadlines.Deadline | None, watch: bool, stream: bool, max_bytes: int | None,
              on_progress: Callable[[int, int], None] | None) -> RawResponse:
        started = time.perf_counter()
        attempts = Attempts(policy, request, deadline.at if deadline else None)
        while True:
            attempt_started = time.perf_counter()
            try:
                response, where = self._attempt(request, timeout, deadline, watch, on_progress)
                try:
                    data = b"" if stream and response.status < 400 else read_body(response, max_bytes, where)
                except APIConnectionError as exc:
                    raise Fault(exc, True) from None
            except Fault as fault:
                error = self._expired(deadline, request) or fault.error
                if deadline is not None:
                    deadline.drop()
                attempts.log(error, attempt_started)
                time.sleep(attempts.after_fault(error, fault.sent, time.monotonic()))
                continue
            if deadline is not None:
                deadline.drop()
            attempts.log(response.status, attempt_started, response.headers)
            wait = attempts.after_answer(response.status, response.headers, data, time.monotonic())
            if wait is None:
                return RawResponse(response.status, response.headers, data, time.perf_counter() - started,
                                   attempts.number, response if stream and response.status < 400 else None,
                                   where.url, where.read_timeout, where.redirected_by)
            time.sleep(wait)

    @staticmethod
    def _expired(deadline: deadlines.Deadline | None, request: PreparedRequest) -> APITimeoutError | None:
        if deadline is None or not (deadline.expired or deadline.left() <= 0):
            return None
        return total_timeout_error(deadline.seconds, request.operation_id)

    def _attempt(self, request: PreparedRequest, timeout: Timeout, deadline: deadlines.Deadline | None,
                 watch: bool, on_progress: Callable[[int, int], None] | None
                 ) -> tuple[urllib3.BaseHTTPResponse, Where]:
        """One attempt, following redirects (core/redirects.py decides where, and with which headers)."""
        method, url, headers, body = request.method, request.url, request.headers, request.body
        redirected_by = None
        for hop in range(self.max_redirects + 1):
            connect, read = timeout.remaining(deadline.at if deadline else None, time.monotonic())
            where = Where(request.operation_id, url, read, redirected_by)
            if watch:
                response = self._watched(deadline, method, url, body, headers, connect, read,
                                         connect == timeout.connect, where)
            else:
                response = self._open(method, url, body, headers,
                                      self._limits(connect, read, connect == timeout.connect and read == timeout.read),
                                      on_progress, where)
            if response.status not in redirects.REDIRECT_STATUSES:   # most answers: nothing to follow
                return response, where
            location = response.get_redirect_location() if hop < self.max_redirects else None
            following = redirects.follow(method, url, headers, body, response.status, location or None)
            if following is None:
                return response, where   # the answer, or a redirect past the budget: then it is the answer
            discard(response)
            if deadline is not None:
                deadline.drop()
            log.debug("redirected %s -> %s%s", log_path(url), log_path(following.url),
                      " (another origin: credentials dropped)" if following.cross_origin else "")
            method, url, headers, body = following.method, following.url, following.headers, following.body
            redirected_by = response.status
        raise AssertionError("unreachable")   # the last hop never follows

    def _watched(self, deadline: deadlines.Deadline, method: str, url: str, body: Any, headers: Mapping[str, str],
                 connect: float, read: float, usual: bool, where: Where) -> urllib3.BaseHTTPResponse:
        """One hop whose wait for the head the watchdog keeps: the socket blocks until the head has
        come, then reads the body with the read timeout, as any other answer's."""
        deadline.arm(connect, read)
        try:
            response = self._open(method, url, body, headers, self._limits(connect, None, usual), None, where)
        except Fault:
            if deadline.read_expired:   # the watchdog shut the socket: the head did not come in time
                raise Fault(fault_error(READ_TIMEOUT, where), sent=True) from None
            raise
        finally:
            deadline.disarm()
        sock = deadline.sock   # the hop's (its connection may have handed it to the answer and let go)
        if sock is not None:
            sock.settimeout(read)
        return response

    def _open(self, method: str, url: str, body: Any, headers: Mapping[str, str], timeout: urllib3.Timeout,
              on_progress: Callable[[int, int], None] | None, where: Where) -> urllib3.BaseHTTPResponse:
        """One request, one response, no redirect followed. The origin's connection pool is looked up
        once, not found again by parsing the URL and normalising a pool key (~15 µs a call, measured)."""
        if isinstance(body, ReplayableBody):   # each hop and attempt sends it from its start
            body = body.chunks(on_progress)
        options = {"body": body, "headers": headers, "timeout": timeout, "retries": NO_RETRIES, "redirect": False,
                   "preload_content": False, "decode_content": True, "pool_timeout": timeout.connect_timeout}
        found = self._targets.get(url)
        if found is None:
            if len(self._targets) >= 256:
                self._targets.clear()
            origin, target = split_origin(url)
            found = self._targets[url] = (self._route(origin) if origin else self.pool, target)
        route, target = found
        try:
            if isinstance(route, urllib3.PoolManager):   # through a proxy, or no scheme at all
                return route.urlopen(method, url, **options)
            return route.urlopen(method, target, assert_same_host=False, **options)
        except (HTTPError, OSError) as exc:
            kind, reason = classify(exc)
            raise Fault(fault_error(kind, where, seconds=timeout.connect_timeout, reason=reason, detail=exc),
                        sent=kind not in BEFORE_SENDING) from None
        except ValueError as exc:   # http.client refuses a URL or a header it cannot send: final
            raise fault_error(UNSENDABLE, where, reason=str(exc), detail=exc) from None

    def _limits(self, connect: float | None, read: float | None, usual: bool) -> urllib3.Timeout:
        """urllib3's Timeout of (connect, read), made once for the `usual` values (the call's own, far from
        its deadline; not the ones cut short by it)."""
        key = (connect, read)
        found = self._timeouts.get(key)
        if found is None:
            found = urllib3.Timeout(connect=connect, read=read)
            if usual and len(self._timeouts) < 64:
                self._timeouts[key] = found
        return found

    def _route(self, origin: str) -> Any:
        """The origin's HTTPConnectionPool, or the ProxyManager of the proxy that carries requests
        to it (decided once per origin, see dynclient/proxies.py)."""
        route = self._routes.get(origin)
        if route is None:
            proxy = proxy_for(self.proxy, origin)
            route = self._routes[origin] = (self.pool.connection_from_url(origin) if proxy is None
                                            else self._proxy_manager(proxy))
        return route

    def _proxy_manager(self, proxy: str) -> urllib3.ProxyManager:
        """The ProxyManager of a proxy URL; user info in it becomes a Proxy-Authorization header."""
        url = split_credentials(proxy)[0]
        manager = self._proxy_managers.get(url)
        if manager is None:
            manager = self._proxy_managers[url] = self._with_deadlines(
                proxy_manager(proxy, REDACTOR.add, **self._pool_options))
        return manager

    def close(self) -> None:
        """Close every kept-alive connection (urllib3's PoolManager.clear only forgets its pools)."""
        routes, self._routes, self._targets = list(self._routes.values()), {}, {}
        for route in routes:
            if not isinstance(route, urllib3.PoolManager):
                route.close()
        for manager in (self.pool, *self._proxy_managers.values()):
            manager.clear()


# --- responses ------------------------------------------------------------------------


def read_body(response: urllib3.BaseHTTPResponse, max_bytes: int | None, where: Where) -> bytes:
    """The whole (decoded) body, refusing more than `max_bytes`; the connection goes back to the pool."""
    if not response.headers.get("Content-Encoding"):
        # An honest, uncompressed length within the limit: one read, as preload_content does.
        length = response.length_remaining
        if length is not None and (max_bytes is None or length <= max_bytes):
            try:
                return response.read()
            except (HTTPError, OSError) as exc:
                raise typed(exc, where) from None
            finally:
                release(response)
    chunks, size = [], 0
    try:
        for chunk in response.stream(CHUNK, decode_content=True):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, where.operation_id)   # never drain a bomb: drop it
            chunks.append(chunk)
    except (HTTPError, OSError) as exc:
        raise typed(exc, where) from None
    finally:
        release(response)
    return b"".join(chunks)


def iter_body(response: urllib3.BaseHTTPResponse, where: Where, chunk_size: int = CHUNK,
              max_bytes: int | None = None) -> Iterator[bytes]:
    """The body of a streamed response in chunks, with faults made typed; closes the response at the end."""
    size = 0
    try:
        # read1 hands over what has arrived (an event must not wait for 64 KB more to come)
        while chunk := response.read1(chunk_size, decode_content=True):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, where.operation_id)
            yield chunk
    except (HTTPError, OSError) as exc:
        raise typed(exc, where) from None
    finally:
        release(response)


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back when the body was read to its end; otherwise close it (an unread
    remainder would poison the next request on that connection)."""
    if not response.isclosed():
        response.close()
    response.release_conn()


def discard(response: urllib3.BaseHTTPResponse) -> None:
    """Done with an answer nobody reads (a redirect): a short body is drained so the connection is
    kept; a long or unknown one is not read at all, the connection is closed."""
    remaining = response.length_remaining
    if remaining is not None and remaining <= CHUNK and not response.headers.get("Content-Encoding"):
        try:
            response.drain_conn()
        except HTTPError:
            pass
    release(response)


def classify(exc: BaseException) -> tuple[str, str | None]:
    """The kind of a urllib3 failure (core/faults.py), and its reason where it has one."""
    if isinstance(exc, SSLError):
        verify = next((arg for arg in exc.args if isinstance(arg, ssl.SSLCertVerificationError)), None)
        if verify is not None:
            return TLS_VERIFY, verify.verify_message or str(verify)
    if isinstance(exc, EmptyPoolError):
        return POOL_TIMEOUT, None
    # urllib3 makes NewConnectionError (refused, DNS failure) a subclass of ConnectTimeoutError.
    if isinstance(exc, NewConnectionError):
        return CONNECT, strerror(exc)
    if isinstance(exc, ConnectTimeoutError):
        return CONNECT_TIMEOUT, None
    if isinstance(exc, (ReadTimeoutError, Urllib3Timeout, TimeoutError)):   # also socket.timeout, raw
        return READ_TIMEOUT, None
    if isinstance(exc, DecodeError):
        return DECODE, None
    return LOST, None


def typed(exc: BaseException, where: Where) -> APIConnectionError:
    kind, reason = classify(exc)
    return fault_error(kind, where, reason=reason, detail=exc)
