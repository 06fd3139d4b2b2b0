"""What both examples share: a client from configuration, or the built-in mock when there is no key.

With a key (OPENAI_API_KEY, or the variable that dynclient.toml names with
`api_key_env`), the client talks to the configured server, OpenAI's by
default. Without one, the mock server of the same document is started in
this process on a free loopback port, and stderr says so: the example then
runs end to end with no network and no account.

The mock's answers are synthesized from the document, so on their own a run
stays `queued` and an image answer need carry no image. `MOCK_OVERRIDES`
script a short, coherent session instead: a run completes at once, its thread
holds one assistant message (a fixed text that says it is the mock's), and
createImage answers with a real 1x1 PNG. The mock merges each into the
operation's answers and validates the result like any other answer.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import time
from typing import Any, Iterator

import dynclient
from dynclient import config
from dynclient.sources import default_name
from dynclient.testing.mock import serve
from dynclient.testing.synth import SAMPLES

MOCK_KEY = "sk-dynclient-mock"   # the mock wants a bearer token; any will do
MOCK_RUN = "run_mock_session"    # one fixed run id, so the scripted answer message can name its run
MOCK_ANSWER = ("This is dynclient's mock server, not a model: no budget was worked out. The mock answers "
               "with a fixed text so that the example runs end to end; set OPENAI_API_KEY to ask the real API.")


def mock_overrides(now: int) -> dict[str, dict[str, Any]]:
    """Answer overrides (operation id -> fields) that make a mock session end as a real one would."""
    run_done = {"id": MOCK_RUN, "status": "completed", "started_at": now, "completed_at": now}
    answer = {"id": "msg_mock_answer", "object": "thread.message", "created_at": now,
              "thread_id": "thread_mock",   # the mock puts the listed thread's id here (path values)
              "status": "completed", "incomplete_details": None, "completed_at": now, "incomplete_at": None,
              "role": "assistant", "content": [{"type": "text", "text": {"value": MOCK_ANSWER, "annotations": []}}],
              "assistant_id": None, "run_id": MOCK_RUN, "attachments": [], "metadata": {}}
    image = base64.b64encode(SAMPLES["image/png"]).decode()   # a real 1x1 PNG
    return {
        "createRun": run_done,
        "getRun": run_done,
        "listMessages": {"data": [answer], "first_id": answer["id"], "last_id": answer["id"], "has_more": False},
        "createImage": {"data": [{"b64_json": image, "revised_prompt": "(the mock's 1x1 PNG, not a generated image)"}]},
    }


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
    document = dynclient.Spec(spec)
    overrides = {operation: fields for operation, fields in mock_overrides(int(time.time())).items()
                 if operation in document.operations}   # another document may lack some of them
    with serve(document, overrides=overrides) as base_url:
        print(f"No API key ({looked} is not set): running against dynclient's built-in mock server "
              f"of {spec} at {base_url}. Its answers are the mock's: synthesized from the document, with "
              f"fixed fields for {', '.join(overrides)} (a run that completes at once, a canned answer, "
              f"a 1x1 PNG), not written by a model. Set OPENAI_API_KEY to use the real API.",
              file=sys.stderr, flush=True)
        with dynclient.Client.from_config(config_path, base_url=base_url, api_key=MOCK_KEY) as client:
            yield client, True


def exit_code_for(exc: BaseException) -> int:
    """2 for a setting or a request refused before sending, 1 for anything the server or the network did."""
    return 2 if isinstance(exc, (config.ConfigError, dynclient.RequestError, dynclient.SpecError)) else 1
