"""Load an OpenAPI 3.x document from a dict, a file or a URL into plain data.

``load()`` returns a :class:`Document`: the parsed document (only dict, list,
str, int, float, bool and None in it), where it came from, and the sha256 of
the source bytes, which ``sha256=`` can pin.  Parsed files and URLs are cached
as JSON keyed by that sha256, so loading the same bytes again is a json.load.

JSON is tried first when the text starts with ``{``.  Anything else is YAML,
read safely (nothing but the core schema's tags is ever constructed) but with
**YAML 1.2** semantics where PyYAML follows YAML 1.1, because OpenAPI documents
are written for YAML 1.2 and JSON tooling:

* An anchor may be redefined; an alias refers to the most recent node with
  that name.  PyYAML raises "found duplicate anchor", yet five of OpenAI's
  published documents (2024-04-30 to 2024-09-28) rely on it.
* Core schema: only ``true``/``false`` (in three spellings) are booleans, so
  ``on``, ``yes``, ``no``, ``y`` stay strings (enum values, country codes);
  ``null``, ``~`` and empty are null; integers are decimal, ``0o`` or ``0x``
  (``010`` is ten; ``1_000`` and ``1:30`` are strings); there are no
  timestamps, so ``2024-01-01`` stays the string JSON Schema's ``format: date``
  expects.  ``<<`` merge keys are still honoured.
* Mapping keys come out as strings, as OpenAPI and JSON mean them: a plain
  ``200:`` is the key ``"200"``; any non-string scalar key keeps its source
  text (``true:`` -> ``"true"``).  Collection keys are refused.

Speed: events come from libyaml's C parser when it is installed.  Its C
composer cannot allow a redefined anchor, so a document that redefines one is
composed again by a small Python composer fed by the same C parser; that is
about 1.3x slower, so it is only the fallback (figures in ``_parse_yaml``).
The garbage collector is paused while parsing: the node tree has no cycles, and
collecting the millions of young objects it creates cost more than the parse.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import urllib3
import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent
from yaml.nodes import ScalarNode
from yaml.reader import ReaderError
from yaml.resolver import BaseResolver

from . import sources
from .errors import IntegrityError, NotOpenAPIError, SpecLoadError

__all__ = ["CACHE_FORMAT", "Document", "load", "parse_bytes"]

CACHE_FORMAT = 1  # bump whenever the cached JSON for the same source bytes would change
MAX_NODES = 10_000_000  # values in the document once every alias is expanded (alias bombs)

try:
    _VERSION = importlib.metadata.version("dynclient")
except importlib.metadata.PackageNotFoundError:
    _VERSION = "dev"


@dataclass(frozen=True)
class Document:
    data: dict = field(repr=False)  # the parsed document: JSON-compatible plain data
    origin: str                     # path, URL or "<dict>"
    sha256: str | None              # sha256 hex of the source bytes (None for a dict source)


# --- YAML 1.2 ---------------------------------------------------------------

_Y = "tag:yaml.org,2002:"
_STR = _Y + "str"
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


class _Core12Resolver(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema, plus the ``<<`` merge key."""


for _tag, _pattern, _first in [
    ("bool", "|".join(_BOOLS), "tTfF"),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("int", _INT.pattern, "-+0123456789"),  # before float, which also matches "1"
    ("float", _FLOAT.pattern, "-+.0123456789"),
    ("merge", r"<<", "<"),
]:
    _Core12Resolver.add_implicit_resolver(_Y + _tag, re.compile(rf"^(?:{_pattern})\Z"), list(_first))


def _core_int(text: str) -> int | None:
    if not _INT.fullmatch(text):
        return None
    return int(text[2:], 8) if text[:2] == "0o" else int(text[2:], 16) if text[:2] == "0x" else int(text)


def _core_float(text: str) -> float | None:
    if not _FLOAT.fullmatch(text):
        return None
    return float(text.replace(".", "", 1)) if text[-1] in "fFnN" else float(text)  # .inf -> inf


