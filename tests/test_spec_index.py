"""The lazy operation index: the same mapping an eager walk builds, built one operation at a time.

`Spec.operations` lists every operationId when the Spec is made and builds each Operation the
first time it is read. Reading `Spec.problems` builds every operation in document order, which
is exactly what the eager index did at construction; so a Spec read that way is the eager
reference, and a Spec read one operation at a time, in another order, must agree with it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import dynclient
from dynclient import SpecError, load
from dynclient.spec import HTTP_METHODS

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"
ENTRIES = json.loads((CORPUS / "manifest.json").read_text())["versions"] if CORPUS.is_dir() else []


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_lazy_index_equals_the_eager_one_on_every_corpus_document(entry, corpus_dir):
    document = load(corpus_dir / entry["file"])
    eager = dynclient.Spec(document)
    problems = eager.problems                      # builds every operation, in document order
    lazy = dynclient.Spec(document)
    keys = list(lazy.operations)
    assert keys == list(eager.operations) and len(lazy.operations) == len(keys)
    for operation_id in reversed(keys):            # built one at a time, in another order
        operation = lazy.operations[operation_id]
        assert operation == eager.operations[operation_id]
        assert lazy.operations[operation_id] is operation   # built once, then kept
    assert lazy.problems == problems
    assert dict(lazy.operations) == dict(eager.operations) and list(lazy) == list(eager)
    # Against the document itself: every operation object is indexed under its own operationId,
    # path by path, methods in HTTP_METHODS order.
    sites = [(method.upper(), path, item[method]["operationId"]) for path, item in document.data["paths"].items()
             for method in HTTP_METHODS if method in item]
    assert [(op.method, op.path, op.operation_id) for op in lazy.operations.values()] == sites


def _op(operation_id: str | None = None, **fields) -> dict:
    op = {"responses": {"200": {"description": "ok"}}, **fields}
    return {**op, "operationId": operation_id} if operation_id else op


DUPLICATES = {
    "openapi": "3.0.3", "info": {"title": "dup", "version": "1"},
    "paths": {
        "/a/{x}": {"get": _op("same"), "put": _op("same"), "post": _op("put_a_x")},
        "/b": {"$ref": "#/x-path-items/b"},
        "/c": {"get": _op("get_b"), "delete": _op()},
    },
    "x-path-items": {"b": {"get": _op(parameters=[{"name": "q", "in": "query"}])}},
}


def test_duplicates_and_derived_ids_are_settled_before_anything_is_built():
    spec = dynclient.Spec(DUPLICATES)
    # put's `same` is taken, so it becomes put_a_x; post's own put_a_x is then taken too, and
    # /c's get_b collides with the derived id of /b's get (a path item reached through $ref).
    assert list(spec.operations) == ["same", "put_a_x", "post_a_x", "get_b", "get_c", "delete_c"]
    assert [(op.method, op.path) for op in spec] == [
        ("GET", "/a/{x}"), ("PUT", "/a/{x}"), ("POST", "/a/{x}"), ("GET", "/b"), ("GET", "/c"), ("DELETE", "/c")]
    assert spec["get_b"].parameters[0].name == "q"
    assert [p.split(" at ")[0] for p in spec.problems] == [
        "/paths/~1a~1{x}/get: template variable {x} has no declared parameter; taken as a required string",
        "/paths/~1a~1{x}/put: template variable {x} has no declared parameter; taken as a required string",
        "duplicate operationId 'same'",
        "/paths/~1a~1{x}/post: template variable {x} has no declared parameter; taken as a required string",
        "duplicate operationId 'put_a_x'",
        "duplicate operationId 'get_b'",
    ]
    assert "(first at /paths/~1b/get); indexed as 'get_c'" in spec.problems[-1]


BROKEN = {
    "openapi": "3.1.0", "info": {"title": "one broken operation", "version": "1"},
    "paths": {
        "/good": {"get": _op("good", parameters=[{"name": "n", "in": "query", "schema": {"type": "integer"}}])},
        "/broken": {"get": _op("broken", parameters=[{"name": "n"}])},
    },
}


def test_an_operation_is_built_only_when_read():
    spec = dynclient.Spec(BROKEN)                  # the broken operation is not read yet
    assert len(spec.operations) == 2 and "broken" in spec.operations and "nope" not in spec.operations
    assert spec.operations.get("nope") is None
    with pytest.raises(KeyError):
        spec.operations["nope"]
    assert spec["good"].parameters[0].name == "n"
    prepared = dynclient.Client(spec, base_url="http://127.0.0.1:9").prepare("good", n=3)
    assert prepared.url.endswith("/good?n=3")
    for read in (lambda: spec["broken"], lambda: spec.problems, lambda: list(spec.operations.values())):
        with pytest.raises(SpecError, match=r"/paths/~1broken/get/parameters/0: a parameter needs `name` and `in`"):
            read()


def test_threads_reading_one_operation_share_one_build():
    spec = dynclient.Spec(load(CORPUS / "openai-2026-08-21.yaml")) if CORPUS.is_dir() else dynclient.Spec(BROKEN)
    operation_id = "createChatCompletion" if "createChatCompletion" in spec.operations else "good"
    seen, start = [], threading.Barrier(8)

    def read():
        start.wait()
        seen.append(spec.operations[operation_id])

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(op is seen[0] for op in seen)


def test_a_spec_nobody_holds_is_freed_at_once_not_by_the_garbage_collector():
    import gc
    import weakref
    spec = dynclient.Spec(DUPLICATES)
    spec["same"], spec.problems   # built operations, and the index, hold no reference back to it
    gone = weakref.ref(spec)
    gc.disable()
    try:
        del spec
        assert gone() is None
    finally:
        gc.enable()


def test_clients_of_one_spec_share_its_compiled_validators(tmp_path):
    # A client per request from one loaded Spec compiles nothing again (a first call of a new client
    # compiled createChatCompletion's schemas in about 40 ms); a Spec of its own has schemas of its own.
    from _specs import spec_30
    spec = dynclient.Spec(spec_30())
    first = dynclient.Client(spec, base_url="http://127.0.0.1:9", api_key="sk-test")
    second = dynclient.AsyncClient(spec, base_url="http://127.0.0.1:9", api_key="sk-test")
    op = spec.operations["postPing"]
    pointer = op.request_body.content["application/json"].pointer
    assert second.schemas is first.schemas is spec.schemas
    assert second.schemas.compiled(pointer, "request") is first.schemas.compiled(pointer, "request")
    other = dynclient.Client(dynclient.Spec(spec_30()), base_url="http://127.0.0.1:9", api_key="sk-test")
    assert other.schemas is not first.schemas
    assert first.with_options(timeout=3).schemas is first.schemas
