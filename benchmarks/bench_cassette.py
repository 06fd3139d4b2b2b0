"""Cassettes (dynclient/cassette.py): what recording costs a call, and how fast a replay answers.

    python -m benchmarks.bench_cassette [--calls 2000] [--rounds 5] [SPEC]

The same createChatCompletion call (benchmarks/payloads.py), one at a time, to the loopback server
(benchmarks/server.py, its own process): (a) a plain Client, (b) a Client recording every exchange
(record_mode="all", one flushed line per call), (c) a Client replaying that cassette
(record_mode="none", no socket). Rounds interleave the three; medians of the per-round rates.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import dynclient

from .payloads import CHAT_REQUEST, CHAT_RESPONSE
from .run import LoopbackServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="openai@2025-04-29")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    spec = dynclient.Spec(args.spec)
    rates: dict[str, list[float]] = {"plain": [], "recording": [], "replaying": []}
    with LoopbackServer() as base, tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            cassette = Path(tmp) / f"round{round_number}.jsonl"
            clients = {
                "plain": lambda: dynclient.Client(spec, base_url=base, api_key="sk-bench"),
                "recording": lambda: dynclient.Client(spec, base_url=base, api_key="sk-bench", cassette=cassette,
                                                      record_mode="all"),
                "replaying": lambda: dynclient.Client(spec, base_url="http://127.0.0.1:9/v1", api_key="sk-bench",
                                                      cassette=cassette, record_mode="none"),
            }
            for name, make in clients.items():   # replaying reads what this round recorded: in this order
                client = make()
                started = time.perf_counter()
                for _ in range(args.calls):
                    assert client.call("createChatCompletion", CHAT_REQUEST)["id"] == CHAT_RESPONSE["id"]
                rates[name].append(args.calls / (time.perf_counter() - started))
                client.close()
            size = cassette.stat().st_size
    plain = statistics.median(rates["plain"])
    print(f"{args.calls} createChatCompletion calls, one at a time, medians of {args.rounds} interleaved rounds:")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"  {name:10} {rate:8,.0f} calls/s  {rate / plain:5.2f}x plain")
    print(f"  cassette: {size / args.calls:,.0f} bytes a call")


if __name__ == "__main__":
    main()
