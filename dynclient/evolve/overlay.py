"""OpenAPI Overlay 1.0: ordered actions, each a JSONPath `target` with `update` or `remove: true`.

    overlay: 1.0.0
    info: {title: Mend OpenAI 2026-08-21, version: 1.0.0}
    actions:
      - target: $.components.schemas.FineTuneDPOHyperparameters.properties.beta
        description: boolean exclusiveMinimum is 3.0; 3.1 wants the number
        update: {exclusiveMinimum: 0}

Applied at load time: ``Spec(source, overlays=[path_or_dict, ...])`` (and
``Client(..., overlays=...)``). A named spec whose entry in spec/sources.json
lists ``overlays`` gets those first; ``overlays=False`` turns every overlay off.

Semantics, from the specification: `update` on an object is merged into it
(objects recursively; any other value replaces); `update` on an array appends
to it; `remove` deletes each selected node from its parent. An action whose
target selects nothing is not an error (the spec lets tools warn); `applied()`
reports how many nodes each action touched.

JSONPath: the subset overlays need, without a new dependency: `$`, `.name`,
`['name']` / `["name"]`, `[0]`, `.*` / `[*]`, `..name` / `..*` / `..['name']`
(recursive descent), and filters `[?(@.key == 'v')]`, `!=`, or `[?(@.key)]`
(present), where `@.a.b` may go deeper and the value is a quoted string, a
number, true, false or null.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterator


from ..errors import SpecError
from ..loader import Document, Mend


__all__ = ["OverlayError", "apply", "compile_path", "mend_for", "select", "with_overlays"]


class OverlayError(SpecError):
    """An overlay that is not Overlay 1.0, or a JSONPath outside the supported subset."""


# --- JSONPath ------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<descend>\.\.)
  | \.(?P<dotname>[A-Za-z_$][\w$-]*|\*)
  | \[\s*(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]
  | \[\s*(?P<index>-?\d+)\s*\]
  | \[\s*(?P<star>\*)\s*\]
  | \[\s*\?\(?\s*(?P<filter>@[^\]]*?)\s*\)?\s*\]
""", re.VERBOSE)
_FILTER = re.compile(r"""@(?P<path>(?:\.[\w$-]+|\['[^']*'\])+)\s*(?:(?P<op>==|!=)\s*(?P<value>.+))?$""")


@dataclass(frozen=True)
class Step:
    kind: str              # child | index | wildcard | filter
    key: Any = None        # the name, the index, or (path, op, value) for a filter
    descend: bool = False  # `..`: apply at every depth


_EXACT = re.compile(r"\$(?:\['[^'\\]*'\]|\[\d+\])*")   # $['a']['b'][0]: what lint drafts, read in one go
_EXACT_PART = re.compile(r"\['([^'\\]*)'\]|\[(\d+)\]")


def compile_path(path: str) -> tuple[Step, ...]:
    if _EXACT.fullmatch(path):
        return tuple(Step("child", name) if index == "" else Step("index", int(index))
                     for name, index in _EXACT_PART.findall(path))
    if not path.startswith("$"):
        raise OverlayError(f"JSONPath {path!r} must start with $")
    steps, pos, descend = [], 1, False
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise OverlayError(f"JSONPath {path!r}: cannot read {path[pos:]!r} (supported: .name, ['name'], "
                               f"[0], [*], .., [?(@.key == 'v')])")
        pos = m.end()
        if m["descend"]:
            if path[pos:pos + 1] == ".":
                raise OverlayError(f"JSONPath {path!r}: '...' is not JSONPath")
            descend = True
            if pos < len(path) and (path[pos].isalpha() or path[pos] in "_*$"):
                pos -= 1   # `..name` reads as `..` then `.name`
            continue
        steps.append(_step(m, path, descend))
        descend = False
    if descend:
        raise OverlayError(f"JSONPath {path!r} ends with '..'")
    return tuple(steps)


