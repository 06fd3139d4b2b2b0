"""The client's CPU cost per call, in instructions: reproducible on a noisy, shared machine.

    python -m benchmarks.bench_percall [--calls 300] [--warm 200] [--only NAME ...] [--output RESULTS.md]

Wall-clock throughput (benchmarks/bench_async.py) swings by 10-20% between rounds here: the
loopback server shares the cores with the client and with whatever else runs. Instructions do not.
Each variant runs in a child process under `valgrind --tool=cachegrind --cache-sim=no`, which
counts every instruction the client process executes (the server, benchmarks/server.py, runs in
its own process, not counted). The child is run twice, with `--warm` calls and then with
`--warm + --calls`; the difference divided by `--calls` is the cost of one call, start-up,
imports, loading the document and warming pools and validators cancelled out.

The variants are bench_async's own (same request, same answer check): raw aiohttp and AsyncClient
with 64 in flight; raw urllib3 and Client on one thread and shared by 64 threads. Besides them,
the parts a validating client cannot avoid, each measured alone the same way: json.dumps of the
request, json.loads of the answer, and jsonschema-rs validating each (the verdicts dynclient
uses). The instruction ratio of a variant to its raw transport is the ceiling of its wall-clock
ratio when the client's CPU is what limits throughput (2 cores, client and server on them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
SPEC = "openai@2025-04-29"
OPERATION = "createChatCompletion"


# --- what a child runs: `count` more of one variant's calls ------------------------------------

def _async_runner(factory_name: str, concurrency: int) -> Callable[[str, int], None]:
    def run(base: str, count: int) -> None:
        from . import bench_async

        async def go() -> None:
            call, close = await getattr(bench_async, factory_name)(base)
            try:
                await bench_async.in_flight(call, count, concurrency, factory_name)
            finally:
                await close()
        asyncio.run(go())
    return run


def _sync_runner(variant: str, threads: int) -> Callable[[str, int], None]:
    def run(base: str, count: int) -> None:
        from . import bench_async
        call = bench_async.sync_variants(base)[variant]
        if threads == 1:
            for _ in range(count):
                bench_async.check(call(), variant)
        else:
            bench_async.threaded(call, count, threads, variant)
    return run


def _alone(part: str) -> Callable[[str, int], None]:
    """One step a validating client cannot skip, `count` times, in a loop (no server involved)."""
    def run(base: str, count: int) -> None:
        import dynclient
        from .payloads import CHAT_REQUEST, CHAT_RESPONSE
        client = dynclient.Client(SPEC, base_url=base, api_key="sk-bench")
        op = client.spec.operations[OPERATION]
        request_schema = client.schemas.compiled(op.request_body.content["application/json"].pointer, "request")
        response_schema = client.schemas.compiled(op.responses["200"].content["application/json"].pointer,
                                                  "response")
        text = json.dumps(CHAT_RESPONSE).encode()
        step = {
            "json.dumps request": lambda: json.dumps(CHAT_REQUEST).encode(),
            "json.loads answer": lambda: json.loads(text),
            "validate request (jsonschema-rs)": lambda: request_schema.fast.is_valid(CHAT_REQUEST),
            "validate answer (jsonschema-rs)": lambda: response_schema.fast.is_valid(CHAT_RESPONSE),
        }[part]
        assert request_schema.fast is not None and response_schema.fast is not None, "jsonschema-rs is missing"
        for _ in range(count):
            step()
    return run


# name -> (what it is compared with, the runner)
VARIANTS: dict[str, tuple[str | None, Callable[[str, int], None]]] = {
    "aiohttp (raw), 64 in flight": (None, _async_runner("aiohttp_variant", 64)),
    "AsyncClient, 64 in flight": ("aiohttp (raw), 64 in flight", _async_runner("dynclient_variant", 64)),
    "urllib3 PoolManager (raw), 1 thread": (None, _sync_runner("urllib3 PoolManager, 64 threads (raw)", 1)),
    "Client, 1 thread": ("urllib3 PoolManager (raw), 1 thread",
                         _sync_runner("dynclient Client, 64 threads (validated)", 1)),
    "urllib3 PoolManager (raw), 64 threads": (None, _sync_runner("urllib3 PoolManager, 64 threads (raw)", 64)),
    "Client, 64 threads": ("urllib3 PoolManager (raw), 64 threads",
                           _sync_runner("dynclient Client, 64 threads (validated)", 64)),
    "json.dumps request": (None, _alone("json.dumps request")),
    "json.loads answer": (None, _alone("json.loads answer")),
    "validate request (jsonschema-rs)": (None, _alone("validate request (jsonschema-rs)")),
    "validate answer (jsonschema-rs)": (None, _alone("validate answer (jsonschema-rs)")),
}


def child(name: str, base: str, count: int) -> None:
    VARIANTS[name][1](base, count)


# --- the parent: two counted runs per variant ------------------------------------------------

def counted(arguments: list[str], what: str) -> int:
    """Instructions a Python child process executes, everything included: `python *arguments`, run from
    the repository under valgrind's cachegrind (`what` names it in an error). A process it forks is
    counted apart (see `counted_each`)."""
    return counted_each(arguments, what)[0]


def counted_each(arguments: list[str], what: str) -> list[int]:
    """As `counted`, for the process and then each process it forked, in the order they started (a forked
    process's count includes its parent's up to the fork)."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, *arguments]
    done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True, timeout=3600)
    pids = list(dict.fromkeys(int(pid) for pid in re.findall(r"^==(\d+)==", done.stderr, re.M)))
    found = {int(pid): int(count.replace(",", ""))
             for pid, count in re.findall(r"^==(\d+)==\s+I\s+refs:\s+([\d,]+)", done.stderr, re.M)}
    if done.returncode or not pids or pids[0] not in found:
        raise RuntimeError(f"{what}: valgrind run failed:\n{done.stderr[-3000:]}")
    return [found[pid] for pid in pids if pid in found]


