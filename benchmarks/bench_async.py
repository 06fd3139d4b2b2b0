"""Many calls in flight: the async transports measured for AsyncClient, and the sync client under threads.

    python -m benchmarks.bench_async [--calls 5000] [--rounds 5] [--quick] [--memory]

Every variant sends the same createChatCompletion request (benchmarks/payloads.py) to the same
loopback server (benchmarks/server.py, its own process), `--calls` of them with 64 in flight, and
reads and decodes the answer; each answer's id is checked, so a broken variant fails instead of
looking fast. Variants run one after the other within a round, rounds are interleaved, and the
median of the rounds is reported, with ratios to AsyncOpenAI and to the fastest raw async
transport, all from this one run, and each client's ratio to its transport round by round. Each
variant makes `--concurrency` calls before it is timed (connections opened, validators compiled).

- raw transports, no validation: aiohttp (with its default timeouts; with the client's: 5 s
  connect, 600 s between reads, 900 s in all; and with orjson encoding the request, as the client
  does), httpx, and (if installed) urllib3-future's
  AsyncPoolManager; urllib3 PoolManager and its origin pool under 64 threads, and the PoolManager
  with the client's default timeouts (5 s connect, 600 s read);
- dynclient: AsyncClient, and Client shared by 64 threads, validating requests and responses (and
  Client with no timeouts, to compare like for like with raw urllib3, which sets none);
- the reference: openai-python's AsyncOpenAI (`max_retries=0`).

`--memory` also runs 10,000 AsyncClient calls at 256 in flight in a fresh process and reports its
RSS growth. `--isolated` also measures raw aiohttp (three ways) and AsyncClient each in a fresh
process every round (each child loads the document first, so that all start from the same
process state: see `child`). `--bursts N` also runs raw aiohttp and AsyncClient in one fresh process,
N pairs of bursts of `--calls` calls back to back (ABBA), then raw urllib3 and Client on 64 threads the
same way, and gives the median of the pairs' ratios of each: on
a machine whose speed drifts by 20% within seconds, the figure least moved by the drift. A variant
whose package is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable

import urllib3

import dynclient
from dynclient.core.policy import DEFAULT_TIMEOUT, Timeout

from .payloads import CHAT_REQUEST, CHAT_RESPONSE
from .run import LoopbackServer, abba

HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
BODY = json.dumps(CHAT_REQUEST).encode()
EXPECTED = CHAT_RESPONSE["id"]
ROUTE = "/chat/completions"


def check(answer: Any, name: str) -> None:
    if not isinstance(answer, dict) or answer.get("id") != EXPECTED:
        raise AssertionError(f"{name}: wrong answer {str(answer)[:120]}")


# --- async variants: each a coroutine factory `setup(base) -> (call, close)` ---------------------

async def in_flight(call: Callable[[], Awaitable[Any]], calls: int, concurrency: int, name: str) -> float:
    """Calls per second for `calls` calls, `concurrency` at a time (workers pulling from a counter)."""
    remaining = [calls]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            check(await call(), name)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return calls / (time.perf_counter() - started)


async def aiohttp_variant(base: str, timeout: Any = None):
    import aiohttp
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64),
                                    **({"timeout": timeout} if timeout is not None else {}))
    url = base + ROUTE

    async def call():
        async with session.post(url, data=json.dumps(CHAT_REQUEST).encode(), headers=HEADERS) as response:
            return json.loads(await response.read())
    return call, session.close


async def aiohttp_timed_variant(base: str):
    """Raw aiohttp bounded as AsyncClient bounds a call (5 s connect, 600 s between reads, 900 s in
    all); aiohttp's own default is 300 s in all and 30 s to connect."""
    import aiohttp
    return await aiohttp_variant(base, aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT.total,
                                                             sock_connect=DEFAULT_TIMEOUT.connect,
                                                             sock_read=DEFAULT_TIMEOUT.read))


