"""What the mock reads: from the document (success and error responses, examples, declared
headers, how a stream ends) and from the wire (multipart forms, OpenAI's `param`).

Each rule is read from the document, never written per endpoint.
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import email.policy
import io
import json
import re
from typing import Any, BinaryIO

from .. import codecs
from ..schema import from_text, schema_kind, schema_properties, unwrap
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
    """(status, response) of the answer to a valid request: the first 2xx declared; else the first
    3xx (GitHub's downloads declare only a 302 with its Location); else `default`; else 204."""
    for first, for_range in (("2", 200), ("3", 302)):
        statuses = sorted(s for s in op.responses if s.isdigit() and s.startswith(first))
        if statuses:
            return int(statuses[0]), op.responses[statuses[0]]
        if f"{first}XX" in op.responses:
            return for_range, op.responses[f"{first}XX"]
    return (200, op.responses["default"]) if "default" in op.responses else (204, None)


def required_names(schema: Any, resolve) -> list[str]:
    """The names an object schema requires, through `$ref`s and `allOf`."""
    schema = unwrap(schema, resolve)
    if not isinstance(schema, dict):
        return []
    return [*(schema.get("required") or ()), *(n for part in schema.get("allOf") or () for n in required_names(part, resolve))]


def constant(schema: Any, resolve) -> bool:
    """Whether a schema admits one value only (`const`, or an `enum` of one): an object's type tag."""
    schema = unwrap(schema, resolve)
    return isinstance(schema, dict) and ("const" in schema or len(schema.get("enum") or ()) == 1)


def admits_array(schema: Any, resolve) -> bool:
    """Whether a schema is an array or has one among its alternatives (`image`: a file or files)."""
    schema = unwrap(schema, resolve)
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


# --- bracketed names: deepObject query parameters and form fields ---------------------------

BRACKETED = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])+)")
MAX_NESTING = 32


def bracketed(name: str) -> list[str] | None:
    """`items[0][price]` -> ["items", "0", "price"]; None for a plain name."""
    found = BRACKETED.fullmatch(name)
    if found is None:
        return None
    tokens = [found.group(1), *re.findall(r"\[([^\[\]]*)\]", found.group(2))]
    if len(tokens) > MAX_NESTING:
        raise ValueError(f"{name[:80]!r} nests more than {MAX_NESTING} levels")
    return tokens


def unflatten(pairs: list[tuple[list[str], Any]]) -> dict:
    """Nested objects from (tokens, value) pairs; `[]` appends, and the numbered members of an array
    stay an object keyed by their numbers until `typed` reads the schema."""
    root: dict = {}
    for tokens, value in pairs:
        node = root
        for depth, token in enumerate(tokens):
            key = str(len(node)) if token == "" else token
            last = depth == len(tokens) - 1
            if last:
                if isinstance(node.get(key), dict):
                    raise ValueError(f"field {tokens[0]!r} gives {key!r} both a value and members")
                node[key] = value
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ValueError(f"field {tokens[0]!r} gives {key!r} both a value and members")
    return root


def _branch(schema: Any, resolve, wanted: str) -> Any:
    """The schema itself, or its first `anyOf`/`oneOf` branch of the JSON type `wanted`."""
    schema = unwrap(schema, resolve)
    if not isinstance(schema, dict) or schema_kind(schema, resolve)[0] == wanted and "type" in schema:
        return schema
    for keyword in ("anyOf", "oneOf"):
        for branch in schema.get(keyword) or ():
            if schema_kind(branch, resolve)[0] == wanted:
                return _branch(branch, resolve, wanted)
    return schema


def typed(value: Any, schema: Any, resolve) -> Any:
    """Text from the wire, nested by `unflatten`, as the JSON value its schema describes: numbered
    members of an array schema become a list in number order; leaves are typed by their schema."""
    if isinstance(value, dict):
        array = _branch(schema, resolve, "array")
        if schema_kind(array, resolve)[0] == "array" and all(k.isdigit() for k in value):
            items = array.get("items") if isinstance(array, dict) else None
            return [typed(value[k], items, resolve) for k in sorted(value, key=int)]
        obj = _branch(schema, resolve, "object")
        properties = schema_properties(obj, resolve)
        extra = unwrap(obj.get("additionalProperties"), resolve) if isinstance(obj, dict) else None
        return {k: typed(v, properties.get(k, extra), resolve) for k, v in value.items()}
    if isinstance(value, str):
        return from_text(value, schema_kind(schema, resolve)[0] if schema is not None else None)
    return value


MAX_FIELD_BYTES = 1024 * 1024   # a text field of a form; file parts are never held
MAX_PART_HEADER_LINES = 64
READ = 1024 * 1024


