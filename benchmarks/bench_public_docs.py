"""Public documents beyond OpenAI's (GitHub, Stripe, Twilio, Kubernetes): how long each takes to
load, and how many of its operations a generated valid request calls successfully against the
project's own mock.

    python -m benchmarks.bench_public_docs [--seconds 120] [--loads 5] [--output FILE] PATH ...

The documents are not in the repository (they are others' work); give their paths. A path that does
not exist is reported as not measured, and with no path at all the script says so and exits 0.

For each document:
1. Size, operations, and `Spec(path)` (load, then the operation index) timed in a fresh process:
   cold (an empty cache directory) and warm (the cache entry the cold load wrote). `--loads` rounds,
   the documents taken in turn in each round; the medians are reported.
2. Calls: in a fresh process, the mock (`MockServer(spec, require_auth=False)`) and a `Client` on it
   (strict response validation, no retries, 10 s per call). Each operation is called once in the
   document's order with a generated valid request: the required parameters and the smallest valid
   body of the first media type (`dynclient.testing.synth`, as benchmarks/corpus_prepare.py makes
   them), or, where synthesis cannot make one, a value of the hypothesis strategies
   (`dynclient.testing.strategies`). The calls stop at `--seconds` (the time box); the process is
   killed 60 s after it. Every outcome falls in one class:

   ok                         the answer came back and matched the document
   no request generated       neither synthesis nor the strategies made a valid request
   schema not compiled        the client cannot compile a schema the call needs
   client refused             the client refused the generated request (bind, validate, encode)
   mock 404, never created    the mock keeps objects and this one was never created (expected)
   mock 4xx / mock 5xx        the mock refused the request, or could not make a valid answer
   answer invalid             the answer does not match the document (ResponseValidationError)
   timeout / connection       the call took over 10 s, or the connection failed
   not a DynclientError       anything else raised: a bug wherever it is
   not reached (time box)     the time box ran out first
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CALL_TIMEOUT = 10.0
EXAMPLES_PER_CLASS = 3
CLASSES = ("ok", "no request generated", "schema not compiled", "client refused", "mock 404, never created",
           "mock 4xx", "mock 5xx", "answer invalid", "timeout", "connection", "not a DynclientError",
           "not reached (time box)")

LOAD_CHILD = r"""
import json, sys, time
import dynclient
started = time.perf_counter()
spec = dynclient.Spec(sys.argv[1], cache=sys.argv[2])
operations = len(spec)
print(json.dumps({"seconds": time.perf_counter() - started, "operations": operations,
                  "openapi": spec.document.data.get("openapi"), "repairs": len(spec.repairs)}))
"""


def load_once(path: Path, cache: str) -> dict:
    done = subprocess.run([sys.executable, "-c", LOAD_CHILD, str(path), cache], capture_output=True, text=True,
                          timeout=600)
    if done.returncode:
        raise RuntimeError(f"{path.name}: loading failed: {done.stderr.strip()[-1000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_times(paths: list[Path], rounds: int) -> dict[Path, dict]:
    """Cold and warm loads of every document, `rounds` times, the documents in turn in each round."""
    found: dict[Path, dict] = {path: {"cold": [], "warm": []} for path in paths}
    for _ in range(rounds):
        for path in paths:
            with tempfile.TemporaryDirectory() as cache:
                cold = load_once(path, cache)
                warm = load_once(path, cache)
            found[path]["cold"].append(cold["seconds"])
            found[path]["warm"].append(warm["seconds"])
            found[path].update(operations=cold["operations"], openapi=cold["openapi"], repairs=cold["repairs"])
    return found


# --- the calls (run in a child process: python -m benchmarks.bench_public_docs --calls-of PATH) ------------


def drawn(strategy):
    """One value of a hypothesis strategy, outside a test."""
    from hypothesis import HealthCheck, given, settings
    found = []

    @settings(max_examples=1, deadline=None, database=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(value):
        found.append(value)
    draw()
    return found[0]


def generated_request(client, op) -> tuple[dict, object]:
    """(parameters, body) of a valid request: synthesized, else drawn from the strategies."""
    from dynclient.core.call import MISSING
    from dynclient.testing import strategies
    from dynclient.testing.synth import SynthesisError

    from .corpus_prepare import arguments
    try:
        return arguments(client, op)
    except SynthesisError:
        params = drawn(strategies.parameters(client, op.operation_id, required_only=True))
        body = drawn(strategies.request_body(client, op.operation_id)) \
            if op.request_body and op.request_body.content else MISSING
        return params, body


def outcome(client, op) -> tuple[str, str]:
    """The class of one call's outcome, and what was said."""
    import dynclient
    try:
        params, body = generated_request(client, op)
    except dynclient.SchemaCompileError as exc:
        return "schema not compiled", str(exc)
    except Exception as exc:   # SynthesisError, or hypothesis giving up (Unsatisfiable and the like)
        return "no request generated", f"{type(exc).__name__}: {exc}"
    try:
        client.call(op.operation_id, body, params=params)
        return "ok", ""
    except dynclient.SchemaCompileError as exc:
        return "schema not compiled", str(exc)
    except dynclient.RequestError as exc:
        return "client refused", f"{type(exc).__name__}: {exc}"
    except dynclient.APIStatusError as exc:
        if exc.status == 404 and "No object with id" in str(exc):
            return "mock 404, never created", str(exc)
        return ("mock 5xx" if exc.status >= 500 else "mock 4xx"), f"{exc.status}: {exc}"
    except dynclient.ResponseValidationError as exc:
        return "answer invalid", str(exc)
    except dynclient.APITimeoutError as exc:
        return "timeout", str(exc)
    except dynclient.APIConnectionError as exc:
        return "connection", f"{type(exc).__name__}: {exc}"
    except Exception as exc:   # a DynclientError of another kind, or anything else: both worth a look
        return "not a DynclientError" if not isinstance(exc, dynclient.DynclientError) else "client refused", \
            f"{type(exc).__name__}: {exc}"