def _step(m: re.Match, path: str, descend: bool) -> Step:
    if m["dotname"] == "*" or m["star"]:
        return Step("wildcard", None, descend)
    if m["dotname"]:
        return Step("child", m["dotname"], descend)
    if m["quoted"]:
        name = re.sub(r"\\(.)", r"\1", m["quoted"][1:-1])   # \' \" \\ stand for themselves
        return Step("child", name, descend)
    if m["index"]:
        return Step("index", int(m["index"]), descend)
    f = _FILTER.match(m["filter"])
    if f is None:
        raise OverlayError(f"JSONPath {path!r}: unsupported filter {m['filter']!r} "
                           f"(supported: @.key, @.key == value, @.key != value)")
    keys = tuple(k[2:-2] if k.startswith("[") else k for k in re.findall(r"\['[^']*'\]|[\w$-]+", f["path"]))
    value = None
    if f["op"]:
        try:
            value = _yaml().safe_load(f["value"]) if f["value"][0] in "'\"" else json.loads(f["value"])
        except ValueError:
            raise OverlayError(f"JSONPath {path!r}: cannot read the value {f['value']!r}") from None
    return Step("filter", (keys, f["op"], value), descend)


Location = tuple   # the keys and indices from the root to a node


def select(document: Any, path: str | tuple[Step, ...]) -> list[Location]:
    """The locations a JSONPath selects, in document order, each once."""
    steps = compile_path(path) if isinstance(path, str) else path
    current: list[tuple[Location, Any]] = [((), document)]
    for step in steps:
        found: list[tuple[Location, Any]] = []
        for location, node in current:
            for base, value in (_descendants(location, node) if step.descend else [(location, node)]):
                found.extend(_apply_step(step, base, value))
        seen: set = set()
        current = [(loc, v) for loc, v in found if not (loc in seen or seen.add(loc))]
    return [loc for loc, _ in current]


def _descendants(location: Location, node: Any) -> Iterator[tuple[Location, Any]]:
    stack = [(location, node)]
    while stack:
        loc, value = stack.pop()
        yield loc, value
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend(reversed([(loc + (k,), v) for k, v in children]))


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        yield from enumerate(node)


def _apply_step(step: Step, location: Location, node: Any) -> Iterator[tuple[Location, Any]]:
    if step.kind == "child":
        if isinstance(node, dict) and step.key in node:
            yield location + (step.key,), node[step.key]
    elif step.kind == "index":
        if isinstance(node, list) and -len(node) <= step.key < len(node):
            yield location + (step.key % len(node),), node[step.key]
    elif step.kind == "wildcard":
        for key, value in _children(node):
            yield location + (key,), value
    else:
        for key, value in _children(node):
            if _matches(value, *step.key):
                yield location + (key,), value


def _matches(node: Any, keys: tuple, op: str | None, value: Any) -> bool:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return op == "!="
        node = node[key]
    return True if op is None else (node == value) == (op == "==")


def resolve(document: Any, location: Location) -> Any:
    for key in location:
        document = document[key]
    return document


# --- overlays ------------------------------------------------------------------------


def read_overlay(source: Any) -> dict:
    """An overlay from a dict, or a YAML/JSON file (a bare name is looked up in the shipped spec/overlays/)."""
    if isinstance(source, dict):
        overlay, origin = source, "<dict>"
    else:
        origin, text = _overlay_text(source)
        try:
            overlay = json.loads(text) if text.lstrip().startswith("{") else _load_yaml(text)
        except ValueError as exc:
            raise OverlayError(f"overlay {origin}: not YAML or JSON: {exc}") from None
    if not isinstance(overlay, dict) or not str(overlay.get("overlay", "")).startswith("1.") \
            or not isinstance(overlay.get("actions"), list):
        raise OverlayError(f"overlay {origin}: not an Overlay 1.x document (needs `overlay: 1.0.0` and `actions`)")
    for i, action in enumerate(overlay["actions"]):
        if not isinstance(action, dict) or not isinstance(action.get("target"), str) \
                or ("update" in action) == bool(action.get("remove")):
            raise OverlayError(f"overlay {origin}: actions[{i}] needs a `target` and either `update` or "
                               f"`remove: true`")
    return overlay


