"""Schema dialects, compiled validators and readable errors.

OpenAPI schemas are not JSON Schema: 3.0 has ``nullable``, boolean
``exclusiveMinimum``, ``discriminator``, ``readOnly``/``writeOnly`` that change
``required``, and ``$ref`` siblings that must be ignored; 3.1 is JSON Schema
2020-12, yet real 3.1 documents (OpenAI's 2026 ones) still write 3.0 keywords.
This module translates each schema, as published, into plain 2020-12; the
verdict comes from jsonschema-rs when it is installed (``dynclient.fast``), and
the reference verdict and every error message from ``jsonschema``
(``dynclient.explain``, imported only when a payload fails or jsonschema-rs is
absent).

Translation is lazy: a validator is built for one schema (a request body, a
parameter, a response) when first needed, and only the schemas it reaches
through ``$ref`` are translated, each once per direction, and registered as a
resource of one shared registry. Loading a document compiles nothing.

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
import logging
import re
from typing import Any, Callable, Iterator

from .errors import SchemaCompileError
from .vocabulary import (DISCRIMINATOR, ONE_SCHEMA, SCHEMA_LISTS, SCHEMA_MAPS, Violation, ecma_regex, short_repr,
                         type_name)

log = logging.getLogger("dynclient")

URN = "urn:dynclient:"
TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})

TOO_DEEP = "nested too deeply, or through a $ref chain too long, to compile"
PLAIN_TYPED_KEYS = frozenset({"enum", "const", "$ref", "allOf", "anyOf", "oneOf", "not"})


# --- compiled schemas, and the translation behind them -----------------------


class CompiledSchema:
    """A validator for one schema of the document, in one direction.

    `fast` (jsonschema-rs, or None) gives the verdict; the reference validator (`jsonschema`) is
    built only when a payload fails it, or when there is no fast one, and its verdict is final.
    """

    __slots__ = ("pointer", "fast", "recursive", "_make_reference", "_reference")

    def __init__(self, pointer: str, fast: Any, make_reference: Callable[[], Any], recursive: bool = False):
        self.pointer = pointer
        self.fast = fast
        self.recursive = recursive          # refers to itself: deep instances go to the reference
        self._make_reference = make_reference
        self._reference = None

    def reference(self) -> Any:
        """The `jsonschema` validator of this schema (built on first use)."""
        if self._reference is None:
            self._reference = self._make_reference()
        return self._reference

    def fast_verdict(self, instance: Any) -> bool | None:
        """jsonschema-rs's verdict; None when there is none (no fast validator, or a value it cannot read)."""
        if self.fast is None:
            return None
        if self.recursive:
            from .fast import shallow
            if not shallow(instance):
                return None
        try:
            return self.fast.is_valid(instance)
        except ValueError:   # not JSON data (bytes, a file object, ...): the reference judges it
            return None

    def is_valid(self, instance: Any) -> bool:
        if self.fast_verdict(instance):
            return True
        try:
            return next(self.reference().iter_errors(instance), None) is None
        except RecursionError:
            return False

    def violation(self, instance: Any) -> Violation | None:
        """None when valid; otherwise the most useful failure and a list of all of them. An instance
        nested deeper than Python can walk (a hostile payload for a recursive schema) is a failure."""
        fast = self.fast
        if fast is not None and not self.recursive:   # fast_verdict's common case, without a call more
            try:
                if fast.is_valid(instance):
                    return None
            except ValueError:
                pass
        elif self.fast_verdict(instance):
            return None
        from .explain import violation
        try:
            return violation(self.reference(), instance)
        except RecursionError:
            message = "the value is nested too deeply to validate"
            return Violation("", message, "depth", None, None, [message])


