"""urllib3 underneath: one PoolManager per client, TLS verified, retries, typed faults.

Every urllib3 failure becomes a dynclient error: a timeout is an
APITimeoutError, anything else that prevents an HTTP exchange an
APIConnectionError. Retries follow the official ``openai`` package: connection
errors, timeouts, 408, 409, 429 and 5xx, with exponential backoff and jitter,
``Retry-After``/``retry-after-ms`` honoured up to a cap, ``x-should-retry``
obeyed, and a 429 for an exhausted quota final. Nothing here knows about OpenAPI.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, HTTPError, MaxRetryError, NewConnectionError,
                                ReadTimeoutError, SSLError, TimeoutError as Urllib3Timeout)

from .errors import (APIConnectionError, APITimeoutError, CertificateVerifyError, ResponseDecodeError,
                     ResponseTooLargeError)
from .proxies import Proxy, proxy_for, proxy_manager, split_credentials, with_scheme

log = logging.getLogger("dynclient")

DEFAULT_TIMEOUT = urllib3.Timeout(connect=5.0, read=600.0)
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})
CHUNK = 64 * 1024
# Connection failures that another attempt would only repeat.
FINAL_ERRORS = (ResponseDecodeError, ResponseTooLargeError, CertificateVerifyError)
# What a 303 drops with the body (RFC 9110, 15.4), as urllib3 does.
BODY_HEADERS = frozenset({"content-encoding", "content-language", "content-location", "content-type",
                          "content-length", "digest", "last-modified", "transfer-encoding"})


def make_timeout(value: Any) -> urllib3.Timeout:
    """A float (both connect and read), a (connect, read) pair, or a urllib3.Timeout."""
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, urllib3.Timeout):
        return value
    if isinstance(value, tuple):
        connect, read = value
        return urllib3.Timeout(connect=connect, read=read)
    return urllib3.Timeout(connect=float(value), read=float(value))


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


class Redactor(logging.Filter):
    """Masks credential values in log records, ours and urllib3's (which logs request URLs, where
    an apiKey-in-query credential travels)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    MIN_LENGTH = 6   # a shorter "secret" (a test's "p") would mask every such letter in every log line

    def add(self, secret: str) -> None:
        if len(secret) >= self.MIN_LENGTH:
            self.secrets.add(secret)
            self.secrets.add(quote(secret, safe=""))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = self.redact(record.getMessage())
            record.msg, record.args = message, None
        return True


