"""The mock's webhooks: signed events POSTed to a user's endpoint when mock state makes them due.

Which events exist, and what they carry, comes from the document's `webhooks`
(OpenAPI 3.1): an answer of the mock holding an object whose `object` and
`status` name an event (`batch` + `completed` is `batch.completed`,
`fine_tuning.job` + `succeeded` is `fine_tuning.job.succeeded`) sends that
event once per object. The event is checked against its schema before it
leaves, and signed with the Standard Webhooks scheme (dynclient.webhooks.sign).

Delivery is as the real service does it: in the background, the same
`webhook-id` on every attempt with a fresh timestamp, a non-2xx answer or a
fault retried with backoff a bounded number of times, then given up (logged).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import urllib3

from ..schema import SchemaSet
from ..spec import Spec
from ..webhooks import sign

log = logging.getLogger("dynclient.mock")


@dataclass(frozen=True)
class Delivery:
    """What happened to one event: its id and type, the statuses of its attempts (0 for a fault)."""

    event_id: str
    event_type: str
    statuses: tuple[int, ...]

    @property
    def delivered(self) -> bool:
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300


class WebhookSender:
    def __init__(self, spec: Spec, schemas: SchemaSet, url: str, secret: str | bytes, *, attempts: int = 5,
                 backoff: float = 0.5, timeout: float = 10.0):
        self.spec, self.schemas, self.url, self._secret = spec, schemas, url, secret
        self.attempts, self.backoff = attempts, backoff
        self.pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False)
        self.deliveries: list[Delivery] = []
        self._pending: queue.Queue = queue.Queue(maxsize=10_000)
        self._sent: set[tuple[str, str]] = set()     # (object id, event type): each event once
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dynclient-mock-webhooks", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<WebhookSender to {self.url}>"   # never the secret

    def observe(self, answer: Any) -> None:
        """Look at an answer the mock gave; queue the event it makes due, if any."""
        if not isinstance(answer, dict) or not all(isinstance(answer.get(k), str) for k in ("object", "status", "id")):
            return
        event_type = f"{answer['object']}.{answer['status']}"
        webhook = self.spec.webhooks.get(event_type)
        if webhook is None:
            return
        with self._lock:
            if (answer["id"], event_type) in self._sent:
                return
            self._sent.add((answer["id"], event_type))
        event = {"id": "evt_" + os.urandom(12).hex(), "object": "event", "type": event_type,
                 "created_at": int(time.time()), "data": {"id": answer["id"]}}
        problem = self.schemas.compiled(webhook.pointer, "response").violation(event)
        if problem is not None:
            log.warning("mock webhook %s not sent: the document's event needs more than the mock knows (%s: %s)",
                        event_type, problem.pointer or "/", problem.message)
            return
        with self._lock:
            self._busy += 1
        try:
            self._pending.put_nowait(event)
        except queue.Full:
            with self._lock:
                self._busy -= 1
            log.warning("mock webhook %s dropped: 10,000 events are waiting", event_type)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event is delivered or given up (for tests and scripts)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        self._stopping.set()
        self._pending.put(None)
        self._thread.join(5)
        self.pool.clear()

    def _run(self) -> None:
        while True:
            event = self._pending.get()
            if event is None:
                return
            try:
                self.deliveries.append(self._deliver(event))
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _deliver(self, event: dict) -> Delivery:
        body = json.dumps(event, separators=(",", ":")).encode()
        webhook_id = "msg_" + os.urandom(12).hex()
        statuses: list[int] = []
        for attempt in range(self.attempts):
            headers = {"Content-Type": "application/json", "User-Agent": "dynclient-mock/0.1",
                       **sign(body, self._secret, webhook_id=webhook_id)}
            try:
                status = self.pool.request("POST", self.url, body=body, headers=headers).status
            except urllib3.exceptions.HTTPError as exc:
                status = 0
                log.info("mock webhook %s: attempt %d failed: %s", event["type"], attempt + 1, type(exc).__name__)
            statuses.append(status)
            if 200 <= status < 300:
                break
            if attempt + 1 < self.attempts and self._stopping.wait(self.backoff * 2 ** attempt):
                break   # the mock is stopping
        delivered = bool(statuses) and 200 <= statuses[-1] < 300
        log.info("mock webhook %s %s %s after %d attempt(s)", event["type"], event["data"]["id"],
                 "delivered" if delivered else "given up", len(statuses))
        return Delivery(event["id"], event["type"], tuple(statuses))
