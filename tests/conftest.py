"""Shared fixtures: a real local HTTP server and the OpenAI spec corpus."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make `import httpserver` work whatever pytest's import mode (importlib mode
# does not put the test directory on sys.path).
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# The tests talk to loopback servers only. A proxy named by the environment (a CI runner's, for the
# package registries) must not change what they see: tests of proxies set their own variables.
for _name in [name for name in os.environ if name.lower().endswith("_proxy")]:
    del os.environ[_name]

# pytester's in-process runs (the pytest plugin's tests) drop from sys.modules what was first imported
# inside them; PyYAML imported again beside its C extension, which is not, builds nodes the new
# constructors do not know ("could not determine a constructor for the tag None" in every later load).
# Importing the YAML reader here, before any of them, keeps one copy.
import dynclient.yaml12  # noqa: E402,F401

from faultserver import FaultServer  # noqa: E402
from httpserver import TestServer  # noqa: E402

try:
    from hypothesis import settings as _hyp_settings
except ImportError:  # hypothesis is a test extra; don't break plain runs
    _hyp_settings = None

if _hyp_settings is not None:
    # In CI, never write .hypothesis/ into the repo.
    _hyp_settings.register_profile("ci", database=None, deadline=None)
    _hyp_settings.register_profile("dev", deadline=None)
    _ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    _hyp_settings.load_profile("ci" if _ci else "dev")


@pytest.fixture
def server() -> Iterator[TestServer]:
    """A started local HTTP/1.1 server, closed after the test."""
    srv = TestServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def other_server() -> Iterator[TestServer]:
    """A second local server: another origin, where a redirect may lead."""
    with TestServer() as srv:
        yield srv


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    """A loopback server that misbehaves on purpose, one scripted connection at a time."""
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The OpenAI spec corpus: $DYNCLIENT_CORPUS or ../shared/specs/openai beside the repo."""
    env = os.environ.get("DYNCLIENT_CORPUS")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"
    if not path.is_dir():
        pytest.skip(
            f"OpenAI spec corpus not found at {path}; these tests need ../shared/specs/openai beside the repo"
        )
    return path


def _spec(corpus_dir: Path, name: str) -> Path:
    path = corpus_dir / name
    if not path.is_file():
        pytest.skip(f"OpenAI spec {name} not found in corpus at {corpus_dir}")
    return path


@pytest.fixture(scope="session")
def spec_2025(corpus_dir: Path) -> Path:
    return _spec(corpus_dir, "openai-2025-04-29.yaml")


@pytest.fixture(scope="session")
def spec_2026(corpus_dir: Path) -> Path:
    return _spec(corpus_dir, "openai-2026-08-21.yaml")


@pytest.fixture(scope="module")
def openai_spec(spec_2025: Path):
    """The primary document, loaded without the cache (one per test module, as each had its own)."""
    import dynclient
    return dynclient.Spec(spec_2025, cache=False)


@pytest.fixture(params=["sync", "async"])
def make_client(request):
    """Make a Client, or an AsyncClient behind the same interface (tests/asyncfacade.py): a test that
    takes this fixture runs against both, and both must give the same results and errors."""
    import dynclient
    from asyncfacade import AsyncFacade
    made = []

    def make(spec, **options):
        client = dynclient.Client(spec, **options) if request.param == "sync" else \
            AsyncFacade(dynclient.AsyncClient(spec, **options))
        made.append(client)
        return client

    make.kind = request.param
    yield make
    for client in made:
        client.close()
