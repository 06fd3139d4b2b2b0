"""What changed between two versions of a document, and what of it breaks a client.

``diff(old, new)`` matches operations by operationId and returns a list of
:class:`Change`: operations added, removed or deprecated; parameters added,
removed, renamed or made required; request bodies and responses; and, walking
the schemas structurally through ``$ref`` (with cycle protection), every
narrowing or widening of a type, an enum, ``required``, a property,
``additionalProperties``, a bound or a ``oneOf``/``anyOf`` branch.

Breaking follows oasdiff's rule families: a schema change is *narrowed* (fewer
instances are valid), *widened* (more are) or *changed* (neither), and it
breaks a client when a request narrows or a response widens; a change of
neither kind breaks both. Operation- and parameter-level changes carry their
own verdict in ``RULES``.

Schemas shared by many operations are compared once per pair of ``$ref``
targets and the findings reused: that is what makes a 2025 -> 2026 diff of
1,400 schemas take well under a second. A finding inside a cycle is reported
on the way in, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from ..spec import Operation, Spec, escape_pointer

__all__ = ["Change", "diff", "RULES"]


@dataclass(frozen=True)
class Change:
    kind: str                 # e.g. "parameter-renamed", "request-enum-value-removed"
    operation_id: str | None
    location: str             # JSON pointer: in the new document, or the old one for what was removed
    old: Any
    new: Any
    breaking: bool
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


# Operation- and parameter-level kinds and whether each breaks a client.
RULES: dict[str, bool] = {
    "operation-added": False,
    "operation-removed": True,
    "operation-deprecated": False,
    "operation-undeprecated": False,
    "operation-path-changed": True,
    "operation-method-changed": True,
    "parameter-added": False,           # an optional one; a required one is "parameter-added-required"
    "parameter-added-required": True,
    "parameter-removed": True,          # a client that sends it is now refused
    "parameter-renamed": True,
    "parameter-required": True,
    "parameter-optional": False,
    "request-body-added": False,
    "request-body-added-required": True,
    "request-body-removed": True,
    "request-body-required": True,
    "request-body-optional": False,
    "request-media-type-added": False,
    "request-media-type-removed": True,
    "response-status-added": False,
    "response-success-status-removed": True,
    "response-status-removed": False,
    "response-media-type-added": False,
    "response-media-type-removed": True,
}

# Schema findings: (effect, what) -> kind suffix; the effect decides breaking with the direction.
NARROWED, WIDENED, CHANGED, INFO = "narrowed", "widened", "changed", "info"

BOUNDS = {   # keyword -> True when a larger value narrows
    "minimum": True, "exclusiveMinimum": True, "minLength": True, "minItems": True, "minProperties": True,
    "maximum": False, "exclusiveMaximum": False, "maxLength": False, "maxItems": False, "maxProperties": False,
}


def breaks(effect: str, direction: str) -> bool:
    return effect == CHANGED or (effect == NARROWED and direction == "request") \
        or (effect == WIDENED and direction == "response")


@dataclass(frozen=True)
class Finding:
    """A schema difference, relative to the schema where the comparison started."""

    path: tuple[str, ...]     # instance path segments: property names, "[]" for items, "*" for extra properties
    kind: str                 # e.g. "enum-value-removed"
    effect: str
    pointer: str
    old: Any
    new: Any
    text: str


def diff(old: Spec, new: Spec) -> list[Change]:
    """Every change from `old` to `new`, operations in the new document's order, removals last."""
    return list(Differ(old, new).changes())


