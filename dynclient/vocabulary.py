"""The JSON Schema vocabulary dynclient's validators share, and how a failure is shown.

A leaf module: `schema` (translation, SchemaSet), `fast` (jsonschema-rs) and `explain` (jsonschema,
readable errors) all read it, and it reads none of them, so the three never import each other in
a circle.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

DISCRIMINATOR = "x-dynclient-discriminator"   # the annotation translated discriminators carry

# Keywords whose value is a schema, a list of schemas, or a map of schemas.
ONE_SCHEMA = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
              "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


@dataclass
class Violation:
    """One schema failure, reduced to what a person needs."""

    pointer: str          # JSON pointer into the instance ("" is the root)
    message: str
    keyword: str          # the failing keyword (type, required, enum, ...)
    expected: Any
    given: Any
    messages: list[str]   # every failure found, most useful first, capped


def json_pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...>"


def type_name(value: Any) -> str:
    """The JSON type of a Python value, as a message names it."""
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                              (list, "array"), (dict, "object"), (type(None), "null")):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


# --- `pattern` as ECMA-262 reads it -------------------------------------------------------------
# JSON Schema and OpenAPI patterns are ECMA-262 regular expressions: `\d` is [0-9], `\w` and `\b`
# are ASCII, `\s` is ECMA's own set of spaces, and `$` (without the m flag) matches only at the
# very end. Python's `re` reads `\d` as any Unicode digit ("١.٢.٣" matches `^\d+\.\d+\.\d+$`) and
# lets `$` match before a final newline; jsonschema-rs does too for patterns its backtracking
# engine takes (those with lookaround or backreferences). So the classes are written out.

ECMA_SPACES = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": ECMA_SPACES}


def _ecma_text(pattern: str, python: bool) -> str:
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            members = CLASSES.get(escaped.lower())
            if members is None or (in_class and escaped.isupper()):
                out.append(pattern[i:i + 2])   # \b, \B and the rest; \D \W \S inside a class
            elif in_class:
                out.append(members)
            else:
                out.append(f"[^{members}]" if escaped.isupper() else f"[{members}]")
            i += 2
            continue
        if in_class:
            if ch == "]" and out[-1] not in ("[", "[^"):
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
                continue
        elif ch == "$" and python:
            ch = r"\Z"
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def ecma_pattern(pattern: str) -> str:
    r"""`pattern` with ECMA-262's `\d \D \w \W \s \S` written out as classes, for jsonschema-rs."""
    return _ecma_text(pattern, python=False)


@functools.lru_cache(maxsize=4096)
def ecma_regex(pattern: str) -> "re.Pattern[str]":
    r"""`pattern` compiled by Python's `re` with ECMA-262's meaning of `\d \D \w \W \b \B \s \S $`
    (re.error when Python cannot read it)."""
    return re.compile(_ecma_text(pattern, python=True), re.ASCII)
