"""Issue #20's target, measured: over every document of a directory (the OpenAI corpus by default),
does every operation's request and response schemas compile, and does a generated valid request
pass `Client.prepare` (bind, validate, encode; nothing is sent)?

    DYNCLIENT_SPEC_PATH=../shared/specs/openai python benchmarks/corpus_prepare.py [DIR ...]

The request is synthesized (dynclient.testing.synth: required parameters and the smallest valid
body of the first media type). One line per document, then the totals. Exit 1 when a schema does
not compile or a prepare fails; a value the synthesizer cannot make is counted apart (it is the
test tool's limit, not the document's or the client's).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dynclient  # noqa: E402
from dynclient.core.call import MISSING  # noqa: E402
from dynclient.schema import operation_schema_pointers  # noqa: E402
from dynclient.testing.synth import SynthesisError, synthesize  # noqa: E402


def arguments(client: dynclient.Client, op) -> tuple[dict, object]:
    params = {}
    for p in op.parameters:
        if not p.required:
            continue
        params[p.name] = synthesize(client.schemas, p.pointer, "request") if p.schema is not None else "x1"
    body = MISSING
    if op.request_body and op.request_body.content:
        media = next(iter(op.request_body.content.values()))
        body = synthesize(client.schemas, media.pointer, "request") if media.schema is not None else b""
    return params, body


def survey(path: Path, cache: str) -> dict:
    spec = dynclient.Spec(str(path), cache=cache)
    client = dynclient.Client(spec, base_url="http://127.0.0.1:9", api_key="sk-survey")
    counts = {"operations": len(spec), "repairs": len(spec.repairs), "schemas": 0, "not_compiled": 0,
              "prepared": 0, "prepare_failed": 0, "not_synthesized": 0, "failures": []}
    for op in spec:
        ok = True
        for pointer, direction in operation_schema_pointers(op):
            counts["schemas"] += 1
            try:
                client.schemas.compiled(pointer, direction)
            except dynclient.SchemaCompileError as exc:
                counts["not_compiled"] += 1
                counts["failures"].append(f"{op.operation_id}: {exc}")
                ok = False
        if not ok:
            continue
        try:
            params, body = arguments(client, op)
        except SynthesisError as exc:
            counts["not_synthesized"] += 1
            counts["failures"].append(f"{op.operation_id}: (synthesis) {exc}")
            continue
        try:
            client.prepare(op.operation_id, body, params=params)
            counts["prepared"] += 1
        except dynclient.DynclientError as exc:
            counts["prepare_failed"] += 1
            counts["failures"].append(f"{op.operation_id}: {type(exc).__name__}: {exc}")
    return counts


def main() -> int:
    logging.getLogger("dynclient").setLevel(logging.ERROR)   # the repairs are counted on each line
    dirs = [Path(d) for d in sys.argv[1:]] or [Path(d) for d in os.environ.get("DYNCLIENT_SPEC_PATH", "").split(
        os.pathsep) if d] or [Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai"]
    files = sorted(f for d in dirs for f in d.iterdir() if f.suffix in (".yaml", ".yml", ".json")
                   and f.name != "manifest.json")
    totals: dict = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        for path in files:
            counts = survey(path, cache)
            print(f"{path.name:32} {counts['operations']:4} ops {counts['repairs']:3} repairs "
                  f"{counts['schemas']:5} schemas {counts['not_compiled']} not compiled  "
                  f"{counts['prepared']:4} prepared {counts['prepare_failed']} refused "
                  f"{counts['not_synthesized']} not synthesized", flush=True)
            for failure in counts.pop("failures")[:5]:
                print(f"    {failure[:300]}")
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
    print(f"{len(files)} documents in {time.perf_counter() - started:.1f} s: " +
          ", ".join(f"{key} {value}" for key, value in totals.items()))
    return 1 if totals.get("not_compiled") or totals.get("prepare_failed") else 0


if __name__ == "__main__":
    sys.exit(main())
