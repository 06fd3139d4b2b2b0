"""Schemas that refer to each other along many paths compile in bounded time (issue #19, item 1).

jsonschema-rs 0.61.2 compiles a `$ref` in place unless its target is on the current path of
references, so eight schemas that each name the seven others through `anyOf` (the shape of
Stripe's expandable fields) took 59 s and would take hours at ten. dynclient counts that work
first (`dynclient.fast.compile_cost`) and leaves such a schema to jsonschema, which compiles it in
a millisecond and gives the same verdicts.
"""

from __future__ import annotations

import time

import pytest

import dynclient
from dynclient import fast
from dynclient.errors import RequestValidationError
from dynclient.schema import SchemaSet
from dynclient.testing.mock import MockServer


def mutual(count: int) -> dict:
    """`count` object schemas, each with a property per other schema: that schema or its id."""
    names = [f"Thing{i}" for i in range(count)]
    schemas = {name: {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "size": {"type": "integer"},
        **{f"link{j}": {"anyOf": [{"$ref": f"#/components/schemas/{other}"}, {"type": "string"}]}
           for j, other in enumerate(names) if other != name}}} for name in names}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing0"}}}}
    return {"openapi": "3.0.3", "info": {"title": "mutual", "version": "1"},
            "paths": {"/things": {"post": {"operationId": "createThing", "requestBody": {"required": True, **body},
                                           "responses": {"200": {"description": "ok", **body}}}}},
            "components": {"schemas": schemas}}


GOOD = {"id": "t0", "link1": {"id": "t1", "link2": {"id": "t2", "link0": "t0"}}, "link3": "t3"}
BAD = {"id": "t0", "link1": {"id": "t1", "link2": {"id": "t2", "size": "big"}}}


@pytest.mark.parametrize("count", [8, 12])
def test_mutually_referring_schemas_compile_in_bounded_time(count):
    schemas = SchemaSet(dynclient.Spec(mutual(count)))
    started = time.perf_counter()
    compiled = schemas.compiled("/components/schemas/Thing0", "request")
    assert compiled.is_valid(GOOD)
    violation = compiled.violation(BAD)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{count} mutually referring schemas took {elapsed:.1f} s to compile and validate"
    assert compiled.fast is None, "left to the reference validator"
    assert violation is not None and violation.pointer == "/link1/link2/size"


def test_a_small_cycle_keeps_the_fast_validator():
    compiled = SchemaSet(dynclient.Spec(mutual(3))).compiled("/components/schemas/Thing0", "request")
    assert compiled.fast is not None
    assert compiled.fast_verdict(GOOD) is True and compiled.fast_verdict({"id": 1}) is False


def test_the_cost_stops_counting_at_the_budget():
    """Counting is bounded too: a complete graph of 40 schemas has more paths than atoms in the sky."""
    names = [f"s{i}" for i in range(40)]
    refs = {name: [other for other in names if other != name] for name in names}
    started = time.perf_counter()
    cost = fast.compile_cost("s0", refs.__getitem__, lambda _: 10, budget=50_000)
    assert 50_000 < cost <= 50_010 and time.perf_counter() - started < 1.0


def test_a_call_through_the_mock_is_validated_end_to_end():
    with MockServer(mutual(8)) as server:
        client = dynclient.Client(mutual(8), base_url=server.url)
        started = time.perf_counter()
        answer = client.call("createThing", GOOD)
        assert isinstance(answer, dict) and "id" in answer
        with pytest.raises(RequestValidationError, match="/link1/link2/size"):
            client.call("createThing", BAD)
        assert time.perf_counter() - started < 5.0
