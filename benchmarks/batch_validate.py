"""Batch input checking speed: BatchChecker.check per line, against bare validation of the same bodies.

    python benchmarks/batch_validate.py [SPEC] [LINES]

The baseline, measured in the same run, is json.loads of the line plus the compiled body validator
alone; the ratio is the price of routing, binding, custom_id and endpoint checks.
"""

from __future__ import annotations

import json
import sys
import time

from dynclient.batch import BatchChecker
from dynclient.spec import Spec


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else "openai@2025-04-29"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    spec = Spec(source)
    lines = [json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                         "body": {"model": "gpt-4o", "temperature": 0.2, "messages": [
                             {"role": "system", "content": "You are terse."},
                             {"role": "user", "content": f"Question {i}: what is {i} + {i}?"}]}})
             for i in range(count)]
    checker = BatchChecker(spec)
    checker.check(0, lines[0].replace('"r0"', '"warm"'))   # compile the validator outside the timing
    compiled = checker.schemas.compiled(
        spec.operations["createChatCompletion"].request_body.content["application/json"].pointer, "request")

    def bare() -> None:
        for line in lines:
            compiled.violation(json.loads(line)["body"])

    def checked() -> None:
        fresh = BatchChecker(spec)
        fresh.schemas = checker.schemas   # the same compiled validators; a fresh custom_id set
        assert not any(fresh.check(n, line) for n, line in enumerate(lines, 1))

    # Interleaved rounds, best of each: the machine is shared, and the minimum is the least disturbed.
    baseline = measured = float("inf")
    for _ in range(3):
        baseline = min(baseline, _timed(bare))
        measured = min(measured, _timed(checked))
    print(f"{count} lines of createChatCompletion: bare validation {count / baseline:,.0f} lines/s, "
          f"BatchChecker {count / measured:,.0f} lines/s, ratio {measured / baseline:.2f}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
