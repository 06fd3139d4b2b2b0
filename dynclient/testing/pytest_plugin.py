"""pytest plugin: a `dynclient_mock` fixture serving the mock of a document for one test.

Registered through the ``pytest11`` entry point, so installing dynclient is enough::

    def test_assistants(dynclient_mock):
        asst = dynclient_mock.client.call("createAssistant", {"model": "gpt-4o"})
        assert asst["id"] in dynclient_mock.store("/assistants")

    def test_many_at_once(dynclient_mock):           # the AsyncClient, for asyncio code under test
        async def main():
            async with dynclient_mock.async_client as client:   # closed before the loop ends
                return await asyncio.gather(*[client.call("listModels") for _ in range(50)])
        asyncio.run(main())

    @pytest.mark.dynclient_spec("openai@2026-08-21", require_auth=False)
    def test_on_another_version(dynclient_mock): ...

Cassettes: the `dynclient_cassette` fixture is a ``dynclient.cassette.Cassette`` for the test, at
``cassettes/<module>/<test>.jsonl`` beside the test file (``tests/cassettes/...``); give it to a
client as ``cassette=``. ``--record-mode`` (once, new_episodes, none, all; default none: never send)
or the ``dynclient_record_mode`` ini option says what it does; a ``dynclient_cassette`` marker can
name another path, a record mode and Cassette options::

    @pytest.mark.dynclient_cassette("assistants.jsonl", scrub_fields=["name"])
    def test_assistants(dynclient_cassette):
        client = Client("openai@2025-04-29", api_key=..., cassette=dynclient_cassette)
        assert client.call("listAssistants")["object"] == "list"

Record once (``pytest --record-mode=once``) against the real API or a server, commit the
cassettes, and CI replays them with no network.

The document comes from the closest ``dynclient_spec`` marker, else the
``dynclient_spec`` ini option, else the default named source. Keyword
arguments of the marker go to ``MockServer`` (``require_auth=False``,
``overrides={"getRun": {"status": "completed"}}``, ``strict_ids=True`` for a 404 on ids never created). Each
test gets its own server, so state never leaks between tests; the parsed
document is shared by the whole session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..cassette import Cassette
from ..client import Client
from ..core.cassette import RECORD_MODES
from ..sources import default_name
from ..spec import Spec
from .mock import MockServer

INI = "dynclient_spec"
MOCK_KEY = "sk-dynclient-mock"
MARKER = "dynclient_spec"
CASSETTE_MARKER = "dynclient_cassette"
RECORD_MODE_INI = "dynclient_record_mode"


@dataclass(frozen=True)
class DynclientMock:
    """What the fixture yields: the running server, and a Client pointed at it. `async_client` is an
    AsyncClient pointed at it too (made on first use; its connections are closed after the test)."""

    server: MockServer
    client: Client
    made: dict = field(default_factory=dict, repr=False)

    @property
    def async_client(self) -> Any:
        if "async" not in self.made:
            from ..async_client import AsyncClient
            self.made["async"] = AsyncClient(self.spec, base_url=self.server.base_url, api_key=MOCK_KEY)
        return self.made["async"]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def spec(self) -> Spec:
        return self.server.app.spec

    @property
    def requests(self) -> list:
        """The exchanges so far, oldest first: `method`, `target`, `status`."""
        return list(self.server.app.requests)

    def store(self, collection: str) -> dict[str, dict]:
        """The objects the mock holds for a collection path (without the prefix), by id."""
        return dict(self.server.app.store.get(collection, {}))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "document for the dynclient_mock fixture: a name (openai@2025-04-29), a path or a URL",
                  default=None)
    parser.addini(RECORD_MODE_INI, f"record mode of the dynclient_cassette fixture: {', '.join(RECORD_MODES)}",
                  default=None)
    try:
        parser.addoption("--record-mode", dest="dynclient_record_mode", choices=RECORD_MODES, default=None,
                         help="what the dynclient_cassette fixture does: once, new_episodes, none (default: "
                              "replay only, never send), all")
    except ValueError:   # another plugin (pytest-recording) has the option: its value is read by name
        pass


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(source, **options): the document (and MockServer options) "
                                       "for the dynclient_mock fixture")
    config.addinivalue_line("markers", f"{CASSETTE_MARKER}(path=None, record_mode=None, **options): the "
                                       "cassette of the dynclient_cassette fixture (a path relative to "
                                       "tests/cassettes/), its record mode and Cassette options")


@pytest.fixture(scope="session")
def _dynclient_specs() -> dict[str, Spec]:
    return {}


@pytest.fixture
def dynclient_mock(request: pytest.FixtureRequest, _dynclient_specs: dict[str, Spec]) -> Iterator[DynclientMock]:
    marker = request.node.get_closest_marker(MARKER)
    source = (marker.args[0] if marker and marker.args else None) or request.config.getini(INI) or default_name()
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    if str(source) not in _dynclient_specs:
        _dynclient_specs[str(source)] = Spec(source)
    with MockServer(_dynclient_specs[str(source)], **options) as server:
        client = Client(server.app.spec, base_url=server.base_url, api_key=MOCK_KEY)
        mock = DynclientMock(server, client)
        try:
            yield mock
        finally:
            client.close()
            if "async" in mock.made:
                mock.made["async"].transport.close_outside_loop()


@pytest.fixture
def dynclient_cassette(request: pytest.FixtureRequest) -> Cassette:
    """The test's cassette (see the module's docstring); pass it to a client as `cassette=`."""
    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    mode = options.pop("record_mode", None) or request.config.getoption("dynclient_record_mode", None) \
        or request.config.getoption("record_mode", None) \
        or request.config.getini(RECORD_MODE_INI) or "none"
    folder = Path(str(request.node.path)).parent / "cassettes"
    name = marker.args[0] if marker and marker.args else \
        Path(request.node.path).stem + "/" + re.sub(r"[^\w.-]+", "_", request.node.name) + ".jsonl"
    return Cassette(folder / name, mode, **options)
