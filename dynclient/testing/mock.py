"""A mock server that speaks any OpenAPI 3.x document.

It routes by method and path template (under the server URL's path prefix,
e.g. ``/v1``), parses and validates every request with the client's own
validator, answers invalid ones with 400 in the document's error shape and
missing credentials with 401, and answers valid ones with the document's
examples where they validate and synthesized instances otherwise. Every
response body is validated before it leaves; one that cannot be made valid is
a 500 that says why.

State is inferred from paths, not written per endpoint: a POST on a
collection (``/assistants``) whose item path (``/assistants/{assistant_id}``)
has a GET creates an object; GET on the item returns it, POST/PATCH/PUT on
the item changes it, DELETE removes it (then 404), and GET on the collection
lists it with cursor pagination (``limit``, ``after``, ``before``, ``order``;
``first_id``, ``last_id``, ``has_more``). Nested collections
(``/threads/{thread_id}/messages``) are kept per parent, and an answer's fields
named after a path parameter (a run's ``thread_id``) take the path's value. A
POST on one segment below an item (``/threads/{thread_id}/runs/{run_id}/cancel``)
that answers with the item's own schema is an action on the item: its answer is
the stored item, and becomes it.

An id the mock never created is assumed (``MockApp.assume``): drawn on first use
from the schema of the collection's GET with that id, its parents first, then
kept like a created one. An id created and deleted is a 404; an assumed one that
is deleted is forgotten. ``strict_ids=True`` (``--strict-ids``) answers 404 for
every id never created.

Overrides (``overrides.py``) fix fields of an operation's answers, for a whole
server or one request. Files keep their bytes and batches run their input file
through these same handlers (``batches.py``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Iterator, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .. import codecs
from ..codecs import FORM_DELIMITERS
from ..core.call import MISSING, Bound, validate_request
from ..errors import RequestValidationError
from ..schema import from_text, schema_kind, schema_properties, unwrap
from ..spec import Operation, Parameter, Spec
from .batches import BatchEngine, Upload
from .reading import (HOP_BY_HOP, admits_array, bracketed, constant, declared_headers, ends_with_done, error_media,
                      examples, openai_param, parse_multipart, required_names, success, typed, unflatten)
from .overrides import checked_overrides, deep_merge, from_prefer
from .synth import SAMPLES, SynthesisError, fresh_id, synthesize
from .webhook_sender import WebhookSender

REQUEST_LOG = 10_000   # exchanges kept in MockApp.requests
MAX_STORED = 10_000   # objects kept per collection (the oldest go first): the mock's memory has a bound


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None   # a file on disk to send as the body (then `body` is empty)


@dataclass(frozen=True)
class Exchange:
    method: str
    target: str    # path and query, as received
    status: int
    header_names: frozenset[str] = frozenset()   # lower case; the values (credentials) are not kept


# Where the mock's redirects point (a path under the mock's own origin); it answers any method there.
REDIRECT_TARGET = "/__dynclient_mock/redirected"


@dataclass(frozen=True)
class Route:
    operation: Operation
    pattern: re.Pattern
    fixed_query: tuple[tuple[str, str], ...]   # e.g. `/responses?beta=true` in a path key
    collection: str | None                     # template of the collection the item belongs to
    role: str                                  # create | retrieve | modify | delete | list | action | other


class MockApp:
    """The mock's logic, without sockets: a request in, a Reply out."""

    def __init__(self, spec: Any, *, require_auth: bool = True, overrides: Mapping[str, Any] | None = None,
                 webhook_url: str | None = None, webhook_secret: str | bytes | None = None,
                 batch_seconds: float = 0.0, batch_window_seconds: float | None = None, strict_ids: bool = False):
        self.spec = spec if isinstance(spec, Spec) else Spec(spec)
        self.schemas = self.spec.schemas   # shared with clients of the same Spec
        self.require_auth = require_auth
        self.origin = ""   # `http://127.0.0.1:8080` once a server listens: the start of a redirect's Location
        self.strict_ids = strict_ids   # True: an id never created is a 404; False: it is assumed (`assume`)
        self.overrides = checked_overrides(self.spec, overrides or {})   # operation id -> JSON object
        server_url = str((self.spec.servers or [{"url": "/"}])[0].get("url", "/"))
        self.prefix = urlsplit(server_url).path.rstrip("/") if "{" not in server_url else ""
        self._declared: dict[str, dict] = {}   # response media pointer -> the properties its schema declares
        self.routes = self._routes()
        self.store: dict[str, dict[str, dict]] = {}
        # Per collection path: ids the mock assumed (never created, made on first use), and ids it created
        # and deleted (a 404 from then on). Both ordered, and bounded like the store.
        self.assumed: dict[str, dict[str, None]] = {}
        self.deleted: dict[str, dict[str, None]] = {}
        self.item_reads: dict[str, Route] = {}   # collection template -> the route reading one of its items
        for r in reversed(self.routes):   # (the plain path before one with a fixed query, `?beta=true`)
            if r.role == "retrieve":
                self.item_reads[r.collection] = r
        self.lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}
        # What was asked and answered, newest last (bounded): for tests that inspect the traffic.
        self.requests: collections.deque[Exchange] = collections.deque(maxlen=REQUEST_LOG)
        self.webhooks: WebhookSender | None = None   # signed events to webhook_url (webhook_sender.py)
        if webhook_url:
            if not webhook_secret:
                raise ValueError("webhook_url needs webhook_secret: the events are signed with it")
            if not self.spec.webhooks:
                raise ValueError(f"{self.spec.title} {self.spec.version} declares no webhooks (an OpenAPI 3.1 "
                                 f"`webhooks` key)")
            self.webhooks = WebhookSender(self.spec, self.schemas, webhook_url, webhook_secret)
        self.batches = BatchEngine(self, batch_seconds, batch_window_seconds)   # files' bytes, batches run

    # --- routing ---------------------------------------------------------------

    def _routes(self) -> list[Route]:
        ops = list(self.spec)
        by_path = {(op.method, op.path.split("?")[0]) for op in ops}
        collections = {op.path for op in ops if op.method == "POST" and self._creates_an_object(op)
                       and any(m == "GET" and re.fullmatch(re.escape(op.path) + r"/\{[^}/]+\}", p)
                               for m, p in by_path)}
        items = {op.path: self._answer_schema(op) for op in ops if op.method == "GET"
                 and re.fullmatch(r"(.+)/\{[^}/]+\}", op.path) and op.path.rsplit("/", 1)[0] in collections}
        routes = []
        for op in ops:
            template, _, fixed = op.path.partition("?")
            regex = "".join(f"(?P<p{i}>[^/]+)" if part.startswith("{") else re.escape(part)
                            for i, part in enumerate(re.split(r"(\{[^}]+\})", template)))
            parent = re.sub(r"/\{[^}/]+\}$", "", template)
            if template in collections:
                role = {"POST": "create", "GET": "list"}.get(op.method, "other")
                collection = template
            elif parent != template and parent in collections:
                role = {"GET": "retrieve", "DELETE": "delete", "POST": "modify", "PATCH": "modify",
                        "PUT": "modify"}.get(op.method, "other")
                collection = parent
            elif op.method == "POST" and self._acts_on_item(op, template, items):
                role, collection = "action", re.sub(r"/\{[^}/]+\}$", "", template.rsplit("/", 1)[0])
            else:
                role, collection = "other", None
            routes.append(Route(op, re.compile(regex + "$"), tuple(parse_qsl(fixed)), collection, role))
        # Literal paths before templated ones, and routes with a fixed query before plain ones.
        routes.sort(key=lambda r: (-len(r.fixed_query), r.operation.path.count("{"), -len(r.operation.path)))
        return routes

    def _creates_an_object(self, op: Operation) -> bool:
        """A POST answers with one object that has an `id` (not a list, not an assignment record)."""
        media = _json_answer(op)
        if media is None or media.schema is None:
            return False
        return "id" in self.declared(media)

    @staticmethod
    def _answer_schema(op: Operation) -> Any:
        """The schema of the operation's JSON success answer, as written (a `$ref`, usually), or None."""
        media = _json_answer(op)
        return media.schema if media is not None else None

    def _acts_on_item(self, op: Operation, template: str, items: dict[str, Any]) -> bool:
        """`POST /threads/{thread_id}/runs/{run_id}/cancel`: one literal segment below a stored item,
        answering with the item's own schema."""
        item, _, last = template.rpartition("/")
        return (not last.startswith("{") and item in items and items[item] is not None
                and self._answer_schema(op) == items[item])

    def route(self, method: str, path: str, query: list[tuple[str, str]]) -> tuple[Route, dict] | None:
        if self.prefix:   # the server URL's path is part of every operation's URL, as on the real server
            if not path.startswith(self.prefix + "/"):
                return None
            path = path[len(self.prefix):]
        for route in self.routes:
            if route.operation.method != method:
                continue
            match = route.pattern.match(path)
            if match and all(pair in query for pair in route.fixed_query):
                return route, path_values(route, match)
        return None

    # --- handling --------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes | BinaryIO) -> Reply:
        reply = self._handle(method, target, headers, body)
        self.requests.append(Exchange(method, target, reply.status, frozenset(k.lower() for k in headers)))
        if self.webhooks is not None and 200 <= reply.status < 300 and reply.content_type \
                and "json" in reply.content_type:
            self.webhooks.observe(json.loads(reply.body))   # a batch now `completed` sends batch.completed
        return reply

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """A request from inside the mock (a batch's line): the path of a live call, without credentials
        (the batch was created with them) and not in the request log."""
        return self._handle(method, target, headers, body, trusted=True)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes | BinaryIO,
                trusted: bool = False) -> Reply:
        split = urlsplit(target)
        if split.path.startswith(REDIRECT_TARGET + "/"):
            return Reply(200, f"dynclient mock: where {split.path[len(REDIRECT_TARGET):]} redirects to\n".encode(),
                         "application/octet-stream")
        query = parse_qsl(split.query, keep_blank_values=True)
        found = self.route(method, split.path, query)
        if found is None:
            return self.error(404, f"Unknown request URL: {method} {split.path}", "invalid_request_error")
        route, path_values = found
        op = route.operation
        headers = {k.lower(): v for k, v in headers.items()}
        if self.require_auth and not trusted and not self.authorized(op, headers, query):
            return self.error(401, "Missing or malformed credentials: this operation requires "
                                   + " or ".join("+".join(r) for r in op.security), "invalid_request_error", op=op)
        upload = self.batches.upload_for(op)   # createFile: the file part's bytes are kept
        try:
            return self._answer(route, op, path_values, query, headers, body, split.path, upload)
        finally:
            if upload is not None:
                upload.discard()   # (nothing, once the engine has adopted the file)

    def _answer(self, route: Route, op: Operation, path_values: dict, query: list, headers: dict[str, str],
                body: bytes | BinaryIO, path: str, upload: Upload | None) -> Reply:
        try:
            bound = self.bind(op, path_values, query, headers)
            media, value = self.parse_body(op, headers.get("content-type", ""), body, upload)
            validate_request(self.schemas, op, bound, media, value)
            override = self.override_for(op, headers.get("prefer", ""))
        except RequestValidationError as exc:
            return self.error(400, str(exc), "invalid_request_error", param=openai_param(exc.location, exc.pointer), op=op)
        except ValueError as exc:
            return self.error(400, f"{op.operation_id}: {exc}", "invalid_request_error", op=op)
        try:
            early = self.batches.before(op, path_values, value)
            if early is not None:
                return early
            # State is kept by the path under the prefix: `/assistants`, `/threads/thread_1/messages`.
            reply = self.respond(route, bound, path_values, value, path[len(self.prefix):], override)
            return self.batches.after(op, path_values, value, reply, upload, override)
        except SynthesisError as exc:
            return self.error(500, f"the mock cannot make a valid response: {exc}", "server_error")

    def override_for(self, op: Operation, prefer: str) -> dict | None:
        """The server's override for the operation, with this request's `Prefer` one merged over it."""
        mine, asked = self.overrides.get(op.operation_id), from_prefer(prefer) if prefer else None
        return deep_merge(mine, asked) if mine is not None and asked is not None else (asked or mine)

    def authorized(self, op: Operation, headers: dict[str, str], query: list) -> bool:
        if not op.security or any(not requirement for requirement in op.security):
            return True
        for requirement in op.security:
            if all(self._has_credential(self.spec.security_schemes.get(name) or {}, headers, query)
                   for name in requirement):
                return True
        return False

    @staticmethod
    def _has_credential(scheme: dict, headers: dict[str, str], query: list) -> bool:
        kind, where = scheme.get("type"), scheme.get("in")
        if kind == "apiKey":
            name = str(scheme.get("name", ""))
            if where == "header":
                return bool(headers.get(name.lower()))
            if where == "query":
                return any(k == name and v for k, v in query)
            return f"{name}=" in headers.get("cookie", "")
        auth = headers.get("authorization", "")
        expected = "Basic " if str(scheme.get("scheme", "")).lower() == "basic" else "Bearer "
        return auth.startswith(expected) and len(auth) > len(expected)

    # --- parsing requests ------------------------------------------------------

    def bind(self, op: Operation, path_values: dict, query: list, headers: dict) -> Bound:
        bound = Bound()
        for p in op.parameters:
            if p.location == "path":
                bound.path[p.name] = self.coerce(p, [path_values[p.name]])
            elif p.location == "query":
                if p.style == "deepObject":
                    found = unflatten([(tokens, v) for k, v in query
                                       if k.startswith(p.name + "[") and (tokens := bracketed(k))])
                    values = [found[p.name]] if found else []
                else:
                    values = [v for k, v in query if k == p.name]
                if values:
                    bound.query.append((p, self.coerce(p, values)))
                elif p.required:
                    raise RequestValidationError(op.operation_id, "query", p.name, "a required query parameter is missing")
            elif p.location == "header":
                if p.name.lower() in headers:
                    bound.header.append((p, self.coerce(p, [headers[p.name.lower()]])))
                elif p.required:
                    raise RequestValidationError(op.operation_id, "header", p.name, "a required header is missing")
            elif p.location == "cookie":
                cookies = dict(part.strip().split("=", 1) for part in headers.get("cookie", "").split(";")
                               if "=" in part)
                if p.name in cookies:
                    bound.cookie.append((p, self.coerce(p, [unquote(cookies[p.name])])))
                elif p.required:
                    raise RequestValidationError(op.operation_id, "cookie", p.name, "a required cookie is missing")
        return bound

    def coerce(self, p: Parameter, values: list) -> Any:
        """Text from the wire to the JSON value its schema describes."""
        if p.schema is None:
            return values[-1]
        root, resolve = self.schemas.translated(p.pointer, "request")
        if isinstance(values[-1], dict):   # a deepObject's members
            return typed(values[-1], root, resolve)
        kind, items = schema_kind(root, resolve)
        if kind == "array":
            delimiter = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(p.style, ",")
            # An empty text is an empty array (the client sends `OpenAI-Beta: ` for []), not [""].
            parts = values if (p.explode and p.location == "query") else \
                (values[-1].split(delimiter) if values[-1] else [])
            return [from_text(v, schema_kind(items, resolve)[0]) for v in parts]
        return from_text(values[-1], kind)

    def parse_body(self, op: Operation, content_type: str, body: bytes | BinaryIO,
                   keep_file: Any = None) -> tuple[Any, Any]:
        """The request body as its schema sees it. `body` is bytes, or a file for a large one (the
        socket side spools those to disk): multipart and binary bodies are read from it as a stream;
        `keep_file(name, filename)` may give a file part somewhere to go (see parse_multipart)."""
        request_body = op.request_body
        empty = not body if isinstance(body, bytes) else False
        if request_body is None or (empty and not request_body.required):
            return None, MISSING
        key = codecs.match_media(request_body.content, content_type)
        if empty and key is None and all(codecs.media_essence(k) in FORMS for k in request_body.content):
            key = next(iter(request_body.content))   # nothing sent: a form all of whose fields are empty
        if empty and (key is None or codecs.media_essence(key) not in FORMS):
            raise ValueError("missing required request body")
        if key is None:
            raise ValueError(f"unsupported content type {codecs.media_essence(content_type) or 'none'!r}; "
                             f"expected {', '.join(request_body.content)}")
        media = request_body.content[key]
        essence = codecs.media_essence(key)
        if essence in codecs.JSON_RANGES:   # `*/*` declared: what was sent decides how it reads
            essence = codecs.media_essence(content_type)
        if empty:   # a form whose fields are all empty arrays or objects has no pair on the wire
            return media, self.form_fields(media, [])
        if essence == "multipart/form-data":
            return media, self.form_fields(media, parse_multipart(content_type, body, keep_file))
        if not (essence == "application/json" or essence.endswith("+json")
                or essence == "application/x-www-form-urlencoded"):
            return media, codecs.BINARY_PLACEHOLDER   # the bytes themselves are never looked at
        data = body if isinstance(body, bytes) else body.read()
        if essence == "application/x-www-form-urlencoded":
            return media, self.form_fields(media, parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            return media, json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError("the body is JSON nested too deeply to read") from None

    def form_fields(self, media: Any, pairs: list[tuple[str, Any]]) -> dict:
        """Form fields typed by the body schema: numbers, booleans, JSON objects, repeated arrays."""
        properties: dict = {}
        root, resolve = None, None
        if media.schema is not None:
            root, resolve = self.schemas.translated(media.pointer, "request")
            properties = schema_properties(root, resolve)
        out: dict[str, Any] = {}
        # `items[0][price]=...` (an encoding of style deepObject) is a field's members; a bracketed
        # name that is itself a property (OpenAI's `include[]`) stays a plain field.
        nested, plain = [], []
        for name, value in pairs:
            tokens = None if name in properties else bracketed(name)
            if tokens and (tokens[0] in properties or not properties):
                nested.append((tokens, value))
            else:
                plain.append((name, value))
        for name, value in unflatten(nested).items():
            out[name] = typed(value, properties.get(name), resolve)
        for name, value in plain:
            kind, items = schema_kind(properties.get(name, {}), resolve) if properties else (None, None)
            rule = encoding_rule(media, name)
            if kind == "array" and isinstance(value, str) and rule.get("explode") is False:
                delimiter = FORM_DELIMITERS.get(rule.get("style", "form"), ",")
                item_kind = schema_kind(items, resolve)[0]
                out[name] = [from_text(v, item_kind) for v in value.split(delimiter)] if value else []
                continue
            if isinstance(value, bytes):
                value = codecs.BINARY_PLACEHOLDER
            elif rule.get("style") == "deepObject" and kind in ("object", "array"):
                pass   # its members come as `name[key]`: JSON text here is a string, as a server reads it
            elif isinstance(value, str):   # not already typed by a JSON part
                value = from_text(value, schema_kind(items, resolve)[0] if kind == "array" else kind)
            if kind == "array":
                out.setdefault(name, []).append(value)
            elif name in out:   # a repeated field is an array even where the schema hides it in anyOf
                out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
            else:
                out[name] = value
        # An empty array has no part on the wire (the client sends none), so a required array
        # field that is absent was [].
        for name in required_names(root, resolve) if properties else ():
            if name not in out and admits_array(properties.get(name, {}), resolve):
                out[name] = []
            elif name not in out and encoding_rule(media, name).get("style") == "deepObject":
                out[name] = {}   # a deepObject with no members has no pair either
        return out

    # --- answering -------------------------------------------------------------

    def respond(self, route: Route, bound: Bound, path_values: dict, body: Any, path: str,
                override: dict | None = None) -> Reply:
        op = route.operation
        status, response = success(op)
        if response is None or not response.content:
            return Reply(status, b"", None, self.answer_headers(response, path) if response else {})
        wants_stream = isinstance(body, dict) and body.get("stream") is True
        key = next((k for k in response.content if codecs.media_essence(k) == "text/event-stream"), None) \
            if wants_stream else None
        if key is None:
            key = next((k for k in response.content if "json" in k), next(iter(response.content)))
        media = response.content[key]
        essence = codecs.media_essence(key)
        headers = self.answer_headers(response, path)
        if essence == "text/event-stream":
            return self.stream(op, media, body)
        if "json" not in essence:
            data = SAMPLES.get(essence) or (b"dynclient mock text\n" if essence.startswith("text/")
                                            else b"dynclient mock body\n")
            return Reply(status, data, key if "*" not in key else "application/octet-stream", headers)
        value = self.instance(route, media, bound, path_values, body, path, override)
        if isinstance(value, Reply):
            return value
        problem = self.schemas.compiled(media.pointer, "response").violation(value) if media.schema else None
        if problem is not None:
            raise SynthesisError(f"{problem.pointer or '/'}: {problem.message}")
        return Reply(status, json.dumps(value).encode(), key, headers)

    def answer_headers(self, response: Any, path: str) -> dict[str, str]:
        """The headers an answer declares, with plausible values; a declared Location points at the mock itself
        (REDIRECT_TARGET), never at the document's example host, which a client would follow."""
        headers = declared_headers(response)
        for name in headers:
            if name.lower() == "location":
                headers[name] = f"{self.origin}{REDIRECT_TARGET}{self.prefix}{path}"
        return headers

    def instance(self, route: Route, media: Any, bound: Bound, path_values: dict, body: Any, path: str,
                 override: dict | None = None) -> Any:
        """The response body: stored state where the route has some, else an example or a synthesis;
        then the override and the path's values (`finish`). A stored item becomes what was answered."""
        op, base = route.operation, self.example(route.operation, media)
        if route.collection is None or route.role == "other":
            fresh = self.merged(media, base, body, fresh=False) if isinstance(base, dict) else base
            return self.finish(op, media, fresh, override, bound)
        # The collection's path: `/threads/t1/runs` for .../runs, .../runs/r1 and .../runs/r1/cancel.
        collection_path = path if route.role in ("create", "list") else \
            path.rsplit("/", 2 if route.role == "action" else 1)[0]
        item_id = list(path_values.values())[-1] if route.role not in ("create", "list") else None
        with self.lock:
            missing = self.missing_parent(route.collection or "", collection_path)
            if missing is not None:
                return self.error(404, f"No object with id {missing[1]!r} found at {missing[0]}",
                                  "invalid_request_error", param=list(path_values)[0], code="not_found", op=op)
            items = self.store.setdefault(collection_path, {})
            if route.role == "create":
                obj = self.finish(op, media, self.with_new_id(media, self.merged(media, base, body, fresh=True),
                                                              items), override, bound)
                if not isinstance(obj, Reply):
                    keep(items, str(obj.get("id", fresh_id())), obj)
                return obj
            if route.role == "list":
                page = self.page(op, media, base, list(items.values()), bound)
                return self.finish(op, media, page, override, bound)
            if item_id not in items and not self.assume(route.collection, collection_path, item_id):
                return self.error(404, f"No object with id {item_id!r} found at {collection_path}",
                                  "invalid_request_error", param=list(path_values)[-1], code="not_found", op=op)
            if route.role == "delete":
                removed = items.pop(item_id)
                if self.assumed.get(collection_path, {}).pop(item_id, MISSING) is MISSING:
                    keep(self.deleted.setdefault(collection_path, {}), item_id, None)
                # The object's own id (an integer where its schema wants one), not the path's text.
                kept_id = removed.get("id", item_id) if isinstance(removed, dict) else item_id
                gone = {**base, **{k: v for k, v in (("id", kept_id), ("deleted", True)) if k in base}}
                return self.finish(op, media, gone, override, bound)
            current = items[item_id] if route.role == "retrieve" else \
                self.merged(media, items[item_id], body, fresh=False)   # modify, action
            if route.role == "action" and path.rsplit("/", 1)[-1] == "cancel":
                current = self.cancelled(media, current)
            answer = self.finish(op, media, current, override, bound)
            if not isinstance(answer, Reply):
                items[item_id] = answer
            return answer

    def missing_parent(self, template: str, collection_path: str) -> tuple[str, str] | None:
        """(the parent's collection, its id) when the collection (`template`, filled in as
        `collection_path`) hangs under an object of a collection the mock keeps (`/threads/t1/runs`
        under `/threads`) that it neither holds nor may assume."""
        parent = re.fullmatch(r"(.+)/\{[^}/]+\}/[^{}/]+", template)
        if parent is None or parent.group(1) not in self._kept_collections():
            return None
        parent_path, parent_id = collection_path.rsplit("/", 2)[:2]
        if parent_id in self.store.get(parent_path, {}) or self.assume(parent.group(1), parent_path, parent_id):
            return None
        return parent_path, parent_id

    def assume(self, template: str | None, collection_path: str, item_id: str) -> bool:
        """An id the mock never saw stands for an object made elsewhere: unless `strict_ids`, it is made
        now, from the schema of the collection's GET (the document's example or a synthesis), with that
        id and the path's values, its parents first; then it is stored like a created one, so later
        reads, updates and lists agree. An id the mock created and deleted stays a 404. Under self.lock."""
        retrieve = self.item_reads.get(template or "")
        media = _json_answer(retrieve.operation) if retrieve is not None else None
        if self.strict_ids or media is None or item_id in self.deleted.get(collection_path, {}) \
                or self.missing_parent(template or "", collection_path) is not None:
            return False
        match = retrieve.pattern.match(f"{collection_path}/{quote(item_id, safe='')}")
        values = path_values(retrieve, match) if match else {}
        typed_values = {}
        for p in retrieve.operation.parameters:
            if p.location == "path" and p.name in values:
                with contextlib.suppress(ValueError):
                    typed_values[p.name] = self.coerce(p, [values[p.name]])
        obj = self.with_path_values(media, self.with_id(media, self.example(retrieve.operation, media), item_id),
                                    typed_values)
        keep(self.store.setdefault(collection_path, {}), item_id, obj)
        keep(self.assumed.setdefault(collection_path, {}), item_id, None)
        return True

    def with_id(self, media: Any, obj: Any, item_id: str) -> Any:
        """`obj` with `item_id` as its id (a number where the schema wants one), where the schema allows it."""
        if not isinstance(obj, dict):
            return obj
        compiled = self.schemas.compiled(media.pointer, "response")
        for candidate in (item_id, *((int(item_id),) if DIGITS.fullmatch(item_id) else ())):
            if compiled.is_valid({**obj, "id": candidate}):
                return {**obj, "id": candidate}
        return obj

    def _kept_collections(self) -> set[str]:
        found = self._cache.get(("collections",))
        if found is None:
            found = self._cache[("collections",)] = {r.collection for r in self.routes if r.role == "create"}
        return found

    def with_new_id(self, media: Any, obj: Any, items: dict) -> Any:
        """A created object with an id of its own that a later call can name: an integer id one past
        the largest kept, and a fresh id where the schema allows one but the object has none."""
        if not isinstance(obj, dict):
            return obj
        current = obj.get("id")
        if isinstance(current, int) and not isinstance(current, bool):
            taken = [int(k) for k in items if k.lstrip("-").isdigit()]
            trial = {**obj, "id": max(taken, default=current - 1) + 1 if taken or str(current) in items else current}
        elif "id" not in obj:
            trial = {**obj, "id": fresh_id()}
        else:
            return obj
        return trial if self.schemas.compiled(media.pointer, "response").is_valid(trial) else obj

    def declared(self, media: Any) -> dict:
        """The properties a response media type's schema declares (through allOf), computed once."""
        found = self._declared.get(media.pointer)
        if found is None:
            found = self._declared[media.pointer] = schema_properties(
                *self.schemas.translated(media.pointer, "response"))
        return found

    def cancelled(self, media: Any, item: Any) -> Any:
        """An item after a `.../cancel` action: its status becomes the schema's word for it."""
        if not isinstance(item, dict) or "status" not in item:
            return item
        status = self.declared(media).get("status")
        allowed = status.get("enum") if isinstance(status, dict) else None
        word = next((w for w in ("cancelled", "canceled") if w in (allowed or ())), None)
        return {**item, "status": word} if word else item

    def finish(self, op: Operation, media: Any, answer: Any, override: dict | None, bound: Bound) -> Any:
        """The answer with the override merged in (a 500 naming the field if that breaks it), and
        with the path's values in the fields named after them."""
        if override:
            answer = deep_merge(answer, override)
            problem = None if media.schema is None else \
                self.schemas.compiled(media.pointer, "response").violation(answer)
            if problem is not None:
                return self.error(500, f"{op.operation_id}: the override {json.dumps(override)} makes the answer "
                                       f"invalid at {problem.pointer or '/'}: {problem.message}", "server_error",
                                  param=openai_param("body", problem.pointer))
        return self.with_path_values(media, answer, bound.path)

    def with_path_values(self, media: Any, answer: Any, path_values: dict) -> Any:
        """Fields named after a path parameter take its value where the schema allows: a run created
        at /threads/thread_1/runs, and each message listed at /threads/thread_1/messages, belong to
        thread_1. Only the answer's own fields and those of the objects in its `data` are touched."""
        if not isinstance(answer, dict) or not path_values or media.schema is None:
            return answer
        compiled = self.schemas.compiled(media.pointer, "response")
        data = answer.get("data")
        for index in (None, *(range(len(data)) if isinstance(data, list) else ())):
            for name, value in path_values.items():
                holder = answer if index is None else answer["data"][index]
                if name == "id" or not isinstance(holder, dict) or name not in holder or holder[name] == value:
                    continue
                changed = {**holder, name: value}
                trial = changed if index is None else \
                    {**answer, "data": [*answer["data"][:index], changed, *answer["data"][index + 1:]]}
                if compiled.is_valid(trial):
                    answer = trial
        return answer

    def example(self, op: Operation, media: Any) -> Any:
        """The document's example where one validates, else a synthesized instance (cached)."""
        key = (op.operation_id, media.pointer)
        if key not in self._cache:
            compiled = self.schemas.compiled(media.pointer, "response")
            candidates = [e for e in examples(self.spec, media) if compiled.is_valid(e)]
            self._cache[key] = candidates[0] if candidates else synthesize(self.schemas, media.pointer)
        return json.loads(json.dumps(self._cache[key]))   # a fresh copy per response

    def merged(self, media: Any, obj: dict, body: Any, fresh: bool) -> dict:
        """`obj` with the request's fields that the response also has or declares (`metadata`, optional in a
        Batch, is kept as sent, as the API does), each kept only if still valid."""
        compiled = self.schemas.compiled(media.pointer, "response")
        declared = self.declared(media)
        result = dict(obj)
        if fresh and (isinstance(result.get("id"), str) or ("id" in result and result["id"] is None)):
            old = result["id"] or ""
            result["id"] = fresh_id(old.split("_")[0] if "_" in old else "obj")
            if not compiled.is_valid(result):
                result["id"] = obj["id"]
        for name, value in (body.items() if isinstance(body, dict) else ()):
            if (name in result or name in declared) and name not in ("id", "object") \
                    and value != codecs.BINARY_PLACEHOLDER:
                trial = {**result, name: value}
                if compiled.is_valid(trial):
                    result = trial
        return result

    def page(self, op: Operation, media: Any, base: dict, items: list[dict], bound: Bound) -> Any:
        if not isinstance(base, dict) or "data" not in base:
            return base
        args = {p.name: v for p, v in bound.query}
        defaults = {p.name: (p.schema or {}).get("default") for p in op.parameters if isinstance(p.schema, dict)}
        order = args.get("order", defaults.get("order") or "desc")
        limit = int(args.get("limit", defaults.get("limit") or 20))
        ordered = list(reversed(items)) if order == "desc" else list(items)
        ids = [str(item.get("id")) for item in ordered]
        if args.get("after") in ids:
            ordered = ordered[ids.index(args["after"]) + 1:]
        elif args.get("before") in ids:
            ordered = ordered[:ids.index(args["before"])][-limit:]
        chunk = self.as_listed(media, base, ordered[:limit])
        page = {**base, "data": chunk}
        compiled = self.schemas.compiled(media.pointer, "response")
        declared = self.declared(media)
        for name, value in (("first_id", chunk[0].get("id") if chunk else None),
                            ("last_id", chunk[-1].get("id") if chunk else None),
                            ("has_more", len(ordered) > limit)):
            if name not in base and name not in declared:
                continue
            # An empty page has no first or last id: null as the real API sends, where the document
            # allows it; else "" (documents that declare a plain string); else the example's value.
            if value is not None:
                page[name] = value
                continue
            for candidate in (None, ""):   # (only empty pages pay for these trial validations)
                if compiled.is_valid({**page, name: candidate}):
                    page[name] = candidate
                    break
        return page

    def as_listed(self, media: Any, base: dict, items: list) -> list:
        """Kept objects as a list shows them. An object kept as a create answered it, under another schema
        than the list's items, takes from the list's own example what the items' schema fixes: the
        properties it requires that the object lacks, and its constant type tags."""
        key = ("listed", media.pointer)
        if key not in self._cache:
            root, resolve = self.schemas.translated(media.pointer, "response")
            data = unwrap(self.declared(media).get("data"), resolve)
            item = data.get("items") if isinstance(data, dict) else None
            self._cache[key] = (required_names(item, resolve) if item is not None else [],
                                [k for k, sub in schema_properties(item, resolve).items() if constant(sub, resolve)]
                                if item is not None else [])
        required, tags = self._cache[key]
        template = base["data"][0] if isinstance(base.get("data"), list) and base["data"] else None
        if not isinstance(template, dict) or not (required or tags):
            return items
        return [{**item, **{k: template[k] for k in required if k not in item and k in template},
                 **{k: template[k] for k in tags if k in item and k in template}}
                if isinstance(item, dict) else item for item in items]

    def stream(self, op: Operation, media: Any, body: Any) -> Reply:
        """A short, well-formed event stream of schema-valid events, ended as the document says."""
        event = synthesize(self.schemas, media.pointer) if media.schema is not None else {}
        if isinstance(event, dict) and media.schema is not None:
            event = self.merged(media, event, body, fresh=False)
        lines = []
        for _ in range(2):
            name = event.get("type") if isinstance(event, dict) and isinstance(event.get("type"), str) else None
            lines.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(event)}\n\n")
        if self._ends_with_done(op):
            lines.append("data: [DONE]\n\n")
        return Reply(200, "".join(lines).encode(), "text/event-stream")

    def _ends_with_done(self, op: Operation) -> bool:
        key = ("[DONE]", op.operation_id)
        if key not in self._cache:
            self._cache[key] = ends_with_done(self.spec, op)
        return self._cache[key]

    def error(self, status: int, message: str, kind: str, param: str | None = None,
              code: str | None = None, op: Operation | None = None) -> Reply:
        """OpenAI's error shape, or the document's own error schema where the operation declares one
        that this shape does not fit (then a synthesized instance carrying the message)."""
        error = {"message": message, "type": kind, "param": param, "code": code}
        body: Any = {"error": error}
        media = error_media(op, status) if op is not None else None
        if media is not None:
            compiled = self.schemas.compiled(media.pointer, "response")
            if not compiled.is_valid(body):   # some operations declare the bare `Error` object
                given = {k: v for k, v in error.items() if v is not None}   # Stripe's are strings or absent
                body = next((candidate for candidate in (error, {"error": given}, given)
                             if compiled.is_valid(candidate)), None) or self.document_error(media, message, body)
        return Reply(status, json.dumps(body).encode(), "application/json")

    def document_error(self, media: Any, message: str, fallback: dict) -> Any:
        """A valid instance of the document's error schema, with the message in its first text field."""
        compiled = self.schemas.compiled(media.pointer, "response")
        try:
            instance = synthesize(self.schemas, media.pointer)
        except SynthesisError:
            return fallback
        for holder in (instance, *(v for v in instance.values() if isinstance(v, dict))) \
                if isinstance(instance, dict) else ():
            for name in ("message", "detail", "title", "error", "description"):
                if name not in holder or isinstance(holder.get(name), str):   # an optional one too
                    before = holder.get(name, MISSING)
                    holder[name] = message
                    if compiled.is_valid(instance):
                        return instance
                    if before is MISSING:
                        del holder[name]
                    else:
                        holder[name] = before
        return instance if compiled.is_valid(instance) else fallback


    def json_media(self, op: Operation) -> Any:
        """The JSON media of the operation's success answer, or None."""
        return _json_answer(op)

    @staticmethod
    def file_reply(status: int, path: str, content_type: str) -> Reply:
        """The bytes of a file on disk as the answer, streamed by the socket side."""
        return Reply(status, b"", content_type, path=path)

    def json_reply(self, status: int, value: Any, like: Reply | None = None) -> Reply:
        """`value` as a JSON answer, with the content type and headers of `like` (an answer it replaces)."""
        if like is None:
            return Reply(status, json.dumps(value).encode(), "application/json")
        return Reply(status, json.dumps(value).encode(), like.content_type, dict(like.headers))


