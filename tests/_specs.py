"""Tiny inline OpenAPI documents and helpers shared by the tests/test_client_*.py files.

SPEC_30 (OpenAPI 3.0.3) exercises every parameter style, body media type and
security scheme; SPEC_31 (OpenAPI 3.1.0) has type lists, `const` and nested
bodies.  Neither names an openai.com server, so OPENAI_* environment variables
must not apply to them.
"""

from __future__ import annotations

import copy
from typing import Any

CANARY = "sk-test-canary-123"

OK = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
OK_RESPONSE = {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ok"}}}}}
ANY: dict = {}


def _q(name: str, schema: dict, **extra: Any) -> dict:
    return {"name": name, "in": "query", "schema": schema, **extra}


STRINGS = {"type": "array", "items": {"type": "string"}}

SPEC_30: dict = {
    "openapi": "3.0.3",
    "info": {"title": "Tiny 3.0", "version": "1.0"},
    "servers": [{"url": "https://api.example.test/v1"}],
    "security": [{"bearerAuth": []}],
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "basicAuth": {"type": "http", "scheme": "basic"},
            "headerKey": {"type": "apiKey", "in": "header", "name": "X-Custom-Token"},
            "queryKey": {"type": "apiKey", "in": "query", "name": "api_key"},
            "cookieKey": {"type": "apiKey", "in": "cookie", "name": "sid"},
        },
        "schemas": {
            "Ok": OK,
            "Item": {
                "type": "object",
                "required": ["id", "count"],
                "properties": {
                    "id": {"type": "string"},
                    "count": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "owner": {"type": "object", "properties": {"name": {"type": "string"}}},
                    "note": {"type": "string", "nullable": True},
                },
            },
            "Thing": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "count": {"type": "integer"},
                               "tags": STRINGS, "flag": {"type": "boolean"}},
            },
        },
    },
    "paths": {
        "/ping": {
            "get": {"operationId": "ping", "responses": OK_RESPONSE},
            "post": {
                "operationId": "postPing",
                "requestBody": {"required": False,
                                "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": OK_RESPONSE,
            },
        },
        "/items/{item_id}": {
            "get": {
                "operationId": "getItem",
                "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}},
            },
        },
        "/files/{folder}/{name}": {
            "get": {
                "operationId": "getFile",
                "parameters": [
                    {"name": "folder", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": OK_RESPONSE,
            },
        },
        "/search": {
            "get": {
                "operationId": "search",
                "parameters": [
                    _q("tags", STRINGS),
                    _q("ids", STRINGS, explode=False),
                    _q("spaced", STRINGS, style="spaceDelimited", explode=False),
                    _q("piped", STRINGS, style="pipeDelimited", explode=False),
                    _q("metadata", {"type": "object", "additionalProperties": {"type": "string"}},
                       style="deepObject", explode=True),
                    _q("flag", {"type": "boolean"}),
                    _q("q", {"type": "string"}),
                    _q("limit", {"type": "integer"}),
                    _q("filter[name]", {"type": "string"}),
                    _q("timeout", {"type": "string"}),
                    _q("headers", {"type": "string"}),
                    _q("params", {"type": "string"}),
                    _q("include[]", STRINGS),
                    {"name": "X-Trace-Ids", "in": "header", "schema": STRINGS},
                    {"name": "OpenAI-Beta", "in": "header", "schema": {"type": "string"}},
                    {"name": "X-Flag", "in": "header", "schema": {"type": "boolean"}},
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    {"name": "prefs", "in": "cookie", "schema": STRINGS},
                ],
                "responses": OK_RESPONSE,
            },
        },
        "/styles/{lab}/{labx}/{mat}/{matx}": {
            "get": {
                "operationId": "styles",
                "parameters": [
                    {"name": "lab", "in": "path", "required": True, "style": "label", "schema": ANY},
                    {"name": "labx", "in": "path", "required": True, "style": "label", "explode": True,
                     "schema": ANY},
                    {"name": "mat", "in": "path", "required": True, "style": "matrix", "schema": ANY},
                    {"name": "matx", "in": "path", "required": True, "style": "matrix", "explode": True,
                     "schema": ANY},
                ],
                "responses": OK_RESPONSE,
            },
        },
        "/upload": {
            "post": {
                "operationId": "upload",
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "image": {"type": "string", "format": "binary"},
                            "attachments": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "tags": STRINGS,
                            "meta": {"type": "object"},
                            "flag": {"type": "boolean"},
                            "n": {"type": "integer"},
                            "ratio": {"type": "number"},
                            "note": {"type": "string"},
                        },
                    },
                    "encoding": {"image": {"contentType": "image/png"}},
                }}},
                "responses": OK_RESPONSE,
            },
        },
        "/form": {
            "post": {
                "operationId": "submitForm",
                "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {
                        "name": {"type": "string"}, "tags": STRINGS, "flag": {"type": "boolean"},
                        "count": {"type": "integer"}, "meta": {"type": "object"}}},
                }}},
                "responses": OK_RESPONSE,
            },
        },
        "/blob": {
            "post": {
                "operationId": "uploadBlob",
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": OK_RESPONSE,
            },
        },
        "/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                    "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Thing"}},
                    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Thing"}},
                }},
                "responses": OK_RESPONSE,
            },
        },
        "/public": {"get": {"operationId": "publicPing", "security": [], "responses": OK_RESPONSE}},
        "/alt": {"get": {"operationId": "altAuth", "security": [{"queryKey": []}, {"bearerAuth": []}],
                         "responses": OK_RESPONSE}},
        "/both": {"get": {"operationId": "bothAuth", "security": [{"headerKey": [], "cookieKey": []}],
                          "parameters": [{"name": "theme", "in": "cookie", "schema": {"type": "string"}}],
                          "responses": OK_RESPONSE}},
        "/basic": {"get": {"operationId": "basicOnly", "security": [{"basicAuth": []}],
                           "responses": OK_RESPONSE}},
        "/header-key": {"post": {"operationId": "headerKeyOnly", "security": [{"headerKey": []}],
                                 "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                                 "responses": OK_RESPONSE}},
        "/text": {
            "get": {
                "operationId": "getText",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            },
        },
    },
}