def parse_multipart(content_type: str, body: bytes | BinaryIO, keep_file: Any = None) -> list[tuple[str, Any]]:
    """The fields of a multipart/form-data body, read from bytes or a file as a stream: a file part is
    never held (the mock validates it as `format: binary`, and its value is b""), a text field is held
    up to MAX_FIELD_BYTES. A 1 GiB upload costs a chunk's worth of memory. `keep_file(name, filename)`
    returns where a file part's bytes go (an object with `append(bytes)`), or None to drop them."""
    boundary = _boundary(content_type)
    stream = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
    reader = _PartReader(stream, b"\r\n--" + boundary)
    if not reader.skip_to_delimiter(preamble=True):
        raise ValueError("the multipart body could not be parsed: no opening boundary")
    fields: list[tuple[str, Any]] = []
    while not reader.closed_by_final_delimiter():
        headers = reader.part_headers()
        name = headers.get_param("name", header="content-disposition")
        if name is None:
            raise ValueError("a multipart part without a name (Content-Disposition: form-data; name=...)")
        if headers.get_filename() is not None:
            sink = keep_file(name, headers.get_filename()) if keep_file is not None else None
            if sink is None:
                reader.skip_to_delimiter()
            else:
                reader.copy_to_delimiter(sink)
            fields.append((name, b""))
            continue
        data = reader.read_to_delimiter(MAX_FIELD_BYTES)
        text = data.decode(headers.get_content_charset() or "utf-8", "replace")
        if codecs.media_essence(headers.get_content_type()) == "application/json":
            try:   # an object or array field sent as a JSON part, whatever its schema's shape
                fields.append((name, json.loads(text)))
                continue
            except (ValueError, RecursionError):
                pass
        fields.append((name, text))
    return fields


def _boundary(content_type: str) -> bytes:
    message = email.message.Message()
    message["Content-Type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        raise ValueError("multipart/form-data without a usable boundary parameter")
    return boundary.encode("latin-1", "replace")


class _PartReader:
    """Reads a multipart body part by part, in bounded pieces, finding the delimiter across reads."""

    def __init__(self, stream: BinaryIO, delimiter: bytes):
        self.stream, self.delimiter = stream, delimiter
        self.buffer = b"\r\n"   # the first delimiter has no CRLF before it: lend it one
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(READ)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _scan(self, sink: Any, limit: int | None = None) -> bool:
        """Move data up to the next delimiter into `sink` (a list, or None to drop it); True when found."""
        keep = len(self.delimiter) - 1
        held = 0
        while True:
            found = self.buffer.find(self.delimiter)
            if found >= 0:
                if sink is not None:
                    sink.append(self.buffer[:found])
                    held += found
                self.buffer = self.buffer[found + len(self.delimiter):]
                if limit is not None and held > limit:
                    raise ValueError(f"a form field is larger than {limit:,} bytes")
                return True
            cut = max(len(self.buffer) - keep, 0)
            if sink is not None and cut:
                sink.append(self.buffer[:cut])
                held += cut
                if limit is not None and held > limit:
                    raise ValueError(f"a form field is larger than {limit:,} bytes")
            self.buffer = self.buffer[cut:]
            if not self._fill():
                return False

    def skip_to_delimiter(self, preamble: bool = False) -> bool:
        found = self._scan(None)
        if not found and not preamble:
            raise ValueError("the multipart body ends inside a part (no closing boundary)")
        return found

    def copy_to_delimiter(self, sink: Any) -> None:
        if not self._scan(sink):
            raise ValueError("the multipart body ends inside a part (no closing boundary)")

    def read_to_delimiter(self, limit: int) -> bytes:
        pieces: list[bytes] = []
        if not self._scan(pieces, limit):
            raise ValueError("the multipart body ends inside a part (no closing boundary)")
        return b"".join(pieces)

    def closed_by_final_delimiter(self) -> bool:
        """After a delimiter: `--` ends the body, CRLF starts a part (transport padding allowed)."""
        while len(self.buffer) < 2 and self._fill():
            pass
        if self.buffer.startswith(b"--"):
            return True
        line_end = self._line_end()
        self.buffer = self.buffer[line_end:]
        return False

    def _line_end(self) -> int:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > 8192 or not self._fill():
                raise ValueError("the multipart body could not be parsed: a boundary line does not end")
        return end + 2

    def part_headers(self) -> email.message.Message:
        lines = []
        while True:
            end = self._line_end()
            line, self.buffer = self.buffer[:end - 2], self.buffer[end:]
            if not line:
                break
            lines.append(line)
            if len(lines) > MAX_PART_HEADER_LINES:
                raise ValueError("a multipart part has too many header lines")
        return email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"\r\n".join(lines) + b"\r\n\r\n",
                                                                              headersonly=True)


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
