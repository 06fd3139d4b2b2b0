"""Bulk runs (dynclient/run.py): the runner against bare AsyncClient calls, its memory on a million lines,
and how soon a resume over a million finished lines starts sending.

    python -m benchmarks.bench_run [--calls 100000] [--rounds 3] [--lines 1000000] [--quick] [--instructions]
                                   [--output FILE]

1. Throughput: `--calls` createChatCompletion requests (benchmarks/payloads.py) to the loopback server
   (benchmarks/server.py, its own process), 64 in flight, made (a) by bare `AsyncClient.call` in
   64 worker tasks, nothing written, and (b) by `AsyncClient.run` over a JSONL file of the same
   requests, every result validated and appended to a results file. Rounds interleave the two, in ABBA
   order; the median of each is reported with their ratio, and the ratio round by round (the target:
   run >= 0.9x bare calls).
2. Memory: `--lines` requests in a fresh process running `Client.run` (as `dynclient run` does, its
   input read ahead by a reader process), its RSS sampled every 0.5 s, and the peak (VmHWM) at the end
   (the target: <= 150 MB throughout); and the reader's RSS, and the two's PSS (shared pages counted once).
   The run is stopped (as by Ctrl-C) after `--lines` results, with 1,000 lines of the input left.
3. Resume: a fresh process runs the same command again over those results; reported: seconds from
   spawning the process to its first request going out (the target: within 2 s), for the resume from
   the checkpoint, and for the worst case, an input that changed since (the whole results file is
   read again, and the input surveyed).
4. `--instructions`: the client's instructions per request of (a) and (b), counted by valgrind, whose
   ratio is the throughput ratio wherever the client's CPU is the limit, whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dynclient

from .bench_percall import counted_each
from .payloads import CHAT_REQUEST, CHAT_RESPONSE
from .processes import RSS_SAMPLER
from .run import LoopbackServer, abba

EXPECTED = CHAT_RESPONSE["id"]
CONCURRENCY = 64


def write_requests(path: Path, count: int) -> None:
    body = json.dumps(CHAT_REQUEST)
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(f'{{"custom_id": "req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": {body}}}\n')


async def bare_calls(client: dynclient.AsyncClient, calls: int) -> float:
    remaining = [calls]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            answer = await client.call("createChatCompletion", CHAT_REQUEST)
            if answer["id"] != EXPECTED:
                raise AssertionError(f"wrong answer {answer}")

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
    return calls / (time.perf_counter() - started)


async def runner_calls(client: dynclient.AsyncClient, path: Path, out: Path, calls: int) -> float:
    for stale in (out, Path(str(out) + ".resume")):
        if stale.exists():
            stale.unlink()
    started = time.perf_counter()
    summary = await client.run(path, out=out, concurrency=CONCURRENCY, progress=False)
    rate = calls / (time.perf_counter() - started)
    if summary.done != calls:
        raise AssertionError(f"run: {summary}")
    with open(out, "rb") as fh:   # spot-check that the results are the answers
        first = json.loads(fh.readline())
    if first["body"]["id"] != EXPECTED or first["status"] != 200:
        raise AssertionError(f"run: wrong result {first}")
    return rate


def throughput(base: str, calls: int, rounds: int, workdir: Path) -> dict[str, list[float]]:
    path, out = workdir / "requests.jsonl", workdir / "results.jsonl"
    write_requests(path, calls)
    rates: dict[str, list[float]] = {"bare AsyncClient.call, 64 tasks": [], "AsyncClient.run (results written)": []}

    async def main() -> None:
        async with dynclient.AsyncClient("openai@2025-04-29", base_url=base, api_key="sk-bench",
                                         pool_maxsize=CONCURRENCY, max_connections=CONCURRENCY) as client:
            await bare_calls(client, min(calls, 2000))   # warm: validators, pools
            for order in abba(("bare", "run"), rounds):
                for mode in order:
                    if mode == "bare":
                        rates["bare AsyncClient.call, 64 tasks"].append(await bare_calls(client, calls))
                    else:
                        rates["AsyncClient.run (results written)"].append(await runner_calls(client, path, out, calls))
    asyncio.run(main())
    return rates


# --- the million-line run, in fresh processes ---------------------------------------------------

CHILD = RSS_SAMPLER + r"""
import json, os, sys, time
spawned = float(sys.argv[1]); args = json.loads(sys.argv[2])
sys.path.insert(0, args["root"])
import dynclient
from dynclient import async_transport

def field_kb(pid, name, where="status"):
    try:
        for line in open(f"/proc/{pid}/{where}"):
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def readers():
    found = []
    for tid in os.listdir("/proc/self/task"):
        try:
            found += [int(p) for p in open(f"/proc/self/task/{tid}/children").read().split()]
        except OSError:
            pass
    return found