class _Core12Constructor(SafeConstructor):
    """Builds plain data from the core schema's tags only; any other tag is an error."""

    yaml_constructors: dict = {}
    yaml_multi_constructors: dict = {}

    def construct_yaml_null(self, node):
        self.construct_scalar(node)  # a scalar, whatever its text (explicit "!!null x")
        return None

    def construct_yaml_bool(self, node):
        return self._scalar(node, _BOOLS.get, "a boolean")

    def construct_yaml_int(self, node):
        return self._scalar(node, _core_int, "an integer")

    def construct_yaml_float(self, node):
        return self._scalar(node, _core_float, "a float")

    def _scalar(self, node, convert, what):
        text = self.construct_scalar(node)
        value = convert(text)
        if value is None:
            raise ConstructorError(None, None, f"{text!r} is not {what} in the YAML 1.2 core schema",
                                   node.start_mark)
        return value

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)  # merges "<<" keys
        mapping = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found a collection as a key; keys must be scalars",
                                       key_node.start_mark)
            key = key_node.value if key_node.tag == _STR else self.construct_object(key_node)
            if not isinstance(key, str):
                key = key_node.value  # 200: -> "200", as written
            # Plain strings, the bulk of a document, skip construct_object's bookkeeping.
            mapping[key] = (value_node.value if value_node.tag == _STR and value_node.__class__ is ScalarNode
                            else self.construct_object(value_node, deep=deep))
        return mapping


for _tag in ("null", "bool", "int", "float", "str", "seq", "map"):
    _Core12Constructor.add_constructor(_Y + _tag, getattr(_Core12Constructor, f"construct_yaml_{_tag}"))
_Core12Constructor.add_constructor(None, SafeConstructor.construct_undefined)  # !!python/*, !!binary, !foo


class _RedefiningComposer(Composer):
    """PyYAML's composer, except that an anchor may be redefined (YAML 1.2)."""

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
            return self.anchors[event.anchor]
        anchor = self.peek_event().anchor  # compose_*_node registers it, replacing an earlier one
        # (no descend_resolver/ascend_resolver: the resolver has no path resolvers)
        if self.check_event(ScalarEvent):
            return self.compose_scalar_node(anchor)
        if self.check_event(MappingStartEvent):
            return self.compose_mapping_node(anchor)
        return self.compose_sequence_node(anchor)


try:
    from yaml._yaml import CParser
except ImportError:  # no libyaml: PyYAML's pure-Python reader, scanner and parser, ~10x slower
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _TolerantLoader(Reader, Scanner, Parser, _RedefiningComposer, _Core12Constructor, _Core12Resolver):
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _RedefiningComposer.__init__(self)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)

    _FastLoader = _TolerantLoader
else:
    class _FastLoader(CParser, _Core12Constructor, _Core12Resolver):
        """libyaml parses and composes (refusing a redefined anchor); Python constructs."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)

    class _TolerantLoader(_RedefiningComposer, CParser, _Core12Constructor, _Core12Resolver):
        """libyaml parses; the Python composer above composes; Python constructs."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            _RedefiningComposer.__init__(self)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- parsing ----------------------------------------------------------------


def parse_bytes(data: bytes, origin: str) -> dict:
    """Parse a JSON or YAML document whose top level must be a mapping."""
    value = _parse(data, origin)
    if not isinstance(value, dict):
        raise SpecLoadError(origin, f"expected a mapping at the top level, found {_what(value)}")
    return value


def _parse(data: bytes, origin: str) -> Any:
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"{":
        return _parse_yaml(data, origin)
    try:
        with _gc_paused():
            return json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad JSON, or not even UTF-8
        json_error = exc
    try:
        return _parse_yaml(data, origin)  # JSON-like YAML: comments, unquoted keys, ...
    except SpecLoadError:
        if not re.split(r"[?#]", origin)[0].lower().endswith(".json"):
            raise
    if isinstance(json_error, json.JSONDecodeError):  # a .json file: report the JSON error
        raise SpecLoadError(origin, json_error.msg, json_error.lineno, json_error.colno) from None
    raise SpecLoadError(origin, f"not valid JSON: {json_error}") from None


