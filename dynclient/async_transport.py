"""aiohttp underneath: the async shell's bytes, the sibling of transport.py.

The same loop as the sync transport, awaited: the core decides what to retry
and how long to wait (core/policy.py) and where a redirect goes with which
headers (core/redirects.py); this module sends, reads and sleeps without
blocking the loop. The total timeout wraps the whole call (attempts, waits and
redirects) in one asyncio deadline, so a server that keeps every read short
cannot keep a call alive. A cancelled call (`task.cancel()`, `asyncio.timeout`)
releases its connection on the way out: every response is held in a `try`
that closes it.

Why aiohttp: measured in benchmarks/bench_async.py (figures in
benchmarks/RESULTS.md), it sends the same requests several times faster than
httpx at 64 in flight, and its connection limit, keep-alive, proxies and TLS
map one to one onto the sync client's options.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import time
from typing import Any, AsyncIterator, Callable, Mapping

try:
    import aiohttp
    import yarl
except ImportError as exc:   # the optional extra
    raise ImportError("dynclient.AsyncClient needs aiohttp: pip install 'dynclient[async]'") from exc
import urllib3

from .codecs import ReplayableBody
from .core import redirects
from .core.call import DEFAULT_MAX_RESPONSE_BYTES, PreparedRequest, RawResponse
from .core.policy import Attempts, RetryPolicy, Timeout, log_path
from .core.redact import REDACTOR, guard_loggers
from .core.faults import (BEFORE_SENDING, CONNECT, CONNECT_TIMEOUT, DECODE, LOST, READ_TIMEOUT, TLS_VERIFY,
                          UNSENDABLE, Where, fault_error, strerror)
from .errors import APIConnectionError, APITimeoutError, ResponseTooLargeError
from .proxies import Proxy, proxy_for, split_credentials, with_scheme
from .transport import CHUNK

log = logging.getLogger("dynclient")
# Without a limit, 10,000 tasks would open 10,000 sockets at once (httpx and aiohttp default to 100 too).
DEFAULT_MAX_CONNECTIONS = 100


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
        self._keep = pool_maxsize
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, tuple[str, aiohttp.BasicAuth | None] | None] = {}   # origin -> proxy
        guard_loggers()

    # --- the session -------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self._verify:
            return False
        return ssl.create_default_context(cafile=self._ca_certs)

    def session(self) -> aiohttp.ClientSession:
        """The session of the running loop (a client used from another loop gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=self._ssl(),
                                             keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),      # cookies are parameters, never state
                skip_auto_headers=("User-Agent", "Content-Type"),
                timeout=aiohttp.ClientTimeout(total=None))
            # aiohttp re-sends an idempotent request once, on its own, when a connection drops; the
            # policy decides retries here (and counts them), so that one is turned off where it exists.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
            self._loop = loop
        return self._session

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
        origin = redirects.split_origin(url)[0]
        if origin not in self._proxies:
            found = proxy_for(self.proxy, origin)
            if found is None:
                self._proxies[origin] = None
            else:
                plain, credentials = split_credentials(found)
                if credentials:
                    REDACTOR.add(credentials[1])
                self._proxies[origin] = (plain, aiohttp.BasicAuth(*credentials) if credentials else None)
        return self._proxies[origin]

    # --- a call --------------------------------------------------------------------------

    async def send(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy, *,
                   stream: bool = False, max_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
                   on_progress: Callable[[int, int], None] | None = None) -> RawResponse:
        """As Transport.send: retries as the policy decides, within `timeout.total`; a streamed success
        comes back unread (`RawResponse.stream` is the open aiohttp response)."""
        if timeout.total is None:
            return await self._send(request, timeout, policy, None, stream, max_bytes, on_progress)
        deadline = time.monotonic() + timeout.total
        sending = self._send(request, timeout, policy, deadline, stream, max_bytes, on_progress)
        try:
            if sys.version_info < (3, 11):   # pragma: no cover
                return await asyncio.wait_for(sending, timeout.total)
            async with asyncio.timeout(timeout.total):   # the call's own task: no extra task per call
                return await sending
        except asyncio.TimeoutError:
            raise APITimeoutError(f"total timeout: the call took longer than its {timeout.total:g} s",
                                  request.operation_id) from None

    async def _send(self, request: PreparedRequest, timeout: Timeout, policy: RetryPolicy, deadline: float | None,
                    stream: bool, max_bytes: int | None,
                    on_progress: Callable[[int, int], None] | None) -> RawResponse:
        started = time.perf_counter()
        attempts = Attempts(policy, request, deadline)
        while True:
            attempt_started = time.perf_counter()
            try:
                response, where = await self._attempt(request, timeout, deadline, on_progress)
                try:
                    data = b"" if stream and response.status < 400 else await read_body(response, max_bytes, where)
                except APIConnectionError as exc:
                    raise Fault(exc, True) from None
            except Fault as fault:
                attempts.log(fault.error, attempt_started)
                await asyncio.sleep(attempts.after_fault(fault.error, fault.sent, time.monotonic()))
                continue
            headers = _headers(response)
            attempts.log(response.status, attempt_started, headers.get("x-request-id"))
            wait = attempts.after_answer(response.status, headers, data, time.monotonic())
            if wait is None:
                return RawResponse(response.status, headers, data, time.perf_counter() - started,
                                   attempts.number, response if stream and response.status < 400 else None,
                                   where.url, where.read_timeout)
            await asyncio.sleep(wait)

    async def _attempt(self, request: PreparedRequest, timeout: Timeout, deadline: float | None,
                       on_progress: Callable[[int, int], None] | None) -> tuple[aiohttp.ClientResponse, Where]:
        method, url, headers, body = request.method, request.url, request.headers, request.body
        for hop in range(self.max_redirects + 1):
            connect, read = timeout.remaining(deadline, time.monotonic())
            where = Where(request.operation_id, url, read)
            response = await self._open(method, url, body, headers, connect, where, on_progress)
            location = response.headers.get("Location") if hop < self.max_redirects else None
            following = redirects.follow(method, url, headers, body, response.status, location)
            if following is None:
                return response, where
            await discard(response)
            log.debug("redirected %s -> %s%s", log_path(url), log_path(following.url),
                      " (another origin: credentials dropped)" if following.cross_origin else "")
            method, url, headers, body = following.method, following.url, following.headers, following.body
        raise AssertionError("unreachable")   # the last hop never follows

    async def _open(self, method: str, url: str, body: Any, headers: Mapping[str, str], connect: float | None,
                    where: Where, on_progress: Callable[[int, int], None] | None) -> aiohttp.ClientResponse:
        proxy = self._proxy(url)
        data = _async_chunks(body, on_progress) if isinstance(body, ReplayableBody) else body
        try:
            return await self.session().request(
                method, yarl.URL(url, encoded=True), data=data, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect,
                                              sock_read=where.read_timeout),
                proxy=proxy[0] if proxy else None, proxy_auth=proxy[1] if proxy else None)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            kind, reason = classify(exc)
            raise Fault(fault_error(kind, where, seconds=connect, reason=reason, detail=exc),
                        sent=kind not in BEFORE_SENDING) from None
        except ValueError as exc:   # a URL or header aiohttp refuses: final
            raise fault_error(UNSENDABLE, where, reason=str(exc), detail=exc) from None


async def _async_chunks(body: ReplayableBody, on_progress: Callable[[int, int], None] | None) -> AsyncIterator[bytes]:
    for chunk in body.chunks(on_progress):   # files are read a MiB at a time: short, local reads
        yield chunk


def _headers(response: aiohttp.ClientResponse) -> urllib3.HTTPHeaderDict:
    """The answer's headers in the type the sync client gives (case-insensitive, repeated kept)."""
    return urllib3.HTTPHeaderDict(list(response.headers.items()))


async def read_body(response: aiohttp.ClientResponse, max_bytes: int | None, where: Where) -> bytes:
    """The whole (decoded) body, refusing more than `max_bytes`; the connection goes back to the pool."""
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
