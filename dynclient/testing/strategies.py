"""Hypothesis strategies for the operations of any OpenAPI 3.x document.

    from dynclient.testing import strategies as ds

    @given(body=ds.request_body(client, "createAssistant"), params=ds.parameters(client, "listAssistants"))
    def test_something(body, params): ...

Strategies are built from the schemas as ``dynclient.schema`` translates them
(JSON Schema 2020-12, one resource per ``$ref`` target, ``urn:dynclient:``
URIs), so both dialects come out the same: 3.0 ``nullable``, boolean
``exclusiveMinimum``, ``readOnly``/``writeOnly`` and discriminators are
already expressed in plain 2020-12 by the time a strategy is made.

``from_schema(schemas, pointer, direction)``
    valid instances of one schema of the document.
``request_body(spec_or_client, operation_id, content_type=None)``
    valid request bodies (multipart: ``format: binary`` fields as ``bytes``).
``parameters(spec_or_client, operation_id, required_only=False)``
    valid keyword arguments, by the parameters' real names.
``invalid_request_body(spec_or_client, operation_id, content_type=None)``
    a valid body with one mutation that makes it invalid: a wrong type at some
    path, a required property removed, an enum value replaced, an extra
    property where ``additionalProperties`` is false.
``response_body(spec_or_client, operation_id, status="200", content_type=None)``
    valid response bodies, as ``Result.body`` holds them after decoding:
    JSON values, ``bytes`` for binary media, a list of ``codecs.Event`` for
    ``text/event-stream``. ``encode_response_body`` turns one into the bytes a
    server sends.

``spec_or_client`` is a ``Client``, a ``Spec``, a ``SchemaSet``, or anything
``Spec()`` accepts (a path).

How values are made
-------------------
Each schema node becomes a strategy: ``type`` (lists too), ``enum``/``const``
(values the node rejects are dropped when the strategy is built),
objects (required properties always, optional ones a few at a time,
``additionalProperties`` false/true/schema, ``propertyNames``,
``patternProperties``, min/maxProperties), arrays (``items``,
``prefixItems``, min/maxItems, ``uniqueItems``), strings (length,
``pattern`` through ``st.from_regex(pattern, fullmatch=True)``, formats
date-time, date, time, uri, email, uuid, ipv4/6, byte, binary), numbers and
integers (bounds, exclusive bounds, ``multipleOf``), booleans, null, and
boolean schemas. ``allOf`` is merged into one schema (properties and
``required`` united, types intersected, bounds tightened) and the result is
filtered by the whole ``allOf``; ``anyOf``/``oneOf`` pick a branch — through
the ``x-dynclient-discriminator`` annotation when there is one, which also
sets the discriminating property — and are filtered by the whole node
wherever the branch alone does not decide (``oneOf``, siblings, a
discriminator); ``not`` filters. Sizes are kept small: at most 3 array items,
strings of at most 8 characters unless the schema asks for more, a few
optional properties, fewer the deeper they are.

``$ref`` targets are built lazily (``st.deferred``), one strategy per target
and depth. Past ``SOFT_DEPTH`` (4) references deep a strategy turns
*minimal*: no optional properties, arrays of ``minItems`` items, and of
``anyOf``/``oneOf`` only the branches whose smallest instance is smallest
(an estimate computed over the schema graph, infinite for branches that
cannot stop recursing), so every recursive schema of a document terminates.
Branches are also tried cheapest first, so Hypothesis shrinks towards small
instances.

Every strategy ends in the real validator (``SchemaSet.compiled(pointer,
direction).is_valid``, with file values standing as ``format: binary``
strings as the client validates them), so nothing invalid escapes;
``filter_statistics()`` counts how many values each kind of filter checked
and rejected.

Why not hypothesis-jsonschema
-----------------------------
hypothesis-jsonschema (not a dependency here) documents support for drafts
04, 05/06 and 07, and resolves only *non-recursive* references: it inlines
every ``$ref`` before generating and raises on recursive ones. The translated
schemas are 2020-12 (``prefixItems``, numeric ``exclusiveMinimum`` meaning
2020-12 things, ``$ref`` with siblings), are split into many resources
linked by ``urn:dynclient:`` URIs that only our ``referencing`` registry
knows, and OpenAI's documents are recursive (response items, JSON-schema
values, nested filters). Its ``oneOf`` handling also cannot know the
discriminator annotation, which is what keeps OpenAI's large event and item
unions cheap, and its canonicalisation of schemas the size of
``CreateResponse`` is slow. So it would need a pre-pass that inlines
references (impossible for the recursive ones) and rewrites 2020-12 into
draft 7, and would still generate unions blindly; a small generator over the
schemas we already translate is less code and faster, and the final filter
through our own validator keeps it honest.
"""

from __future__ import annotations

import base64
import json
import math
import string
import weakref
from collections import Counter
from typing import Any, Callable

import referencing
import referencing.jsonschema
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from .. import codecs
from ..params import text
from ..schema import DISCRIMINATOR, URN, SchemaSet, Validator, uri
from ..spec import Operation, Spec
from ..vocabulary import ecma_regex

__all__ = ["from_schema", "request_body", "parameters", "invalid_request_body", "response_body",
           "encode_response_body", "filter_statistics", "reset_filter_statistics", "SOFT_DEPTH"]

