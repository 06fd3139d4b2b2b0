"""The official OpenAI Python SDK's own tests against mock servers: how many pass.

    python -m benchmarks.bench_sdk_suite /path/to/openai-python --python /path/to/sdk-venv/bin/python \
        [--spec /path/to/openai-2026-08-21.yaml] [--server "LABEL=COMMAND"]... [--output benchmarks/RESULTS.md] \
        [--prism "npx --prefix /tmp/prism prism mock {spec} -h 127.0.0.1 -p {port}"]

Not run by CI: it needs a checkout of openai-python (its `tests/api_resources`) and a Python where the
SDK and its test dependencies are installed (`pip install -e '/path/to/openai-python[aiohttp]' pytest
pytest-asyncio respx dirty-equals inline-snapshot time-machine nest-asyncio`), and Prism from npm for its
figure. Each server is started in its own process on a free port, the suite runs against it with
`TEST_API_BASE_URL` set to the base URL the server prints (`... at http://127.0.0.1:N/v1` for dynclient,
`... listening on http://127.0.0.1:N` for Prism), and pytest's JUnit report is counted. Measured, in
this order, in one run: `dynclient mock` (ids never seen are assumed), `dynclient mock --strict-ids`,
each `--server` (a command with `{spec}` and `{port}`, e.g. another checkout's `dynclient mock`), Prism.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from dynclient import sources

HERE = Path(__file__).resolve().parent
LATEST = "openai-2026-08-21.yaml"
ANNOUNCED = re.compile(r"(?:listening on|\bat) (http://127\.0\.0\.1:\d+\S*)\s*$")
START_SECONDS = 180.0    # Prism takes half a minute to read the 2026-08-21 document on a shared machine
SUITE_SECONDS = 3600.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str]) -> tuple[subprocess.Popen, str]:
    """Start a server; its process and the base URL it announces."""
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:   # read its output to the end, so that a chatty server (Prism logs each call) never blocks
        for line in server.stdout:
            match = ANNOUNCED.search(line.strip())
            if match and not found:
                found.append(match.group(1).rstrip("/"))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_SECONDS) or not found:
        stop(server)
        raise RuntimeError(f"{shlex.join(command)} did not say where it listens within {START_SECONDS:.0f} s")
    return server, found[0]


def stop(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, 15)   # (npx starts Prism as a child: the whole group goes)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, 9)
        server.wait()


def run_suite(checkout: Path, python: str, base_url: str) -> dict:
    """The suite against one base URL: counts of passed, failed, errors, skipped, its seconds, failure classes."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        started = time.perf_counter()
        subprocess.run([python, "-m", "pytest", "tests/api_resources", "-q", "-p", "no:cacheprovider", "--tb=line",
                        "-o", "addopts=", f"--junitxml={report}"], cwd=checkout, timeout=SUITE_SECONDS,
                       env={**os.environ, "TEST_API_BASE_URL": base_url}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        counts: collections.Counter = collections.Counter()
        classes: collections.Counter = collections.Counter()
        for case in ET.parse(report).iter("testcase"):
            bad = next((case.find(tag) for tag in ("failure", "error") if case.find(tag) is not None), None)
            if case.find("skipped") is not None:
                counts["skipped"] += 1
            elif bad is None:
                counts["passed"] += 1
            else:
                counts["failed" if bad.tag == "failure" else "errors"] += 1
                classes[failure_class(bad.get("message") or "")] += 1
    return {"counts": counts, "seconds": seconds, "classes": classes}


def failure_class(message: str) -> str:
    """A failure's kind, alike ones grouped: the exception, and for an HTTP error its status and the error's
    message, quoted values, paths and numbers blanked (`NotFoundError 404: No object with id … found at /…`)."""
    line = message.splitlines()[0] if message else "(no message)"
    error = re.match(r"(?:\w+\.)*(\w+): Error code: (\d+) - .*?'message': (['\"])(.*?)\3, '", line)
    if error:
        text = re.sub(r"/[\w/{}.-]+", "/…", re.sub(r"'[^']*'", "…", error.group(4)))   # ids, paths
        line = f"{error.group(1)} {error.group(2)}: " + re.sub(r"\d+", "N", text)
    else:
        line = re.sub(r"\d{3,}", "N", line)
    return line.replace("`", "'")[:140]


def sdk_version(checkout: Path) -> str:
    found = re.search(r'^version = "([^"]+)"', (checkout / "pyproject.toml").read_text(), re.M)
    return found.group(1) if found else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of openai-python (with tests/api_resources)")
    parser.add_argument("--python", default=sys.executable, help="a Python with the SDK and its test dependencies")
    parser.add_argument("--spec", default=None, help=f"the document to serve (default: {LATEST})")
    parser.add_argument("--prism", default=None, metavar="COMMAND",
                        help="Prism's command, with {spec} and {port}, e.g. "
                             "'npx --prefix /tmp/prism prism mock {spec} -h 127.0.0.1 -p {port}'")
    parser.add_argument("--server", action="append", default=[], metavar="LABEL=COMMAND",
                        help="another server to measure, a command with {spec} and {port} (repeatable)")
    parser.add_argument("--top", type=int, default=4, help="failure classes listed for each server")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the section \"The official SDK's tests\" of this Markdown file "
                             "(benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    spec = args.spec or str(sources.find_file(LATEST) or "")
    if not spec or not Path(spec).is_file():
        parser.error(f"no document: give --spec (the default {LATEST} was not found)")
    dynclient_mock = [sys.executable, "-u", "-m", "dynclient.cli", "mock", spec, "--port", "{port}"]
    servers = [("dynclient mock", dynclient_mock), ("dynclient mock --strict-ids", [*dynclient_mock, "--strict-ids"])]
    for text in args.server:
        label, _, command = text.partition("=")
        servers.append((label, shlex.split(command)))
    if args.prism:
        servers.append(("Prism", shlex.split(args.prism)))

    results = {}
    for label, template in servers:
        port = free_port()
        command = [part.replace("{spec}", spec).replace("{port}", str(port)) for part in template]
        server, base_url = start(command)
        try:
            results[label] = run_suite(args.checkout, args.python, base_url)
        finally:
            stop(server)
        counts = results[label]["counts"]
        print(f"{label}: {counts['passed']} passed, {counts['failed']} failed, {counts['errors']} errors, "
              f"{counts['skipped']} skipped in {results[label]['seconds']:.0f} s", flush=True)

    total = sum(next(iter(results.values()))["counts"].values())
    out = [f"`python -m benchmarks.bench_sdk_suite OPENAI_PYTHON --python SDK_PYTHON"
           f"{' --prism ...' if args.prism else ''}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
           f"(machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}): openai-python "
           f"{sdk_version(args.checkout)}'s `tests/api_resources` ({total:,} tests: sync, async and aiohttp "
           f"clients, loose and strict response validation) against each server serving "
           f"`{Path(spec).name}`, one after the other in one run. Not run by CI (it needs the SDK's checkout "
           f"and, for Prism, npm); the command and its setup are in the script's docstring.", "",
           "| server | passed | failed | errors | skipped | seconds |", "|---|---:|---:|---:|---:|---:|"]
    for label, result in results.items():
        c = result["counts"]
        out.append(f"| {label} | {c['passed']:,} | {c['failed']:,} | {c['errors']:,} | {c['skipped']:,} | "
                   f"{result['seconds']:.0f} |")
    out.append("")
    for label, result in results.items():
        if result["classes"]:
            out.append(f"- {label}, the most frequent failures: " + "; ".join(
                f"{count} × `{text}`" for text, count in result["classes"].most_common(args.top)))
    from .run import publish
    publish(out, args.output, "The official SDK's tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
