"""urllib3 underneath: one PoolManager per client, TLS verified, typed faults.

Every urllib3 failure becomes a dynclient error: a timeout is an
APITimeoutError, anything else that prevents an HTTP exchange an
APIConnectionError. Nothing here knows about OpenAPI.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import quote

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, HTTPError, MaxRetryError, NewConnectionError,
                                ReadTimeoutError, TimeoutError as Urllib3Timeout)

from .errors import APIConnectionError, APITimeoutError, ResponseDecodeError

DEFAULT_TIMEOUT = urllib3.Timeout(connect=5.0, read=600.0)
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})


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


class Headers(urllib3.HTTPHeaderDict):
    """Case-insensitive request headers (a per-call `openai-beta` replaces a default `OpenAI-Beta`)
    whose repr never shows a credential."""

    sensitive: frozenset[str] = SENSITIVE_HEADERS

    def __repr__(self) -> str:
        return repr({k: ("<redacted>" if k.lower() in self.sensitive else v) for k, v in self.items()})


class Redactor(logging.Filter):
    """Masks credential values in log records, ours and urllib3's (which logs request URLs, where
    an apiKey-in-query credential travels)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
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


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: urllib3.HTTPHeaderDict
    data: bytes
    elapsed: float


class Transport:
    """Sends bytes and returns bytes; owns the connection pool."""

    def __init__(self, *, verify: bool = True, ca_certs: str | None = None, pool_maxsize: int = 10,
                 max_redirects: int = 5, strip_on_redirect: Iterable[str] = ()):
        self.pool = urllib3.PoolManager(
            maxsize=pool_maxsize,
            cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE",
            ca_certs=ca_certs,
        )
        # Follow redirects, but never carry credentials to another host.
        self.retries = urllib3.Retry(
            total=None, connect=0, read=0, status=0, other=0, redirect=max_redirects,
            raise_on_redirect=False,
            remove_headers_on_redirect=set(urllib3.Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT) | set(strip_on_redirect),
        )

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: urllib3.Timeout, operation_id: str | None = None) -> RawResponse:
        started = time.perf_counter()
        try:
            response = self.pool.request(method, url, body=body, headers=headers, timeout=timeout,
                                         retries=self.retries, preload_content=True, decode_content=True)
        except MaxRetryError as exc:
            raise _typed(exc.reason or exc, operation_id) from None
        except HTTPError as exc:
            raise _typed(exc, operation_id) from None
        return RawResponse(response.status, response.headers, response.data, time.perf_counter() - started)

    def close(self) -> None:
        self.pool.clear()


def _typed(exc: BaseException, operation_id: str | None) -> Exception:
    # urllib3 makes NewConnectionError (refused, DNS failure) a subclass of ConnectTimeoutError.
    if isinstance(exc, NewConnectionError):
        return APIConnectionError(f"connection failed: {exc}", operation_id)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, Urllib3Timeout)):
        kind = "connect" if isinstance(exc, ConnectTimeoutError) else "read"
        return APITimeoutError(f"{kind} timeout: {exc}", operation_id)
    if isinstance(exc, DecodeError):
        return ResponseDecodeError(f"the response body could not be decoded: {exc}", operation_id)
    return APIConnectionError(f"connection failed: {type(exc).__name__}: {exc}", operation_id)
