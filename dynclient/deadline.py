"""The total timeout of a synchronous call: one watchdog thread that ends calls past their deadline.

A socket timeout bounds each read, not a call: a server that sends one byte a
second, or `100 Continue` after `100 Continue` (http.client skips them in a
loop of its own), keeps every read short and the call alive for ever. So each
call with a total timeout opens a `Deadline` while it runs; the connections it
uses register their sockets with it (see `transport.DeadlineConnection`); and
if the deadline passes first, the watchdog shuts those sockets down, which
ends whatever read or write the call is blocked in. The transport then sees
`expired` and raises APITimeoutError.

The watchdog is one daemon thread per process, started with the first
deadline; it sleeps until the earliest deadline, and is woken only when a new
one comes before it. Opening and closing a deadline is a dict insert and a delete, with no lock
unless the new deadline is the earliest: 64 threads calling at once do not queue on it.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import socket
import threading
import time
from typing import Any

_current: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar("dynclient_deadline", default=None)


class Deadline:
    """The deadline of one call, and the sockets it has used."""

    __slots__ = ("at", "seconds", "sockets", "expired", "_token", "_key")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.sockets: list[Any] = []
        self.expired = False
        self._token: Any = None
        self._key = 0

    def left(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: Any) -> None:
        """Register a socket of this call (a connection registers each it uses)."""
        if sock is not None and (not self.sockets or self.sockets[-1] is not sock):
            self.sockets.append(sock)
            if self.expired:   # registered after the watchdog fired: end it now
                _shut(sock)

    def __enter__(self) -> "Deadline":
        self._token = _current.set(self)
        self._key = WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        WATCHDOG.remove(self._key)
        _current.reset(self._token)


def current() -> Deadline | None:
    """The deadline of the call running in this thread (or task), if it has one."""
    return _current.get()


def _shut(sock: Any) -> None:
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)   # SSLTransport wraps one
    try:
        # The socket-level shutdown, also for an SSLSocket: its own would drop the TLS object under the
        # reading thread's feet.
        socket.socket.shutdown(raw, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass


class Watchdog:
    def __init__(self) -> None:
        self._deadlines: dict[int, Deadline] = {}
        self._keys = itertools.count(1)
        self._wake = threading.Condition(threading.Lock())
        self._next = float("inf")      # when the thread will next look; read without the lock
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> int:
        # No lock in the usual case: a deadline later than the one the thread will wake for is found
        # by that wake-up's scan. While the thread scans, `_next` is infinity, so an add that races
        # with the scan takes the lock and wakes it again.
        key = next(self._keys)
        self._deadlines[key] = deadline
        if deadline.at < self._next:
            with self._wake:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="dynclient-deadlines", daemon=True)
                    self._thread.start()
                if deadline.at < self._next:
                    self._next = deadline.at
                    self._wake.notify()
        return key

    def remove(self, key: int) -> None:
        self._deadlines.pop(key, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                self._next = float("inf")
                now = time.monotonic()
                earliest = float("inf")
                for key, deadline in list(self._deadlines.items()):
                    if deadline.at <= now:
                        self._deadlines.pop(key, None)
                        deadline.expired = True
                        for sock in list(deadline.sockets):
                            _shut(sock)
                    else:
                        earliest = min(earliest, deadline.at)
                self._next = earliest
                self._wake.wait(None if earliest == float("inf") else earliest - now)


WATCHDOG = Watchdog()


def _after_fork() -> None:   # the child has no watchdog thread, and none of the parent's calls
    global WATCHDOG
    WATCHDOG = Watchdog()


os.register_at_fork(after_in_child=_after_fork)
