"""Credentials kept out of sight: `Secret`, and the log filter that masks every one of them.

A logging filter only sees records logged to the logger it is attached to, not
those of its children, so the filter goes on every ``dynclient`` and
``urllib3`` logger that exists: at import, each time a secret is added and each
time a transport is made (urllib3 makes some of its loggers only when a module
is first imported). Our own log lines never hold a query string either.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import quote

GUARDED = ("dynclient", "urllib3", "aiohttp")
log = logging.getLogger("dynclient")


class Redactor(logging.Filter):
    """Masks credential values in log records, ours and urllib3's (which logs request URLs, where
    an apiKey-in-query credential travels)."""

    MIN_LENGTH = 6   # a shorter "secret" (a test's "p") would mask every such letter in every log line

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= self.MIN_LENGTH:
            self.secrets.add(secret)
            self.secrets.add(quote(secret, safe=""))
            guard_loggers()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            try:
                message = record.getMessage()
            except Exception:   # a broken format string is the logging module's to report, unmasked args
                message = str(record.msg)   # are not: drop them
            record.msg, record.args = self.redact(message), None
        return True


REDACTOR = Redactor()
_guarded: set[str] = set()


def guard_loggers() -> None:
    """Attach the redactor to every dynclient and urllib3 logger there is now."""
    names = [name for name in list(logging.root.manager.loggerDict)
             if name not in _guarded and name.split(".", 1)[0] in GUARDED]
    for name in names:
        logger = logging.root.manager.loggerDict[name]
        if isinstance(logger, logging.Logger):   # a PlaceHolder has no filters: its children are listed
            logger.addFilter(REDACTOR)
            _guarded.add(name)


class Secret:
    """A credential: usable by the client, invisible in repr, str, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value
        for part in value[1:] if isinstance(value, tuple) else (value,):   # (user, password): the password
            REDACTOR.add(str(part))   # masked in every log record from here on

    def reveal(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    __str__ = __repr__


def log_from_environment(value: str | None = None) -> None:
    """`DYNCLIENT_LOG=debug` (or info) logs every attempt to stderr, as `OPENAI_LOG` does for openai."""
    level = (value if value is not None else os.environ.get("DYNCLIENT_LOG", "")).strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING") or getattr(log, "_dynclient_handler", None):
        return
    handler = logging.StreamHandler()
    handler.addFilter(REDACTOR)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log._dynclient_handler = handler   # type: ignore[attr-defined]


guard_loggers()
log_from_environment()
