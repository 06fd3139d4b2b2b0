"""The console script in a pseudo-terminal of a fixed width: what a person at a terminal sees."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from dynclient.testing.mock import MockServer

SCRIPT = Path(sys.executable).with_name("dynclient")
CANARY = "sk-tty-canary-93ab"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script not installed at {SCRIPT}")


def in_terminal(args: list[str], columns: int, env: dict | None = None, timeout: float = 60) -> tuple[int, str]:
    """Run the script with stdin, stdout and stderr on a pty `columns` wide; (exit code, what it showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm",
                "OPENAI_API_KEY": CANARY, **(env or {})}
    proc = subprocess.Popen([str(SCRIPT), *args], stdin=slave, stdout=slave, stderr=slave, env=full_env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    assert CANARY not in shown, "the token was shown"
    return code, shown


@pytest.fixture(scope="module")
def mock(spec_2025):
    with MockServer(str(spec_2025)) as server:
        yield server.base_url


@pytest.mark.parametrize("columns", [64, 100])
def test_describe_chat_completion_is_readable_at_the_terminal_width(corpus_dir, columns):
    code, shown = in_terminal(["describe", "openai@2025-04-29", "createChatCompletion"], columns,
                              env={"DYNCLIENT_SPEC_PATH": str(corpus_dir)})
    assert code == 0, shown
    lines = shown.splitlines()
    assert len(lines) > 50
    too_wide = [line for line in lines if len(line) > columns]
    assert not too_wide, f"{len(too_wide)} lines wider than {columns}: {too_wide[:3]}"
    assert '{"$ref"' not in shown and "$ref" not in shown and "urn:dynclient" not in shown
    assert lines[0].startswith("createChatCompletion  POST /chat/completions")
    for needed in ("* messages", "* model", "(* required)", 'role="user"', "Example body", "Responses",
                   "200  application/json: CreateChatCompletionResponse"):
        assert needed in shown, needed


def test_json_is_pretty_on_a_terminal(spec_2025, mock):
    code, shown = in_terminal(["call", str(spec_2025), "createAssistant", "--base-url", mock,
                               "--body", '{"model": "gpt-4o", "name": "Pretty"}'], 80)
    assert code == 0, shown
    assert shown.startswith("{\n  \"id\": ")
    assert json.loads(shown)["name"] == "Pretty"


def test_binary_is_not_written_to_a_terminal(spec_2025, mock):
    code, shown = in_terminal(["call", str(spec_2025), "createSpeech", "--base-url", mock,
                               "--body", '{"model": "tts-1", "input": "hi", "voice": "alloy"}'], 80)
    assert code == 2
    assert "not writing that to a terminal: use --output FILE" in shown


def test_batch_progress_on_a_terminal_for_a_large_file(spec_2025, tmp_path):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 80}]}
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                                        "body": body}) + "\n" for i in range(1800)))
    assert path.stat().st_size > 256 * 1024   # the size from which a terminal gets a progress indicator
    code, shown = in_terminal(["batch", "validate", str(spec_2025), str(path)], 80)
    assert code == 0, shown
    assert "\rvalidating:" in shown and "100%|" in shown   # tqdm's bar, over the file's bytes
    assert shown.rstrip().endswith(f"ok: {path}: 1800 lines, 0 bad")


def test_ops_table_fits_the_terminal(spec_2025):
    code, shown = in_terminal(["ops", str(spec_2025)], 72)
    lines = shown.splitlines()
    assert code == 0 and len(lines) == 148
    assert max(len(line) for line in lines) <= 72
    assert any(line.endswith("…") for line in lines), "long summaries are cut on a terminal"


def test_upload_progress_on_a_terminal_for_a_large_file(spec_2025, mock, tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        fh.truncate(6 * 1000 * 1000)   # over the 4 MB from which a terminal gets a progress bar
    code, shown = in_terminal(["call", str(spec_2025), "createFile", "--base-url", mock,
                               "-F", f"file=@{path}", "-F", "purpose=batch"], 80)
    assert code == 0, shown
    assert "\ruploading " in shown and "/ 6.0 MB (100%)" in shown
