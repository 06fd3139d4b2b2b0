"""Defects that break validators, each with its JSON pointer, and a draft overlay that mends them.

``lint(spec)`` walks the whole document once. Each :class:`Finding` carries
the Overlay 1.0 actions that mend it mechanically, when there is a mechanical
mend (each with a one-line ``description``); ``draft_overlay(findings)`` puts
them together. Applying the draft and linting again finds none of the mended
defects: the tests check exactly that.

| code | mend |
|---|---|
| unresolvable-ref | none: what was meant is not in the document |
| recursive-ref | `$recursiveRef: '#'` becomes a `$ref` to the enclosing component |
| discriminator-without-mapping | a `mapping` from each branch's enum/const value (none when values are shared) |
| required-duplicate, required-empty | the list without repeats; an empty list removed |
| nullable-in-3.1 | `type: [T, 'null']` (null added to an `enum`), or `anyOf: [..., {type: 'null'}]` |
| boolean-exclusive-bound-in-3.1 | `exclusiveMinimum: true, minimum: 0` becomes `exclusiveMinimum: 0` |
| hop-by-hop-header | the response header removed (a server must not send it; RFC 9110 7.6.1) |
| missing-operation-id | the derived id dynclient indexes it under |
| undeclared-path-parameter | a required string parameter, or the declared stray renamed |
| invalid-example | none: the example or the schema is wrong, and only a person can say which |
| type-alias, type-case, required-boolean, required-string, required-mapping, required-null, required-unsatisfiable | the repair the loader makes (dynclient.repair), so a user can pin it |
| schema-does-not-compile | none: a defect no repair reads one way; the operations that need it cannot be called |

The loader repairs the dynclient.repair classes itself (unless `repair=False`); lint reports them
whether the Spec it reads was repaired (its `repairs`) or not (found in its data), so the draft
overlay pins the fix for any tool, or for `repair=False`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import DynclientError
from ..loader import Document
from ..repair import REMOVED, Repair, find_repairs, repaired
from ..spec import HTTP_METHODS, Spec, derived_operation_id, escape_pointer

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                        "upgrade"})
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
                         "schemas", "paths", "responses", "parameters", "requestBodies", "headers",
                         "securitySchemes", "content", "examples", "links", "callbacks", "mapping"})
SKIPPED = frozenset({"example", "examples", "enum", "const", "default"})   # values, not schemas


@dataclass(frozen=True)
class Finding:
    code: str
    pointer: str
    message: str
    actions: tuple[dict, ...] = field(default=(), compare=False)   # Overlay 1.0 actions that mend it

    def as_dict(self) -> dict:
        return {"code": self.code, "pointer": self.pointer, "message": self.message, "mendable": bool(self.actions)}


def lint(spec: Spec, check_examples: bool = True) -> list[Finding]:
    return list(Linter(spec, check_examples).findings())


def draft_overlay(spec: Spec, title: str, rounds: int = 3, skip: frozenset = frozenset()) -> dict:
    """An overlay of every mechanical mend. A mend can make another possible (a `$recursiveRef`
    turned `$ref` lets its union get a mapping), so lint runs again on the mended copy."""
    from .overlay import apply
    data, actions = json.loads(json.dumps(spec.data)), []
    for _ in range(rounds):
        found = [a for f in lint(Spec(data, overlays=False, repair=False), check_examples=False)
                 if f.code not in skip for a in f.actions]
        if not found:
            break
        apply(data, {"overlay": "1.0.0", "info": {"title": title, "version": "1.0.0"}, "actions": found})
        actions += found
    return {"overlay": "1.0.0", "info": {"title": title, "version": "1.0.0"}, "actions": actions}


def target(pointer: str, document: Any) -> str:
    """The JSONPath selecting exactly the node at a JSON pointer (`[3]` for an array item, `['200']` for a key)."""
    path, node = "$", document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            path, node = path + f"[{int(token)}]", node[int(token)]
        else:
            path += "['" + token.replace("\\", "\\\\").replace("'", "\\'") + "']"
            node = node.get(token) if isinstance(node, dict) else None
    return path


def update(pointer: str, value: Any, why: str) -> dict:
    return {"target": pointer, "description": why, "update": value}   # findings() turns pointers into JSONPath


def remove(pointer: str, why: str) -> dict:
    return {"target": pointer, "description": why, "remove": True}


class Linter:
    def __init__(self, spec: Spec, check_examples: bool):
        self.spec, self.data, self.check_examples = spec, spec.data, check_examples
        self.is_31 = spec.dialect == "3.1"
        self.schema_names = set(((self.data.get("components") or {}).get("schemas") or {}))

    def findings(self) -> Iterator[Finding]:
        found_first = [*self.repairs(), *self.walk(self.data, "", None), *self.operations()]
        named = {f.pointer for f in found_first}   # an unresolvable $ref is its own finding already
        for found in (*found_first, *(f for f in self.uncompilable() if f.pointer not in named),
                      *(self.examples() if self.check_examples else ())):
            actions = tuple({**a, "target": target(a["target"], self.data)} for a in found.actions)
            yield Finding(found.code, found.pointer, found.message, actions)

    # --- what the loader repairs, and what no repair can mend ------------------------

    def repairs(self) -> Iterator[Finding]:
        for repair in (*self.spec.document.repairs, *find_repairs(self.data)):
            yield Finding(repair.code, repair.pointer, str(repair).split(": ", 1)[1], repair_actions(repair))

    def uncompilable(self) -> Iterator[Finding]:
        """One finding per schema defect that still stops a schema from compiling once repaired,
        naming the operations it makes uncallable."""
        from ..schema import SchemaSet, operation_compile_error
        spec = self.spec
        if find_repairs(self.data):   # judge the document as the loader would repair it
            data, _ = repaired(self.data)
            spec = Spec(Document(data, self.spec.document.origin, self.spec.document.sha256), overlays=False)
        schemas, broken = SchemaSet(spec, fast=False), {}
        for operation_id in spec.operations:
            try:
                error = operation_compile_error(schemas, spec.operations[operation_id])
            except DynclientError:
                continue   # an operation that cannot be read at all is another finding's business
            if error is not None:
                broken.setdefault((error.pointer, error.reason), []).append(operation_id)
        for (pointer, reason), operations in broken.items():
            yield Finding("schema-does-not-compile", pointer, f"{reason}; {len(operations)} operation"
                          f"{'s' * (len(operations) != 1)} cannot be called: {', '.join(operations)}")

    # --- one pass over every node --------------------------------------------------

    def walk(self, node: Any, pointer: str, component: str | None) -> Iterator[Finding]:
        stack = [(node, pointer, component, False)]
        while stack:
            node, pointer, component, is_map = stack.pop()
            if isinstance(node, list):
                stack.extend((v, f"{pointer}/{i}", component, False) for i, v in enumerate(node))
                continue
            if not isinstance(node, dict):
                continue
            if pointer.count("/") == 3 and pointer.startswith("/components/schemas/"):
                component = pointer
            if not is_map:   # a map of names (properties, $defs) is not itself a schema
                yield from self.node(node, pointer, component)
            skip = () if is_map else SKIPPED
            stack.extend((v, f"{pointer}/{escape_pointer(str(k))}", component, not is_map and k in SCHEMA_MAPS)
                         for k, v in node.items() if not (str(k).startswith("x-") or k in skip))

    def node(self, node: dict, pointer: str, component: str | None) -> Iterator[Finding]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#") and not self.resolves(ref[1:]):
            yield Finding("unresolvable-ref", f"{pointer}/$ref", f"$ref {ref!r} does not resolve")
        if "$recursiveRef" in node:
            yield self.recursive_ref(node, pointer, component)
        if isinstance(node.get("discriminator"), dict) and isinstance(node.get("oneOf", node.get("anyOf")), list):
            found = self.discriminator(node, pointer)
            if found:
                yield found
        if isinstance(node.get("required"), list) and looks_like_schema(node):
            yield from self.required(node, pointer)
        if self.is_31 and "nullable" in node and looks_like_schema(node):
            yield self.nullable(node, pointer)
        if self.is_31:
            yield from self.boolean_bounds(node, pointer)
        if isinstance(node.get("headers"), dict) and "/responses/" in pointer:   # a Response object
            for name in node["headers"]:
                if str(name).lower() in HOP_BY_HOP:
                    at = f"{pointer}/headers/{escape_pointer(name)}"
                    why = f"{name} is a hop-by-hop header: a server must not declare it as part of the response"
                    yield Finding("hop-by-hop-header", at, why, (remove(at, why),))

    def resolves(self, pointer: str) -> bool:
        try:
            self.spec.resolve_pointer(pointer)
            return True
        except DynclientError:
            return False

    # --- the defects ----------------------------------------------------------------

    def recursive_ref(self, node: dict, pointer: str, component: str | None) -> Finding:
        message = f"$recursiveRef {node['$recursiveRef']!r} is draft 2019-09, unknown to OpenAPI 3.0/3.1 validators"
        if node["$recursiveRef"] != "#" or component is None:
            return Finding("recursive-ref", pointer, message)
        why = f"$recursiveRef '#' means the enclosing {component.rsplit('/', 1)[-1]}; say so with $ref"
        actions = (update(pointer, {"$ref": "#" + component}, why), remove(f"{pointer}/$recursiveRef", why))
        anchor = self.spec.resolve_pointer(component)
        if isinstance(anchor, dict) and "$recursiveAnchor" in anchor:
            actions += (remove(f"{component}/$recursiveAnchor", "nothing refers to it once $recursiveRef is gone"),)
        return Finding("recursive-ref", pointer, message, actions)

    def discriminator(self, node: dict, pointer: str) -> Finding | None:
        from ..schema import SchemaSet, Translator
        discriminator = node["discriminator"]
        prop = discriminator.get("propertyName")
        keyword = "oneOf" if isinstance(node.get("oneOf"), list) else "anyOf"
        if discriminator.get("mapping") or not isinstance(prop, str):
            return None
        branches = node[keyword]
        refs = [b.get("$ref") if isinstance(b, dict) else None for b in branches]
        named = [r.rsplit("/", 1)[-1] for r in refs if isinstance(r, str)]
        values_of = Translator(SchemaSet(self.spec), "request", "", []).discriminator_values
        values = [list(dict.fromkeys(values_of(b, prop, set()))) for b in branches]
        if all(v == [n] for v, n in zip(values, named)) and len(named) == len(branches):
            return None   # the implicit mapping works: each value is its schema's name
        at = f"{pointer}/discriminator"
        message = (f"discriminator on {prop!r} without mapping, and its values are not schema names: "
                   f"validators that follow the implicit mapping cannot resolve them")
        mapping: dict[str, str] = {}
        owners: dict[str, int] = {}
        for ref, vals in zip(refs, values):
            for v in vals:
                owners[v] = owners.get(v, 0) + 1
                if ref:
                    mapping[v] = ref
        if not all(refs) or any(not v for v in values) or any(n > 1 for n in owners.values()):
            return Finding("discriminator-without-mapping", at, message + " (no unique mapping to draft: "
                           "a branch is inline, has no value, or shares one)")
        why = f"map each {prop} value to the branch whose enum/const allows it"
        return Finding("discriminator-without-mapping", at, message, (update(at, {"mapping": mapping}, why),))

    def required(self, node: dict, pointer: str) -> Iterator[Finding]:
        names = node["required"]
        at = f"{pointer}/required"
        if not names:
            why = "an empty required list is invalid in OpenAPI 3.0 (minItems 1) and says nothing"
            yield Finding("required-empty", at, "empty `required`", (remove(at, why),))
            return
        unique = list(dict.fromkeys(names))
        if len(unique) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1}, key=str)
            why = f"required lists {', '.join(map(str, repeated))} twice; JSON Schema wants unique items"
            yield Finding("required-duplicate", at, f"`required` repeats {repeated}",
                          (remove(at, why), update(pointer, {"required": unique}, why)))

    def nullable(self, node: dict, pointer: str) -> Finding:
        message = "`nullable` is OpenAPI 3.0; a 3.1 document (JSON Schema 2020-12) ignores it"
        why = "3.1 has no nullable: null goes in the type (or as an anyOf branch)"
        at = f"{pointer}/nullable"
        if node["nullable"] is not True:
            return Finding("nullable-in-3.1", at, message, (remove(at, why),))
        declared = node.get("type")
        actions: list[dict] = []
        if isinstance(declared, (str, list)):
            types = [declared] if isinstance(declared, str) else list(declared)
            if "null" not in types:
                actions.append(update(pointer, {"type": [*types, "null"]}, why))
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                actions.append(update(f"{pointer}/enum", None, "the enum must list null for null to be valid"))
        elif isinstance(node.get("anyOf"), list) or isinstance(node.get("oneOf"), list):
            keyword = "anyOf" if "anyOf" in node else "oneOf"
            actions.append(update(f"{pointer}/{keyword}", {"type": "null"}, why))
        else:   # $ref, allOf or nothing beside it: keep all of it as one branch
            moved = {k: v for k, v in node.items() if k in ("$ref", "allOf", "enum", "const", "format")}
            actions += [remove(f"{pointer}/{escape_pointer(k)}", why) for k in moved]
            actions.append(update(pointer, {"anyOf": [moved or {}, {"type": "null"}]}, why))
        actions.append(remove(at, why))
        return Finding("nullable-in-3.1", at, message, tuple(actions))

    def boolean_bounds(self, node: dict, pointer: str) -> Iterator[Finding]:
        for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if not isinstance(node.get(keyword), bool):
                continue
            at = f"{pointer}/{keyword}"
            message = f"boolean {keyword} is OpenAPI 3.0; 3.1 (JSON Schema 2020-12) wants a number"
            if node[keyword] and isinstance(node.get(bound), (int, float)):
                why = f"{keyword}: true with {bound}: {node[bound]} means > {node[bound]}; 3.1 writes the number"
                actions = (update(pointer, {keyword: node[bound]}, why), remove(f"{pointer}/{bound}", why))
            else:
                actions = (remove(at, f"{keyword}: {str(node[keyword]).lower()} adds nothing here"),)
            yield Finding("boolean-exclusive-bound-in-3.1", at, message, actions)

    # --- operations ------------------------------------------------------------------

    def operations(self) -> Iterator[Finding]:
        for path, item in (self.data.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            item_at = f"/paths/{escape_pointer(path)}"
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                at = f"{item_at}/{method}"
                if not op.get("operationId"):
                    derived = derived_operation_id(method, path)
                    why = f"the id dynclient derives for {method.upper()} {path}"
                    yield Finding("missing-operation-id", at, f"{method.upper()} {path} has no operationId",
                                  (update(at, {"operationId": derived}, why),))
                yield from self.path_parameters(path, item, op, item_at, at)

    def path_parameters(self, path: str, item: dict, op: dict, item_at: str, at: str) -> Iterator[Finding]:
        variables = re.findall(r"\{([^}]+)\}", path)
        declared: dict[str, tuple[str, bool]] = {}   # name -> (pointer, is a $ref)
        for where, params in ((f"{item_at}/parameters", item.get("parameters")), (f"{at}/parameters", op.get("parameters"))):
            for i, p in enumerate(params or []):
                is_ref = isinstance(p, dict) and "$ref" in p
                node, p_at = self.spec.deref(p, f"{where}/{i}")
                if isinstance(node, dict) and node.get("in") == "path":
                    declared[node.get("name")] = (p_at, is_ref)
        missing = [v for v in variables if v not in declared]
        stray = [n for n in declared if n not in variables]
        for v in missing:
            message = f"template variable {{{v}}} has no declared path parameter"
            if len(missing) == 1 and len(stray) == 1 and not declared[stray[0]][1]:
                why = f"the parameter declared as {stray[0]!r} is the template's {{{v}}}"
                yield Finding("undeclared-path-parameter", at, message,
                              (update(declared[stray[0]][0], {"name": v}, why),))
                continue
            param = {"name": v, "in": "path", "required": True, "schema": {"type": "string"}}
            why = f"the template has {{{v}}}; a path parameter must be declared for it"
            mend = update(f"{at}/parameters", param, why) if op.get("parameters") is not None \
                else update(at, {"parameters": [param]}, why)
            yield Finding("undeclared-path-parameter", at, message, (mend,))

    # --- examples --------------------------------------------------------------------

    def examples(self) -> Iterator[Finding]:
        from ..schema import SchemaSet
        schemas = SchemaSet(self.spec)
        for op in self.spec:
            media_types = [("request", m) for m in (op.request_body.content.values() if op.request_body else ())]
            media_types += [("response", m) for r in op.responses.values() for m in r.content.values()]
            for direction, media in media_types:
                node = self.spec.resolve_pointer(media.pointer.rsplit("/", 1)[0])
                if media.schema is None or not isinstance(node, dict):
                    continue
                base = media.pointer.rsplit("/", 1)[0]
                samples = [(f"{base}/example", node["example"])] if "example" in node else []
                for name, example in (node.get("examples") or {}).items():
                    where = f"{base}/examples/{escape_pointer(name)}"
                    try:   # `$ref: '#/components/examples/...'` (GitHub's documents, mostly): the component's value
                        example, where = self.spec.deref(example, where)
                    except DynclientError as exc:
                        yield Finding("invalid-example", where, f"{op.operation_id}: {exc}")
                        continue
                    if isinstance(example, dict) and "value" in example:
                        samples.append((f"{where}/value", example["value"]))
                for where, value in samples:
                    try:
                        violation = schemas.compiled(media.pointer, direction).violation(value)
                    except DynclientError:
                        continue   # a schema that cannot compile is reported by its own finding
                    if violation:
                        yield Finding("invalid-example", where,
                                      f"{op.operation_id}: the example does not validate against its schema: "
                                      f"{violation.pointer or '/'}: {violation.message}")


def repair_actions(repair: Repair) -> tuple[dict, ...]:
    """Overlay actions making a repair's changes: each sets (an update of the parent mapping with
    that key, which replaces a list rather than appending to it) or removes one key. Applied twice,
    they change nothing the second time."""
    why = str(repair).split(": ", 1)[1]   # "repaired <code>: <was> -> <now>"
    actions = []
    for pointer, value in repair.changes:
        if value == REMOVED:
            actions.append(remove(pointer, why))
        else:
            parent, _, key = pointer.rpartition("/")
            actions.append(update(parent, {key.replace("~1", "/").replace("~0", "~"): value}, why))
    return tuple(actions)


def looks_like_schema(node: dict) -> bool:
    """A schema rather than a map of names (`properties`) or an Operation with `required`-like keys."""
    return any(k in node for k in ("type", "properties", "items", "allOf", "anyOf", "oneOf", "$ref", "enum",
                                   "nullable", "required", "format", "additionalProperties"))
