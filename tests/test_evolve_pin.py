"""`dynclient spec pin URL --name N` against a loopback server, then the name in use."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from httpserver import Reply

DYNCLIENT = str(Path(sys.executable).with_name("dynclient"))
TINY = {"openapi": "3.0.3", "info": {"title": "Tiny", "version": "7"},
        "paths": {"/ping": {"get": {"operationId": "ping", "summary": "Ping",
                                    "responses": {"200": {"description": "ok"}}}}}}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DYNCLIENT, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_pin_then_load_by_name(server, tmp_path):
    text = yaml.safe_dump(TINY).encode()
    server.default = Reply(body=text, headers={"Content-Type": "application/yaml"})
    env = {"DYNCLIENT_SOURCES": str(tmp_path / "sources.json"), "DYNCLIENT_CACHE_DIR": str(tmp_path / "cache")}
    url = f"{server.url}/tiny.yaml"
    done = run(env, "spec", "pin", url, "--name", "tiny@7")
    digest = hashlib.sha256(text).hexdigest()
    assert (done.returncode, done.stdout) == (0, f"pinned tiny@7: {url} sha256 {digest} (in {tmp_path / 'sources.json'})\n")
    assert json.loads((tmp_path / "sources.json").read_text()) == {
        "specs": {"tiny@7": {"file": "tiny-7.yaml", "url": url, "sha256": digest}}}
    assert (tmp_path / "cache" / "specs" / "tiny-7.yaml").read_bytes() == text
    ops = run(env, "ops", "tiny@7")
    assert (ops.returncode, ops.stdout.split()) == (0, ["ping", "GET", "/ping", "Ping"])
    assert len(server.requests) == 1   # loaded from the kept copy, not fetched again
    # A kept copy that changed is refused, never loaded silently.
    (tmp_path / "cache" / "specs" / "tiny-7.yaml").write_bytes(text.replace(b"Ping", b"Pong"))
    tampered = run(env, "ops", "tiny@7")
    assert tampered.returncode != 0 and digest in tampered.stderr


def test_pin_refuses_what_is_not_openapi_and_shipped_names(server, tmp_path):
    env = {"DYNCLIENT_SOURCES": str(tmp_path / "sources.json"), "DYNCLIENT_CACHE_DIR": str(tmp_path / "cache")}
    server.default = Reply(body={"swagger": "2.0", "info": {}})
    done = run(env, "spec", "pin", f"{server.url}/old.json", "--name", "old@1")
    assert done.returncode == 2 and "Swagger 2.0" in done.stderr
    assert not (tmp_path / "sources.json").exists()
    shipped = run(env, "spec", "pin", f"{server.url}/x", "--name", "openai@2025-04-29")
    assert (shipped.returncode, shipped.stderr) == (2, "error: 'openai@2025-04-29' is a shipped name; choose another\n")
    bad = run(env, "spec", "pin", f"{server.url}/x", "--name", "a b")
    assert bad.returncode == 2 and "--name 'a b'" in bad.stderr