class Differ:
    def __init__(self, old: Spec, new: Spec):
        self.old, self.new = old, new
        self.memo: dict[tuple, list[Finding]] = {}
        self.active: set[tuple] = set()

    def changes(self) -> Iterator[Change]:
        for op_id, new_op in self.new.operations.items():
            old_op = self.old.operations.get(op_id)
            if old_op is None:
                yield self.change("operation-added", op_id, new_op.pointer, None, f"{new_op.method} {new_op.path}",
                                  f"operation {op_id} added ({new_op.method} {new_op.path})")
            else:
                yield from unique(self.operation(old_op, new_op))
        for op_id, old_op in self.old.operations.items():
            if op_id not in self.new.operations:
                yield self.change("operation-removed", op_id, old_op.pointer, f"{old_op.method} {old_op.path}", None,
                                  f"operation {op_id} removed ({old_op.method} {old_op.path})")

    @staticmethod
    def change(kind: str, op_id: str | None, location: str, old: Any, new: Any, message: str,
               breaking: bool | None = None) -> Change:
        return Change(kind, op_id, location, old, new, RULES[kind] if breaking is None else breaking, message)

    # --- operations and parameters ------------------------------------------------

    def operation(self, old: Operation, new: Operation) -> Iterator[Change]:
        op_id = new.operation_id
        if old.method != new.method:
            yield self.change("operation-method-changed", op_id, new.pointer, old.method, new.method,
                              f"{op_id}: method {old.method} became {new.method}")
        if template(old.path) != template(new.path):
            yield self.change("operation-path-changed", op_id, new.pointer, old.path, new.path,
                              f"{op_id}: path {old.path} became {new.path}")
        if old.deprecated != new.deprecated:
            kind = "operation-deprecated" if new.deprecated else "operation-undeprecated"
            yield self.change(kind, op_id, new.pointer, old.deprecated, new.deprecated,
                              f"{op_id} is {'now' if new.deprecated else 'no longer'} deprecated")
        yield from self.parameters(old, new)
        yield from self.request_body(old, new)
        yield from self.responses(old, new)

    def parameters(self, old: Operation, new: Operation) -> Iterator[Change]:
        op_id = new.operation_id
        old_by = {(p.location, p.name): p for p in old.parameters}
        new_by = {(p.location, p.name): p for p in new.parameters}
        renamed = self.renames(old, new, set(old_by) - set(new_by), set(new_by) - set(old_by))
        for (o, n) in renamed:
            yield self.change("parameter-renamed", op_id, param_pointer(new, n), o.name, n.name,
                              f"{op_id}: {n.location} parameter {o.name!r} renamed to {n.name!r}")
            yield from self.schema_changes(op_id, f"{n.location} parameter {n.name}", o.schema, o.pointer,
                                           n.schema, n.pointer, "request")
        gone = {(o.location, o.name) for o, _ in renamed}
        came = {(n.location, n.name) for _, n in renamed}
        for key, p in new_by.items():
            if key in came:
                continue
            was = old_by.get(key)
            if was is None:
                kind = "parameter-added-required" if p.required else "parameter-added"
                yield self.change(kind, op_id, param_pointer(new, p), None, p.name,
                                  f"{op_id}: {'required' if p.required else 'optional'} {p.location} "
                                  f"parameter {p.name!r} added")
                continue
            if was.required != p.required:
                kind = "parameter-required" if p.required else "parameter-optional"
                yield self.change(kind, op_id, param_pointer(new, p), was.required, p.required,
                                  f"{op_id}: {p.location} parameter {p.name!r} is now "
                                  f"{'required' if p.required else 'optional'}")
            yield from self.schema_changes(op_id, f"{p.location} parameter {p.name}", was.schema, was.pointer,
                                           p.schema, p.pointer, "request")
        for key, p in old_by.items():
            if key not in new_by and key not in gone:
                yield self.change("parameter-removed", op_id, param_pointer(old, p), p.name, None,
                                  f"{op_id}: {p.location} parameter {p.name!r} removed")

    @staticmethod
    def renames(old: Operation, new: Operation, removed: set, added: set) -> list[tuple]:
        """Pairs (old, new) of parameters that kept their place under a new name.

        Path parameters pair by their position in the template; others by
        their position among the operation's parameters of that location.
        """
        def places(op: Operation, location: str) -> list[str]:
            if location == "path":
                return re.findall(r"\{([^}]+)\}", op.path)
            return [p.name for p in op.parameters if p.location == location]

        pairs = []
        for location in sorted({loc for loc, _ in removed} & {loc for loc, _ in added}):
            before, after = places(old, location), places(new, location)
            for i, name in enumerate(before):
                if i < len(after) and (location, name) in removed and (location, after[i]) in added:
                    o = next(p for p in old.parameters if (p.location, p.name) == (location, name))
                    n = next(p for p in new.parameters if (p.location, p.name) == (location, after[i]))
                    pairs.append((o, n))
        return pairs

    # --- bodies ---------------------------------------------------------------------

    def request_body(self, old: Operation, new: Operation) -> Iterator[Change]:
        op_id, at = new.operation_id, f"{new.pointer}/requestBody"
        ob, nb = old.request_body, new.request_body
        if ob is None and nb is None:
            return
        if ob is None:
            kind = "request-body-added-required" if nb.required else "request-body-added"
            yield self.change(kind, op_id, at, None, list(nb.content), f"{op_id}: request body added")
            return
        if nb is None:
            yield self.change("request-body-removed", op_id, f"{old.pointer}/requestBody", list(ob.content), None,
                              f"{op_id}: request body removed")
            return
        if ob.required != nb.required:
            kind = "request-body-required" if nb.required else "request-body-optional"
            yield self.change(kind, op_id, at, ob.required, nb.required,
                              f"{op_id}: request body is now {'required' if nb.required else 'optional'}")
        yield from self.media(op_id, "request", "request body", ob.content, nb.content, at)

    def responses(self, old: Operation, new: Operation) -> Iterator[Change]:
        op_id = new.operation_id
        for status, response in new.responses.items():
            at = f"{new.pointer}/responses/{escape_pointer(status)}"
            was = old.responses.get(status)
            if was is None:
                yield self.change("response-status-added", op_id, at, None, status,
                                  f"{op_id}: response {status} added")
            else:
                yield from self.media(op_id, "response", f"response {status}", was.content, response.content, at)
        for status in old.responses:
            if status not in new.responses:
                kind = "response-success-status-removed" if status.startswith("2") else "response-status-removed"
                yield self.change(kind, op_id, f"{old.pointer}/responses/{escape_pointer(status)}", status, None,
                                  f"{op_id}: response {status} removed")

    def media(self, op_id: str, direction: str, what: str, old: dict, new: dict, at: str) -> Iterator[Change]:
        for content_type, media in new.items():
            was = old.get(content_type)
            if was is None:
                yield self.change(f"{direction}-media-type-added", op_id, f"{at}/content/{escape_pointer(content_type)}",
                                  None, content_type, f"{op_id}: {what} accepts {content_type}"
                                  if direction == "request" else f"{op_id}: {what} may be {content_type}")
            else:
                yield from self.schema_changes(op_id, f"{what} ({content_type})", was.schema, was.pointer,
                                               media.schema, media.pointer, direction)
        for content_type in old:
            if content_type not in new:
                yield self.change(f"{direction}-media-type-removed", op_id, f"{at}/content/{escape_pointer(content_type)}",
                                  content_type, None, f"{op_id}: {what} no longer has {content_type}")

    def schema_changes(self, op_id: str, what: str, old: Any, old_ptr: str, new: Any, new_ptr: str,
                       direction: str) -> Iterator[Change]:
        if old is None or new is None:
            return
        for f in self.compare(old, old_ptr, new, new_ptr, direction):
            where = what + (" " + instance_path(f.path) if f.path else "")
            yield Change(f"{direction}-{f.kind}", op_id, f.pointer, f.old, f.new, breaks(f.effect, direction),
                         f"{op_id}: {where}: {f.text}")

    # --- schemas ----------------------------------------------------------------------

    def compare(self, old: Any, old_ptr: str, new: Any, new_ptr: str, direction: str) -> list[Finding]:
        old, old_ptr = self.deref(self.old, old, old_ptr)
        new, new_ptr = self.deref(self.new, new, new_ptr)
        key = (old_ptr, new_ptr, direction)
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            return []   # a cycle: this pair is being compared further up
        self.active.add(key)
        try:
            found = list(SchemaPair(self, old, old_ptr, new, new_ptr, direction).findings())
        finally:
            self.active.discard(key)
        self.memo[key] = found
        return found

    @staticmethod
    def deref(spec: Spec, node: Any, pointer: str) -> tuple[Any, str]:
        seen = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            ref = node["$ref"]
            if ref in seen:
                break
            seen.add(ref)
            try:
                node, pointer = spec.resolve_pointer(ref[1:]), ref[1:]
            except Exception:   # an unresolvable $ref is lint's business; compare what is there
                break
        return node, pointer


