"""Mend, at load time, the schema defects whose intent is unambiguous (issue #20).

Published documents carry defects that stop a schema from compiling, and so make every operation
that reaches it uncallable. Where only one reading is possible, the loader mends them before
anything else sees the document, and says so: each :class:`Repair` names the JSON pointer, what
was there and what it became; they are kept on the Document (and in its cache entry, so a warm
start neither hides nor repeats them), listed in ``Spec.problems``, logged once, and turned into
an Overlay 1.0 draft by ``dynclient lint --overlay-out`` so a user can pin the fix.
``load(..., repair=False)`` (and ``Spec``/``Client`` with ``repair=False``) turns the pass off.

| code | seen in | what was there | what it becomes |
|---|---|---|---|
| type-alias | 2024-10-01, 2024-12-04 (`float`), 2025-03-22 (`int64`) | `type: float`, `double`, `int`, `int32`, `int64`, `long`, `bool`, `file` (also in a type list) | the JSON type (`number`, `integer`, `boolean`, `string`); the alias kept as `format` when there is none (`file` -> `format: binary`) |
| type-case | | `type: String` | `type: string` |
| required-boolean | | `required: true` on a property | the property's name added to its parent's `required` list; `false` (or `true` outside `properties`) dropped |
| required-string | 2024-01-18 (`CompletionUsage`) | `required: name`, or `required: "a, b"` naming properties | `required: [name]`, `[a, b]` |
| required-mapping | | `required: {a: true, b: false}` | `required: [a]` |
| required-null | | `required:` with no value | dropped |
| required-unsatisfiable | 2023-11-28 to 2024-09-28 (createRun, createThreadAndRun) | an object schema with `additionalProperties: false` requiring a property it does not declare: no value is valid | the undeclared names dropped from `required` |

Only schemas are walked (``components/schemas`` and every ``schema`` slot, then their subschemas),
never values (``example``, ``enum``, ``default``, ``x-*``), so a Parameter's ``required: true`` is
left alone. Only values the schema translator refuses are touched, and schemas no value can
satisfy: a schema that compiles and admits a value is never changed (tests/test_repair.py checks
it as a property), and a 3.0 ``$ref`` node, whose siblings are ignored, is left as it is.
Mending twice changes nothing the second time.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Iterator

from .vocabulary import ONE_SCHEMA, SCHEMA_LISTS, SCHEMA_MAPS, short_repr

__all__ = ["REMOVED", "REPAIR_VERSION", "Repair", "apply_repairs", "find_repairs", "repaired"]

REPAIR_VERSION = 2   # part of the cache key: bump whenever the repairs made for the same bytes would change
REMOVED = "<removed>"

TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
# alias -> (JSON type, the format it implies)
TYPE_ALIASES = {"float": ("number", "float"), "double": ("number", "double"),
                "int": ("integer", "int"), "int32": ("integer", "int32"), "int64": ("integer", "int64"),
                "long": ("integer", "long"), "bool": ("boolean", None), "file": ("string", "binary")}
VALUES = frozenset({"example", "examples", "enum", "const", "default", "discriminator", "xml", "externalDocs"})


@dataclass(frozen=True)
class Repair:
    """One mend: `pointer` is the keyword changed; `changes` are (pointer, new value or REMOVED),
    applied in order, each a key of a mapping set or removed."""

    code: str
    pointer: str
    was: Any
    now: Any
    changes: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        if self.now == REMOVED:
            now = "removed"
        elif self.code == "required-boolean":
            now = f"the parent's required {short_repr(self.now)}"
        else:
            now = short_repr(self.now)
        return f"{self.pointer}: repaired {self.code}: {short_repr(self.was)} -> {now}"

    def as_record(self) -> list:
        """Plain data for the cache entry."""
        return [self.code, self.pointer, self.was, self.now, [list(c) for c in self.changes]]

    @classmethod
    def from_record(cls, record: list) -> "Repair":
        code, pointer, was, now, changes = record
        return cls(code, pointer, was, now, tuple((p, v) for p, v in changes))


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def find_repairs(data: dict) -> list[Repair]:
    """Every repair the document needs, in document order; reads only."""
    return _find(data) if _suspect(data) else []


def _find(data: dict) -> list[Repair]:
    """The exact walk: every schema, in context, with its pointer."""
    legacy = not str(data.get("openapi", "")).startswith("3.1")
    found: list[Repair] = []
    seen: set[int] = set()   # a node reached twice (a YAML alias) is mended once
    for node, pointer, is_property in _schemas(data, legacy):
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.extend(_repairs_of(node, pointer, legacy, is_property))
    return found


NAME_MAPS = frozenset({*SCHEMA_MAPS, "schemas"})   # maps whose keys are names, not keywords
# `type` values that need no repair: JSON types, and the security scheme types beside them.
PLAIN_TYPES = TYPES | {"http", "apiKey", "oauth2", "openIdConnect", "mutualTLS"}


def _suspect(data: dict) -> bool:
    """Whether any mapping of the document might need a repair, judged without context: False
    means none does, True sends the document to the exact walk of find_repairs. Most documents
    need nothing, and this costs a fraction of the exact walk (one pass over the containers, no
    pointers): ~10 ms on 2026-08-21's 24,000 containers, where the exact walk takes ~45."""
    dict_, list_, str_, plain, skipped, names = dict, list, str, PLAIN_TYPES, VALUES, NAME_MAPS
    stack = [data]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if node.__class__ is dict_:
            kind = node.get("type")
            if kind is not None:
                if kind.__class__ is str_:
                    if kind not in plain:
                        return True
                elif kind.__class__ is list_ and not all(k.__class__ is str_ and k in plain for k in kind):
                    return True
            if "required" in node:
                required = node["required"]
                if required.__class__ is list_:
                    if required and node.get("additionalProperties") is False:
                        properties = node.get("properties")
                        if properties.__class__ is dict_ and not all(n in properties for n in required
                                                                     if n.__class__ is str_):
                            return True
                elif not (required.__class__ is bool and ("in" in node or "schema" in node or "content" in node)):
                    return True   # not a Parameter's, Header's or request body's flag
            for key, value in node.items():
                if value.__class__ is dict_:
                    if key in names:   # a map of names: a property may be called `default` or `example`
                        for item in value.values():
                            if item.__class__ is dict_ or item.__class__ is list_:
                                push(item)
                    elif key not in skipped and key[:2] != "x-":
                        push(value)
                elif value.__class__ is list_ and key not in skipped and key[:2] != "x-":
                    push(value)
        else:
            for value in node:
                if value.__class__ is dict_ or value.__class__ is list_:
                    push(value)
    return False


