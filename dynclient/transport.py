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
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, HTTPError, NewConnectionError, ReadTimeoutError,
                                SSLError, TimeoutError as Urllib3Timeout)

from . import deadline as deadlines
from .core import redirects
from .core.policy import DEFAULT_TIMEOUT, RetryPolicy, Timeout
from .core.redact import REDACTOR, guard_loggers
from .errors import (APIConnectionError, APITimeoutError, CertificateVerifyError, ResponseDecodeError,
                     ResponseTooLargeError)
from .proxies import Proxy, proxy_for, proxy_manager, split_credentials, with_scheme

log = logging.getLogger("dynclient")

DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})
CHUNK = 64 * 1024
# Connection failures that another attempt would only repeat.
FINAL_ERRORS = (ResponseDecodeError, ResponseTooLargeError, CertificateVerifyError)


class Headers(dict):
    """Request headers: a plain dict, so urllib3 sends it without a copy, whose names match without
    regard to case (a per-call `openai-beta` replaces a default `OpenAI-Beta`) and whose repr never
    shows a credential. A request has a handful of headers, so a name is found by a short scan."""

    __slots__ = ("sensitive",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str):
        super().__init__()
        self.sensitive: frozenset[str] = SENSITIVE_HEADERS
        self.update(items, **more)

    def _key(self, name: str) -> str | None:
        """The spelling under which `name` is stored, or None."""
        if dict.__contains__(self, name):
            return name
        lower = name.lower()
        return next((key for key in self if key.lower() == lower), None)

    def __getitem__(self, name: str) -> str:
        key = self._key(name)
        if key is None:
            raise KeyError(name)
        return dict.__getitem__(self, key)

    def __setitem__(self, name: str, value: str) -> None:
        key = self._key(name)
        if key is not None and key != name:
            dict.__delitem__(self, key)
        dict.__setitem__(self, name, value)

    def __delitem__(self, name: str) -> None:
        key = self._key(name)
        if key is None:
            raise KeyError(name)
        dict.__delitem__(self, key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        key = self._key(name)
        return default if key is None else dict.__getitem__(self, key)

    def pop(self, name: str, *default: Any) -> Any:
        key = self._key(name)
        return dict.pop(self, name if key is None else key, *default)

    def setdefault(self, name: str, default: str) -> str:
        key = self._key(name)
        if key is None:
            dict.__setitem__(self, name, default)
            return default
        return dict.__getitem__(self, key)

    def update(self, items: Any = (), /, **more: str) -> None:   # type: ignore[override]
        if not items and not more:
            return
        for name, value in (items.items() if isinstance(items, Mapping) else items):
            self[name] = value
        for name, value in more.items():
            self[name] = value

    def copy(self) -> "Headers":   # urllib3 copies the headers of every request: kept cheap
        clone = Headers.__new__(Headers)
        dict.update(clone, self)
        clone.sensitive = self.sensitive
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {k.lower(): v for k, v in self.items()} == {str(k).lower(): v for k, v in other.items()}

    __hash__ = None   # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr({k: ("<redacted>" if k.lower() in self.sensitive else v) for k, v in self.items()})


def log_from_environment(value: str | None = None) -> None:
    """`DYNCLIENT_LOG=debug` (or info) logs every attempt to stderr, as `OPENAI_LOG` does for openai."""
    level = (value if value is not None else os.environ.get("DYNCLIENT_LOG", "")).strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING") or getattr(log, "_dynclient_handler", None):
        return
    handler = logging.StreamHandler()
    handler.addFilter(REDACTOR)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log._dynclient_handler = handler   # type: ignore[attr-defined]


log_from_environment()


# --- request bodies that can be sent again ------------------------------------------


class ReplayableBody:
    """A request body produced in chunks, of known length, that can be produced again from the
    start (a retry sends it byte for byte again). `parts` is a function returning a fresh iterator."""

    def __init__(self, parts: Callable[[], Iterator[bytes]], length: int):
        self._parts = parts
        self.length = length

    def chunks(self, on_progress: Callable[[int, int], None] | None = None) -> Iterator[bytes]:
        sent = 0
        for chunk in self._parts():
            sent += len(chunk)
            yield chunk
            if on_progress is not None:
                on_progress(sent, self.length)

    def read(self) -> bytes:
        """The whole body in memory (for inspection and tests; sending streams it)."""
        return b"".join(self._parts())

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"<ReplayableBody {self.length} bytes>"


# --- responses ------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    """An answer as the transport got it: status, headers, the body's bytes (or the open stream)."""

    status: int
    headers: urllib3.HTTPHeaderDict
    data: bytes
    elapsed: float
    attempts: int = 1
    stream: Any = field(default=None, repr=False)   # the open urllib3 response when streamed


class Outgoing(Protocol):
    """One request as the transport sends it (the client's PreparedRequest is one)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | ReplayableBody | None
    operation_id: str | None


class DeadlineConnection(HTTPConnection):
    """A connection that registers its socket with the running call's total deadline (deadline.py), so
    the watchdog can end a read or write that outlasts it."""

    def connect(self) -> None:
        super().connect()
        running = deadlines.current()
        if running is not None:
            running.watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        running = deadlines.current()
        if running is not None and self.sock is not None:   # a kept-alive connection, reused
            running.watch(self.sock)
        super().request(*args, **kwargs)


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
                 max_redirects: int = 5, proxy: Proxy = None):
        self._pool_options = {"maxsize": pool_maxsize, "cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE",
                              "ca_certs": ca_certs}
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
        self._timeouts: dict[tuple, urllib3.Timeout] = {}
        guard_loggers()   # urllib3 has made the loggers it logs to by now

    @staticmethod
    def _with_deadlines(manager: urllib3.PoolManager) -> urllib3.PoolManager:
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def send(self, request: Outgoing, timeout: Timeout, policy: RetryPolicy, *,
             stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        """Send with retries, within `timeout.total`. A streamed success comes back unread
        (`RawResponse.stream`); everything else, error answers included, comes back read whole (at most
        `max_bytes`)."""
        if timeout.total is None:
            return self._send(request, timeout, policy, None, stream, max_bytes, on_progress)
        with deadlines.Deadline(timeout.total) as deadline:
            return self._send(request, timeout, policy, deadline, stream, max_bytes, on_progress)

    def _send(self, request: Outgoing, timeout: Timeout, policy: RetryPolicy, deadline: deadlines.Deadline | None,
              stream: bool, max_bytes: int | None, on_progress: Callable[[int, int], None] | None) -> RawResponse:
        started = time.perf_counter()
        retry = 0
        while True:
            attempt_started = time.perf_counter()
            try:
                response = self._attempt(request, timeout, deadline, on_progress)
                try:
                    data = b"" if stream and response.status < 400 else \
                        read_body(response, max_bytes, request.operation_id)
                except APIConnectionError as exc:
                    raise Fault(exc, True) from None
            except Fault as fault:
                error = self._expired(deadline, request) or fault.error
                self._log_attempt(request, retry, None, attempt_started, None, error)
                if isinstance(error, FINAL_ERRORS) or retry >= policy.max_retries \
                        or not policy.retries_fault(request.method, fault.sent) \
                        or not self._wait(request, retry + 1, policy.delay(retry + 1), error, deadline):
                    raise error from None
                retry += 1
                continue
            self._log_attempt(request, retry, response.status, attempt_started,
                              response.headers.get("x-request-id"), None)
            if response.status >= 400 and retry < policy.max_retries \
                    and policy.retries_status(response.status, response.headers, data) \
                    and self._wait(request, retry + 1, policy.delay(retry + 1, response.headers),
                                   f"HTTP {response.status}", deadline):
                retry += 1
                continue
            return RawResponse(response.status, response.headers, data, time.perf_counter() - started,
                               retry + 1, response if stream and response.status < 400 else None)

    @staticmethod
    def _expired(deadline: deadlines.Deadline | None, request: Outgoing) -> APITimeoutError | None:
        if deadline is None or not (deadline.expired or deadline.left() <= 0):
            return None
        return APITimeoutError(f"total timeout: the call took longer than its {deadline.seconds:g} s",
                               request.operation_id)

    def _attempt(self, request: Outgoing, timeout: Timeout, deadline: deadlines.Deadline | None,
                 on_progress: Callable[[int, int], None] | None) -> urllib3.BaseHTTPResponse:
        """One attempt, following redirects (core/redirects.py decides where, and with which headers)."""
        method, url, headers, body = request.method, request.url, request.headers, request.body
        for hop in range(self.max_redirects + 1):
            response = self._open(method, url, body, headers, self._urllib3_timeout(timeout, deadline), on_progress,
                                  request.operation_id)
            location = response.get_redirect_location() if hop < self.max_redirects else None
            following = redirects.follow(method, url, headers, body, response.status, location or None)
            if following is None:
                return response   # the answer, or a redirect past the budget: then it is the answer
            discard(response)
            log.debug("redirected %s -> %s%s", _path(url), _path(following.url),
                      " (another origin: credentials dropped)" if following.cross_origin else "")
            method, url, headers, body = following.method, following.url, following.headers, following.body
        raise AssertionError("unreachable")   # the last hop never follows

    def _open(self, method: str, url: str, body: Any, headers: Mapping[str, str], timeout: urllib3.Timeout,
              on_progress: Callable[[int, int], None] | None, operation_id: str | None) -> urllib3.BaseHTTPResponse:
        """One request, one response, no redirect followed. The origin's connection pool is looked up
        once, not found again by parsing the URL and normalising a pool key (~15 µs a call, measured)."""
        if isinstance(body, ReplayableBody):   # each hop and attempt sends it from its start
            body = body.chunks(on_progress)
        options = {"body": body, "headers": headers, "timeout": timeout, "retries": False, "redirect": False,
                   "preload_content": False, "decode_content": True}
        origin, target = split_origin(url)
        route = self._route(origin) if origin else self.pool
        try:
            if isinstance(route, urllib3.PoolManager):   # through a proxy, or no scheme at all
                return route.urlopen(method, url, **options)
            return route.urlopen(method, target, assert_same_host=False, **options)
        except (HTTPError, OSError) as exc:
            raise Fault(_typed(exc, operation_id), sent=not _before_sending(exc)) from None
        except ValueError as exc:   # http.client refuses a URL or a header it cannot send: final
            raise APIConnectionError(f"the request could not be sent: {exc}", operation_id) from None

    def _urllib3_timeout(self, timeout: Timeout, deadline: deadlines.Deadline | None) -> urllib3.Timeout:
        connect, read = timeout.remaining(deadline.at if deadline else None, time.monotonic())
        key = (connect, read)
        found = self._timeouts.get(key)
        if found is None:
            found = urllib3.Timeout(connect=connect, read=read)
            if connect == timeout.connect and read == timeout.read and len(self._timeouts) < 64:
                self._timeouts[key] = found   # the usual case: far from the deadline, the same each call
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

    def _wait(self, request: Outgoing, retry: int, seconds: float, why: Any,
              deadline: deadlines.Deadline | None) -> bool:
        """Sleep before retry `retry`; False (and no sleep) when the wait would pass the deadline."""
        if deadline is not None and seconds >= deadline.left():
            log.info("%s: not retrying %s %s after %s: the total timeout would pass first", request.operation_id,
                     request.method, _path(request.url), why)
            return False
        log.info("%s: retrying %s %s in %.2f s (retry %d) after %s", request.operation_id, request.method,
                 _path(request.url), seconds, retry, why)
        time.sleep(seconds)
        return True

    @staticmethod
    def _log_attempt(request: Outgoing, retry: int, status: int | None, started: float,
                     request_id: str | None, error: Exception | None) -> None:
        if log.isEnabledFor(logging.DEBUG):
            outcome = status if error is None else f"{type(error).__name__}"
            log.debug("%s %s %s -> %s in %.1f ms (attempt %d) [request id %s]", request.operation_id,
                      request.method, _path(request.url), outcome, (time.perf_counter() - started) * 1000,
                      retry + 1, request_id)

    def close(self) -> None:
        """Close every kept-alive connection (urllib3's PoolManager.clear only forgets its pools)."""
        routes, self._routes = list(self._routes.values()), {}
        for route in routes:
            if not isinstance(route, urllib3.PoolManager):
                route.close()
        for manager in (self.pool, *self._proxy_managers.values()):
            manager.clear()


def read_body(response: urllib3.BaseHTTPResponse, max_bytes: int | None, operation_id: str | None) -> bytes:
    """The whole (decoded) body, refusing more than `max_bytes`; the connection goes back to the pool."""
    if not response.headers.get("Content-Encoding"):
        # An honest, uncompressed length within the limit: one read, as preload_content does.
        length = response.length_remaining
        if length is not None and (max_bytes is None or length <= max_bytes):
            try:
                return response.read()
            except (HTTPError, OSError) as exc:
                raise _typed(exc, operation_id) from None
            finally:
                release(response)
    chunks, size = [], 0
    try:
        for chunk in response.stream(CHUNK, decode_content=True):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, operation_id)   # never drain a bomb: drop it
            chunks.append(chunk)
    except (HTTPError, OSError) as exc:
        raise _typed(exc, operation_id) from None
    finally:
        release(response)
    return b"".join(chunks)


def iter_body(response: urllib3.BaseHTTPResponse, operation_id: str | None, chunk_size: int = CHUNK,
              max_bytes: int | None = None) -> Iterator[bytes]:
    """The body of a streamed response in chunks, with faults made typed; closes the response at the end."""
    size = 0
    try:
        # read1 hands over what has arrived (an event must not wait for 64 KB more to come)
        while chunk := response.read1(chunk_size, decode_content=True):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ResponseTooLargeError(max_bytes, operation_id)
            yield chunk
    except (HTTPError, OSError) as exc:
        raise _typed(exc, operation_id) from None
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


def split_origin(url: str) -> tuple[str, str]:
    """`http://host:8080/v1/x?y` -> (`http://host:8080`, `/v1/x?y`); ("", url) when it has no scheme."""
    start = url.find("://")
    if start < 0:
        return "", url
    end = len(url)
    for mark in "/?#":
        found = url.find(mark, start + 3)
        if 0 <= found < end:
            end = found
    target = url[end:].split("#", 1)[0]
    return url[:end], (target if target.startswith("/") else "/" + target)


def _path(url: str) -> str:
    return urlsplit(url).path   # the query may carry an apiKey-in-query credential: never logged


def _before_sending(exc: BaseException) -> bool:
    """Whether a fault happened before any of the request could reach the server."""
    return isinstance(exc, (NewConnectionError, ConnectTimeoutError)) or (
        isinstance(exc, SSLError) and any(isinstance(arg, ssl.SSLCertVerificationError) for arg in exc.args))


def _typed(exc: BaseException, operation_id: str | None) -> Exception:
    if isinstance(exc, SSLError) and any(isinstance(arg, ssl.SSLCertVerificationError) for arg in exc.args):
        return CertificateVerifyError(f"TLS certificate verification failed: {exc.args[0]}", operation_id)
    # urllib3 makes NewConnectionError (refused, DNS failure) a subclass of ConnectTimeoutError.
    if isinstance(exc, NewConnectionError):
        return APIConnectionError(f"connection failed: {exc}", operation_id)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, Urllib3Timeout)):
        kind = "connect" if isinstance(exc, ConnectTimeoutError) else "read"
        return APITimeoutError(f"{kind} timeout: {exc}", operation_id)
    if isinstance(exc, DecodeError):
        return ResponseDecodeError(f"the response body could not be decoded: {exc}", operation_id)
    if isinstance(exc, TimeoutError):   # socket.timeout surfacing raw from a read
        return APITimeoutError(f"read timeout: {exc}", operation_id)
    return APIConnectionError(f"connection failed: {type(exc).__name__}: {exc}", operation_id)