class SchemaPair:
    """The findings between two schema nodes, one keyword family at a time."""

    def __init__(self, differ: Differ, old: Any, old_ptr: str, new: Any, new_ptr: str, direction: str,
                 compare_null: bool = True):
        self.differ, self.direction, self.compare_null = differ, direction, compare_null
        self.old, self.new = (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})
        self.old_ptr, self.new_ptr = old_ptr, new_ptr

    def findings(self) -> Iterator[Finding]:
        old_wraps, new_wraps = is_wrapper(self.old), is_wrapper(self.new)
        if old_wraps != new_wraps:   # `T` became `anyOf: [T, null]` or the reverse: compare T with T
            yield from self.types()
            yield from self.unwrapped(old_wraps)
            return
        for check in (self.types, self.enum, self.required, self.properties, self.additional, self.items,
                      self.bounds, self.format, self.branches):
            yield from check()

    def unwrapped(self, old_wraps: bool) -> Iterator[Finding]:
        """The plain side against the wrapper's branch of the same type; other branches are in types()."""
        if old_wraps:
            branch, at = self.matching_branch(self.differ.old, self.old, self.old_ptr, type_set(self.new))
            pair = SchemaPair(self.differ, branch, at, self.new, self.new_ptr, self.direction, compare_null=False)
        else:
            branch, at = self.matching_branch(self.differ.new, self.new, self.new_ptr, type_set(self.old))
            pair = SchemaPair(self.differ, self.old, self.old_ptr, branch, at, self.direction, compare_null=False)
        if branch is not None:
            yield from (f for f in pair.findings() if not f.kind.startswith(("type-", "nullable-")))

    def matching_branch(self, spec: Spec, wrapper: dict, pointer: str, types: frozenset | None):
        keyword = "anyOf" if "anyOf" in wrapper else "oneOf"
        candidates = []
        for i, branch in enumerate(wrapper[keyword]):
            node, at = self.differ.deref(spec, branch, f"{pointer}/{keyword}/{i}")
            if isinstance(node, dict) and node.get("type") != "null":
                candidates.append((node, at))
        for node, at in candidates:
            if types is None or (type_set(node) or frozenset()) & types:
                return node, at
        return (None, None) if len(candidates) != 1 else candidates[0]

    def found(self, kind: str, effect: str, text: str, old: Any = None, new: Any = None,
              removed: bool = False, keyword: str = "") -> Finding:
        """A finding located at the keyword on the side that has it (new first, unless removed)."""
        first = keyword.split("/")[0]
        sides = [(self.old, self.old_ptr), (self.new, self.new_ptr)] if removed else \
            [(self.new, self.new_ptr), (self.old, self.old_ptr)]
        pointer = next((f"{ptr}/{keyword}" for node, ptr in sides if keyword and first in node), sides[0][1])
        return Finding((), kind, effect, pointer, old, new, text)

    def nested(self, segment: str | None, old: Any, old_ptr: str, new: Any, new_ptr: str) -> Iterator[Finding]:
        for f in self.differ.compare(old, old_ptr, new, new_ptr, self.direction):
            yield f if segment is None else Finding((segment, *f.path), f.kind, f.effect, f.pointer,
                                                    f.old, f.new, f.text)

    # --- keyword families ---

    def types(self) -> Iterator[Finding]:
        before = self.effective_types(self.differ.old, self.old, self.old_ptr)
        after = self.effective_types(self.differ.new, self.new, self.new_ptr)
        if self.compare_null:
            yield from self.nulls()
        if before == after or before is None and after is None:
            return
        if after is None or (before is not None and covers(after, before)):
            effect, verb = WIDENED, "widened"
        elif before is None or covers(before, after):
            effect, verb = NARROWED, "narrowed"
        else:
            effect, verb = CHANGED, "changed"
        shown = (sorted(before) if before else "any", sorted(after) if after else "any")
        yield self.found(f"type-{verb}", effect, f"type {verb} from {shown[0]} to {shown[1]}",
                         *shown, keyword="type")

    def nulls(self) -> Iterator[Finding]:
        before = self.admits_null(self.differ.old, self.old, self.old_ptr)
        after = self.admits_null(self.differ.new, self.new, self.new_ptr)
        if before and not after:
            yield self.found("nullable-removed", NARROWED, "null no longer allowed", True, False)
        elif after and not before:
            yield self.found("nullable-added", WIDENED, "null now allowed", False, True)

    def effective_types(self, spec: Spec, schema: dict, pointer: str, depth: int = 0) -> frozenset | None:
        """The non-null types a schema admits; a oneOf/anyOf wrapper admits its branches' union."""
        if not is_wrapper(schema):
            return type_set(schema)
        union: set = set()
        keyword = "anyOf" if "anyOf" in schema else "oneOf"
        for i, branch in enumerate(schema[keyword]):
            node, at = self.differ.deref(spec, branch, f"{pointer}/{keyword}/{i}")
            if isinstance(node, dict) and node.get("type") == "null":
                continue
            types = self.effective_types(spec, node, at, depth + 1) \
                if isinstance(node, dict) and depth < 8 else None
            if types is None:
                return None
            union |= types
        return frozenset(union)

    def admits_null(self, spec: Spec, schema: dict, pointer: str) -> bool:
        if schema.get("nullable") is True or schema.get("type") == "null" \
                or (isinstance(schema.get("type"), list) and "null" in schema["type"]):
            return True
        if not is_wrapper(schema):
            return False
        keyword = "anyOf" if "anyOf" in schema else "oneOf"
        for i, branch in enumerate(schema[keyword]):
            node, _ = self.differ.deref(spec, branch, f"{pointer}/{keyword}/{i}")
            if isinstance(node, dict) and (node.get("type") == "null" or node.get("nullable") is True):
                return True
        return False

    def enum(self) -> Iterator[Finding]:
        before, after = enum_values(self.old), enum_values(self.new)
        if before is None and after is None:
            return
        if before is None:
            yield self.found("enum-added", NARROWED, f"now limited to {sorted(after.values(), key=str)}",
                             None, sorted(after.values(), key=str), keyword="enum")
            return
        if after is None:
            yield self.found("enum-removed", WIDENED, "no longer limited to an enum",
                             sorted(before.values(), key=str), None, removed=True, keyword="enum")
            return
        for key in before.keys() - after.keys():
            yield self.found("enum-value-removed", NARROWED, f"enum value {before[key]!r} removed",
                             before[key], None, keyword="enum")
        for key in after.keys() - before.keys():
            yield self.found("enum-value-added", WIDENED, f"enum value {after[key]!r} added",
                             None, after[key], keyword="enum")

    def required(self) -> Iterator[Finding]:
        before, after = set(self.old.get("required") or ()), set(self.new.get("required") or ())
        for name in sorted(after - before):
            if name in (self.old.get("properties") or {}) or not self.new.get("properties"):
                yield self.found("required-property-added", NARROWED, f"property {name!r} is now required",
                                 None, name, keyword="required")
            else:
                yield self.found("required-property-added", NARROWED, f"new required property {name!r}",
                                 None, name, keyword="required")
        for name in sorted(before - after):
            yield self.found("required-property-removed", WIDENED, f"property {name!r} is no longer required",
                             name, None, keyword="required")

    def properties(self) -> Iterator[Finding]:
        before = self.old.get("properties") if isinstance(self.old.get("properties"), dict) else {}
        after = self.new.get("properties") if isinstance(self.new.get("properties"), dict) else {}
        closed = self.new.get("additionalProperties") is False
        for name, schema in after.items():
            at = f"{self.new_ptr}/properties/{escape_pointer(name)}"
            if name in before:
                yield from self.nested(name, before[name], f"{self.old_ptr}/properties/{escape_pointer(name)}",
                                       schema, at)
            elif self.old.get("additionalProperties") is False:
                yield Finding((), "property-added", WIDENED, at, None, name, f"property {name!r} added")
            else:
                yield Finding((), "property-added", INFO, at, None, name, f"property {name!r} added")
        for name in before:
            if name not in after:
                # Sending it is refused only where the new schema is closed; a response that drops
                # an optional property is oasdiff's warning, a required one its error (see required()).
                effect = NARROWED if closed else INFO
                yield Finding((), "property-removed", effect, f"{self.old_ptr}/properties/{escape_pointer(name)}",
                              name, None, f"property {name!r} removed")

    def additional(self) -> Iterator[Finding]:
        before, after = self.old.get("additionalProperties"), self.new.get("additionalProperties")
        if (before is False) != (after is False):
            if after is False:
                yield self.found("additional-properties-closed", NARROWED, "additional properties no longer allowed",
                                 before, False, keyword="additionalProperties")
            else:
                yield self.found("additional-properties-opened", WIDENED, "additional properties now allowed",
                                 False, after, keyword="additionalProperties")
        elif isinstance(before, dict) and isinstance(after, dict):
            yield from self.nested("*", before, f"{self.old_ptr}/additionalProperties",
                                   after, f"{self.new_ptr}/additionalProperties")

    def items(self) -> Iterator[Finding]:
        before, after = self.old.get("items"), self.new.get("items")
        if isinstance(before, dict) and isinstance(after, dict):
            yield from self.nested("[]", before, f"{self.old_ptr}/items", after, f"{self.new_ptr}/items")

    def bounds(self) -> Iterator[Finding]:
        for keyword, larger_narrows in BOUNDS.items():
            before, after = self.old.get(keyword), self.new.get(keyword)
            if isinstance(before, bool) or isinstance(after, bool) or before == after:
                continue   # the boolean exclusiveMinimum of 3.0 modifies minimum; compared there
            if not isinstance(before, (int, float, type(None))) or not isinstance(after, (int, float, type(None))):
                continue
            if before is None:
                narrower = True
            elif after is None:
                narrower = False
            else:
                narrower = (after > before) == larger_narrows
            effect = NARROWED if narrower else WIDENED
            yield self.found(f"{keyword}-{effect}", effect,
                             f"{keyword} {before} -> {after}", before, after, keyword=keyword)

    def format(self) -> Iterator[Finding]:
        for keyword in ("format", "pattern"):
            before, after = self.old.get(keyword), self.new.get(keyword)
            if before == after:
                continue
            effect = NARROWED if before is None else WIDENED if after is None else CHANGED
            yield self.found(f"{keyword}-changed", effect, f"{keyword} {before!r} -> {after!r}",
                             before, after, keyword=keyword)

    def branches(self) -> Iterator[Finding]:
        for keyword, added_effect in (("oneOf", WIDENED), ("anyOf", WIDENED), ("allOf", NARROWED)):
            before, after = self.old.get(keyword), self.new.get(keyword)
            if not isinstance(before, list) or not isinstance(after, list):
                continue
            old_keys = {branch_key(b, i): (i, b) for i, b in enumerate(before)}
            new_keys = {branch_key(b, i): (i, b) for i, b in enumerate(after)}
            removed_effect = NARROWED if added_effect == WIDENED else WIDENED
            for key, (i, branch) in new_keys.items():
                if key in old_keys:
                    j, was = old_keys[key]
                    yield from self.nested(None, was, f"{self.old_ptr}/{keyword}/{j}",
                                           branch, f"{self.new_ptr}/{keyword}/{i}")
                else:
                    yield self.found(f"{keyword}-branch-added", added_effect, f"{keyword} branch {key} added",
                                     None, key, keyword=f"{keyword}/{i}")
            for key, (j, _) in old_keys.items():
                if key not in new_keys:
                    yield self.found(f"{keyword}-branch-removed", removed_effect, f"{keyword} branch {key} removed",
                                     key, None, removed=True, keyword=f"{keyword}/{j}")