async def aiohttp_orjson_variant(base: str):
    """Raw aiohttp with orjson encoding the request, as AsyncClient does (and json decoding the answer,
    as AsyncClient does: orjson would read an integer beyond 64 bits as a float)."""
    import aiohttp
    import orjson
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
    url = base + ROUTE

    async def call():
        async with session.post(url, data=orjson.dumps(CHAT_REQUEST), headers=HEADERS) as response:
            return json.loads(await response.read())
    return call, session.close


async def httpx_variant(base: str):
    import httpx
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    url = base + ROUTE

    async def call():
        response = await client.post(url, content=json.dumps(CHAT_REQUEST).encode(), headers=HEADERS)
        return json.loads(response.content)
    return call, client.aclose


async def urllib3_future_variant(base: str):
    from urllib3 import AsyncPoolManager   # only urllib3-future has it
    pool = AsyncPoolManager(maxsize=64)
    url = base + ROUTE

    async def call():
        response = await pool.urlopen("POST", url, body=json.dumps(CHAT_REQUEST).encode(), headers=HEADERS)
        return json.loads(await response.data)
    return call, pool.clear


async def openai_variant(base: str):
    import openai
    client = openai.AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0)

    async def call():
        completion = await client.chat.completions.create(**CHAT_REQUEST)
        return {"id": completion.id}
    return call, client.close


_SPECS: dict[str, dynclient.Spec] = {}


def spec() -> dynclient.Spec:
    """The document, loaded once a process, as a program loads it (a client made by name loads its own
    Spec and compiles its own validators: a round each would leave the last round's in the heap)."""
    if "openai" not in _SPECS:
        _SPECS["openai"] = dynclient.Spec("openai@2025-04-29")
    return _SPECS["openai"]


async def dynclient_variant(base: str):
    client = dynclient.AsyncClient(spec(), base_url=base, api_key="sk-bench", max_connections=64)

    async def call():
        return await client.call("createChatCompletion", CHAT_REQUEST)
    return call, client.aclose


# In this order within a round: AsyncClient right after raw aiohttp, so that the two a ratio compares run
# seconds apart (not with httpx and AsyncOpenAI, 25 s of them, in between).
ASYNC_VARIANTS = {
    "aiohttp (raw)": ("aiohttp", aiohttp_variant),
    "dynclient AsyncClient (validated)": ("aiohttp", dynclient_variant),
    "aiohttp, the client's timeouts (raw)": ("aiohttp", aiohttp_timed_variant),
    "aiohttp, orjson encoding (raw)": ("orjson", aiohttp_orjson_variant),
    "httpx (raw)": ("httpx", httpx_variant),
    "urllib3-future AsyncPoolManager (raw)": ("urllib3", urllib3_future_variant),
    "openai AsyncOpenAI": ("openai", openai_variant),
}


# --- sync variants under threads -------------------------------------------------------------

def threaded(call: Callable[[], Any], calls: int, threads: int, name: str) -> float:
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        for answer in pool.map(lambda _: call(), range(calls)):
            check(answer, name)
        return calls / (time.perf_counter() - started)


def sync_variants(base: str) -> dict[str, Callable[[], Any]]:
    url = base + ROUTE
    manager = urllib3.PoolManager(maxsize=64)
    origin = manager.connection_from_url(url)
    target = urllib3.util.parse_url(url).request_uri
    client = dynclient.Client(spec(), base_url=base, api_key="sk-bench", pool_maxsize=64)
    # Like for like: raw urllib3 with the client's default timeouts, and the client with none (a socket
    # with a timeout polls before each send and receive, one more place to hand over the GIL).
    timed = urllib3.PoolManager(maxsize=64, timeout=urllib3.Timeout(connect=DEFAULT_TIMEOUT.connect,
                                                                   read=DEFAULT_TIMEOUT.read))
    untimed = dynclient.Client(spec(), base_url=base, api_key="sk-bench", pool_maxsize=64,
                               timeout=Timeout(None, None, None))
    return {
        "urllib3 PoolManager, 64 threads (raw)":
            lambda: json.loads(manager.request("POST", url, body=json.dumps(CHAT_REQUEST).encode(),
                                               headers=HEADERS).data),
        "urllib3 PoolManager, 64 threads, the client's timeouts (raw)":
            lambda: json.loads(timed.request("POST", url, body=json.dumps(CHAT_REQUEST).encode(),
                                             headers=HEADERS).data),
        "dynclient Client, 64 threads, no timeouts (validated)":
            lambda: untimed.call("createChatCompletion", CHAT_REQUEST),
        "urllib3 origin pool, 64 threads (raw)":
            lambda: json.loads(origin.urlopen("POST", target, body=json.dumps(CHAT_REQUEST).encode(),
                                              headers=HEADERS).data),
        "dynclient Client, 64 threads (validated)": lambda: client.call("createChatCompletion", CHAT_REQUEST),
    }


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    if module == "urllib3":
        return hasattr(urllib3, "AsyncPoolManager")
    return True


