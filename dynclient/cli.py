"""The `dynclient` command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dynclient", description="A spec-driven client for OpenAPI 3.x documents.")
    parser.add_argument("--version", action="version", version="dynclient 0.1.0")
    sub = parser.add_subparsers(dest="command")
    ops = sub.add_parser("ops", help="list the operations of a document")
    ops.add_argument("spec")
    args = parser.parse_args(argv)
    if args.command == "ops":
        from .spec import Spec
        for op in Spec(args.spec):
            print(f"{op.operation_id:45} {op.method:7} {op.path}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
