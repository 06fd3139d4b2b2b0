"""What both examples share: a client from configuration, or the built-in mock when there is no key.

With a key (OPENAI_API_KEY, or the variable that dynclient.toml names with
`api_key_env`), the client talks to the configured server, OpenAI's by
default. Without one, the mock server of the same document is started in
this process on a free loopback port, and stderr says so: the example then
runs end to end with no network and no account.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

import dynclient
from dynclient import config
from dynclient.sources import default_name
from dynclient.testing.mock import serve

MOCK_KEY = "sk-dynclient-mock"   # the mock wants a bearer token; any will do


@contextlib.contextmanager
def connect(config_path: str | None = None) -> Iterator[tuple[dynclient.Client, bool]]:
    """(client, against_the_mock), closed on exit."""
    settings = config.resolve(config_path)
    if settings.api_key is not None:
        with dynclient.Client.from_config(config_path) as client:
            yield client, False
        return
    spec = settings.spec or default_name()
    looked = " or ".join(settings.key_sources) or "OPENAI_API_KEY"
    with serve(spec) as base_url:
        print(f"No API key ({looked} is not set): running against dynclient's built-in mock server "
              f"of {spec} at {base_url}. Its answers are synthesized from the document, not written "
              f"by a model. Set OPENAI_API_KEY to use the real API.", file=sys.stderr, flush=True)
        with dynclient.Client.from_config(config_path, base_url=base_url, api_key=MOCK_KEY) as client:
            yield client, True


def exit_code_for(exc: BaseException) -> int:
    """2 for a setting or a request refused before sending, 1 for anything the server or the network did."""
    return 2 if isinstance(exc, (config.ConfigError, dynclient.RequestError, dynclient.SpecError)) else 1
