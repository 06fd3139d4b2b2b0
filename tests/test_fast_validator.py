"""jsonschema-rs (the fast verdict) and jsonschema (the reference) agree.

dynclient takes a payload's verdict from jsonschema-rs when it is installed and asks jsonschema
only to explain a failure, so the two must agree on every payload: on each discriminator form
that dynclient.fast rewrites into plain 2020-12, and on bodies, parameters and responses that
the hypothesis strategies generate, valid and invalid, for a sample of the operations of
2025-04-29 (OpenAPI 3.0) and 2026-08-21 (3.1). Without jsonschema-rs, jsonschema alone judges.

    .venv/bin/python -m pytest tests/test_fast_validator.py -q
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from pathlib import Path

import pytest

pytest.importorskip("jsonschema_rs")
pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import dynclient  # noqa: E402
from dynclient import codecs  # noqa: E402
from dynclient.schema import SchemaSet, iter_schema_pointers  # noqa: E402
from dynclient.testing import strategies as ds  # noqa: E402

from _specs import CORPUS, DOCUMENTS, client_for  # noqa: E402  (shared corpus documents and clients)
# The heavy hitters by name, then every 12th operation with a JSON body, for spread.
NAMED = ("createChatCompletion", "createAssistant", "createRun", "createResponse", "createFineTuningJob",
         "createEmbedding", "modifyAssistant", "createVectorStore")
EXAMPLES = 8


def agree(compiled, instance: Any) -> None:
    fast = compiled.fast_verdict(instance)
    reference = compiled.reference().is_valid(instance)
    assert fast is not None, "jsonschema-rs gave no verdict on JSON data"
    assert fast == reference, (f"{compiled.pointer}: jsonschema-rs says {'valid' if fast else 'invalid'}, "
                               f"jsonschema says {'valid' if reference else 'invalid'} for {instance!r:.300}")


# --- the discriminator rewrite, form by form --------------------------------------------------


def pets(discriminator: dict | None, version: str = "3.0.3") -> SchemaSet:
    cat = {"type": "object", "required": ["kind", "meows"],
           "properties": {"kind": {"type": "string", "enum": ["cat"]}, "meows": {"type": "boolean"}}}
    dog = {"type": "object", "required": ["kind", "barks"],
           "properties": {"kind": {"type": "string", "enum": ["dog", "puppy"]}, "barks": {"type": "integer"}}}
    loose = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    body = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"},
                      {"$ref": "#/components/schemas/Loose"}]}
    if discriminator is not None:
        body["discriminator"] = discriminator
    doc = {"openapi": version, "info": {"title": "pets", "version": "1"},
           "components": {"schemas": {"Cat": cat, "Dog": dog, "Loose": loose, "Pet": body}},
           "paths": {}}
    return SchemaSet(dynclient.Spec(doc))


PETS = [
    {"kind": "cat", "meows": True}, {"kind": "cat", "meows": 1}, {"kind": "dog", "barks": 3},
    {"kind": "puppy", "barks": 3}, {"kind": "dog", "meows": True}, {"kind": "cow"}, {"kind": 7, "name": "x"},
    {"name": "rex"}, {"name": "rex", "kind": "cat", "meows": False}, {"kind": "Loose", "name": "n"}, {},
    [], "cat", None, 3, {"kind": "cat", "meows": True, "name": "both"}, {"kind": None, "name": "n"},
]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@pytest.mark.parametrize("discriminator", [
    None,                                                               # plain oneOf (nothing inferred: Loose)
    {"propertyName": "kind"},                                           # by the branches' enums + implicit names
    {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat", "hound": "Dog"}},
    {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Dog"}},   # a mapping that disagrees
], ids=["plain", "declared", "mapping", "contrary-mapping"])
def test_discriminator_forms_agree(version, discriminator):
    schemas = pets(discriminator, version)
    for direction in ("request", "response"):
        compiled = schemas.compiled("/components/schemas/Pet", direction)
        for instance in PETS:
            agree(compiled, instance)


def test_inferred_discriminator_agrees():
    """Every branch requires `role` with disjoint values: an unknown or absent role is rejected."""
    def message(role: str, content: dict) -> dict:
        return {"type": "object", "required": ["role", "content"],
                "properties": {"role": {"type": "string", "enum": [role]}, "content": content}}
    doc = {"openapi": "3.1.0", "info": {"title": "m", "version": "1"}, "paths": {},
           "components": {"schemas": {"Message": {"anyOf": [message("user", {"type": "string"}),
                                                           message("tool", {"type": "integer"})]}}}}
    compiled = SchemaSet(dynclient.Spec(doc)).compiled("/components/schemas/Message", "request")
    assert compiled.fast is not None
    for instance in [{"role": "user", "content": "hi"}, {"role": "user", "content": 1},
                     {"role": "tool", "content": 1}, {"role": "usr", "content": "hi"}, {"content": "hi"},
                     {"role": 1, "content": 1}, "user", [], None]:
        agree(compiled, instance)


def test_a_case_checks_its_discriminating_value_before_its_branch():
    # jsonschema-rs takes a schema's sibling keywords in an order of its own: with the branch beside the
    # value's check, each chat message was judged against every earlier role's schema first. allOf is
    # taken in order: the check, then the branch.
    import jsonschema_rs
    from dynclient.fast import fast_form
    from dynclient.vocabulary import DISCRIMINATOR
    cat = {"type": "object", "required": ["meows"], "properties": {"meows": {"type": "boolean"}}}
    dog = {"type": "object", "required": ["barks"], "properties": {"barks": {"type": "integer"}}}
    node = {"oneOf": [cat, dog], DISCRIMINATOR: {"property": "kind", "keyword": "oneOf", "inferred": True,
                                                 "all": {"cat": [0], "dog": [1]}}}
    form, _ = fast_form(node)
    cases = form["allOf"][0]["then"]["anyOf"]
    assert [case["allOf"][0] for case in cases] == [
        {"required": ["kind"], "properties": {"kind": {"const": "cat"}}},
        {"required": ["kind"], "properties": {"kind": {"const": "dog"}}}]
    assert [case["allOf"][1] for case in cases] == [cat, dog]
    verdict = jsonschema_rs.Draft202012Validator(form).is_valid
    assert verdict({"kind": "dog", "barks": 1}) and not verdict({"kind": "dog", "meows": True})
    assert not verdict({"kind": "cow", "barks": 1}) and not verdict({"barks": 1})


# --- generated payloads over the corpus ----------------------------------------------------------


def _sample(path: Path) -> list[str]:
    spec = dynclient.Spec(path)
    with_json = [op.operation_id for op in spec if op.request_body and any(
        codecs.media_essence(k) == "application/json" and m.schema is not None
        for k, m in op.request_body.content.items())]
    return sorted(set([name for name in NAMED if name in spec.operations] + with_json[::12]))


def _cases() -> list:
    cases = []
    for name, path in DOCUMENTS.items():
        if not path.is_file():
            cases.append(pytest.param(name, None, marks=pytest.mark.skip(reason=f"{path} not found")))
            continue
        cases += [pytest.param(name, op, id=f"{name}-{op}") for op in _sample(path)]
    return cases


def json_media(op):
    return next(m for k, m in op.request_body.content.items() if codecs.media_essence(k) == "application/json")


@pytest.mark.parametrize("document,operation_id", _cases())
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_generated_payloads_get_the_same_verdict(document, operation_id, data):
    client = client_for(document)
    op = client.spec[operation_id]
    media = json_media(op)
    request = client.schemas.compiled(media.pointer, "request")
    agree(request, data.draw(ds.request_body(client, operation_id, media.content_type), label="valid body"))
    agree(request, data.draw(ds.invalid_request_body(client, operation_id, media.content_type), label="invalid body"))
    for name, value in data.draw(ds.parameters(client, operation_id), label="params").items():
        p = op.parameters_by_name[name]
        if p.schema is not None:
            agree(client.schemas.compiled(p.pointer, "request"), value)
    status = next((s for s in op.responses if s.startswith("2")), None)
    response = op.responses.get(status) if status else None
    media = response and response.content.get("application/json")
    if media is not None and media.schema is not None:
        agree(client.schemas.compiled(media.pointer, "response"),
              data.draw(ds.response_body(client, operation_id, status, "application/json"), label="response"))


@pytest.mark.parametrize("document,operation_id", _cases()[:4])
def test_a_failure_reads_the_same_with_or_without_jsonschema_rs(document, operation_id):
    """The explanation always comes from jsonschema: same pointer, message and list."""
    client = client_for(document)
    media = json_media(client.spec[operation_id])
    pure = SchemaSet(client.spec, fast=False)
    assert pure.compiled(media.pointer, "request").fast is None
    for body in [{}, {"model": 1}, [], {"unexpected": {"deep": [1, 2]}}]:
        assert client.schemas.compiled(media.pointer, "request").violation(body) == \
            pure.compiled(media.pointer, "request").violation(body)


def test_every_schema_of_2025_has_a_fast_validator():
    """No silent fallback: jsonschema-rs takes every request, parameter and response schema."""
    if not DOCUMENTS["2025"].is_file():
        pytest.skip(f"{DOCUMENTS['2025']} not found")
    schemas = client_for("2025").schemas
    refused = [pointer for pointer, direction in iter_schema_pointers(client_for("2025").spec)
               if schemas.compiled(pointer, direction).fast is None]
    assert refused == []


# --- what jsonschema-rs cannot judge ------------------------------------------------------------


def test_values_that_are_not_json_go_to_the_reference():
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
           "components": {"schemas": {"S": {"type": "object", "properties": {"a": {"type": "string"}}}}}}
    compiled = SchemaSet(dynclient.Spec(doc)).compiled("/components/schemas/S", "request")
    assert compiled.fast_verdict({"a": b"bytes"}) is None
    assert not compiled.is_valid({"a": b"bytes"})
    assert compiled.violation({"a": b"bytes"}).pointer == "/a"
    assert compiled.is_valid({"a": "text"}) and compiled.is_valid({"b": (1, 2)})


def test_a_pattern_jsonschema_rs_refuses_is_left_to_jsonschema():
    """Python's `re` takes `\\Z` (end of string); jsonschema-rs's regex engine refuses it."""
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
           "components": {"schemas": {"S": {"type": "string", "pattern": "^ab\\Z"}}}}
    compiled = SchemaSet(dynclient.Spec(doc)).compiled("/components/schemas/S", "request")
    assert compiled.fast is None
    assert compiled.is_valid("ab") and not compiled.is_valid("abc") and not compiled.is_valid(1)


def test_without_jsonschema_rs_jsonschema_alone_validates(tmp_path):
    code = ("import sys; sys.modules['jsonschema_rs'] = None\n"
            "import dynclient\n"
            "from dynclient.schema import SchemaSet\n"
            "doc = {'openapi': '3.0.3', 'info': {'title': 't', 'version': '1'}, 'paths': {}, 'components': "
            "{'schemas': {'S': {'type': 'object', 'required': ['a'], 'properties': {'a': {'type': 'integer'}}}}}}\n"
            "schemas = SchemaSet(dynclient.Spec(doc))\n"
            "compiled = schemas.compiled('/components/schemas/S', 'request')\n"
            "assert not schemas.fast and compiled.fast is None\n"
            "assert compiled.is_valid({'a': 1})\n"
            "v = compiled.violation({'a': 'x'})\n"
            "print(v.pointer, v.message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "/a expected an integer, got string 'x'"


def test_a_deep_instance_under_a_recursive_schema_never_crashes_the_process():
    """jsonschema-rs overflows the native stack on deep nesting under a recursive schema (a
    segfault, measured at 990 levels on a 256 KB thread stack); such instances go to jsonschema."""
    code = ("import threading\n"
            "import dynclient\n"
            "from dynclient.schema import SchemaSet\n"
            "doc = {'openapi': '3.1.0', 'info': {'title': 't', 'version': '1'}, 'paths': {}, 'components': "
            "{'schemas': {'Node': {'type': 'array', 'items': {'$ref': '#/components/schemas/Node'}}, "
            "'Flat': {'type': 'array', 'items': {'type': 'array'}}}}}\n"
            "schemas = SchemaSet(dynclient.Spec(doc))\n"
            "node = schemas.compiled('/components/schemas/Node', 'request')\n"
            "assert node.recursive and not schemas.compiled('/components/schemas/Flat', 'request').recursive\n"
            "assert node.fast_verdict([[[]]]) is True and node.fast_verdict([[1]]) is False\n"
            "deep = []\n"
            "for _ in range(990):\n"
            "    deep = [deep]\n"
            "threading.stack_size(256 * 1024)\n"
            "thread = threading.Thread(target=lambda: print('fast verdict:', node.fast_verdict(deep)))\n"
            "thread.start()\n"
            "thread.join()\n"
            "try:\n"
            "    print('valid' if node.is_valid(deep) else 'invalid')\n"
            "except RecursionError:\n"
            "    print('RecursionError')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-500:]}"
    assert out.stdout.split("\n")[0] == "fast verdict: None"
    # Deeper than Python's reference validator can walk: refused as too deep, never a RecursionError.
    assert out.stdout.split("\n")[1] in ("valid", "invalid")
