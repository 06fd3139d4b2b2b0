"""What changed between two versions of a document, and what of it breaks a client.

``diff(old, new)`` matches operations by operationId (and webhooks by their
event type) and returns a list of :class:`Change`: operations and webhooks
added, removed or deprecated; parameters added,
removed, renamed or made required; request bodies and responses; and, walking
the schemas structurally through ``$ref`` (with cycle protection), every
narrowing or widening of a type, an enum, ``required``, a property,
``additionalProperties``, a bound or a ``oneOf``/``anyOf`` branch.

Breaking follows oasdiff's rule families: a schema change is *narrowed* (fewer
instances are valid), *widened* (more are) or *changed* (neither), and it
breaks a client when a request narrows or a response widens; a change of
neither kind breaks both. Operation- and parameter-level changes carry their
own verdict in ``RULES``.

The schema keywords are compared in schemadiff.py. Schemas shared by many
operations are compared once per pair of ``$ref`` targets and the findings
reused: that is what keeps the 2026-07-31 -> 2026-08-21 diff (1,400 schemas)
near half a second. A finding inside a cycle is reported on the way in, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from ..spec import Operation, Spec, escape_pointer
from .schemadiff import CHANGED, NARROWED, WIDENED, Finding, SchemaPair

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
    "webhook-added": False,
    "webhook-removed": True,             # a handler for it would never run again
}

def breaks(effect: str, direction: str) -> bool:
    return effect == CHANGED or (effect == NARROWED and direction == "request") \
        or (effect == WIDENED and direction == "response")


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
        yield from self.webhooks()

    def webhooks(self) -> Iterator[Change]:
        """Events the API sends back, matched by their `type`: the payload is compared as a response is
        (the receiver reads it), so a widened payload breaks a handler, a narrowed one does not."""
        for event_type, hook in self.new.webhooks.items():
            was = self.old.webhooks.get(event_type)
            if was is None:
                yield self.change("webhook-added", event_type, hook.pointer, None, event_type,
                                  f"{event_type}: webhook added")
                continue
            yield from self.schema_changes(event_type, "event payload", self.old.resolve_pointer(was.pointer),
                                           was.pointer, self.new.resolve_pointer(hook.pointer), hook.pointer,
                                           "response")
        for event_type, hook in self.old.webhooks.items():
            if event_type not in self.new.webhooks:
                yield self.change("webhook-removed", event_type, hook.pointer, event_type, None,
                                  f"{event_type}: webhook removed (the API no longer declares it)")

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