def apply_repairs(data: dict, repairs: list[Repair]) -> None:
    """Make the changes of each repair, in place."""
    for repair in repairs:
        for pointer, value in repair.changes:
            parent_pointer, _, key = pointer.rpartition("/")
            parent = _resolve(data, parent_pointer)
            key = key.replace("~1", "/").replace("~0", "~")
            if value is REMOVED or value == REMOVED:
                parent.pop(key, None)
            else:
                parent[key] = copy.deepcopy(value)


def repaired(data: dict) -> tuple[dict, list[Repair]]:
    """(the data, mended on a copy when it needs any repair, else itself; the repairs)."""
    repairs = find_repairs(data)
    if repairs:
        data = copy.deepcopy(data)
        apply_repairs(data, repairs)
    return data, repairs


def _resolve(data: Any, pointer: str) -> Any:
    node = data
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


# --- where the schemas are ----------------------------------------------------------


def _schemas(data: dict, legacy: bool) -> Iterator[tuple[dict, str, bool]]:
    """(schema, pointer, whether it is a property's) of every schema object of the document that a
    validator reads, parents before children. In 3.0 the siblings of `$ref` are not read, so
    nothing below them is either."""
    stack: list[tuple[Any, str, bool]] = [(data, "", False)]
    while stack:
        node, pointer, is_schema = stack.pop()
        if is_schema:
            if node.__class__ is not dict:
                continue
            yield node, pointer, is_schema == "property"
            if legacy and "$ref" in node:
                continue
            children: list[tuple[Any, str, Any]] = []
            for key, value in node.items():
                if key in ONE_SCHEMA:
                    if value.__class__ is list:   # items as a list (draft 4 tuples)
                        children += [(v, f"{pointer}/{key}/{i}", True) for i, v in enumerate(value)]
                    else:
                        children.append((value, f"{pointer}/{key}", True))
                elif key in SCHEMA_LISTS and value.__class__ is list:
                    children += [(v, f"{pointer}/{key}/{i}", True) for i, v in enumerate(value)]
                elif key in SCHEMA_MAPS and value.__class__ is dict:
                    kind = "property" if key == "properties" else True
                    children += [(v, f"{pointer}/{key}/{escape(str(k))}", kind) for k, v in value.items()]
            stack.extend(reversed(children))
            continue
        if node.__class__ is dict:
            children = []
            for key, value in node.items():
                if value.__class__ is not dict and value.__class__ is not list:
                    continue
                key = str(key)
                if pointer == "/components/schemas":   # names: a component may be called `example`
                    children.append((value, f"{pointer}/{escape(key)}", True))
                elif not (key in VALUES or key.startswith("x-")):
                    children.append((value, f"{pointer}/{escape(key)}", key == "schema"))
            stack.extend(reversed(children))
        elif node.__class__ is list:
            stack.extend(reversed([(v, f"{pointer}/{i}", False) for i, v in enumerate(node)]))