def path_values(route: Route, match: re.Match) -> dict[str, str]:
    """The path parameters' values in a path the route's pattern matched, by name."""
    names = re.findall(r"\{([^}]+)\}", route.operation.path)
    return {name: unquote(match.group(f"p{i * 2 + 1}")) for i, name in enumerate(names)}


def keep(bucket: dict, key: str, value: Any) -> None:
    """Put `key` in a bucket of the mock's state, the oldest going first past MAX_STORED (a long run, a batch
    of 100,000 lines, keeps the newest): the mock's memory has a bound."""
    bucket[key] = value
    if len(bucket) > MAX_STORED:
        del bucket[next(iter(bucket))]


def _json_answer(op: Operation) -> Any:
    """The JSON media of the operation's success answer, or None."""
    response = success(op)[1]
    return next((m for k, m in (response.content if response else {}).items() if "json" in k), None)


FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def encoding_rule(media: Any, name: str) -> dict:
    """The media type's `encoding` entry for a form field ({} when it has none)."""
    rule = media.encoding.get(name)
    return rule if isinstance(rule, dict) else {}


# --- the socket side -------------------------------------------------------------


DEFAULT_MAX_BODY_BYTES = 512 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 30.0
SPOOL_BYTES = 1024 * 1024       # a body larger than this waits in a temporary file, not in memory
DIGITS = re.compile(r"[0-9]+")
HEX = re.compile(rb"[0-9A-Fa-f]+")


