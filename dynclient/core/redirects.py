"""Where a redirect goes, and what may go with it.

A redirect to another origin (scheme, host or port) carries no credential. The
rule is a list of what survives, not of what is removed, so that a header
nobody thought of (a caller's `X-Tenant`, an Azure `api-key`, `OpenAI-Project`)
cannot leak: after a cross-origin hop only these are sent, and the ones that
were dropped never come back, even if a later hop returns to the first origin.

    Accept, Accept-Encoding, User-Agent       what any client sends
    Content-Type, Content-Length              the body's own (307 and 308 keep the body)

A same-origin redirect keeps every header. A 303 becomes a GET without a body
(RFC 9110, 15.4.4); 301, 302, 307 and 308 keep the method and the body, as
urllib3 does. A Location that is not http(s), or cannot be read, is not
followed: the 3xx is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SURVIVES_CROSS_ORIGIN = frozenset({"accept", "accept-encoding", "user-agent", "content-type", "content-length"})
# What a 303 drops with the body (RFC 9110, 15.4).
BODY_HEADERS = frozenset({"content-encoding", "content-language", "content-location", "content-type",
                          "content-length", "digest", "last-modified", "transfer-encoding"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an absolute http(s) URL, the default port filled in; None otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:   # a bad port or IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class Hop:
    """The request a redirect asks for."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Any
    cross_origin: bool


def follow(method: str, url: str, headers: Mapping[str, str], body: Any, status: int,
           location: str | None) -> Hop | None:
    """The next request after a `status` answer with `location`, or None when it is not followed."""
    if status not in REDIRECT_STATUSES or not location:
        return None
    try:
        target = urljoin(url, location.strip())
    except ValueError:
        return None
    here, there = origin(url), origin(target)
    if there is None:
        return None
    if status == 303 and method != "HEAD":
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in BODY_HEADERS}
    crossed = here != there
    if crossed:
        headers = {k: v for k, v in headers.items() if k.lower() in SURVIVES_CROSS_ORIGIN}
    return Hop(method, target.split("#", 1)[0], headers, body, crossed)


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