SOFT_DEPTH = 4          # references deep before strategies turn minimal
HARD_DEPTH = 24         # merged (allOf/sibling) schemas deeper than this generate nothing
MAX_ITEMS = 3
MAX_TEXT = 8
INF = math.inf

# Keywords that constrain an instance; everything else (description, x-*, examples, ...)
# is ignored when building, as the validator ignores it.
OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties", "patternProperties", "minProperties",
                         "maxProperties", "propertyNames", "dependentRequired", "dependentSchemas",
                         "unevaluatedProperties"})
ARRAY_KEYS = frozenset({"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "minContains",
                        "maxContains", "unevaluatedItems"})
STRING_KEYS = frozenset({"minLength", "maxLength", "pattern"})
NUMBER_KEYS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
COMBINATORS = frozenset({"$ref", "allOf", "anyOf", "oneOf", "not", "enum", "const", "type", "if", "then", "else",
                         "$dynamicRef"})
CONSTRAINTS = OBJECT_KEYS | ARRAY_KEYS | STRING_KEYS | NUMBER_KEYS | COMBINATORS | {"format", DISCRIMINATOR}
# Keywords the typed builders do not guarantee by construction: a node with any of them is filtered.
FILTERED = frozenset({"if", "then", "else", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
                      "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems", "multipleOf",
                      "minProperties", "maxProperties", "propertyNames", "patternProperties", "$dynamicRef"})
DATA_KEYS = frozenset({"enum", "const", "default", "example", "examples"})
ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")

NAME_ALPHABET = string.ascii_letters + string.digits + "_-"
HEADER_ALPHABET = string.ascii_letters + string.digits + "-_.~+/=:@"


# --- filter statistics -----------------------------------------------------------

_CHECKED: Counter = Counter()
_REJECTED: Counter = Counter()


def filter_statistics() -> dict[str, dict[str, float]]:
    """For each kind of filter (final, union, allOf, not, enum-free nodes, ...): values checked,
    values rejected and the rejection rate, since the last reset."""
    return {site: {"checked": _CHECKED[site], "rejected": _REJECTED[site],
                   "rate": _REJECTED[site] / _CHECKED[site] if _CHECKED[site] else 0.0}
            for site in sorted(_CHECKED)}


def reset_filter_statistics() -> None:
    _CHECKED.clear()
    _REJECTED.clear()


def _counted(site: str, check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def counted(value: Any) -> bool:
        _CHECKED[site] += 1
        ok = check(value)
        if not ok:
            _REJECTED[site] += 1
        return ok
    return counted


# --- small helpers ------------------------------------------------------------------

def _canonical(value: Any) -> str:
    """A key under which JSON-equal values (1 and 1.0 too) are equal, for uniqueItems."""
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v) if v == v else v
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return repr(v)
    return json.dumps(norm(value), sort_keys=True, default=repr)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "file"


def _types(node: dict) -> list[str]:
    """The types a node asks for, or infers from its keywords; all types when it says nothing."""
    declared = node.get("type")
    if declared is not None:
        return list(declared) if isinstance(declared, list) else [declared]
    inferred = []
    keys = set(node)
    if keys & NUMBER_KEYS:
        inferred.append("number")
    if keys & STRING_KEYS or "format" in node:
        inferred.append("string")
    if keys & ARRAY_KEYS:
        inferred.append("array")
    if keys & OBJECT_KEYS:
        inferred.append("object")
    return inferred or list(ALL_TYPES)


def _constraints(node: dict) -> dict:
    return {k: v for k, v in node.items() if k in CONSTRAINTS}


def _set_property(name: str, value: Any) -> Callable[[Any], Any]:
    def setter(instance: Any) -> Any:
        if isinstance(instance, dict):
            return {**instance, name: value}
        return instance
    return setter


def _format_strategies() -> dict[str, SearchStrategy[str]]:
    import datetime
    utc = datetime.timezone.utc
    word = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=6)
    return {
        "date-time": st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1),
                                  timezones=st.just(utc)).map(
            lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z")),
        "date": st.dates(min_value=datetime.date(1970, 1, 1), max_value=datetime.date(2100, 1, 1)).map(
            lambda d: d.isoformat()),
        "time": st.times().map(lambda t: t.replace(microsecond=0).isoformat() + "Z"),
        "uri": st.builds("https://{}.example.com/{}".format, word, word),
        "url": st.builds("https://{}.example.com/{}".format, word, word),
        "uri-reference": st.builds("/{}/{}".format, word, word),
        "email": st.builds("{}@{}.example.com".format, word, word),
        "uuid": st.uuids().map(str),
        "ipv4": st.ip_addresses(v=4).map(str),
        "ipv6": st.ip_addresses(v=6).map(str),
        "hostname": st.builds("{}.example.com".format, word),
        "byte": st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode()),
    }


_FORMATS: dict[str, SearchStrategy[str]] | None = None


def _formats() -> dict[str, SearchStrategy[str]]:
    global _FORMATS
    if _FORMATS is None:
        _FORMATS = _format_strategies()
    return _FORMATS


# --- the generator --------------------------------------------------------------------


