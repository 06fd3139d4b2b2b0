"""Every figure of issue 7, side by side, in one run: `python -m benchmarks.run [--quick]`.

Per-call rows time one call at a time against a loopback server (benchmarks/server.py, its own
process), interleaving the floor (raw urllib3 POST + json.loads of the same body) with each
variant round by round, so a machine that slows down mid-run slows every row alike. Fresh-process
rows spawn `python -c` programs (benchmarks/processes.py), also interleaved. Ratios are taken
between medians of this run only; absolute times drift on a shared machine.

Writes a Markdown table (median, p10, p90, ratio to the row's baseline) and the machine's
description to benchmarks/RESULTS.md (or --output). `--quick` runs a few hundred calls, about a
minute in all, so that CI keeps the benchmark from rotting; it asserts nothing about speed, but
every variant's answer is checked, so a broken variant fails the run instead of timing an error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import urllib3
import yaml

import dynclient
from dynclient import sources
from dynclient.schema import SchemaSet

from . import processes
from .payloads import CALLS, ROUTES, file_list

HERE = Path(__file__).resolve().parent
PRIMARY, LATEST = "openai-2025-04-29.yaml", "openai-2026-08-21.yaml"
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
PACKAGES = ("dynclient", "urllib3", "jsonschema", "jsonschema-rs", "referencing", "PyYAML", "openapi-core", "openai")


@dataclass(frozen=True)
class Settings:
    rounds: int          # interleaved rounds of per-call variants
    batch: int           # calls per variant per round
    processes: int       # runs of each fresh-process program
    slow_reps: int       # repetitions of the slow in-process rows (YAML parse, pure jsonschema on 10k)


STEPS = ("per-call", "list", "parse", "processes", "memory")
QUICK = Settings(rounds=4, batch=10, processes=3, slow_reps=2)
FULL = Settings(rounds=20, batch=50, processes=10, slow_reps=5)


@dataclass
class Row:
    label: str
    samples: list[float]            # seconds, or megabytes when unit == "MB"
    unit: str                       # µs | ms | s | MB
    baseline: str | None = None     # label of the row this one's ratio is taken against
    note: str = ""


@dataclass
class Report:
    rows: dict[str, Row] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows[row.label] = row

    def median(self, label: str) -> float | None:
        row = self.rows.get(label)
        return statistics.median(row.samples) if row and row.samples else None

    def ratio(self, label: str, baseline: str) -> float | None:
        mine, theirs = self.median(label), self.median(baseline)
        return mine / theirs if mine is not None and theirs else None


# --- timing -------------------------------------------------------------------------------


def interleaved(variants: dict[str, Callable[[], Any]], rounds: int, batch: int) -> dict[str, list[float]]:
    """Per-call times of each variant, taken in turns, `batch` calls per variant per round."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    clock = time.perf_counter
    for _ in range(rounds):
        for name, call in variants.items():
            samples = times[name]
            for _ in range(batch):
                started = clock()
                call()
                samples.append(clock() - started)
    return times


def abba(names: tuple, pairs: int) -> list[tuple]:
    """The order of two variants in each of `pairs` pairs of runs back to back: AB, BA, AB, ... (a machine
    speeding up or slowing down within a pair then favours neither)."""
    return [names if number % 2 == 0 else names[::-1] for number in range(pairs)]


def with_floor(floor: tuple[str, Callable], variants: dict[str, Callable]) -> dict[str, Callable]:
    """The floor between every variant, so each variant is timed next to it."""
    order: dict[str, Callable] = {}
    for i, (name, call) in enumerate(variants.items()):
        order[floor[0] if i == 0 else f"{floor[0]}#{i}"] = floor[1]
        order[name] = call
    return order


def merge_floor(times: dict[str, list[float]], floor: str) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for name, samples in times.items():
        merged.setdefault(name.split("#")[0] if name.startswith(floor) else name, []).extend(samples)
    return merged


class LoopbackServer:
    """benchmarks/server.py in its own process, so it never competes for our GIL."""

    def __enter__(self) -> str:
        self.routes = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(ROUTES, self.routes)
        self.routes.close()
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.server", self.routes.name],
                                        cwd=HERE.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        port = int(self.process.stdout.readline())
        return f"http://127.0.0.1:{port}/v1"

    def __exit__(self, *exc: Any) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
        os.unlink(self.routes.name)


