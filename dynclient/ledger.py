"""What a run has done: its results file, read back on resume, and appended to as calls finish.

A run must survive `kill -9` at any moment and resume without losing or
repeating a request, over inputs of millions of lines, in flat memory and
within a couple of seconds. So:

- **Appends are whole lines.** Each result is one `os.write` of one line to a
  file opened for appending: a killed process leaves whole lines, and at worst
  (a full disk, a power cut) a torn last line, which `open` cuts off.
- **Done is per input line.** Every result line starts with its custom_id and
  line number (jobs.result_line), found by a regular expression over big
  chunks without parsing the bodies; each becomes a 64-bit hash of the id at
  its line number (`array('q')`, 8 bytes a line). An input line is done when
  the id it holds hashes to what its line recorded. When the input changed
  (ids moved to other lines), done falls back to a set of the recorded ids.
  A 64-bit hash can collide: the odds that some unfinished request of a
  million is taken for a finished one are below 1 in 10^7.
- **A checkpoint** (`RESULTS.resume`, replaced atomically at most every few
  seconds and at the end) holds which input lines are still to do, for an
  input file of a given size and mtime, as of a given length of the results
  file. A resume then reads only the results written after it, and the input
  is not surveyed again.

The input survey (`survey_file`) is the one pass over the input before
anything is sent: it reports missing and duplicate custom_ids (exactly:
hash collisions are checked against the ids themselves) and marks which lines
are still to do.
"""

from __future__ import annotations

import array
import base64
import json
import operator
import os
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .errors import RunInputError
from .jobs import ID_TEXT, LEADING_ID, canonical_key, custom_id_problem, id_from_raw, key_from_raw

CHUNK = 1 << 22
MAX_LINE_BYTES = 64 << 20    # a request line longer than this stops the survey (nothing is sent)
MAX_RESULT_BYTES = 1 << 30   # a result line: a whole answer (the client's own cap is 256 MiB)
CHECKPOINT_EVERY = 5.0      # seconds between checkpoints (and fsyncs of the results)
STATE_FORMAT = 1
_RESULT_HEAD = re.compile(rb'\n\{"custom_id": "' + ID_TEXT + rb'", "line": (\d+),')
_REQUEST_HEAD = re.compile(rb'\n' + LEADING_ID)
# The same, for ids of printable ASCII without a backslash: their bytes are their canonical key as found,
# so a whole chunk is read by C code (findall, map) when every line of it has such an id.
_SIMPLE_ID = rb'([\x20\x21\x23-\x5b\x5d-\x7e]*)'
_SIMPLE_RESULT_HEAD = re.compile(rb'\n\{"custom_id": "' + _SIMPLE_ID + rb'", "line": (\d+),')
_SIMPLE_REQUEST_HEAD = re.compile(rb'\n\{\s*"custom_id"\s*:\s*"' + _SIMPLE_ID + rb'"')


def _chunks(fh: Any, limit: int | None = None) -> Iterator[bytes]:
    """Whole lines in big chunks, each chunk starting with a newline (so every line follows one). A line
    longer than `limit` bytes raises RunInputError (it is never held whole)."""
    limit = MAX_LINE_BYTES if limit is None else limit
    tail = b"\n"
    while True:
        data = fh.read(CHUNK)
        if not data:
            if len(tail) > 1:
                yield tail + b"\n"
            return
        data = tail + data
        cut = data.rfind(b"\n")
        tail = data[cut:]
        if len(tail) > limit:
            raise RunInputError(getattr(fh, "name", "input"),
                                [f"a line longer than {limit:,} bytes ends after byte {fh.tell():,}"])
        if cut > 0:
            yield data[:cut]


def key_hash(key: bytes) -> int:
    """The 64-bit hash a ledger keeps for a canonical custom_id (never 0, which means "no result")."""
    return hash(key) or 1


def _hashes(keys: Any) -> list[int]:
    hashes = list(map(hash, keys))
    return [h or 1 for h in hashes] if 0 in hashes else hashes


