"""A run's input read ahead in a forked process: the lines read, checked and validated there, the run's
own process left to send, read the answers and write the results.

Reading a line is most of what a run does beyond a bare call: 70,800 instructions for a chat request
of 1 KB (its JSON read strictly: repeated names, numbers beyond 64 bits), against 104,000 that the run
spends beyond `AsyncClient.call` in all (valgrind, benchmarks/bench_run.py). A reader forked from the
run's process has its document, its compiled validators and its checks already, so it gives what the
run's own reading would give, line for line; it runs on another core, as far ahead as the pipe holds
(PIPE_BYTES), never further, so memory stays flat whatever the input's size.

The records are tuples in frames (FRAME: their pickle's length, then the pickle of a list of them),
a frame `None` at the end, and a frame `("failed", text)` when the reader fails. The process ignores
SIGINT (Ctrl-C is the run's to answer), keeps no descriptor of the run's but its pipe (a connection
the run closes is closed for the server too), and leaves by os._exit: it never runs the run's
cleanup. If the run dies, its next write fails and it leaves; if it dies, the run says so
(RunError) and stops, resumable.

Used only where fork is safe and pays: Linux, one thread and two cores (unless asked for), a file of
at least READ_AHEAD_LINES lines to send. Elsewhere the run reads its lines itself, with the same
results.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import struct
import sys
import threading
import warnings
from typing import Callable, Iterable, Iterator

from .errors import RunError

FRAME = struct.Struct("!I")
BATCH_RECORDS = 256              # records a frame
BATCH_BYTES = 1 << 20            # or fewer, past this many bytes of body text
PIPE_BYTES = 1 << 20             # how far ahead the reader may be (Linux's default pipe holds 64 KiB)
STALL_SECONDS = 120.0            # a reader that sends nothing for this long has failed
READ_AHEAD_LINES = 1000          # fewer lines to send: forking costs more than it saves
_F_SETPIPE_SZ = 1031             # fcntl.F_SETPIPE_SZ (Python 3.10+ names it; Linux only)


def possible(forced: bool = False) -> bool:
    """Whether this process may fork a reader: Linux; unless `forced`, one thread (a thread holding a lock
    at the fork would leave it held in the reader, which takes none of the run's locks, but a caller's
    thread might) and two cores or more to run on (on one, the reader would only take turns with the run)."""
    if not (sys.platform.startswith("linux") and hasattr(os, "fork")):
        return False
    return forced or (threading.active_count() == 1 and len(os.sched_getaffinity(0)) >= 2)


class ReadAhead:
    """The forked reader of `produce()`'s records; iterate `records()`, then `close()` (always)."""

    def __init__(self, produce: Callable[[], Iterable[tuple]]):
        read_fd, write_fd = os.pipe()
        try:
            import fcntl
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:   # over /proc/sys/fs/pipe-max-size: the default size will do
            pass
        try:
            with warnings.catch_warnings():   # Python 3.12+ warns of fork with threads: only when forced
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:   # the reader: never returns
            os.close(read_fd)
            _reader(write_fd, produce)
        os.close(write_fd)
        self.pid, self.fd = pid, read_fd
        self.ended = False

    def records(self) -> Iterator[tuple]:
        while True:
            head = self._read(FRAME.size)
            frame = pickle.loads(self._read(FRAME.unpack(head)[0]))
            if frame is None:
                self.ended = True
                return
            if type(frame) is tuple:   # ("failed", what)
                raise RunError(f"the run's input reader failed: {frame[1]}")
            yield from frame

    def _read(self, size: int) -> bytes:
        parts = []
        while size:
            ready, _, _ = select.select([self.fd], [], [], STALL_SECONDS)
            if not ready:
                raise RunError(f"the run's input reader sent nothing for {STALL_SECONDS:g} s")
            part = os.read(self.fd, min(size, PIPE_BYTES))
            if not part:
                raise RunError(f"the run's input reader stopped ({self._ending()})")
            parts.append(part)
            size -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _ending(self) -> str:
        try:
            pid, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "gone"
        self.pid = 0
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def close(self) -> None:
        """Stop the reader if it still runs, and reap it."""
        if self.pid:
            if not self.ended:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _reader(fd: int, produce: Callable[[], Iterable[tuple]]) -> None:
    status = 1
    try:
        logging.disable(logging.CRITICAL)   # the run logs; its handlers' files are not the reader's
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            signal.set_wakeup_fd(-1)   # the run's loop's, if it set one
        except ValueError:
            pass
        os.closerange(3, fd)   # the run's sockets and files: held here, a closed connection would stay open
        os.closerange(fd + 1, max(os.sysconf("SC_OPEN_MAX"), 1 << 16))
        try:
            batch: list[tuple] = []
            size = 0
            for record in produce():
                batch.append(record)
                size += len(record[4] or b"")
                if len(batch) >= BATCH_RECORDS or size >= BATCH_BYTES:
                    _send(fd, batch)
                    batch, size = [], 0
            if batch:
                _send(fd, batch)
            _send(fd, None)
            status = 0
        except BrokenPipeError:   # the run is gone
            pass
        except BaseException as exc:   # say what failed; the run raises it as a RunError
            try:
                _send(fd, ("failed", f"{type(exc).__name__}: {exc}"))
            except OSError:
                pass
    finally:
        os._exit(status)


def _send(fd: int, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]
