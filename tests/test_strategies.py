"""dynclient.testing.strategies: valid values for every operation of both documents, invalid
bodies that the client rejects, and each schema feature on a small document of our own.

    .venv/bin/python -m pytest tests/test_strategies.py -q --durations=10
    .venv/bin/python -m pytest tests/test_strategies.py -q -s -k rejection   # prints the filter statistics
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("hypothesis")
from hypothesis import find, given, settings, strategies as st  # noqa: E402

import dynclient  # noqa: E402
from dynclient import codecs  # noqa: E402
from dynclient.errors import RequestValidationError  # noqa: E402
from dynclient.schema import SchemaSet  # noqa: E402
from dynclient.testing import strategies as ds  # noqa: E402

from _specs import CORPUS, DOCUMENTS, client_for  # noqa: E402  (shared corpus documents and clients)
EXAMPLES = 5


def _cases(with_body: bool = False) -> list:
    cases = []
    for name, path in DOCUMENTS.items():
        if not path.is_file():
            cases.append(pytest.param(name, None, marks=pytest.mark.skip(reason=f"{path} not found")))
            continue
        for op in dynclient.Spec(path):
            if with_body and not (op.request_body and any(m.schema is not None
                                                          for m in op.request_body.content.values())):
                continue
            cases.append(pytest.param(name, op.operation_id, id=f"{name}-{op.operation_id}"))
    return cases


def success_status(op) -> str:
    return "200" if "200" in op.responses else next(s for s in op.responses if s.startswith("2"))


def is_valid(schemas: SchemaSet, media, direction: str, value) -> bool:
    essence = codecs.media_essence(media.content_type)
    instance = value if essence == "application/json" or direction == "response" else codecs.for_validation(value)
    return schemas.compiled(media.pointer, direction).is_valid(instance)


# --- every operation of both documents -------------------------------------------------------------


@pytest.mark.parametrize("document,operation_id", _cases())
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_generated_parameters_bodies_and_responses_are_valid(document, operation_id, data):
    client = client_for(document)
    op = client.spec[operation_id]
    schemas = client.schemas

    params = data.draw(ds.parameters(client, operation_id), label="params")
    for p in op.parameters:
        if p.required:
            assert p.name in params
        if p.name in params and p.schema is not None:
            assert schemas.compiled(p.pointer, "request").is_valid(params[p.name]), p.name
    for media in (op.request_body.content.values() if op.request_body else ()):
        body = data.draw(ds.request_body(client, operation_id, media.content_type), label=media.content_type)
        if media.schema is not None:
            assert is_valid(schemas, media, "request", body)
        # The client accepts it: binds, validates and encodes without a complaint.
        client.prepare(operation_id, body, params=params, content_type=media.content_type)
    status = success_status(op)
    for media in op.responses[status].content.values():
        reply = data.draw(ds.response_body(client, operation_id, status, media.content_type), label="reply")
        if codecs.media_essence(media.content_type) == "text/event-stream":
            assert reply and all(schemas.compiled(media.pointer, "response").is_valid(e.data) for e in reply)
        elif media.schema is not None and not isinstance(reply, bytes):
            assert is_valid(schemas, media, "response", reply)


@pytest.mark.parametrize("document,operation_id", _cases(with_body=True))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_invalid_bodies_are_rejected_by_the_client(document, operation_id, data):
    client = client_for(document)
    op = client.spec[operation_id]
    media = next(iter(op.request_body.content.values()))
    body = data.draw(ds.invalid_request_body(client, operation_id), label="invalid body")
    params = data.draw(ds.parameters(client, operation_id, required_only=True), label="params")
    assert not is_valid(client.schemas, media, "request", body)
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(operation_id, body, params=params)
    assert caught.value.location == "body"


def test_filter_rejection_rate_on_the_2025_document():
    """The generators make valid values by construction: the final validator filter almost never
    rejects, and the local filters (oneOf exclusivity, allOf merges) rarely do."""
    if not DOCUMENTS["2025"].is_file():
        pytest.skip("2025-04-29 document not found")
    client = dynclient.Client(DOCUMENTS["2025"], base_url="http://127.0.0.1:9")
    strategies = []
    for op in client.spec:
        strategies.append(ds.parameters(client, op.operation_id))
        for media in (op.request_body.content.values() if op.request_body else ()):
            strategies.append(ds.request_body(client, op.operation_id, media.content_type))
        status = success_status(op)
        for media in op.responses[status].content.values():
            strategies.append(ds.response_body(client, op.operation_id, status, media.content_type))
    ds.reset_filter_statistics()
    for strategy in strategies:
        @settings(max_examples=10, database=None)
        @given(strategy)
        def draw(value):
            pass
        draw()
    stats = ds.filter_statistics()
    print("\nfilter statistics (2025-04-29, 10 examples per strategy):")
    for site, row in stats.items():
        print(f"  {site:8} checked {row['checked']:6}  rejected {row['rejected']:5}  rate {row['rate']:.3f}")
    assert stats["final"]["checked"] >= 10 * len(strategies)
    assert stats["final"]["rate"] < 0.01
    assert all(row["rate"] < 0.25 for row in stats.values())


# --- each feature, on a document of our own ----------------------------------------------------------

COMPONENTS = {
    "Tree": {"type": "object", "required": ["name", "children"], "additionalProperties": False,
             "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 4},
                            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}},
    "Chain": {"type": "object", "required": ["value"],
              "properties": {"value": {"type": "integer"}, "next": {"$ref": "#/components/schemas/Chain"}}},
    "Expr": {"oneOf": [{"type": "integer"},
                       {"type": "object", "required": ["op", "args"], "additionalProperties": False,
                        "properties": {"op": {"enum": ["+", "*"]},
                                       "args": {"type": "array", "minItems": 2, "maxItems": 2,
                                                "items": {"$ref": "#/components/schemas/Expr"}}}}]},
    "Cat": {"type": "object", "required": ["pet_type", "lives"],
            "properties": {"pet_type": {"type": "string"}, "lives": {"type": "integer", "minimum": 1, "maximum": 9}}},
    "Dog": {"type": "object", "required": ["pet_type", "bark"],
            "properties": {"pet_type": {"type": "string", "enum": ["dog"]}, "bark": {"type": "boolean"}}},
    "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "pet_type", "mapping": {"kitty": "#/components/schemas/Cat"}}},
    "Multiple": {"oneOf": [{"type": "integer", "multipleOf": 3}, {"type": "integer", "multipleOf": 5}]},
    "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    "Person": {"allOf": [{"$ref": "#/components/schemas/Named"},
                         {"type": "object", "required": ["age"],
                          "properties": {"age": {"type": "integer", "minimum": 0, "maximum": 150}}}]},
    "NotTwo": {"type": "integer", "minimum": 0, "maximum": 3, "not": {"const": 2}},
    "Ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "Code": {"type": "string", "pattern": "^[a-z]{2}-[0-9]{3}$"},
    "Formats": {"type": "object", "required": ["at", "site", "mail"],
                "properties": {"at": {"type": "string", "format": "date-time"},
                               "site": {"type": "string", "format": "uri"},
                               "mail": {"type": "string", "format": "email"}}},
    "Pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False,
             "minItems": 2},
    "Distinct": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True, "minItems": 2},
    "Closed": {"type": "object", "additionalProperties": False,
               "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "never": False}},
    "Labels": {"type": "object", "minProperties": 1, "maxProperties": 3,
               "propertyNames": {"type": "string", "pattern": "^[a-z]{1,5}$"},
               "additionalProperties": {"type": "string", "maxLength": 3}},
    "Const": {"const": {"kind": "fixed"}},
    "Anything": True,
    "MaybeText": {"type": ["string", "null"]},
    "Secret": {"type": "object", "required": ["id", "password"],
               "properties": {"id": {"type": "string", "readOnly": True},
                              "password": {"type": "string", "writeOnly": True}}},
    "Upload": {"type": "object", "required": ["file", "purpose"],
               "properties": {"file": {"type": "string", "format": "binary"},
                              "purpose": {"type": "string", "enum": ["a", "b"]},
                              "tags": {"type": "array", "items": {"type": "string"}}}},
    "Order": {"type": "object", "required": ["id", "status", "qty"], "additionalProperties": False,
              "properties": {"id": {"type": "string"}, "status": {"enum": ["open", "closed"]},
                             "qty": {"type": "integer", "minimum": 1}, "note": {"type": "string"}}},
    "Event": {"type": "object", "required": ["type"], "properties": {"type": {"const": "tick"}}},
}


def mini_document(version: str = "3.1.0", components: dict | None = None) -> dict:
    return {
        "openapi": version,
        "info": {"title": "mini", "version": "1"},
        "paths": {
            "/orders/{order_id}": {"post": {
                "operationId": "putOrder",
                "parameters": [
                    {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "X-Trace", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Order"}},
                    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Upload"}}}},
                "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Tree"}},
                    "text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                    "204": {"description": "nothing"}},
            }},
        },
        "components": {"schemas": components or COMPONENTS},
    }


@pytest.fixture(scope="module")
def mini() -> SchemaSet:
    return SchemaSet(dynclient.Spec(mini_document()))


def schema(name: str) -> str:
    return f"/components/schemas/{name}"


def values(strategy, count: int = 60) -> list:
    seen = []

    @settings(max_examples=count, database=None)
    @given(strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def depth(tree: dict) -> int:
    return 1 + max((depth(child) for child in tree["children"]), default=0)


FEATURES = [
    ("Tree", "request", lambda v: depth(v) >= 3),                 # recursion, and it terminates
    ("Chain", "request", lambda v: "next" in v and "next" in v["next"]),
    ("Expr", "request", lambda v: isinstance(v, dict) and isinstance(v["args"][0], dict)),
    ("Pet", "request", lambda v: v["pet_type"] == "kitty"),       # the discriminator sets the value
    ("Pet", "request", lambda v: v["pet_type"] == "dog"),
    ("Multiple", "request", lambda v: v != 0 and v % 3 == 0),
    ("Multiple", "request", lambda v: v != 0 and v % 5 == 0),
    ("Person", "request", lambda v: v["age"] > 0 and v["name"]),  # allOf merged
    ("NotTwo", "request", lambda v: v == 3),
    ("Ratio", "request", lambda v: 0 < v < 1),
    ("Code", "request", lambda v: re.fullmatch(r"[a-z]{2}-[0-9]{3}", v) is not None),
    ("Formats", "request", lambda v: v["site"].startswith("https://") and "@" in v["mail"] and "T" in v["at"]),
    ("Pair", "request", lambda v: isinstance(v[0], str) and isinstance(v[1], int)),
    ("Distinct", "request", lambda v: len(v) == 3),
    ("Closed", "request", lambda v: set(v) == {"a", "b"}),
    ("Labels", "request", lambda v: len(v) >= 2),
    ("Const", "request", lambda v: v == {"kind": "fixed"}),
    ("Anything", "request", lambda v: isinstance(v, dict)),
    ("MaybeText", "request", lambda v: v is None),
    ("MaybeText", "request", lambda v: isinstance(v, str) and v),
    ("Secret", "request", lambda v: "id" not in v),                  # readOnly: not required in requests
    ("Secret", "response", lambda v: "password" not in v),           # writeOnly: not required in responses
]


@pytest.mark.parametrize("name,direction,wanted", FEATURES, ids=[f"{n}-{d}-{i}" for i, (n, d, _) in enumerate(FEATURES)])
def test_each_feature_is_generated_and_valid(mini, name, direction, wanted):
    strategy = ds.from_schema(mini, schema(name), direction)
    check = mini.compiled(schema(name), direction).is_valid
    assert all(check(v) for v in values(strategy, 40))
    assert any(wanted(v) for v in values(strategy, 300)), "never generated"


def test_what_schemas_forbid_never_appears(mini):
    assert all(v % 15 != 0 or v == 0 for v in values(ds.from_schema(mini, schema("Multiple"))))
    assert all(v != 2 for v in values(ds.from_schema(mini, schema("NotTwo"))))
    assert all("never" not in v for v in values(ds.from_schema(mini, schema("Closed"))))
    assert all(len(set(v)) == len(v) for v in values(ds.from_schema(mini, schema("Distinct"))))
    assert all("id" in v for v in values(ds.from_schema(mini, schema("Secret"), "response")))


def test_the_3_0_dialect_nullable_and_boolean_exclusive_bounds():
    components = {
        "Maybe": {"type": "string", "nullable": True, "maxLength": 2},
        "Ratio": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True, "exclusiveMaximum": True},
        "Ref": {"allOf": [{"$ref": "#/components/schemas/Maybe"}], "nullable": True},
    }
    needed = {name: COMPONENTS[name] for name in ("Order", "Upload", "Tree", "Event")}
    schemas = SchemaSet(dynclient.Spec(mini_document("3.0.3", {**needed, **components})))
    assert find(ds.from_schema(schemas, schema("Maybe")), lambda v: v is None) is None
    assert all(0 < v < 1 for v in values(ds.from_schema(schemas, schema("Ratio"))))
    assert find(ds.from_schema(schemas, schema("Ref")), lambda v: isinstance(v, str)) == ""


def test_request_body_parameters_and_responses_of_an_operation(mini):
    multipart = values(ds.request_body(mini, "putOrder", "multipart/form-data"), 30)
    assert all(isinstance(v["file"], bytes) and v["purpose"] in ("a", "b") for v in multipart)
    assert all(mini.compiled(schema("Order"), "request").is_valid(v)
               for v in values(ds.request_body(mini, "putOrder")))
    params = values(ds.parameters(mini, "putOrder"))
    assert all(p["order_id"] not in ("", ".", "..") and p["X-Trace"] == p["X-Trace"].strip() for p in params)
    assert all(set(p) == {"order_id", "X-Trace"} for p in values(ds.parameters(mini, "putOrder", required_only=True)))
    assert find(ds.parameters(mini, "putOrder"), lambda p: "/" in p["order_id"] and "tags" in p)

    events = values(ds.response_body(mini, "putOrder", 200, "text/event-stream"), 10)
    assert all(1 <= len(v) <= 3 and all(e == codecs.Event(None, {"type": "tick"}) for e in v) for v in events)
    assert codecs.decode_sse(ds.encode_response_body(events[0], "text/event-stream"), "text/event-stream") == events[0]
    binary = values(ds.response_body(mini, "putOrder", "200", "application/octet-stream"), 10)
    assert all(isinstance(v, bytes) and v for v in binary)
    trees = values(ds.response_body(mini, "putOrder"), 10)
    assert all(json.loads(ds.encode_response_body(t, "application/json")) == t for t in trees)
    assert all(v is None for v in values(ds.response_body(mini, "putOrder", "204"), 3))
    with pytest.raises(ValueError):
        ds.response_body(mini, "putOrder", "404")
    with pytest.raises(ValueError):
        ds.request_body(mini, "nope")


def test_invalid_bodies_cover_each_kind_of_mutation(mini):
    strategy = ds.invalid_request_body(mini, "putOrder")
    check = mini.compiled(schema("Order"), "request").is_valid
    assert not any(check(v) for v in values(strategy))
    find(strategy, lambda v: not isinstance(v, dict))                                        # wrong type at the root
    find(strategy, lambda v: isinstance(v, dict) and isinstance(v.get("qty"), str))          # wrong type inside
    find(strategy, lambda v: isinstance(v, dict) and "status" not in v)                      # required removed
    find(strategy, lambda v: isinstance(v, dict) and str(v.get("status", "")).startswith("\u2603"))  # enum
    find(strategy, lambda v: isinstance(v, dict) and len(set(v) - {"id", "status", "qty", "note"}) == 1)  # extra


def test_a_schema_that_accepts_everything_has_no_invalid_body():
    document = mini_document()
    document["paths"]["/orders/{order_id}"]["post"]["requestBody"]["content"] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/Anything"}}}
    with pytest.raises(ValueError, match="accepts anything"):
        ds.invalid_request_body(dynclient.Spec(document), "putOrder")


def test_health_checks_pass_for_the_largest_2025_schemas():
    """No suppressed health check: filter_too_much, too_slow, large_base_example, data_too_large."""
    if not DOCUMENTS["2025"].is_file():
        pytest.skip("2025-04-29 document not found")
    client = client_for("2025")
    for operation_id in ("createResponse", "createChatCompletion", "createThreadAndRun", "createAssistant"):
        @settings(max_examples=30, database=None, suppress_health_check=[])
        @given(ds.request_body(client, operation_id), ds.response_body(client, operation_id))
        def draw(body, reply):
            pass
        draw()
