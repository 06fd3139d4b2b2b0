"""Tests for dynclient.loader: the OpenAI corpus, YAML 1.2, JSON, errors, the cache, URLs, safety.

The corpus is ../shared/specs/openai (or $DYNCLIENT_CORPUS); the tests that need it skip
without it.  Run as a script to print the timings quoted in dynclient/loader.py:

    .venv/bin/python tests/test_loader.py [openai-2025-04-29.yaml openai-2026-08-21.yaml ...]
"""

from __future__ import annotations

import hashlib
import http.server
import json
import marshal
import math
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import urllib3
import yaml

from dynclient import loader
from dynclient.errors import IntegrityError, NotOpenAPIError, SpecLoadError
from dynclient.loader import Document, load, parse_bytes

MINIMAL = (b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
           b"paths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n")
DUPLICATE_ANCHOR_FILES = ["openai-2024-04-30.yaml", "openai-2024-05-28.yaml", "openai-2024-06-24.yaml",
                          "openai-2024-07-19.yaml", "openai-2024-09-28.yaml"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def corpus_path() -> Path:
    env = os.environ.get("DYNCLIENT_CORPUS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"


def corpus() -> Path:
    """The corpus folder, or skip the test."""
    path = corpus_path()
    if not (path / "manifest.json").is_file():
        pytest.skip(f"OpenAI spec corpus not found at {path}; these tests need ../shared/specs/openai")
    return path


def manifest_entries() -> list:
    try:
        return json.loads((corpus_path() / "manifest.json").read_text())["versions"]
    except (OSError, ValueError, KeyError):
        return [None]  # one test that skips with the reason


def parse(text: str | bytes) -> dict:
    return parse_bytes(text.encode() if isinstance(text, str) else text, "<test>")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the corpus ---------------------------------------------------------------


@pytest.mark.parametrize("entry", manifest_entries(), ids=lambda e: e["file"] if e else "no-corpus")
def test_corpus_file_loads(entry, tmp_path):
    path = corpus() / entry["file"]
    doc = load(path, sha256=entry["sha256"], cache=tmp_path)
    assert doc.sha256 == entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.origin == str(path)
    data = doc.data
    if "openapi" in entry:
        assert data["openapi"] == entry["openapi"]
    if "schemas" in entry:
        assert len(data["components"]["schemas"]) == entry["schemas"]
    if "operations" in entry:
        operations = sum(method in METHODS for item in data["paths"].values() for method in item)
        assert operations == entry["operations"]
    # The document is plain JSON data (a non-string key or a date would not survive the round
    # trip), and the second load, from the cache, gives the same data.
    assert json.loads(json.dumps(data)) == data
    cached = load(path, cache=tmp_path)
    assert len(list((tmp_path / "docs").iterdir())) == 1
    assert cached.data == data and cached.sha256 == doc.sha256


def test_duplicate_anchor_files_are_the_five_the_manifest_names():
    entries = [e for e in manifest_entries() if e and "duplicate anchor" in e.get("parse_error", "")]
    corpus()
    assert [e["file"] for e in entries] == DUPLICATE_ANCHOR_FILES


@pytest.mark.parametrize("name", DUPLICATE_ANCHOR_FILES)
def test_redefined_anchors_load(name):
    raw = (corpus() / name).read_bytes()
    with pytest.raises(yaml.composer.ComposerError, match="found duplicate anchor"):
        yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # PyYAML refuses them
    data = load(corpus() / name, cache=False).data
    assert data["openapi"] == "3.0.0" and data["paths"]
    # an alias after redefinitions of &run_top_p_description (all with the same text here)
    top_p = data["components"]["schemas"]["CreateThreadAndRunRequest"]["properties"]["top_p"]
    assert top_p["description"].startswith("An alternative to sampling with temperature")


def test_unquoted_date_in_corpus_stays_a_string():
    # PyYAML 1.1 turns this into datetime.date, which no JSON tool can take.
    data = load(corpus() / "openai-2026-08-21.yaml", cache=False).data
    workflow = data["components"]["schemas"]["ChatSessionResource"]["example"]["workflow"]
    assert workflow["version"] == "2024-10-01"


# --- YAML 1.2 -------------------------------------------------------------------


def test_alias_refers_to_the_most_recent_definition():
    data = parse("a: &x 1\nb: &x 2\nc: *x\n")
    assert data == {"a": 1, "b": 2, "c": 2}
    data = parse("a: &x {v: old}\nb: *x\nc: &x [new]\nd: *x\n")
    assert data["b"] == {"v": "old"} and data["d"] == ["new"]


@pytest.mark.parametrize("text, expected", [
    *[(word, word) for word in ["on", "On", "ON", "off", "yes", "Yes", "no", "NO", "y", "Y", "n"]],
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("tRue", "tRue"),
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None), ("nUll", "nUll"),
    ("2024-01-01", "2024-01-01"), ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("0o17", 15), ("010", 10), ("0x1F", 31), ("-5", -5), ("+7", 7), ("0", 0),
    ("1_000", "1_000"), ("1:30", "1:30"), ("0b101", "0b101"), ("0o8", "0o8"), ("-0x1", "-0x1"),
    ("1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0), ("-2.5E-1", -0.25), ("1_0.5", "1_0.5"),
    (".inf", math.inf), ("-.Inf", -math.inf), ("+.INF", math.inf), ("1e", "1e"),
    ("=", "="), ("'true'", "true"), ('"010"', "010"),
    ("!!str 12", "12"), ("!!str true", "true"), ("!!int '12'", 12), ("!!float 1", 1.0),
    ("!!bool 'false'", False), ("!!null ''", None),
])
def test_core_schema_scalars(text, expected):
    value = parse(f"v: {text}\n")["v"]
    assert value == expected and type(value) is type(expected)


def test_nan():
    assert math.isnan(parse("v: .NaN")["v"])


@pytest.mark.parametrize("text", ["!!bool yes", "!!int 1_000", "!!float abc", "!!timestamp 2024-01-01",
                                  "!!binary aGk=", "!!set {a}", "!custom x"])
def test_non_core_tags_are_refused(text):
    with pytest.raises(SpecLoadError) as info:
        parse(f"v: {text}\n")
    assert info.value.line == 1 and info.value.column == 4


def test_keys_become_strings():
    data = parse("200: a\n'201': b\ntrue: c\n~: d\n1.5: e\n0x10: f\n!!str 404: g\ndefault: h\n")
    assert data == {"200": "a", "201": "b", "true": "c", "~": "d", "1.5": "e", "0x10": "f", "404": "g",
                    "default": "h"}
    assert parse(MINIMAL)["paths"]["/a"]["get"]["responses"] == {"200": {"description": "ok"}}


def test_collection_keys_are_refused():
    with pytest.raises(SpecLoadError, match="key") as info:
        parse("a: 1\n? [x, y]\n: 2\n")
    assert (info.value.line, info.value.column) == (2, 3)


def test_merge_keys():
    assert parse("base: &b {x: 1, y: 2}\nderived: {<<: *b, y: 3}\n")["derived"] == {"x": 1, "y": 3}


def test_alias_cycles_and_bombs_are_refused():
    with pytest.raises(SpecLoadError, match="cycle"):
        parse("a: &x [1, *x]\n")
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 values
    with pytest.raises(SpecLoadError, match="aliases are expanded"):
        parse("\n".join(lines))


def test_pure_python_fallback_without_libyaml():
    """Without libyaml the same rules hold, through PyYAML's pure-Python classes."""
    code = ("import sys; sys.modules['yaml._yaml'] = None\n"
            "from dynclient import loader\n"
            "assert loader.FastLoader is loader.TolerantLoader\n"
            "print(loader.parse_bytes(b'a: &x on\\nb: &x 010\\nc: *x\\n200: 2024-01-01\\n', 't'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'a': 'on', 'b': 10, 'c': 10, '200': '2024-01-01'}"


# --- JSON -------------------------------------------------------------------------


def test_json_fast_path_gives_the_same_data(tmp_path, monkeypatch):
    source = corpus() / "openai-2023-03-15.yaml"
    from_yaml = load(source, cache=False).data
    path = write(tmp_path / "spec.json", b"\xef\xbb\xbf\n  " + json.dumps(from_yaml, indent=1).encode())
    monkeypatch.setattr(loader, "_parse_yaml", lambda *a: pytest.fail("the YAML parser was used"))
    assert load(path, cache=False).data == from_yaml


def test_json_like_yaml_falls_back_to_yaml(tmp_path):
    text = b'{"openapi": "3.0.0", # a comment\n paths: {}, "x": [1,2,],}\n'
    for name in ("spec.yaml", "spec.json"):  # valid YAML is loaded whatever the name says
        data = load(write(tmp_path / name, text), cache=False).data
        assert data == {"openapi": "3.0.0", "paths": {}, "x": [1, 2]}


def test_malformed_json_reports_json_line_and_column(tmp_path):
    text = b'{\n  "openapi": "3.0.0",\n  "paths": {\n    "/a": {"get": {"summary" "x"}}\n  }\n}\n'
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(SpecLoadError) as info:
        load(write(tmp_path / "bad.json", text), cache=False)
    error = info.value
    assert (error.line, error.column) == (expected.value.lineno, expected.value.colno) == (4, 30)
    assert error.reason == "Expecting ':' delimiter" and error.origin == str(tmp_path / "bad.json")
    assert str(error).startswith(f"{tmp_path / 'bad.json'}:4:30: ")


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("text, line, column, words", [
    ("openapi: 3.0.0\npaths:\n  /a:\n    get: {summary: [unclosed}\n", 4, 29, "flow sequence"),
    ("openapi: 3.0.0\npaths:\n  /a:\n    get:\n      summary: ok\n     bad: indent\n", 6, 6, "expected key"),
    ('openapi: 3.0.0\npaths:\n  /a: "unterminated\n', 4, 1, "quoted scalar"),
    ("openapi: 3.0.0\npaths:\n\t/a: {}\n", 3, 1, "cannot start any token"),  # a tab indent
    ("a: *undefined\n", 1, 4, "undefined alias"),
    ("a: 1\n---\nb: 2\n", 2, 1, "single document"),
])
def test_malformed_yaml_reports_line_and_column(tmp_path, text, line, column, words):
    path = write(tmp_path / "bad.yaml", text.encode())
    with pytest.raises(SpecLoadError) as info:
        load(path, cache=False)
    assert (info.value.origin, info.value.line, info.value.column) == (str(path), line, column)
    assert words in info.value.reason


def test_bad_encoding_is_a_load_error():
    with pytest.raises(SpecLoadError, match="invalid leading UTF-8 octet"):
        parse(b"openapi: 3.0.0\ninfo: \xff\n")


@pytest.mark.parametrize("text, words", [
    ("- a\n- b\n", "the top level is a list"),
    ("just words\n", "the top level is a string"),
    ("", "empty"),
    ('swagger: "2.0"\npaths: {}\n', "Swagger 2.0 document; convert it to OpenAPI 3"),
    ("openapi: 2.5\npaths: {}\n", "'openapi' is 2.5, not a 3.x version"),
    ("openapi: 3.1\npaths: {}\n", 'write it as a string'),
    ("info: {title: t}\npaths: {}\n", "no 'openapi'"),
    ("openapi: 3.0.0\ninfo: {title: t}\n", "none of 'paths', 'webhooks' and 'components'"),
])
def test_not_openapi(tmp_path, text, words):
    with pytest.raises(NotOpenAPIError) as info:
        load(write(tmp_path / "doc.yaml", text.encode()), cache=False)
    assert words in info.value.what and info.value.origin == str(tmp_path / "doc.yaml")


def test_webhooks_only_31_document_loads(tmp_path):
    text = b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\nwebhooks: {}\n"
    assert "webhooks" in load(write(tmp_path / "hooks.yaml", text), cache=False).data


def test_python_tags_are_refused_not_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    for tag in ['!!python/object/apply:os.system ["echo hi"]', '!!python/object/new:os.system ["echo hi"]',
                "!!python/name:os.system", "!!python/tuple [1]"]:
        path = write(tmp_path / "evil.yaml", f"openapi: 3.0.0\npaths: {{}}\nx: {tag}\n".encode())
        with pytest.raises(SpecLoadError, match="could not determine a constructor") as info:
            load(path, cache=False)
        assert (info.value.line, info.value.column) == (3, 4)
    assert calls == []


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SpecLoadError, match="no such file") as info:
        load(tmp_path / "nope.yaml")
    assert info.value.origin == str(tmp_path / "nope.yaml")
    with pytest.raises(SpecLoadError, match="directory"):
        load(str(tmp_path), cache=False)
    with pytest.raises(TypeError):
        load(b"openapi: 3.0.0")


def test_parse_bytes_wants_a_mapping():
    assert parse_bytes(MINIMAL, "m")["openapi"] == "3.1.0"
    assert parse_bytes(b"overlay: 1.0.0\nactions: []\n", "o") == {"overlay": "1.0.0", "actions": []}
    with pytest.raises(SpecLoadError, match="found a list"):
        parse_bytes(b"[1, 2]", "l")


# --- dicts, Documents and pins ---------------------------------------------------


def test_dict_and_document_sources(tmp_path):
    spec = {"openapi": "3.0.3", "paths": {}}
    doc = load(spec)
    assert isinstance(doc, Document) and doc.data is spec and doc.origin == "<dict>" and doc.sha256 is None
    assert load(doc) is doc
    assert "data" not in repr(doc)  # a 3 MB document must not flood a traceback
    with pytest.raises(IntegrityError):
        load(spec, sha256="0" * 64)
    with pytest.raises(NotOpenAPIError, match="Swagger"):
        load({"swagger": "2.0", "paths": {}})
    file_doc = load(write(tmp_path / "m.yaml", MINIMAL), cache=False)
    assert load(file_doc, sha256=hashlib.sha256(MINIMAL).hexdigest()) is file_doc
    with pytest.raises(IntegrityError):
        load(file_doc, sha256="0" * 64)


def test_sha256_pin(tmp_path):
    path = write(tmp_path / "m.yaml", MINIMAL)
    digest = hashlib.sha256(MINIMAL).hexdigest()
    assert load(path, sha256=digest.upper(), cache=tmp_path / "c").sha256 == digest
    for cache in (False, tmp_path / "c"):  # also when the parsed document is in the cache
        with pytest.raises(IntegrityError) as info:
            load(path, sha256="ab" * 32, cache=cache)
        assert (info.value.expected, info.value.actual) == ("ab" * 32, digest)


# --- the cache ----------------------------------------------------------------------


def cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "docs").iterdir()) if (cache / "docs").is_dir() else []


