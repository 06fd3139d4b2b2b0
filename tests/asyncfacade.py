"""AsyncClient behind the sync Client's interface, so that one test runs against both clients.

Each facade owns an event loop and runs every awaited call to its end on it;
streams and paginators are pulled one item at a time. Nothing is mocked: the
AsyncClient underneath talks to the same loopback servers over real sockets.
The `make_client` fixture (conftest.py) gives a test either client.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import dynclient


class AsyncFacade:
    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop | None = None):
        self.client = client
        self.loop = loop or asyncio.new_event_loop()
        self._owns_loop = loop is None

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def __getattr__(self, name: str) -> Any:   # spec, options, transport, prepare, describe, ...
        return getattr(self.client, name)

    def __repr__(self) -> str:
        return repr(self.client)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        result = self.run(self.client.call(*args, **kwargs))
        return FacadeStream(result, self) if isinstance(result, dynclient.AsyncStream) else result

    def call_raw(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.call_raw(*args, **kwargs))

    def stream(self, *args: Any, **kwargs: Any) -> "FacadeStream":
        return FacadeStream(self.run(self.client.stream(*args, **kwargs)), self)

    def download(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.download(*args, **kwargs))

    def paginate(self, *args: Any, **kwargs: Any) -> "FacadePaginator":
        return FacadePaginator(self.client.paginate(*args, **kwargs), self)

    @property
    def ops(self) -> Any:
        return FacadeOps(self)

    def with_options(self, **changes: Any) -> "AsyncFacade":
        return AsyncFacade(self.client.with_options(**changes), self.loop)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self._owns_loop:
            self.run(self.client.aclose())
            self.loop.close()

    def __enter__(self) -> "AsyncFacade":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class FacadeOps:
    def __init__(self, facade: AsyncFacade):
        self._facade = facade

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._facade.client.ops, name)
        return lambda *args, **kwargs: self._facade.run(method(*args, **kwargs))


def _pull(facade: AsyncFacade, iterator: Any) -> Iterator[Any]:
    while True:
        try:
            yield facade.run(iterator.__anext__())
        except StopAsyncIteration:
            return


class FacadeStream:
    def __init__(self, stream: Any, facade: AsyncFacade):
        self.stream, self.facade = stream, facade

    def __getattr__(self, name: str) -> Any:   # status, headers, content_type, request_id, ...
        return getattr(self.stream, name)

    def __iter__(self) -> Iterator[Any]:
        return _pull(self.facade, self.stream.__aiter__())

    def events(self) -> Iterator[Any]:
        return _pull(self.facade, self.stream.events())

    def iter_bytes(self, *args: Any) -> Iterator[bytes]:
        return _pull(self.facade, self.stream.iter_bytes(*args))

    def read(self) -> bytes:
        return self.facade.run(self.stream.read())

    def write_to(self, path: Any) -> int:
        return self.facade.run(self.stream.write_to(path))

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> "FacadeStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class FacadePaginator:
    def __init__(self, paginator: Any, facade: AsyncFacade):
        self.paginator, self.facade = paginator, facade

    def __getattr__(self, name: str) -> Any:
        return getattr(self.paginator, name)

    def __iter__(self) -> Iterator[Any]:
        return _pull(self.facade, self.paginator.__aiter__())

    def pages(self) -> Iterator[Any]:
        return _pull(self.facade, self.paginator.pages())
