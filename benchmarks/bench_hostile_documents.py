"""Hostile documents: what each does to a fresh process (outcome, time, peak RSS).

    python benchmarks/bench_hostile_documents.py

Each document is written to a temporary file and loaded with `dynclient.Spec`
(cache off), then its first operation is prepared, in a fresh subprocess; the
table gives the outcome, the wall time and the process's peak RSS next to a
baseline process that only imports dynclient. The figures go to SECURITY.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HEAD = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\n"
CYCLE = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
         "paths": {"/x": {"post": {"operationId": "x", "requestBody": {"content": {"application/json": {
             "schema": {"$ref": "#/components/schemas/A"}}}}, "responses": {"200": {"description": "ok"}}}}},
         "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"},
                                    "B": {"$ref": "#/components/schemas/A"}}}}
EXTERNAL = json.loads(json.dumps(CYCLE).replace("#/components/schemas/A", "https://attacker.example/s.json", 1))


def schema_bomb(levels: int, width: int) -> str:
    """Schemas built of aliases, each level `width` copies of the one below: under MAX_NODES values
    (7 levels of 7: 9.8 million values), but every schema walk expands it again. The first operation's
    body is the top level, so preparing a call walks all of it."""
    lines = [HEAD, "components:\n  schemas:\n", "    s0: &s0 {type: object, properties: {a: {type: string}}}\n"]
    for level in range(1, levels + 1):
        members = ", ".join(f"p{i}: *s{level - 1}" for i in range(width))
        lines.append(f"    s{level}: &s{level} {{type: object, properties: {{{members}}}}}\n")
    lines.append("paths:\n  /x:\n    post:\n      operationId: x\n      requestBody: {content: {application/json: "
                 f"{{schema: *s{levels}}}}}}}\n      responses: {{'200': {{description: ok}}}}\n")
    return "".join(lines)


# Each case is made only when its turn comes (a child process would otherwise inherit a large
# parent's memory in its peak RSS).
CASES = {
    "YAML alias bomb, 10 levels of 9": (lambda: HEAD + "paths: {}\nx:\n  a: &a [" + ", ".join(["lol"] * 9) + "]\n"
                                        + "".join(f"  {c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n"
                                                  for p, c in zip("abcdefghij", "bcdefghijk")), ".yaml"),
    "YAML alias bomb in a schema, 7 levels of 7 (9.8 million values, under the limit)": (lambda: schema_bomb(7, 7), ".yaml"),
    "YAML alias cycle": (lambda: HEAD + "paths: {}\nx: &x [*x]\n", ".yaml"),
    "YAML nested 100,000 deep": (lambda: HEAD + "paths: {}\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", ".yaml"),
    "JSON nested 100,000 deep": (lambda: '{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{},"x":'
                                 + "[" * 100_000 + "]" * 100_000 + "}", ".json"),
    "YAML python/object tag": (lambda: HEAD + "paths: {}\nx: !!python/object/apply:os.system ['echo pwned']\n",
                               ".yaml"),
    "$ref cycle A -> B -> A": (lambda: json.dumps(CYCLE), ".json"),
    "$ref to a URL": (lambda: json.dumps(EXTERNAL), ".json"),
    "80 MB YAML file": (lambda: HEAD + "paths: {}\nx: [" + ", ".join(["'" + "x" * 1000 + "'"] * 80_000) + "]\n",
                        ".yaml"),
}


PROBE = """
import resource, sys, time, dynclient
started = time.perf_counter()
try:
    spec = dynclient.Spec(sys.argv[1], cache=False)
    op = next(iter(spec.operations), None)
    if op:
        dynclient.Client(spec, base_url="http://127.0.0.1:9").prepare(op, {"a": 1})
    outcome = "loaded and prepared"
except dynclient.DynclientError as exc:
    outcome = type(exc).__name__ + ": " + str(exc).split(": ", 1)[-1][:80]
def peak_mb():   # VmHWM: ru_maxrss would count the memory of the parent that spawned us
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(outcome, "|", f"{(time.perf_counter() - started) * 1000:,.0f} ms", "|", f"{peak_mb():.0f} MB")
"""


def main() -> None:
    baseline = subprocess.run([sys.executable, "-c", "import dynclient; print(next(int(l.split()[1]) / 1024 "
                               "for l in open('/proc/self/status') if l.startswith('VmHWM:')))"],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(f"baseline process (import dynclient): {float(baseline):.0f} MB peak RSS\n")
    print("| document | size | outcome | time | peak RSS |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, suffix) in CASES.items():
            path = os.path.join(tmp, "doc" + suffix)
            with open(path, "w") as fh:
                fh.write(make())
            size = os.path.getsize(path)
            done = subprocess.run([sys.executable, "-c", PROBE, path], capture_output=True, text=True, timeout=300)
            result = done.stdout.strip() or f"CRASH: {done.stderr.strip().splitlines()[-1][:100]}"
            print(f"| {name} | {size:,} bytes | {result} |")


if __name__ == "__main__":
    main()