# --- helpers ---------------------------------------------------------------------------


def unique(changes: Iterator[Change]) -> Iterator[Change]:
    """One change per (kind, location, old, new) in an operation: a schema reached twice reports once."""
    seen = set()
    for change in changes:
        key = (change.kind, change.location, json.dumps(change.old, default=str), json.dumps(change.new, default=str))
        if key not in seen:
            seen.add(key)
            yield change


def template(path: str) -> str:
    """A path with its variables' names blanked: renaming a variable does not move the operation."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def param_pointer(op: Operation, p: Any) -> str:
    return p.pointer.removesuffix("/schema") if p.pointer else f"{op.pointer}/parameters"


def instance_path(path: tuple[str, ...]) -> str:
    text = ""
    for segment in path:
        text += segment if segment == "[]" else f".{segment}" if text else segment
    return text


def type_set(schema: dict) -> frozenset | None:
    """The non-null JSON types a schema admits by its `type`, or None for any (null is nulls()'s business)."""
    declared = schema.get("type")
    if declared is None or declared == "null":
        return None
    types = set(declared) if isinstance(declared, list) else {declared}
    return frozenset(str(t) for t in types if t != "null")


def is_wrapper(schema: dict) -> bool:
    """A oneOf/anyOf that stands for the whole schema (no type or properties of its own)."""
    return (isinstance(schema.get("anyOf"), list) or isinstance(schema.get("oneOf"), list)) \
        and "type" not in schema and "properties" not in schema


def covers(wide: frozenset, narrow: frozenset) -> bool:
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def enum_values(schema: dict) -> dict | None:
    """{canonical JSON text: value} of `enum` (or `const`), None when unconstrained."""
    if isinstance(schema.get("enum"), list):
        values = schema["enum"]
    elif "const" in schema:
        values = [schema["const"]]
    else:
        return None
    return {json.dumps(v, sort_keys=True): v for v in values}


def branch_key(branch: Any, index: int) -> str:
    """A oneOf/anyOf/allOf branch's identity: the component it names, else its place."""
    if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
        return branch["$ref"].rsplit("/", 1)[-1]
    return f"#{index}"
