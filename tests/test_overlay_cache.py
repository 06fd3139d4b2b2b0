"""The mended document is cached: a second start of a named spec (or of a path with overlays) reads
the document with its overlays applied, and applies nothing; editing an overlay applies it afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dynclient
from dynclient import loader
from dynclient.evolve import overlay as overlay_module

DOC = (b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
       b"paths:\n  /a:\n    get:\n      operationId: getA\n      responses:\n        '200': {description: ok}\n")


def titled(title: str) -> dict:
    return {"overlay": "1.0.0", "info": {"title": "t", "version": "1"},
            "actions": [{"target": "$.info", "update": {"title": title}}]}


@pytest.fixture
def counted(monkeypatch):
    """Counts YAML/JSON parses and overlay applications."""
    seen = {"parse": 0, "apply": 0}
    real_parse, real_apply = loader._parse, overlay_module.apply

    def parse(*args):
        seen["parse"] += 1
        return real_parse(*args)

    def apply(*args):
        seen["apply"] += 1
        return real_apply(*args)

    monkeypatch.setattr(loader, "_parse", parse)
    monkeypatch.setattr(overlay_module, "apply", apply)
    return seen


def test_overlay_file_is_applied_once_then_read_mended_and_an_edit_applies_again(tmp_path, counted):
    source, cache, mend = tmp_path / "doc.yaml", tmp_path / "cache", tmp_path / "mend.json"
    source.write_bytes(DOC)
    mend.write_text(json.dumps(titled("first")))
    assert dynclient.Spec(source, overlays=[mend], cache=cache).title == "first"
    assert counted == {"parse": 1, "apply": 1}
    assert dynclient.Spec(source, overlays=[mend], cache=cache).title == "first"
    assert counted == {"parse": 1, "apply": 1}                     # read mended: nothing applied
    assert dynclient.Spec(source, cache=cache).title == "t"           # the plain entry stays plain
    assert dynclient.Spec(source, overlays=False, cache=cache).title == "t"
    assert counted == {"parse": 1, "apply": 1}
    mend.write_text(json.dumps(titled("second")))                      # same file, new content
    assert dynclient.Spec(source, overlays=[mend], cache=cache).title == "second"
    assert counted == {"parse": 1, "apply": 2}                     # applied to the cached plain document
    assert dynclient.Spec(source, overlays=[titled("as a dict")], cache=cache).title == "as a dict"
    assert dynclient.Spec(source, overlays=[titled("as a dict")], cache=cache).title == "as a dict"
    assert counted == {"parse": 1, "apply": 3}
    assert dynclient.Spec(source, overlays=[mend], cache=False).title == "second"
    assert counted == {"parse": 2, "apply": 4}                     # cache=False: nothing read or kept


def test_a_corrupt_mended_entry_is_mended_again(tmp_path, counted):
    source, cache = tmp_path / "doc.yaml", tmp_path / "cache"
    source.write_bytes(DOC)
    dynclient.Spec(source, cache=cache)
    plain = set((cache / "docs").iterdir())
    dynclient.Spec(source, overlays=[titled("mended")], cache=cache)
    [mended] = set((cache / "docs").iterdir()) - plain
    mended.write_bytes(mended.read_bytes()[:-10])
    assert dynclient.Spec(source, overlays=[titled("mended")], cache=cache).title == "mended"
    assert counted == {"parse": 1, "apply": 2}
    assert dynclient.Spec(source, overlays=[titled("mended")], cache=cache).title == "mended"
    assert counted == {"parse": 1, "apply": 2}                     # rewritten, then read


def test_a_dict_source_is_never_changed_nor_cached(tmp_path):
    data = json.loads(json.dumps(loader.parse_bytes(DOC, "doc.yaml")))
    spec = dynclient.Spec(data, overlays=[titled("mended")], cache=tmp_path / "cache")
    assert spec.title == "mended" and data["info"]["title"] == "t"
    assert not (tmp_path / "cache").exists()


def test_named_spec_second_start_reads_the_mended_document(tmp_path, counted, corpus_dir):
    name = "openai@2025-04-29"   # its shipped overlay is small; the 2026-08-21 one works alike
    if not dynclient.sources.is_name(name) or not overlay_module.shipped_overlays(name):
        pytest.skip(f"{name} has no shipped overlay")
    first = dynclient.Spec(name, cache=tmp_path)
    assert counted == {"parse": 1, "apply": 1}
    second = dynclient.Spec(name, cache=tmp_path)
    assert counted == {"parse": 1, "apply": 1}
    assert second.data == first.data and second.document.sha256 == first.document.sha256
    assert second.data != dynclient.Spec(name, cache=tmp_path, overlays=False).data
    assert list(second.operations) == list(first.operations) and second.problems == first.problems
