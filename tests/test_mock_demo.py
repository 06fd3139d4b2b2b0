"""The README's main command, `dynclient demo`, as the installed console script in a subprocess.

It must print a created assistant, a page listing that same assistant, and a
chat completion, all from the embedded mock (no API key, no network). The
JSON documents are found in the output whatever the labels around them say.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def console_script() -> str:
    beside = Path(sys.executable).with_name("dynclient")
    found = str(beside) if beside.exists() else shutil.which("dynclient")
    if not found:
        pytest.skip("the dynclient console script is not installed (pip install -e .)")
    return found


def json_documents(text: str) -> list:
    """Every JSON object that starts at the beginning of a line, in order."""
    decoder, found, end = json.JSONDecoder(), [], 0
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        if match.start() >= end:
            value, end = decoder.raw_decode(text, match.start())
            found.append(value)
    return found


def test_demo_prints_an_assistant_its_listing_and_a_chat_completion(corpus_dir, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
           "DYNCLIENT_SPEC_PATH": str(corpus_dir), "DYNCLIENT_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([console_script(), "demo"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    documents = json_documents(done.stdout)
    kinds = [d.get("object") for d in documents]
    assert kinds[:3] == ["assistant", "list", "chat.completion"], done.stdout
    assistant, page, chat = documents[:3]
    assert assistant["id"].startswith("asst_") and assistant["model"] == "gpt-4o"
    assert [item["id"] for item in page["data"]] == [assistant["id"]]
    assert page["first_id"] == page["last_id"] == assistant["id"] and page["has_more"] is False
    assert chat["choices"][0]["message"]["role"] == "assistant"
    assert "127.0.0.1" in done.stdout and "sk-" not in done.stdout + done.stderr