REDACTOR = Redactor()
for _name in ("dynclient", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(REDACTOR)


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


# --- retry policy -------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying again; immutable, like urllib3's Retry."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0       # a Retry-After longer than this is cut to it
    statuses: frozenset[int] = frozenset({408, 409, 429})   # and every 5xx
    final_codes: frozenset[str] = frozenset({"insufficient_quota"})

    def retries_status(self, status: int, headers: Mapping[str, str], data: bytes) -> bool:
        should = str(headers.get("x-should-retry", "")).strip().lower()
        if should in ("true", "false"):
            return should == "true"
        if status not in self.statuses and status < 500:
            return False
        return error_code(data) not in self.final_codes

    def delay(self, retry_number: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1 for the first retry)."""
        asked = retry_after(headers or {})
        if asked is not None:
            return min(max(asked, 0.0), self.max_retry_after)
        backoff = min(self.initial_delay * 2 ** (retry_number - 1), self.max_delay)
        return backoff * (1 - 0.25 * random.random())


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time() if when else None


def error_code(data: bytes) -> str | None:
    """OpenAI's `error.code` (or `error.type`) of an error body, if it has one."""
    if not data or len(data) > 65536:
        return None
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return (error.get("code") or error.get("type")) if isinstance(error, dict) else None


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


class Transport:
    """Sends requests, retries what may be retried, returns bytes or an open stream; owns the pool."""

    def __init__(self, *, verify: bool = True, ca_certs: str | None = None, pool_maxsize: int = 10,
                 max_redirects: int = 5, strip_on_redirect: Iterable[str] = (), proxy: Proxy = None):
        self._pool_options = {"maxsize": pool_maxsize, "cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE",
                              "ca_certs": ca_certs}
        self.pool = urllib3.PoolManager(**self._pool_options)
        self._proxy_managers: dict[str, urllib3.ProxyManager] = {}   # by proxy URL without credentials
        if isinstance(proxy, str) and proxy:   # built now: a bad proxy fails here, and its credentials
            proxy = with_scheme(proxy)   # live only in its ProxyManager
            self._proxy_manager(proxy)
            proxy = split_credentials(proxy)[0]
        self.proxy = proxy
        # Follow redirects, but never carry credentials to another host.
        self.redirects = urllib3.Retry(
            total=None, connect=0, read=0, status=0, other=0, redirect=max_redirects,
            raise_on_redirect=False,
            remove_headers_on_redirect=set(urllib3.Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT) | set(strip_on_redirect),
        )
        # origin -> its HTTPConnectionPool (direct), or the ProxyManager that carries it (see _urlopen)
        self._routes: dict[str, Any] = {}

    def send(self, request: Outgoing, timeout: urllib3.Timeout, policy: RetryPolicy, *,
             stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        """Send with retries. A streamed success comes back unread (`RawResponse.stream`); everything
        else, error answers included, comes back read whole (at most `max_bytes`)."""
        started = time.perf_counter()
        retry = 0
        while True:
            attempt_started = time.perf_counter()
            try:
                response = self._attempt(request, timeout, on_progress)
                if stream and response.status < 400:
                    data = b""
                else:
                    data = read_body(response, max_bytes, request.operation_id)
            except (APIConnectionError, OSError) as exc:
                error = exc if isinstance(exc, APIConnectionError) else _typed(exc, request.operation_id)
                if isinstance(error, FINAL_ERRORS) or retry >= policy.max_retries:
                    self._log_attempt(request, retry, None, attempt_started, None, error)
                    raise error from None
                retry += 1
                self._wait(request, retry, policy.delay(retry), error)
                continue
            self._log_attempt(request, retry, response.status, attempt_started,
                              response.headers.get("x-request-id"), None)
            if response.status >= 400 and retry < policy.max_retries \
                    and policy.retries_status(response.status, response.headers, data):
                retry += 1
                self._wait(request, retry, policy.delay(retry, response.headers), f"HTTP {response.status}")
                continue
            return RawResponse(response.status, response.headers, data, time.perf_counter() - started,
                               retry + 1, response if stream and response.status < 400 else None)

    def _attempt(self, request: Outgoing, timeout: urllib3.Timeout,
                 on_progress: Callable[[int, int], None] | None) -> urllib3.BaseHTTPResponse:
        body = request.body
        if isinstance(body, ReplayableBody):   # its Content-Length was set when it was encoded
            body = body.chunks(on_progress)
        try:
            return self._urlopen(request.method, request.url, body, request.headers, timeout)
        except MaxRetryError as exc:
            raise _typed(exc.reason or exc, request.operation_id) from None
        except HTTPError as exc:
            raise _typed(exc, request.operation_id) from None

    def _urlopen(self, method: str, url: str, body: Any, headers: Mapping[str, str],
                 timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
        """What `PoolManager.urlopen` does, without its cost per request: the connection pool of an
        origin is looked up once, not found again by parsing the URL and normalising a pool key
        (~15 µs a call, measured). Proxied origins and redirects are urllib3's managers' work."""
        origin, target = split_origin(url)
        route = self._route(origin) if origin else self.pool
        options = self._options(body, headers, timeout)
        if isinstance(route, urllib3.PoolManager):   # no scheme, or through a proxy
            return route.urlopen(method, url, **options)
        response = route.urlopen(method, target, redirect=False, assert_same_host=False, **options)
        location = response.get_redirect_location()
        return self._follow(route, method, url, response, location, options) if location else response

    def _options(self, body: Any, headers: Mapping[str, str], timeout: urllib3.Timeout) -> dict[str, Any]:
        return {"body": body, "headers": headers, "timeout": timeout, "retries": self.redirects,
                "preload_content": False, "decode_content": True}

    def _follow(self, pool: Any, method: str, url: str, response: urllib3.BaseHTTPResponse, location: str,
                options: dict[str, Any]) -> urllib3.BaseHTTPResponse:
        """The first hop of a redirect, as `PoolManager.urlopen` takes it (303 becomes a bodiless GET;
        credentials never go to another host; the redirect budget is counted), then the PoolManager."""
        location = urljoin(url, location)
        if response.status == 303:
            method = "GET"
            options["body"] = None
            options["headers"] = {k: v for k, v in options["headers"].items() if k.lower() not in BODY_HEADERS}
        retries = options["retries"]
        if not pool.is_same_host(location):
            options["headers"] = {k: v for k, v in options["headers"].items()
                                  if k.lower() not in retries.remove_headers_on_redirect}
        try:
            options["retries"] = retries.increment(method, url, response=response, _pool=pool)
        except MaxRetryError:   # redirect budget spent; raise_on_redirect is off: the redirect is the answer
            return response
        response.drain_conn()
        log.debug("redirected %s -> %s", _path(url), _path(location))
        route = self._route(split_origin(location)[0])
        return (route if isinstance(route, urllib3.PoolManager) else self.pool).urlopen(method, location, **options)

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
            manager = self._proxy_managers[url] = proxy_manager(proxy, REDACTOR.add, **self._pool_options)
        return manager

    def _wait(self, request: Outgoing, retry: int, seconds: float, why: Any) -> None:
        log.info("%s: retrying %s %s in %.2f s (retry %d) after %s", request.operation_id, request.method,
                 _path(request.url), seconds, retry, why)
        time.sleep(seconds)

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
            except HTTPError as exc:
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
    except HTTPError as exc:
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
    except HTTPError as exc:
        raise _typed(exc, operation_id) from None
    finally:
        release(response)


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back when the body was read to its end; otherwise close it (an unread
    remainder would poison the next request on that connection)."""
    if not response.isclosed():
        response.close()
    response.release_conn()


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
