"""What went wrong on the wire, said the same way by both shells.

Each transport sorts its library's exceptions (urllib3's, aiohttp's) into one
of these kinds; the error class and the message come from here, so the same
fault gives the same exception and the same words from Client and AsyncClient.
The library's own text is kept in the error's `detail`, not in its message.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import APIConnectionError, APITimeoutError, CertificateVerifyError, ResponseDecodeError
from .redirects import split_origin

CONNECT = "connect"                  # refused, unreachable, no such host: nothing was sent
CONNECT_TIMEOUT = "connect-timeout"  # nothing was sent
POOL_TIMEOUT = "pool-timeout"        # no free connection in time (max_connections): nothing was sent
TLS_VERIFY = "tls-verify"            # the certificate failed verification: nothing was sent, final
READ_TIMEOUT = "read-timeout"        # nothing arrived for longer than the read timeout
LOST = "lost"                        # reset, closed, or an answer shorter than it said
DECODE = "decode"                    # a Content-Encoding that does not decode: final
UNSENDABLE = "unsendable"            # a URL or header the HTTP library refuses: final

BEFORE_SENDING = frozenset({CONNECT, CONNECT_TIMEOUT, POOL_TIMEOUT, TLS_VERIFY, UNSENDABLE})


class Where:
    """What a fault's message names: the operation, the URL it went to, the read timeout in effect.
    (A plain class: every attempt makes one, and a frozen dataclass costs four times as much to make.)"""

    __slots__ = ("operation_id", "url", "read_timeout", "redirected_by")

    def __init__(self, operation_id: str | None, url: str, read_timeout: float | None = None,
                 redirected_by: int | None = None):
        self.operation_id, self.url, self.read_timeout = operation_id, url, read_timeout
        self.redirected_by = redirected_by   # the status of the redirect that led to this URL, if one did

    def __repr__(self) -> str:
        return f"Where({self.operation_id!r}, {self.url!r}, {self.read_timeout!r}, {self.redirected_by!r})"


def strerror(exc: BaseException | None) -> str | None:
    """'Connection refused' from an OSError anywhere in an exception's chain."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno:
            return os.strerror(exc.errno)
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def fault_error(kind: str, where: Where, *, seconds: float | None = None, reason: str | None = None,
                detail: Any = None) -> APIConnectionError:
    """The typed error of a fault of `kind` (`seconds`: the connect timeout, for a connect timeout)."""
    operation_id, origin = where.operation_id, split_origin(where.url)[0] or where.url
    if kind == CONNECT:
        error: APIConnectionError = APIConnectionError(
            f"connection failed: could not connect to {origin}" + (f" ({reason})" if reason else ""), operation_id)
    elif kind == CONNECT_TIMEOUT:
        error = APITimeoutError(f"connect timeout: no connection to {origin} within {_seconds(seconds)}", operation_id)
    elif kind == POOL_TIMEOUT:
        error = APITimeoutError(f"pool timeout: no free connection to {origin} in time (max_connections)",
                                operation_id)
    elif kind == TLS_VERIFY:
        error = CertificateVerifyError(f"TLS certificate verification failed for {origin}: {reason}", operation_id)
    elif kind == READ_TIMEOUT:
        error = APITimeoutError(f"read timeout: nothing received from {origin} for {_seconds(where.read_timeout)}",
                                operation_id)
    elif kind == DECODE:
        error = ResponseDecodeError(f"the response body from {origin} could not be decoded"
                                    + (f" ({reason})" if reason else ""), operation_id)
    elif kind == UNSENDABLE:
        error = APIConnectionError(f"the request could not be sent: {reason}", operation_id)
    else:
        error = APIConnectionError(f"connection lost: {origin} closed or reset the connection before the answer "
                                   f"was complete", operation_id)
    error.detail = detail   # the library's own words, for debugging; never in the message
    return error


def total_timeout_error(seconds: float, operation_id: str) -> APITimeoutError:
    """A call that outlasted its total timeout (retries and their waits included)."""
    return APITimeoutError(f"total timeout: the call took longer than its {seconds:g} s", operation_id)


def _seconds(seconds: float | None) -> str:
    return "the time allowed" if seconds is None else f"{seconds:g} s"
