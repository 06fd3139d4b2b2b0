"""Second start of a named, mended document against a plain json.load of the same document.

    DYNCLIENT_SPEC_PATH=../shared/specs/openai python benchmarks/bench_reload.py [name] [repeats]

Every figure is the median of `repeats` runs in this process, and each ratio is against the
baseline measured in the same run: json.load of the document as JSON (what the loader's cache
held before CACHE_FORMAT 2). "first start" parses the YAML (cache off); "second start" is what a
new process pays once the loader's on-disk cache holds the parsed document: read and hash the
source bytes, read the cache entry (a checksummed marshal dump), apply the shipped overlays, list
the operationIds (each Operation is built when first read).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dynclient import Spec, load, sources
from dynclient.evolve.diff import diff
from dynclient.evolve.overlay import apply, shipped_overlays


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "openai@2026-08-21"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    path, _ = sources.resolve(name)
    with tempfile.TemporaryDirectory() as cache:
        Spec(name, cache=cache)   # fill the loader's cache
        cached = next(Path(cache, "docs").iterdir())
        as_json = Path(cache, "document.json")
        as_json.write_text(json.dumps(load(path, cache=False).data))
        overlay_count = sum(len(json.loads(Path(sources.__file__).parents[1].joinpath("spec", "overlays", o)
                                           .read_text())["actions"]) for o in shipped_overlays(name))
        rows = [
            ("json.load of the document (baseline)", lambda: json.load(open(as_json, "rb"))),
            ("sha256 of the source bytes", lambda: hashlib.sha256(Path(path).read_bytes()).hexdigest()),
            ("load(): second start, no overlay", lambda: load(path, cache=cache)),
            ("Spec(): second start, no overlay", lambda: Spec(path, cache=cache, overlays=False)),
            (f"Spec(name): second start, shipped overlays ({overlay_count} actions)", lambda: Spec(name, cache=cache)),
            ("Spec(name): first start (YAML parse, overlays)", lambda: Spec(name, cache=False)),
        ]
        baseline = None
        print(f"{name}: {Path(path).stat().st_size / 1e6:.1f} MB YAML, {as_json.stat().st_size / 1e6:.1f} MB JSON, "
              f"{cached.stat().st_size / 1e6:.1f} MB cache entry; median of {repeats}")
        for label, fn in rows:
            seconds = median_seconds(fn, repeats if "first start" not in label else max(1, repeats // 3))
            baseline = baseline or seconds
            print(f"  {label:62} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x")
    # The overlay step alone, on an already-loaded document.
    data = load(path).data
    started = time.perf_counter()
    for overlay in shipped_overlays(name):
        apply(data, overlay)
    print(f"  applying the shipped overlays alone: {(time.perf_counter() - started) * 1000:.1f} ms")
    # diff over every consecutive corpus pair (loading excluded).
    names = sorted(n for n in sources.catalogue()["specs"] if n.startswith("openai@"))
    specs = [Spec(n, overlays=False) for n in names]
    started = time.perf_counter()
    total = sum(len(diff(a, b)) for a, b in zip(specs, specs[1:]))
    print(f"diff over {len(specs) - 1} consecutive pairs: {total} changes in "
          f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
