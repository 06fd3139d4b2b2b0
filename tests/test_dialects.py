"""OpenAPI 3.0 / 3.1 schema dialects, translated to JSON Schema 2020-12 (dynclient.schema).

Every case is a small inline document with one POST operation whose request
body schema (and 200 response schema) is the schema under test. The request
direction is checked with ``Client.prepare`` (validates and encodes, never
sends: the base URL points at a closed port); the response direction with
``client.schemas.compiled(RESP, "response").violation(...)``.

Cases are tables of ``(instance, valid?)`` and every table holds at least one
accepted and one rejected instance, so a translation that accepts everything
(or nothing) cannot pass.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import dynclient
from dynclient import RequestValidationError, SchemaCompileError

BASE_URL = "http://127.0.0.1:9"   # never contacted: prepare() sends nothing
OP = "op"
REQ = "/paths/~1x/post/requestBody/content/application~1json/schema"
RESP = "/paths/~1x/post/responses/200/content/application~1json/schema"
V30, V31 = "3.0.3", "3.1.0"
BOTH = pytest.mark.parametrize("version", [V30, V31])
_RESPONSE_SAME = object()


# --- helpers ------------------------------------------------------------------


def make_doc(schema: Any, version: str = V30, components: dict | None = None,
             response: Any = _RESPONSE_SAME) -> dict:
    """One POST /x operation; `schema` is its JSON request body and (unless given) its 200 body."""
    return {
        "openapi": version,
        "info": {"title": "dialects", "version": "1"},
        "paths": {"/x": {"post": {
            "operationId": OP,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": copy.deepcopy(schema) if response is _RESPONSE_SAME else response}}}},
        }}},
        "components": {"schemas": components or {}},
    }


def make_client(schema: Any, version: str = V30, components: dict | None = None,
                response: Any = _RESPONSE_SAME) -> dynclient.Client:
    return dynclient.Client(make_doc(schema, version, components, response), base_url=BASE_URL)


def request_error(client: dynclient.Client, body: Any) -> RequestValidationError | None:
    try:
        client.prepare(OP, body)
    except RequestValidationError as exc:
        return exc
    return None


def request_valid(client: dynclient.Client, body: Any) -> bool:
    return request_error(client, body) is None


def response_valid(client: dynclient.Client, instance: Any) -> bool:
    return client.schemas.compiled(RESP, "response").violation(instance) is None


def check(client: dynclient.Client, table: list[tuple[Any, bool]], directions=("request", "response")) -> None:
    """Every (instance, valid?) row holds in every direction; report all mismatches at once."""
    verdicts = {True, False}
    assert {valid for _, valid in table} == verdicts, "a table must check acceptance and rejection"
    wrong = []
    for instance, valid in table:
        shown = repr(instance) if len(repr(instance)) <= 120 else repr(instance)[:115] + " ..."
        for direction in directions:
            try:
                got = request_valid(client, instance) if direction == "request" else response_valid(client, instance)
            except Exception as exc:   # a crash is a wrong verdict too; report it with the others
                wrong.append(f"{direction}: {shown} raised {type(exc).__name__}: {exc}")
                continue
            if got != valid:
                wrong.append(f"{direction}: {shown} should be {'accepted' if valid else 'rejected'}")
    assert not wrong, "\n".join(wrong)


# --- nullable -------------------------------------------------------------------


@BOTH
def test_nullable_with_type(version):
    """`nullable: true` beside `type` (OpenAI: `type: string, nullable: true` on `name`, `user`, ...).

    Defect: validating 3.0 `nullable` as plain JSON Schema (which ignores it)
    rejects the null the API really sends; or adding null without keeping the type.
    """
    client = make_client({"type": "object", "properties": {
        "s": {"type": "string", "nullable": True},
        "n": {"type": "integer", "nullable": True, "minimum": 1},
        "o": {"type": "object", "nullable": True, "properties": {"a": {"type": "string"}}},
    }}, version)
    check(client, [
        ({"s": None, "n": None, "o": None}, True),
        ({"s": "x", "n": 1, "o": {"a": "y"}}, True),
        ({"s": 5}, False),
        ({"s": True}, False),
        ({"n": "1"}, False),
        ({"n": 0}, False),            # the other keywords still apply to non-null values
        ({"o": "x"}, False),
        ({"o": {"a": 1}}, False),
    ])


@BOTH
def test_nullable_beside_ref(version):
    """`{$ref: X, nullable: true}` (OpenAI writes it 11 times in 2026-08-21).

    Defect: in 3.0 every `$ref` sibling is ignored, so a strict reader drops
    `nullable` too and rejects null; the documents mean it, so it is honoured.
    """
    client = make_client({"type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet",
                                                                      "nullable": True}}},
                         version, components={"Pet": {"type": "object", "required": ["name"],
                                                      "properties": {"name": {"type": "string"}}}})
    check(client, [
        ({"pet": None}, True),
        ({"pet": {"name": "rex"}}, True),
        ({"pet": {}}, False),
        ({"pet": {"name": 3}}, False),
        ({"pet": "rex"}, False),
    ])


def test_ref_siblings_ignored_in_30_but_applied_in_31():
    """3.0: `$ref` siblings other than `nullable` are ignored (the specification says so);
    3.1: `$ref` is an ordinary keyword and its siblings apply.

    Defect: applying a 3.0 `description`-plus-constraint sibling that authors
    never meant as a constraint, or ignoring 3.1 siblings that are.
    """
    schema = {"type": "object", "properties": {"code": {"$ref": "#/components/schemas/Code", "maxLength": 2}}}
    components = {"Code": {"type": "string"}}
    check(make_client(schema, V30, components), [
        ({"code": "abcdef"}, True),       # maxLength beside $ref: ignored
        ({"code": 1}, False),
    ])
    check(make_client(schema, V31, components), [
        ({"code": "ab"}, True),
        ({"code": "abcdef"}, False),      # maxLength beside $ref: applies
        ({"code": 1}, False),
    ])


@BOTH
@pytest.mark.parametrize("combinator", ["allOf", "anyOf", "oneOf"])
def test_nullable_beside_combinator_without_type(version, combinator):
    """`nullable: true` beside `allOf: [$ref]` / `anyOf` / `oneOf` with no `type`
    (OpenAI: 8 `allOf` + `nullable` in 2026-08-21, e.g. nullable `response_format`).

    Defect: turning `type` into a list needs a `type`; without one the null
    must be added by wrapping (`anyOf: [{type: null}, ...]`), not dropped.
    """
    branches = [{"$ref": "#/components/schemas/Pet"}] if combinator == "allOf" else \
        [{"$ref": "#/components/schemas/Pet"}, {"type": "string", "maxLength": 3}]
    client = make_client({"type": "object", "properties": {"v": {combinator: branches, "nullable": True}}},
                         version, components={"Pet": {"type": "object", "required": ["name"],
                                                      "properties": {"name": {"type": "string"}}}})
    table = [
        ({"v": None}, True),
        ({"v": {"name": "rex"}}, True),
        ({"v": {"name": 1}}, False),
        ({"v": 5}, False),
    ]
    if combinator != "allOf":
        table += [({"v": "abc"}, True), ({"v": "abcd"}, False)]
    check(client, table)


@BOTH
def test_nullable_with_enum_not_listing_null(version):
    """`{type: string, enum: [a, b], nullable: true}`: null is admitted although the enum
    does not list it (OpenAI means it so; e.g. `reasoning_effort`, `service_tier`).

    Defect: JSON Schema's `enum` alone would reject null; a translation that only
    changes `type` leaves the enum rejecting it.
    """
    client = make_client({"type": "object", "properties": {
        "e": {"type": "string", "enum": ["low", "high"], "nullable": True}}}, version)
    check(client, [
        ({"e": None}, True),
        ({"e": "low"}, True),
        ({"e": "high"}, True),
        ({"e": "medium"}, False),
        ({"e": 1}, False),
        ({"e": ""}, False),
    ])


@BOTH
def test_nullable_false(version):
    """`nullable: false` (explicit default) admits nothing extra.

    Defect: testing for the key's presence instead of its value makes every
    `nullable: false` schema accept null.
    """
    client = make_client({"type": "object", "properties": {
        "s": {"type": "string", "nullable": False},
        "r": {"$ref": "#/components/schemas/Name", "nullable": False}}},
        version, components={"Name": {"type": "string"}})
    check(client, [
        ({"s": "x", "r": "y"}, True),
        ({"s": None}, False),
        ({"r": None}, False),
        ({"s": 1}, False),
    ])


def test_31_document_still_using_nullable():
    """A 3.1 document written with 3.0's `nullable: true` (OpenAI's 2026 documents
    do it 112 times): honoured, in every form they use (type, $ref, allOf, anyOf, enum).

    Defect: treating a 3.1 document as pure 2020-12 ignores `nullable` and
    rejects nulls the API returns.
    """
    client = make_client({"type": "object", "properties": {
        "t": {"type": "string", "nullable": True},
        "r": {"$ref": "#/components/schemas/Obj", "nullable": True},
        "a": {"allOf": [{"$ref": "#/components/schemas/Obj"}], "nullable": True},
        "y": {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
        "e": {"type": "string", "enum": ["auto"], "nullable": True},
    }}, V31, components={"Obj": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}})
    check(client, [
        ({"t": None, "r": None, "a": None, "y": None, "e": None}, True),
        ({"t": "x", "r": {"id": "1"}, "a": {"id": "2"}, "y": 3, "e": "auto"}, True),
        ({"t": 1}, False),
        ({"r": {}}, False),
        ({"a": {"id": 1}}, False),
        ({"y": []}, False),
        ({"e": "manual"}, False),
    ])


def test_31_type_arrays():
    """3.1 `type: ["string", "null"]` (and arrays with other members).

    Defect: code that assumes `type` is a string crashes or ignores list types.
    """
    client = make_client({"type": "object", "properties": {
        "s": {"type": ["string", "null"]},
        "n": {"type": ["integer", "string"], "minimum": 2},
        "o": {"type": ["object", "null"], "required": ["id"]},
    }}, V31)
    check(client, [
        ({"s": None, "n": 3, "o": None}, True),
        ({"s": "x", "n": "any", "o": {"id": 1}}, True),
        ({"s": 1}, False),
        ({"n": 1}, False),
        ({"n": None}, False),
        ({"o": {}}, False),
        ({"o": "x"}, False),
    ])


def test_31_const():
    """3.1 `const` (OpenAI 2026: `type: {const: "function"}`-style tags).

    Defect: dropping or mis-translating an unknown-to-3.0 keyword accepts any value.
    """
    client = make_client({"type": "object", "required": ["type"], "properties": {
        "type": {"const": "function"}, "n": {"const": None}}}, V31)
    check(client, [
        ({"type": "function"}, True),
        ({"type": "function", "n": None}, True),
        ({"type": "Function"}, False),
        ({"type": None}, False),
        ({"type": "function", "n": 0}, False),
        ({}, False),
    ])


# --- exclusiveMinimum / exclusiveMaximum -------------------------------------------


@BOTH
def test_boolean_exclusive_minimum(version):
    """3.0 boolean `exclusiveMinimum: true` + `minimum: 0` (OpenAI 2023-11-28 .. 2024-08-28:
    `exclusiveMinimum: true` on a numeric property); also kept by 3.1 documents, a real
    defect of those documents, and treated the same.

    Defect: 2020-12 reads `exclusiveMinimum: true` as a broken number and either
    crashes, ignores the bound, or lets the boundary through.
    """
    client = make_client({"type": "object", "properties": {
        "v": {"type": "number", "minimum": 0, "exclusiveMinimum": True}}}, version)
    check(client, [
        ({"v": 0.1}, True),
        ({"v": 1}, True),
        ({"v": 0}, False),
        ({"v": -1}, False),
    ])


@BOTH
def test_boolean_exclusive_maximum(version):
    """Boolean `exclusiveMaximum: true` + `maximum: 1`: 1 rejected, 0.9 accepted
    (same defect as exclusiveMinimum)."""
    client = make_client({"type": "object", "properties": {
        "v": {"type": "number", "maximum": 1, "exclusiveMaximum": True}}}, version)
    check(client, [
        ({"v": 0.9}, True),
        ({"v": -5}, True),
        ({"v": 1}, False),
        ({"v": 1.5}, False),
    ])


@BOTH
def test_boolean_exclusive_false(version):
    """`exclusiveMinimum: false` / `exclusiveMaximum: false`: the bound is inclusive.

    Defect: copying the flag's presence turns an inclusive bound exclusive, or
    drops the `minimum` with it.
    """
    client = make_client({"type": "object", "properties": {
        "v": {"type": "number", "minimum": 0, "exclusiveMinimum": False,
              "maximum": 2, "exclusiveMaximum": False}}}, version)
    check(client, [
        ({"v": 0}, True),
        ({"v": 2}, True),
        ({"v": 1.5}, True),
        ({"v": -0.1}, False),
        ({"v": 2.1}, False),
    ])


def test_numeric_exclusive_minimum_31():
    """3.1 numeric `exclusiveMinimum: 0` (its own bound, no `minimum`).

    Defect: a translation that rewrites exclusive bounds for 3.0 must leave the
    2020-12 numeric form alone.
    """
    client = make_client({"type": "object", "properties": {
        "v": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10}}}, V31)
    check(client, [
        ({"v": 0.001}, True),
        ({"v": 9.99}, True),
        ({"v": 0}, False),
        ({"v": 10}, False),
        ({"v": -3}, False),
    ])


# --- discriminator -------------------------------------------------------------------


PET_COMPONENTS = {
    "Cat": {"type": "object", "required": ["petType"], "properties": {
        "petType": {"type": "string"}, "name": {"type": "string"}, "lives": {"type": "integer"}}},
    "Dog": {"type": "object", "required": ["petType"], "properties": {
        "petType": {"type": "string"}, "name": {"type": "string"}, "bark": {"type": "boolean"}}},
}


@BOTH
def test_discriminator_with_mapping(version):
    """`discriminator` with `mapping`: the value selects the branch, and that branch alone
    decides, so an instance valid for two overlapping branches is accepted.

    Defect: plain `oneOf` rejects `{petType: cat, name: x}` because it matches
    both Cat and Dog (the usual "valid against more than one" false rejection).
    """
    client = make_client({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                          "discriminator": {"propertyName": "petType", "mapping": {
                              "cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"}}},
                         version, components=copy.deepcopy(PET_COMPONENTS))
    check(client, [
        ({"petType": "cat", "name": "tom"}, True),          # matches both branches
        ({"petType": "cat", "lives": 9}, True),
        ({"petType": "dog", "bark": True}, True),
        ({"petType": "cat", "lives": "nine"}, False),
        ({"petType": "dog", "bark": "loud"}, False),
        ({"petType": "cow"}, False),
        ({"name": "tom"}, False),
    ])
    error = request_error(client, {"petType": "dog", "bark": "loud"})
    assert error.pointer == "/bark"
    assert "boolean" in str(error) and "loud" in str(error)


def openai_tool_components(version: str) -> dict:
    tag = (lambda value: {"type": "string", "enum": [value]}) if version == V30 else \
        (lambda value: {"type": "string", "const": value})
    return {
        "FunctionTool": {"type": "object", "required": ["type", "function"], "properties": {
            "type": tag("function"),
            "function": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "strict": {"type": "boolean"}}}}},
        "WebSearchTool": {"type": "object", "required": ["type"], "properties": {
            "type": tag("web_search_preview"),
            "search_context_size": {"type": "string", "enum": ["low", "medium", "high"]}}},
    }


@BOTH
def test_discriminator_without_mapping_openai_style(version):
    """`discriminator: {propertyName: type}` without mapping, where the implicit targets
    (schema names `function`, `web_search_preview`) do not exist, but each branch pins the
    property with `enum` (3.0) / `const` (3.1) — how OpenAI writes tool and content unions.

    Defect: following the implicit schema-name rule literally finds no branch for
    any value (everything rejected), or falling back to oneOf reports a generic
    "not valid under any of the given schemas" instead of the chosen branch's error.
    """
    client = make_client({"oneOf": [{"$ref": "#/components/schemas/FunctionTool"},
                                    {"$ref": "#/components/schemas/WebSearchTool"}],
                          "discriminator": {"propertyName": "type"}},
                         version, components=openai_tool_components(version))
    check(client, [
        ({"type": "function", "function": {"name": "f"}}, True),
        ({"type": "web_search_preview"}, True),
        ({"type": "web_search_preview", "search_context_size": "low"}, True),
        ({"type": "function", "function": {"name": 5}}, False),
        ({"type": "function"}, False),
        ({"type": "web_search_preview", "search_context_size": "huge"}, False),
        ({"type": "FunctionTool", "function": {"name": "f"}}, False),
        ({}, False),
    ])
    error = request_error(client, {"type": "function", "function": {"name": 5}})
    assert error.pointer == "/function/name", str(error)
    assert "oneOf" not in str(error) and "string" in str(error), str(error)
    error = request_error(client, {"type": "web_search_preview", "search_context_size": "huge"})
    assert error.pointer == "/search_context_size", str(error)
    assert "medium" in str(error) and "huge" in str(error)


@BOTH
def test_discriminator_implicit_schema_name(version):
    """`discriminator` without mapping and branches that do not pin the property:
    the implicit rule, value == component name (`Cat`, `Dog`), selects the branch.

    Defect: ignoring the implicit rule turns the discriminator into plain oneOf,
    which rejects `{petType: Cat, name: x}` (valid for both branches).
    """
    client = make_client({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                          "discriminator": {"propertyName": "petType"}},
                         version, components=copy.deepcopy(PET_COMPONENTS))
    check(client, [
        ({"petType": "Cat", "name": "tom"}, True),
        ({"petType": "Dog", "bark": False}, True),
        ({"petType": "Cat", "lives": []}, False),
        ({"petType": "Dog", "bark": 1}, False),
        ({"petType": "cat"}, False),   # names are case-sensitive
    ])


@BOTH
def test_discriminator_unknown_value_lists_allowed(version):
    """An unknown discriminator value is rejected with the allowed values listed.

    Defect: plain oneOf reports "not valid under any of the given schemas" and
    the caller cannot see that the tag itself is the problem.
    """
    client = make_client({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                          "discriminator": {"propertyName": "petType", "mapping": {
                              "cat": "#/components/schemas/Cat", "dog": "Dog"}}},
                         version, components=copy.deepcopy(PET_COMPONENTS))
    check(client, [({"petType": "dog"}, True), ({"petType": "cat"}, True), ({"petType": "cow"}, False)])
    error = request_error(client, {"petType": "cow"})
    assert error.pointer == "/petType"
    assert "cat" in str(error) and "dog" in str(error) and "cow" in str(error)
    assert set(error.expected) == {"cat", "dog"}
    assert error.given == "cow"


@BOTH
def test_discriminator_property_missing(version):
    """The discriminator property missing (or not a string) is rejected and named.

    Defect: an instance without the tag falls through to plain oneOf and is
    accepted by a permissive branch, or the error does not say what is missing.
    """
    client = make_client({"oneOf": [{"$ref": "#/components/schemas/FunctionTool"},
                                    {"$ref": "#/components/schemas/WebSearchTool"}],
                          "discriminator": {"propertyName": "type"}},
                         version, components=openai_tool_components(version))
    check(client, [
        ({"type": "web_search_preview"}, True),
        ({"search_context_size": "low"}, False),
        ({"type": None}, False),
        ({"type": 7}, False),
    ])
    error = request_error(client, {"search_context_size": "low"})
    assert "'type'" in str(error) and "required" in str(error), str(error)


# --- inferred discriminator -------------------------------------------------------------


def message(role: str, extra: dict | None = None, required: tuple = ("role", "content")) -> dict:
    return {"type": "object", "required": list(required), "properties": {
        "role": {"type": "string", "enum": [role]}, "content": {"type": "string"}, **(extra or {})}}


@BOTH
def test_inferred_discriminator_disjoint_enums(version):
    """oneOf whose branches all require `role` with disjoint enums (OpenAI's chat messages
    before they added a discriminator): the branch is chosen by `role`, so an unknown role
    is reported at `/role` with the roles listed, and a bad field at the chosen branch's place.

    Defect: plain oneOf reports "not valid under any of the given schemas" for a
    typo in `role`, and picks an arbitrary branch's error for a bad field.
    """
    client = make_client({"oneOf": [
        message("system"), message("user"),
        message("tool", {"tool_call_id": {"type": "string"}}, ("role", "content", "tool_call_id"))]}, version)
    check(client, [
        ({"role": "user", "content": "hi"}, True),
        ({"role": "tool", "content": "r", "tool_call_id": "c1"}, True),
        ({"role": "usr", "content": "hi"}, False),
        ({"role": "tool", "content": "r"}, False),
        ({"role": "user", "content": 3}, False),
        ({"content": "hi"}, False),
    ])
    error = request_error(client, {"role": "usr", "content": "hi"})
    assert error.pointer == "/role"
    assert all(role in str(error) for role in ("system", "user", "tool", "usr")), str(error)
    error = request_error(client, {"role": "tool", "content": "r"})
    assert "tool_call_id" in str(error), str(error)


@pytest.mark.parametrize("case", ["overlapping enums", "a branch not requiring the property",
                                  "a branch whose enum also lists null"])
def test_inferred_discriminator_not_applied_plain_oneof(case):
    """When the branches are not separated by a required property with disjoint string
    values, the verdict is plain oneOf's: an instance matching two branches is rejected,
    one matching exactly one is accepted.

    Defect: inferring a discriminator from overlapping or optional tags, or from
    only the string members of an enum, changes the verdict (accepts what oneOf
    rejects, or rejects what it accepts) instead of only improving the message.
    """
    if case == "overlapping enums":
        branches = [
            {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["user", "system"]}}},
            {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["system", "assistant"]}}},
        ]
        table = [({"role": "user"}, True), ({"role": "assistant"}, True),
                 ({"role": "system"}, False),        # matches both branches
                 ({"role": "tool"}, False)]
    elif case == "a branch not requiring the property":
        branches = [
            {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["user"]}}},
            {"type": "object", "properties": {"role": {"enum": ["assistant"]}, "text": {"type": "string"}}},
            {"type": "object", "required": ["role", "n"], "properties": {"role": {"enum": ["tool"]}}},
        ]
        table = [({"role": "user"}, True),
                 ({}, True),                          # only the branch without `required: [role]`
                 ({"text": "x"}, True),
                 ({"role": "tool", "n": 1}, True),
                 ({"role": "tool"}, False),
                 ({"role": "bot"}, False),
                 ({"text": 1}, False)]
    else:
        branches = [
            {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["user", None]}}},
            {"type": "object", "required": ["role"], "properties": {"role": {"enum": ["assistant", 1]}}},
        ]
        table = [({"role": "user"}, True), ({"role": "assistant"}, True),
                 ({"role": None}, True),              # branch 1 lists null
                 ({"role": 1}, True),                 # branch 2 lists 1
                 ({"role": "tool"}, False), ({"role": 2}, False)]
    check(make_client({"oneOf": branches}, V31), table)


def test_discriminator_does_not_leak_between_oneof_and_anyof():
    """A schema with both `oneOf` (separated by `role`) and `anyOf` (unrelated branches):
    each combinator keeps its own semantics.

    Defect: one branch-selection table shared by both keywords indexes the anyOf
    branches with the oneOf's positions: a wrong verdict, or IndexError when the
    oneOf has more branches than the anyOf.
    """
    client = make_client({
        "oneOf": [message("system", required=("role",)), message("user", required=("role",)),
                  message("tool", required=("role",))],
        "anyOf": [{"required": ["x"]}, {"required": ["role"]}],
    }, V31)
    check(client, [
        ({"role": "system"}, True),   # anyOf: second branch holds
        ({"role": "user"}, True),
        ({"role": "tool"}, True),     # position 2 does not exist in the anyOf
        ({"role": "bot"}, False),
        ({"x": 1}, False),
    ])


# --- readOnly / writeOnly ----------------------------------------------------------------


@BOTH
def test_read_only_required(version):
    """A `readOnly` property listed in `required` is required in responses only.

    Defect: applying `required` as written forces callers to send server-made
    fields (`id`, `created_at`) in requests.
    """
    client = make_client({"type": "object", "required": ["id", "name"], "properties": {
        "id": {"type": "string", "readOnly": True}, "name": {"type": "string"}}}, version)
    check(client, [({"name": "n"}, True), ({"id": "1", "name": "n"}, True), ({"id": "1"}, False), ({}, False)],
          directions=("request",))
    check(client, [({"id": "1", "name": "n"}, True), ({"name": "n"}, False), ({"id": "1"}, False)],
          directions=("response",))


@BOTH
def test_write_only_required(version):
    """A `writeOnly` property listed in `required` is required in requests only.

    Defect: applying `required` as written rejects every response, which never
    echoes secrets such as `password`.
    """
    client = make_client({"type": "object", "required": ["password", "name"], "properties": {
        "password": {"type": "string", "writeOnly": True}, "name": {"type": "string"}}}, version)
    check(client, [({"password": "p", "name": "n"}, True), ({"name": "n"}, False), ({"password": "p"}, False)],
          directions=("request",))
    check(client, [({"name": "n"}, True), ({"password": "p", "name": "n"}, True), ({"password": "p"}, False)],
          directions=("response",))


# --- $recursiveRef ---------------------------------------------------------------------------


COMPOUND_FILTER = {   # as in OpenAI's 2025-04-29 document
    "ComparisonFilter": {"type": "object", "additionalProperties": False, "required": ["type", "key", "value"],
                         "properties": {"type": {"type": "string", "enum": ["eq", "ne", "gt", "gte", "lt", "lte"]},
                                        "key": {"type": "string"},
                                        "value": {"oneOf": [{"type": "string"}, {"type": "number"},
                                                            {"type": "boolean"}]}}},
    "CompoundFilter": {"$recursiveAnchor": True, "type": "object", "additionalProperties": False,
                       "required": ["type", "filters"],
                       "properties": {"type": {"type": "string", "enum": ["and", "or"]},
                                      "filters": {"type": "array", "items": {"oneOf": [
                                          {"$ref": "#/components/schemas/ComparisonFilter"},
                                          {"$recursiveRef": "#"}]}}}},
}


@BOTH
def test_recursive_ref_compound_filter(version):
    """`$recursiveRef: "#"` inside a component (OpenAI's CompoundFilter, 2025-04-29): it refers
    to the enclosing component, so nested filters validate recursively.

    Defect: `#` resolved against the request body (or not at all) makes every
    nested filter valid, or every one invalid, or raises on the unknown keyword.
    """
    client = make_client({"type": "object", "properties": {"filters": {"oneOf": [
        {"$ref": "#/components/schemas/ComparisonFilter"}, {"$ref": "#/components/schemas/CompoundFilter"}]}}},
        version, components=copy.deepcopy(COMPOUND_FILTER))
    leaf = {"type": "eq", "key": "k", "value": "v"}
    nested = {"type": "and", "filters": [leaf, {"type": "or", "filters": [leaf, {"type": "gt", "key": "n",
                                                                                  "value": 3}]}]}
    check(client, [
        ({"filters": leaf}, True),
        ({"filters": nested}, True),
        ({"filters": {"type": "and", "filters": [{"type": "or", "filters": [{"type": "eq", "key": "k",
                                                                               "value": []}]}]}}, False),
        ({"filters": {"type": "and", "filters": [{"type": "or", "filters": [{"type": "xor", "key": "k",
                                                                               "value": 1}]}]}}, False),
        ({"filters": {"type": "and", "filters": [{"type": "or", "filters": "nope"}]}}, False),
        ({"filters": {"type": "and", "filters": [{"type": "nand", "filters": []}]}}, False),
    ])


# --- required edge cases -------------------------------------------------------------------


@BOTH
def test_duplicate_and_empty_required(version):
    """`required: [a, a, b]` and `required: []` (both occur in published documents; a
    strict meta-schema check calls them invalid): accepted and behave normally.

    Defect: refusing to compile such a document, or treating `required: []` as
    "all properties required".
    """
    client = make_client({"type": "object", "properties": {
        "dup": {"type": "object", "required": ["a", "a", "b"],
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
        "none": {"type": "object", "required": [], "properties": {"a": {"type": "string"}}}}}, version)
    check(client, [
        ({"dup": {"a": "x", "b": "y"}}, True),
        ({"none": {}}, True),
        ({"none": {"a": "x"}}, True),
        ({"dup": {"a": "x"}}, False),
        ({"dup": {"b": "y"}}, False),
        ({"none": {"a": 1}}, False),
        ({"none": []}, False),
    ])


# --- broken schemas -------------------------------------------------------------------------


BROKEN = {
    # name: (broken schema, pointer suffix of the SchemaCompileError inside the broken schema)
    "missing $ref": ({"$ref": "#/components/schemas/Missing"}, "/$ref"),
    "unknown type": ({"type": "strnig"}, "/type"),
    "bad pattern": ({"type": "string", "pattern": "([a-z"}, "/pattern"),
    "empty oneOf": ({"oneOf": []}, "/oneOf"),
    # (`required: name` is repaired at load time into [name], see tests/test_repair.py; a number is not)
    "required not a list": ({"type": "object", "required": 5}, "/required"),
}


@BOTH
@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_schema_inline_raises_with_pointer(version, name):
    """A structurally broken request-body schema raises SchemaCompileError naming the broken
    place, at prepare time, every time; nothing is skipped.

    Defect: a validator built from a broken schema that silently accepts every
    body (or a compile error that is swallowed and cached as "no schema").
    """
    broken, suffix = BROKEN[name]
    client = make_client({"type": "object", "properties": {"field": copy.deepcopy(broken)}}, version)
    for attempt in range(2):
        with pytest.raises(SchemaCompileError) as info:
            client.prepare(OP, {"field": "anything"})
        assert info.value.pointer == f"{REQ}/properties/field{suffix}", (attempt, str(info.value))
        assert info.value.pointer in str(info.value)
    with pytest.raises(SchemaCompileError):
        client.schemas.compiled(RESP, "response")


@BOTH
@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_component_raises_every_time_and_spares_others(version, name):
    """A broken component reached through `$ref`, next to a good one: SchemaCompileError names
    the place inside the broken component, on every prepare (not only the first), and other
    operations that share the good component still work.

    Defect: a failed translation leaves half-registered resources behind, so the
    second prepare skips the broken schema (accepting, or crashing with an
    internal referencing error) and sibling schemas stop resolving.
    """
    broken, _ = BROKEN[name]
    doc = make_doc({"type": "object", "properties": {
        "bad": {"$ref": "#/components/schemas/Bad"}, "good": {"$ref": "#/components/schemas/Good"}}},
        version, components={"Good": {"type": "string", "maxLength": 3}, "Bad": copy.deepcopy(broken)})
    doc["paths"]["/y"] = {"post": {"operationId": "other", "requestBody": {"content": {"application/json": {
        "schema": {"type": "object", "properties": {"good": {"$ref": "#/components/schemas/Good"}}}}}},
        "responses": {"200": {"description": "ok"}}}}
    client = dynclient.Client(doc, base_url=BASE_URL)
    pointers = []
    for _attempt in range(3):
        with pytest.raises(SchemaCompileError) as info:
            client.prepare(OP, {"good": "abc"})
        pointers.append(info.value.pointer)
    # (the exact pointer of each kind is checked by the inline test and test_missing_ref_names_referring_place)
    assert len(set(pointers)) == 1, pointers
    client.prepare("other", {"good": "abc"})
    with pytest.raises(RequestValidationError):
        client.prepare("other", {"good": "abcd"})


@BOTH
def test_missing_ref_names_referring_place(version):
    """`$ref` to a missing component: the error's pointer is where the reference is written
    (the place to fix), and the message names the missing target.

    Defect: reporting only the missing target (`/components/schemas/Missing`),
    which exists nowhere in the document, so nobody can find the bad reference.
    """
    client = make_client({"type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"}}},
                         version, components={"Pet": {"type": "object", "properties": {
                             "owner": {"$ref": "#/components/schemas/Missing"}}}})
    with pytest.raises(SchemaCompileError) as info:
        client.prepare(OP, {})
    assert info.value.pointer == "/components/schemas/Pet/properties/owner/$ref", str(info.value)
    assert "#/components/schemas/Missing" in str(info.value)


# --- error messages ---------------------------------------------------------------------


def test_oneof_error_names_closest_branch_problem():
    """For a oneOf/anyOf failure the message is the closest branch's specific problem
    (jsonschema best_match), with its pointer, not "is not valid under any of the given schemas".

    Defect: reporting the top-level oneOf failure tells the caller nothing.
    """
    schema = {"type": "object", "properties": {"input": {"oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "object", "required": ["role"], "properties": {
            "role": {"type": "string"}, "content": {"type": "string"}}}}]}}}
    for combinator in ("oneOf", "anyOf"):
        s = copy.deepcopy(schema)
        s["properties"]["input"] = {combinator: s["properties"]["input"]["oneOf"]}
        client = make_client(s, V31)
        check(client, [({"input": "x"}, True), ({"input": [{"role": "u"}]}, True),
                       ({"input": [{"role": "u", "content": 5}]}, False)])
        error = request_error(client, {"input": [{"role": "u", "content": 5}]})
        assert error.pointer == "/input/0/content", str(error)
        assert "not valid under any" not in str(error)
        assert "string" in str(error) and "5" in str(error)


@pytest.mark.parametrize("schema, instance, expected_text, given_text", [
    ({"type": "integer"}, "seven", "integer", "seven"),
    ({"type": "string", "enum": ["low", "high"]}, "mid", "low", "mid"),
    ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, 0, "0", "0"),
    ({"type": "number", "maximum": 10}, 11, "10", "11"),
    ({"type": "string", "maxLength": 3}, "abcdef", "3", "abcdef"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "ABC", "^[a-z]+$", "ABC"),
    ({"type": "array", "minItems": 2}, [1], "2", "1"),
    ({"const": "function"}, "tool", "function", "tool"),
])
def test_messages_contain_expected_and_given(schema, instance, expected_text, given_text):
    """Messages say what was expected and what was given, and the error keeps both as attributes.

    Defect: "validation failed" without the constraint or the offending value.
    """
    client = make_client({"type": "object", "properties": {"v": schema}}, V31)
    check(client, [({}, True), ({"v": instance}, False)])
    error = request_error(client, {"v": instance})
    text = str(error)
    assert error.pointer == "/v"
    assert expected_text in text and given_text in text, text
    assert error.given == instance


HUGE_STRING = "x" * 100_000
HUGE_LIST = list(range(20_000))
HUGE_OBJECT = {f"key{i}": i for i in range(5_000)}


@pytest.mark.parametrize("schema, instance", [
    pytest.param({"type": "integer"}, HUGE_STRING, id="type-string"),
    pytest.param({"type": "string"}, HUGE_LIST, id="type-list"),
    pytest.param({"type": "string"}, HUGE_OBJECT, id="type-object"),
    pytest.param({"enum": ["a", "b"]}, HUGE_STRING, id="enum"),
    pytest.param({"const": "a"}, HUGE_LIST, id="const"),
    pytest.param({"type": "string", "maxLength": 5}, HUGE_STRING, id="maxLength"),
    pytest.param({"type": "string", "pattern": "^a"}, HUGE_STRING, id="pattern"),
    pytest.param({"type": "array", "maxItems": 5}, HUGE_LIST, id="maxItems"),
    pytest.param({"type": "array", "uniqueItems": True}, HUGE_LIST + [0], id="uniqueItems"),
    pytest.param({"type": "object", "maxProperties": 2}, HUGE_OBJECT, id="maxProperties"),
    pytest.param({"type": "object", "required": ["missing"]}, HUGE_OBJECT, id="required"),
    pytest.param({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, HUGE_OBJECT,
                 id="additionalProperties"),
    pytest.param({"type": "object", "properties": {"a": {}}, "unevaluatedProperties": False}, HUGE_OBJECT,
                 id="unevaluatedProperties"),
    pytest.param({"not": {"type": "array"}}, HUGE_LIST, id="not"),
    pytest.param({"oneOf": [{"type": "integer"}, {"type": "boolean"}]}, HUGE_STRING, id="oneOf"),
    pytest.param({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}, HUGE_OBJECT, id="anyOf"),
    pytest.param(False, HUGE_STRING, id="false-schema"),
])
def test_huge_instances_are_truncated_in_messages(schema, instance):
    """A huge body in error: the message stays short (< 400 characters), whatever the keyword.

    Defect: jsonschema's messages embed the whole instance (or every offending
    key), so one bad 100 kB body makes a megabyte-long exception and log line.
    """
    client = make_client({"type": "object", "properties": {"v": schema}}, V31)
    check(client, [({}, True), ({"v": instance}, False)])
    error = request_error(client, {"v": instance})
    assert len(str(error)) < 400, f"{len(str(error))} characters: {str(error)[:300]}..."
    violation = client.schemas.compiled(RESP, "response").violation({"v": instance})
    assert len(violation.message) < 400