# --- the rows -----------------------------------------------------------------------------


def per_call_rows(report: Report, settings: Settings, base_url: str, path: Path) -> None:
    spec = dynclient.Spec(path)
    client = dynclient.Client(spec, base_url=base_url, api_key="sk-bench")
    unvalidated = client.with_options(validate_requests=False, validate_responses="off")
    pure = SchemaSet(spec, fast=False)
    pool = urllib3.PoolManager()
    official = openai_client(base_url, report)
    core = openapi_core_app(spec.data)
    for operation, (route, body, answer) in CALLS.items():
        url = base_url + route
        op = spec.operations[operation]
        request_schema = pure.compiled(op.request_body.content["application/json"].pointer, "request")
        response_schema = pure.compiled(op.responses["200"].content["application/json"].pointer, "response")

        def floor(url=url, body=body):
            return json.loads(pool.request("POST", url, body=json.dumps(body).encode(), headers=HEADERS).data)

        origin_pool = pool.connection_from_url(url)
        target = urllib3.util.parse_url(url).request_uri

        def floor_pool(target=target, body=body, origin_pool=origin_pool):
            """The same request on the origin's connection pool, as dynclient's transport sends it: the
            floor without PoolManager's per-request URL parsing and pool lookup."""
            return json.loads(origin_pool.urlopen("POST", target, body=json.dumps(body).encode(), headers=HEADERS).data)

        def pure_jsonschema(url=url, body=body, request_schema=request_schema, response_schema=response_schema):
            if request_schema.violation(body) is not None:
                raise AssertionError("jsonschema rejects the benchmark's request")
            value = floor(url, body)
            if response_schema.violation(value) is not None:
                raise AssertionError("jsonschema rejects the benchmark's response")
            return value

        variants: dict[str, Callable] = {
            f"raw urllib3 on the origin's HTTPConnectionPool + json.loads: {operation}": floor_pool,
            f"dynclient, validation on: {operation}": lambda operation=operation, body=body: client.call(operation, body),
            f"dynclient, validation off: {operation}": lambda operation=operation, body=body: unvalidated.call(operation, body),
            f"urllib3 + pure jsonschema (request + response): {operation}": pure_jsonschema,
        }
        if official is not None:
            create = official.chat.completions.create if operation == "createChatCompletion" \
                else official.beta.assistants.create
            variants[f"official openai package: {operation}"] = lambda create=create, body=body: quiet(create, body)
        if core is not None:
            variants[f"openapi-core validate_request + validate_response + urllib3: {operation}"] = \
                openapi_core_call(core, pool, url, route, body)
        floor_label = f"raw urllib3 POST + json.loads: {operation}"
        variants = {name: call for name, call in variants.items() if check_answer(report, name, call, answer)}
        for call in (floor, *variants.values()):
            for _ in range(20):   # warm pools, caches and lazily built validators
                call()
        times = merge_floor(interleaved(with_floor((floor_label, floor), variants), settings.rounds, settings.batch),
                            floor_label)
        report.add(Row(floor_label, times.pop(floor_label), "µs"))
        for name, samples in times.items():
            report.add(Row(name, samples, "µs", floor_label))