@dataclass
class Survey:
    """The input, surveyed: `pending[n]` is 1 when line n still has to be run."""
    total: int                 # requests in the input
    skipped: int               # of which a result exists
    pending: bytearray


class Ledger:
    """The results file of a run (see the module's docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.state_path = self.path + ".resume"
        self.by_line = array.array("q")      # line -> hash of the custom_id recorded for it (0: none)
        self.results = 0                       # result lines in the file
        self.fd: int | None = None
        self.tail_from = 0                     # the checkpoint's length of the results file
        self.state: dict | None = None
        self.last_sync = time.monotonic()
        self.unsynced = False
        self.buffer: list[bytes] = []

    # --- opening: what is done -------------------------------------------------------

    def open(self, input_identity: dict | None) -> None:
        """Cut a torn last line, then learn what is done: from the checkpoint when it matches the input
        and the file, reading only what follows it; else from the whole file."""
        size = self._cut_torn_line()
        state = self._load_state(input_identity, size)
        self.tail_from = state["results_bytes"] if state else 0
        self.state = state
        self._scan(self.tail_from)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _cut_torn_line(self) -> int:
        try:
            fh = open(self.path, "rb+")
        except FileNotFoundError:
            return 0
        with fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return size
            # Find the last newline, reading backwards a block at a time.
            end = size
            while end > 0:
                start = max(0, end - 65536)
                fh.seek(start)
                block = fh.read(end - start)
                cut = block.rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                end = start
            else:
                keep = 0
            fh.truncate(keep)
            return keep

    def _load_state(self, identity: dict | None, size: int) -> dict | None:
        if identity is None:
            return None
        try:
            with open(self.state_path, "rb") as fh:
                state = json.loads(fh.read(64 << 20))
            if (state.get("format") != STATE_FORMAT or state.get("input") != identity
                    or not isinstance(state.get("results_bytes"), int) or not 0 <= state["results_bytes"] <= size):
                return None
            if state["results_bytes"]:
                with open(self.path, "rb") as fh:
                    fh.seek(state["results_bytes"] - 1)
                    if fh.read(1) != b"\n":
                        return None
            state["pending"] = bytearray(zlib.decompress(base64.b64decode(state["pending"])))
            return state
        except (OSError, ValueError, TypeError, KeyError, zlib.error):
            return None   # no checkpoint, or one that cannot be trusted: read the whole file

    def _scan(self, start: int) -> None:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            fh.seek(start)
            number = 0   # counts the lines after `start`, for messages
            for chunk in _chunks(fh, MAX_RESULT_BYTES):
                lines = chunk.count(b"\n")
                found = _SIMPLE_RESULT_HEAD.findall(chunk)
                if len(found) == lines:
                    keys, numbers = zip(*found) if found else ((), ())
                    hashes = _hashes(keys)
                else:
                    pairs = [self._slow_result(number + i, text) for i, text in enumerate(chunk[1:].split(b"\n"))]
                    numbers = [line for _, line in pairs]
                    hashes = [key_hash(key) for key, _ in pairs]
                self._record(list(map(int, numbers)), hashes)
                number += lines
                self.results += lines

    def _slow_result(self, number: int, text: bytes) -> tuple[bytes, int]:
        where = f"{self.path}, line {number + 1} after byte {self.tail_from}" if self.tail_from else \
            f"{self.path}, line {number + 1}"
        match = _RESULT_HEAD.match(b"\n" + text)
        if match:
            return key_from_raw(match.group(1)), int(match.group(2))
        try:
            data = json.loads(text)
            custom_id, line = data["custom_id"], data["line"]
            if not isinstance(custom_id, str) or not isinstance(line, int) or line < 1:
                raise TypeError
        except (ValueError, TypeError, KeyError, RecursionError):
            raise RunInputError(self.path, [f"{where}: not a result line of dynclient run (it must hold custom_id "
                                            f"and line); give another output file"]) from None
        return canonical_key(custom_id), line

    def _record(self, lines: list[int], hashes: list[int]) -> None:
        if self.state is not None:   # after the checkpoint: those lines are done
            pending = self.state["pending"]
            for line in lines:
                if line < len(pending):
                    pending[line] = 0
            return
        if not lines:
            return
        top = max(lines)
        if top >= len(self.by_line):
            grow = max(top + 1 - len(self.by_line), len(self.by_line), 1024)
            self.by_line.frombytes(bytes(8 * grow))
        by_line = self.by_line
        for line, value in zip(lines, hashes):
            by_line[line] = value

    # --- the input -------------------------------------------------------------------

    def survey_file(self, path: str, identity: dict) -> Survey:
        """The one pass over an input file before anything is sent (see the module's docstring)."""
        if self.state is not None:   # the checkpoint's survey, plus what was written after it
            pending = self.state["pending"]
            total = self.state["total"]
            return Survey(total, total - pending.count(1), pending)
        problems: list[str] = []
        every = array.array("q")   # every id's hash, to find repeats (8 bytes a line)
        pending = bytearray(1)     # line 0 does not exist
        changed = False
        with open(path, "rb") as fh:
            line = 1
            for chunk in _chunks(fh):
                count = chunk.count(b"\n")
                hashes = self._chunk_hashes(chunk, count, line, problems)
                every.extend(h for h in hashes if h) if 0 in hashes else every.extend(hashes)
                recorded = self.by_line[line:line + count]
                recorded.extend(array.array("q", bytes(8 * (count - len(recorded)))))
                same = bytes(map(operator.eq, hashes, recorded))
                changed |= (count - recorded.count(0)) != same.count(1)
                pending += bytes(map(operator.and_, map(bool, hashes), map(operator.not_, same)))
                line += count
        if len(self.by_line) > line and self.by_line[line:].count(0) != len(self.by_line) - line:
            changed = True   # results for lines the input no longer has
        total = len(every)
        repeated = has_repeats(every)
        del every
        if repeated:   # some id repeats, or two ids share a hash: check exactly
            problems += self._duplicates(path)
        if problems:
            raise RunInputError(path, problems)
        if changed:
            pending = self._pending_by_id(path)
        return Survey(total, total - pending.count(1), pending)

    def _chunk_hashes(self, chunk: bytes, count: int, line: int, problems: list[str]) -> list[int]:
        """The id hash of each line of a chunk (0 for a blank or unreadable line)."""
        raws = _SIMPLE_REQUEST_HEAD.findall(chunk)
        if len(raws) == count:
            return _hashes(raws)
        return [self._slow_request(line + i, text, problems) for i, text in enumerate(chunk[1:].split(b"\n"))]

    def _slow_request(self, number: int, text: bytes, problems: list[str]) -> int:
        """The id hash of one line the fast pattern did not read (0 for a blank line or a bad one)."""
        if not text.strip():
            return 0
        match = _REQUEST_HEAD.match(b"\n" + text)
        if match:
            return key_hash(key_from_raw(match.group(1)))
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        custom_id = data.get("custom_id") if isinstance(data, dict) else None
        bad = custom_id_problem(custom_id) if isinstance(data, dict) else "not a JSON object"
        if bad:
            problems.append(f"line {number}: {bad}")
            return 0
        return key_hash(canonical_key(custom_id))

    def _duplicates(self, path: str) -> list[str]:
        """Which custom_ids repeat, exactly (a second pass, only when the first saw a repeated hash)."""
        seen: set[int] = set()
        repeated: set[int] = set()
        for _, key in _keys_of_file(path):
            h = key_hash(key)
            (repeated if h in seen else seen).add(h)
        del seen
        lines: dict[bytes, list[int]] = {}
        for number, key in _keys_of_file(path):
            if key_hash(key) in repeated:
                lines.setdefault(key, []).append(number)
        return [f"custom_id {id_from_raw(key)!r} is on lines {', '.join(map(str, found[:10]))}"
                f"{' …' if len(found) > 10 else ''}" for key, found in lines.items() if len(found) > 1]

    def _pending_by_id(self, path: str) -> bytearray:
        """The input changed since the results were written: done is whatever id has a result."""
        done = self.done_ids()
        pending = bytearray(1)
        problems: list[str] = []
        with open(path, "rb") as fh:
            line = 1
            for chunk in _chunks(fh):
                count = chunk.count(b"\n")
                hashes = self._chunk_hashes(chunk, count, line, problems)
                pending += bytes(map(operator.and_, map(bool, hashes), map(operator.not_, map(done.__contains__, hashes))))
                line += count
        return pending

    # --- inputs that are not a file --------------------------------------------------

    def done_ids(self) -> set[int]:
        """The hashes of every recorded id (for inputs whose lines may have moved)."""
        done = set(self.by_line)
        done.discard(0)
        return done

    # --- writing -----------------------------------------------------------------------

    def append(self, data: bytes) -> None:
        """Add one whole result line; it reaches the file at the next `flush` (the runner flushes once per
        turn of its event loop, before it waits for anything, so a line waits microseconds, and a kill
        loses at most the lines of one turn, whose requests are sent again on resume)."""
        self.buffer.append(data)
        self.results += 1
        self.unsynced = True

    def flush(self) -> None:
        """Write what `append` gathered, as one write of whole lines."""
        if not self.buffer or self.fd is None:
            return
        view = memoryview(b"".join(self.buffer))
        self.buffer.clear()
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def due(self, now: float) -> bool:
        return self.unsynced and now - self.last_sync >= CHECKPOINT_EVERY

    def sync(self, survey: Survey | None, identity: dict | None) -> None:
        """fsync the results, then replace the checkpoint (when the input is a file)."""
        if self.fd is None:
            return
        self.flush()
        os.fsync(self.fd)
        self.last_sync, self.unsynced = time.monotonic(), False
        if survey is None or identity is None:
            return
        state = {"format": STATE_FORMAT, "input": identity, "results_bytes": os.fstat(self.fd).st_size,
                 "total": survey.total,
                 "pending": base64.b64encode(zlib.compress(bytes(survey.pending), 1)).decode("ascii")}
        temporary = self.state_path + ".tmp"
        with open(temporary, "w", encoding="ascii") as fh:
            json.dump(state, fh)
        os.replace(temporary, self.state_path)

    def close(self) -> None:
        self.flush()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _keys_of_file(path: str) -> Iterable[tuple[int, bytes]]:
    """(line number, canonical custom_id) of every line that has one, the slow and exact way."""
    with open(path, "rb") as fh:
        for number, text in enumerate(fh, 1):
            match = _REQUEST_HEAD.match(b"\n" + text)
            if match:
                yield number, key_from_raw(match.group(1))
                continue
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):
                continue
            custom_id = data.get("custom_id") if isinstance(data, dict) else None
            if isinstance(custom_id, str) and custom_id:
                yield number, canonical_key(custom_id)


