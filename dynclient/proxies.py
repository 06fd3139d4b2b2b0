"""Which proxy, if any, carries the requests to an origin.

As `requests` and `httpx` decide it: an explicit `proxy=` URL carries every request; otherwise
HTTPS_PROXY, HTTP_PROXY or ALL_PROXY (either case) with NO_PROXY, read as urllib reads them;
`proxy=False` ignores the environment. A loopback origin (localhost, 127.0.0.0/8, ::1) never goes
through a proxy from the environment: a local mock server must not be sent to a corporate proxy.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import urllib3

Proxy = str | bool | None   # a URL, False (never), or None (from the environment)


def proxy_for(proxy: Proxy, origin: str) -> str | None:
    """The proxy URL for requests to `origin` (`scheme://host[:port]`), or None to go direct."""
    if proxy is False:
        return None
    if isinstance(proxy, str) and proxy:
        return with_scheme(proxy)
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None   # the usual case, decided without importing urllib.request
    import urllib.request
    found = urllib.request.getproxies_environment()   # ignores HTTP_PROXY in a CGI request ("httpoxy")
    parts = urlsplit(origin)
    host = parts.hostname or ""
    url = found.get(parts.scheme) or found.get("all")
    if not url or is_loopback(host):
        return None
    if urllib.request.proxy_bypass_environment(host if parts.port is None else f"{host}:{parts.port}", found):
        return None
    return with_scheme(url)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def with_scheme(url: str) -> str:
    """`proxy.example:3128` -> `http://proxy.example:3128`; SOCKS is refused (urllib3 needs PySocks for it)."""
    url = url if "://" in url else "http://" + url
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"proxy scheme {scheme!r} is not supported (http and https proxies are)")
    return url


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the proxy URL without user info, (user, password) or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=netloc).geturl(), (unquote(parts.username), unquote(parts.password or ""))


def proxy_manager(proxy: str, hide: Callable[[str], None], **pool_options: Any) -> urllib3.ProxyManager:
    """urllib3's ProxyManager for a proxy URL; user info in it becomes a Proxy-Authorization header
    (the password handed to `hide`, the log redactor), and the URL it keeps has none."""
    url, credentials = split_credentials(proxy)
    headers = None
    if credentials:
        hide(credentials[1])
        headers = urllib3.make_headers(proxy_basic_auth=":".join(credentials))
    return urllib3.ProxyManager(url, proxy_headers=headers, **pool_options)