def check_answer(report: Report, name: str, call: Callable, answer: dict) -> bool:
    """Run a variant once; a wrong answer fails the run, a refusal by openapi-core is a finding."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001
        if name.startswith("openapi-core"):
            report.notes.append(f"{name}: not timed, openapi-core refuses the call "
                                f"({type(exc).__name__}: {str(exc.__cause__ or exc).splitlines()[0][:120]})")
            return False
        raise
    got = result.get("id") if isinstance(result, dict) else getattr(result, "id", None)
    if got != answer["id"]:
        raise AssertionError(f"{name}: unexpected answer {str(result)[:200]}")
    return True


def quiet(create: Callable, body: dict) -> Any:
    with warnings.catch_warnings():   # the Assistants API is deprecated; the call still is what we time
        warnings.simplefilter("ignore", DeprecationWarning)
        return create(**body)


def openai_client(base_url: str, report: Report) -> Any:
    try:
        import openai
    except ImportError:
        report.notes.append("official openai package: not installed, rows skipped "
                            "(pip install -e '.[bench]' installs it)")
        return None
    return openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)


def openapi_core_app(data: dict) -> Any:
    from openapi_core import Config, OpenAPI
    return OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))


def openapi_core_call(app: Any, pool: urllib3.PoolManager, url: str, route: str, body: dict) -> Callable:
    from openapi_core.testing import MockRequest, MockResponse

    def call():
        data = json.dumps(body).encode()
        request = MockRequest("https://api.openai.com", "post", "/v1" + route, data=data,
                              headers={"Authorization": "Bearer sk-bench"}, content_type="application/json")
        app.validate_request(request)
        response = pool.request("POST", url, body=data, headers=HEADERS)
        app.validate_response(request, MockResponse(response.data, status_code=response.status,
                                                    content_type="application/json"))
        return json.loads(response.data)

    return call


def list_rows(report: Report, settings: Settings, path: Path) -> None:
    """Validating one 10,000-item listFiles response, next to json.loads of its bytes."""
    spec = dynclient.Spec(path)
    pointer = spec.operations["listFiles"].responses["200"].content["application/json"].pointer
    body = file_list(10_000)
    raw = json.dumps(body).encode()
    fast = SchemaSet(spec).compiled(pointer, "response")
    pure = SchemaSet(spec, fast=False).compiled(pointer, "response")
    if fast.violation(body) is not None or pure.violation(body) is not None:
        raise AssertionError("the 10,000-item listFiles page does not validate")

    def must_pass(schema):
        return lambda: schema.violation(body)

    label = "json.loads of a 10,000-item listFiles response (1 MB)"
    times = interleaved({label: lambda: json.loads(raw), "dynclient: validate a 10,000-item listFiles response":
                         must_pass(fast)}, settings.rounds * 2, 5)
    report.add(Row(label, times[label], "ms"))
    report.add(Row("dynclient: validate a 10,000-item listFiles response",
                   times["dynclient: validate a 10,000-item listFiles response"], "ms", label))
    slow = interleaved({"pure jsonschema: validate a 10,000-item listFiles response": must_pass(pure)},
                       settings.slow_reps, 1)
    for name, samples in slow.items():
        report.add(Row(name, samples, "ms", label))


def parse_rows(report: Report, settings: Settings, path: Path) -> None:
    raw = path.read_bytes()
    as_json = json.dumps(dynclient.load(path, cache=False).data).encode()   # CSafeLoader makes dates
    yaml_label = f"PyYAML CSafeLoader parse of {path.name} ({len(raw) / 1e6:.1f} MB)"
    times = interleaved({yaml_label: lambda: yaml.load(raw, Loader=yaml.CSafeLoader),
                         f"json.loads of the same document ({len(as_json) / 1e6:.1f} MB of JSON)":
                         lambda: json.loads(as_json)}, settings.slow_reps, 1)
    for name, samples in times.items():
        report.add(Row(name, samples, "s", None if name == yaml_label else yaml_label))


def process_rows(report: Report, settings: Settings, base_url: str, path: Path, yaml_label: str) -> None:
    route, body, answer = CALLS["createChatCompletion"]
    args = {"path": str(path), "base_url": base_url, "operation": "createChatCompletion", "body": body,
            "expect_id": answer["id"], "path_template": route}
    warm = tempfile.mkdtemp(prefix="dynclient-bench-warm-")
    run_program(processes.DYNCLIENT_FIRST_CALL, args, {"DYNCLIENT_CACHE_DIR": warm})   # fills the cache
    openai_label = "fresh process: import openai + client construction"
    programs: dict[str, tuple[str, Callable[[], dict]]] = {
        "fresh process: python -c (the interpreter alone)": (processes.INTERPRETER, dict),
        f"fresh process to first validated call, {path.stem}, cache warm": (
            processes.DYNCLIENT_FIRST_CALL, lambda: {"DYNCLIENT_CACHE_DIR": warm}),
        f"fresh process to first validated call, {path.stem}, cache cold": (
            processes.DYNCLIENT_FIRST_CALL,
            lambda: {"DYNCLIENT_CACHE_DIR": tempfile.mkdtemp(prefix="dynclient-bench-cold-")}),
    }
    if has_module("openai"):
        programs[openai_label] = (processes.OPENAI_IMPORT, dict)
        run_program(processes.OPENAI_IMPORT, args, {})   # bytecode written, pages cached
    core_label = f"fresh process: openapi-core, load {path.stem} + validate a first request"
    times: dict[str, list[float]] = {name: [] for name in programs}
    core_runs = max(1, settings.processes // 3)
    times[core_label] = []
    exit_label = f"fresh process to first validated call, {path.stem}, cache warm, until the process exits"
    times[exit_label] = []
    for i in range(settings.processes):
        for name, (program, env) in programs.items():
            seconds, seen = run_program(program, args, env())
            times[name].append(seconds)
            if "cache warm" in name:
                times[exit_label].append(seen["exit_seconds"])
        if i < core_runs:
            seconds, seen = run_program(processes.OPENAPI_CORE_FIRST_VALIDATION, args, {})
            times[core_label].append(seconds)
            note = f"createChatCompletion: openapi-core {seen['note']}"
    warm_label = f"fresh process to first validated call, {path.stem}, cache warm"
    for name, samples in times.items():
        baseline = {warm_label: openai_label if openai_label in times else None,
                    core_label: warm_label,
                    openai_label: warm_label,
                    f"fresh process to first validated call, {path.stem}, cache cold": yaml_label}.get(name)
        report.add(Row(name, samples, "s", baseline, note if name == core_label else ""))


def memory_rows(report: Report, settings: Settings, base_url: str, path: Path) -> None:
    route, body, answer = CALLS["createChatCompletion"]
    args = {"path": str(path), "base_url": base_url, "operation": "createChatCompletion", "body": body,
            "expect_id": answer["id"]}
    warm = tempfile.mkdtemp(prefix="dynclient-bench-rss-")
    run_program(processes.DYNCLIENT_FIRST_CALL, args, {"DYNCLIENT_CACHE_DIR": warm})
    rows = {f"peak RSS: dynclient, {path.stem} loaded, one validated call": (processes.DYNCLIENT_RSS, warm)}
    if has_module("openai"):
        rows["peak RSS: openai package, one chat call"] = (processes.OPENAI_RSS, warm)
    for label, (program, cache) in rows.items():
        samples = [run_program(program, args, {"DYNCLIENT_CACHE_DIR": cache})[1]["maxrss_kb"] / 1024
                   for _ in range(max(1, settings.processes // 3))]
        report.add(Row(label, samples, "MB"))


def run_program(program: str, args: dict, env: dict) -> tuple[float, dict]:
    """(seconds from spawn to the program's `done_at`, what it printed); `exit_seconds` added."""
    spawned, started = time.time(), time.perf_counter()
    # Bytecode is written and reused, as after `pip install`: with PYTHONDONTWRITEBYTECODE set (as
    # in some shells and CI), every run would compile dynclient's sources again (~90 ms).
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", program, json.dumps(args)], capture_output=True, text=True,
                          env={**environment, **env}, timeout=120)
    exited = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"a benchmark program failed:\n{done.stderr[-2000:]}")
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if not seen.get("ok"):
        raise AssertionError(f"a benchmark program got a wrong answer: {seen}")
    seen["exit_seconds"] = exited
    return (seen["done_at"] - spawned if "done_at" in seen else exited), seen


