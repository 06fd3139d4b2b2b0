"""Cases and the openapi-core oracle for tests/test_oracle.py.

A *case* is (document, operationId, case name, JSON body, intended verdict).
Valid bodies come from the document itself (each operation's
``x-oaiMeta.examples``: the JSON after ``-d`` in the ``curl`` request) and a
few hand-written minimal ones (HANDWRITTEN, which also holds "probe:" bodies,
valid and invalid, aimed at one schema construct each); invalid bodies are
mechanical mutations of each valid body, chosen by reading the operation's
request-body schema:

* ``drop:<name>``        a required property removed
* ``type:<name>``        a property given a JSON type none of its forms allows
* ``enum:<name>``        a string-enum property given a value not in the enum
* ``unknown-property``   an extra property where ``additionalProperties: false``
* ``null:<name>``        null where the property cannot be null
* ``nullable:<name>``    null where the document marks the property nullable
                         (intended valid: this is where OpenAPI 3.0 ``nullable``
                         handling is put to the test)

Both validators are asked about every case. dynclient's verdict is whether
``Client.prepare`` raises RequestValidationError; openapi-core's is whether its
request-body validator raises RequestBodyValidationError, or "cannot judge"
when it raises anything else (its own crash, an unresolvable reference).
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from typing import Any, Iterator

VALID, INVALID = "valid", "invalid"
MUTATIONS_PER_KIND = 1        # at most this many mutations of each kind per valid body
UNKNOWN_PROPERTY = "x_oracle_unknown_property"


@dataclass(frozen=True)
class Case:
    doc: str          # "2025-04-29" or "2026-08-21"
    op_id: str
    name: str         # "example:<title>", "minimal", or "<base> / <mutation>"
    body: Any
    intended: str     # VALID or INVALID: what the case was built to be

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.doc, self.op_id, self.name)


# --- valid bodies from the document -------------------------------------------------


def curl_json_bodies(curl: str) -> list[Any]:
    """The JSON bodies passed with -d/--data/--data-raw/--data-binary in a curl command line.

    Shell-parsed (line continuations, single quotes, '\\'' escapes), then JSON-parsed; a body
    that is not JSON (placeholders, ``@file``, comments) is left out.
    """
    text = curl.replace("\\\r\n", " ").replace("\\\n", " ")
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError:
        return []
    found = []
    for flag, value in zip(words, words[1:]):
        if flag in ("-d", "--data", "--data-raw", "--data-binary"):
            try:
                found.append(json.loads(value))
            except ValueError:
                continue
    return found


def example_bodies(operation: dict) -> list[tuple[str, Any]]:
    """(title, body) of every JSON body in an operation's x-oaiMeta examples."""
    examples = (operation.get("x-oaiMeta") or {}).get("examples")
    if isinstance(examples, dict):
        examples = [examples]
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, example in enumerate(examples or ()):
        if not isinstance(example, dict):
            continue
        request = example.get("request")
        curl = request.get("curl") if isinstance(request, dict) else None
        if not isinstance(curl, str):
            continue
        title = str(example.get("title") or f"#{i}")
        for j, body in enumerate(curl_json_bodies(curl)):
            fingerprint = json.dumps(body, sort_keys=True)
            if fingerprint in seen:      # several examples often send the very same body
                continue
            seen.add(fingerprint)
            out.append((title if j == 0 else f"{title} #{j}", body))
    return out


# --- reading schemas (for choosing mutations, not for judging) ---------------------------


class Schemas:
    """Just enough schema reading to choose mutations: $ref, allOf, nullability, JSON types."""

    def __init__(self, data: dict):
        self.data = data

    def resolve(self, node: Any, depth: int = 0) -> Any:
        while isinstance(node, dict) and "$ref" in node and depth < 50:
            node = self.pointer(node["$ref"][1:])
            depth += 1
        return node

    def pointer(self, pointer: str) -> Any:
        node: Any = self.data
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def object_view(self, schema: Any) -> tuple[dict[str, list], list[str], Any] | None:
        """({property: [every declaration of it]}, required, additionalProperties) of an object
        schema, through $ref and allOf; None when the schema is a oneOf/anyOf (which branch applies
        is the validators' business). allOf parts may declare a property again, differently: an
        instance must then meet every declaration."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or "oneOf" in schema or "anyOf" in schema:
            return None
        properties: dict[str, list] = {name: [prop] for name, prop in (schema.get("properties") or {}).items()}
        required = list(schema.get("required") or [])
        additional = schema.get("additionalProperties")
        for part in schema.get("allOf") or ():
            sub = self.object_view(part)
            if sub is None:
                return None
            for name, declarations in sub[0].items():
                properties.setdefault(name, []).extend(declarations)
            required += [r for r in sub[1] if r not in required]
            if additional is None:
                additional = sub[2]
        return properties, required, additional

    def may_be_null(self, schema: Any, seen: int = 0) -> bool:
        """Whether null might be acceptable by any reading of the schema (OpenAPI 3.0 or 3.1)."""
        if not isinstance(schema, dict) or seen > 20:
            return True
        if schema.get("nullable") is True:
            return True
        if "$ref" in schema:
            return self.may_be_null(self.resolve(schema), seen + 1)
        types = schema.get("type")
        if types is None and not any(k in schema for k in ("anyOf", "oneOf", "allOf", "enum", "const")):
            return True
        if types == "null" or (isinstance(types, list) and "null" in types):
            return True
        if None in (schema.get("enum") or ()):
            return True
        if any(self.may_be_null(b, seen + 1) for b in (schema.get("anyOf") or []) + (schema.get("oneOf") or [])):
            return True
        return bool(schema.get("allOf")) and all(self.may_be_null(b, seen + 1) for b in schema["allOf"])

    def declared_nullable(self, schema: Any) -> bool:
        """The document says null is allowed here, in one of the ways OpenAI's documents say it."""
        if not isinstance(schema, dict):
            return False
        if schema.get("nullable") is True:
            return True
        types = schema.get("type")
        if types == "null" or (isinstance(types, list) and "null" in types):
            return True
        return any(isinstance(b, dict) and (b.get("type") == "null" or b.get("nullable") is True)
                   for b in (schema.get("anyOf") or []) + (schema.get("oneOf") or []))

    def json_types(self, schema: Any, seen: int = 0) -> set[str] | None:
        """The JSON types an instance may have under the schema; None when not plainly known."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or seen > 20:
            return None
        branches = (schema.get("anyOf") or []) + (schema.get("oneOf") or [])
        if branches:
            found: set[str] = set()
            for branch in branches:
                sub = self.json_types(branch, seen + 1)
                if sub is None:
                    return None
                found |= sub
            own = self._own_types(schema)
            return found if own is None else found & own if found & own else found
        own = self._own_types(schema)
        if own is None:
            for part in schema.get("allOf") or ():
                sub = self.json_types(part, seen + 1)
                if sub is not None:
                    return sub
        return own

    @staticmethod
    def _own_types(schema: dict) -> set[str] | None:
        types = schema.get("type")
        if types is None:
            if "enum" in schema and all(isinstance(v, str) for v in schema["enum"] if v is not None):
                return {"string"}
            if isinstance(schema.get("const"), str):
                return {"string"}
            return None
        found = set(types if isinstance(types, list) else [types])
        if "integer" in found:
            found.add("number")
        if "number" in found:
            found.add("integer")
        if schema.get("nullable") is True:
            found.add("null")
        return found

    def string_enum(self, schema: Any) -> list[str] | None:
        """The allowed values of a plain string enum (through $ref); None if it is anything else."""
        node = schema if isinstance(schema, dict) and "$ref" not in schema else self.resolve(schema)
        if not isinstance(node, dict) or any(k in node for k in ("anyOf", "oneOf", "allOf")):
            return None
        values = node.get("enum")
        if isinstance(values, list) and values and all(isinstance(v, str) or v is None for v in values):
            return [v for v in values if v is not None]
        return None


WRONG_VALUES = [("integer", 12345), ("string", "oracle-wrong-type"), ("boolean", True),
                ("object", {"oracle": "wrong type"}), ("array", ["oracle-wrong-type"])]


def mutations(schemas: Schemas, body_schema: Any, body: Any) -> Iterator[tuple[str, Any, str]]:
    """(mutation name, mutated body, intended verdict) for one valid body: at most
    MUTATIONS_PER_KIND of each kind, properties taken in the body's order."""
    view = schemas.object_view(body_schema)
    if view is None or not isinstance(body, dict):
        return
    properties, required, additional = view

    def with_(name: str, value: Any) -> dict:
        return {**body, name: value}

    def first(names, fits) -> list[str]:
        return [n for n in names if fits(n)][:MUTATIONS_PER_KIND]

    for name in first(required, lambda n: n in body):
        yield f"drop:{name}", {k: v for k, v in body.items() if k != name}, INVALID

    def wrong_value(name: str) -> Any:
        for declaration in properties.get(name, ()):    # wrong for one declaration is wrong for all
            types = schemas.json_types(declaration)
            if types is not None:
                for kind, value in WRONG_VALUES:
                    if kind not in types and not (kind == "integer" and "number" in types):
                        return value
        return None

    for name in first(list(body), lambda n: wrong_value(n) is not None):
        yield f"type:{name}", with_(name, wrong_value(name)), INVALID

    for name in first(list(body), lambda n: any(schemas.string_enum(d) for d in properties.get(n, ()))):
        yield f"enum:{name}", with_(name, "oracle-not-in-enum"), INVALID

    if additional is False:
        yield "unknown-property", with_(UNKNOWN_PROPERTY, 1), INVALID

    for name in first(list(body), lambda n: any(not schemas.may_be_null(d) for d in properties.get(n, ()))):
        yield f"null:{name}", with_(name, None), INVALID

    # null where every declaration says nullable: first a property the body sets, else any optional one
    def nullable(name: str) -> bool:
        return name not in required and all(schemas.declared_nullable(d) for d in properties[name])

    chosen = first([n for n in body if n in properties and body[n] is not None], nullable) \
        or first([n for n in properties if n not in body], nullable)
    for name in chosen:
        yield f"nullable:{name}", with_(name, None), VALID


# --- hand-written bodies -------------------------------------------------------------

# operationId -> [(name, body, intended verdict)], used on every document that has the operation.
# "minimal" bodies are mutated like the examples; "probe:" bodies aim at one schema construct
# each (discriminated unions, $recursiveRef, boolean exclusiveMinimum, nullable) and are not.
HANDWRITTEN: dict[str, list[tuple[str, Any, str]]] = {
    "createAssistant": [
        ("minimal", {"model": "gpt-4o"}, VALID),
        ("probe:unknown tool type", {"model": "gpt-4o", "tools": [{"type": "browser"}]}, INVALID),
        ("probe:response_format auto", {"model": "gpt-4o", "response_format": "auto"}, VALID),
    ],
    "modifyAssistant": [("minimal", {"name": "Renamed"}, VALID)],
    "createChatCompletion": [
        ("minimal", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}, VALID),
        ("probe:unknown role", {"model": "gpt-4o", "messages": [{"role": "robot", "content": "Hello"}]}, INVALID),
        ("probe:tool call round trip", {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}, VALID),
        ("probe:temperature null", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}],
                                    "temperature": None}, VALID),
    ],
    "createCompletion": [("minimal", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test"}, VALID)],
    "createEmbedding": [("minimal", {"model": "text-embedding-3-small", "input": "hello"}, VALID)],
    "createModeration": [("minimal", {"input": "hello"}, VALID)],
    "createThread": [("minimal", {}, VALID)],
    "createRun": [("minimal", {"assistant_id": "asst_abc123"}, VALID)],
    "createThreadAndRun": [("minimal", {"assistant_id": "asst_abc123"}, VALID)],
    "createMessage": [("minimal", {"role": "user", "content": "Hello"}, VALID)],
    "createVectorStore": [("minimal", {"name": "Support FAQ"}, VALID)],
    "modifyVectorStore": [("minimal", {"name": "Renamed"}, VALID)],
    "createBatch": [("minimal", {"input_file_id": "file-abc123", "endpoint": "/v1/chat/completions",
                                 "completion_window": "24h"}, VALID)],
    "createFineTuningJob": [
        ("minimal", {"model": "gpt-4o-mini", "training_file": "file-abc123"}, VALID),
        *[(f"probe:dpo beta {beta}{note}", {"model": "gpt-4o-mini", "training_file": "file-abc123", "method": {
            "type": "dpo", "dpo": {"hyperparameters": {"beta": beta}}}}, verdict)
          for beta, note, verdict in ((0.1, "", VALID), (1, "", VALID), (1.5, "", VALID),
                                      (0, " (exclusive minimum)", INVALID), (2.5, " (above maximum)", INVALID))],
        ("probe:learning_rate_multiplier 0.5", {"model": "gpt-4o-mini", "training_file": "file-abc123",
                                                "hyperparameters": {"learning_rate_multiplier": 0.5}}, VALID),
        ("probe:learning_rate_multiplier 0 (exclusive minimum)", {
            "model": "gpt-4o-mini", "training_file": "file-abc123",
            "hyperparameters": {"learning_rate_multiplier": 0}}, INVALID),
    ],
    "createImage": [("minimal", {"prompt": "A cute baby sea otter"}, VALID)],
    "createResponse": [
        ("minimal", {"model": "gpt-4o", "input": "Hello"}, VALID),
        ("probe:input message without type", {"model": "gpt-4o", "input": [{"role": "user", "content": "Hello"}]},
         VALID),
        ("probe:typed input message", {"model": "gpt-4o", "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}]}, VALID),
        ("probe:earlier assistant output in input", {"model": "gpt-4o", "input": [
            {"type": "message", "role": "user", "content": "Hi"},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}]}]}, VALID),
        ("probe:unknown tool type", {"model": "gpt-4o", "input": "Hello", "tools": [{"type": "no_such_tool"}]},
         INVALID),
        ("probe:reasoning null", {"model": "o3-mini", "input": "Hello", "reasoning": None}, VALID),
    ],
    "createEval": [("minimal", {
        "data_source_config": {"type": "custom", "item_schema": {
            "type": "object", "properties": {"question": {"type": "string"}}}},
        "testing_criteria": [{"type": "string_check", "name": "exact", "input": "{{item.question}}",
                              "reference": "Paris", "operation": "eq"}]}, VALID)],
    "createEvalRun": [("minimal", {"data_source": {"type": "jsonl",
                                                   "source": {"type": "file_id", "id": "file-abc123"}}}, VALID)],
    "searchVectorStore": [
        ("minimal", {"query": "What is the return policy?"}, VALID),
        ("probe:comparison filter", {"query": "q", "filters": {"type": "eq", "key": "region", "value": "us"}},
         VALID),
        ("probe:comparison inside compound filter", {"query": "q", "filters": {
            "type": "and", "filters": [{"type": "eq", "key": "region", "value": "us"}]}}, VALID),
        ("probe:compound inside compound filter", {"query": "q", "filters": {"type": "and", "filters": [
            {"type": "or", "filters": [{"type": "eq", "key": "region", "value": "us"}]}]}}, VALID),
        ("probe:malformed compound inside compound filter", {"query": "q", "filters": {
            "type": "and", "filters": [{"type": "or", "filters": "region = us"}]}}, INVALID),
    ],
    "createSpeech": [("minimal", {"model": "tts-1", "input": "Hello", "voice": "alloy"}, VALID)],
    "createUpload": [("minimal", {"filename": "training.jsonl", "purpose": "fine-tune", "bytes": 1000,
                                  "mime_type": "text/jsonl"}, VALID)],
    "createConversation": [("minimal", {}, VALID)],
    "CreateContainer": [("minimal", {"name": "My Container"}, VALID)],
    "Compactconversation": [("minimal", {"model": "gpt-5.1-codex-max", "input": "Hello"}, VALID)],
}


