"""The `dynclient diff | check | lint | spec pin` subcommands, hooked into dynclient/cli.py by `add_commands`.

Exit codes follow the CLI's: 0 fine, 1 what was asked to fail did (breaking
changes with --fail-on, a recorded call that no longer validates, a lint
finding), 2 usage or load errors (raised to cli.main).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Callable

FORMATS = ("text", "json", "markdown")


def add_commands(sub: Any) -> None:
    """Add the subcommands to cli.main's subparsers; each sets `evolve_handler`."""
    raw = argparse.RawDescriptionHelpFormatter

    diff = sub.add_parser("diff", help="what changed between two versions of a document, and what breaks",
                          epilog="examples:\n  dynclient diff openai@2025-04-29 openai@2026-08-21\n"
                                 "  dynclient diff old.yaml new.yaml --format markdown --fail-on breaking",
                          formatter_class=raw)
    diff.add_argument("old", help="the document you use now: a name, a path or a URL")
    diff.add_argument("new", help="the document you consider moving to")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument("--breaking-only", action="store_true", help="list only the breaking changes")
    diff.add_argument("--fail-on", choices=("breaking", "any"),
                      help="exit with 1 when there is a breaking change (or any change)")
    diff.add_argument("--overlay", action="append", default=[], metavar="FILE",
                      help="an overlay applied to both documents (repeatable)")
    diff.set_defaults(evolve_handler=run_diff)

    check = sub.add_parser("check", help="re-validate recorded calls (Client(record=...)) or a cassette's requests "
                                         "and responses (Client(cassette=...)) against a document",
                           epilog="examples:\n  dynclient check openai@2026-08-21 --calls calls.jsonl\n"
                                  "  dynclient check --cassette tests/cassettes/test_x.jsonl --spec openai@2026-08-21",
                           formatter_class=raw)
    check.add_argument("spec", nargs="?", help="the document you consider moving to (or --spec)")
    check.add_argument("--spec", dest="spec_option", metavar="SPEC", help="the document (instead of the argument)")
    check.add_argument("--calls", help="a JSON-lines file written by Client(record=...)")
    check.add_argument("--cassette", help="a cassette written by Client(cassette=...): its requests and its "
                                          "responses are checked")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--overlay", action="append", default=[], metavar="FILE", help="an overlay (repeatable)")
    check.set_defaults(evolve_handler=run_check)

    lint = sub.add_parser("lint", help="defects that break validators, with JSON pointers; a draft overlay mending them",
                          epilog="examples:\n  dynclient lint openai@2026-08-21\n"
                                 "  dynclient lint specs/openai/   # one line per document: operations, repairs, broken\n"
                                 "  dynclient lint openai@2026-08-21 --overlay-out mend.yaml\n"
                                 "  dynclient lint openai@2026-08-21 --overlay mend.yaml   # what is left",
                          formatter_class=raw)
    lint.add_argument("spec", help="a document: a name, a path or a URL (linted as published: no shipped overlay, "
                                   "no repair); or a directory, to survey every .yaml/.yml/.json document in it")
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument("--overlay", action="append", default=[], metavar="FILE",
                      help="lint the document with this overlay applied (repeatable)")
    lint.add_argument("--overlay-out", metavar="FILE",
                      help="write a draft Overlay 1.0 mending what can be mended (JSON if FILE ends in .json, else YAML)")
    lint.add_argument("--no-examples", action="store_true", help="do not validate the examples")
    lint.add_argument("--skip", action="append", default=[], metavar="CODE",
                      help="leave this finding code out of the report and the draft (repeatable)")
    lint.set_defaults(evolve_handler=run_lint)

    spec = sub.add_parser("spec", help="manage named specs (spec pin)", formatter_class=raw,
                          epilog="example:\n  dynclient spec pin https://example.com/openapi.yaml --name myapi@2025-06-01")
    spec_sub = spec.add_subparsers(dest="spec_command", metavar="SUBCOMMAND", required=True)
    pin = spec_sub.add_parser("pin", help="name a document at a URL, pinned by its sha256",
                              epilog="example:\n  dynclient spec pin https://example.com/openapi.yaml --name myapi@2025-06-01\n"
                                     "  dynclient ops myapi@2025-06-01",
                              formatter_class=raw)
    pin.add_argument("url", help="an http(s) URL of an OpenAPI 3.x document")
    pin.add_argument("--name", required=True, help="the name to load it by, e.g. myapi@2025-06-01")
    pin.add_argument("--sources", help="the user sources file (default: $DYNCLIENT_SOURCES or "
                                       "~/.config/dynclient/sources.json)")
    pin.set_defaults(evolve_handler=run_pin)


