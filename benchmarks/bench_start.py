"""Where the warm start goes: a fresh process's first validated call, stage by stage.

    DYNCLIENT_SPEC_PATH=../shared/specs/openai python benchmarks/bench_start.py [runs] [document]

Each run is a new interpreter (bytecode cached, PYTHONDONTWRITEBYTECODE dropped, as after
`pip install`) that times, with perf_counter: `import urllib3`, `import dynclient` on top,
`Spec(path)` from a warm cache, `Client(spec, ...)`, the first `prepare` of createChatCompletion
(compiles the request validator), and the first `call` against a loopback server (compiles the
response validator). Prints the median of each stage over the runs. The whole program, spawn to
done, is the `python -m benchmarks.run` row "fresh process to first validated call".
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.payloads import CALLS   # noqa: E402
from benchmarks.run import LoopbackServer   # noqa: E402

STAGES = """
import json, sys, time
args = json.loads(sys.argv[1])
marks = [time.perf_counter()]
import urllib3
marks.append(time.perf_counter())
import dynclient
marks.append(time.perf_counter())
spec = dynclient.Spec(args["path"])
marks.append(time.perf_counter())
client = dynclient.Client(spec, base_url=args["base_url"], api_key="sk-bench")
marks.append(time.perf_counter())
client.prepare("createChatCompletion", args["body"])
marks.append(time.perf_counter())
assert client.call("createChatCompletion", args["body"])["id"] == args["expect_id"]
marks.append(time.perf_counter())
print(json.dumps({"stages": [(b - a) * 1000 for a, b in zip(marks, marks[1:])], "from": dynclient.__file__}))
"""
LABELS = ("import urllib3", "import dynclient (on top)", "Spec(path), cache warm", "Client(spec)",
          "first prepare (request validator)", "first call (response validator, HTTP)")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    name = sys.argv[2] if len(sys.argv) > 2 else "openai-2026-08-21.yaml"
    path = next((Path(d) / name for d in os.environ.get("DYNCLIENT_SPEC_PATH", "").split(os.pathsep)
                 if d and (Path(d) / name).is_file()), HERE.parents[1] / "shared" / "specs" / "openai" / name)
    if not path.is_file():
        print(f"{name} not found (set DYNCLIENT_SPEC_PATH); nothing measured")
        return
    route, body, answer = CALLS["createChatCompletion"]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["DYNCLIENT_CACHE_DIR"] = tempfile.mkdtemp(prefix="dynclient-bench-start-")
    with LoopbackServer() as base_url:
        args = json.dumps({"path": str(path), "base_url": base_url, "body": body, "expect_id": answer["id"]})
        samples = []
        for run in range(runs + 2):   # the first two fill the cache and write bytecode
            done = subprocess.run([sys.executable, "-c", STAGES, args], capture_output=True, text=True,
                                  env=environment, cwd=tempfile.gettempdir(), timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"the stage program failed:\n{done.stderr[-2000:]}")
            seen = json.loads(done.stdout)
            if run >= 2:
                samples.append(seen["stages"])
    print(f"{path.name}, cache warm, median of {runs} fresh processes (dynclient from {Path(seen['from']).parent})")
    for i, label in enumerate(LABELS):
        print(f"  {label:42} {statistics.median(s[i] for s in samples):7.1f} ms")
    print(f"  {'all of the above':42} {statistics.median(sum(s) for s in samples):7.1f} ms")


if __name__ == "__main__":
    main()
