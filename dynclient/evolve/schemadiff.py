"""Schema comparison for dynclient.evolve.diff: what narrowed, widened or changed between two schemas.

A :class:`SchemaPair` compares two schema nodes one keyword family at a time
(types and null, enum, required, properties, additionalProperties, items,
bounds, format and pattern, oneOf/anyOf/allOf branches) and yields
:class:`Finding`s relative to where the comparison started. Nested schemas go
back through ``differ.compare``, which follows ``$ref``s, memoizes each pair of
targets and stops at cycles (see ``Differ`` in diff.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from ..spec import Spec, escape_pointer

# What a schema change does to the set of valid instances; with the direction it decides breaking (diff.breaks).
NARROWED, WIDENED, CHANGED, INFO = "narrowed", "widened", "changed", "info"

BOUNDS = {   # keyword -> True when a larger value narrows
    "minimum": True, "exclusiveMinimum": True, "minLength": True, "minItems": True, "minProperties": True,
    "maximum": False, "exclusiveMaximum": False, "maxLength": False, "maxItems": False, "maxProperties": False,
}


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


class SchemaPair:
    """The findings between two schema nodes, one keyword family at a time (`differ` is diff.Differ)."""

    def __init__(self, differ: Any, old: Any, old_ptr: str, new: Any, new_ptr: str, direction: str,
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