def load_spec(source: str, overlays: list[str] | None = None) -> Any:
    from ..spec import Spec
    return Spec(source, **({"overlays": overlays} if overlays else {}))


# --- diff ---------------------------------------------------------------------------


def run_diff(args: argparse.Namespace) -> int:
    from .diff import diff
    old, new = load_spec(args.old, args.overlay), load_spec(args.new, args.overlay)
    changes = diff(old, new)
    shown = [c for c in changes if c.breaking] if args.breaking_only else changes
    print(FORMATTERS[args.format](old, new, changes, shown))
    if args.fail_on == "any" and changes or args.fail_on == "breaking" and any(c.breaking for c in changes):
        return 1
    return 0


def _summary(changes: list) -> str:
    breaking = sum(c.breaking for c in changes)
    return f"{len(changes)} change{'s' * (len(changes) != 1)}, {breaking} breaking"


def format_text(old: Any, new: Any, changes: list, shown: list) -> str:
    lines = [f"{old.document.origin} -> {new.document.origin}: {_summary(changes)}"]
    lines += [f"{'BREAKING' if c.breaking else '        '}  {c.message}  [{c.kind} at {c.location}]" for c in shown]
    return "\n".join(lines)


def format_json(old: Any, new: Any, changes: list, shown: list) -> str:
    return json.dumps({"old": old.document.origin, "new": new.document.origin,
                       "changes_total": len(changes), "breaking_total": sum(c.breaking for c in changes),
                       "changes": [c.as_dict() for c in shown]}, indent=1, ensure_ascii=False, default=str)


def format_markdown(old: Any, new: Any, changes: list, shown: list) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"## `{old.document.origin}` -> `{new.document.origin}`", "", _summary(changes), "",
             "| breaking | operation | change | kind | location |", "|---|---|---|---|---|"]
    lines += [f"| {'**yes**' if c.breaking else 'no'} | {cell(c.operation_id)} | {cell(c.message)} | "
              f"{c.kind} | `{cell(c.location)}` |" for c in shown]
    return "\n".join(lines)


FORMATTERS: dict[str, Callable] = {"text": format_text, "json": format_json, "markdown": format_markdown}


# --- lint ---------------------------------------------------------------------------


def run_lint(args: argparse.Namespace) -> int:
    import yaml
    from ..spec import Spec
    from .lint import draft_overlay, lint
    if os.path.isdir(args.spec):
        return survey(args)
    spec = Spec(args.spec, overlays=False, repair=False)
    if args.overlay:
        from .overlay import with_overlays
        spec = Spec(with_overlays(spec.document, spec.document, args.overlay), overlays=False)
    findings = [f for f in lint(spec, check_examples=not args.no_examples) if f.code not in args.skip]
    mendable = sum(bool(f.actions) for f in findings)
    if args.format == "json":
        print(json.dumps({"spec": spec.document.origin, "findings": [f.as_dict() for f in findings]},
                         indent=1, ensure_ascii=False))
    else:
        print(f"{spec.document.origin}: {len(findings)} finding{'s' * (len(findings) != 1)}, "
              f"{mendable} mendable by an overlay")
        for f in findings:
            print(f"{f.code:32} {f.pointer}  {f.message}")
    if args.overlay_out:
        overlay = draft_overlay(spec, f"Mend {spec.title} {spec.version} ({os.path.basename(spec.document.origin)})",
                                skip=frozenset(args.skip))
        with open(args.overlay_out, "w", encoding="utf-8") as file:
            if args.overlay_out.endswith(".json"):   # JSON reads ten times faster than YAML at load time
                json.dump(overlay, file, indent=1, ensure_ascii=False)
                file.write("\n")
            else:
                yaml.safe_dump(overlay, file, sort_keys=False, allow_unicode=True, width=120)
        print(f"wrote {len(overlay['actions'])} actions to {args.overlay_out}")
    return 1 if findings else 0


