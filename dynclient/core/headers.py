"""Request headers: a dict whose names match without regard to case, and whose repr hides credentials."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"})


class Headers(dict):
    """Request headers: a plain dict, so urllib3 sends it without a copy, whose names match without
    regard to case (a per-call `openai-beta` replaces a default `OpenAI-Beta`) and whose repr never
    shows a credential. `_index` maps each lower-case name to the spelling it is stored under, so a
    lookup is one dict probe (a call sets and tests a few names: a scan cost 1 µs each)."""

    __slots__ = ("sensitive", "_index")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str):
        super().__init__()
        self.sensitive: frozenset[str] = SENSITIVE_HEADERS
        self._index: dict[str, str] = {}
        self.update(items, **more)

    def _key(self, name: str) -> str | None:
        """The spelling under which `name` is stored, or None."""
        if dict.__contains__(self, name):
            return name
        return self._index.get(name.lower())

    def __getitem__(self, name: str) -> str:
        key = self._key(name)
        if key is None:
            raise KeyError(name)
        return dict.__getitem__(self, key)

    def __setitem__(self, name: str, value: str) -> None:
        key = self._key(name)
        if key is not None and key != name:
            dict.__delitem__(self, key)
        dict.__setitem__(self, name, value)
        self._index[name.lower()] = name

    def __delitem__(self, name: str) -> None:
        key = self._key(name)
        if key is None:
            raise KeyError(name)
        dict.__delitem__(self, key)
        del self._index[key.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        key = self._key(name)
        return default if key is None else dict.__getitem__(self, key)

    def pop(self, name: str, *default: Any) -> Any:
        key = self._key(name)
        if key is None:
            return dict.pop(self, name, *default)
        del self._index[key.lower()]
        return dict.pop(self, key)

    def popitem(self) -> tuple[str, str]:
        name, value = dict.popitem(self)
        del self._index[name.lower()]
        return name, value

    def clear(self) -> None:
        dict.clear(self)
        self._index.clear()

    def setdefault(self, name: str, default: str) -> str:   # type: ignore[override]
        key = self._key(name)
        if key is None:
            self[name] = default
            return default
        return dict.__getitem__(self, key)

    def update(self, items: Any = (), /, **more: str) -> None:   # type: ignore[override]
        if not items and not more:
            return
        for name, value in (items.items() if isinstance(items, Mapping) else items):
            self[name] = value
        for name, value in more.items():
            self[name] = value

    def copy(self) -> "Headers":   # urllib3 copies the headers of every request: kept cheap
        clone = Headers.__new__(Headers)
        dict.update(clone, self)
        clone.sensitive = self.sensitive
        clone._index = self._index.copy()
        return clone

    def has_all(self, names: tuple[str, ...]) -> bool:
        """Whether every one of `names` is here (in any case), for a question asked of every request."""
        index = self._index
        for name in names:
            if name.lower() not in index:
                return False
        return True

    def copy_with(self, name: str, value: str) -> "Headers":
        """A copy with one more header, which this one does not have (a call's Idempotency-Key)."""
        clone = Headers.__new__(Headers)   # copy()'s lines: a call less for a copy made per call
        dict.update(clone, self)
        dict.__setitem__(clone, name, value)
        clone.sensitive = self.sensitive
        clone._index = self._index.copy()
        clone._index[name.lower()] = name
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {k.lower(): v for k, v in self.items()} == {str(k).lower(): v for k, v in other.items()}

    __hash__ = None   # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr({k: ("<redacted>" if k.lower() in self.sensitive else v) for k, v in self.items()})