class _Generator:
    """Strategies for the schemas of one SchemaSet, in one direction and one mode.

    Shared by every strategy made for that SchemaSet (see ``_generator``), so
    the strategy of a component schema is built once and reused by every
    operation that reaches it.
    """

    def __init__(self, schemas: SchemaSet, direction: str, binary: bool, alphabet: str | None,
                 min_text: int = 0):
        self.schemas = schemas
        self.direction = direction
        self.binary = binary                 # format: binary strings as bytes (multipart bodies)
        self.alphabet = alphabet             # None: any Unicode; else the characters strings may use
        self.resources: dict[str, Any] = {}  # uri -> translated schema
        self.registry = referencing.Registry()
        self.refs: dict[tuple[str, int], SearchStrategy] = {}
        self.costs: dict[str, float] = {}
        self.validators: dict[int, tuple[Any, Any]] = {}
        self.chars = st.characters(codec="utf-8") if alphabet is None else st.sampled_from(alphabet)
        self.min_text = min_text             # shortest free string (1 for path parameters)

    # -- resources and validators --

    def add_root(self, pointer: str) -> str:
        """Translate the schema at `pointer` and everything it reaches; its URI."""
        root_uri = uri(self.direction, pointer)
        if root_uri in self.resources:
            return root_uri
        _, resolve = self.schemas.translated(pointer, self.direction)
        new: list[tuple[str, Any]] = []
        pending = [root_uri]
        while pending:
            target = pending.pop()
            if target in self.resources:
                continue
            contents = resolve(target)
            self.resources[target] = contents
            new.append((target, referencing.jsonschema.DRAFT202012.create_resource(contents)))
            pending.extend(r for r in _refs_in(contents) if r not in self.resources)
        self.registry = self.registry.with_resources(new)
        return root_uri

    def validator(self, node: Any) -> Any:
        """A compiled validator of one (translated) subschema."""
        key = id(node)
        found = self.validators.get(key)
        if found is None or found[0] is not node:
            found = self.validators[key] = (node, Validator(node, registry=self.registry))
        return found[1]

    def check(self, node: Any) -> Callable[[Any], bool]:
        validator = self.validator(node)
        if self.binary:
            return lambda value: validator.is_valid(codecs.for_validation(value))
        return validator.is_valid

    def valid(self, node: Any, value: Any) -> bool:
        return self.check(node)(value)

    # -- the size of the smallest instance, for choosing branches --

    def cost(self, node: Any) -> float:
        return self._cost(node, frozenset())[0]

    def _cost(self, node: Any, stack: frozenset) -> tuple[float, bool]:
        if node is True:
            return 1, False
        if not isinstance(node, dict):
            return INF, False
        cyclic = False
        total = 1.0
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                return INF, True
            if ref in self.costs:
                total += self.costs[ref]
            elif ref in self.resources:
                c, cy = self._cost(self.resources[ref], stack | {ref})
                if not cy:
                    self.costs[ref] = c
                cyclic |= cy
                total += c
        if "enum" in node or "const" in node:
            return total, cyclic
        for part in node.get("allOf") or ():
            c, cy = self._cost(part, stack)
            total, cyclic = total + c, cyclic or cy
        for keyword in ("anyOf", "oneOf"):
            if node.get(keyword):
                found = [self._cost(b, stack) for b in node[keyword]]
                total += min(c for c, _ in found)
                cyclic |= any(cy for _, cy in found)
        types = _types(node)
        if "null" in types or "boolean" in types or "string" in types or "number" in types \
                or "integer" in types:
            return total, cyclic
        if "object" in types:
            properties = node.get("properties") or {}
            for name in node.get("required") or ():
                c, cy = self._cost(properties.get(name, True), stack)
                total, cyclic = total + c, cyclic or cy
        if "array" in types and node.get("minItems"):
            c, cy = self._cost(node.get("items", True), stack)
            total, cyclic = total + node["minItems"] * c, cyclic or cy
        return total, cyclic

    # -- building --

    def root(self, pointer: str) -> SearchStrategy:
        return self.ref(self.add_root(pointer), 0)

    def ref(self, target: str, depth: int) -> SearchStrategy:
        bucket = min(depth, SOFT_DEPTH + 1)
        key = (target, bucket)
        found = self.refs.get(key)
        if found is None:
            if target not in self.resources:
                raise ValueError(f"unknown schema reference {target!r}")
            found = self.refs[key] = st.deferred(lambda: self.build(self.resources[target], bucket))
        return found

    def build(self, node: Any, depth: int) -> SearchStrategy:
        if node is True:
            return self.anything(depth)
        if node is False or not isinstance(node, dict):
            return st.nothing()
        node_c = _constraints(node)
        if not node_c:
            return self.anything(depth)
        if "$ref" in node_c:
            rest = {k: v for k, v in node_c.items() if k != "$ref"}
            if not rest:
                return self.ref(node_c["$ref"], depth + 1)
            return self.merged(node, [{"$ref": node_c["$ref"]}, rest], depth)
        if "allOf" in node_c:
            rest = {k: v for k, v in node_c.items() if k != "allOf"}
            return self.merged(node, [*node_c["allOf"], rest], depth)
        for keyword in ("oneOf", "anyOf"):
            if keyword in node_c:
                return self.union(node, node_c, keyword, depth)
        if "not" in node_c:
            rest = {k: v for k, v in node_c.items() if k != "not"}
            negated = self.check(node_c["not"])
            return self.build(rest, depth).filter(_counted("not", lambda v: not negated(v)))
        if "const" in node_c:
            return st.just(node_c["const"]) if self.valid(node, node_c["const"]) else st.nothing()
        if "enum" in node_c:
            check = self.check(node)
            values = [v for v in node_c["enum"] if check(v)]
            return st.sampled_from(values) if values else st.nothing()
        types = [t for t in _types(node_c) if t in ALL_TYPES]
        if depth > SOFT_DEPTH and "null" in types:
            types = ["null"]
        strategy = st.one_of([self.typed(t, node_c, depth) for t in types])
        if FILTERED & set(node_c) or ("pattern" in node_c and ({"minLength", "maxLength"} & set(node_c))) \
                or ("format" in node_c and STRING_KEYS & set(node_c)) or "prefixItems" in node_c:
            strategy = strategy.filter(_counted("node", self.check(node)))
        return strategy

    def anything(self, depth: int) -> SearchStrategy:
        """Small JSON values, for schemas that accept anything."""
        scalars = st.one_of(st.none(), st.booleans(), st.integers(-100, 100),
                            st.text(self.chars, max_size=5))
        if depth > SOFT_DEPTH:
            return scalars
        names = st.text(NAME_ALPHABET, min_size=1, max_size=6)
        return st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(names, scalars, max_size=2))

    def merged(self, original: dict, parts: list, depth: int) -> SearchStrategy:
        """allOf, and $ref with siblings: one merged schema, filtered by the original."""
        if depth > HARD_DEPTH:
            return st.nothing()
        merged = self.merge(parts)
        if merged is None:
            return st.nothing()
        check = _counted("allOf", self.check(original))
        return st.deferred(lambda: self.build(merged, depth + 1)).filter(check)

    def union(self, node: dict, node_c: dict, keyword: str, depth: int) -> SearchStrategy:
        branches = node_c[keyword]
        base = {k: v for k, v in node_c.items() if k not in (keyword, DISCRIMINATOR)}
        if base and depth > HARD_DEPTH:
            return st.nothing()

        def branch(i: int) -> SearchStrategy:
            if not base:
                return self.build(branches[i], depth)
            merged = self.merge([base, branches[i]])
            if merged is None:
                return st.nothing()
            return st.deferred(lambda: self.build(merged, depth + 1))

        costs = [self.cost(b) for b in branches]
        order = sorted(range(len(branches)), key=lambda i: costs[i])
        if depth > SOFT_DEPTH:
            least = min(costs)
            order = [i for i in order if costs[i] == least]
        rule = node_c.get(DISCRIMINATOR)
        if isinstance(rule, dict) and rule.get("keyword", keyword) != keyword:
            rule = None
        options: list[SearchStrategy] = []
        if rule:
            # value -> the branches it may select ("all"; older annotations have only "map")
            candidates = rule.get("all") or {value: [index] for value, index in rule["map"].items()}
            mapped = {i for indices in candidates.values() for i in indices}
            for i in order:
                made = branch(i)
                allowed = self.allowed_values(branches[i], rule["property"], frozenset())
                for value, indices in candidates.items():
                    # A value the branch itself refuses (an implicit schema-name mapping onto a
                    # branch that lists its own values) can only make invalid instances: skip it.
                    if i in indices and (allowed is None or value in allowed):
                        options.append(made.map(_set_property(rule["property"], value)))
                if i not in mapped:
                    options.append(made)
        else:
            options = [branch(i) for i in order]
        strategy = st.one_of(options)
        if keyword == "oneOf" or rule or base:
            strategy = strategy.filter(_counted(keyword, self.check(node)))
        return strategy

    def allowed_values(self, node: Any, prop: str, seen: frozenset) -> list | None:
        """The values of property `prop` that instances of `node` may have, when the schema lists
        them (enum/const, through $ref, allOf, anyOf/oneOf); None when any value may do."""
        if not isinstance(node, dict):
            return None
        ref = node.get("$ref")
        found: list | None = None
        if isinstance(ref, str) and ref in self.resources and ref not in seen:
            found = self.allowed_values(self.resources[ref], prop, seen | {ref})
        schema = (node.get("properties") or {}).get(prop)
        if schema is not None:
            found = _intersect(found, self.value_set(schema, seen))
        for part in node.get("allOf") or ():
            found = _intersect(found, self.allowed_values(part, prop, seen))
        for keyword in ("anyOf", "oneOf"):
            if node.get(keyword):
                options = [self.allowed_values(b, prop, seen) for b in node[keyword]]
                if all(o is not None for o in options):
                    found = _intersect(found, [v for o in options for v in o])
        return found

    def value_set(self, node: Any, seen: frozenset) -> list | None:
        """The values a schema allows, when it lists them; None when it does not."""
        if not isinstance(node, dict):
            return None
        found: list | None = None
        if "const" in node:
            found = [node["const"]]
        if isinstance(node.get("enum"), list):
            found = _intersect(found, list(node["enum"]))
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in self.resources and ref not in seen:
            found = _intersect(found, self.value_set(self.resources[ref], seen | {ref}))
        for part in node.get("allOf") or ():
            found = _intersect(found, self.value_set(part, seen))
        for keyword in ("anyOf", "oneOf"):
            if node.get(keyword):
                options = [self.value_set(b, seen) for b in node[keyword]]
                if all(o is not None for o in options):
                    found = _intersect(found, [v for o in options for v in o])
        if found is None and node.get("type") == "null":
            found = [None]
        return found

    def merge(self, parts: list) -> dict | None:
        """One schema for the conjunction of `parts` ($ref resolved, nested allOf flattened);
        None when their types cannot meet. Conflicting keywords keep the first; the caller filters."""
        flat: list[dict] = []

        def add(part: Any, seen: frozenset) -> bool:
            if part is True:
                return True
            if part is False or not isinstance(part, dict):
                return False
            part = _constraints(part)
            ref = part.pop("$ref", None)
            if isinstance(ref, str):
                if ref in seen or ref not in self.resources:
                    return ref in seen
                if not add(self.resources[ref], seen | {ref}):
                    return False
            for sub in part.pop("allOf", None) or ():
                if not add(sub, seen):
                    return False
            flat.append(part)
            return True

        for part in parts:
            if not add(part, frozenset()):
                return None
        out: dict = {}
        for part in flat:
            union_keys = [k for k in ("anyOf", "oneOf") if k in part]
            for key, value in part.items():
                if key in ("anyOf", "oneOf", DISCRIMINATOR):
                    continue
                if key not in out:
                    out[key] = value
                elif key == "properties":
                    props = dict(out[key])
                    for name, schema in value.items():
                        props[name] = schema if name not in props else {"allOf": [props[name], schema]}
                    out[key] = props
                elif key == "required":
                    out[key] = list(dict.fromkeys([*out[key], *value]))
                elif key == "type":
                    mine = out[key] if isinstance(out[key], list) else [out[key]]
                    theirs = value if isinstance(value, list) else [value]
                    both = [t for t in mine if t in theirs or (t == "integer" and "number" in theirs)]
                    both += [t for t in theirs if t == "integer" and "number" in mine and t not in both]
                    if not both:
                        return None
                    out[key] = both
                elif key == "enum":
                    out[key] = [v for v in out[key] if any(_canonical(v) == _canonical(w) for w in value)]
                elif key in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum"):
                    out[key] = max(out[key], value)
                elif key in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum"):
                    out[key] = min(out[key], value)
                elif key == "additionalProperties" and value is False:
                    out[key] = False
            if union_keys and not any(k in out for k in ("anyOf", "oneOf")):
                out[union_keys[0]] = part[union_keys[0]]
                if DISCRIMINATOR in part:
                    out[DISCRIMINATOR] = part[DISCRIMINATOR]
        return out

    # -- one type --

    def typed(self, kind: str, node: dict, depth: int) -> SearchStrategy:
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return self.integer(node)
        if kind == "number":
            return self.number(node)
        if kind == "string":
            return self.string(node)
        if kind == "array":
            return self.array(node, depth)
        if kind == "object":
            return self.object(node, depth)
        return st.nothing()

    @staticmethod
    def bounds(node: dict) -> tuple[Any, bool, Any, bool]:
        low, low_excl, high, high_excl = node.get("minimum"), False, node.get("maximum"), False
        ex = node.get("exclusiveMinimum")
        if isinstance(ex, (int, float)) and not isinstance(ex, bool) and (low is None or ex >= low):
            low, low_excl = ex, True
        ex = node.get("exclusiveMaximum")
        if isinstance(ex, (int, float)) and not isinstance(ex, bool) and (high is None or ex <= high):
            high, high_excl = ex, True
        return low, low_excl, high, high_excl

    def integer(self, node: dict) -> SearchStrategy:
        low, low_excl, high, high_excl = self.bounds(node)
        lo = None if low is None else (math.floor(low) + 1 if low_excl and low == math.floor(low)
                                       else math.ceil(low))
        hi = None if high is None else (math.ceil(high) - 1 if high_excl and high == math.ceil(high)
                                        else math.floor(high))
        lo = -(2 ** 53) if lo is None else lo
        hi = 2 ** 53 if hi is None else hi
        if lo > hi:
            return st.nothing()
        step = node.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0 and float(step).is_integer():
            step = int(step)
            first, last = -(-lo // step), hi // step
            return st.integers(first, last).map(lambda k: k * step) if first <= last else st.nothing()
        return st.integers(lo, hi)

    def number(self, node: dict) -> SearchStrategy:
        low, low_excl, high, high_excl = self.bounds(node)
        step = node.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            lo = -10 ** 6 if low is None else math.ceil(low / step)
            hi = 10 ** 6 if high is None else math.floor(high / step)
            if lo > hi:
                return st.nothing()
            return st.integers(lo, hi).map(lambda k: k * step)
        ints = self.integer(node)
        try:
            floats = st.floats(min_value=None if low is None else float(low),
                               max_value=None if high is None else float(high),
                               exclude_min=low_excl and low is not None, exclude_max=high_excl and high is not None,
                               allow_nan=False, allow_infinity=False)
        except InvalidArgument:
            floats = st.nothing()
        return st.one_of(ints, floats)

    def string(self, node: dict) -> SearchStrategy:
        low = max(node.get("minLength", 0), self.min_text)
        high = node.get("maxLength")
        if high is not None and high < low:
            low = node.get("minLength", 0)
        fmt = node.get("format")
        if fmt == "binary" and self.binary:
            return st.binary(max_size=16)
        if "pattern" in node:
            kwargs = {} if self.alphabet is None else {"alphabet": self.chars}
            return st.from_regex(ecma_regex(node["pattern"]), fullmatch=True, **kwargs)
        if fmt in _formats() and (self.alphabet is None or fmt not in ("uuid",)):
            return _formats()[fmt]
        top = low + MAX_TEXT if high is None else min(high, low + MAX_TEXT)
        return st.text(self.chars, min_size=low, max_size=top) if top >= low else st.nothing()

    def array(self, node: dict, depth: int) -> SearchStrategy:
        low = node.get("minItems", 0)
        high = node.get("maxItems")
        cap = low if depth > SOFT_DEPTH else max(low, MAX_ITEMS - (1 if depth >= 2 else 0))
        top = cap if high is None else min(high, cap)
        if top < low:
            return st.nothing()
        items = node.get("items", True)
        prefix = node.get("prefixItems") or []
        unique = _canonical if node.get("uniqueItems") else None
        if prefix:
            head = st.tuples(*[self.build(p, depth) for p in prefix[:top]]).map(list)
            if items is False or len(prefix) >= top:
                return head
            tail = st.lists(self.build(items, depth), max_size=top - len(prefix))
            return st.tuples(head, tail).map(lambda t: t[0] + t[1])
        return st.lists(self.build(items, depth), min_size=low, max_size=top, unique_by=unique)

    def object(self, node: dict, depth: int) -> SearchStrategy:
        properties = node.get("properties") or {}
        required = list(dict.fromkeys(node.get("required") or ()))
        additional = node.get("additionalProperties")
        patterns = node.get("patternProperties") or {}
        minimal = depth > SOFT_DEPTH
        hidden = "readOnly" if self.direction == "request" else "writeOnly"

        def value_for(name: str) -> SearchStrategy:
            if name in properties:
                return self.build(properties[name], depth)
            for pattern, schema in patterns.items():
                if ecma_regex(pattern).search(name):
                    return self.build(schema, depth)
            return self.build(True if additional is None else additional, depth)

        fixed = {name: value_for(name) for name in required}
        optional = {name: self.build(schema, depth) for name, schema in properties.items()
                    if name not in fixed and not (isinstance(schema, dict) and schema.get(hidden) is True)}
        keys = list(optional)
        most = 0 if minimal else min(len(keys), (6, 4, 3, 2, 2)[min(depth, 4)])
        min_props = node.get("minProperties", 0)
        free_form = additional is True or additional == {} or (additional is None and not properties
                                                               and not patterns)
        extra_room = (isinstance(additional, dict) and additional != {}) or free_form or bool(patterns)
        max_extra = 0
        if extra_room:
            max_extra = min(2, max(0, node.get("maxProperties", 2) - len(fixed)))
            if minimal:
                max_extra = 0
            max_extra = max(max_extra, min_props - len(fixed) - len(keys))
        if not keys and not max_extra:
            return st.fixed_dictionaries(fixed)

        name_schema = node.get("propertyNames")
        names = (self.build(name_schema, depth) if isinstance(name_schema, dict)
                 else st.text(NAME_ALPHABET, min_size=1, max_size=8))
        taken = set(properties)
        if patterns:
            pattern_names = st.one_of([st.from_regex(ecma_regex(p)) for p in patterns])
            names = st.one_of(names, pattern_names) if extra_room and (additional is not False) else pattern_names
        names = names.filter(lambda n: isinstance(n, str) and n not in taken)
        extra_values = (lambda name: value_for(name))

        @st.composite
        def draw_object(draw: Callable) -> dict:
            chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=most)) if keys and most else []
            out = {name: draw(strategy) for name, strategy in fixed.items()}
            for name in chosen:
                out[name] = draw(optional[name])
            if max_extra:
                wanted = max(0, min_props - len(out))
                for name in draw(st.lists(names, unique=True, min_size=min(wanted, max_extra),
                                          max_size=max_extra)):
                    if name not in out:
                        out[name] = draw(extra_values(name))
            return out

        return draw_object()