def build_cases(doc: str, spec: Any, schemas: Schemas, op_id: str, not_valid: set[str]) -> list[Case]:
    """Every case of one operation: its examples and hand-written bodies, and the mutations of
    each of those that is valid (`not_valid` names the bases known not to be)."""
    op = spec.operations[op_id]
    media = op.request_body.content["application/json"]
    raw = spec.resolve_pointer(op.pointer)
    bases = [(f"example:{title}", body, VALID) for title, body in example_bodies(raw)]
    bases += HANDWRITTEN.get(op_id, [])
    cases: list[Case] = []
    for name, body, intended in bases:
        cases.append(Case(doc, op_id, name, body, intended))
        if intended == VALID and not name.startswith("probe:") and name not in not_valid:
            cases += [Case(doc, op_id, f"{name} / {mutation}", mutated, verdict)
                      for mutation, mutated, verdict in mutations(schemas, media.schema, body)]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), f"{doc} {op_id}: duplicate case names {names}"
    return cases


# --- the oracle ---------------------------------------------------------------------


class OpenAPICoreOracle:
    """openapi-core's request-body validation for one document, via its public API.

    Built with ``OpenAPI.from_dict`` and a body-only request validator (security and
    parameters are not what is compared). The document's own structure check
    (openapi-spec-validator) is switched off: both documents fail it, which says nothing
    about bodies. With it on, ``from_dict`` raises OpenAPIValidationError after 0.1 s
    (2025-04-29: ``$recursiveAnchor`` is not a 3.0 Schema Object field) and 2.4 s
    (2026-08-21: a ``required`` list with duplicates); checking the whole document takes
    0.9 s (38 errors) and 6.4 s (25 errors, among them ``True is not of type 'number'``
    for the boolean exclusiveMinimum). Without it, building is lazy (about 0.1 ms) and a
    validation, the first included, takes 1 to 3 ms: openapi-core resolves references as
    it meets them.
    """

    def __init__(self, data: dict):
        from openapi_core import Config, OpenAPI
        from openapi_core.validation.request.validators import (V30RequestBodyValidator,
                                                                 V31RequestBodyValidator)

        version = str(data.get("openapi", ""))
        validator_cls = V31RequestBodyValidator if version.startswith("3.1") else V30RequestBodyValidator
        started = time.perf_counter()
        self.app = OpenAPI.from_dict(data, config=Config(spec_validator_cls=None,
                                                         request_validator_cls=validator_cls))
        self.build_seconds = time.perf_counter() - started
        self.first_validation_seconds: float | None = None
        self.slowest_validation_seconds = 0.0
        server = (data.get("servers") or [{"url": "https://api.openai.com/v1"}])[0]["url"]
        scheme_host, _, base_path = server.partition("://")[2].partition("/")
        self.host_url = server.split("://")[0] + "://" + scheme_host
        self.base_path = "/" + base_path if base_path else ""

    def verdict(self, method: str, path_template: str, body: Any) -> str:
        """VALID, INVALID, or "cannot judge: <exception type>: <message>"."""
        from openapi_core.testing import MockRequest
        from openapi_core.validation.request.exceptions import RequestBodyValidationError
        from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

        path = self.base_path + fill_path(path_template)
        request = MockRequest(self.host_url, method.lower(), path, data=json.dumps(body).encode(),
                              content_type="application/json")
        started = time.perf_counter()
        try:
            self.app.validate_request(request)
            verdict = VALID
        except RequestBodyValidationError as exc:
            cause = exc.__cause__
            unresolved = [e.message for e in walk_errors(getattr(cause, "schema_errors", ()))
                          if "could not be resolved" in e.message]
            if isinstance(cause, InvalidSchemaValue) and not unresolved:
                verdict = INVALID
            else:   # a reference it made up and cannot resolve is no verdict on the body
                reason = unresolved[0] if unresolved else str(cause or exc)
                verdict = f"cannot judge: {type(exc).__name__} from {type(cause).__name__}: {short(reason)}"
        except Exception as exc:  # noqa: BLE001 - anything else is openapi-core failing to judge
            verdict = f"cannot judge: {type(exc).__name__}: {short(str(exc))}"
        elapsed = time.perf_counter() - started
        if self.first_validation_seconds is None:
            self.first_validation_seconds = elapsed
        self.slowest_validation_seconds = max(self.slowest_validation_seconds, elapsed)
        return verdict


def walk_errors(errors: Any) -> Iterator[Any]:
    """jsonschema errors and, depth first, the errors of their oneOf/anyOf branches."""
    for error in errors:
        yield error
        yield from walk_errors(error.context or ())


def fill_path(template: str) -> str:
    """A concrete path for a template: every {param} becomes a plausible identifier."""
    out, rest = "", template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        out += before + f"{name}_oracle"
    return out + rest


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def dynclient_verdict(client: Any, op_id: str, body: Any) -> str:
    """VALID or INVALID: whether Client.prepare raises RequestValidationError on the body."""
    from dynclient import RequestValidationError

    op = client.operation(op_id)
    params = {p.name: dummy_parameter(p) for p in op.parameters if p.required}
    try:
        client.prepare(op_id, body, params=params, content_type="application/json")
    except RequestValidationError as exc:
        if exc.location != "body":
            raise
        return INVALID
    return VALID


def dummy_parameter(parameter: Any) -> Any:
    schema = parameter.schema if isinstance(parameter.schema, dict) else {}
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    return f"{parameter.name}_oracle"
