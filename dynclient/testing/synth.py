"""Deterministic synthesis of schema-valid instances, for the mock server.

Works on the translated (JSON Schema 2020-12) form of any schema of the
document, so both OpenAPI dialects are covered by one walk. The result is the
smallest plausible instance: required properties and type tags only, first enum value,
defaults and examples where they fit, ids that look like ids, timestamps that
look like timestamps. Every result is checked by the real validator before it
is returned; one that cannot be made valid raises SynthesisError saying why,
never an invalid instance.
"""

from __future__ import annotations

import copy
import itertools
import re
import struct
import zlib
try:   # the regular expression parser (re._parser from 3.11, sre_parse before)
    from re import _constants as _sre_c, _parser as _sre
except ImportError:   # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]
import time
from typing import Any, Callable

from ..schema import DISCRIMINATOR, SchemaSet
from ..vocabulary import ecma_regex
from .reading import constant

MAX_DEPTH = 12
# How long one synthesis may spend checking that a value fits exactly one branch of a oneOf.
CHOICE_SECONDS = 2.0
# Tried, in this order, when no branch's own value fits that branch alone.
ONE_OF_FALLBACKS = ([], {}, "", 0, False, None)
TEXT_FIELDS = frozenset({"content", "text", "message"})


class SynthesisError(ValueError):
    pass


_counter = itertools.count(1)


def fresh_id(prefix: str = "obj") -> str:
    return f"{prefix}_{next(_counter):06d}{int(time.time() * 1000) % 10**8:08x}"


def synthesize(schemas: SchemaSet, pointer: str, direction: str = "response") -> Any:
    """A valid instance of the schema at `pointer`, or SynthesisError."""
    root, resolve = schemas.translated(pointer, direction)
    compiled = schemas.compiled(pointer, direction)
    value = Walker(resolve, schemas.node_validator).make(root, 0, "")
    problem = compiled.violation(value)
    if problem is not None:
        raise SynthesisError(f"cannot synthesize a valid instance of {pointer}: "
                             f"{problem.pointer or '/'}: {problem.message}")
    return value


