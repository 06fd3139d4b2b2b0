"""The reference validator: `jsonschema` over the translated schemas, and readable errors.

Imported only when needed (a document whose schemas jsonschema-rs cannot take, jsonschema-rs
absent, or a payload to explain): `jsonschema` and `referencing` cost ~60 ms of import time that
a valid call never pays. Every verdict the fast validator gives is this module's verdict too
(tests/test_fast_validator.py holds them to it), and every error a user reads comes from here.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import jsonschema
import jsonschema.exceptions
from jsonschema.exceptions import ValidationError

from .vocabulary import DISCRIMINATOR, Violation, ecma_pattern, ecma_regex, json_pointer, short_repr, type_name


def _discriminated(keyword: str):
    """`oneOf`/`anyOf` that let a discriminator pick the branch."""
    fallback = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def check(validator, branches, instance, schema):
        rule = schema.get(DISCRIMINATOR)
        if rule is None or rule["keyword"] != keyword or not isinstance(instance, dict):
            yield from fallback(validator, branches, instance, schema)
            return
        prop = rule["property"]
        value = instance.get(prop)
        candidates = rule["all"].get(value) if isinstance(value, str) else None
        if candidates:
            # The branches the value names decide; any of them accepting is enough.
            failures = []
            for index in candidates:
                errors = list(validator.descend(instance, branches[index], schema_path=index))
                if not errors:
                    return
                failures.append(errors)
            yield from min(failures, key=len)
            return
        expected = sorted(rule["all"])
        if rule.get("inferred"):
            # Every branch requires the property with disjoint values: the verdict is oneOf's.
            if prop not in instance:
                yield ValidationError(f"{prop!r} is a required property", validator="required",
                                      validator_value=[prop], instance=instance)
            else:
                yield ValidationError(f"{value!r} is not one of {expected}", validator="enum",
                                      validator_value=expected, instance=value, path=[prop])
            return
        # A declared discriminator whose property is absent or unknown: plain oneOf/anyOf decides
        # (EasyInputMessage in OpenAI's Responses input needs no `type`).
        errors = list(fallback(validator, branches, instance, schema))
        if errors and prop in instance and rule["complete"]:
            yield ValidationError(f"{value!r} is not one of {expected}", validator="enum",
                                  validator_value=expected, instance=value, path=[prop])
        else:
            yield from errors

    return check


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A search for `pattern`, in Rust's linear-time regex engine when jsonschema-rs takes it.

    Python's `re` backtracks: `^(a+)+$` against 40 `a`s and a `!` never returns. jsonschema-rs has
    rejected such a string in microseconds before it is explained here, so the explanation must
    not be slower than the verdict."""
    found = _MATCHERS.get(pattern)
    if found is None:
        if len(_MATCHERS) > 4096:
            _MATCHERS.clear()
        found = _MATCHERS[pattern] = _compile_pattern(pattern)
    return found


def _compile_pattern(pattern: str) -> Callable[[str], bool]:
    try:
        import jsonschema_rs
        return jsonschema_rs.validator_for({"pattern": ecma_pattern(pattern)}).is_valid
    except Exception:   # not installed, or a pattern its engine refuses
        pass
    try:
        compiled = ecma_regex(pattern)
    except re.error as exc:
        message = f"the document's pattern {pattern!r} cannot be compiled ({exc})"
        raise _BadPattern(message) from None
    return lambda text: compiled.search(text) is not None


class _BadPattern(Exception):
    pass