class Refused(Exception):
    """A request the mock will not read further: answered with `status`, then the connection is closed
    (RFC 9112: after a framing error, what follows on the connection cannot be trusted)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dynclient-mock/0.1"
    # Headers and body leave in one write, with Nagle off: written apart, Nagle and the peer's
    # delayed ACK cost 40 ms per response on loopback.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def setup(self) -> None:
        self.timeout = self.server.read_timeout   # type: ignore[attr-defined]  # each read, and idle keep-alive
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:   # quiet; the caller's logging decides
        pass

    def parse_request(self) -> bool:
        # http.server takes a two-word request line (`GET /x`, or `GET <tab> HTTP/1.1`) for
        # HTTP/0.9 and answers with a bare body and no status line; the mock speaks HTTP/1.x only.
        if len(self.raw_requestline.decode("iso-8859-1").split()) != 3:   # split as http.server splits
            self.command, self.request_version, self.close_connection = None, "HTTP/1.1", True
            self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
            self.send_error(400, "malformed request line: expected METHOD TARGET HTTP/1.x")
            return False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue` for a body over the limit gets its 413 before it is sent."""
        try:
            self.declared_length()
        except Refused as refused:
            self.refuse(refused)
            return False
        return super().handle_expect_100()

    def _serve(self) -> None:
        app: MockApp = self.server.app   # type: ignore[attr-defined]
        try:
            body = self.read_body()
        except Refused as refused:
            self.refuse(refused)
            return
        try:
            reply = app.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:   # a bug in the mock must still answer, and say what happened
            reply = app.error(500, f"mock failure: {type(exc).__name__}: {exc}", "server_error")
        finally:
            if not isinstance(body, bytes):
                body.close()
        self.send_reply(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def send_reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        length = os.path.getsize(reply.path) if reply.path is not None else len(reply.body)
        self.send_header("Content-Length", str(length))
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:24])
        for name, value in reply.headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.path is None:
            self.wfile.write(reply.body)
            return
        with open(reply.path, "rb") as source:   # a stored file: streamed, never held whole
            shutil.copyfileobj(source, self.wfile, SPOOL_BYTES)

    def refuse(self, refused: Refused) -> None:
        app: MockApp = self.server.app   # type: ignore[attr-defined]
        self.close_connection = True
        kind = "invalid_request_error" if refused.status < 500 else "server_error"
        reply = app.error(refused.status, str(refused), kind)
        app.requests.append(Exchange(self.command or "", self.path, refused.status))
        self.send_reply(reply)

    # --- the body: framed as RFC 9112 says, bounded, large ones on disk -------------------

    def declared_length(self) -> int | None:
        """The Content-Length, checked; None when the body is chunked or absent."""
        lengths = self.headers.get_all("Content-Length") or []
        codings = self.headers.get_all("Transfer-Encoding") or []
        if lengths and codings:
            raise Refused(400, "Transfer-Encoding and Content-Length together (RFC 9112, 6.1): ambiguous framing")
        if codings:
            names = [c.strip().lower() for value in codings for c in value.split(",") if c.strip()]
            if names != ["chunked"]:
                raise Refused(400 if "chunked" in names else 501,
                              f"unsupported Transfer-Encoding {', '.join(names)!r} (only chunked)")
            return None
        if not lengths:
            return None
        values = {value.strip() for line in lengths for value in line.split(",")}
        if len(values) != 1 or not DIGITS.fullmatch(next(iter(values))):
            raise Refused(400, f"invalid Content-Length {', '.join(sorted(values))!r}")
        length = int(next(iter(values)))
        if length > self.server.max_body_bytes:   # type: ignore[attr-defined]
            raise Refused(413, f"request body of {length:,} bytes is larger than the mock's limit of "
                               f"{self.server.max_body_bytes:,} (max_body_bytes)")   # type: ignore[attr-defined]
        return length

    def read_body(self) -> bytes | BinaryIO:
        length = self.declared_length()
        if length is not None:
            return self.read_exactly(length)
        if self.headers.get("Transfer-Encoding"):
            return self.read_chunked()
        return b""

    def read_exactly(self, length: int) -> bytes | BinaryIO:
        if length <= SPOOL_BYTES:
            data = self.rfile.read(length)
            if len(data) < length:
                raise ConnectionError("the client closed the connection inside the body")
            return data
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, SPOOL_BYTES))
            if not chunk:
                spool.close()
                raise ConnectionError("the client closed the connection inside the body")
            spool.write(chunk)
            remaining -= len(chunk)
        spool.seek(0)
        return spool

    def read_chunked(self) -> BinaryIO:
        limit = self.server.max_body_bytes   # type: ignore[attr-defined]
        spool, total = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES), 0
        try:
            while True:
                line = self.rfile.readline(1024)
                size_text = line.split(b";", 1)[0].strip()
                if not line.endswith(b"\n") or not HEX.fullmatch(size_text) or len(size_text) > 16:
                    raise Refused(400, f"invalid chunk size line {line[:40]!r}")
                size = int(size_text, 16)
                if size == 0:
                    for _ in range(100):   # trailers, up to the empty line
                        if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                            break
                    else:
                        raise Refused(400, "too many trailer lines")
                    spool.seek(0)
                    return spool
                total += size
                if total > limit:
                    raise Refused(413, f"chunked request body larger than the mock's limit of {limit:,} "
                                       f"(max_body_bytes)")
                while size:
                    chunk = self.rfile.read(min(size, SPOOL_BYTES))
                    if not chunk:
                        raise ConnectionError("the client closed the connection inside a chunk")
                    spool.write(chunk)
                    size -= len(chunk)
                if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise Refused(400, "a chunk is not followed by CRLF")
        except BaseException:
            spool.close()
            raise


