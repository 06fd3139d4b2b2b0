"""benchmarks/bench_public_docs.py on a document written here: it skips without documents, measures
the ones it is given, classes each call's outcome, and writes its section of RESULTS.md beside the
sections other benchmarks wrote. (The public documents themselves are never in the repository.)"""

from __future__ import annotations

import json

import pytest

from test_public_doc_faults import DOCUMENT

bench = pytest.importorskip("benchmarks.bench_public_docs")


def test_without_documents_it_says_so_and_succeeds(capsys, tmp_path):
    assert bench.main([]) == 0
    assert "skipped: no document given" in capsys.readouterr().out
    assert bench.main([str(tmp_path / "absent.json")]) == 0
    out = capsys.readouterr().out
    assert "not measured:" in out and "absent.json: no such file" in out and "skipped" in out


def test_it_measures_a_document_and_writes_its_section(capsys, tmp_path):
    document = tmp_path / "answers.json"
    document.write_text(json.dumps(DOCUMENT))
    results = tmp_path / "RESULTS.md"
    from benchmarks.run import OTHER_SECTIONS
    results.write_text("# Benchmark results\n\nkept above\n" + OTHER_SECTIONS + "\n## Batch jobs\n\nkept below\n")
    assert bench.main(["--loads", "1", "--seconds", "60", "--output", str(results), str(document),
                       str(tmp_path / "absent.json")]) == 0
    text = results.read_text()
    assert "kept above" in text and "## Batch jobs\n\nkept below" in text and "## Public documents" in text
    operations = len(DOCUMENT["paths"])   # one operation a path
    # every operation is called; the one whose oneOf no value fits alone is the mock's 500
    assert f"| answers.json | 3.0.3 | 0.0 MB | {operations} |" in text
    assert f"| {operations - 1} | {100 * (operations - 1) / operations:.0f}% |" in text
    row = next(line for line in text.splitlines() if line.startswith("| answers.json | 0 |"))
    counts = dict(zip([c for c in bench.CLASSES if c != "ok"], row.strip("|").split("|")[1:]))
    assert int(counts["mock 5xx"]) == 1 and sum(int(v) for v in counts.values()) == 1
    assert "getNever: 500" in text
    assert "| absent.json | | | | | | | not measured: no such file | |" in text
    # and a second run replaces the section instead of adding another
    assert bench.main(["--loads", "1", "--seconds", "60", "--output", str(results), str(document)]) == 0
    assert results.read_text().count("## Public documents") == 1
    capsys.readouterr()

