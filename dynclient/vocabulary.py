"""The JSON Schema vocabulary dynclient's validators share, and how a failure is shown.

A leaf module: `schema` (translation, SchemaSet), `fast` (jsonschema-rs) and `explain` (jsonschema,
readable errors) all read it, and it reads none of them, so the three never import each other in
a circle.
"""

from __future__ import annotations

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