class Walker:
    def __init__(self, resolve: Callable[[str], Any], validator_of: Callable[[Any], Any] | None = None):
        self.resolve = resolve
        self.validator_of = validator_of   # a translated node -> its validator (SchemaSet.node_validator)
        self.validators: dict[int, tuple[Any, Any]] = {}
        self.checks_until = time.monotonic() + CHOICE_SECONDS
        self.every_property = False   # the next object made takes all its properties (with_every_property)

    def make(self, schema: Any, depth: int, name: str) -> Any:
        if schema is True or schema == {}:
            return "string" if depth else {}
        if schema is False:
            raise SynthesisError("a `false` schema admits no value")
        if depth > MAX_DEPTH:
            raise SynthesisError("the schema recurses without a way out")
        if "$ref" in schema and len(schema) == 1:
            return self.make(self.resolve(schema["$ref"]), depth + 1, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None] or schema["enum"]
            return values[0]
        if "default" in schema and _fits(schema["default"], schema):
            return schema["default"]
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                return self.choose(schema, keyword, depth, name)
        if "allOf" in schema or ("$ref" in schema and len(schema) > 1):   # 3.1 allows $ref siblings
            return self.all_of(schema, depth, name)
        return self.typed(schema, _first_type(schema), depth, name)

    def parts(self, schema: Any, depth: int) -> list:
        """The conjuncts of a schema: `$ref`s followed, nested allOf flattened, a nullable wrapper opened."""
        if depth > MAX_DEPTH or not isinstance(schema, dict):
            return [schema]
        if "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.parts(self.resolve(schema["$ref"]), depth + 1) + (self.parts(rest, depth) if rest else [])
        if "allOf" in schema:
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            found = [p for part in schema["allOf"] for p in self.parts(part, depth + 1)]
            return found + ([rest] if set(rest) - {"description", "title", "type"} else [])
        branches = schema.get("anyOf")
        if branches and len(branches) == 2 and {"type": "null"} in branches:
            return self.parts(next(b for b in branches if b != {"type": "null"}), depth + 1)
        return [schema]

    def all_of(self, schema: dict, depth: int, name: str) -> Any:
        parts = [p for p in self.parts(schema, depth) if p not in (True, {})]
        if any(isinstance(p, dict) and ("properties" in p or p.get("type") == "object") for p in parts):
            properties: dict[str, list] = {}
            required: list[str] = []
            for p in parts:
                for key, sub in (p.get("properties") or {}).items():
                    properties.setdefault(key, []).append(sub)
                required.extend(p.get("required") or ())
            merged = {"type": "object", "required": required,
                      "properties": {k: v[0] if len(v) == 1 else {"allOf": v} for k, v in properties.items()}}
            return self.object(merged, depth + 1, name)
        best = max(parts, key=lambda p: (isinstance(p, dict) and "const" in p, isinstance(p, dict) and "enum" in p,
                                         isinstance(p, dict) and "type" in p), default={})
        return self.make(best, depth + 1, name)

    def choose(self, schema: dict, keyword: str, depth: int, name: str) -> Any:
        branches = schema[keyword]
        rest = {k: v for k, v in schema.items() if k not in (keyword, DISCRIMINATOR)}
        if {"properties", "required", "type", "allOf", "$ref"} & set(rest):
            # Object keywords beside the alternatives (`anyOf: [{required: [a]}, {required: [b]}]`):
            # each branch is taken together with them.
            branches = [{"allOf": [rest, branch]} for branch in branches]
        rule = schema.get(DISCRIMINATOR)
        if rule and rule["keyword"] == keyword:
            for value, index in sorted(rule["map"].items(), key=lambda item: item[1]):
                try:
                    made = self.make(branches[index], depth + 1, name)
                except SynthesisError:
                    continue
                if isinstance(made, dict):
                    return {**made, rule["property"]: value}
        # Prefer null where allowed (as the real API answers optional data), except for the text of a
        # message; then branches that do not lead deeper into recursion.
        null_first = name not in TEXT_FIELDS
        order = sorted(range(len(branches)),
                       key=lambda i: ((branches[i] == {"type": "null"}) != null_first, "$ref" in branches[i]))
        last: Exception | None = None
        made: list = []
        for i in order:
            try:
                value = self.make(branches[i], depth + 1, name)
            except SynthesisError as exc:
                last = exc
                continue
            if keyword == "anyOf" or self.admits(schema, value):
                return value
            made.append(value)
        if made:
            # No branch's own value is that branch's alone (an object with no required property fits
            # several forms): the simplest values of each JSON type; then each branch's value with
            # every property it declares (forms that differ in optional properties only); then the
            # first made value anyway (synthesize reports it if it does not validate).
            for value in ONE_OF_FALLBACKS:
                if self.admits(schema, value):
                    return copy.copy(value)   # the caller may fill it in
            for i in order:
                value = self.with_every_property(branches[i], depth + 1, name)
                if value is not None and self.admits(schema, value):
                    return value
            return made[0]
        raise last or SynthesisError(f"no branch of {keyword} can be synthesized")

    def with_every_property(self, schema: Any, depth: int, name: str) -> Any:
        """A value of `schema` whose first object has every property declared, not only the
        required ones; None when one of them cannot be made."""
        self.every_property = True
        try:
            return self.make(schema, depth, name)
        except SynthesisError:
            return None
        finally:
            self.every_property = False

    def admits(self, schema: dict, value: Any) -> bool:
        """Whether `value` is valid against a `oneOf` node as a whole (exactly one of its branches),
        by the reference validator; True, unchecked, once CHOICE_SECONDS of checking are spent or
        when the walker has no validator."""
        if self.validator_of is None or time.monotonic() > self.checks_until:
            return True
        key = id(schema)
        if key not in self.validators:
            self.validators[key] = (schema, self.validator_of(schema))   # the node is kept alive with it
        try:
            return self.validators[key][1].is_valid(value)
        except RecursionError:
            return False

    def typed(self, schema: dict, kind: str | None, depth: int, name: str) -> Any:
        if isinstance(schema.get("type"), list) and "null" in schema["type"] and name and name not in TEXT_FIELDS:
            return None
        example = schema.get("example", (schema.get("examples") or [None])[0] if isinstance(
            schema.get("examples"), list) else None)
        if kind in ("string", "integer", "number", "boolean") and example is not None and _fits(example, schema):
            return example
        if kind == "object" or (kind is None and "properties" in schema):
            return self.object(schema, depth, name)
        if kind == "array" or (kind is None and "items" in schema):
            return self.array(schema, depth, name)
        if kind == "string":
            return self.string(schema, name)
        if kind == "integer":
            if name.endswith(("_at", "created", "timestamp")) and "minimum" not in schema:
                return int(time.time())
            return int(self.number(schema))
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return "string"

    def object(self, schema: dict, depth: int, name: str) -> dict:
        properties = schema.get("properties") or {}
        wanted = list(dict.fromkeys(schema.get("required") or ()))
        if self.every_property:
            self.every_property = False   # this object only, not the ones inside it
            wanted += [prop for prop in properties if prop not in wanted]
        # An optional property that can hold one value only (`object: enum [upload]`) is the object's type
        # tag: an API sends it, and clients key on it.
        wanted += [p for p, sub in properties.items() if p not in wanted and constant(sub, self.resolve)]
        for extra in properties:
            if len(wanted) >= schema.get("minProperties", 0):
                break
            if extra not in wanted:
                wanted.append(extra)
        out = {}
        for prop in wanted:
            sub = properties.get(prop)
            if sub is None:
                sub = schema.get("additionalProperties", True)
                sub = {} if sub is True else sub
            prefix = _example_id_prefix(schema) if prop == "id" else None
            out[prop] = fresh_id(prefix) if prefix and _first_type(sub) == "string" and "enum" not in sub \
                else self.make(sub, depth + 1, prop)
        return out

    def array(self, schema: dict, depth: int, name: str) -> list:
        # One item near the top makes a plausible answer (a chat completion with a choice).
        count = max(schema.get("minItems", 0), 1 if depth < 4 and schema.get("maxItems", 1) >= 1 else 0)
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        out = [self.make(p, depth + 1, name) for p in prefix[:max(count, 0)]]
        while len(out) < count:
            value = self.make(items, depth + 1, name)
            if schema.get("uniqueItems") and value in out:
                value = self.another(items, out, value)
            out.append(value)
        return out

    def another(self, items: Any, taken: list, value: Any) -> Any:
        """An item not yet in a uniqueItems array: the next enum value, else a numbered variant."""
        resolved = items
        for _ in range(MAX_DEPTH):
            if not (isinstance(resolved, dict) and set(resolved) == {"$ref"}):
                break
            resolved = self.resolve(resolved["$ref"])
        enum = resolved.get("enum") if isinstance(resolved, dict) else None
        if enum:
            return next((v for v in enum if v not in taken), value)
        if isinstance(value, str):
            return f"{value}-{len(taken)}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value + len(taken)
        return value

    @staticmethod
    def string(schema: dict, name: str) -> str:
        fmt = schema.get("format")
        value = {
            "date-time": "2025-01-01T00:00:00Z", "date": "2025-01-01", "time": "00:00:00Z",
            "uri": "https://example.com/resource", "url": "https://example.com/resource",
            "email": "user@example.com", "uuid": "00000000-0000-4000-8000-000000000000",
            "binary": "", "byte": "", "ipv4": "127.0.0.1", "ipv6": "::1", "hostname": "example.com",
        }.get(fmt)
        if value is None and isinstance(schema.get("pattern"), str):
            value = from_pattern(schema["pattern"])
        if value is None:
            if name == "id" or name.endswith("_id"):
                value = fresh_id(_id_prefix(name))
            else:
                value = "Hello from the dynclient mock." if name in TEXT_FIELDS else "string"
        minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
        if len(value) < minimum:
            # A value made from a pattern grows by its own last character (`^[0-9a-f]+$` and a
            # minLength of 40: forty zeros), which the pattern is likelier to take than an `x`.
            pattern = schema.get("pattern") if isinstance(schema.get("pattern"), str) else None
            fills = ([value[-1:]] if pattern and value else []) + ["x"]
            grown = [value + fill * (minimum - len(value)) for fill in fills]
            value = next((v for v in grown if pattern is None or ecma_regex(pattern).search(v)), grown[-1])
        if maximum is not None and len(value) > maximum:
            value = value[:maximum]
        return value

    @staticmethod
    def number(schema: dict) -> float:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        value: float = 0
        if low is not None:
            value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        elif high is not None and high < 0:
            value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        if high is not None and value > high:
            value = (low + high) / 2 if low is not None else high
        step = schema.get("multipleOf")
        if step:
            value = -(-value // step) * step
        return value


def from_pattern(pattern: str) -> str | None:
    """A short string that `pattern` matches (searched, as JSON Schema does), or None.

    Walks the parsed regular expression taking the first choice and the fewest repeats; good
    for the id and code patterns documents use, and checked by the caller's validation anyway.
    """
    try:
        parsed = _sre.parse(pattern)
        value = _from_parsed(parsed)
    except (re.error, ValueError, RecursionError, KeyError):
        return None
    return value if ecma_regex(pattern).search(value) else None


def _from_parsed(items: Any) -> str:
    return "".join(_from_op(op, av) for op, av in items)


def _from_op(op: Any, av: Any) -> str:
    c = _sre_c
    if op is c.LITERAL:
        return chr(av)
    if op is c.NOT_LITERAL:
        return "a" if chr(av) != "a" else "b"
    if op is c.ANY:
        return "a"
    if op is c.IN:
        return _from_set(av)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, _high, item = av
        return _from_parsed(item) * low
    if op is c.SUBPATTERN:
        return _from_parsed(av[-1])
    if op is c.BRANCH:
        return _from_parsed(av[1][0])
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT, c.GROUPREF):
        return ""
    if op is c.CATEGORY:
        return _CATEGORY.get(str(av), "a")
    raise ValueError(f"unsupported regular expression element {op}")


