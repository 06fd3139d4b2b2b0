"""Answer overrides for the mock: fixed fields an operation's answers must carry.

    MockServer(spec, overrides={"getRun": {"status": "completed"}})
    dynclient mock openai@2025-04-29 --override 'getRun={"status": "completed"}'
    Prefer: dynclient-override={"status": "completed"}          (one request)

An override is a JSON object deep-merged into the answer body: objects merge
key by key, anything else (arrays, strings, numbers, null) replaces what was
there. The merged answer is validated like every other; the mock never sends
an invalid one (see ``MockApp.overridden``).
"""

from __future__ import annotations

import difflib
import json
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import UnknownOperationError
from ..spec import Spec
from .reading import success

PREFER = "dynclient-override="


def deep_merge(base: Any, override: Any) -> Any:
    """`override` over `base`, as new objects: dicts merge key by key, anything else replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return json.loads(json.dumps(override))   # a copy, so no answer shares objects with the settings
    merged = dict(base)
    for name, value in override.items():
        merged[name] = deep_merge(base.get(name), value)
    return merged


def checked_overrides(spec: Spec, overrides: Mapping[str, Any]) -> Mapping[str, dict]:
    """The overrides, copied and frozen, after checking each names an operation with a JSON answer.

    A mistake here is a mistake in a test's set-up, so it stops the mock from starting rather than
    being found on the first request."""
    out = {}
    for operation_id, override in overrides.items():
        op = spec.operations.get(operation_id)
        if op is None:
            raise UnknownOperationError(operation_id, difflib.get_close_matches(operation_id, spec.operations, n=3))
        if not isinstance(override, dict):
            raise ValueError(f"override for {operation_id}: expected a JSON object, got {type(override).__name__}")
        response = success(op)[1]
        if not any("json" in key for key in (response.content if response else {})):
            kinds = ", ".join(response.content) if response and response.content else "no body"
            raise ValueError(f"override for {operation_id}: its answer is not JSON ({kinds}), so nothing can be merged")
        out[operation_id] = json.loads(json.dumps(override))
    return MappingProxyType(out)


def parse_override(text: str) -> tuple[str, dict]:
    """`OP=JSON` from the command line: (operation id, the JSON object)."""
    operation_id, sep, document = text.partition("=")
    if not sep or not operation_id.strip():
        raise ValueError(f"expected OPERATION_ID=JSON, got {text!r}")
    try:
        value = json.loads(document)
    except ValueError as exc:
        raise ValueError(f"override for {operation_id}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"override for {operation_id}: expected a JSON object, got {type(value).__name__}")
    return operation_id.strip(), value


def from_prefer(header: str) -> dict | None:
    """The object after `dynclient-override=` in a Prefer header (other preferences may follow it)."""
    start = header.find(PREFER)
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(header, start + len(PREFER))
    except ValueError as exc:
        raise ValueError(f"Prefer: {PREFER}… is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"Prefer: {PREFER}… must be a JSON object, got {type(value).__name__}")
    return value