# --- the repairs --------------------------------------------------------------------


def _repairs_of(node: dict, pointer: str, legacy: bool, is_property: bool) -> list[Repair]:
    if legacy and "$ref" in node:
        return []   # 3.0: the siblings of $ref are ignored, so they break nothing
    found = []
    if "type" in node:
        found += _type(node, pointer)
    required = node.get("required", [])
    names = required
    if "required" in node and not _is_name_list(required) and not (is_property and isinstance(required, bool)):
        fixed = _required(node, pointer)
        if fixed is not None:
            found.append(fixed)
            names = fixed.now if isinstance(fixed.now, list) else []
    properties = node.get("properties")
    if isinstance(properties, dict):
        names = list(names) if isinstance(names, list) else []
        for name, prop in properties.items():
            if not (isinstance(prop, dict) and isinstance(prop.get("required"), bool)):
                continue
            if legacy and "$ref" in prop:
                continue
            at = f"{pointer}/properties/{escape(str(name))}/required"
            changes: list[tuple[str, Any]] = [(at, REMOVED)]
            if prop["required"] and name not in names:
                names.append(name)
                changes.append((f"{pointer}/required", list(names)))
            now = list(names) if prop["required"] else REMOVED
            found.append(Repair("required-boolean", at, prop["required"], now, tuple(changes)))
    unsatisfiable = _unsatisfiable(node, pointer, names)
    if unsatisfiable:
        found.append(unsatisfiable)
    return found


def _unsatisfiable(node: dict, pointer: str, names: Any) -> Repair | None:
    """`required` naming a property that `additionalProperties: false` forbids, on an object schema:
    no value can be valid (2023-11-28 to 2024-09-28 require `thread_id`, a path parameter, in
    createRun's body), so the name is dropped from `required`."""
    properties = node.get("properties")
    kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
    if node.get("additionalProperties") is not False or not isinstance(properties, dict) \
            or "patternProperties" in node or "object" not in kinds or not set(kinds) <= {"object", "null"} \
            or not _is_name_list(names):
        return None
    kept = [n for n in names if n in properties]
    if len(kept) == len(names):
        return None
    at = f"{pointer}/required"
    return Repair("required-unsatisfiable", at, list(names), kept or REMOVED, ((at, kept or REMOVED),))


def _type(node: dict, pointer: str) -> list[Repair]:
    declared = node["type"]
    listed = isinstance(declared, list)
    names = declared if listed else [declared]
    if not all(isinstance(t, str) for t in names) or all(t in TYPES for t in names):
        return []
    fixed, formats, codes = [], [], set()
    for name in names:
        if name in TYPES:
            fixed.append(name)
        elif name.lower() in TYPES:
            fixed.append(name.lower())
            codes.add("type-case")
        elif name.lower() in TYPE_ALIASES:
            kind, implied = TYPE_ALIASES[name.lower()]
            fixed.append(kind)
            formats.append(implied)
            codes.add("type-alias")
        else:
            return []   # an unknown name: nothing says what was meant
    fixed = list(dict.fromkeys(fixed))
    now: Any = fixed if listed else fixed[0]
    changes: list[tuple[str, Any]] = [(f"{pointer}/type", now)]
    implied_formats = [f for f in dict.fromkeys(formats) if f]
    if "format" not in node and len(implied_formats) == 1:
        changes.append((f"{pointer}/format", implied_formats[0]))
    code = "type-alias" if "type-alias" in codes else "type-case"
    shown = now if len(changes) == 1 else {"type": now, "format": implied_formats[0]}
    return [Repair(code, f"{pointer}/type", declared, shown, tuple(changes))]


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _required(node: dict, pointer: str) -> Repair | None:
    """The repair of a schema's own `required` that is not a list of names, when its meaning is plain."""
    value = node["required"]
    at = f"{pointer}/required"
    properties = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    if value is None or isinstance(value, bool):
        # `required: true` on a schema that is not a property names nothing; null is nothing.
        code = "required-null" if value is None else "required-boolean"
        return Repair(code, at, value, REMOVED, ((at, REMOVED),))
    if isinstance(value, str):
        names = [value]
        if value not in properties:
            tokens = [t for t in re.split(r"[\s,]+", value) if t]
            if tokens and all(t in properties for t in tokens):
                names = tokens
        return Repair("required-string", at, value, names, ((at, names),))
    if isinstance(value, dict) and value and all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items()):
        names = [k for k, v in value.items() if v]
        change = (at, names) if names else (at, REMOVED)
        return Repair("required-mapping", at, value, names or REMOVED, (change,))
    return None