reader = {"rss_kb": 0, "pss_sum_kb": 0, "seen": False}
def sample_readers(seconds):
    import threading
    def sample():
        while True:
            pids = readers()
            if pids:
                reader["seen"] = True
                reader["rss_kb"] = max(reader["rss_kb"], sum(field_kb(p, "VmRSS") for p in pids))
                reader["pss_sum_kb"] = max(reader["pss_sum_kb"], field_kb("self", "Pss", "smaps_rollup")
                                           + sum(field_kb(p, "Pss", "smaps_rollup") for p in pids))
            time.sleep(seconds)
    threading.Thread(target=sample, daemon=True).start()

sample_rss(0.5)
sample_readers(0.5)

first = []
sent = [0]
send = async_transport.AsyncTransport.send
def counted_send(self, *a, **k):
    if not first:
        first.append(time.time() - spawned)
    sent[0] += 1
    if args["stop_after"] and sent[0] > args["stop_after"]:
        raise KeyboardInterrupt   # as a Ctrl-C would, once `stop_after` requests have gone out
    return send(self, *a, **k)
async_transport.AsyncTransport.send = counted_send

client = dynclient.Client("openai@2025-04-29", base_url=args["base"], api_key="sk-bench")
stopped = False
try:
    # read_ahead=True: `dynclient run` reads such a file ahead on its own; here the samplers' threads
    # would otherwise keep it from forking its reader
    summary = client.run(args["path"], out=args["out"], concurrency=64, progress=False, read_ahead=True)
except KeyboardInterrupt:
    stopped = True
print(json.dumps({"first_send_s": first[0] if first else None, "peak_sampled_kb": peak[0],
                  "hwm_kb": rss_kb("VmHWM"), "stopped": stopped, "reader": reader}))
"""


def child(base: str, path: Path, out: Path, stop_after: int | None = None) -> dict:
    args = {"root": str(Path(__file__).resolve().parents[1]), "base": base, "path": str(path), "out": str(out),
            "stop_after": stop_after}
    done = subprocess.run([sys.executable, "-c", CHILD, repr(time.time()), json.dumps(args)],
                          capture_output=True, text=True, timeout=7200)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def million(base: str, lines: int, workdir: Path) -> list[str]:
    path, out = workdir / "million.jsonl", workdir / "million-results.jsonl"
    write_requests(path, lines + 1000)
    started = time.perf_counter()
    first = child(base, path, out, stop_after=lines)
    took = time.perf_counter() - started
    finished = sum(1 for _ in open(out, "rb"))
    resumed = child(base, path, out)
    # The worst case: the input changed since (one more line), so the checkpoint does not hold.
    with open(path, "a") as fh:
        fh.write('{"custom_id": "one-more", "method": "POST", "url": "/v1/chat/completions", "body": '
                 + json.dumps(CHAT_REQUEST) + "}\n")
    changed = child(base, path, out)
    total = sum(1 for _ in open(out, "rb"))
    if total != lines + 1001:
        raise AssertionError(f"{total} result lines for {lines + 1001} requests")
    size = os.path.getsize(out) / 1e6
    return [
        f"- {lines + 1000:,}-line input, `Client.run` at 64 in flight, stopped (as by Ctrl-C) after {finished:,} "
        f"results ({took:.0f} s): peak RSS {first['hwm_kb'] / 1024:.0f} MB (sampled every 0.5 s: "
        f"{first['peak_sampled_kb'] / 1024:.0f} MB); its reader process "
        + (f"{first['reader']['rss_kb'] / 1024:.0f} MB at most, most of it shared with the run's (the two "
           f"together, shared pages counted once (PSS): {first['reader']['pss_sum_kb'] / 1024:.0f} MB at most)."
           if first["reader"]["seen"] else "not seen (the run read its lines itself)."),
        f"- Resumed in a fresh process over {finished:,} finished lines ({size:,.0f} MB of results): first request "
        f"out {resumed['first_send_s']:.2f} s after spawning the process (import, document, checkpoint, results "
        f"written after it); peak RSS {resumed['hwm_kb'] / 1024:.0f} MB.",
        f"- Worst case, the input changed since (so the whole results file is read and the input surveyed): first "
        f"request out {changed['first_send_s']:.2f} s after spawning; peak RSS {changed['hwm_kb'] / 1024:.0f} MB.",
        f"- Every one of the {lines + 1001:,} requests has exactly one result line.",
    ]


# --- instructions per request, under valgrind (deterministic where wall-clock time is not) -------------

COUNTED = r"""
import asyncio, sys
import dynclient
from benchmarks.bench_run import bare_calls, CONCURRENCY
mode, n, base, path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

