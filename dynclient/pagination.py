"""Cursor pagination, inferred from the document.

An operation pages when it takes a cursor query parameter (`after`, as OpenAI's
list operations do) and its success response is a JSON object with an array of
items (`data`). The next cursor is the page's `next` (or `next_cursor`,
`next_page_token`), else its `last_id`, else the `id` of its last item; paging
stops when `has_more` is false, a page is empty, or no cursor can be found.

    for assistant in client.paginate("listAssistants", limit=20):   # item by item
        ...
    for page in client.paginate("listAssistants", limit=20).pages():  # page by page
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from . import codecs
from .errors import PaginationError
from .schema import schema_kind, schema_properties
from .spec import Operation, Spec

if TYPE_CHECKING:
    from .core.base import BaseClient

CURSOR_PARAMETERS = ("after", "starting_after", "cursor", "page_token")
NEXT_CURSOR_FIELDS = ("next", "next_cursor", "next_page_token", "last_id")
MORE_FIELDS = ("has_more", "has_next_page")


@dataclass(frozen=True)
class PageRule:
    """How one operation pages: where the cursor goes and where a page keeps its items."""

    cursor: str          # the query parameter that takes the cursor
    items: str           # the array property holding the page's items
    more: str | None     # the boolean property saying whether another page follows
    next_fields: tuple[str, ...]


def page_rule(spec: Spec, op: Operation) -> PageRule:
    """How `op` pages, or PaginationError saying why it does not."""
    names = {p.name for p in op.parameters if p.location == "query"}
    cursor = next((name for name in CURSOR_PARAMETERS if name in names), None)
    if cursor is None:
        raise PaginationError(op.operation_id, f"{op.operation_id} does not page: it takes no cursor parameter "
                                               f"({', '.join(CURSOR_PARAMETERS)}); call it with client.call()")
    properties = _success_properties(spec, op)
    items = "data" if "data" in properties else next(
        (name for name, schema in properties.items() if _is_array(spec, schema)), None)
    if items is None:
        raise PaginationError(op.operation_id, f"{op.operation_id} does not page: its response has no array "
                                               f"of items")
    more = next((name for name in MORE_FIELDS if name in properties), None)
    next_fields = tuple(name for name in NEXT_CURSOR_FIELDS if name in properties)
    return PageRule(cursor, items, more, next_fields)


def _success_properties(spec: Spec, op: Operation) -> dict:
    for status, response in op.responses.items():
        if status.startswith("2"):
            key = codecs.match_media(response.content, "application/json")
            if key and response.content[key].schema is not None:
                return schema_properties(response.content[key].schema, spec.resolve_ref)
    return {}


def _is_array(spec: Spec, schema: Any) -> bool:
    return schema_kind(schema, spec.resolve_ref)[0] == "array"


class PageWalk:
    """The arguments of each page in turn: the decision part of paging, shared by both clients."""

    def __init__(self, rule: PageRule, operation_id: str, arguments: dict):
        self.rule, self.operation_id, self.arguments = rule, operation_id, arguments
        self.seen: set[str] = set()

    def next_arguments(self, page: Any) -> dict | None:
        """The arguments of the page after `page`, or None when it was the last; a repeated cursor is a
        PaginationError (a server that loops would otherwise page for ever)."""
        cursor = next_cursor(self.rule, page)
        if cursor is None:
            return None
        if cursor in self.seen:
            raise PaginationError(self.operation_id, f"the server repeated the cursor {cursor!r}; "
                                                     f"stopping rather than looping for ever")
        self.seen.add(cursor)
        return {**self.arguments, self.rule.cursor: cursor}


def next_cursor(rule: PageRule, page: Any) -> str | None:
    if not isinstance(page, dict):
        return None
    items = page.get(rule.items)
    if not items or not isinstance(items, list) or (rule.more and page.get(rule.more) is False):
        return None
    for name in rule.next_fields:
        if isinstance(page.get(name), str) and page[name]:
            return page[name]
    last = items[-1]
    return last.get("id") if isinstance(last, dict) and isinstance(last.get("id"), str) else None


def items_of(rule: PageRule, page: Any) -> list:
    items = page.get(rule.items) if isinstance(page, dict) else None
    return items if isinstance(items, list) else []


class Paginator:
    """Iterates the items of every page (or, with `.pages()`, the pages) of a paging operation."""

    def __init__(self, client: "BaseClient", operation_id: str, call_options: dict, arguments: dict):
        op = client.operation(operation_id)
        self.rule = page_rule(client.spec, op)
        self._client = client
        self._operation_id = op.operation_id
        self._call_options = call_options
        self._arguments = arguments

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._operation_id} by {self.rule.cursor!r}>"

    def __iter__(self) -> Iterator[Any]:
        for page in self.pages():
            yield from items_of(self.rule, page)

    def pages(self) -> Iterator[dict]:
        walk = PageWalk(self.rule, self._operation_id, self._arguments)
        arguments: dict | None = dict(self._arguments)
        while arguments is not None:
            page = self._client.call(self._operation_id, **self._call_options, **arguments)
            yield page
            arguments = walk.next_arguments(page)

    def next_cursor(self, page: Any) -> str | None:
        return next_cursor(self.rule, page)
