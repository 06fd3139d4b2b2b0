"""Documents fetched by URL (and named documents downloaded once): TLS verified, size-bounded,
through the environment's proxy as the client's calls go."""

from __future__ import annotations

import urllib3

from .errors import SpecLoadError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024   # OpenAI's largest document is about 3 MB


def too_large(origin: str, max_bytes: int) -> SpecLoadError:
    return SpecLoadError(origin, f"larger than {max_bytes:,} bytes; pass max_bytes= to load a larger document")


def fetch(url: str, origin: str, pool: urllib3.PoolManager | None, timeout: float,
           max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    own = pool is None
    if own:   # TLS verified (urllib3's default too); through the environment's proxy, as the client goes
        pool = pool_for(url)
    try:
        response = pool.request("GET", url, timeout=timeout, preload_content=False,
                                headers={"Accept": "application/yaml, application/json;q=0.9, */*;q=0.5"})
        try:
            if not 200 <= response.status < 300:
                raise SpecLoadError(origin, f"HTTP {response.status} {response.reason or ''}".rstrip())
            data = response.read(max_bytes + 1)   # decoded bytes: a gzip bomb stops here too
            if len(data) > max_bytes:
                raise too_large(origin, max_bytes)
            return data
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise SpecLoadError(origin, f"cannot fetch it: {getattr(exc, 'reason', None) or exc}") from None
    finally:
        if own:
            pool.clear()


def pool_for(url: str) -> urllib3.PoolManager:
    """A pool for one download: direct, or through the proxy the environment names for the URL's
    origin (HTTPS_PROXY, NO_PROXY, ...; see dynclient/proxies.py), so that a named document can be
    fetched behind the same corporate proxy the client's calls go through."""
    from .proxies import proxy_for, proxy_manager
    from .core.redact import REDACTOR
    from .core.redirects import split_origin
    proxy = proxy_for(None, split_origin(url)[0])
    if proxy is None:
        return urllib3.PoolManager(cert_reqs="CERT_REQUIRED")
    return proxy_manager(proxy, REDACTOR.add, cert_reqs="CERT_REQUIRED")
