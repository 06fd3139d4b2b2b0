"""YAML 1.2 on top of PyYAML: the core schema, redefinable anchors, libyaml's C parser.

Imported by ``dynclient.loader`` only when a document has to be parsed as YAML: a cache hit,
JSON, or a dict never pays for importing PyYAML (~20 ms, with the regular expressions its
resolvers compile). The rules, and why, are in ``dynclient.loader``'s docstring.
"""

from __future__ import annotations

import re

import yaml  # noqa: F401  (re-exported for loader's error handling)
from yaml.composer import Composer, ComposerError  # noqa: F401
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent
from yaml.nodes import ScalarNode
from yaml.reader import ReaderError  # noqa: F401
from yaml.resolver import BaseResolver

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

    class TolerantLoader(Reader, Scanner, Parser, _RedefiningComposer, _Core12Constructor, _Core12Resolver):
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _RedefiningComposer.__init__(self)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)

    FastLoader = TolerantLoader
else:
    class FastLoader(CParser, _Core12Constructor, _Core12Resolver):
        """libyaml parses and composes (refusing a redefined anchor); Python constructs."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)

    class TolerantLoader(_RedefiningComposer, CParser, _Core12Constructor, _Core12Resolver):
        """libyaml parses; the Python composer above composes; Python constructs."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            _RedefiningComposer.__init__(self)
            _Core12Constructor.__init__(self)
            _Core12Resolver.__init__(self)
