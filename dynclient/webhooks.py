"""Webhooks: verify, validate and dispatch the events the API sends back.

OpenAI signs the events it POSTs to a user's server with the Standard Webhooks
scheme, and its 3.1 documents declare each event under `webhooks`. Here:

    event = dynclient.webhooks.unwrap(body, headers, secret, spec="openai@2026-08-21")

    hooks = dynclient.webhooks.Webhooks("openai@2026-08-21", secret)

    @hooks.on("batch.completed")
    def done(event):
        ...

    app = hooks.asgi_app()      # FastAPI/Starlette: app.mount("/webhooks", hooks.asgi_app())
    app = hooks.wsgi_app()      # Flask/any WSGI server; or hooks.handle(body, headers) -> (status, body)

The scheme: headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature` (space-separated `v1,<base64>` entries, any one matching is
enough); the signature is HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
secret (`whsec_<base64>` or the raw text); a timestamp further than `tolerance`
seconds from now either way is refused. Comparisons are constant-time and no
error ever shows the secret or a signature.

The event is then checked against its schema in the document (picked by its
`type`), with the same validator responses get, in either dialect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
import logging
import os
import threading
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping

from .errors import ConfigError, WebhookError, WebhookEventError, WebhookVerificationError
from .spec import Spec

log = logging.getLogger("dynclient")

DEFAULT_TOLERANCE = 300                 # seconds either side of now
DEFAULT_MAX_BYTES = 1024 * 1024         # a webhook body; OpenAI's events are a few hundred bytes
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
Handler = Callable[[dict], Any]


# --- the signature --------------------------------------------------------------------


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: `whsec_<base64>` decoded, raw text encoded, bytes as they are."""
    if isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    elif isinstance(secret, str) and secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError("secret", "a whsec_ secret must be base64 after its prefix") from None
    elif isinstance(secret, str):
        key = secret.encode()
    else:
        raise WebhookVerificationError("secret", f"the secret must be text or bytes, not {type(secret).__name__}")
    if not key:
        raise WebhookVerificationError("secret", "the secret is empty")
    return key


