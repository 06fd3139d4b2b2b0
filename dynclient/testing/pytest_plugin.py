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

The document comes from the closest ``dynclient_spec`` marker, else the
``dynclient_spec`` ini option, else the default named source. Keyword
arguments of the marker go to ``MockServer`` (``require_auth=False``,
``overrides={"getRun": {"status": "completed"}}``). Each
test gets its own server, so state never leaks between tests; the parsed
document is shared by the whole session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from ..client import Client
from ..sources import default_name
from ..spec import Spec
from .mock import MockServer

INI = "dynclient_spec"
MOCK_KEY = "sk-dynclient-mock"
MARKER = "dynclient_spec"


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(source, **options): the document (and MockServer options) "
                                       "for the dynclient_mock fixture")


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
