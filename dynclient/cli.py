"""The `dynclient` command line.

Exit codes: 0 success, 1 the API answered with an error, 2 usage or validation error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

EXAMPLES = """examples:
  dynclient demo
  dynclient mock openai@2025-04-29 --port 8080
  dynclient call createAssistant --spec openai@2025-04-29 --base-url http://127.0.0.1:8080/v1 \\
      --body '{"model": "gpt-4o"}'
  dynclient call listAssistants --spec openai@2025-04-29 -p limit=5 -p order=desc
  dynclient ops openai@2025-04-29
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dynclient", description="A spec-driven client for OpenAPI 3.x documents: nothing generated, "
                                      "every call validated.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="dynclient 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the client against the built-in mock server (no API key, no network)",
                          description="Start the mock server on a free loopback port for a document (the default "
                                      "is openai@2025-04-29), then create an assistant, list a page of assistants "
                                      "and make a chat completion through the client, validated both ways.",
                          epilog="example:\n  dynclient demo --spec openai@2026-08-21",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--spec", default=None, help="document: a name from spec/sources.json, a path or a URL")

    mock = sub.add_parser("mock", help="serve a mock of any OpenAPI 3.x document",
                          epilog="example:\n  dynclient mock openai@2025-04-29 --port 8080",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    mock.add_argument("spec", help="document: a name from spec/sources.json, a path or a URL")
    mock.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    mock.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    mock.add_argument("--no-auth", action="store_true", help="do not require credentials")

    call = sub.add_parser("call", help="call one operation and print the validated result",
                          epilog='example:\n  dynclient call createAssistant --spec openai@2025-04-29 '
                                 '--base-url http://127.0.0.1:8080/v1 --body \'{"model": "gpt-4o"}\'',
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    call.add_argument("operation", help="operationId")
    call.add_argument("--spec", required=True, help="document: a name, a path or a URL")
    call.add_argument("--base-url", help="server base URL (default: the document's first server)")
    call.add_argument("--body", help="request body as JSON, or @file.json")
    call.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                      help="a parameter (repeat for several; repeat a name for an array)")
    call.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="an extra header")
    call.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the token")
    call.add_argument("--output", help="write a binary response to this file")

    ops = sub.add_parser("ops", help="list the operations of a document",
                         epilog="example:\n  dynclient ops openai@2025-04-29",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    ops.add_argument("spec")
    from .evolve.commands import add_commands   # diff, check, lint, spec pin (dynclient/evolve)
    add_commands(sub)

    args = parser.parse_args(argv)
    from .errors import APIStatusError, DynclientError, RequestError, SpecError
    try:
        if getattr(args, "evolve_handler", None):
            return args.evolve_handler(args)
        if args.command == "demo":
            return run_demo(args.spec)
        if args.command == "mock":
            return run_mock(args)
        if args.command == "call":
            return run_call(args)
        if args.command == "ops":
            return run_ops(args.spec)
    except APIStatusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (RequestError, SpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DynclientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:   # `dynclient ... | head` closed the pipe: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    parser.print_help()
    return 2


def _print(value: Any) -> None:
    pretty = sys.stdout.isatty()
    print(json.dumps(value, indent=2 if pretty else None, ensure_ascii=False, default=str))


def run_ops(spec_source: str) -> int:
    from .spec import Spec
    for op in Spec(spec_source):
        mark = " (deprecated)" if op.deprecated else ""
        print(f"{op.operation_id:45} {op.method:7} {op.path}  {op.summary}{mark}".rstrip())
    return 0


def run_mock(args: argparse.Namespace) -> int:
    from .testing.mock import MockServer
    server = MockServer(args.spec, args.host, args.port, require_auth=not args.no_auth)
    spec = server.app.spec
    print(f"dynclient mock: {spec.title} {spec.version} ({len(spec.operations)} operations) "
          f"at {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


def _parameters(client: Any, operation_id: str, pairs: list[str]) -> dict:
    """`-p name=value` texts typed by each parameter's schema (so `limit=5` is the integer 5)."""
    from .schema import from_text, schema_kind
    op = client.operation(operation_id)
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"-p takes NAME=VALUE, not {pair!r}")
        p = op.parameters_by_name.get(name)
        kind, items = (None, None)
        if p is not None and p.schema is not None:
            root, resolve = client.schemas.translated(p.pointer, "request")
            kind, items = schema_kind(root, resolve)
            if kind == "array":
                values.setdefault(name, []).append(from_text(text, schema_kind(items, resolve)[0]))
                continue
        values[name] = from_text(text, kind)
    return values


def run_call(args: argparse.Namespace) -> int:
    from .client import MISSING, Client
    client = Client(args.spec, base_url=args.base_url, api_key=os.environ.get(args.api_key_env))
    body: Any = MISSING
    if args.body is not None:
        text = open(args.body[1:], encoding="utf-8").read() if args.body.startswith("@") else args.body
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"--body is not valid JSON: {exc}") from None
    headers = {}
    for line in args.header:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"-H takes 'Name: value', not {line!r}")
        headers[name.strip()] = value.strip()
    result = client.call(args.operation, body, params=_parameters(client, args.operation, args.param),
                         headers=headers)
    if isinstance(result, bytes):
        if args.output:
            with open(args.output, "wb") as fh:
                fh.write(result)
            print(f"wrote {len(result)} bytes to {args.output}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(result)
    elif isinstance(result, list) and result and hasattr(result[0], "data"):
        for event in result:
            print(json.dumps(event.data, ensure_ascii=False))
    else:
        _print(result)
    return 0


def run_demo(spec_source: str | None) -> int:
    from . import Client, RequestValidationError
    from .sources import default_name
    from .testing.mock import MockServer
    source = spec_source or default_name()
    with MockServer(source) as server:
        spec = server.app.spec
        print(f"Mock server: {spec.title} {spec.version} ({len(spec.operations)} operations, "
              f"OpenAPI {spec.openapi}) at {server.base_url}\n")
        client = Client(spec, base_url=server.base_url, api_key="sk-demo-not-a-real-key")
        print("createAssistant ->")
        assistant = client.call("createAssistant", {"model": "gpt-4o", "name": "Math Tutor",
                                                    "instructions": "You are a personal math tutor."})
        print(json.dumps(assistant, indent=2))
        print("\nlistAssistants(limit=5, order='desc') ->")
        print(json.dumps(client.call("listAssistants", limit=5, order="desc"), indent=2))
        print("\ncreateChatCompletion ->")
        chat = client.call("createChatCompletion", {
            "model": "gpt-4o", "messages": [{"role": "user", "content": "What is 2 + 2?"}]})
        print(json.dumps(chat, indent=2))
        print("\nAn invalid request is stopped before a byte is sent:")
        try:
            client.call("createChatCompletion", {"model": "gpt-4o", "messages": [{"role": "usr", "content": "hi"}]})
        except RequestValidationError as exc:
            print(f"  RequestValidationError: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