async def main():
    async with dynclient.AsyncClient("openai@2025-04-29", base_url=base, api_key="sk-bench",
                                     pool_maxsize=CONCURRENCY, max_connections=CONCURRENCY) as client:
        await bare_calls(client, 300)   # warm: validators, pools
        if mode == "bare":
            await bare_calls(client, n)
        else:
            summary = await client.run(path, out=out, concurrency=CONCURRENCY, progress=False, read_ahead=True)
            assert summary.done == n and summary.read_ahead, summary
asyncio.run(main())
"""


def instructions(base: str, workdir: Path, low: int = 500, high: int = 1500) -> list[str]:
    """Client instructions per request of each variant: valgrind's count for `high` requests less its
    count for `low`, over the difference (the start, the document and the warm-up cancel out). The run
    reads ahead (as it does for 1,000 lines or more; asked for here, so that both counts are alike): its
    process is counted, and its reader apart. Only the client's processes are counted
    (bench_percall.counted_each), so the figures do not move with the machine's load."""
    import shutil
    if shutil.which("valgrind") is None:
        return ["- Instructions per request: not measured (valgrind is not installed)."]
    counts: dict[str, list[int]] = {}
    for mode in ("bare", "run"):
        totals = []
        for n in (low, high):
            path, out = workdir / f"counted-{n}.jsonl", workdir / f"counted-{n}-{mode}.out.jsonl"
            write_requests(path, n)
            for stale in (out, Path(str(out) + ".resume")):
                stale.unlink(missing_ok=True)
            totals.append(counted_each(["-c", COUNTED, mode, str(n), base, str(path), str(out)], f"bench_run {mode}"))
        counts[mode] = [(b - a) / (high - low) for a, b in zip(*totals)]
    bare, run = counts["bare"][0], counts["run"][0]
    reader = (f"; its reader process {counts['run'][1]:,.0f} a request, on another core (counted from the start "
              f"of the run's process, so the survey of the input before the fork is in it)"
              if len(counts["run"]) > 1 else "")
    return [f"- Client instructions per request (valgrind, {high:,} requests less {low:,}): "
            f"bare AsyncClient.call {bare:,.0f}, AsyncClient.run's process {run:,.0f}{reader}. The bare calls' "
            f"count over the run's, the run's throughput over the bare calls' where the client's CPU is what "
            f"limits: **{bare / run:.2f}×**."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="2,000 calls, 1 round, 20,000 lines: keeps it from rotting")
    parser.add_argument("--skip-million", action="store_true", help="only the throughput rows")
    parser.add_argument("--skip-throughput", action="store_true", help="only the million-line run")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the client's instructions per request under valgrind (about 4 minutes)")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section 'Bulk runs' of this Markdown file (benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    calls, rounds, lines = (2000, 1, 20_000) if args.quick else (args.calls, args.rounds, args.lines)
    started = time.perf_counter()
    with LoopbackServer() as base, tempfile.TemporaryDirectory() as tmp:
        command = (f"python -m benchmarks.bench_run --calls {calls} --rounds {rounds} --lines {lines}"
                   + (" --skip-million" if args.skip_million else "")
                   + (" --skip-throughput" if args.skip_throughput else "")
                   + (" --instructions" if args.instructions else ""))
        out = [f"`{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (machine: {os.cpu_count()} "
               f"cores, Python {sys.version.split()[0]})."]
        if not args.skip_throughput:
            rates = throughput(base, calls, rounds, Path(tmp))
            medians = {name: statistics.median(values) for name, values in rates.items()}
            bare = medians["bare AsyncClient.call, 64 tasks"]
            out += ["", f"{calls:,} createChatCompletion requests, 64 in flight, median of {rounds} rounds:", "",
                    "| variant | calls/s | / bare calls | rounds |", "|---|---:|---:|---|"]
            for name, value in medians.items():
                out.append(f"| {name} | {value:,.0f} | {value / bare:.2f}× | "
                           f"{', '.join(f'{v:,.0f}' for v in rates[name])} |")
            ratios = [run / bare for bare, run in zip(*rates.values())]
            out += ["", f"- run / bare calls, round by round (each round's two back to back, ABBA): "
                        f"{', '.join(f'{r:.2f}' for r in ratios)}; median **{statistics.median(ratios):.2f}×**"]
        if args.instructions:
            out += ["", *instructions(base, Path(tmp))]
        if not args.skip_million:
            out += ["", *million(base, lines, Path(tmp))]
    out += ["", f"({time.perf_counter() - started:.0f} s in all)"]
    from .run import publish
    publish(out, args.output, "Bulk runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
