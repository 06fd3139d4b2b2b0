"""Schema dialects, compiled validators and readable errors.

OpenAPI schemas are not JSON Schema: 3.0 has ``nullable``, boolean
``exclusiveMinimum``, ``discriminator``, ``readOnly``/``writeOnly`` that change
``required``, and ``$ref`` siblings that must be ignored; 3.1 is JSON Schema
2020-12, yet real 3.1 documents (OpenAI's 2026 ones) still write 3.0 keywords.
This module translates each schema, as published, into plain 2020-12 and
validates with ``jsonschema``.

Translation is lazy: a validator is built for one schema (a request body, a
parameter, a response) when first needed, and only the schemas it reaches
through ``$ref`` are translated, each once per direction, and registered as a
resource of one shared ``referencing`` registry. Loading a document compiles
nothing.

What the translation does, and why:

* ``nullable: true`` admits ``null`` (also as a bare ``allOf`` member, the
  common idiom ``allOf: [{$ref: X}, {nullable: true}]``): ``type`` becomes a list with ``"null"``
  when the schema is a plain typed one, otherwise (``enum``, ``$ref``,
  ``allOf``/``anyOf``/``oneOf`` without a type) the schema is wrapped in
  ``anyOf: [{type: null}, schema]``. ``nullable`` beside ``enum`` admits null
  even when the enum does not list it: OpenAI's documents mean it so.
* Boolean ``exclusiveMinimum``/``exclusiveMaximum`` (3.0, and 3.1 documents
  that kept them) become the 2020-12 numeric form.
* 3.0 ``$ref`` siblings are dropped as the 3.0 specification says, except
  ``nullable``, which documents put there meaning it.
* ``readOnly`` properties are not required in requests, ``writeOnly``
  properties not in responses.
* ``discriminator`` selects the branch of ``oneOf``/``anyOf`` by the value of
  its property: from ``mapping``, from each branch's ``enum``/``const`` of that
  property, and from the implicit schema-name rule for branches with neither.
  The chosen branch alone decides, which is what the discriminator is for, and
  its errors are the ones reported.
* ``$recursiveRef: "#"`` (draft 2019-09, found in 3.0 documents) refers to the
  enclosing component schema.
* Duplicate ``required`` entries are harmless and kept; structurally broken
  schemas (unknown ``type``, ``required`` not a list of strings, empty
  ``oneOf``, bad ``pattern``, unresolvable ``$ref``) raise SchemaCompileError
  with their JSON pointer. Nothing is skipped silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

import jsonschema
import jsonschema.exceptions
import referencing
import referencing.jsonschema
from jsonschema.exceptions import ValidationError

from .errors import SchemaCompileError

URN = "urn:dynclient:"
DISCRIMINATOR = "x-dynclient-discriminator"
TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})

# Keywords whose value is a schema, a list of schemas, or a map of schemas.
ONE_SCHEMA = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
              "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
PLAIN_TYPED_KEYS = frozenset({"enum", "const", "$ref", "allOf", "anyOf", "oneOf", "not"})


@dataclass
class Violation:
    """One schema failure, reduced to what a person needs."""

    pointer: str          # JSON pointer into the instance ("" is the root)
    message: str
    keyword: str          # the failing keyword (type, required, enum, ...)
    expected: Any
    given: Any
    messages: list[str]   # every failure found, most useful first, capped


def json_pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...>"


# --- the validating side ----------------------------------------------------


def _discriminated(keyword: str):
    """`oneOf`/`anyOf` that let a discriminator pick the branch."""
    fallback = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def check(validator, branches, instance, schema):
        rule = schema.get(DISCRIMINATOR)
        if rule is None or rule["keyword"] != keyword or not isinstance(instance, dict):
            yield from fallback(validator, branches, instance, schema)
            return
        prop = rule["property"]
        value = instance.get(prop)
        candidates = rule["all"].get(value) if isinstance(value, str) else None
        if candidates:
            # The branches the value names decide; any of them accepting is enough.
            failures = []
            for index in candidates:
                errors = list(validator.descend(instance, branches[index], schema_path=index))
                if not errors:
                    return
                failures.append(errors)
            yield from min(failures, key=len)
            return
        expected = sorted(rule["all"])
        if rule.get("inferred"):
            # Every branch requires the property with disjoint values: the verdict is oneOf's.
            if prop not in instance:
                yield ValidationError(f"{prop!r} is a required property", validator="required",
                                      validator_value=[prop], instance=instance)
            else:
                yield ValidationError(f"{value!r} is not one of {expected}", validator="enum",
                                      validator_value=expected, instance=value, path=[prop])
            return
        # A declared discriminator whose property is absent or unknown: plain oneOf/anyOf decides
        # (EasyInputMessage in OpenAI's Responses input needs no `type`).
        errors = list(fallback(validator, branches, instance, schema))
        if errors and prop in instance and rule["complete"]:
            yield ValidationError(f"{value!r} is not one of {expected}", validator="enum",
                                  validator_value=expected, instance=value, path=[prop])
        else:
            yield from errors

    return check


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"oneOf": _discriminated("oneOf"), "anyOf": _discriminated("anyOf")},
)


class CompiledSchema:
    """A validator for one schema of the document, in one direction."""

    __slots__ = ("pointer", "_validator")

    def __init__(self, pointer: str, validator: jsonschema.protocols.Validator):
        self.pointer = pointer
        self._validator = validator

    def is_valid(self, instance: Any) -> bool:
        return next(self._validator.iter_errors(instance), None) is None

    def violation(self, instance: Any) -> Violation | None:
        """None when valid; otherwise the most useful failure and a list of all of them."""
        errors = list(self._validator.iter_errors(instance))
        if not errors:
            return None
        best = jsonschema.exceptions.best_match(errors)
        return Violation(
            pointer=json_pointer(best.absolute_path),
            message=describe(best),
            keyword=str(best.validator),
            expected=best.validator_value,
            given=best.instance,
            messages=[f"{json_pointer(e.absolute_path) or '/'}: {describe(e)}"
                      for e in sorted(errors, key=jsonschema.exceptions.relevance, reverse=True)[:20]],
        )


def describe(error: ValidationError) -> str:
    """A message that says what was expected and what was given, never a whole huge instance."""
    keyword, expected, given = error.validator, error.validator_value, error.instance
    if keyword == "type":
        return f"expected {_a(expected)}, got {_type_name(given)} {short_repr(given)}"
    if keyword in ("enum", "const"):
        options = expected if keyword == "enum" else [expected]
        return f"expected one of {short_repr(options, 200)}, got {short_repr(given)}"
    if keyword == "required":
        return error.message
    if keyword in ("oneOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        where = json_pointer(best.relative_path)
        return (f"matches none of the {len(expected)} allowed forms ({keyword}); "
                f"closest: {where + ': ' if where else ''}{describe(best)}")
    if keyword == "oneOf":
        return f"matches more than one of the {len(expected)} forms allowed by oneOf"
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(given, dict):
        allowed = set(error.schema.get("properties") or ())
        extra = [k for k in given if k not in allowed]
        shown = ", ".join(repr(k) for k in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        return f"unexpected propert{'y' if len(extra) == 1 else 'ies'} {shown} (the schema allows no others)"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"expected a number with {keyword} {expected}, got {short_repr(given)}"
    if keyword in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        return f"expected {keyword} {expected}, got {short_repr(given)} (size {len(given)})"
    if keyword == "pattern":
        return f"expected a string matching {expected!r}, got {short_repr(given)}"
    return error.message if len(error.message) <= 200 else error.message[:195] + " ..."


def _a(types: Any) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join(("an " if t[0] in "aeiou" else "a ") + t for t in names)


def _type_name(value: Any) -> str:
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                              (list, "array"), (dict, "object"), (type(None), "null")):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


# --- the translating side ---------------------------------------------------


class SchemaSet:
    """The schemas of one document: translated, registered and compiled on demand."""

    def __init__(self, spec):
        self.spec = spec
        self.dialect = spec.dialect
        self._resources: dict[str, Any] = {}         # uri -> translated contents
        self._registry = referencing.Registry()
        self._compiled: dict[tuple[str, str], CompiledSchema] = {}

    def compiled(self, pointer: str, direction: str) -> CompiledSchema:
        """The validator of the schema at `pointer` ("request" or "response" direction)."""
        key = (pointer, direction)
        found = self._compiled.get(key)
        if found is None:
            root = self._translate_closure(pointer, direction)
            validator = Validator({"$ref": root}, registry=self._registry)
            found = self._compiled[key] = CompiledSchema(pointer, validator)
        return found

    def translated(self, pointer: str, direction: str) -> tuple[Any, Any]:
        """The 2020-12 translation of the schema at `pointer`, and a function that returns the
        translated schema behind any `$ref` URI found in it (for generators and tools)."""
        root = self._translate_closure(pointer, direction)
        return self._resources[root], self._resources.__getitem__

    def _translate_closure(self, pointer: str, direction: str) -> str:
        root = uri(direction, pointer)
        self._translate_pending([pointer], direction)
        return root

    def _translate_pending(self, pending: list[str], direction: str) -> None:
        # All or nothing: a batch that fails leaves no half-registered resources behind, so the
        # same error is raised again next time and other schemas are unaffected.
        batch: dict[str, Any] = {}
        while pending:
            pointer = pending.pop()
            target = uri(direction, pointer)
            if target in self._resources or target in batch:
                continue
            node = self._resolve(pointer)
            batch[target] = Translator(self, direction, pointer, pending).schema(node, pointer)
        if batch:
            self._resources.update(batch)
            self._registry = self._registry.with_resources(
                (target, referencing.jsonschema.DRAFT202012.create_resource(contents))
                for target, contents in batch.items())

    def _resolve(self, pointer: str) -> Any:
        try:
            return self.spec.resolve_pointer(pointer)
        except Exception:
            raise SchemaCompileError(pointer, "the reference does not resolve") from None


def uri(direction: str, pointer: str) -> str:
    return f"{URN}{direction}:{pointer}"


class Translator:
    """Translates one schema resource; `$ref` targets are queued in `pending`."""

    def __init__(self, schemas: SchemaSet, direction: str, resource_pointer: str, pending: list[str]):
        self.schemas = schemas
        self.direction = direction
        self.pending = pending
        self.legacy = schemas.dialect == "3.0"
        component = re.match(r"^/components/schemas/[^/]+", resource_pointer)
        self.enclosing = component.group(0) if component else resource_pointer

    def ref(self, ref: Any, pointer: str) -> dict:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaCompileError(pointer, f"only local references are followed, not {ref!r}")
        target = ref[1:]
        try:
            self.schemas.spec.resolve_pointer(target)
        except Exception:
            raise SchemaCompileError(pointer, f"the reference {ref!r} does not resolve") from None
        self.pending.append(target)
        return {"$ref": uri(self.direction, target)}

    def schema(self, node: Any, pointer: str) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaCompileError(pointer, f"a schema must be an object or a boolean, not {_type_name(node)}")
        nullable = node.get("nullable") is True
        if isinstance(node.get("allOf"), list) and any(_bare_nullable(part) for part in node["allOf"]):
            # `allOf: [{$ref: X}, {nullable: true}]` is how documents write "X or null"; a bare
            # `nullable` has no effect by the letter of 3.0.3, so honour it for the whole allOf.
            parts = [part for part in node["allOf"] if not _bare_nullable(part)]
            node = {**node, "allOf": parts} if parts else {k: v for k, v in node.items() if k != "allOf"}
            nullable = True
        if "$ref" in node and self.legacy:
            out: dict = self.ref(node["$ref"], f"{pointer}/$ref")   # 3.0: siblings are ignored
        elif "$recursiveRef" in node:
            out = {"$ref": uri(self.direction, self.enclosing)}
            self.pending.append(self.enclosing)
        else:
            out = self.keywords(node, pointer)
        if nullable:
            out = self.nullable(out)
        return out

    def keywords(self, node: dict, pointer: str) -> dict:
        out: dict = {}
        for key, value in node.items():
            at = f"{pointer}/{key}"
            if key == "$ref":
                out.update(self.ref(value, at))
            elif key in ONE_SCHEMA:
                out[key] = self.schema(value, at) if not (key == "items" and isinstance(value, list)) \
                    else [self.schema(v, f"{at}/{i}") for i, v in enumerate(value)]
            elif key in SCHEMA_LISTS:
                if not isinstance(value, list) or not value:
                    raise SchemaCompileError(at, f"{key} must be a non-empty list of schemas")
                out[key] = [self.schema(v, f"{at}/{i}") for i, v in enumerate(value)]
            elif key in SCHEMA_MAPS:
                if not isinstance(value, dict):
                    raise SchemaCompileError(at, f"{key} must be an object")
                out[key] = {name: self.schema(v, f"{at}/{escape(name)}") for name, v in value.items()}
            elif key in ("nullable", "discriminator", "$recursiveAnchor"):
                continue
            elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                if value and bound in node:
                    out[key] = node[bound]
            elif key in ("minimum", "maximum") and node.get(f"exclusive{key.title()}") is True:
                continue
            elif key == "type":
                self.check_type(value, at)
                out[key] = value
            elif key == "required":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise SchemaCompileError(at, "required must be a list of property names")
                out[key] = self.required(value, node)
            elif key == "pattern":
                try:
                    re.compile(value)
                except (re.error, TypeError) as exc:
                    raise SchemaCompileError(at, f"pattern {value!r} is not a regular expression: {exc}") from None
                out[key] = value
            elif key == "enum" and not isinstance(value, list):
                raise SchemaCompileError(at, "enum must be a list")
            else:
                out[key] = value
        discriminator = node.get("discriminator")
        for keyword in ("oneOf", "anyOf"):
            if keyword in node:
                if isinstance(discriminator, dict):
                    rule = self.discriminator_map(discriminator, node[keyword], f"{pointer}/{keyword}")
                else:
                    rule = self.inferred_discriminator(node[keyword])
                if rule:
                    out[DISCRIMINATOR] = {**rule, "keyword": keyword}
                break
        return out

    def inferred_discriminator(self, branches: list) -> dict | None:
        """A property that every branch requires and gives disjoint enum/const values.

        Choosing the branch by it is the same verdict as plain oneOf/anyOf (no
        instance can match two branches, none can match without it), but it
        is faster and the error then speaks of the branch the caller meant.
        """
        facts = [self.branch_facts(b, set()) for b in branches]
        if len(facts) < 2 or any(f is None for f in facts):
            return None
        common = set.intersection(*(required for required, _ in facts))
        for prop in sorted(common):
            mapping: dict[str, int] = {}
            for i, (_, values) in enumerate(facts):
                allowed = values.get(prop)
                if not allowed or any(v in mapping for v in allowed):
                    break
                mapping.update({v: i for v in allowed})
            else:
                return {"property": prop, "map": mapping, "all": {v: [i] for v, i in mapping.items()},
                        "complete": True, "inferred": True}
        return None

    def only_strings(self, prop: Any, seen: set) -> bool:
        """Whether a property admits nothing but the strings of its enum/const (no null, no numbers)."""
        if isinstance(prop, dict) and "$ref" in prop and isinstance(prop["$ref"], str) and prop["$ref"].startswith("#"):
            if prop["$ref"] in seen:
                return False
            return self.only_strings(self.schemas._resolve(prop["$ref"][1:]), seen | {prop["$ref"]})
        if not isinstance(prop, dict) or prop.get("nullable") is True:
            return False
        values = list(prop.get("enum") or ()) + ([prop["const"]] if "const" in prop else [])
        return bool(values) and all(isinstance(v, str) for v in values)

    def branch_facts(self, branch: Any, seen: set) -> tuple[set, dict] | None:
        """(required names, {property: allowed string values}) of an object branch, through $ref and allOf."""
        if not isinstance(branch, dict):
            return None
        if "$ref" in branch:
            ref = branch["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#") or ref in seen:
                return None
            return self.branch_facts(self.schemas._resolve(ref[1:]), seen | {ref})
        if branch.get("nullable") is True or branch.get("type") not in (None, "object"):
            return None
        required = set(r for r in branch.get("required") or () if isinstance(r, str))
        values: dict[str, list] = {}
        for name, prop in (branch.get("properties") or {}).items():
            found = self.discriminator_values({"properties": {name: prop}}, name, set())
            if found and self.only_strings(prop, set()):
                values[name] = found
        for part in branch.get("allOf") or ():
            sub = self.branch_facts(part, seen)
            if sub is None:
                return None
            required |= sub[0]
            values.update(sub[1])
        return required, values

    @staticmethod
    def check_type(value: Any, pointer: str) -> None:
        names = value if isinstance(value, list) else [value]
        unknown = [t for t in names if t not in TYPES]
        if unknown or not names:
            raise SchemaCompileError(pointer, f"unknown type {short_repr(value)}; expected one of {sorted(TYPES)}")

    def required(self, names: list[str], node: dict) -> list[str]:
        hidden = "readOnly" if self.direction == "request" else "writeOnly"
        properties = node.get("properties") or {}
        return [n for n in names if not (isinstance(properties.get(n), dict) and properties[n].get(hidden) is True)]

    @staticmethod
    def nullable(out: Any) -> Any:
        if isinstance(out, dict) and "type" in out and not PLAIN_TYPED_KEYS.intersection(out):
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            return {**out, "type": types if "null" in types else [*types, "null"]}
        return {"anyOf": [{"type": "null"}, out]}

    def discriminator_map(self, discriminator: dict, branches: list, pointer: str) -> dict:
        prop = discriminator.get("propertyName")
        if not isinstance(prop, str):
            raise SchemaCompileError(f"{pointer}/../discriminator", "discriminator needs a propertyName")
        refs = [b.get("$ref") if isinstance(b, dict) else None for b in branches]
        explicit: dict[str, list[int]] = {}
        for value, target in (discriminator.get("mapping") or {}).items():
            for i, ref in enumerate(refs):
                if ref and (ref == target or ref.rsplit("/", 1)[-1] == target):
                    explicit.setdefault(str(value), []).append(i)
        candidates = dict(explicit)
        covered = {i for indices in explicit.values() for i in indices}
        for i, branch in enumerate(branches):
            values = self.discriminator_values(branch, prop, set())
            for v in dict.fromkeys(values):
                if v not in explicit:   # a value may name several branches (OpenAI's "message")
                    candidates.setdefault(v, []).append(i)
            if values:
                covered.add(i)
        for i, ref in enumerate(refs):   # the implicit rule: the schema's name is the value
            if i not in covered and ref:
                candidates.setdefault(ref.rsplit("/", 1)[-1], []).append(i)
                covered.add(i)
        return {"property": prop, "map": {v: ix[0] for v, ix in candidates.items()}, "all": candidates,
                "complete": len(covered) == len(branches)}

    def discriminator_values(self, branch: Any, prop: str, seen: set) -> list[str]:
        """The values a branch allows for the discriminating property (enum/const), through $ref and allOf."""
        if not isinstance(branch, dict):
            return []
        if "$ref" in branch:
            ref = branch["$ref"]
            if ref in seen or not isinstance(ref, str) or not ref.startswith("#"):
                return []
            seen.add(ref)
            return self.discriminator_values(self.schemas._resolve(ref[1:]), prop, seen)
        found = []
        schema = (branch.get("properties") or {}).get(prop)
        if isinstance(schema, dict) and "$ref" in schema:
            schema = self.schemas._resolve(schema["$ref"][1:]) if str(schema["$ref"]).startswith("#") else None
        if isinstance(schema, dict):
            if isinstance(schema.get("const"), str):
                found.append(schema["const"])
            found.extend(v for v in schema.get("enum") or () if isinstance(v, str))
        for keyword in ("allOf", "oneOf", "anyOf"):   # a branch that is itself a choice allows each of its values
            for part in branch.get(keyword) or ():
                found.extend(self.discriminator_values(part, prop, set(seen)))
        return found


ANNOTATIONS = frozenset({"nullable", "description", "title", "example", "examples", "deprecated"})


def _bare_nullable(part: Any) -> bool:
    return isinstance(part, dict) and part.get("nullable") is True and ANNOTATIONS.issuperset(part)


# --- reading translated schemas (for the mock server and the command line) -------


def _unwrap(schema: Any, resolve) -> Any:
    for _ in range(20):
        if isinstance(schema, dict) and set(schema) == {"$ref"}:
            schema = resolve(schema["$ref"])
        elif isinstance(schema, dict) and isinstance(schema.get("anyOf"), list) and {"type": "null"} in schema["anyOf"] \
                and len(schema["anyOf"]) == 2:
            schema = next(b for b in schema["anyOf"] if b != {"type": "null"})
        else:
            break
    return schema


def schema_kind(schema: Any, resolve) -> tuple[str | None, Any]:
    """(JSON type, items schema) of a translated schema, through $ref and a nullable wrapper."""
    schema = _unwrap(schema, resolve)
    if not isinstance(schema, dict):
        return None, None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((t for t in kind if t != "null"), None)
    if kind is None:
        for keyword in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(keyword) or ():
                found = schema_kind(branch, resolve)
                if found[0]:
                    return found
    return kind, schema.get("items")


def schema_properties(schema: Any, resolve) -> dict:
    schema = _unwrap(schema, resolve)
    if not isinstance(schema, dict):
        return {}
    found = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or ():
        found.update(schema_properties(part, resolve))
    return found


def from_text(text: Any, kind: str | None) -> Any:
    """A value from its text form on the wire (query, form field, CLI), typed by a schema kind."""
    if not isinstance(text, str):
        return text
    if kind == "integer" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number":
        try:
            return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind in ("object", "array"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def iter_schema_pointers(spec) -> Iterator[tuple[str, str]]:
    """(pointer, direction) of every request body, parameter and response schema of a spec."""
    for op in spec:
        for p in op.parameters:
            if p.schema is not None:
                yield p.pointer, "request"
        if op.request_body:
            for media in op.request_body.content.values():
                if media.schema is not None:
                    yield media.pointer, "request"
        for response in op.responses.values():
            for media in response.content.values():
                if media.schema is not None:
                    yield media.pointer, "response"