def signature(payload: bytes, secret: str | bytes, webhook_id: str, timestamp: int | str) -> str:
    """The `v1,<base64>` signature of a payload (what a sender puts in `webhook-signature`)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + payload
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


def sign(payload: bytes, secret: str | bytes, *, webhook_id: str | None = None,
         timestamp: int | None = None) -> dict[str, str]:
    """The three headers a sender adds to `payload` (the mock sends its events with these)."""
    webhook_id = webhook_id or "msg_" + os.urandom(12).hex()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(payload, secret, webhook_id, timestamp)}


def _header(headers: Any, name: str) -> str:
    """The one value of a required header, from a mapping (any case), a multi-dict (urllib3's, aiohttp's,
    http.server's), or (name, value) pairs (WSGI, ASGI)."""
    getall = next((getattr(headers, method) for method in ("getall", "getlist", "get_all")
                   if callable(getattr(headers, method, None))), None)
    if getall is not None:
        values = list(getall(name, None) or [])
    elif isinstance(headers, Mapping):
        values = [value for key, value in headers.items() if str(key).lower() == name]
    else:
        values = [value for key, value in headers if str(key).lower() == name]
    if not values:
        raise WebhookVerificationError("headers", f"missing header {name}")
    if len(values) > 1:
        raise WebhookVerificationError("headers", f"header {name} given {len(values)} times")
    value = values[0]
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def verify(payload: bytes | str, headers: Any, secret: str | bytes, *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> None:
    """Check that `payload` was signed with `secret` within `tolerance` seconds of now; else raise
    WebhookVerificationError naming the check that failed."""
    webhook_id, stamp, signatures = (_header(headers, name) for name in HEADERS)
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise WebhookVerificationError("timestamp", f"webhook-timestamp is not Unix seconds: {stamp[:20]!r}")
    age = (time.time() if now is None else now) - int(stamp)
    if age > tolerance:
        raise WebhookVerificationError("timestamp", f"the webhook is {age:.0f} s old (tolerance {tolerance} s): "
                                                    f"too old, or a replay")
    if -age > tolerance:
        raise WebhookVerificationError("timestamp", f"the webhook is dated {-age:.0f} s in the future "
                                                    f"(tolerance {tolerance} s)")
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    expected = signature(body, secret, webhook_id, stamp)[3:]
    offered = [part[3:] for part in signatures.split() if part.startswith("v1,")]
    if not offered:
        raise WebhookVerificationError("signature", "webhook-signature holds no v1 signature")
    # Every one compared, in constant time: which one matched (or how many were tried) is not told.
    if not sum(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise WebhookVerificationError("signature", "no signature matches: the secret is wrong, or the body "
                                                    "was changed")


# --- the event ------------------------------------------------------------------------


def _spec(spec: Any) -> Spec:
    return spec if isinstance(spec, Spec) else Spec(spec)


def parse_event(payload: bytes | str, spec: Spec, *, strict: bool = True) -> dict:
    """The event in a (verified) payload, checked against the document's schema for its `type`."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookEventError(None, f"the payload is not JSON: {str(exc)[:120]}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookEventError(None, "the payload is not an event: a JSON object with a string `type`")
    event_type = event["type"]
    webhook = spec.webhooks.get(event_type)
    if webhook is None:
        known = ", ".join(sorted(spec.webhooks)) or "none"
        if strict:
            raise WebhookEventError(event_type, f"not an event of {spec.title} {spec.version} (it declares: {known})")
        log.warning("webhook event %s is not one %s %s declares; passed unchecked (strict=False)", event_type,
                    spec.title, spec.version)
        return event
    violation = spec.schemas.compiled(webhook.pointer, "response").violation(event)
    if violation is not None:
        raise WebhookEventError(event_type, violation.message, violation.pointer)
    return event


def unwrap(payload: bytes | str, headers: Any, secret: str | bytes, *, spec: Any,
           tolerance: int = DEFAULT_TOLERANCE, strict: bool = True) -> dict:
    """Verify the signature, parse the event and validate it against the document (`spec`: a Spec, or
    a name, path or URL to load one); returns the event. An unknown `type` is a WebhookEventError, or
    passes with a warning when `strict=False`."""
    verify(payload, headers, secret, tolerance=tolerance)
    return parse_event(payload, _spec(spec), strict=strict)


# --- replays ----------------------------------------------------------------------------


class SeenIds:
    """The webhook ids handled within the tolerance window: a replayed (or re-sent) id is not handled
    twice. In memory, bounded, thread-safe; a store shared between processes can stand in for it with
    the same `first_time(webhook_id) -> bool`."""

    def __init__(self, window: float = DEFAULT_TOLERANCE * 2, max_ids: int = 100_000):
        self.window, self.max_ids = window, max_ids
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, webhook_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.max_ids:
                self._forget(now)
            when = self._seen.get(webhook_id)
            if when is not None and now - when < self.window:
                return False
            self._seen[webhook_id] = now
            return True

    def forget(self, webhook_id: str) -> None:
        """Undo `first_time` for an id whose handling failed, so the sender's retry is handled."""
        with self._lock:
            self._seen.pop(webhook_id, None)

    def _forget(self, now: float) -> None:
        self._seen = {k: v for k, v in self._seen.items() if now - v < self.window}
        while len(self._seen) >= self.max_ids:   # all recent: drop the oldest
            self._seen.pop(next(iter(self._seen)))


# --- the dispatcher ----------------------------------------------------------------------


class Webhooks:
    """Handlers by event type, and an endpoint that verifies, validates and dispatches.

    The answers, as a sender expects them: 200 when the handlers ran; 400 when the webhook does not
    verify or is not an event of the document (resending it would not help); 413 over `max_bytes`;
    500 when a handler raised (the sender retries). With `seen` (a SeenIds, or True for one), an id
    already handled is acknowledged with 200 and not handled again.
    """

    def __init__(self, spec: Any, secret: str | bytes, *, tolerance: int = DEFAULT_TOLERANCE,
                 max_bytes: int = DEFAULT_MAX_BYTES, seen: SeenIds | bool | None = None, strict: bool = True):
        self.spec = _spec(spec)
        secret_key(secret)   # a bad secret fails here, not at the first event
        self._secret = secret
        self.tolerance, self.max_bytes, self.strict = tolerance, max_bytes, strict
        self.seen = SeenIds(tolerance * 2) if seen is True else (seen or None)
        self.handlers: dict[str, list[Handler]] = {}

    def __repr__(self) -> str:
        return f"<Webhooks {self.spec.title!r} {self.spec.version}: {sorted(self.handlers)}>"   # never the secret

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        """Register a handler (a function, or a coroutine function for the ASGI app) for an event type of
        the document, or "*" for every event."""
        if event_type != "*" and event_type not in self.spec.webhooks:
            known = ", ".join(sorted(self.spec.webhooks)) or "none"
            raise ConfigError(f"{event_type!r} is not an event of {self.spec.title} {self.spec.version} "
                              f"(it declares: {known})")

        def register(handler: Handler) -> Handler:
            self.handlers.setdefault(event_type, []).append(handler)
            return handler
        return register

    # --- one webhook -------------------------------------------------------------------

    def accept(self, body: bytes, headers: Any) -> tuple[dict | None, tuple[int, dict] | None]:
        """(the event to handle, or None; the answer to give at once, or None)."""
        if len(body) > self.max_bytes:
            return None, (413, {"error": f"body larger than {self.max_bytes:,} bytes"})
        try:
            event = unwrap(body, headers, self._secret, spec=self.spec, tolerance=self.tolerance,
                           strict=self.strict)
        except WebhookError as exc:
            log.warning("webhook refused: %s", exc)
            return None, (400, {"error": str(exc)})
        if self.seen is not None and not self.seen.first_time(_header(headers, "webhook-id")):
            return None, (200, {"ok": True, "duplicate": True})
        return event, None

    def handlers_for(self, event: dict) -> list[Handler]:
        return [*self.handlers.get(event["type"], ()), *self.handlers.get("*", ())]

    def failed(self, event: dict, headers: Any, exc: BaseException) -> tuple[int, dict]:
        if self.seen is not None:
            self.seen.forget(_header(headers, "webhook-id"))
        log.error("webhook %s: a handler raised %s: %s", event.get("type"), type(exc).__name__, exc)
        return 500, {"error": f"the handler failed: {type(exc).__name__}"}

    def handle(self, body: bytes, headers: Any) -> tuple[int, dict]:
        """Verify, validate and dispatch one webhook: (status, JSON-able answer)."""
        event, answer = self.accept(body, headers)
        if answer is not None:
            return answer
        try:
            for handler in self.handlers_for(event):
                result = handler(event)
                if inspect.isawaitable(result):
                    raise TypeError("a coroutine handler needs the ASGI app (or `await handle_async(...)`)")
        except Exception as exc:
            return self.failed(event, headers, exc)
        return 200, {"ok": True}

    async def handle_async(self, body: bytes, headers: Any) -> tuple[int, dict]:
        """`handle` for asyncio: coroutine handlers are awaited."""
        event, answer = self.accept(body, headers)
        if answer is not None:
            return answer
        try:
            for handler in self.handlers_for(event):
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            return self.failed(event, headers, exc)
        return 200, {"ok": True}

    # --- apps --------------------------------------------------------------------------

    def wsgi_app(self) -> Callable[[dict, Callable], Iterable[bytes]]:
        """A WSGI application answering POSTs on any path (mount it where the sender posts)."""
        def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
            if environ.get("REQUEST_METHOD") != "POST":
                return _wsgi_answer(start_response, 405, {"error": "POST only"})
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _wsgi_answer(start_response, 400, {"error": "invalid Content-Length"})
            if length < 0 or length > self.max_bytes:
                return _wsgi_answer(start_response, 413, {"error": f"body larger than {self.max_bytes:,} bytes"})
            body = environ["wsgi.input"].read(length) if length else b""
            headers = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items()
                       if key.startswith("HTTP_")]
            return _wsgi_answer(start_response, *self.handle(body, headers))
        return app

    def asgi_app(self) -> Callable[[dict, Callable, Callable], Awaitable[None]]:
        """An ASGI application (FastAPI, Starlette: `app.mount("/webhooks", hooks.asgi_app())`)."""
        async def app(scope: dict, receive: Callable, send: Callable) -> None:
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
                return
            if scope["type"] != "http":
                return
            if scope.get("method") != "POST":
                return await _asgi_answer(send, 405, {"error": "POST only"})
            chunks, size = [], 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    return await _asgi_answer(send, 413, {"error": f"body larger than {self.max_bytes:,} bytes"})
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            headers = [(name.decode("latin-1").lower(), value.decode("latin-1"))
                       for name, value in scope.get("headers", [])]
            await _asgi_answer(send, *await self.handle_async(b"".join(chunks), headers))
        return app


def _wsgi_answer(start_response: Callable, status: int, answer: dict) -> list[bytes]:
    body = json.dumps(answer).encode()
    reasons = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 413: "Payload Too Large",
               500: "Internal Server Error"}
    start_response(f"{status} {reasons.get(status, 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi_answer(send: Callable, status: int, answer: dict) -> None:
    body = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