def instructions(name: str, base: str, count: int) -> int:
    """Instructions the client process executes for `count` calls of a variant (everything included)."""
    return counted(["-m", "benchmarks.bench_percall", "--child", name, "--base", base, "--count", str(count)], name)


def measure(names: list[str], base: str, warm: int, calls: int) -> dict[str, float]:
    per_call = {}
    for name in names:
        started = time.perf_counter()
        low, high = instructions(name, base, warm), instructions(name, base, warm + calls)
        per_call[name] = (high - low) / calls
        print(f"{name}: {per_call[name]:,.0f} instructions a call ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr)
    return per_call


def table(per_call: dict[str, float]) -> list[str]:
    lines = ["| variant | instructions a call | / its raw transport | raw / it (the wall-clock ceiling) |",
             "|---|---:|---:|---:|"]
    for name, value in per_call.items():
        baseline = VARIANTS[name][0]
        ratio, ceiling = "", ""
        if baseline in per_call:
            ratio = f"{value / per_call[baseline]:.2f}×"
            ceiling = f"{per_call[baseline] / value:.2f}×"
        lines.append(f"| {name} | {value:,.0f} | {ratio} | {ceiling} |")
    return lines


def floor(per_call: dict[str, float]) -> list[str]:
    """What validation alone adds to each raw transport: the best ratio any validating client could reach."""
    parts = ("validate request (jsonschema-rs)", "validate answer (jsonschema-rs)")
    if not all(part in per_call for part in parts):
        return []
    validation = sum(per_call[part] for part in parts)
    lines = []
    for raw, mine in (("aiohttp (raw), 64 in flight", "AsyncClient, 64 in flight"),
                      ("urllib3 PoolManager (raw), 64 threads", "Client, 64 threads")):
        if raw in per_call:
            best = per_call[raw] + validation
            lines.append(f"- {raw}: {per_call[raw]:,.0f} + validation {validation:,.0f} = {best:,.0f} instructions, "
                         f"a ceiling of {per_call[raw] / best:.2f}× for any client that validates both ways"
                         + (f"; {mine}: {per_call[mine] - best:+,.0f} beyond it" if mine in per_call else ""))
    return ["", "The floor of a validating client (raw transport + jsonschema-rs on the request and the answer):",
            *lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls counted per variant")
    parser.add_argument("--warm", type=int, default=200, help="calls before them (pools, validators, caches)")
    parser.add_argument("--only", nargs="*", help="these variants (default: all)")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section 'Instructions per call' of this Markdown file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.base, args.count)
        return 0
    names = args.only or list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")
    from .run import LoopbackServer
    started = time.perf_counter()
    with LoopbackServer() as base:
        per_call = measure(names, base, args.warm, args.calls)
    lines = [f"`python -m benchmarks.bench_percall --calls {args.calls} --warm {args.warm}`, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: instructions the client process executes "
             f"per {OPERATION} call (valgrind cachegrind, two runs per variant differenced; Python "
             f"{sys.version.split()[0]}, {os.cpu_count()} cores). Between runs a figure moves by up to 2% "
             f"(how many answers the event loop or the threads take per wake-up varies), not by 10-20% as "
             f"calls/s do here.", "", *table(per_call),
             *floor(per_call), "", f"({time.perf_counter() - started:.0f} s in all)"]
    from .run import publish
    publish(lines, args.output, "Instructions per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