def survey(args: argparse.Namespace) -> int:
    """`dynclient lint DIR`: one line per document (operations, load-time repairs, operations that
    still cannot be called), to see many versions at once; exit 1 when any is unreadable or broken."""
    import logging
    from ..errors import DynclientError
    from ..schema import SchemaSet, operation_compile_error
    from ..spec import Spec
    logging.getLogger("dynclient").setLevel(logging.ERROR)   # each line counts the repairs; lint FILE lists them
    names = sorted(n for n in os.listdir(args.spec) if n.lower().endswith((".yaml", ".yml", ".json"))
                   and n != "manifest.json")
    rows, totals = [], {"unreadable": 0, "operations": 0, "repairs": 0, "broken": 0}
    for name in names:
        try:
            spec = Spec(os.path.join(args.spec, name), overlays=False)
            schemas, broken = SchemaSet(spec, fast=False), []
            for operation_id in spec.operations:
                try:
                    error = operation_compile_error(schemas, spec.operations[operation_id])
                except DynclientError as exc:   # the operation itself cannot be read
                    error = exc
                if error is not None:
                    broken.append((operation_id, error))
        except DynclientError as exc:
            totals["unreadable"] += 1
            rows.append({"file": name, "error": str(exc)})
            continue
        totals["operations"] += len(spec.operations)
        totals["repairs"] += len(spec.repairs)
        totals["broken"] += len(broken)
        rows.append({"file": name, "openapi": spec.openapi, "operations": len(spec.operations),
                     "repairs": len(spec.repairs), "repair_codes": sorted({r.code for r in spec.repairs}),
                     "broken": [{"operation_id": op, "error": str(error)} for op, error in broken]})
    if args.format == "json":
        print(json.dumps({"directory": args.spec, "documents": rows, "totals": totals}, indent=1, ensure_ascii=False))
    else:
        width = max((len(row["file"]) for row in rows), default=0)
        for row in rows:
            if "error" in row:
                print(f"{row['file']:{width}}  unreadable: {row['error']}")
                continue
            codes = f" ({', '.join(row['repair_codes'])})" if row["repair_codes"] else ""
            print(f"{row['file']:{width}}  {row['operations']:4} operations  {row['repairs']:3} repaired{codes}  "
                  f"{len(row['broken'])} broken" + "".join(f"\n    {b['error']}" for b in row["broken"][:5]))
        print(f"{len(rows)} documents: {len(rows) - totals['unreadable']} readable, {totals['operations']} operations, "
              f"{totals['repairs']} repairs, {totals['broken']} operations still broken")
    return 1 if totals["unreadable"] or totals["broken"] else 0


# --- spec pin -----------------------------------------------------------------------


def run_pin(args: argparse.Namespace) -> int:
    from pathlib import Path
    from ..sources import user_sources_path
    from .pin import pin
    path = Path(args.sources) if args.sources else user_sources_path()
    entry = pin(args.url, args.name, path)
    print(f"pinned {args.name}: {entry['url']} sha256 {entry['sha256']} (in {path})")
    return 0


# --- check ----------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    from ..errors import CassetteError, ConfigError
    from .record import check_calls, read_calls
    source = args.spec_option or args.spec
    if not source or (args.spec_option and args.spec) or bool(args.calls) == bool(args.cassette):
        raise ConfigError("dynclient check needs one document (SPEC or --spec SPEC) and one of --calls FILE "
                          "or --cassette FILE")
    spec = load_spec(source, args.overlay)
    if args.cassette:
        from .cassettes import check_cassette
        try:
            results = check_cassette(spec, args.cassette)
        except CassetteError as exc:   # a file that is not a cassette: a usage error, not a failed check
            raise ConfigError(str(exc)) from None
        what, count = "cassette exchange", sum(r.location != "response" for r in results)
    else:
        results = check_calls(spec, read_calls(args.calls))
        what, count = "recorded call", len(results)
    failed = [r for r in results if not r.ok]
    if args.format == "json":
        print(json.dumps({"spec": spec.document.origin, "calls": count, "failed": len(failed),
                          "results": [r.as_dict() for r in results]}, indent=1, ensure_ascii=False, default=str))
    else:
        checked = "requests and responses " if args.cassette else ""
        print(f"{count} {what}{'s' * (count != 1)} against {spec.document.origin}: "
              f"{len(results) - len(failed)} {checked}pass, {len(failed)} fail")
        for r in failed:
            print(f"FAIL  line {r.line}: {r.reason}")
    return 1 if failed else 0
