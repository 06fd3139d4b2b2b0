"""What the load-time repair pass (dynclient.repair) costs: `load(path)` cold (a fresh cache
directory: parse, repair, write the cache) and warm (a cache hit), with the pass on and off,
interleaved so that both see the same machine.

    python benchmarks/bench_repair_load.py [runs] [document]    # default 15, openai-2026-08-21.yaml

Run from the repository root (it imports the dynclient beside it). Prints the median and the
minimum of each, in milliseconds, and the time of the pass alone (dynclient.repair.find_repairs
on the parsed document).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from dynclient.loader import load  # noqa: E402
from dynclient.repair import find_repairs  # noqa: E402
from dynclient.sources import find_file  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    name = sys.argv[2] if len(sys.argv) > 2 else "openai-2026-08-21.yaml"
    path = find_file(name)   # the search path: DYNCLIENT_SPEC_PATH, then ../shared/specs
    if path is None:
        print(f"{name} not found (set DYNCLIENT_SPEC_PATH); nothing measured")
        return
    times: dict[str, list[float]] = {k: [] for k in ("cold, repair on", "cold, repair off", "warm, repair on",
                                                     "warm, repair off", "the pass alone")}
    with tempfile.TemporaryDirectory() as root:
        for run in range(runs):
            for repair in (True, False) if run % 2 else (False, True):
                label = "on" if repair else "off"
                cache = Path(root) / f"{run}-{label}"
                started = time.perf_counter()
                document = load(str(path), cache=cache, repair=repair)
                times[f"cold, repair {label}"].append(time.perf_counter() - started)
                for _ in range(3):
                    started = time.perf_counter()
                    load(str(path), cache=cache, repair=repair)
                    times[f"warm, repair {label}"].append(time.perf_counter() - started)
            started = time.perf_counter()
            find_repairs(document.data)
            times["the pass alone"].append(time.perf_counter() - started)
    print(f"{path.name}, {runs} runs (ms):")
    for label, values in times.items():
        print(f"  {label:18} median {statistics.median(values) * 1000:8.2f}   min {min(values) * 1000:8.2f}")


if __name__ == "__main__":
    main()