def _parse_yaml(data: bytes, origin: str) -> Any:
    # Seconds, best of 5, Python 3.11, PyYAML 6.0.4 + libyaml, 2 cores   2025-04-29  2026-08-21
    # (tests/test_loader.py's module docstring has the command)           1.4 MB      3.0 MB
    #   yaml.CSafeLoader (YAML 1.1; fails on the five files)                0.151       0.625
    #   yaml.CSafeLoader, gc paused                                         0.095       0.256
    #   _FastLoader (C parser + C composer), gc on                          0.103       0.547
    #   _FastLoader, gc paused                                              0.074       0.194
    #   _TolerantLoader (C parser + Python composer), gc paused             0.101       0.253
    #   load(path, cache=False)  (fast loader + _check_size)                0.079       0.214
    #   load(path) cache hit     (read + sha256 + json.load)                0.005       0.011
    # The tolerant loader costs ~1.3x, so it only runs when libyaml refuses a redefined anchor;
    # on those five files the failed first attempt adds ~6 ms (2024-09-28: 0.044 -> 0.050).
    try:
        with _gc_paused():
            try:
                value = yaml.load(data, Loader=_FastLoader)
            except ComposerError as exc:
                if not str(exc.context).startswith("found duplicate anchor"):  # libyaml's wording
                    raise
                value = yaml.load(data, Loader=_TolerantLoader)
            _check_size(value, origin)
            return value
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = "; ".join(filter(None, [exc.context, exc.problem]))
        raise SpecLoadError(origin, message, mark and mark.line + 1, mark and mark.column + 1) from None
    except ReaderError as exc:  # not UTF-8/16, or a control character; no line is known
        raise SpecLoadError(origin, f"{str(exc).splitlines()[0]} (at offset {exc.position})") from None
    except yaml.YAMLError as exc:
        raise SpecLoadError(origin, str(exc)) from None
    except RecursionError:
        raise SpecLoadError(origin, "nested too deeply") from None


def _check_size(value: Any, origin: str) -> None:
    """Refuse alias cycles and alias bombs: either would hang whoever walks the data."""
    sizes: dict[int, int] = {}  # id(container) -> values in it with every alias expanded
    open_: set[int] = set()

    def size(obj: Any) -> int:
        if obj.__class__ is dict:
            items = obj.values()
        elif obj.__class__ is list:
            items = obj
        else:
            return 1
        if id(obj) in sizes:
            return sizes[id(obj)]
        if id(obj) in open_:
            raise SpecLoadError(origin, "an alias refers to a node that contains it (a cycle)")
        open_.add(id(obj))
        total = sizes[id(obj)] = 1 + sum(map(size, items))
        if total > MAX_NODES:
            raise SpecLoadError(origin, f"more than {MAX_NODES:,} values once its aliases are expanded")
        return total

    size(value)


def _what(value: Any) -> str:
    for kind, name in [(type(None), "nothing (an empty document)"), (dict, "a mapping"), (list, "a list"),
                       (str, "a string"), (bool, "a boolean"), (int, "an integer"), (float, "a number")]:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def _check_openapi(data: Any, origin: str) -> None:
    if not isinstance(data, dict):
        raise NotOpenAPIError(origin, f"the top level is {_what(data)}, not a mapping")
    if "swagger" in data:
        raise NotOpenAPIError(origin, f"Swagger {data['swagger']} document; convert it to OpenAPI 3")
    if "openapi" not in data:
        raise NotOpenAPIError(origin, "it has no 'openapi' version field")
    version = data["openapi"]
    if not isinstance(version, str) or not version.startswith("3."):
        hint = ' (write it as a string: openapi: "3.x.y")' if str(version).startswith("3.") else ""
        raise NotOpenAPIError(origin, f"'openapi' is {version!r}, not a 3.x version{hint}")
    if not any(key in data for key in ("paths", "webhooks", "components")):
        raise NotOpenAPIError(origin, "it has none of 'paths', 'webhooks' and 'components'")


# --- sources and the cache --------------------------------------------------