# --- the run -----------------------------------------------------------------------------------

def measure(base: str, calls: int, rounds: int, concurrency: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    asyncs = {name: factory for name, (module, factory) in ASYNC_VARIANTS.items() if available(module)}
    for name, (module, _) in ASYNC_VARIANTS.items():
        if name not in asyncs:
            print(f"skipped {name}: {module} is not installed", file=sys.stderr)
    syncs = sync_variants(base)

    async def one_round(warm: bool) -> None:
        for name, factory in asyncs.items():
            call, close = await factory(base)
            try:
                # each variant's connections opened (and, for a client, its validators compiled) first:
                # what is timed is the steady state of every one of them alike
                await in_flight(call, concurrency, concurrency, name)
                rate = await in_flight(call, 200 if warm else calls, concurrency, name)
            finally:
                await close()
            if not warm:
                results.setdefault(name, []).append(rate)

    asyncio.run(one_round(warm=True))
    for call in syncs.values():
        threaded(call, 200, concurrency, "warm-up")
    for _ in range(rounds):
        asyncio.run(one_round(warm=False))
        for name, call in syncs.items():
            results.setdefault(name, []).append(threaded(call, calls, concurrency, name))
    return results


MEMORY_PROGRAM = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
import dynclient
from benchmarks.payloads import CHAT_REQUEST

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

async def main():
    async with dynclient.AsyncClient("openai@2025-04-29", base_url={base!r}, api_key="sk-bench",
                                     max_connections=256) as client:
        semaphore = asyncio.Semaphore(256)
        async def one():
            async with semaphore:
                return await client.call("createChatCompletion", CHAT_REQUEST)
        await asyncio.gather(*[one() for _ in range(500)])   # warm: pools, validators, caches
        before = rss_kb()
        answers = await asyncio.gather(*[one() for _ in range({calls})])
        assert all(a["id"] == {expected!r} for a in answers)
        print(json.dumps({{"before_kb": before, "after_kb": rss_kb()}}))

asyncio.run(main())
"""


def memory_growth(base: str, calls: int) -> dict:
    program = MEMORY_PROGRAM.format(root=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    base=base, calls=calls, expected=EXPECTED)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- each in a process of its own ---------------------------------------------------------------

ISOLATED = ("aiohttp (raw)", "aiohttp, the client's timeouts (raw)", "aiohttp, orjson encoding (raw)",
            "dynclient AsyncClient (validated)")


def child(name: str, base: str, calls: int, concurrency: int) -> None:
    """One variant in this fresh process: warmed, timed; its calls/s printed. Every child loads the
    document first, the raw ones too, so that all start from the same process state: in a process
    that has not, glibc's malloc hands aiohttp's read buffer out by mmap and back by munmap on every
    call (strace: an mmap, an mremap and a munmap per call), and raw aiohttp makes 7,956 calls/s
    where, the document loaded, it makes 9,322 (one run here)."""
    spec()

    async def go() -> float:
        call, close = await ASYNC_VARIANTS[name][1](base)
        try:
            await in_flight(call, concurrency, concurrency, name)
            return await in_flight(call, calls, concurrency, name)
        finally:
            await close()
    print(asyncio.run(go()))


def isolated(base: str, calls: int, rounds: int, concurrency: int) -> dict[str, list[float]]:
    """ISOLATED's variants, each round each in a fresh process (nothing another variant left behind in
    the heap, the allocator or the loop), rounds interleaved."""
    results: dict[str, list[float]] = {}
    names = [name for name in ISOLATED if available(ASYNC_VARIANTS[name][0])]
    for _ in range(rounds):
        for name in names:
            done = subprocess.run([sys.executable, "-m", "benchmarks.bench_async", "--child", name, "--base", base,
                                   "--calls", str(calls), "--concurrency", str(concurrency)],
                                  cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  capture_output=True, text=True, timeout=600)
            if done.returncode:
                raise RuntimeError(f"{name}: {done.stderr[-2000:]}")
            results.setdefault(name, []).append(float(done.stdout.strip().splitlines()[-1]))
    return results


BURST_PAIR = ("aiohttp (raw)", "dynclient AsyncClient (validated)")
THREAD_BURST_PAIR = ("urllib3 PoolManager, 64 threads (raw)", "dynclient Client, 64 threads (validated)")


def bursts_child(base: str, calls: int, pairs: int, concurrency: int) -> None:
    """BURST_PAIR, then THREAD_BURST_PAIR, in this fresh process (the document loaded first, as in
    `child`): `pairs` pairs of bursts of `calls` calls each; prints the pairs' rates as JSON."""
    spec()

    async def go() -> list[list[float]]:
        made = {name: await ASYNC_VARIANTS[name][1](base) for name in BURST_PAIR}
        try:
            for name, (call, _) in made.items():
                await in_flight(call, concurrency * 4, concurrency, name)   # warm
            rates = []
            for order in abba(BURST_PAIR, pairs):
                got = {name: await in_flight(made[name][0], calls, concurrency, name) for name in order}
                rates.append([got[name] for name in BURST_PAIR])
            return rates
        finally:
            for _, close in made.values():
                await close()
    in_loop = asyncio.run(go())
    syncs = sync_variants(base)
    for name in THREAD_BURST_PAIR:
        threaded(syncs[name], concurrency * 4, 64, name)   # warm
    on_threads = []
    for order in abba(THREAD_BURST_PAIR, pairs):
        got = {name: threaded(syncs[name], calls, 64, name) for name in order}
        on_threads.append([got[name] for name in THREAD_BURST_PAIR])
    print(json.dumps({"async": in_loop, "threads": on_threads}))