SMALL_INPUT = 1 << 17   # lines: up to this many, repeats are looked for with a set of every value (<= 12 MB)


def has_repeats(hashes: array.array) -> bool:
    """Whether a value repeats, in 16 MiB and two quick passes: a bitmap of 2^27 bits finds the values whose
    bit was already set; only those are compared exactly (a set of them). A set of every value would hold
    about 64 bytes a value (64 MB for a million lines), sorting them takes half a second; for a small input
    that set is the quicker way (one pass in C)."""
    if len(hashes) <= SMALL_INPUT:
        return len(set(hashes)) != len(hashes)
    bits = bytearray(1 << 24)
    mask = (1 << 27) - 1
    suspect_bits = set()
    for value in hashes:
        bit = value & mask
        byte, flag = bit >> 3, 1 << (bit & 7)
        if bits[byte] & flag:
            suspect_bits.add(bit)
        else:
            bits[byte] |= flag
    if not suspect_bits:
        return False
    del bits
    seen: set[int] = set()
    for value in hashes:
        if value & mask in suspect_bits:
            if value in seen:
                return True
            seen.add(value)
    return False


def file_identity(path: str) -> dict:
    """What says an input file is the one a checkpoint was made for."""
    info = os.stat(path)
    return {"path": os.path.abspath(path), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
