"""The document model: Spec, Operation, Parameter, and the operationId index.

The index is built once per document, lazily: making a Spec only lists the
operationIds (a cheap pass over paths and methods, which also settles
duplicates), and each Operation is built the first time it is asked for, then
kept. A first call on the 288 operations of 2026-08-21 builds one of them, not
all. Operations hold references into the loaded document (schemas are not
copied or compiled here, see ``dynclient.schema`` for that).

Operations without an ``operationId`` get a derived one: the lower-case
method, then each path segment with braces removed and every character
outside ``[A-Za-z0-9]`` turned into ``_``, joined by ``_``.
``GET /assistants/{assistant_id}`` becomes ``get_assistants_assistant_id``.
A duplicated operationId keeps its first operation; later ones are indexed
under their derived id and listed in ``Spec.problems``. Reading ``problems``
builds every operation, since mending path parameters (see
``_mend_path_parameters``) finds the rest; a structural defect in one
operation (a parameter without ``in``, a ``$ref`` that does not resolve) is a
SpecError when that operation is first built.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Iterator, NamedTuple
from urllib.parse import quote, unquote

from . import sources
from .errors import SpecError
from .loader import Document, Mend, load

log = logging.getLogger("dynclient")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def python_name(name: str) -> str:
    """The keyword-argument alias of a parameter name: ``include[]`` -> ``include``,
    ``OpenAI-Beta`` -> ``OpenAI_Beta``."""
    alias = re.sub(r"\W", "_", name.removesuffix("[]"))
    return "_" + alias if alias[:1].isdigit() else alias


def derived_operation_id(method: str, path: str) -> str:
    segments = [re.sub(r"[^A-Za-z0-9]", "_", s.strip("{}")) for s in path.split("/") if s]
    return "_".join([method.lower(), *segments])


CONTROL = re.compile(r"[\x00-\x1f\x7f]")
OUTSIDE_URL = re.compile(r"[^\x21-\x7e]")   # a space and anything not printable ASCII


def route_template(path: str, where: str) -> str:
    """A path template that can only name a route under the base URL, or a SpecError.

    The client sends `base_url + template`, so a template must begin with `/`: `@host:port/x` would
    make the base URL's host the user name of another host's URL. It may not hold a fragment (the query
    the client appends would vanish into it), a `.` or `..` segment, percent-encoded or not (the server
    would resolve it above the base path), or a control character (request smuggling). A fixed query
    (`/responses?beta=true`, as in OpenAI's documents) is kept; spaces and non-ASCII letters are
    percent-encoded, as the template's author meant them.
    """
    if not path.startswith("/"):
        raise SpecError(f"{where}: the path {path!r} must begin with '/' (it is appended to the server URL)")
    if CONTROL.search(path):
        raise SpecError(f"{where}: the path {path!r} contains a control character")
    if "#" in path:
        raise SpecError(f"{where}: the path {path!r} contains a fragment ('#'), which would swallow the query")
    route = path.split("?", 1)[0]
    for segment in route.split("/"):
        if unquote(segment) in (".", ".."):
            raise SpecError(f"{where}: the path {path!r} has a {segment!r} segment, which would leave the "
                            f"base URL's path")
    if OUTSIDE_URL.search(path):
        path = quote(path, safe="/?&=;:@!$'()*+,{}%[]~-._")
    return path


KINDS = {dict: "a mapping", list: "a list", str: "a string"}
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")   # RFC 9110, 5.6.2: what a header name may be


def expect(node: Any, kind: type, origin: str, pointer: str) -> Any:
    """`node` when it is of `kind`; otherwise the SpecError that names where and what it should be."""
    if isinstance(node, kind):
        return node
    raise SpecError(f"{origin}: {pointer or '/'}: must be {KINDS.get(kind, kind.__name__)}, not "
                    f"{type(node).__name__} {str(node)[:60]!r}")


def operation_pointer(path: str, method: str) -> str:
    return f"/paths/{escape_pointer(path)}/{method.lower()}"


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation, its serialization style settled."""

    name: str
    location: str              # path | query | header | cookie
    required: bool
    schema: Any                # the raw schema node (None for `content` parameters)
    pointer: str               # JSON pointer of the schema node in the document
    style: str
    explode: bool
    allow_reserved: bool = False
    content_type: str | None = None   # set when the parameter uses `content` instead of `schema`
    deprecated: bool = False
    description: str = ""
    aliases: tuple[str, ...] = ()     # other names a caller may use (see Spec._mend_path_parameters)

    @property
    def alias(self) -> str:
        return python_name(self.name)


@dataclass(frozen=True)
class MediaType:
    """One media type of a body: its schema node and where that node is."""

    content_type: str
    schema: Any                # raw schema node or None
    pointer: str               # JSON pointer of the schema node
    encoding: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestBody:
    """An operation's request body: whether it is required, and its media types."""

    required: bool
    content: Mapping[str, MediaType]


@dataclass(frozen=True)
class Response:
    """One declared response: its status key, media types and headers."""

    status: str                # "200", "4XX" or "default"
    description: str
    content: Mapping[str, MediaType]
    headers: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    """One indexed operation: everything a call needs to bind, validate and send it."""

    operation_id: str
    method: str                # upper case
    path: str                  # the template, e.g. /assistants/{assistant_id}
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    responses: Mapping[str, Response]
    security: tuple[Mapping[str, list], ...]   # alternatives; () means no auth
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    deprecated: bool = False
    servers: tuple[Mapping[str, Any], ...] = ()

    @cached_property
    def pointer(self) -> str:
        return operation_pointer(self.path, self.method)

    @cached_property
    def parameters_by_name(self) -> dict[str, Parameter]:
        """Every name a caller may use: the parameter's own name and its alias."""
        names: dict[str, Parameter] = {}
        for p in self.parameters:
            names.setdefault(p.name, p)
        for p in self.parameters:
            for alias in (p.alias, *p.aliases):
                names.setdefault(alias, p)
        return names

    def response_for(self, status: int) -> Response | None:
        """The response object for a status: exact code, then `4XX`-style range, then `default`."""
        responses = self.responses
        return (responses.get(str(status)) or responses.get(f"{status // 100}XX")
                or responses.get(f"{status // 100}xx") or responses.get("default"))


@dataclass(frozen=True)
class Webhook:
    """One event the API sends to a user's server (OpenAPI 3.1 `webhooks`), indexed by its `type`."""

    name: str                  # its key under `webhooks` (batch_completed)
    event_type: str            # the event's `type` (batch.completed)
    method: str                # upper case, POST in practice
    pointer: str               # JSON pointer of the event's body schema
    summary: str = ""
    operation_pointer: str = ""   # of the operation object that describes the request the API sends


def index_webhooks(reader: "DocumentReader") -> dict[str, Webhook]:
    """event type -> Webhook. The type is read from the body schema as OpenAI's documents write it
    (`type: {enum: [batch.completed]}`, or `const`), else the schema's title, else the key; each
    found in the same place as an operation's request body."""
    origin = reader.document.origin
    found: dict[str, Webhook] = {}
    for name, item in expect(reader.data.get("webhooks") or {}, dict, origin, "/webhooks").items():
        item, item_pointer = reader.deref(item, f"/webhooks/{escape_pointer(str(name))}")
        for method in HTTP_METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if not isinstance(op, dict):
                continue
            body, at = reader.deref(op.get("requestBody") or {}, f"{item_pointer}/{method}/requestBody")
            content = expect(expect(body, dict, origin, at).get("content") or {}, dict, origin, f"{at}/content")
            key = next((k for k in content if "json" in str(k)), None)
            if key is None or not isinstance(content[key], dict) or "schema" not in content[key]:
                continue
            pointer = f"{at}/content/{escape_pointer(str(key))}/schema"
            event_type = _event_type(reader, content[key]["schema"], pointer) or str(name)
            found.setdefault(event_type, Webhook(str(name), event_type, method.upper(), pointer,
                                                 str(op.get("summary") or op.get("description") or "").strip(),
                                                 f"{item_pointer}/{method}"))
    return found


def _event_type(reader: "DocumentReader", schema: Any, pointer: str) -> str | None:
    try:
        schema, _ = reader.deref(schema, pointer)
    except SpecError:
        return None
    if not isinstance(schema, dict):
        return None
    kind = (schema.get("properties") or {}).get("type") if isinstance(schema.get("properties"), dict) else None
    if isinstance(kind, dict):
        values = kind.get("enum") if isinstance(kind.get("enum"), list) else (
            [kind["const"]] if "const" in kind else [])
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
    title = schema.get("title")
    return title if isinstance(title, str) and title else None


def _overlays(source: Any, overlays: Any) -> Mend | None:
    """The loader's Mend for the shipped overlays of a named source and the caller's, or None."""
    if overlays is False or not (overlays or sources.is_name(source)):
        return None   # nothing can apply: the overlay module is not even imported
    from .evolve.overlay import mend_for
    return mend_for(source, overlays)


_warned: set[tuple] = set()
_warned_lock = threading.Lock()


def _warn_repairs(document: Document) -> None:
    """One warning per document and process listing what the loader repaired (a warm start, which
    repairs nothing, warns the same: the document the client uses is not the published one)."""
    if not document.repairs:
        return
    key = (document.origin, document.sha256, tuple(str(repair) for repair in document.repairs))
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    count = len(document.repairs)
    listed = "".join(f"\n  {repair}" for repair in document.repairs[:20])
    more = f"\n  ... and {count - 20} more" if count > 20 else ""
    log.warning("%s: %d schema defect%s repaired at load (repair=False turns this off; `dynclient lint` "
                "drafts an overlay that pins them):%s%s", document.origin, count, "s" * (count != 1), listed, more)


class DocumentReader:
    """Reads one document's objects: local references, and the Operations the index builds."""

    def __init__(self, document: Document):
        self.document = document
        self.data = document.data

    # --- references -----------------------------------------------------------

    def resolve_pointer(self, pointer: str) -> Any:
        node: Any = self.data
        for token in pointer.split("/")[1:] if pointer else ():
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                raise SpecError(f"{self.document.origin}: reference #{pointer} does not resolve") from None
        return node

    def resolve_ref(self, ref: str) -> Any:
        """What a local `$ref` ("#/components/...") points at; {} for a reference outside the document
        (never followed), so schema readers see an empty schema there."""
        return self.resolve_pointer(ref[1:]) if ref.startswith("#") else {}

    def deref(self, node: Any, pointer: str) -> tuple[Any, str]:
        """Follow `$ref` chains of a non-schema object (parameter, body, response)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise SpecError(f"{self.document.origin}: {pointer}: only local references are "
                                f"followed, not {ref!r}")
            if ref in seen:
                raise SpecError(f"{self.document.origin}: {pointer}: reference cycle through {ref}")
            seen.add(ref)
            pointer = ref[1:]
            node = self.resolve_pointer(pointer)
        return node, pointer

    # --- the index ------------------------------------------------------------

    def _sites(self) -> Iterator[Site]:
        """Every operation object of the document, in document order, without reading into it."""
        for path, item in expect(self.data.get("paths") or {}, dict, self.document.origin, "/paths").items():
            item_pointer = f"/paths/{escape_pointer(path)}"
            item, item_pointer = self.deref(item, item_pointer)
            if not isinstance(item, dict):
                raise SpecError(f"{self.document.origin}: {item_pointer} is not a path item")
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield Site(path, method, item, item_pointer)

    def _build(self, site: Site, operation_id: str, problems: list[str]) -> Operation:
        """The Operation at `site`; defects it mends are appended to `problems`."""
        path, method, item, item_pointer = site
        op = item[method]
        op_pointer = f"{item_pointer}/{method}"
        path = route_template(path, f"{self.document.origin}: {item_pointer}")
        shared = self._parameters(item.get("parameters") or [], f"{item_pointer}/parameters")
        own = self._parameters(op.get("parameters") or [], f"{op_pointer}/parameters")
        # An operation's parameter overrides the path item's one of the same name and location.
        merged = {(p.name, p.location): p for p in shared}
        merged.update({(p.name, p.location): p for p in own})
        parameters = self._mend_path_parameters(path, list(merged.values()), op_pointer, problems)
        security = op.get("security")
        for where, requirements in (("/security", self.data.get("security")), (f"{op_pointer}/security", security)):
            if requirements is not None and not (isinstance(requirements, list)
                                                 and all(isinstance(r, dict) for r in requirements)):
                raise SpecError(f"{self.document.origin}: {where}: must be a list of security requirement objects")
        tags = op.get("tags") or []
        if not isinstance(tags, list):
            raise SpecError(f"{self.document.origin}: {op_pointer}/tags: must be a list, not {tags!r}")
        return Operation(
            operation_id=operation_id,
            method=method.upper(),
            path=path,
            parameters=tuple(parameters),
            request_body=self._request_body(op.get("requestBody"), f"{op_pointer}/requestBody"),
            responses=self._responses(op.get("responses") or {}, f"{op_pointer}/responses"),
            security=tuple(self.data.get("security") or ()) if security is None else tuple(security),
            summary=op.get("summary") or "",
            description=op.get("description") or "",
            tags=tuple(op.get("tags") or ()),
            deprecated=bool(op.get("deprecated")),
            servers=tuple(op.get("servers") or item.get("servers") or ()),
        )

    def _mend_path_parameters(self, path: str, parameters: list[Parameter], pointer: str,
                              problems: list[str]) -> list[Parameter]:
        """Make the path parameters agree with the template, as published documents need.

        OpenAI's documents have templates whose variables are not declared
        (`/uploads/{upload_id}/part` in 2024-06-24) and declared names that the
        template spells differently (`cert_id` for `{certificate_id}` in
        2025-04-29). An undeclared variable becomes a required string
        parameter; a lone mismatched pair is joined, the parameter taking the
        template's name and keeping its declared one as an alias. Each mend
        is listed in `problems`.
        """
        variables = re.findall(r"\{([^}]+)\}", path)
        declared = {p.name for p in parameters if p.location == "path"}
        unmatched_vars = [v for v in variables if v not in declared]
        stray = [p for p in parameters if p.location == "path" and p.name not in variables]
        if not unmatched_vars and not stray:
            return parameters
        if len(unmatched_vars) == 1 and len(stray) == 1:
            old = stray[0]
            self._problem(problems, f"{pointer}: path parameter {old.name!r} is declared for template variable "
                          f"{{{unmatched_vars[0]}}}; accepted under both names")
            mended = replace(old, name=unmatched_vars[0], aliases=(old.name, python_name(old.name)))
            return [mended if p is old else p for p in parameters]
        for p in stray:
            self._problem(problems, f"{pointer}: path parameter {p.name!r} is not in the template {path}; ignored")
        for v in unmatched_vars:
            self._problem(problems, f"{pointer}: template variable {{{v}}} has no declared parameter; "
                          f"taken as a required string")
        kept = [p for p in parameters if not (p.location == "path" and p.name not in variables)]
        return kept + [Parameter(name=v, location="path", required=True, schema=None, pointer="",
                                 style="simple", explode=False) for v in unmatched_vars]

    def _problem(self, problems: list[str], text: str) -> None:
        problems.append(text)
        log.info("%s: %s", self.document.origin, text)

    def _parameters(self, nodes: list, pointer: str) -> list[Parameter]:
        result = []
        for i, node in enumerate(expect(nodes, list, self.document.origin, pointer)):
            node, at = self.deref(node, f"{pointer}/{i}")
            try:
                name, location = node["name"], node["in"]
            except (KeyError, TypeError):
                raise SpecError(f"{self.document.origin}: {at}: a parameter needs `name` and `in`") from None
            if not isinstance(name, str) or not isinstance(location, str) or location not in DEFAULT_STYLES:
                raise SpecError(f"{self.document.origin}: {at}: unknown parameter location {location!r}"
                                if isinstance(name, str) else f"{self.document.origin}: {at}: `name` must be a string")
            if location in ("header", "cookie") and not TOKEN.fullmatch(name):
                raise SpecError(f"{self.document.origin}: {at}: {location} parameter name {name!r} is not an HTTP "
                                f"token (no spaces, colons, CR, LF or other separators)")
            style = node.get("style") or DEFAULT_STYLES[location]
            if not isinstance(style, str):
                raise SpecError(f"{self.document.origin}: {at}/style: must be a string, not {style!r}")
            schema, schema_at, content_type = node.get("schema"), f"{at}/schema", None
            if schema is None and node.get("content"):
                content_type, media = next(iter(node["content"].items()))
                schema = (media or {}).get("schema")
                schema_at = f"{at}/content/{escape_pointer(content_type)}/schema"
            result.append(Parameter(
                name=name, location=location,
                required=bool(node.get("required")) or location == "path",
                schema=schema, pointer=schema_at, style=style,
                explode=node.get("explode", style == "form"),
                allow_reserved=bool(node.get("allowReserved")),
                content_type=content_type,
                deprecated=bool(node.get("deprecated")),
                description=node.get("description") or "",
            ))
        return result

    def _content(self, content: Mapping, pointer: str) -> dict[str, MediaType]:
        origin = self.document.origin
        out = {}
        for content_type, media in expect(content or {}, dict, origin, pointer).items():
            at = f"{pointer}/{escape_pointer(str(content_type))}"
            media = expect(media or {}, dict, origin, at)
            out[content_type] = MediaType(content_type=content_type, schema=media.get("schema"), pointer=f"{at}/schema",
                                          encoding=expect(media.get("encoding") or {}, dict, origin, f"{at}/encoding"))
        return out

    def _request_body(self, node: Any, pointer: str) -> RequestBody | None:
        if node is None:
            return None
        node, pointer = self.deref(node, pointer)
        expect(node, dict, self.document.origin, pointer)
        return RequestBody(required=bool(node.get("required")),
                           content=self._content(node.get("content") or {}, f"{pointer}/content"))

    def _responses(self, node: Mapping, pointer: str) -> dict[str, Response]:
        responses = {}
        for status, response in expect(node, dict, self.document.origin, pointer).items():
            response, at = self.deref(response, f"{pointer}/{escape_pointer(str(status))}")
            expect(response, dict, self.document.origin, at)
            responses[str(status)] = Response(
                status=str(status),
                description=response.get("description") or "",
                content=self._content(response.get("content") or {}, f"{at}/content"),
                headers=response.get("headers") or {},
            )
        return responses


class Site(NamedTuple):
    """Where one operation object sits: its path template, its method, and its path item."""
    path: str
    method: str                # lower case, a key of `item`
    item: dict                 # the path item, `$ref` followed
    item_pointer: str


class OperationIndex(Mapping):
    """operationId -> Operation, a read-only mapping whose Operations are built when first read.

    The keys, their order and the handling of duplicated ids are settled when it is made, as an
    eager walk would settle them (the dict-like behaviour `ops`, `diff`, `describe` and the mock
    rely on); only building each Operation (parameters, bodies, responses) waits until it is
    read, once, under a lock so that threads sharing a client build it once too.
    """

    def __init__(self, reader: DocumentReader):
        self._reader = reader
        self._sites = list(reader._sites())
        self._ids: dict[str, int] = {}                 # operationId -> index of its site
        self._duplicates: dict[int, list[str]] = {}    # site index -> its duplicated-id problem
        for index, (path, method, item, _) in enumerate(self._sites):
            operation_id = str(item[method].get("operationId") or derived_operation_id(method, path))
            if operation_id in self._ids:
                first = self._sites[self._ids[operation_id]]
                derived = derived_operation_id(method, path)
                reader._problem(self._duplicates.setdefault(index, []),
                                f"duplicate operationId {operation_id!r} at {operation_pointer(path, method)} "
                                f"(first at {operation_pointer(first.path, first.method)}); indexed as {derived!r}")
                operation_id = derived
            self._ids[operation_id] = index
        self._built: dict[str, Operation] = {}
        self._mended: dict[int, list[str]] = {}        # site index -> problems found building it
        self._lock = threading.Lock()

    def __getitem__(self, operation_id: str) -> Operation:
        operation = self._built.get(operation_id)
        if operation is None:
            index = self._ids[operation_id]   # KeyError for an unknown id, as from a dict
            with self._lock:
                operation = self._built.get(operation_id)
                if operation is None:
                    operation = self._built[operation_id] = self._build(index, operation_id)
        return operation

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._ids   # without building it

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<OperationIndex: {len(self._ids)} operations, {len(self._built)} built>"

    def problems(self) -> list[str]:
        """Every problem of the document, in document order; builds every operation to find them."""
        indexed = {index: operation_id for operation_id, index in self._ids.items()}
        for index, site in enumerate(self._sites):
            if index in indexed:
                self[indexed[index]]
            elif index not in self._mended:   # a site whose id a later duplicate took over
                with self._lock:
                    self._build(index, derived_operation_id(site.method, site.path))
        return [text for index in range(len(self._sites))
                for text in (*self._mended[index], *self._duplicates.get(index, ()))]

    def _build(self, index: int, operation_id: str) -> Operation:
        found: list[str] = []
        site = self._sites[index]
        try:
            operation = self._reader._build(site, operation_id, found)
        except SpecError:
            raise
        except (KeyError, IndexError, AttributeError, TypeError, ValueError, RecursionError) as exc:
            # A slot of the wrong kind that no check above names: still a document error, at the operation.
            raise SpecError(f"{self._reader.document.origin}: {site.item_pointer}/{site.method}: the operation "
                            f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
        self._mended[index] = found
        return operation


class Spec(DocumentReader):
    """An indexed OpenAPI 3.x document."""

    def __init__(self, source: Any, overlays: Any = None, **load_options: Any):
        if isinstance(source, (dict, Document)):   # the caller's data: overlays go on a copy
            document = source if isinstance(source, Document) else load(source, **load_options)
            if overlays:
                from .evolve.overlay import with_overlays
                document = with_overlays(document, source, overlays)
        else:   # the loader applies the overlays and caches the mended document
            document = load(source, mend=_overlays(source, overlays), **load_options)
        super().__init__(document)
        _warn_repairs(document)
        data = self.data
        self.openapi: str = str(data["openapi"])
        self.dialect = "3.1" if self.openapi.startswith("3.1") else "3.0"
        origin = self.document.origin
        info = expect(data.get("info") or {}, dict, origin, "/info")
        self.title: str = str(info.get("title", ""))
        self.version: str = str(info.get("version", ""))
        self.servers: list = [server for server in expect(data.get("servers") or [], list, origin, "/servers")
                              if isinstance(server, dict)] or [{"url": "/"}]
        components = expect(data.get("components") or {}, dict, origin, "/components")
        schemes = expect(components.get("securitySchemes") or {}, dict, origin, "/components/securitySchemes")
        self.security_schemes: dict = {name: expect(scheme, dict, origin, f"/components/securitySchemes/{name}")
                                       for name, scheme in schemes.items()}
        expect(components.get("schemas") or {}, dict, origin, "/components/schemas")
        expect(data.get("security") or [], list, origin, "/security")
        # The index reads through a reader of its own, so it holds no reference back to this Spec:
        # a Spec nobody uses is freed at once, with its document, as plain data is, not by the GC.
        self.operations: Mapping[str, Operation] = OperationIndex(DocumentReader(self.document))

    @cached_property
    def schemas(self) -> Any:
        """The document's schemas as validators (a dynclient.schema.SchemaSet), compiled on first use
        and shared by everything that validates against this Spec: every client made from it, and
        webhooks.parse_event. They go with the Spec (a cycle, freed by the garbage collector)."""
        from .schema import SchemaSet   # schema imports nothing of spec's: no circle
        return SchemaSet(self)

    @cached_property
    def webhooks(self) -> Mapping[str, Webhook]:
        """The events the API sends back (OpenAPI 3.1 `webhooks`), by event type; empty for 3.0."""
        return index_webhooks(self)

    def webhook_operation(self, event_type: str) -> Operation:
        """A webhook as an Operation (the request the API sends: its body is the event), so that what
        describes and compares operations describes and compares events too."""
        hook = self.webhooks[event_type]
        node = expect(self.resolve_pointer(hook.operation_pointer), dict, self.document.origin, hook.operation_pointer)
        return Operation(operation_id=event_type, method=hook.method, path=f"webhook {hook.name}", parameters=(),
                         request_body=self._request_body(node.get("requestBody"), f"{hook.operation_pointer}/requestBody"),
                         responses=self._responses(node.get("responses") or {}, f"{hook.operation_pointer}/responses"),
                         security=(), summary=str(node.get("summary") or ""),
                         description=str(node.get("description") or ""))

    @property
    def repairs(self) -> tuple:
        """The schema defects mended at load time (dynclient.repair.Repair: pointer, was, now)."""
        return self.document.repairs

    @property
    def problems(self) -> list[str]:
        """Defects mended at load time (dynclient.repair), then those found and mended while
        indexing, in document order (builds every operation)."""
        return [*map(str, self.document.repairs), *self.operations.problems()]

    def __repr__(self) -> str:
        return (f"<Spec {self.title!r} {self.version} (OpenAPI {self.openapi}), "
                f"{len(self.operations)} operations, from {self.document.origin}>")

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations.values())

    def __len__(self) -> int:
        return len(self.operations)

    def __getitem__(self, operation_id: str) -> Operation:
        return self.operations[operation_id]