def bursts(base: str, calls: int, pairs: int, concurrency: int) -> list[str]:
    """The paired-burst figures, burst pair by burst pair in one process: AsyncClient over raw aiohttp,
    and Client over raw urllib3 on 64 threads."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_async", "--bursts-child", "--base", base,
                           "--calls", str(calls), "--pairs", str(pairs), "--concurrency", str(concurrency)],
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"bursts: {done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    lines = [""]
    for (raw_name, client_name), rates, what in ((BURST_PAIR, found["async"], f"{concurrency} in flight"),
                                                 (THREAD_BURST_PAIR, found["threads"], "64 threads")):
        ratios = sorted(client / raw for raw, client in rates)
        quartiles = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) >= 2 else [ratios[0]] * 3
        lines.append(f"- {client_name} against {raw_name} in one fresh process (the document loaded first), "
                     f"{pairs} pairs of bursts of {calls} calls back to back, ABBA order, {what}: raw "
                     f"{statistics.median(r[0] for r in rates):,.0f} calls/s, client "
                     f"{statistics.median(r[1] for r in rates):,.0f} (medians); pair by pair the ratio's median "
                     f"is **{statistics.median(ratios):.2f}×** (quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}, "
                     f"lowest {ratios[0]:.2f}, highest {ratios[-1]:.2f}).")
    return lines


PAIRS = (("dynclient AsyncClient (validated)", "aiohttp (raw)"),
         ("dynclient AsyncClient (validated)", "aiohttp, the client's timeouts (raw)"),
         ("dynclient AsyncClient (validated)", "aiohttp, orjson encoding (raw)"),
         ("dynclient Client, 64 threads (validated)", "urllib3 PoolManager, 64 threads (raw)"),
         ("dynclient Client, 64 threads (validated)", "urllib3 PoolManager, 64 threads, the client's timeouts (raw)"))


def paired(results: dict[str, list[float]]) -> list[str]:
    """Each client against its transport round by round (the two ran seconds apart, so a round's ratio
    is spared most of the machine's drift between rounds), and the median of those ratios."""
    lines = []
    for mine, raw in PAIRS:
        if mine in results and raw in results:
            ratios = [a / b for a, b in zip(results[mine], results[raw])]
            lines.append(f"- {mine} / {raw}, round by round: {', '.join(f'{r:.2f}' for r in ratios)}; "
                         f"median **{statistics.median(ratios):.2f}×**")
    return ["", *lines] if lines else []


def table(results: dict[str, list[float]]) -> list[str]:
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    reference = medians.get("openai AsyncOpenAI")
    raw_async = [medians[n] for n in medians if n.endswith("(raw)") and "threads" not in n]
    fastest = max(raw_async) if raw_async else None
    threads_floor = medians.get("urllib3 PoolManager, 64 threads (raw)")
    lines = ["| variant | calls/s (median) | rounds | / AsyncOpenAI | / fastest raw async | / urllib3 64 threads |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, value in medians.items():
        ratio = lambda base: f"{value / base:.2f}×" if base else ""
        lines.append(f"| {name} | {value:,.0f} | {len(results[name])} | {ratio(reference)} | {ratio(fastest)} | "
                     f"{ratio(threads_floor)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="500 calls, 2 rounds: keeps the script from rotting")
    parser.add_argument("--memory", action="store_true", help="also 10,000 AsyncClient calls at 256 in flight")
    parser.add_argument("--isolated", action="store_true",
                        help="also raw aiohttp and AsyncClient each in a process of its own, rounds interleaved")
    parser.add_argument("--bursts", type=int, default=0, metavar="PAIRS",
                        help="also raw aiohttp and AsyncClient, then raw urllib3 and Client on 64 threads, in "
                             "alternating bursts of --calls calls, PAIRS pairs each, in one process of their own")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section 'Many calls' of this Markdown file (benchmarks/RESULTS.md)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--bursts-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.base, args.calls, args.concurrency)
        return 0
    if args.bursts_child:
        bursts_child(args.base, args.calls, args.pairs, args.concurrency)
        return 0
    calls, rounds = (500, 2) if args.quick else (args.calls, args.rounds)
    started = time.perf_counter()
    with LoopbackServer() as base:
        results = measure(base, calls, rounds, args.concurrency)
        lines = [f"`python -m benchmarks.bench_async --calls {calls} --rounds {rounds}"
                 f"{' --memory' if args.memory else ''}{' --isolated' if args.isolated else ''}"
                 f"{f' --bursts {args.bursts}' if args.bursts else ''}`, "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
                 f"{calls} createChatCompletion calls with {args.concurrency} in flight, median of {rounds} rounds "
                 f"(machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}).", "", *table(results),
                 *paired(results)]
        if args.isolated:
            alone = isolated(base, calls, rounds, args.concurrency)
            lines += ["", f"The same calls, each variant in a fresh process of its own every round (nothing another "
                          f"variant left behind in the loop; each process loads the document first, so that malloc "
                          f"starts from the same state in all), {rounds} rounds interleaved:",
                      "", *table(alone), *paired(alone)]
        if args.bursts:
            lines += bursts(base, calls, 2 if args.quick else args.bursts, args.concurrency)
        if args.memory:
            grown = memory_growth(base, 10_000)
            lines += ["", f"AsyncClient, 10,000 calls at 256 in flight: RSS {grown['before_kb'] / 1024:.1f} MB -> "
                          f"{grown['after_kb'] / 1024:.1f} MB (+{(grown['after_kb'] - grown['before_kb']) / 1024:.1f} MB)."]
    lines += ["", f"({time.perf_counter() - started:.0f} s in all)"]
    from .run import publish
    publish(lines, args.output, "Many calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
