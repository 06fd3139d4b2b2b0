"""What the mock reads: from the document (success and error responses, examples, declared
headers, how a stream ends) and from the wire (multipart forms, OpenAI's `param`).

Each rule is read from the document, never written per endpoint.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import re
from typing import Any

from .. import codecs
from ..schema import _unwrap, schema_kind
from ..spec import Operation, Spec

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "content-length"})


def error_media(op: Operation, status: int) -> Any:
    """The JSON media the operation declares for an error status: exact, then `4XX`, then `default`."""
    for key in (str(status), f"{status // 100}XX", "default"):
        response = op.responses.get(key)
        for name, media in (response.content if response else {}).items():
            if "json" in name and media.schema is not None:
                return media
    return None


def success(op: Operation):
    statuses = sorted(s for s in op.responses if s.isdigit() and s.startswith("2"))
    if statuses:
        return int(statuses[0]), op.responses[statuses[0]]
    if "2XX" in op.responses:
        return 200, op.responses["2XX"]
    return (200, op.responses["default"]) if "default" in op.responses else (204, None)


def required_names(schema: Any, resolve) -> list[str]:
    """The names an object schema requires, through `$ref`s and `allOf`."""
    schema = _unwrap(schema, resolve)
    if not isinstance(schema, dict):
        return []
    return [*(schema.get("required") or ()), *(n for part in schema.get("allOf") or () for n in required_names(part, resolve))]


def admits_array(schema: Any, resolve) -> bool:
    """Whether a schema is an array or has one among its alternatives (`image`: a file or files)."""
    schema = _unwrap(schema, resolve)
    if not isinstance(schema, dict):
        return False
    return schema_kind(schema, resolve)[0] == "array" or any(
        admits_array(branch, resolve) for key in ("anyOf", "oneOf") for branch in schema.get(key) or ())


def declared_headers(response: Any) -> dict[str, str]:
    """The response headers the document declares, with a plausible value each, except hop-by-hop
    ones: those describe one connection, and copying them (2025-04-29 declares `Transfer-Encoding:
    chunked` on createSpeech beside a Content-Length) breaks real clients."""
    out = {}
    for name, header in (response.headers or {}).items():
        if name.lower() in HOP_BY_HOP or name.lower() == "content-type" or not isinstance(header, dict):
            continue
        schema = header.get("schema") if isinstance(header.get("schema"), dict) else {}
        value = next((v for v in (header.get("example"), schema.get("example"), schema.get("default"),
                                  schema.get("const"), *(schema.get("enum") or ())) if v is not None), "mock")
        out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


def openai_param(location: str, pointer: str) -> str:
    """OpenAI's `param` for a JSON pointer: `/messages/0/role` -> `messages[0].role`; a parameter's name."""
    if location != "body":
        return pointer.split("/")[0]
    out = ""
    for token in pointer.strip("/").split("/") if pointer.strip("/") else ():
        token = token.replace("~1", "/").replace("~0", "~")
        out += f"[{token}]" if token.isdigit() else (f".{token}" if out else token)
    return out or None


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        boundary = message.get_param("boundary") or ""
        if boundary and body.strip() == b"--" + boundary.encode() + b"--":
            return []   # a form with no fields: only the closing delimiter
        raise ValueError("the multipart body could not be parsed")
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            fields.append((name, data))
            continue
        text = data.decode(part.get_content_charset() or "utf-8", "replace")
        if codecs.media_essence(part.get_content_type()) == "application/json":
            try:   # an object or array field sent as a JSON part, whatever its schema's shape
                fields.append((name, json.loads(text)))
                continue
            except ValueError:
                pass
        fields.append((name, text))
    return fields


def examples(spec: Spec, media: Any) -> list:
    """Examples the document gives for a response: on the media type, and OpenAI's x-oaiMeta ones."""
    found = []
    node = spec.resolve_pointer(media.pointer.rsplit("/", 1)[0])
    if isinstance(node, dict):
        if "example" in node:
            found.append(node["example"])
        for example in (node.get("examples") or {}).values():
            if isinstance(example, dict) and "value" in example:
                found.append(example["value"])
    return found


def ends_with_done(spec: Spec, op: Operation) -> bool:
    """Whether the stream ends with `data: [DONE]`. OpenAI's documents say so in prose: in the
    operation's own text and examples, or in the description of a `stream`/`stream_options` property
    somewhere under the request body (often behind an allOf of `$ref`s), so those are searched."""
    with contextlib.suppress(Exception):
        if "[DONE]" in json.dumps(spec.resolve_pointer(op.pointer)):
            return True
    if op.request_body is None:
        return False
    pending = [media.schema for media in op.request_body.content.values()]
    seen: set[str] = set()
    while pending and len(seen) < 200:
        node = pending.pop()
        for prop in stream_properties(node):
            with contextlib.suppress(Exception):
                prop = spec.resolve_pointer(prop["$ref"][1:]) if "$ref" in prop else prop
            if "[DONE]" in json.dumps(prop):
                return True
        for ref in re.findall(r'"#(/components/schemas/[^"]+)"', json.dumps(node)):
            if ref not in seen:
                seen.add(ref)
                with contextlib.suppress(Exception):
                    pending.append(spec.resolve_pointer(ref))
    return False


def stream_properties(node: Any) -> list:
    """Every `stream…` property schema inside a node (not following refs)."""
    found = []
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):   # `stream`, and `stream_options` whose text names the end
            found.extend(value for name, value in properties.items() if name.startswith("stream"))
        for value in node.values():
            found.extend(stream_properties(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(stream_properties(value))
    return found
