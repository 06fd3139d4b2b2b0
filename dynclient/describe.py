"""What an operation takes and returns, as data and as readable text.

`describe(spec_or_schemas, operation_id)` walks the translated (2020-12)
schemas of one operation and returns plain data: method, path, parameters,
the request body of each media type as a tree of fields (type, required,
enum, nullable, oneOf/anyOf branches with their titles and discriminator
values), an example body that validates, and the responses in brief.
`render_text(info, width)` turns that data into wrapped text for a terminal
or a docstring; it never prints a raw schema.

The tree stops at `max_depth` levels and at any schema already being
expanded above (recursive schemas such as OpenAI's `CompoundFilter`), so the
walk is bounded on every document.
"""

from __future__ import annotations

import json
import html
import re
import textwrap
from typing import Any, Callable

from .schema import DISCRIMINATOR, SchemaSet
from .spec import Operation, Spec

MAX_ENUM_SHOWN = 8
SUMMARY_CHARS = 200
CONSTRAINTS = (("minLength", "min length {}"), ("maxLength", "max length {}"),
               ("minItems", "min items {}"), ("maxItems", "max items {}"),
               ("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
               ("exclusiveMaximum", "< {}"), ("pattern", "matches {}"), ("format", "format {}"))


def describe(source: Any, operation_id: str, *, max_depth: int = 4, example: bool = True) -> dict:
    """Everything a caller needs to know about one operation, as JSON-able data.

    `source` is a Spec, a SchemaSet or a Client (anything with `.schemas`).
    """
    schemas = _schema_set(source)
    op = find_operation(schemas.spec, operation_id)
    return {
        "operation_id": op.operation_id,
        "method": op.method,
        "path": op.path,
        "summary": op.summary,
        "description": op.description,
        "deprecated": op.deprecated,
        "tags": list(op.tags),
        "parameters": [_parameter(schemas, p, max_depth) for p in op.parameters],
        "request_body": _request_body(schemas, op, max_depth, example),
        "responses": {status: _response(schemas, r) for status, r in op.responses.items()},
    }


def _schema_set(source: Any) -> SchemaSet:
    if isinstance(source, SchemaSet):
        return source
    if isinstance(source, Spec):
        return SchemaSet(source)
    if isinstance(getattr(source, "schemas", None), SchemaSet):
        return source.schemas
    return SchemaSet(Spec(source))


def find_operation(spec: Spec, operation_id: str) -> Operation:
    """The operation, or the webhook of that event type (`batch.completed`: the request the API sends)."""
    try:
        return spec.operations[operation_id]
    except KeyError:
        if operation_id in spec.webhooks:
            return spec.webhook_operation(operation_id)
        import difflib
        from .errors import UnknownOperationError
        raise UnknownOperationError(operation_id,
                                    difflib.get_close_matches(operation_id, spec.operations, 3, 0.6)) from None


def _parameter(schemas: SchemaSet, p: Any, max_depth: int) -> dict:
    shape: dict = {"type": "string"}
    if p.schema is not None:
        root, resolve = schemas.translated(p.pointer, "request")
        shape = Walker(resolve, max_depth).shape(root, 0, frozenset())
    return {"name": p.name, "alias": p.alias, "in": p.location, "required": p.required,
            "type": shape.get("type", "any"), "enum": shape.get("enum"), "default": shape.get("default"),
            "nullable": shape.get("nullable", False), "deprecated": p.deprecated,
            "description": p.description or shape.get("description", "")}


def _request_body(schemas: SchemaSet, op: Operation, max_depth: int, example: bool) -> dict | None:
    body = op.request_body
    if body is None:
        return None
    media_types = {}
    for content_type, media in body.content.items():
        entry: dict[str, Any] = {"type": "any"}
        if media.schema is not None:
            root, resolve = schemas.translated(media.pointer, "request")
            entry = Walker(resolve, max_depth).shape(root, 0, frozenset())
            if example:
                entry["example"], entry["example_error"] = _example(schemas, media.pointer)
        media_types[content_type] = entry
    return {"required": body.required, "content": media_types}


def _example(schemas: SchemaSet, pointer: str) -> tuple[Any, str | None]:
    from .testing.synth import SynthesisError, synthesize
    try:
        return synthesize(schemas, pointer, "request"), None   # synthesize checks it validates
    except SynthesisError as exc:
        return None, str(exc)


def _response(schemas: SchemaSet, response: Any) -> dict:
    media_types = {}
    for content_type, media in response.content.items():
        if media.schema is None:
            media_types[content_type] = {"type": "any"}
            continue
        root, resolve = schemas.translated(media.pointer, "response")
        shape = Walker(resolve, 1).shape(root, 0, frozenset())
        media_types[content_type] = {key: shape[key] for key in ("type", "ref", "title", "enum") if key in shape}
        fields = shape.get("fields") or ()
        if fields:
            media_types[content_type]["fields"] = [f["name"] for f in fields]
        if shape.get("branches"):
            media_types[content_type]["branches"] = [b.get("title") for b in shape["branches"]]
    return {"description": response.description, "content": media_types}


# --- walking translated schemas --------------------------------------------------


def component_name(uri: str) -> str:
    """`urn:dynclient:request:/components/schemas/Foo` -> `Foo`; other pointers keep their last token."""
    return uri.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")


class Walker:
    """Builds the field tree of a translated schema, bounded in depth and cut at cycles."""

    def __init__(self, resolve: Callable[[str], Any], max_depth: int):
        self.resolve = resolve
        self.max_depth = max_depth

    def open(self, schema: Any, seen: frozenset) -> tuple[Any, dict, frozenset]:
        """Follow `$ref`s, open nullable wrappers and merge `allOf`: (schema, facts, seen)."""
        facts: dict[str, Any] = {}
        for _ in range(32):
            if not isinstance(schema, dict):
                break
            if "$ref" in schema:
                target = schema["$ref"]
                name = component_name(target)
                if "/components/" in target:
                    facts.setdefault("ref", name)
                if target in seen:
                    return {}, {**facts, "cycle": True}, seen
                seen = seen | {target}
                siblings = {k: v for k, v in schema.items() if k != "$ref"}
                target_schema = self.resolve(target)
                # 3.1 siblings (a description where the schema is used) say more than the target's own
                schema = {"allOf": [siblings, target_schema]} if siblings else target_schema
                continue
            branches = schema.get("anyOf")
            if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
                facts["nullable"] = True
                schema = next(b for b in branches if b != {"type": "null"})
                continue
            if "allOf" in schema:
                schema = self.merge(schema, seen)
                continue
            break
        return schema, facts, seen

    def merge(self, schema: dict, seen: frozenset) -> dict:
        """An allOf as one schema: properties and required united, the first of other keywords kept."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties: dict[str, Any] = {}
        required: list[str] = list(merged.pop("required", ()))
        for part in schema["allOf"]:
            part, facts, _ = self.open(part, seen)
            if not isinstance(part, dict):
                continue
            properties.update(part.get("properties") or {})
            required += part.get("required") or ()
            for key, value in part.items():
                if key not in ("properties", "required"):
                    merged.setdefault(key, value)
            if facts.get("nullable"):
                merged.setdefault("type", ["object", "null"])
        properties.update(merged.pop("properties", None) or {})
        if properties:
            merged["properties"] = properties
            merged.setdefault("type", "object")
        if required:
            merged["required"] = list(dict.fromkeys(required))
        return merged

    def shape(self, schema: Any, depth: int, seen: frozenset) -> dict:
        schema, out, seen = self.open(schema, seen)
        if out.get("cycle"):
            return {"type": "object", **out}
        if schema is True or schema == {}:
            return {"type": "any", **out}
        if not isinstance(schema, dict):
            return {"type": "nothing", **out}
        types = schema.get("type")
        types = list(types) if isinstance(types, list) else [types] if types else []
        if "null" in types:
            out["nullable"] = True
            types.remove("null")
        self.annotations(schema, out)
        enum = [schema["const"]] if "const" in schema else schema.get("enum")
        if isinstance(enum, list):
            if None in enum:
                out["nullable"] = True
            out["enum"] = [v for v in enum if v is not None]
        for keyword in ("oneOf", "anyOf"):
            if isinstance(schema.get(keyword), list):
                self.branches(schema, keyword, depth, seen, out)
                break
        if "items" in schema and (not types or types == ["array"]):
            items = self.shape(schema["items"], depth, seen)
            out["type"] = f"array of {_noun(items)}"
            for key in ("fields", "branches", "more", "cycle", "choice", "chosen_by"):
                if key in items:
                    out[key] = items[key]
            if items.get("enum"):
                out["enum"] = items["enum"]
            return out
        if "properties" in schema or types == ["object"]:
            self.object(schema, depth, seen, out)
        out.setdefault("type", " | ".join(types) if types else ("string" if "enum" in out else "any"))
        return out

    @staticmethod
    def annotations(schema: dict, out: dict) -> None:
        for key in ("title", "description", "default", "deprecated", "readOnly", "writeOnly"):
            if key in schema and key not in out:
                out[key] = schema[key]
        constraints = [text.format(schema[key]) for key, text in CONSTRAINTS if key in schema]
        if constraints:
            out["constraints"] = constraints

    def object(self, schema: dict, depth: int, seen: frozenset, out: dict) -> None:
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and extra:
            out["type"] = f"map of {_noun(self.shape(extra, depth + 1, seen))}"
            return
        out["type"] = "object"
        if not properties:
            return
        if depth >= self.max_depth:
            out["more"] = len(properties)
            return
        required = set(schema.get("required") or ())
        ordered = sorted(properties, key=lambda name: name not in required)   # required first, stable
        out["fields"] = [{"name": name, "required": name in required,
                          **self.shape(properties[name], depth + 1, seen)} for name in ordered]

    def branches(self, schema: dict, keyword: str, depth: int, seen: frozenset, out: dict) -> None:
        rule = schema.get(DISCRIMINATOR) if schema.get(DISCRIMINATOR, {}).get("keyword") == keyword else None
        values: dict[int, list[str]] = {}
        for value, indices in (rule or {}).get("all", {}).items():
            for i in indices:
                values.setdefault(i, []).append(value)
        shapes = []
        for i, branch in enumerate(schema[keyword]):
            if branch == {"type": "null"}:
                out["nullable"] = True
                continue
            shape = self.shape(branch, depth + 1, seen) if depth < self.max_depth else \
                self.shape_header(branch, seen)
            shape["title"] = shape.get("title") or shape.get("ref") or _noun(shape)
            if i in values:
                shape["discriminator"] = {"property": rule["property"], "values": values[i]}
            shapes.append(shape)
        out["choice"] = keyword
        if all(_is_scalar(s) for s in shapes):   # `string | "gpt-4o" | ...`: one line, not a tree
            out["type"] = " | ".join(dict.fromkeys(s["type"] for s in shapes))
            enums = [v for s in shapes for v in s.get("enum") or ()]
            if enums:
                out["enum"] = list(dict.fromkeys(enums))
                out["open_enum"] = any(not s.get("enum") for s in shapes)
            return
        out["branches"] = shapes
        out.setdefault("type", " | ".join(dict.fromkeys(_noun(s) for s in shapes)))
        if rule:
            out["chosen_by"] = rule["property"]

    def shape_header(self, branch: Any, seen: frozenset) -> dict:
        """A branch below the depth limit: its name and type only."""
        schema, facts, _ = self.open(branch, seen)
        found = {"type": "object" if isinstance(schema, dict) and "properties" in schema else
                 (schema.get("type") if isinstance(schema, dict) and isinstance(schema.get("type"), str)
                  else "any"), **facts}
        if isinstance(schema, dict) and schema.get("title"):
            found["title"] = schema["title"]
        if isinstance(schema, dict) and schema.get("properties"):
            found["more"] = len(schema["properties"])
        return found


def _noun(shape: dict) -> str:
    kind = shape.get("type") or "any"
    if shape.get("ref") and kind == "object" or (shape.get("ref") and shape.get("branches")
                                                 and not kind.startswith(("array", "map"))):
        return shape["ref"]
    if shape.get("branches") and not kind.startswith(("array", "map")):
        return " | ".join(dict.fromkeys(b.get("ref") or b["type"] for b in shape["branches"]))
    return kind


def _is_scalar(shape: dict) -> bool:
    return not shape.get("fields") and not shape.get("branches") and not shape.get("more") \
        and shape.get("type") in ("string", "integer", "number", "boolean", "any", "string | integer",
                                  "integer | string", "number | string")


# --- text ---------------------------------------------------------------------------


def render_text(info: dict, width: int = 80, *, example: bool = True) -> str:
    """The data of `describe` as text wrapped to `width` columns."""
    out = TextOut(max(width, 40))
    title = f"{info['operation_id']}  {info['method']} {info['path']}"
    out.line(title + ("  [deprecated]" if info.get("deprecated") else ""))
    summary = brief(info.get("summary") or "")
    description = brief(info.get("description") or "", 600)
    for text in dict.fromkeys(filter(None, (summary, description))):
        out.para(text, 0)
    if info["parameters"]:
        out.heading("Parameters")
        for p in info["parameters"]:
            out.item(p["name"], f"{p['in']}, {_type_text(p)}", 2)
            if p.get("enum"):
                out.para(_enum_text(p), 6)
            if p.get("description"):
                out.para(brief(p["description"]), 6)
    body = info.get("request_body")
    if body:
        for content_type, media in body["content"].items():
            out.heading(f"Request body: {content_type}" + (" (required)" if body["required"] else " (optional)"))
            if media.get("branches") or not media.get("fields"):
                out.para(_type_text(media), 2)
            render_fields(out, media, 2)
            if example and media.get("example") is not None:
                out.heading("Example body" if len(body["content"]) == 1 else f"Example body ({content_type})")
                for line in json.dumps(media["example"], indent=2, ensure_ascii=False).splitlines():
                    out.wrapped(line, 2, 4)
    if info.get("responses"):
        out.heading("Responses")
        for status, response in info["responses"].items():
            if not response["content"]:
                out.item(status, brief(response["description"]) or "no body", 2)
            for content_type, media in response["content"].items():
                out.item(status, f"{content_type}: {_response_text(media)}", 2)
    return "\n".join(out.lines) + "\n"


def render_fields(out: "TextOut", shape: dict, indent: int) -> None:
    for f in shape.get("fields") or ():
        mark = "*" if f["required"] else " "
        out.item(f"{mark} {f['name']}", _type_text(f), indent)
        if f.get("enum") and not _enum_in_type(f):
            out.para(_enum_text(f), indent + 6)
        if f.get("description"):
            out.para(brief(f["description"]), indent + 6)
        render_children(out, f, indent + 4)
    if shape.get("fields") and indent == 2:
        out.para("(* required)", indent)


def render_children(out: "TextOut", shape: dict, indent: int) -> None:
    if shape.get("branches"):
        render_branches(out, shape, indent)
    elif shape.get("fields") and indent < 40:
        render_fields(out, shape, indent)


def render_branches(out: "TextOut", shape: dict, indent: int) -> None:
    by = shape.get("chosen_by")
    out.para(f"{'one' if shape.get('choice') == 'oneOf' else 'any'} of"
             + (f" (chosen by {by!r}):" if by else ":"), indent)
    for branch in shape["branches"]:
        label = branch["title"]
        if branch.get("discriminator"):
            label += "  " + " | ".join(f"{branch['discriminator']['property']}="
                                       f"{json.dumps(v)}" for v in branch["discriminator"]["values"])
        summary = _type_text(branch) if not branch.get("fields") else ""
        out.item(f"- {label}", summary, indent + 2)
        render_children(out, branch, indent + 6)


def _type_text(shape: dict) -> str:
    text = shape.get("type", "any")
    if shape.get("ref") and shape.get("ref") not in text and not text.startswith("map"):
        text += f" ({shape['ref']})"
    if shape.get("enum") and _enum_in_type(shape):
        text = _enum_text(shape, prefix="")
    extras = []
    if shape.get("nullable"):
        extras.append("nullable")
    if shape.get("required"):
        extras.append("required")
    if shape.get("default") is not None:
        extras.append(f"default {json.dumps(shape['default'])}")
    if shape.get("deprecated"):
        extras.append("deprecated")
    if shape.get("readOnly"):
        extras.append("read-only")
    extras += shape.get("constraints") or ()
    if shape.get("cycle"):
        extras.append("recursive: see above")
    elif shape.get("more"):
        extras.append(f"{shape['more']} field{'s' if shape['more'] != 1 else ''}, not expanded")
    return ", ".join([text, *extras])


def _enum_in_type(shape: dict) -> bool:
    """Short enums read best in the type column: `"developer"` or `"asc" | "desc"`."""
    return len(shape.get("enum") or ()) <= 3 and not shape.get("open_enum")


def _enum_text(shape: dict, prefix: str = "one of: ") -> str:
    values = shape["enum"]
    shown = " | ".join(json.dumps(v) for v in values[:MAX_ENUM_SHOWN])
    if len(values) > MAX_ENUM_SHOWN:
        shown += f" | … ({len(values) - MAX_ENUM_SHOWN} more)"
    if shape.get("open_enum"):
        shown += " (or any string)" if "string" in shape.get("type", "") else " (or others)"
    return prefix + shown


def _response_text(media: dict) -> str:
    if media.get("branches") and not media.get("ref"):
        return f"one of {', '.join(map(str, media['branches'][:6]))}"
    name = media.get("ref") or media.get("title") or media.get("type", "any")
    if media.get("fields"):
        names = media["fields"]
        return f"{name} {{{', '.join(names[:8])}{', …' if len(names) > 8 else ''}}}"
    if media.get("branches"):
        return f"{name}: one of {', '.join(map(str, media['branches'][:6]))}"
    return name


def brief(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first paragraph of a Markdown (or HTML) description as plain text, cut at a sentence near `limit`."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", str(text))    # [text](/docs/...) -> text
    if "<" in text or "&" in text:   # HTML summaries (Stripe's, GitHub's): `<p>Lists <code>x</code>&nbsp;…`
        text = re.sub(r"<(p|br|div|li|ul|ol|h[1-6])\b[^>]*>", "\n\n", text, flags=re.I)
        text = html.unescape(re.sub(r"</?(?:a|b|i|em|strong|code|pre|span|p|br|div|li|ul|ol|h[1-6]|table|tr|td|th)"
                                    r"\b[^<>]*>", "", text, flags=re.I))
    text = re.sub(r"\*\*|^\s*(---+|#+)\s*$", "", text, flags=re.M).strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    text = " ".join((paragraphs[0] if paragraphs else "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[:cut + 1] if cut > limit // 3 else text[:limit - 1].rsplit(" ", 1)[0] + " …"


class TextOut:
    """Lines wrapped to a width; nothing ever goes past it."""

    def __init__(self, width: int):
        self.width = width
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.wrapped(text, 0, 2)

    def heading(self, text: str) -> None:
        self.lines.append("")
        self.wrapped(text, 0, 2)

    def para(self, text: str, indent: int) -> None:
        self.wrapped(text, indent, indent)

    def item(self, name: str, text: str, indent: int) -> None:
        self.wrapped(f"{name}  {text}".rstrip(), indent, indent + 4)

    def wrapped(self, text: str, indent: int, hanging: int) -> None:
        indent = min(indent, self.width // 2)
        hanging = min(hanging, self.width // 2)
        self.lines += textwrap.wrap(text, self.width, initial_indent=" " * indent,
                                    subsequent_indent=" " * hanging, break_on_hyphens=False) or [""]