class SchemaSet:
    """The schemas of one document: translated, registered and compiled on demand.

    `fast=None` uses jsonschema-rs for verdicts when it is installed; `fast=False` never does.
    """

    def __init__(self, spec, fast: bool | None = None):
        from . import fast as fast_module
        self.spec = spec
        self.dialect = spec.dialect
        self.fast = fast_module.available() and fast is not False
        self._resources: dict[str, Any] = {}         # uri -> translated contents
        self._forms: dict[str, tuple[Any, list[str]]] = {}   # uri -> (jsonschema-rs form, URIs it refers to)
        self._sizes: dict[str, int] = {}               # uri -> schema nodes in its jsonschema-rs form
        self._registry: Any = None                   # the `referencing` registry, made when first needed
        self._unregistered: list[str] = []           # translated, not yet in that registry
        self._compiled: dict[tuple[str, str], CompiledSchema] = {}
        self._no_loop: set[str] = set()                # pointers known to reach a value

    def same_instance_loop(self, start: str) -> list[str] | None:
        """A cycle of `$ref`/`allOf`/`anyOf`/`oneOf`/`not`/`if`... that comes back to a schema without
        ever looking inside the value (A: {$ref: B}, B: {$ref: A}): validating it would never end."""
        path: list[str] = []
        on_path: set[str] = set()

        def visit(pointer: str) -> list[str] | None:
            if pointer in on_path:
                return path[path.index(pointer):] + [pointer]
            if pointer in self._no_loop:
                return None
            on_path.add(pointer)
            path.append(pointer)
            try:
                node = self.spec.resolve_pointer(pointer)
            except Exception:
                node = None   # reported where the reference is translated
            for child in _same_instance_children(node, pointer):
                loop = visit(child)
                if loop:
                    return loop
            path.pop()
            on_path.discard(pointer)
            self._no_loop.add(pointer)
            return None

        return visit(start)

    def compiled(self, pointer: str, direction: str) -> CompiledSchema:
        """The validator of the schema at `pointer` ("request" or "response" direction)."""
        key = (pointer, direction)
        found = self._compiled.get(key)
        if found is None:
            root = self._translate_closure(pointer, direction)
            try:
                fast, recursive = self._fast_validator(root) if self.fast else (None, False)
            except RecursionError:
                raise SchemaCompileError(pointer, TOO_DEEP) from None
            found = self._compiled[key] = CompiledSchema(pointer, fast, lambda: self._reference_validator(root),
                                                         recursive)
        return found

    def _fast_validator(self, root: str) -> tuple[Any, bool]:
        """(the jsonschema-rs validator or None, whether the schema refers to itself)."""
        from . import fast
        resources, seen, todo = [], {root}, [root]
        while todo:
            target = todo.pop()
            form = self._forms.get(target)
            if form is None:
                form = self._forms[target] = fast.fast_form(self._resources[target])
            resources.append((target, form[0]))
            for ref in form[1]:
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        refs_of = self._fast_refs
        cost = fast.compile_cost(root, refs_of, self._fast_size)
        if cost > fast.COMPILE_BUDGET:
            log.info("%s: its schemas refer to each other along more than %d paths (jsonschema-rs would "
                     "take minutes to compile it); jsonschema alone validates it", root, fast.COMPILE_BUDGET)
            return None, True
        return fast.build(root, resources), fast.refers_to_itself(root, refs_of)

    def _fast_refs(self, target: str) -> list[str]:
        return self._forms[target][1]

    def _fast_size(self, target: str) -> int:
        found = self._sizes.get(target)
        if found is None:
            from .fast import size
            found = self._sizes[target] = size(self._forms[target][0])
        return found

    def _reference_validator(self, root: str) -> Any:
        return self.node_validator({"$ref": root})

    def node_validator(self, node: Any) -> Any:
        """The reference (`jsonschema`) validator of a translated schema node, such as one branch of
        a `oneOf` that `translated` returned: every resource translated so far can be referred to."""
        import referencing
        import referencing.jsonschema

        from .explain import Validator
        if self._registry is None:
            self._registry = referencing.Registry()
        pending, self._unregistered = self._unregistered, []
        if pending:
            self._registry = self._registry.with_resources(
                (target, referencing.jsonschema.DRAFT202012.create_resource(self._resources[target]))
                for target in pending)
        return Validator(node, registry=self._registry)

    def translated(self, pointer: str, direction: str) -> tuple[Any, Any]:
        """The 2020-12 translation of the schema at `pointer`, and a function that returns the
        translated schema behind any `$ref` URI found in it (for generators and tools)."""
        root = self._translate_closure(pointer, direction)
        return self._resources[root], self._resources.__getitem__

    def _translate_closure(self, pointer: str, direction: str) -> str:
        root = uri(direction, pointer)
        try:
            self._translate_pending([pointer], direction)
        except RecursionError:
            raise SchemaCompileError(pointer, TOO_DEEP) from None
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
            self._unregistered.extend(batch)

    def _resolve(self, pointer: str) -> Any:
        try:
            return self.spec.resolve_pointer(pointer)
        except Exception:
            raise SchemaCompileError(pointer, "the reference does not resolve") from None


def _same_instance_children(node: Any, pointer: str) -> Iterator[str]:
    """Pointers of the schemas applied to the same value as `node` (not to its items or properties)."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        yield ref[1:]
    for keyword in ("allOf", "anyOf", "oneOf"):
        for index, _ in enumerate(node.get(keyword) if isinstance(node.get(keyword), list) else ()):
            yield f"{pointer}/{keyword}/{index}"
    for keyword in ("not", "if", "then", "else"):
        if isinstance(node.get(keyword), dict):
            yield f"{pointer}/{keyword}"


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
        loop = self.schemas.same_instance_loop(target)
        if loop:
            raise SchemaCompileError(pointer, "reference cycle " + " -> ".join("#" + p for p in loop)
                                     + ": the schema never reaches a value to check")
        self.pending.append(target)
        return {"$ref": uri(self.direction, target)}

    def schema(self, node: Any, pointer: str) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaCompileError(pointer, f"a schema must be an object or a boolean, not {type_name(node)}")
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
                    ecma_regex(value)
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


def unwrap(schema: Any, resolve) -> Any:
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
    schema = unwrap(schema, resolve)
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
    schema = unwrap(schema, resolve)
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
        yield from operation_schema_pointers(op)


def operation_schema_pointers(op) -> Iterator[tuple[str, str]]:
    """(pointer, direction) of an operation's parameter, request body and response schemas."""
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


def operation_compile_error(schemas: SchemaSet, op) -> SchemaCompileError | None:
    """The first schema of an operation that cannot be translated, as the error a call would meet
    (naming the operation), or None. Translation is where document defects are found; it costs a
    fraction of compiling, so `dynclient ops` and `lint` can ask it of every operation."""
    for pointer, direction in operation_schema_pointers(op):
        try:
            schemas.translated(pointer, direction)
        except SchemaCompileError as exc:
            return SchemaCompileError(exc.pointer, exc.reason, op.operation_id)
    return None


def __getattr__(name: str) -> Any:
    """`Validator` (the jsonschema class, which dynclient.testing builds on) without importing
    jsonschema until someone asks for it."""
    if name == "Validator":
        from .explain import Validator
        return Validator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