SPEC_31: dict = {
    "openapi": "3.1.0",
    "info": {"title": "Tiny 3.1", "version": "2.0"},
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearerAuth": []}],
    "paths": {
        "/records/{record_id}": {
            "put": {
                "operationId": "putRecord",
                "parameters": [
                    {"name": "record_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "kind"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "kind": {"const": "record"},
                        "score": {"type": ["number", "null"]},
                        "labels": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                        "nested": {"type": "object", "properties": {
                            "deep": {"type": "object", "properties": {"leaf": {"type": "integer"}}}}},
                    },
                }}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id"],
                    "properties": {"id": {"type": "string"}, "score": {"type": ["number", "null"]}}}}}}},
            },
        },
    },
}


def spec_30() -> dict:
    """A fresh deep copy (the loader may keep references into the dict)."""
    return copy.deepcopy(SPEC_30)


def spec_31() -> dict:
    return copy.deepcopy(SPEC_31)


def assistant(**changes: Any) -> dict:
    """A response body that is a valid AssistantObject of openai-2025-04-29.yaml."""
    body = {"id": "asst_1", "object": "assistant", "created_at": 1700000000, "name": None,
            "description": None, "model": "gpt-4o", "instructions": None, "tools": [], "metadata": {}}
    body.update(changes)
    return body


def openai_file(**changes: Any) -> dict:
    body = {"id": "file-1", "object": "file", "bytes": 3, "created_at": 1700000000, "filename": "a.jsonl",
            "purpose": "assistants", "status": "uploaded"}
    body.update(changes)
    return body


def assert_nothing_sent(server: Any, client: Any = None) -> None:
    """The refused call opened no connection and sent no byte.

    Waits briefly so a connection still in the listen backlog would be counted;
    with a client, also checks it never even created a connection pool.
    """
    arrived = server.wait_for(lambda s: s.connections > 0 or s.bytes_received > 0, timeout=0.02)
    assert not arrived, f"a refused call reached the server: {server.connections} connection(s), " \
                        f"{server.bytes_received} byte(s)"
    assert server.connections == 0 and server.bytes_received == 0 and server.requests == []
    if client is not None:
        assert len(client.transport.pool.pools) == 0, "the client opened a connection pool for a refused call"


# --- the corpus documents most suites sample, and one client each (shared across modules) ---

import os as _os
from pathlib import Path as _Path

CORPUS = _Path(_os.environ.get("DYNCLIENT_CORPUS") or _Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai")
DOCUMENTS = {"2025": CORPUS / "openai-2025-04-29.yaml", "2026": CORPUS / "openai-2026-08-21.yaml"}
_CLIENTS: dict = {}


def client_for(document: str):
    """A Client for DOCUMENTS[document] that sends nothing anywhere (prepare only)."""
    import dynclient
    if document not in _CLIENTS:
        _CLIENTS[document] = dynclient.Client(DOCUMENTS[document], base_url="http://127.0.0.1:9", api_key="sk-test")
    return _CLIENTS[document]
