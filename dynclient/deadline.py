"""The timeouts a synchronous call keeps by one watchdog thread: its total, and its wait for a head.

A socket timeout bounds each read, not a call: a server that sends one byte a
second, or `100 Continue` after `100 Continue` (http.client skips them in a
loop of its own), keeps every read short and the call alive for ever. So each
call with a total timeout opens a `Deadline` while it runs; the connection it
uses registers its socket with it (see `transport.DeadlineConnection`); and
if the deadline passes first, the watchdog shuts that socket down, which
ends whatever read or write the call is blocked in. The transport then sees
`expired` and raises APITimeoutError. The same watch keeps an attempt's read
timeout until the answer's head has come (`Deadline.arm`), so that its socket
needs no timeout of its own then.

The watchdog is one daemon thread per process, started with the first
deadline; it sleeps until the earliest deadline, and is woken only when a new
one comes before it. Opening and closing a deadline is a dict insert and a delete, with no lock
unless the new deadline is the earliest: 64 threads calling at once do not queue on it.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import os
import socket
import threading
import time
from typing import Any

_current: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar("dynclient_deadline", default=None)


class Deadline:
    """The deadline of one call, the socket it is using, and its attempt's wait for an answer's head.

    `arm` makes the watchdog keep the read timeout of an attempt until the answer's head arrives
    (`disarm`), so that its socket can block without a timeout of its own: with a socket timeout,
    CPython polls before each send and receive, a system call that hands the GIL over each time (strace:
    4 polls a call, 1 without; under 64 threads Client went from 0.94x raw urllib3's calls/s to 1.07x,
    benchmarks/bench_async.py). The head must arrive within `read` of the request's sending (`sent`), or of
    `connect + read` from the attempt's start while it is being sent; then `read_expired` is set and
    the socket shut, which the transport reports as the read timeout a socket timeout would have
    raised.
    """

    __slots__ = ("at", "seconds", "sock", "expired", "head_by", "read", "read_expired", "_token", "_key")

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = math.inf if seconds is None else time.monotonic() + seconds
        self.sock: Any = None          # the socket the call is using now (None between attempts)
        self.expired = False           # the total passed: the watchdog shut the call's socket
        self.head_by = math.inf        # when the armed attempt's head must have come
        self.read: float | None = None   # the armed attempt's read timeout (None: not armed)
        self.read_expired = False      # the armed attempt's head did not come in time: its socket was shut
        self._token: Any = None
        self._key = 0

    def left(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: Any) -> None:
        """The socket the call uses from now on (a connection registers each it uses)."""
        self.sock = sock
        if sock is not None and (self.expired or self.read_expired):   # registered after the watchdog fired
            _shut(sock)

    def drop(self) -> None:
        """The attempt is over: its connection may serve another call now, so it is not watched."""
        self.sock = None

    def arm(self, connect: float, read: float) -> None:
        """Keep the read timeout of an attempt starting now, until `disarm`."""
        self.read, self.read_expired = read, False
        self._due(time.monotonic() + connect + read)

    def sent(self) -> None:
        """The armed attempt's request is sent: its head must come within `read` from now."""
        if self.read is not None:
            self._due(time.monotonic() + self.read)

    def disarm(self) -> None:
        self.read, self.head_by = None, math.inf

    def _due(self, head_by: float) -> None:
        self.head_by = head_by
        if head_by < WATCHDOG.next:   # rare: the watchdog sleeps past it (see Watchdog.add)
            WATCHDOG.wake(head_by)

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
    if sock is None:
        return
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
        self.next = math.inf      # when the thread will next look; read without the lock
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> int:
        # No lock in the usual case: a deadline later than the one the thread will wake for is found
        # by that wake-up's scan. While the thread scans, `next` is infinity, so an add that races
        # with the scan takes the lock and wakes it again.
        key = next(self._keys)
        self._deadlines[key] = deadline
        if deadline.at < self.next:
            self.wake(deadline.at)
        return key

    def wake(self, due: float) -> None:
        """Make the thread look at `due` at the latest (starting it the first time)."""
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dynclient-deadlines", daemon=True)
                self._thread.start()
            if due < self.next:
                self.next = due
                self._wake.notify()

    def remove(self, key: int) -> None:
        self._deadlines.pop(key, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                self.next = math.inf
                now = time.monotonic()
                earliest = math.inf
                for key, deadline in list(self._deadlines.items()):
                    if deadline.at <= now:
                        self._deadlines.pop(key, None)
                        deadline.expired = True
                        _shut(deadline.sock)
                        continue
                    head_by = deadline.head_by
                    if head_by <= now:
                        deadline.head_by, deadline.read_expired = math.inf, True
                        _shut(deadline.sock)
                    earliest = min(earliest, deadline.at, deadline.head_by)
                self.next = earliest
                self._wake.wait(None if earliest == math.inf else earliest - now)


WATCHDOG = Watchdog()


def _after_fork() -> None:   # the child has no watchdog thread, and none of the parent's calls
    global WATCHDOG
    WATCHDOG = Watchdog()


os.register_at_fork(after_in_child=_after_fork)