def load(source: Any, *, sha256: str | None = None, cache: bool | str | os.PathLike = True,
         pool: urllib3.PoolManager | None = None, timeout: float = 30.0) -> Document:
    """Load an OpenAPI 3.x document from a dict, a Document, a file path or an http(s) URL.

    ``sha256`` pins the source bytes (IntegrityError on a mismatch).  ``cache`` is True for
    the default cache directory, a directory, or False.  ``pool`` and ``timeout`` serve URLs.
    """
    if isinstance(source, Document):
        if sha256 is not None and sha256.lower() != source.sha256:
            raise IntegrityError(source.origin, sha256, source.sha256 or "nothing: it was built from a dict")
        return source
    if isinstance(source, dict):
        if sha256 is not None:
            raise IntegrityError("<dict>", sha256, "nothing: a dict has no source bytes")
        _check_openapi(source, "<dict>")
        return Document(source, "<dict>", None)
    if isinstance(source, str) and sources.is_name(source):
        source, pinned = sources.resolve(source, pool=pool, timeout=timeout)
        sha256 = sha256 or pinned
    elif isinstance(source, str) and os.sep not in source and not os.path.exists(source):
        source = str(sources.find_file(source) or source)   # a bare corpus file name
    if isinstance(source, str) and source[:8].lower().startswith(("http://", "https://")):
        origin = urllib3.util.parse_url(source)._replace(auth=None).url  # never keep a password
        raw = _fetch(source, origin, pool, timeout)
    elif isinstance(source, (str, os.PathLike)):
        origin = str(os.fspath(source))
        raw = _read(origin)
    else:
        raise TypeError(f"cannot load an OpenAPI document from {type(source).__name__}")

    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and sha256.lower() != digest:
        raise IntegrityError(origin, sha256, digest)
    path = _cache_path(cache, digest)
    data = _read_cache(path, digest) if path else None
    if data is None:
        data = _parse(raw, origin)
        _check_openapi(data, origin)
        if path:
            _write_cache(path, digest, data)
    return Document(data, origin, digest)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecLoadError(path, "no such file") from None
    except IsADirectoryError:
        raise SpecLoadError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise SpecLoadError(path, f"cannot read it: {exc.strerror or exc}") from None


def _fetch(url: str, origin: str, pool: urllib3.PoolManager | None, timeout: float) -> bytes:
    own = pool is None
    if own:
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED")  # TLS verified (urllib3's default too)
    try:
        response = pool.request("GET", url, timeout=timeout,
                                headers={"Accept": "application/yaml, application/json;q=0.9, */*;q=0.5"})
    except urllib3.exceptions.HTTPError as exc:
        raise SpecLoadError(origin, f"cannot fetch it: {getattr(exc, 'reason', None) or exc}") from None
    finally:
        if own:
            pool.clear()
    if not 200 <= response.status < 300:
        raise SpecLoadError(origin, f"HTTP {response.status} {response.reason or ''}".rstrip())
    return response.data


def _cache_path(cache: bool | str | os.PathLike, digest: str) -> Path | None:
    if cache is False or cache is None:
        return None
    if cache is True:
        if os.environ.get("DYNCLIENT_CACHE_DIR"):
            cache = os.environ["DYNCLIENT_CACHE_DIR"]
        elif os.environ.get("XDG_CACHE_HOME"):
            cache = Path(os.environ["XDG_CACHE_HOME"]) / "dynclient"
        else:
            cache = Path(os.path.expanduser("~")) / ".cache" / "dynclient"
    key = hashlib.sha256(f"{CACHE_FORMAT}\n{_VERSION}\n{digest}".encode()).hexdigest()
    return Path(cache) / "docs" / f"{key}.json"


def _read_cache(path: Path, digest: str) -> dict | None:
    try:
        with open(path, "rb") as file, _gc_paused():
            entry = json.load(file)
    except (OSError, ValueError, RecursionError):  # absent, unreadable or corrupt: parse again
        return None
    if isinstance(entry, dict) and entry.get("sha256") == digest and isinstance(entry.get("data"), dict):
        return entry["data"]
    return None


def _write_cache(path: Path, digest: str, data: dict) -> None:
    """Write atomically; a cache that cannot be written only costs speed."""
    try:
        text = json.dumps({"format": CACHE_FORMAT, "sha256": digest, "data": data}, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError, TypeError):
        pass