def _intersect(a: list | None, b: list | None) -> list | None:
    if a is None:
        return b
    if b is None:
        return a
    return [v for v in a if v in b]


def _refs_in(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(URN):
                    found.append(value)
                elif key in ("properties", "patternProperties", "$defs", "dependentSchemas"):
                    if isinstance(value, dict):
                        stack.extend(value.values())
                elif key not in DATA_KEYS and isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


_GENERATORS: "weakref.WeakKeyDictionary[SchemaSet, dict]" = weakref.WeakKeyDictionary()
_SCHEMA_SETS: dict[Any, SchemaSet] = {}


def _generator(schemas: SchemaSet, direction: str, binary: bool = False, alphabet: str | None = None,
               min_text: int = 0) -> _Generator:
    per_set = _GENERATORS.setdefault(schemas, {})
    key = (direction, binary, alphabet, min_text)
    if key not in per_set:
        per_set[key] = _Generator(schemas, direction, binary, alphabet, min_text)
    return per_set[key]


def _schemas(source: Any) -> SchemaSet:
    if isinstance(source, SchemaSet):
        return source
    found = getattr(source, "schemas", None)
    if isinstance(found, SchemaSet):
        return found
    if isinstance(source, dict):
        return SchemaSet(Spec(source))
    key: Any = source if isinstance(source, Spec) else str(source)
    if key not in _SCHEMA_SETS:
        _SCHEMA_SETS[key] = SchemaSet(source if isinstance(source, Spec) else Spec(source))
    return _SCHEMA_SETS[key]


def _operation(schemas: SchemaSet, operation_id: str) -> Operation:
    try:
        return schemas.spec.operations[operation_id]
    except KeyError:
        raise ValueError(f"the document has no operation {operation_id!r}") from None


def _final(strategy: SearchStrategy, schemas: SchemaSet, pointer: str, direction: str,
           binary: bool) -> SearchStrategy:
    compiled = schemas.compiled(pointer, direction)
    check = (lambda v: compiled.is_valid(codecs.for_validation(v))) if binary else compiled.is_valid
    return strategy.filter(_counted("final", check))


# --- the public strategies ---------------------------------------------------------------


def from_schema(schemas: SchemaSet, pointer: str, direction: str = "request", *,
                binary_as_bytes: bool = False) -> SearchStrategy:
    """Valid instances of the schema at `pointer` (a JSON pointer into the document).

    `direction` is "request" or "response" (readOnly/writeOnly decide what is
    required). With `binary_as_bytes`, `format: binary` strings come as bytes,
    as a multipart body sends files; they are validated as the client does.
    """
    if direction not in ("request", "response"):
        raise ValueError(f"direction must be 'request' or 'response', not {direction!r}")
    generator = _generator(_schemas(schemas), direction, binary_as_bytes)
    return _final(generator.root(pointer), generator.schemas, pointer, direction, binary_as_bytes)


def _request_media(op: Operation, content_type: str | None):
    if op.request_body is None or not op.request_body.content:
        raise ValueError(f"{op.operation_id} takes no request body")
    content = op.request_body.content
    if content_type is None:
        return next(iter(content.values()))
    key = codecs.match_media(content, content_type)
    if key is None:
        raise ValueError(f"{op.operation_id} does not accept {content_type!r} (it accepts {', '.join(content)})")
    return content[key]


def _unref(root: Any, resolve: Callable[[str], Any]) -> Any:
    """A translated schema through plain `$ref` chains; a boolean schema as {} (True) or itself."""
    for _ in range(32):
        if not (isinstance(root, dict) and set(_constraints(root)) == {"$ref"}):
            break
        root = resolve(root["$ref"])
    return {} if root is True else root


def _is_binary_schema(schemas: SchemaSet, pointer: str, direction: str) -> bool:
    root = _unref(*schemas.translated(pointer, direction))
    return isinstance(root, dict) and root.get("type") == "string" and root.get("format") == "binary"


def _media_strategy(schemas: SchemaSet, media: Any, direction: str) -> SearchStrategy:
    essence = codecs.media_essence(media.content_type)
    if essence in codecs.JSON_RANGES and media.schema is not None \
            and not _is_binary_schema(schemas, media.pointer, direction):
        return from_schema(schemas, media.pointer, direction)   # `*/*` with a JSON-shaped schema: JSON
    if essence == "application/json" or essence.endswith("+json"):
        if media.schema is None:
            return _generator(schemas, direction).anything(0)
        return from_schema(schemas, media.pointer, direction)
    if essence == "multipart/form-data":
        if media.schema is None:
            return st.dictionaries(st.text(NAME_ALPHABET, min_size=1, max_size=6), st.binary(max_size=16), max_size=2)
        return from_schema(schemas, media.pointer, direction, binary_as_bytes=True)
    if essence == "application/x-www-form-urlencoded":
        if media.schema is None:
            return st.dictionaries(st.text(NAME_ALPHABET, min_size=1, max_size=6), st.text(max_size=6), max_size=2)
        return from_schema(schemas, media.pointer, direction)
    if media.schema is not None and not _is_binary_schema(schemas, media.pointer, direction) \
            and essence.startswith("text/"):
        return from_schema(schemas, media.pointer, direction).filter(lambda v: isinstance(v, str) and v != "")
    if essence.startswith("text/"):
        return st.text(min_size=1, max_size=MAX_TEXT)
    return st.binary(min_size=1, max_size=32)


def request_body(spec_or_client: Any, operation_id: str, content_type: str | None = None) -> SearchStrategy:
    """Valid request bodies of an operation, for its first media type or `content_type`.

    JSON bodies are JSON values; multipart bodies are dicts whose `format:
    binary` fields are bytes; binary media are bytes; text media are str.
    """
    schemas = _schemas(spec_or_client)
    op = _operation(schemas, operation_id)
    return _media_strategy(schemas, _request_media(op, content_type), "request")


def parameters(spec_or_client: Any, operation_id: str, required_only: bool = False) -> SearchStrategy:
    """Valid parameters of an operation as a dict by their real names (`params=` of a call).

    Required parameters are always there, optional ones sometimes (never
    with `required_only`). Path values are never "", "." or "..", which no
    URL can carry as a segment (the client refuses them); header and cookie
    values use printable ASCII without spaces, which survives HTTP unchanged.
    """
    schemas = _schemas(spec_or_client)
    op = _operation(schemas, operation_id)
    fixed: dict[str, SearchStrategy] = {}
    optional: dict[str, SearchStrategy] = {}
    for p in op.parameters:
        alphabet = HEADER_ALPHABET if p.location in ("header", "cookie") else None
        if p.schema is None:
            strategy: SearchStrategy = st.text(st.sampled_from(alphabet) if alphabet else st.characters(codec="utf-8"),
                                               min_size=1, max_size=MAX_TEXT)
        else:
            generator = _generator(schemas, "request", False, alphabet, 1 if p.location == "path" else 0)
            strategy = _final(generator.root(p.pointer), schemas, p.pointer, "request", False)
        if p.location == "path":
            strategy = strategy.filter(_counted("path", lambda v: text(v) not in ("", ".", "..")))
        (fixed if p.required else optional)[p.name] = strategy
    return st.fixed_dictionaries(fixed, optional=None if required_only else optional)


def response_body(spec_or_client: Any, operation_id: str, status: str | int = "200",
                  content_type: str | None = None) -> SearchStrategy:
    """Valid bodies of one response of an operation, as the client's Result.body holds them.

    JSON media: JSON values. `text/event-stream`: a list of 1 to 3
    `dynclient.codecs.Event` whose data are valid instances of the schema.
    Binary media: non-empty bytes. No content declared: None.
    """
    schemas = _schemas(spec_or_client)
    op = _operation(schemas, operation_id)
    response = op.responses.get(str(status))
    if response is None:
        raise ValueError(f"{operation_id} declares no response {status!r} (it declares {', '.join(op.responses)})")
    if not response.content:
        return st.none()
    if content_type is None:
        media = next(iter(response.content.values()))
    else:
        key = codecs.match_media(response.content, content_type)
        if key is None:
            raise ValueError(f"{operation_id} response {status} declares no {content_type!r} "
                             f"(it declares {', '.join(response.content)})")
        media = response.content[key]
    if codecs.media_essence(media.content_type) == "text/event-stream":
        data = (from_schema(schemas, media.pointer, "response") if media.schema is not None
                else _generator(schemas, "response").anything(0))
        return st.lists(data, min_size=1, max_size=3).map(lambda items: [codecs.Event(None, d) for d in items])
    return _media_strategy(schemas, media, "response")


def encode_response_body(value: Any, content_type: str) -> bytes:
    """The bytes a server sends for a value drawn from `response_body` with that content type."""
    essence = codecs.media_essence(content_type)
    if essence == "application/json" or essence.endswith("+json"):
        return json.dumps(value, ensure_ascii=False).encode()
    if value is None:
        return b""
    if essence == "text/event-stream":
        out = []
        for event in value:
            head = f"event: {event.event}\n" if event.event else ""
            out.append(f"{head}data: {json.dumps(event.data, ensure_ascii=False)}\n\n")
        return "".join(out).encode()
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


# --- invalid bodies ------------------------------------------------------------------------

_WRONG = {"null": "not null", "boolean": "not a boolean", "integer": "not an integer", "number": "not a number",
          "string": 12345, "array": {"not": "an array"}, "object": ["not", "an", "object"], "file": 12345}
_UNLISTED = "\u2603 not an allowed value"
_EXTRA = "x-dynclient-unexpected"
_MAX_NODES = 40


def _nodes(value: Any) -> list[tuple[tuple, Any]]:
    """(path, node) of the value's nodes, breadth first, at most _MAX_NODES."""
    out: list[tuple[tuple, Any]] = []
    queue = [((), value)]
    while queue and len(out) < _MAX_NODES:
        path, node = queue.pop(0)
        out.append((path, node))
        if isinstance(node, dict):
            queue.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            queue.extend(((*path, i), v) for i, v in enumerate(node))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    return _edit(value, path, lambda _: new)


def _edit(value: Any, path: tuple, edit: Callable[[Any], Any]) -> Any:
    if not path:
        return edit(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _edit(value[head], rest, edit)}
    copy = list(value)
    copy[head] = _edit(copy[head], rest, edit)
    return copy


def _mutations(body: Any) -> list[tuple[str, Any]]:
    """Every single mutation of the body this module knows: (kind, mutated body)."""
    out: list[tuple[str, Any]] = []
    for path, node in _nodes(body):
        out.append(("wrong type", _replace(body, path, _WRONG[_type_of(node)])))
        if isinstance(node, str):
            out.append(("value not in enum", _replace(body, path, _UNLISTED)))
        if isinstance(node, dict):
            for key in node:
                out.append(("required property removed",
                            _edit(body, path, lambda d, key=key: {k: v for k, v in d.items() if k != key})))
            if _EXTRA not in node:
                out.append(("extra property", _edit(body, path, lambda d: {**d, _EXTRA: True})))
    return out


def invalid_request_body(spec_or_client: Any, operation_id: str, content_type: str | None = None) -> SearchStrategy:
    """Request bodies that the operation must reject: a valid body with one mutation.

    The mutation is a wrong type at some path, a property removed, a string
    replaced by a value no enum lists, or an unexpected property added; only
    mutations the validator rejects are kept (drawn by kind, then by place),
    and an example where none is rejected is discarded. A body schema that
    accepts anything raises ValueError at once.
    """
    schemas = _schemas(spec_or_client)
    op = _operation(schemas, operation_id)
    media = _request_media(op, content_type)
    if media.schema is None or not _constraints(_unref(*schemas.translated(media.pointer, "request"))):
        raise ValueError(f"{operation_id}: the {media.content_type} body schema accepts anything, "
                         f"so no body is invalid")
    valid = _media_strategy(schemas, media, "request")
    compiled = schemas.compiled(media.pointer, "request")

    def rejected(value: Any) -> bool:
        return not compiled.is_valid(codecs.body_instance(media.content_type, value))

    @st.composite
    def mutated(draw: Callable) -> Any:
        body = draw(valid)
        found: dict[str, list] = {}
        for kind, candidate in _mutations(body):
            _CHECKED["invalid"] += 1
            if rejected(candidate):
                found.setdefault(kind, []).append(candidate)
            else:
                _REJECTED["invalid"] += 1
        if not found:
            from hypothesis import reject
            reject()
        kind = draw(st.sampled_from(sorted(found)))
        return draw(st.sampled_from(found[kind]))

    return mutated()
