"""`client.ops`: every operation as a Python callable, for `help()`, `dir()` and tab completion.

    >>> client.ops.createAssistant({"model": "gpt-4o"})     # same as client.call("createAssistant", ...)
    >>> help(client.ops.listAssistants)                     # summary, parameters, body fields

Each callable is a real function named after its operationId, with a docstring
made by `describe.render_text` and an `inspect.Signature` whose parameters are
keyword-only (by their Python alias), so IDEs, `help()` and REPL completion
show them. Docstrings and signatures depend only on the document, so they are
built on first access and kept per Spec.
"""

from __future__ import annotations

import inspect
import keyword
import weakref
from typing import Any, Callable

from .describe import describe, render_text
from .schema import schema_kind

# Keywords every call takes besides the operation's own parameters (see Client.call).
CALL_OPTIONS = ("stream", "progress", "params", "headers", "timeout", "content_type")   # Client.call's own
PYTHON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict}
DOC_WIDTH = 78

_built: "weakref.WeakKeyDictionary[Any, dict[str, tuple[str, inspect.Signature]]]" = weakref.WeakKeyDictionary()


class Operations:
    """The operations of a client's document as attributes: `client.ops.<operationId>(body, **params)`."""

    def __init__(self, client: Any):
        self._client = client

    def __dir__(self) -> list[str]:
        return sorted(self._client.spec.operations)   # ids that are not identifiers: client.ops["id"]

    def __getattr__(self, operation_id: str) -> Callable[..., Any]:
        from .errors import UnknownOperationError
        if operation_id.startswith("__"):
            raise AttributeError(operation_id)
        try:
            call = self[operation_id]
        except UnknownOperationError as exc:   # hasattr() and getattr(..., default) expect this
            raise AttributeError(str(exc)) from None
        if not operation_id.startswith("_"):   # (never over one of ours)
            setattr(self, operation_id, call)   # the next lookup is a plain attribute
        return call

    def __getitem__(self, operation_id: str) -> Callable[..., Any]:
        """Any operation, also one whose id is not a Python identifier: `client.ops["get-thing"]`."""
        client = self._client
        client.operation(operation_id)   # UnknownOperationError, with suggestions, for a typo
        doc, signature = _doc_and_signature(client, operation_id)

        def call(*args: Any, **kwargs: Any) -> Any:
            return client.call(operation_id, *args, **kwargs)

        call.__name__ = call.__qualname__ = operation_id
        call.__doc__ = doc
        call.__signature__ = signature   # type: ignore[attr-defined]
        return call

    def __iter__(self):
        return iter(self._client.spec.operations)

    def __len__(self) -> int:
        return len(self._client.spec.operations)

    def __repr__(self) -> str:
        return f"<operations of {self._client.spec.title!r}: {len(self)}; dir() lists them>"


def _doc_and_signature(client: Any, operation_id: str) -> tuple[str, inspect.Signature]:
    per_spec = _built.setdefault(client.spec, {})
    if operation_id not in per_spec:
        info = describe(client.schemas, operation_id, max_depth=2)
        per_spec[operation_id] = (render_text(info, DOC_WIDTH), signature(client, operation_id))
    return per_spec[operation_id]


def signature(client: Any, operation_id: str) -> inspect.Signature:
    """`(body, /, *, assistant_id: str, limit: int = None, ..., params=None, headers=None, ...)`."""
    op = client.operation(operation_id)
    from .core.call import MISSING
    parameters = []
    if op.request_body is not None:
        parameters.append(inspect.Parameter("body", inspect.Parameter.POSITIONAL_ONLY,
                                            default=inspect.Parameter.empty if op.request_body.required
                                            else MISSING))
    taken = {"body", *CALL_OPTIONS}
    ordered = sorted(op.parameters, key=lambda p: not p.required)   # required before optional
    for p in ordered:
        name = p.alias
        if name in taken or not name.isidentifier() or keyword.iskeyword(name):
            continue   # still reachable through params={...}
        taken.add(name)
        parameters.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if p.required else None,
            annotation=_annotation(client, p)))
    parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in CALL_OPTIONS]
    return inspect.Signature(parameters)


def _annotation(client: Any, p: Any) -> Any:
    if p.schema is None:
        return str
    root, resolve = client.schemas.translated(p.pointer, "request")
    return PYTHON_TYPES.get(schema_kind(root, resolve)[0], inspect.Parameter.empty)