def call_every_operation(path: str, seconds: float) -> dict:
    import logging

    import dynclient
    from dynclient.testing.mock import MockServer
    logging.getLogger("dynclient").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as cache:
        spec = dynclient.Spec(path, cache=cache)
    counts: collections.Counter = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    started = time.perf_counter()
    deadline = time.monotonic() + seconds
    with MockServer(spec, require_auth=False) as mock:
        client = dynclient.Client(spec, base_url=mock.base_url, timeout=CALL_TIMEOUT, max_retries=0,
                                  api_key="sk-bench")
        for op in spec:
            kind, said = outcome(client, op) if time.monotonic() < deadline else ("not reached (time box)", "")
            counts[kind] += 1
            if said and len(examples[kind]) < EXAMPLES_PER_CLASS:
                examples[kind].append(f"{op.operation_id}: {said[:400]}")
    return {"counts": dict(counts), "examples": dict(examples), "seconds": time.perf_counter() - started}


def calls(path: Path, seconds: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_public_docs", "--calls-of", str(path.resolve()),
               "--seconds", str(seconds)]   # the child runs from the repository: the path made absolute
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                              cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        return {"error": f"still running {seconds + 60:.0f} s after it began: killed"}
    if done.returncode:
        return {"error": f"the child failed: {done.stderr.strip()[-600:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report -------------------------------------------------------------------------------------------


def report_lines(paths: list[Path], absent: list[Path], loads: dict, called: dict, args: argparse.Namespace) -> list[str]:
    command = "python -m benchmarks.bench_public_docs " + (f"--seconds {args.seconds:g} " if args.seconds != 120 else "") \
        + (f"--loads {args.loads} " if args.loads != 5 else "") + " ".join(p.name for p in args.paths)
    out = [f"`{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (machine: {os.cpu_count()} cores, "
           f"Python {sys.version.split()[0]}; load times are medians of {args.loads} fresh processes, cold = empty "
           f"cache directory, warm = its entry; calls: each operation once, a generated valid request, against "
           f"`MockServer(spec, require_auth=False)`, time box {args.seconds:g} s a document).", "",
           "| document | OpenAPI | size | operations | load cold | load warm | called ok | share | calls took |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for path in paths:
        load, result = loads[path], called[path]
        counts = result.get("counts", {})
        ok = counts.get("ok", 0)
        share = "(no operation)" if not load["operations"] else f"{100 * ok / load['operations']:.0f}%" \
            if "counts" in result else f"not measured: {result.get('error', '?')}"
        took = f"{result['seconds']:.1f} s" if "seconds" in result else ""
        out.append(f"| {path.name} | {load['openapi']} | {path.stat().st_size / 1e6:.1f} MB | {load['operations']} | "
                   f"{statistics.median(load['cold']):.2f} s | {statistics.median(load['warm']):.3f} s | {ok} | {share} | "
                   f"{took} |")
    out += [f"| {path.name} | | | | | | | not measured: no such file | |" for path in absent]
    out += ["", "Outcomes of the calls (see the script's docstring for the classes):", "",
            "| document | " + " | ".join(c for c in CLASSES if c != "ok") + " |",
            "|---|" + "---:|" * (len(CLASSES) - 1)]
    for path in paths:
        counts = called[path].get("counts", {})
        out.append(f"| {path.name} | " + " | ".join(str(counts.get(c, 0)) for c in CLASSES if c != "ok") + " |")
    out += ["", "First failures of each class:", ""]
    for path in paths:
        for kind, said in called[path].get("examples", {}).items():
            for line in said:
                out.append(f"- {path.name}, {kind}: " + line.replace("\n", " ").replace("|", "\\|")[:300])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_public_docs",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="OpenAPI documents (JSON or YAML)")
    parser.add_argument("--seconds", type=float, default=120.0, help="the time box of the calls, per document")
    parser.add_argument("--loads", type=int, default=5, help="rounds of cold and warm loads")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section 'Public documents' of this Markdown file (benchmarks/RESULTS.md)")
    parser.add_argument("--calls-of", help=argparse.SUPPRESS)   # the child process of the calls
    args = parser.parse_args(argv)
    if args.calls_of:
        print(json.dumps(call_every_operation(args.calls_of, args.seconds)))
        return 0
    paths = [p for p in args.paths if p.is_file()]
    absent = [p for p in args.paths if not p.is_file()]
    for path in absent:
        print(f"not measured: {path}: no such file")
    if not paths:
        print("bench_public_docs skipped: no document given (or none of them exists). The public documents "
              "are not in the repository; pass their paths, e.g. Stripe's openapi/spec3.json, GitHub's "
              "api.github.com.json, Twilio's spec/json/twilio_api_v2010.json, Kubernetes' "
              "api/openapi-spec/v3/apis__apps__v1_openapi.json")
        return 0
    started = time.perf_counter()
    loads = load_times(paths, args.loads)
    called = {}
    for path in paths:
        called[path] = calls(path, args.seconds)
        counts = called[path].get("counts", called[path])
        print(f"{path.name}: {loads[path]['operations']} operations, load cold "
              f"{statistics.median(loads[path]['cold']):.2f} s, warm {statistics.median(loads[path]['warm']):.3f} s; "
              f"calls {counts}", flush=True)
    out = report_lines(paths, absent, loads, called, args) + ["", f"({time.perf_counter() - started:.0f} s in all)"]
    from .run import publish
    publish(out, args.output, "Public documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
