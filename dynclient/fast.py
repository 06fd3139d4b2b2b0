"""Fast verdicts: the translated schemas compiled with jsonschema-rs, when it is installed.

jsonschema-rs says valid or invalid in microseconds where `jsonschema` takes hundreds (a chat
completion request and response: +8 µs against +630 µs, measured in benchmarks/). It only gives
the verdict: a payload it rejects is judged again, and explained, by the reference validator
(`dynclient.explain`), so every error a user reads is the same as without it.

What jsonschema-rs sees is the 2020-12 translation of `dynclient.schema`, reshaped by
`fast_form`:

* the discriminator annotation (`x-dynclient-discriminator`, which the reference validator acts
  on) becomes plain 2020-12 with the same verdict: for an object, the branches its
  discriminating value names (any one of them accepting is enough); for an unknown or absent
  value, the plain `oneOf`/`anyOf` (declared discriminators) or a rejection (inferred ones);
  for anything else, the plain keyword;
* annotations (descriptions, examples, `x-*`, `format`, which neither validator asserts) are
  dropped, which makes building a validator several times cheaper;
* `urn:dynclient:` URIs are percent-encoded, since JSON pointers may hold `{` and `}`;
* `pattern`s have ECMA-262's `\\d \\w \\s` written out as classes (`vocabulary.ecma_pattern`): the
  backtracking engine jsonschema-rs uses for lookaround reads `\\d` as any Unicode digit.

Each compiled schema gets a jsonschema-rs Registry of the resources it reaches, and nothing
more, so building one costs what its own closure costs. A schema jsonschema-rs refuses (a
pattern its regex engine does not take, say) is left to the reference validator alone.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable
from urllib.parse import quote

from .vocabulary import DISCRIMINATOR, ONE_SCHEMA, SCHEMA_LISTS, SCHEMA_MAPS, ecma_pattern

try:
    import jsonschema_rs
except ImportError:   # optional: without it every verdict comes from `jsonschema`
    jsonschema_rs = None

log = logging.getLogger("dynclient")

DROPPED = frozenset({"description", "title", "example", "examples", "default", "deprecated", "readOnly",
                     "writeOnly", "externalDocs", "xml", "$comment", "format", "contentMediaType",
                     "contentEncoding", "contentSchema"})
URI_SAFE = ":/~-._!$&'()*+,;=@"


def available() -> bool:
    return jsonschema_rs is not None


def safe_uri(uri: str) -> str:
    return quote(uri, safe=URI_SAFE)


def fast_form(schema: Any) -> tuple[Any, list[str]]:
    """(the schema as jsonschema-rs gets it, the URIs its `$ref`s name)."""
    refs: list[str] = []
    return _form(schema, refs), refs


def _form(node: Any, refs: list[str]) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key in DROPPED or key.startswith("x-"):
            continue
        if key == "$ref":
            refs.append(value)
            out[key] = safe_uri(value)
        elif key in ONE_SCHEMA:
            out[key] = [_form(v, refs) for v in value] if isinstance(value, list) else _form(value, refs)
        elif key in SCHEMA_LISTS:
            out[key] = [_form(v, refs) for v in value]
        elif key == "patternProperties":
            out[key] = {ecma_pattern(name): _form(v, refs) for name, v in value.items()}
        elif key in SCHEMA_MAPS:
            out[key] = {name: _form(v, refs) for name, v in value.items()}
        elif key == "pattern" and isinstance(value, str):
            out[key] = ecma_pattern(value)
        else:
            out[key] = value
    rule = node.get(DISCRIMINATOR)
    if isinstance(rule, dict) and rule.get("keyword") in out:
        keyword = rule["keyword"]
        out["allOf"] = [*out.get("allOf", ()), _discriminated(out.pop(keyword), rule, keyword)]
    return out


def _discriminated(branches: list, rule: dict, keyword: str) -> dict:
    """The verdict of `explain._discriminated`, in plain 2020-12. Each case checks the discriminating
    value before its branches (`allOf` is taken in order, a schema's own keywords are not: sibling
    keywords put the branch first, a chat message was judged against each earlier role's schema
    before its own; the request of createChatCompletion took 1.71 µs, now 1.33)."""
    prop, named = rule["property"], rule["all"]
    cases: list[Any] = []
    for value, indices in named.items():
        guard = {"required": [prop], "properties": {prop: {"const": value}}}
        chosen = branches[indices[0]] if len(indices) == 1 else {"anyOf": [branches[i] for i in indices]}
        cases.append({"allOf": [guard, chosen]})
    if not rule.get("inferred"):   # a declared discriminator: an absent or unknown value leaves it to oneOf/anyOf
        unnamed: dict = {keyword: branches}
        if named:
            unnamed = {"allOf": [{"not": {"required": [prop], "properties": {prop: {"enum": list(named)}}}}, unnamed]}
        cases.append(unnamed)
    return {"if": {"type": "object"}, "then": {"anyOf": cases} if cases else False, "else": {keyword: branches}}


# jsonschema-rs descends a recursive schema on the native stack and crashes the process when the
# instance nests deeply enough (measured: 100,000 levels on the main thread, 990 on a thread with
# a 256 KB stack). Under a schema that refers to itself, an instance nested deeper than this is
# left to jsonschema, which raises RecursionError instead, as it always did.
MAX_DEPTH = 100


def refers_to_itself(root: str, refs_of: Callable[[str], list[str]]) -> bool:
    """Whether the `$ref` graph reachable from `root` has a cycle (iterative depth-first search)."""
    state: dict[str, int] = {root: 1}     # 1: on the current path, 2: done
    stack = [(root, iter(refs_of(root)))]
    while stack:
        node, refs = stack[-1]
        ref = next(refs, None)
        if ref is None:
            state[node] = 2
            stack.pop()
        elif state.get(ref) == 1:
            return True
        elif ref not in state:
            state[ref] = 1
            stack.append((ref, iter(refs_of(ref))))
    return False


# jsonschema-rs (0.61.2, the newest on PyPI) compiles a `$ref` in place unless its target is already
# on the path of references being compiled, so its work grows with the number of paths through the
# `$ref` graph: schemas that refer to each other (Stripe's customer and its expandable fields,
# eight schemas each naming the seven others through anyOf) take minutes and gigabytes, and the
# compile cannot be interrupted. `compile_cost` counts that work beforehand, by the same rule, and
# stops counting at the budget; a schema over it is left to the reference validator alone.
# Measured with jsonschema-rs 0.61.2: OpenAI's costliest schema (the 2026-08-21 Responses event
# stream) costs 83,424 and compiles in 0.25 s; eight schemas naming each other cost 493,201 and
# take 59 s (seven: 60,668, 0.7 s); Stripe's customer response costs 147 million.
COMPILE_BUDGET = 100_000


def compile_cost(root: str, refs_of: Callable[[str], list[str]], size_of: Callable[[str], int],
                 budget: int = COMPILE_BUDGET) -> int:
    """The schema nodes jsonschema-rs would build for `root`: each resource once per path of `$ref`s
    that reaches it without passing through it; counting stops past `budget`."""
    cost = size_of(root)
    on_path = {root}
    stack = [(root, iter(refs_of(root)))]
    while stack and cost <= budget:
        node, refs = stack[-1]
        ref = next(refs, None)
        if ref is None:
            on_path.discard(node)
            stack.pop()
        elif ref in on_path:
            cost += 1              # a cycle: compiled lazily, at validation time
        else:
            cost += size_of(ref)
            on_path.add(ref)
            stack.append((ref, iter(refs_of(ref))))
    return cost


def size(form: Any) -> int:
    """The number of schema objects and arrays in a jsonschema-rs form."""
    count, todo = 0, [form]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            count += 1
            todo.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            count += 1
            todo.extend(v for v in node if isinstance(v, (dict, list)))
    return count


def shallow(value: Any, room: int = MAX_DEPTH) -> bool:
    """Whether containers in `value` nest at most `room` deep."""
    if isinstance(value, dict):
        children: Iterable = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return True
    if room == 0:
        return False
    return all(shallow(child, room - 1) for child in children if isinstance(child, (dict, list, tuple)))


def build(root: str, resources: Iterable[tuple[str, Any]]) -> Any:
    """A jsonschema-rs validator of `{"$ref": root}`, or None when jsonschema-rs cannot take it."""
    if jsonschema_rs is None:
        return None
    try:
        registry = jsonschema_rs.Registry([(safe_uri(uri), form) for uri, form in resources],
                                          draft=jsonschema_rs.Draft202012)
        return jsonschema_rs.Draft202012Validator({"$ref": safe_uri(root)}, registry=registry,
                                                  validate_formats=False)
    except Exception as exc:  # noqa: BLE001 - whatever it refuses, the reference validator takes
        log.debug("jsonschema-rs cannot compile %s (%s: %s); jsonschema alone validates it",
                  root, type(exc).__name__, exc)
        return None