def has_module(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


# --- the report ---------------------------------------------------------------------------


SCALE = {"µs": 1e6, "ms": 1e3, "s": 1.0, "MB": 1.0}


def figure(value: float, unit: str) -> str:
    scaled = value * SCALE[unit]
    return f"{scaled:,.0f} {unit}" if scaled >= 100 else f"{scaled:,.3g} {unit}"


def table(report: Report) -> list[str]:
    lines = ["| what | median | p10 | p90 | n | ratio | to |", "|---|---:|---:|---:|---:|---:|---|"]
    for row in report.rows.values():
        deciles = statistics.quantiles(row.samples, n=10) if len(row.samples) > 1 else row.samples * 9
        ratio = report.ratio(row.label, row.baseline) if row.baseline else None
        lines.append(f"| {row.label}{' — ' + row.note if row.note else ''} | "
                     f"{figure(statistics.median(row.samples), row.unit)} | {figure(deciles[0], row.unit)} | "
                     f"{figure(deciles[-1], row.unit)} | {len(row.samples)} | "
                     f"{f'{ratio:.2f}×' if ratio else ''} | {row.baseline or ''} |")
    return lines


def targets(report: Report, latest: str, yaml_label: str) -> list[str]:
    lines = ["| target | measured | met |", "|---|---:|:---:|"]

    def check(text: str, value: float | None, limit: float, at_most: bool, fmt: str) -> None:
        if value is not None:
            met = value <= limit if at_most else value >= limit
            lines.append(f"| {text} | {fmt.format(value)} | {'yes' if met else 'no'} |")

    for op in CALLS:
        floor = f"raw urllib3 POST + json.loads: {op}"
        mine = f"dynclient, validation on: {op}"
        check(f"{op}: dynclient / raw urllib3 ≤ 1.15", report.ratio(mine, floor), 1.15, True, "{:.2f}×")
        check(f"{op}: official openai / dynclient ≥ 3", report.ratio(f"official openai package: {op}", mine),
              3, False, "{:.2f}×")
    warm = f"fresh process to first validated call, {latest}, cache warm"
    check(f"{warm} ≤ 0.15 s", report.median(warm), 0.15, True, "{:.3f} s")
    factor = machine_factor(report)
    if factor is not None:
        check(f"the same, ≤ 0.15 s × {factor:.2f} (this machine against the issue's, see below) = "
              f"{0.15 * factor:.3f} s", report.median(warm), 0.15 * factor, True, "{:.3f} s")
    check("import openai + client / dynclient warm first call ≥ 3",
          report.ratio("fresh process: import openai + client construction", warm), 3, False, "{:.2f}×")
    check("openapi-core first validation / dynclient warm first call ≥ 9",
          report.ratio(f"fresh process: openapi-core, load {latest} + validate a first request", warm), 9, False,
          "{:.2f}×")
    check("dynclient cold first call / PyYAML CSafeLoader parse ≤ 1.2",
          report.ratio(f"fresh process to first validated call, {latest}, cache cold", yaml_label), 1.2, True,
          "{:.2f}×")
    check("validate a 10,000-item listFiles response ≤ 20 ms",
          report.median("dynclient: validate a 10,000-item listFiles response"), 0.020, True, "{:.4f} s")
    rss = [row for label, row in report.rows.items() if label.startswith("peak RSS: dynclient")]
    if rss:
        check("peak RSS, dynclient ≤ 80 MB", statistics.median(rss[0].samples), 80, True, "{:.1f} MB")
    return lines


# The issue's own figures (its reference table, measured on its machine) for baselines this run
# measures too, by the start of their labels here. Their ratios say how much slower this machine is,
# which matters for the one target the issue gives in seconds rather than as a ratio.
ISSUE_REFERENCE = {
    "raw urllib3 POST + json.loads: createChatCompletion": 240e-6,
    "fresh process: import openai + client construction": 0.50,
    "fresh process: openapi-core, load openai-2026-08-21": 1.4,
    "PyYAML CSafeLoader parse of openai-2026-08-21": 0.70,
}


def machine_ratios(report: Report) -> dict[str, float]:
    """This run's median over the issue's figure, for each baseline both have."""
    return {label: report.median(label) / reference for start, reference in ISSUE_REFERENCE.items()
            for label in report.rows if label.startswith(start)}


def machine_factor(report: Report) -> float | None:
    ratios = machine_ratios(report)
    return statistics.median(ratios.values()) if ratios else None


def factor_note(report: Report) -> list[str]:
    ratios = machine_ratios(report)
    if not ratios:
        return []
    parts = [f"{label.split(' (')[0]}: {ratio:.2f}×" for label, ratio in ratios.items()]
    return [f"This machine against the issue's (this run's median over the issue's figure): {'; '.join(parts)}. "
            f"Median: {statistics.median(ratios.values()):.2f}×, the factor applied to the target given in seconds.", ""]


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [f"- machine: {platform.platform()}, {os.cpu_count()} cores ({cpu}), load average {load} at the end",
            f"- Python {platform.python_version()} ({platform.python_implementation()})",
            f"- packages: {', '.join(versions)}"]


def write(report: Report, output: Path, mode: str, seconds: float, latest: str, yaml_label: str) -> str:
    text = "\n".join([
        "# Benchmark results", "",
        f"`python -m benchmarks.run{' --quick' if mode == 'quick' else ''}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{seconds:.0f} s. Ratios are between medians of this run; each per-call variant was timed in turns "
        "with its floor against a loopback server in its own process (~1 KB JSON answers). Fresh-process "
        "rows run from spawn to the moment the program's work is done (one row also until exit), with "
        "bytecode cached as after `pip install`. Absolute times drift with the machine's load (see below); "
        "compare ratios.", "",
        *machine(), "", *table(report), "", "## Targets (issue 7)", "", *targets(report, latest, yaml_label), "",
        *factor_note(report),
        *(["## Notes", "", *(f"- {note}" for note in report.notes), ""] if report.notes else []),
    ])
    output.write_text(text + kept_sections(output))
    return text


OTHER_SECTIONS = "\n<!-- sections below are written by other benchmarks; benchmarks.run keeps them -->\n"


def kept_sections(output: Path) -> str:
    """The sections other benchmarks wrote into the same file (bench_async's), kept as they are."""
    try:
        existing = output.read_text()
    except OSError:
        return ""
    found = existing.find(OTHER_SECTIONS)
    return existing[found:] if found >= 0 else ""


def publish(lines: list[str], output: Path | None, heading: str) -> None:
    """A benchmark's report: printed, and written as the section `heading` of `output` (RESULTS.md)
    when one is given."""
    print("\n".join(lines))
    if output:
        replace_section(output, heading, lines)


def replace_section(output: Path, heading: str, lines: list[str]) -> None:
    """Write one section (`## heading` and what follows it) below the marker, replacing its last version."""
    try:
        existing = output.read_text()
    except OSError:
        existing = "# Benchmark results\n"
    if OTHER_SECTIONS not in existing:
        existing = existing.rstrip("\n") + "\n" + OTHER_SECTIONS
    head, tail = existing.split(OTHER_SECTIONS, 1)
    sections = [part for part in ("\n" + tail).split("\n## ")[1:] if not part.startswith(heading)]
    body = "\n".join([f"## {heading}", "", *lines, ""])
    output.write_text(head + OTHER_SECTIONS + "".join("\n## " + part for part in sections) + "\n" + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred calls, about a minute (CI)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--only", choices=STEPS, action="append",
                        help="run only these parts (repeatable); the targets table then lists what was run")
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL
    primary, latest = sources.find_file(PRIMARY), sources.find_file(LATEST)
    if primary is None or latest is None:
        print(f"benchmarks skipped: the OpenAI corpus ({PRIMARY}, {LATEST}) is not on the search path; "
              f"set DYNCLIENT_SPEC_PATH or put shared/specs/openai beside the checkout")
        return 0
    started = time.perf_counter()
    report = Report()
    yaml_label = f"PyYAML CSafeLoader parse of {latest.name} ({latest.stat().st_size / 1e6:.1f} MB)"
    with LoopbackServer() as base_url:
        for step, work in [("per-call", lambda: per_call_rows(report, settings, base_url, primary)),
                           ("list", lambda: list_rows(report, settings, primary)),
                           ("parse", lambda: parse_rows(report, settings, latest)),
                           ("processes", lambda: process_rows(report, settings, base_url, latest, yaml_label)),
                           ("memory", lambda: memory_rows(report, settings, base_url, latest))]:
            if options.only and step not in options.only:
                continue
            print(f"benchmarks: {step} ...", file=sys.stderr, flush=True)
            work()
            gc.collect()
    text = write(report, options.output, "quick" if options.quick else "full", time.perf_counter() - started,
                 latest.stem, yaml_label)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
