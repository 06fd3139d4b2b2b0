"""Every schema of every published OpenAI document compiles, and the documents' own
media-type examples validate.

The corpus is ../shared/specs/openai (or $DYNCLIENT_CORPUS, see conftest.py);
without it these tests skip. Each version is loaded once (pinned by the sha256
in manifest.json) into a module-scoped fixture, so pytest runs all of a
version's tests together and holds one document at a time (all 36 documents
with their compiled validators would take ~1.4 GB).

Time: ~10-15 s for the whole corpus, most of it compiling the 2026 documents
(~1,160 schema places each).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

import dynclient
from dynclient.schema import iter_schema_pointers
from dynclient.spec import escape_pointer

BASE_URL = "http://127.0.0.1:9"   # never contacted


def _corpus_path() -> Path:
    """The same place as the `corpus_dir` fixture of conftest.py (needed at collection time)."""
    env = os.environ.get("DYNCLIENT_CORPUS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"


def _manifest_versions() -> list:
    try:
        versions = json.loads((_corpus_path() / "manifest.json").read_text())["versions"]
    except (OSError, ValueError, KeyError):
        return [pytest.param(None, id="no-corpus",
                             marks=pytest.mark.skip(reason=f"no OpenAI corpus manifest at {_corpus_path()}"))]
    return [pytest.param(v, id=v["file"].removesuffix(".yaml")) for v in versions]


# Loaded documents, by file name: filled by the `loaded` fixture, emptied when its
# version's tests are done (see the module docstring for why not kept).
_LOADED: dict[str, dynclient.Client] = {}


@pytest.fixture(scope="module", params=_manifest_versions())
def loaded(request, corpus_dir: Path, tmp_path_factory) -> Iterator[tuple[dict, dynclient.Client]]:
    """(manifest entry, Client) of one corpus version; parsed-document cache in a temp dir."""
    version = request.param
    path = corpus_dir / version["file"]
    if not path.is_file():
        pytest.skip(f"{version['file']} is listed in manifest.json but missing from {corpus_dir}")
    if version["file"] not in _LOADED:
        cache = tmp_path_factory.getbasetemp() / "dynclient-cache"
        spec = dynclient.Spec(str(path), cache=str(cache), sha256=version["sha256"])
        _LOADED[version["file"]] = dynclient.Client(spec, base_url=BASE_URL)
    yield version, _LOADED[version["file"]]
    _LOADED.pop(version["file"], None)


# --- every schema compiles --------------------------------------------------------


def test_every_schema_compiles(loaded):
    """Every request-body, parameter and response schema of the document compiles in its
    direction, with zero SchemaCompileErrors, and the compiled validator runs (validating
    a few trivial instances neither crashes nor meets an unresolvable reference)."""
    version, client = loaded
    spec = client.spec
    if "operations" in version:   # manifest.json's own count, where its parser could read the file
        assert len(spec) == version["operations"], "operations missing from the index"
    pointers = list(iter_schema_pointers(spec))
    assert pointers, "no schema places found"
    assert {d for _, d in pointers} <= {"request", "response"}
    failures = []
    for pointer, direction in pointers:
        try:
            compiled = client.schemas.compiled(pointer, direction)
            for instance in ({}, [], "", None):
                compiled.violation(instance)
        except dynclient.SchemaCompileError as exc:
            failures.append(f"{direction} {pointer}: {exc}")
        except Exception as exc:   # anything else escaping compile or validation is a bug too
            failures.append(f"{direction} {pointer}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} of {len(pointers)} schemas failed:\n" + "\n".join(failures[:30])


# --- the documents' own examples validate ------------------------------------------------------


# Media-type examples that the document gets wrong (not our validator), by
# (file, JSON pointer of the example value) -> why it is wrong. The test fails both
# when an example outside this list fails (a regression in our validator, or a new
# document defect to name here) and when a listed one passes (a stale entry).
#
# As of the pinned corpus, all media-type examples validate: only the 2026 documents
# have any (POST /images/edits: `multipart_edit`, `json_with_url`,
# `json_with_file_id`), so this list is empty. The many examples under x-oaiMeta
# are not media-type examples and are out of scope here.
KNOWN_BROKEN_EXAMPLES: dict[tuple[str, str], str] = {}


def media_type_examples(spec: dynclient.Spec) -> Iterator[tuple[str, str, str, Any]]:
    """(example pointer, schema pointer, direction, value) of every JSON-object `example`/`examples`
    on a request-body or response media type (following `$ref`s to components)."""
    for op in spec:
        raw = spec.resolve_pointer(op.pointer)
        places = []
        if raw.get("requestBody") is not None:
            body, at = spec.deref(raw["requestBody"], f"{op.pointer}/requestBody")
            places += [(f"{at}/content/{escape_pointer(ct)}", media, "request")
                       for ct, media in (body.get("content") or {}).items()]
        for status, response in (raw.get("responses") or {}).items():
            response, at = spec.deref(response, f"{op.pointer}/responses/{escape_pointer(str(status))}")
            places += [(f"{at}/content/{escape_pointer(ct)}", media, "response")
                       for ct, media in (response.get("content") or {}).items()]
        for at, media, direction in places:
            if not isinstance(media, dict) or media.get("schema") is None:
                continue
            found = []
            if "example" in media:
                found.append((f"{at}/example", media["example"]))
            for name, example in (media.get("examples") or {}).items():
                example, where = spec.deref(example, f"{at}/examples/{escape_pointer(name)}")
                if isinstance(example, dict) and "value" in example:   # (externalValue: nothing to check)
                    found.append((f"{where}/value", example["value"]))
            for pointer, value in found:
                if isinstance(value, dict):
                    yield pointer, f"{at}/schema", direction, value


def test_media_type_examples_validate(loaded):
    """Every JSON-object example on a request-body or response media type validates against
    its schema, except the document defects named in KNOWN_BROKEN_EXAMPLES."""
    version, client = loaded
    failures = {}
    for pointer, schema_pointer, direction, value in media_type_examples(client.spec):
        violation = client.schemas.compiled(schema_pointer, direction).violation(value)
        if violation is not None:
            failures[(version["file"], pointer)] = f"{violation.pointer or '/'}: {violation.message}"
    known = {key: why for key, why in KNOWN_BROKEN_EXAMPLES.items() if key[0] == version["file"]}
    unexpected = {k: v for k, v in failures.items() if k not in known}
    stale = [k for k in known if k not in failures]
    assert not unexpected, "examples that do not validate (a validator regression, or a document " \
                           "defect to list in KNOWN_BROKEN_EXAMPLES):\n" + \
                           "\n".join(f"{p}: {why}" for (_, p), why in unexpected.items())
    assert not stale, f"KNOWN_BROKEN_EXAMPLES entries that now validate (remove them): {stale}"


def test_example_collector_and_validator_are_not_vacuous(spec_2026, tmp_path_factory):
    """The example collector finds the 2026 document's /images/edits examples (so the test above
    does check something), they validate, and a broken copy of each is rejected."""
    spec = dynclient.Spec(str(spec_2026), cache=str(tmp_path_factory.getbasetemp() / "dynclient-cache"))
    client = dynclient.Client(spec, base_url=BASE_URL)
    found = {p.rsplit("/", 2)[-2]: (s, d, v) for p, s, d, v in media_type_examples(spec)}
    assert {"json_with_url", "json_with_file_id", "multipart_edit"} <= set(found), sorted(found)
    for name, (schema_pointer, direction, value) in found.items():
        compiled = client.schemas.compiled(schema_pointer, direction)
        assert compiled.violation(value) is None, name
        broken = copy.deepcopy(value)
        broken["prompt"] = 42                   # every edit example has a string prompt
        violation = compiled.violation(broken)
        assert violation is not None and violation.pointer == "/prompt", (name, violation)
