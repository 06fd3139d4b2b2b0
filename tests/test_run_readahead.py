"""A run's input read ahead by a forked process (dynclient/readahead.py), over real sockets.

The reader must give what the run's own reading gives, line for line (valid lines of both forms,
invalid ones, typed query parameters, bodies sent as written); hold none of the run's connections;
end with the run however the run ends (finished, stopped, Ctrl-C, killed); and, killed itself, stop
the run with a RunError that a resume finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import dynclient
from dynclient import readahead
from faultserver import FaultServer, error_reply

from test_run import (DOC, KEY, client_for, echo, once_each, requests_file, results, start_cli,
                      wait_for_lines)

pytestmark = pytest.mark.skipif(not readahead.possible(forced=True), reason="a reader process needs fork (Linux)")


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        if int(parent) == pid and state != "Z":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.fixture
def server():
    with FaultServer(default=echo) as srv:
        yield srv


def mixed_input(path: Path) -> Path:
    """Valid lines of both forms, a GET with a query, and lines that cannot be sent, each kind."""
    lines = [json.dumps({"custom_id": f"q-{i}", "method": "POST", "url": "/v1/echo", "body": {"text": f"t{i}"}})
             for i in range(60)]
    lines += [
        json.dumps({"custom_id": "op-1", "operation": "echo", "body": {"text": "by name"}}),
        json.dumps({"custom_id": "get-1", "method": "GET", "url": "/v1/things/abc?verbose=true"}),
        json.dumps({"custom_id": "by-op-get", "operation": "getThing", "params": {"thing_id": "x", "verbose": False}}),
        '{"custom_id": "spaced",   "method": "POST", "url": "/v1/echo", "body": {"text" :"as written",  "max_tokens": 7}}',
        json.dumps({"custom_id": "big", "method": "POST", "url": "/v1/echo",
                    "body": {"text": "b", "max_tokens": 123456789012345678901234567890}}),
        json.dumps({"custom_id": "bad-schema", "method": "POST", "url": "/v1/echo", "body": {"text": 5}}),
        json.dumps({"custom_id": "bad-url", "method": "POST", "url": "/v1/nowhere", "body": {}}),
        json.dumps({"custom_id": "bad-query", "method": "GET", "url": "/v1/things/abc?verbose=perhaps"}),
        json.dumps({"custom_id": "bad-field", "method": "POST", "url": "/v1/echo", "body": {"text": "x"}, "x": 1}),
        '{"custom_id": "repeated", "method": "POST", "url": "/v1/echo", "body": {"text": "a", "text": "b"}}',
        '{"custom_id": "bad-json", "method": "POST", "url": "/v1/echo", "body": {"text": NaN}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("form", ["batch", "operation"])
def test_the_reader_gives_what_reading_in_the_run_gives_line_for_line(tmp_path, server, form):
    path = mixed_input(tmp_path / "in.jsonl") if form == "batch" else requests_file(tmp_path / "in.jsonl", 50, "operation")
    outcomes = {}
    out = tmp_path / "out.jsonl"   # one path for both: the Idempotency-Keys are the output's
    for read_ahead in (False, True):
        for stale in (out, Path(f"{out}.resume")):
            stale.unlink(missing_ok=True)
        server.attempts.clear()
        summary = client_for(server).run(path, out=out, concurrency=4, progress=False, read_ahead=read_ahead)
        assert summary.read_ahead is read_ahead
        sent = sorted((a.method, a.target, a.body, a.headers.get("idempotency-key")) for a in server.attempts)
        outcomes[read_ahead] = (sorted(out.read_text().splitlines()),
                                (summary.total, summary.done, summary.failed, summary.invalid), sent)
    assert outcomes[True] == outcomes[False]
    if form == "batch":
        by_id = {r["custom_id"]: r for r in results(out)}
        assert outcomes[True][1] == (71, 65, 0, 6)
        assert by_id["bad-schema"]["error"]["type"] == "RequestValidationError"
        assert by_id["bad-query"]["error"]["type"] in ("ParameterError", "RequestValidationError")
        assert by_id["big"]["status"] == 200 and by_id["get-1"]["body"] == {"id": "abc"}
        # sent as written in its line, spacing and all
        assert any(body == b'{"text" :"as written",  "max_tokens": 7}' for _, _, body, _ in outcomes[True][2])


def test_the_reader_holds_none_of_the_runs_connections_and_ends_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(readahead, "PIPE_BYTES", 4096)   # so that it is still there, blocked, to be looked at
    monkeypatch.setattr(readahead, "BATCH_RECORDS", 8)
    seen: dict[str, list[str]] = {}
    finished = threading.Event()

    def slow(conn, attempt):
        time.sleep(0.02)
        echo()(conn, attempt)

    with FaultServer(default=lambda: slow) as srv:
        path = requests_file(tmp_path / "in.jsonl", 300)
        out = tmp_path / "out.jsonl"

        def look() -> None:
            while not finished.is_set() and not seen:
                for pid in children(os.getpid()):
                    try:
                        seen[str(pid)] = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
                    except OSError:
                        continue
                time.sleep(0.005)
        watcher = threading.Thread(target=look)
        watcher.start()
        try:
            summary = client_for(srv).run(path, out=out, concurrency=4, progress=False, read_ahead=True)
        finally:
            finished.set()
            watcher.join()
        assert summary.read_ahead and summary.done == 300
        assert seen, "no reader process was seen"
        (pid, fds), = seen.items()
        assert not [fd for fd in fds if fd.startswith("socket:")], fds
        assert not alive(int(pid))
        assert children(os.getpid()) == []
        once_each(out, 300)


def test_a_reader_that_dies_stops_the_run_and_a_resume_finishes_it(tmp_path, server, monkeypatch):
    monkeypatch.setattr(readahead, "PIPE_BYTES", 4096)    # the reader held back a page ahead, not a megabyte
    monkeypatch.setattr(readahead, "BATCH_RECORDS", 8)
    path = requests_file(tmp_path / "in.jsonl", 3000)
    out = tmp_path / "out.jsonl"
    killed = []

    def kill_reader() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 50:
                for pid in children(os.getpid()):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.005)
    killer = threading.Thread(target=kill_reader)
    killer.start()
    with pytest.raises(dynclient.RunError, match=r"input reader stopped \(killed by signal 9\)"):
        client_for(server).run(path, out=out, concurrency=4, progress=False, read_ahead=True)
    killer.join()
    assert killed
    assert children(os.getpid()) == []
    written = out.read_bytes().count(b"\n")
    assert 50 <= written < 3000
    summary = client_for(server).run(path, out=out, concurrency=4, progress=False)
    assert summary.skipped == written and summary.done == 3000 - written
    by_id = once_each(out, 3000)
    assert all(by_id[f"q-{i}"]["body"] == {"echo": f"t{i}"} for i in range(3000))


def test_a_stopped_run_stops_its_reader(tmp_path):
    answered = Counter()

    def quota(conn, attempt):
        answered["n"] += 1
        if answered["n"] > 20:
            error_reply(429, "insufficient_quota")(conn, attempt)
        else:
            echo()(conn, attempt)

    with FaultServer(default=lambda: quota) as srv:
        path = requests_file(tmp_path / "in.jsonl", 2000)
        out = tmp_path / "out.jsonl"
        with pytest.raises(dynclient.RunStoppedError):
            client_for(srv).run(path, out=out, concurrency=2, progress=False, read_ahead=True)
        assert children(os.getpid()) == []


def cli(doc_path: Path, srv: FaultServer, path: Path, out: Path, *extra: str) -> subprocess.Popen:
    """The command in a process group of its own, as a terminal starts it (Ctrl-C reaches the group)."""
    return start_cli(doc_path, srv, path, out, "--no-progress", *extra, start_new_session=True)


def big_lines(path: Path, count: int) -> Path:
    """`count` lines of 2 KB: more than the pipe holds, so that the reader is still there, blocked."""
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(json.dumps({"custom_id": f"q-{i}", "method": "POST", "url": "/v1/echo",
                                 "body": {"text": f"t{i}" + "x" * 2000}}) + "\n")
    return path


@pytest.fixture
def doc_path(tmp_path):
    path = tmp_path / "echo.json"
    path.write_text(json.dumps(DOC))
    return path


def reading_ahead(tmp_path: Path, doc_path: Path, srv: FaultServer, concurrency: int, results: int):
    """The command over 1,500 big lines (enough that it reads ahead on its own: readahead.READ_AHEAD_LINES),
    once `results` are written: (input, output, the command's process, its one reader's pid)."""
    path, out = big_lines(tmp_path / "in.jsonl", 1500), tmp_path / "out.jsonl"
    proc = cli(doc_path, srv, path, out, "--concurrency", str(concurrency))
    wait_for_lines(out, results, proc)
    readers = children(proc.pid)
    assert len(readers) == 1, readers
    return path, out, proc, readers[0]


def test_kill_9_of_the_command_leaves_no_reader_and_a_resume_sends_each_id_once(tmp_path, doc_path):
    with FaultServer(default=lambda: echo(delay=0.005)) as srv:
        path, out, proc, reader = reading_ahead(tmp_path, doc_path, srv, 8, 100)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(reader) and time.monotonic() < deadline:   # its next write finds no reader of the pipe
            time.sleep(0.01)
        assert not alive(reader)
        written = out.read_bytes().count(b"\n")
        summary = client_for(srv).run(path, out=out, concurrency=8, progress=False)
        assert summary.skipped == written   # (read in this process: the test server is a thread of it)
        once_each(out, 1500)
        assert len(srv.attempts) - 1500 <= 8


def test_ctrl_c_of_the_command_stops_its_reader_and_says_how_to_resume(tmp_path, doc_path):
    with FaultServer(default=lambda: echo(delay=0.005)) as srv:
        path, out, proc, reader = reading_ahead(tmp_path, doc_path, srv, 4, 40)
        os.killpg(proc.pid, signal.SIGINT)   # the whole group, the reader too, as Ctrl-C on a terminal does
        stdout, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 130, stderr
        assert "resume with:" in stderr and "Traceback" not in stderr and KEY not in stderr + stdout
        assert "reader" not in stderr   # the reader let Ctrl-C be the run's to answer
        assert not alive(reader)
        client_for(srv).run(path, out=out, concurrency=4, progress=False)
        once_each(out, 1500)


def test_no_read_ahead_reads_in_the_run_and_says_so_in_the_resume_command(tmp_path, doc_path):
    with FaultServer(default=lambda: echo(delay=0.005)) as srv:
        path = requests_file(tmp_path / "in.jsonl", 1200)
        out = tmp_path / "out.jsonl"
        proc = cli(doc_path, srv, path, out, "--concurrency", "4", "--no-read-ahead")
        wait_for_lines(out, 20, proc)
        assert children(proc.pid) == []
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
        assert "--no-read-ahead" in stderr.split("resume with:")[1]


def test_read_ahead_must_be_true_false_or_none(tmp_path, server):
    with pytest.raises(dynclient.ConfigError, match="read_ahead"):
        client_for(server).run(requests_file(tmp_path / "in.jsonl", 3), out=tmp_path / "o.jsonl", read_ahead="yes")


def test_a_reader_is_forked_unasked_only_beside_no_other_thread():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert readahead.possible() is False   # a thread of the caller's might hold a lock at the fork
        assert readahead.possible(forced=True) is True
    finally:
        stop.set()
        other.join()