_MATCHERS: dict[str, Callable[[str], bool]] = {}


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any):
    if not validator.is_type(instance, "string") or not isinstance(pattern, str):
        return
    try:
        matches = _matcher(pattern)(instance)
    except _BadPattern as exc:
        yield ValidationError(str(exc))
        return
    if not matches:
        yield ValidationError(f"{short_repr(instance)} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any):
    """jsonschema's patternProperties, its regexes searched by `_matcher` (never Python's `re`)."""
    if not validator.is_type(instance, "object") or not isinstance(patterns, dict):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            try:
                matches = _matcher(pattern)(key)
            except _BadPattern as exc:
                yield ValidationError(str(exc))
                return
            if matches:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _extra_properties(instance: dict, schema: dict) -> list[str]:
    """The properties neither `properties` names nor a `patternProperties` regex matches."""
    named = schema.get("properties") or {}
    patterns = [p for p in (schema.get("patternProperties") or {}) if isinstance(p, str)]
    extra = []
    for key in instance:
        if key in named:
            continue
        try:
            if any(_matcher(pattern)(key) for pattern in patterns):
                continue
        except _BadPattern:
            pass
        extra.append(key)
    return extra


def _additional_properties(validator: Any, allowed: Any, instance: Any, schema: Any):
    """jsonschema's additionalProperties, with the same regex engine as `pattern`."""
    if not validator.is_type(instance, "object"):
        return
    extras = _extra_properties(instance, schema)
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif allowed is False and extras:
        shown = ", ".join(repr(extra) for extra in sorted(extras, key=str))
        yield ValidationError(f"Additional properties are not allowed ({shown} "
                              f"{'was' if len(extras) == 1 else 'were'} unexpected)")


# A tuple is an array, as the encoders (json.dumps, the parameter styles) send it and as
# jsonschema-rs sees it; jsonschema alone would call it "not an array".
TYPE_CHECKER = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "array", lambda checker, instance: isinstance(instance, (list, tuple)))

Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    # Every keyword that runs a document's regex goes through `_matcher`, except unevaluatedProperties
    # (which OpenAPI documents do not combine with patternProperties).
    {"oneOf": _discriminated("oneOf"), "anyOf": _discriminated("anyOf"), "pattern": _pattern,
     "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
    type_checker=TYPE_CHECKER,
)


def violation(validator: Any, instance: Any) -> Violation | None:
    """None when valid; otherwise the most useful failure and a list of all of them."""
    errors = list(validator.iter_errors(instance))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return Violation(
        pointer=json_pointer(best.absolute_path),
        message=describe(best),
        keyword=str(best.validator),
        expected=best.validator_value,
        given=best.instance,
        messages=[f"{json_pointer(e.absolute_path) or '/'}: {describe(e)}"
                  for e in sorted(errors, key=jsonschema.exceptions.relevance, reverse=True)[:20]],
    )


def describe(error: ValidationError) -> str:
    """A message that says what was expected and what was given, never a whole huge instance."""
    keyword, expected, given = error.validator, error.validator_value, error.instance
    if keyword == "type":
        return f"expected {_a(expected)}, got {type_name(given)} {short_repr(given)}"
    if keyword in ("enum", "const"):
        options = expected if keyword == "enum" else [expected]
        return f"expected one of {short_repr(options, 200)}, got {short_repr(given)}"
    if keyword == "required":
        return error.message
    if keyword in ("oneOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        where = json_pointer(best.relative_path)
        return (f"matches none of the {len(expected)} allowed forms ({keyword}); "
                f"closest: {where + ': ' if where else ''}{describe(best)}")
    if keyword == "oneOf":
        return f"matches more than one of the {len(expected)} forms allowed by oneOf"
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(given, dict):
        allowed = set(error.schema.get("properties") or ())
        extra = [k for k in given if k not in allowed]
        shown = ", ".join(repr(k) for k in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        return f"unexpected propert{'y' if len(extra) == 1 else 'ies'} {shown} (the schema allows no others)"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"expected a number with {keyword} {expected}, got {short_repr(given)}"
    if keyword in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        return f"expected {keyword} {expected}, got {short_repr(given)} (size {len(given)})"
    if keyword == "pattern":
        return f"expected a string matching {expected!r}, got {short_repr(given)}"
    return error.message if len(error.message) <= 200 else error.message[:195] + " ..."


def _a(types: Any) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join(("an " if t[0] in "aeiou" else "a ") + t for t in names)