class _Server(ThreadingHTTPServer):
    # The listen backlog: 5 by default, which reset about 1.3 % of 32 concurrent clients' connections.
    # The kernel caps it at net.core.somaxconn.
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: MockApp, max_body_bytes: int, read_timeout: float | None):
        self.app, self.max_body_bytes, self.read_timeout = app, max_body_bytes, read_timeout
        super().__init__(address, _Handler)


class MockServer:
    """The mock on a real socket (127.0.0.1 by default), served from a background thread.

    Request bodies are bounded (`max_body_bytes`, 512 MiB by default: more is a 413) and those over
    1 MiB wait in a temporary file; a connection that sends nothing for `read_timeout` seconds (30 by
    default), in a request or between two, is closed. A batch takes `batch_seconds` from creation to
    its end (0: done at the first retrieve), and expires after `batch_window_seconds` (default: its
    completion_window) — see batches.py.
    """

    def __init__(self, spec: Any, host: str = "127.0.0.1", port: int = 0, *, require_auth: bool = True,
                 overrides: Mapping[str, Any] | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 read_timeout: float | None = DEFAULT_READ_TIMEOUT, webhook_url: str | None = None,
                 webhook_secret: str | bytes | None = None, batch_seconds: float = 0.0,
                 batch_window_seconds: float | None = None, strict_ids: bool = False):
        self.app = MockApp(spec, require_auth=require_auth, overrides=overrides, webhook_url=webhook_url,
                           webhook_secret=webhook_secret, batch_seconds=batch_seconds,
                           batch_window_seconds=batch_window_seconds, strict_ids=strict_ids)
        self.httpd = _Server((host, port), self.app, max_body_bytes, read_timeout)
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        # A redirect names this origin, unless the server listens on every address: then its
        # Location is a path, which the client resolves against the URL it called.
        self.app.origin = "" if self.host in ("0.0.0.0", "::") else self.url
        self.base_url = self.url + self.app.prefix
        self._thread: threading.Thread | None = None

    def start(self) -> "MockServer":
        # stop() waits for the loop to look at its flag: every 0.05 s, not http.server's 0.5 s.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="dynclient-mock", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.app.webhooks is not None:
            self.app.webhooks.close()
        self.app.batches.close()

    def __enter__(self) -> "MockServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def serve(spec: Any, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[str]:
    """Run the mock in this process on a free loopback port; yields its base URL (with the `/v1` prefix).
    Options go to MockServer: `require_auth=False`, `overrides={"getRun": {"status": "completed"}}`."""
    with MockServer(spec, host, port, **options) as server:
        yield server.base_url