def _overlay_text(source: Any) -> tuple[str, str]:
    """(origin, text) of an overlay file, or of a shipped one named by its file name."""
    origin = os.fspath(source)
    path = origin if os.path.exists(origin) else None
    try:
        text = open(path, encoding="utf-8").read() if path else \
            resources.files("dynclient._spec").joinpath("overlays", origin).read_text(encoding="utf-8")
    except OSError as exc:
        raise OverlayError(f"overlay {origin}: cannot read it: {exc.strerror or exc}") from None
    return origin, text


def apply(document: dict, overlay: Any) -> list[int]:
    """Apply one overlay's actions in order, in place; returns how many nodes each action touched."""
    overlay = read_overlay(overlay)
    counts = []
    for action in overlay["actions"]:
        locations = select(document, action["target"])
        if action.get("remove"):
            # Deepest and last first, so removing one node never shifts another's index.
            for location in sorted(locations, reverse=True,
                                   key=lambda loc: (len(loc), loc[-1] if loc and isinstance(loc[-1], int) else -1)):
                if location:
                    parent = resolve(document, location[:-1])
                    del parent[location[-1]]
        else:
            for location in locations:
                target = resolve(document, location)
                if isinstance(target, list):
                    target.append(_copy(action["update"]))
                elif isinstance(target, dict) and isinstance(action["update"], dict):
                    merge(target, action["update"])
                elif location:
                    resolve(document, location[:-1])[location[-1]] = _copy(action["update"])
        counts.append(len(locations))
    return counts


def merge(target: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = _copy(value)


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def shipped_overlays(source: Any) -> list[str]:
    """The overlays spec/sources.json lists for a named spec (file names in spec/overlays/)."""
    from .. import sources
    if not sources.is_name(source):
        return []
    return list(sources.catalogue()["specs"][source].get("overlays") or [])


def with_overlays(document: Document, source: Any, overlays: Any) -> Document:
    """The document with the shipped overlays of a named source, then the caller's, applied.

    `overlays=False` applies none. The data is changed in place when it was just
    loaded from bytes, and copied when the caller handed in a dict or a Document.
    """
    if overlays is False:
        return document
    chosen = [*shipped_overlays(source), *(overlays or [])]
    if not chosen:
        return document
    data = document.data
    if isinstance(source, (dict, Document)):
        data = _copy(data)
    for overlay in chosen:
        apply(data, overlay)
    return Document(data, document.origin, document.sha256, document.repairs)


def mend_for(source: Any, overlays: Any) -> Mend | None:
    """What `with_overlays` would apply to the document loaded from `source`, as the loader's Mend,
    so that the mended document is cached: its key is the overlays' content (files read, dicts
    as canonical JSON), so editing an overlay applies it afresh. None when nothing applies."""
    if overlays is False:
        return None
    chosen = [*shipped_overlays(source), *(overlays or [])]
    if not chosen:
        return None
    try:
        texts = [json.dumps(o, sort_keys=True) if isinstance(o, dict) else _overlay_text(o)[1] for o in chosen]
        key: str | None = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    except (TypeError, ValueError):   # a dict that is not JSON data: applied at every load, never cached
        key = None

    def apply_all(data: dict) -> None:
        for overlay in chosen:
            apply(data, overlay)

    return Mend(key, apply_all)


def _yaml():
    import yaml   # only for overlays written in YAML: `import dynclient` stays free of PyYAML
    return yaml


def _load_yaml(text: str) -> Any:
    yaml = _yaml()
    try:   # libyaml: 10x faster on a 130 KB overlay
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