def cached_entry(entry: Path) -> dict:
    """A cache file: the sha256 of its payload, then the payload, marshal's dump of the entry."""
    blob = entry.read_bytes()
    assert hashlib.sha256(blob[32:]).digest() == blob[:32]
    return marshal.loads(blob[32:])


def checksummed(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest() + payload


def test_cache_hit_and_corrupt_entry(tmp_path, monkeypatch):
    path, cache = write(tmp_path / "m.yaml", MINIMAL), tmp_path / "cache"
    first = load(path, cache=cache)
    [entry] = cache_files(cache)
    assert cached_entry(entry)["data"] == first.data and cached_entry(entry)["sha256"] == first.sha256
    good = entry.read_bytes()

    real_parse = loader._parse
    parsed = []
    monkeypatch.setattr(loader, "_parse", lambda *a: parsed.append(a) or real_parse(*a))
    hit = load(path, cache=cache)
    assert parsed == [] and hit.data == first.data and hit.sha256 == first.sha256 and hit.origin == str(path)

    flipped = bytearray(good)
    flipped[good.index(b"paths")] ^= 0x20   # "Paths": still a loadable marshal dump, of the wrong data
    junk = [good[:-7], good[:32], b"", b"\x00\xff", bytes(flipped), good[:32] + good[32:-1],
            checksummed(b"\xff\x00garbage"),                                       # not marshal data
            checksummed(marshal.dumps([])),                                          # not an entry
            checksummed(marshal.dumps({"sha256": "x", "data": first.data})),         # another document's
            checksummed(marshal.dumps({"sha256": first.sha256, "data": "text"})),    # data not a mapping
            b'{"format": 1, "sha256": "%s", "data": {}}' % first.sha256.encode()]    # the old JSON format
    for bad in junk:
        entry.write_bytes(bad)
        assert load(path, cache=cache).data == first.data  # ignored, parsed again
        assert entry.read_bytes() == good  # and rewritten
    assert len(parsed) == len(junk)
    assert [p.name for p in (cache / "docs").iterdir()] == [entry.name]  # no temporary files left


def test_cache_hit_shares_equal_strings_and_aliased_nodes(tmp_path, monkeypatch):
    text = (b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"
            b"x-a: &node {kind: [string, string]}\nx-b: *node\nx-c: {kind: [string]}\n"
            b"x-deep: " + b"[" * 900 + b"]" * 900 + b"\n")   # as deep as the YAML parser allows
    path, cache = write(tmp_path / "s.yaml", text), tmp_path / "cache"
    first = load(path, cache=cache)
    parsed = []
    real_parse = loader._parse
    monkeypatch.setattr(loader, "_parse", lambda *a: parsed.append(a) or real_parse(*a))
    data = load(path, cache=cache).data
    assert parsed == [] and data == first.data   # a cache hit, deep as it is
    one, two, three = data["x-a"]["kind"][0], data["x-a"]["kind"][1], data["x-c"]["kind"][0]
    assert one == "string" and one is two is three   # made once by the load
    assert data["x-a"] is data["x-b"]                # an alias stays one node, as when parsed


def test_cache_key_follows_bytes_and_format(tmp_path, monkeypatch):
    path, cache = write(tmp_path / "m.yaml", MINIMAL), tmp_path / "cache"
    load(path, cache=cache)
    write(path, MINIMAL + b"# changed\n")
    load(path, cache=cache)
    assert len(cache_files(cache)) == 2
    monkeypatch.setattr(loader, "CACHE_FORMAT", loader.CACHE_FORMAT + 1)
    load(path, cache=cache)
    assert len(cache_files(cache)) == 3


def test_cache_key_version_is_the_installed_distributions():
    import importlib.metadata
    assert loader.package_version() == importlib.metadata.version("dynclient")   # a release invalidates the cache


def test_cache_directory_choice(tmp_path, monkeypatch):
    path = write(tmp_path / "m.yaml", MINIMAL)
    for var in ("DYNCLIENT_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    load(path)
    assert len(cache_files(tmp_path / "home" / ".cache" / "dynclient")) == 1
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load(path)
    assert len(cache_files(tmp_path / "xdg" / "dynclient")) == 1
    monkeypatch.setenv("DYNCLIENT_CACHE_DIR", str(tmp_path / "env"))
    load(path)
    assert len(cache_files(tmp_path / "env")) == 1
    load(path, cache=str(tmp_path / "arg"))
    assert len(cache_files(tmp_path / "arg")) == 1
    load(path, cache=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arg", "env", "home", "m.yaml", "xdg"]


def test_unwritable_cache_is_skipped(tmp_path):
    blocker = write(tmp_path / "not-a-dir", b"")
    assert load(write(tmp_path / "m.yaml", MINIMAL), cache=blocker).data["openapi"] == "3.1.0"


def test_dicts_are_not_cached(tmp_path):
    load({"openapi": "3.0.0", "paths": {}}, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


# --- URLs ----------------------------------------------------------------------------


@pytest.fixture
def spec_server():
    """A local HTTP server: /spec.yaml is MINIMAL, /slow answers late, anything else is 404."""
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow":
                done.wait(5)
            if self.path == "/spec.yaml":
                self.send_response(200)
                self.send_header("Content-Type", "application/yaml")
                self.send_header("Content-Length", str(len(MINIMAL)))
                self.end_headers()
                self.wfile.write(MINIMAL)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    done.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_load_by_url(spec_server, tmp_path):
    digest = hashlib.sha256(MINIMAL).hexdigest()
    doc = load(f"{spec_server}/spec.yaml", sha256=digest, cache=tmp_path)
    assert doc.origin == f"{spec_server}/spec.yaml" and doc.sha256 == digest
    assert doc.data["paths"]["/a"]["get"]["responses"]["200"] == {"description": "ok"}
    assert len(cache_files(tmp_path)) == 1
    with urllib3.PoolManager() as pool:
        assert load(f"{spec_server}/spec.yaml", pool=pool, cache=False).data == doc.data


def test_url_errors(spec_server):
    with pytest.raises(IntegrityError) as info:
        load(f"{spec_server}/spec.yaml", sha256="0" * 64, cache=False)
    assert info.value.actual == hashlib.sha256(MINIMAL).hexdigest()
    with pytest.raises(SpecLoadError, match="HTTP 404") as info:
        load(f"{spec_server}/missing.yaml", cache=False)
    assert info.value.origin == f"{spec_server}/missing.yaml"
    with pytest.raises(SpecLoadError, match="timed out"):
        load(f"{spec_server}/slow", timeout=0.2, cache=False, pool=urllib3.PoolManager(retries=False))


def test_url_credentials_stay_out_of_origin_and_errors(spec_server):
    url = spec_server.replace("http://", "http://user:s3cret@") + "/missing.yaml"
    with pytest.raises(SpecLoadError) as info:
        load(url, cache=False)
    assert "s3cret" not in str(info.value) and "s3cret" not in info.value.origin


def test_unreachable_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(SpecLoadError, match="cannot fetch"):
        load(f"http://127.0.0.1:{port}/spec.yaml", cache=False, pool=urllib3.PoolManager(retries=False))


# --- timings (not a test) ----------------------------------------------------------


def _timings(names: list[str]) -> None:
    import gc
    import tempfile
    import time

    def best(fn, runs=5):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    def paused(fn):
        def run():
            gc.disable()
            try:
                fn()
            finally:
                gc.enable()
        return run

    for name in names:
        path = corpus_path() / name
        raw = path.read_bytes()
        rows = {
            "yaml.CSafeLoader": lambda: yaml.load(raw, Loader=yaml.CSafeLoader),
            "yaml.CSafeLoader, gc paused": paused(lambda: yaml.load(raw, Loader=yaml.CSafeLoader)),
            "FastLoader, gc on": lambda: yaml.load(raw, Loader=loader.FastLoader),
            "FastLoader, gc paused": paused(lambda: yaml.load(raw, Loader=loader.FastLoader)),
            "TolerantLoader, gc on": lambda: yaml.load(raw, Loader=loader.TolerantLoader),
            "TolerantLoader, gc paused": paused(lambda: yaml.load(raw, Loader=loader.TolerantLoader)),
            "load(path, cache=False)": lambda: load(path, cache=False),
        }
        with tempfile.TemporaryDirectory() as cache:
            load(path, cache=cache)
            rows["load(path) cache hit"] = lambda: load(path, cache=cache)
            for label, fn in rows.items():
                try:
                    print(f"{name:26} {label:30} {best(fn):.3f} s")
                except yaml.YAMLError as exc:
                    print(f"{name:26} {label:30} {type(exc).__name__}")


if __name__ == "__main__":
    _timings(sys.argv[1:] or ["openai-2025-04-29.yaml", "openai-2026-08-21.yaml"])
