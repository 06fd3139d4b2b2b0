"""`dynclient spec pin URL --name N`: name a document at a URL, pinned by its sha256.

The entry goes to a user sources file (``$DYNCLIENT_SOURCES``, else
``$XDG_CONFIG_HOME/dynclient/sources.json``, else ``~/.config/dynclient/sources.json``)
with the same fields as the shipped spec/sources.json: ``file``, ``url``,
``sha256``. The bytes are kept in the user cache, so ``Client(N)`` loads them
without a download, and checks the sha256 as for every named spec: a file that
changed is an IntegrityError, never a silent load. A user entry may not reuse a
shipped name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from importlib import resources
from pathlib import Path

from ..errors import SpecLoadError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._-]+)?")


def pin(url: str, name: str, sources_file: Path | None = None, *, timeout: float = 30.0) -> dict:
    """Fetch `url`, check that it is an OpenAPI 3.x document, keep it, and record the entry."""
    from .. import sources
    from ..fetch import fetch
    from ..loader import check_openapi, parse_bytes
    if not NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: use letters, digits, '.', '_', '-' and one '@' (e.g. myapi@2025-01-01)")
    shipped = json.loads(resources.files("dynclient._spec").joinpath("sources.json").read_text("utf-8"))
    if name in shipped["specs"]:
        raise ValueError(f"{name!r} is a shipped name; choose another")
    data = fetch(url, url, None, timeout)
    document = parse_bytes(data, url)
    check_openapi(document, url)
    digest = hashlib.sha256(data).hexdigest()
    entry = {"file": f"{name.replace('@', '-')}{'.json' if data.lstrip()[:1] == b'{' else '.yaml'}",
             "url": url, "sha256": digest}
    _write_atomically(sources.cache_dir() / "specs" / entry["file"], data)
    path = sources_file or sources.user_sources_path()
    specs = {**sources.user_specs(path), name: entry}
    _write_atomically(path, (json.dumps({"specs": specs}, indent=1) + "\n").encode())
    sources.catalogue.cache_clear()
    return entry


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise SpecLoadError(str(path), f"cannot write it: {exc.strerror or exc}") from None
