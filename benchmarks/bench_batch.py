"""The Batch workflow end to end on the mock: submit -> watch -> collect of a big input, its memory, and
how fast collect validates the answers.

    python -m benchmarks.bench_batch [--lines 100000] [--quick] [--output FILE]

`dynclient mock` runs in its own process (`--batch-seconds 0`: a batch is done when first looked at);
the workflow runs in a fresh process of its own, as `dynclient batch` does, its RSS sampled every
0.2 s and its peak (VmHWM) read at the end. The input is `--lines` createChatCompletion requests
(benchmarks/payloads.py), two parts of 50,000 at 100,000. Reported: seconds for each step, the peak
RSS of the workflow's process (the target: <= 200 MB) and of the mock's, and collect's rate in
answers per second (download, validation of every body against its response schema, results written
in input order; the target: >= 50,000 a second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .payloads import CHAT_REQUEST
from .processes import RSS_SAMPLER, status_kb

CHILD = RSS_SAMPLER + r"""
import json, sys, time
args = json.loads(sys.argv[1])
import dynclient
sample_rss(0.2)
client = dynclient.Client("openai@2025-04-29", base_url=args["base"], api_key="sk-bench")
times = {}
started = time.perf_counter()
job = client.batch.submit(args["path"], manifest=args["manifest"])
times["submit"] = time.perf_counter() - started
started = time.perf_counter()
client.batch.watch(args["manifest"], interval=0.5, progress=False)
times["watch"] = time.perf_counter() - started
started = time.perf_counter()
summary = client.batch.collect(args["manifest"], out=args["out"])
times["collect"] = time.perf_counter() - started
print(json.dumps({"times": times, "parts": len(job["parts"]), "done": summary.done, "failed": summary.failed,
                  "to_retry": summary.to_retry, "hwm_kb": rss_kb("VmHWM"), "sampled_kb": peak[0]}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 lines: keeps it from rotting")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section 'Batch jobs' of this Markdown file (benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    lines = 2000 if args.quick else args.lines
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body = json.dumps(CHAT_REQUEST)
        with open(work / "requests.jsonl", "w") as fh:
            for i in range(lines):
                fh.write(f'{{"custom_id": "req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": {body}}}\n')
        mock = subprocess.Popen([sys.executable, "-u", "-m", "dynclient.cli", "mock", "openai@2025-04-29", "--port", "0",
                                 "--batch-seconds", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = None
            deadline = time.monotonic() + 60
            while base is None and time.monotonic() < deadline:
                text = mock.stdout.readline()
                if "http://127.0.0.1:" in text:
                    base = text[text.index("http://"):].split()[0].rstrip("/")
            if base is None:
                raise RuntimeError("the mock did not say where it listens")
            child = {"base": base if base.endswith("/v1") else base + "/v1", "path": str(work / "requests.jsonl"),
                     "manifest": str(work / "job.json"), "out": str(work / "results.jsonl")}
            done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(child)], capture_output=True, text=True,
                                  timeout=3600)
            if done.returncode:
                raise RuntimeError(done.stderr[-3000:])
            result = json.loads(done.stdout.strip().splitlines()[-1])
            mock_kb = status_kb("VmHWM", mock.pid)
        finally:
            mock.terminate()
            mock.wait(timeout=30)
        written = sum(1 for _ in open(work / "results.jsonl", "rb"))
    if result["done"] != lines or written != lines:
        raise AssertionError(f"{result}, {written} result lines")
    t = result["times"]
    out = [f"`python -m benchmarks.bench_batch --lines {lines}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
           f"(machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}): {lines:,} createChatCompletion "
           f"requests in {result['parts']} part(s), through the mock (`--batch-seconds 0`).", "",
           "| step | seconds |", "|---|---:|",
           f"| submit (validate every line, split, upload, create) | {t['submit']:.1f} |",
           f"| watch (the mock runs every request through its handlers) | {t['watch']:.1f} |",
           f"| collect (download, validate every answer, write in input order) | {t['collect']:.1f} |", "",
           f"- collect: {lines / t['collect']:,.0f} answers a second.",
           f"- Peak RSS of the workflow's process: {result['hwm_kb'] / 1024:.0f} MB (sampled every 0.2 s: "
           f"{result['sampled_kb'] / 1024:.0f} MB); of the mock's: {mock_kb / 1024:.0f} MB.",
           f"- {written:,} result lines, one per request.", "", f"({time.perf_counter() - started:.0f} s in all)"]
    from .run import publish
    publish(out, args.output, "Batch jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