def _from_set(items: list) -> str:
    c = _sre_c
    if items and items[0][0] is c.NEGATE:
        excluded = {chr(av) for op, av in items[1:] if op is c.LITERAL}
        return next(ch for ch in "aZ0_-" if ch not in excluded)
    op, av = items[0]
    if op is c.LITERAL:
        return chr(av)
    if op is c.RANGE:
        return chr(av[0])
    return _CATEGORY.get(str(av), "a")


_CATEGORY = {"CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
             "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a"}


def _first_type(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [t for t in kind if t != "null"]
        return non_null[0] if non_null else "null"
    return kind


def _fits(value: Any, schema: dict) -> bool:
    """A cheap pre-check that an example or default has the schema's JSON type."""
    kind = _first_type(schema)
    if kind is None and {"allOf", "anyOf", "oneOf", "$ref"} & set(schema):
        return False   # `{allOf: [$ref X], default: {}}`: whether it fits is X's to say, so make one
    checks = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
              "object": dict, "array": list}
    if kind is None or kind not in checks:
        return value is None if kind == "null" else True
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, checks[kind])


def _example_id_prefix(schema: dict) -> str | None:
    """`asst` from an example id such as `asst_abc123` (in `example`, or OpenAI's `x-oaiMeta.example` text)."""
    example = schema.get("example")
    if isinstance(example, dict) and isinstance(example.get("id"), str) and "_" in example["id"]:
        return example["id"].split("_")[0]
    meta = schema.get("x-oaiMeta")
    text = meta.get("example") if isinstance(meta, dict) else None
    found = re.search(r'"id"\s*:\s*"([A-Za-z]+)_', text) if isinstance(text, str) else None
    if found:
        return found.group(1)
    # No example: the object's own kind (`object: enum [file]` -> `file_…`, `thread.run.step` -> `step_…`).
    kind = ((schema.get("properties") or {}).get("object") or {})
    values = kind.get("enum") or ([kind["const"]] if "const" in kind else [])
    return str(values[0]).split(".")[-1] if values and isinstance(values[0], str) else None


def _id_prefix(name: str) -> str:
    stem = name[:-3] if name.endswith("_id") else "obj"
    return {"assistant": "asst", "thread": "thread", "message": "msg", "run": "run", "file": "file",
            "vector_store": "vs", "batch": "batch", "step": "step"}.get(stem, stem or "obj")


def _png() -> bytes:
    """A 1x1 transparent PNG, so an image answer opens as one."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


# Bytes of the declared type where a small valid file is cheap to make; other binary types get text.
SAMPLES = {
    "image/png": _png(),
    "audio/wav": b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00"
                 b"\x02\x00\x10\x00data\x00\x00\x00\x00",
    "audio/mpeg": b"\xff\xfb\x90\x00" + bytes(413),   # one silent MPEG-1 layer III frame, 128 kbit/s
    "application/pdf": b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
}
