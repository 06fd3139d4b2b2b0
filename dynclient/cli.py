"""The `dynclient` command line.

Exit codes: 0 success, 1 the API answered with an error, 2 usage or validation error.

Every subcommand is a `Command` in `COMMANDS` at the bottom of this file: a
name, help, an example, a function that adds its arguments and one that runs
it. A new subcommand is one more entry there (or `register(Command(...))`
from another module imported before `main` runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE = 0, 1, 2
SPEC_HELP = "document: a name such as openai@2025-04-29, a path or a URL"
PROGRESS_MIN_BYTES = 256 * 1024    # smaller files are done before a progress bar would help


class UsageError(Exception):
    """Bad command-line input: exit code 2, message on stderr."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    example: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None) or getattr(args, "evolve_handler", None)
    if not run:
        parser.print_help()
        return EXIT_USAGE
    from .errors import APIStatusError, DynclientError, RequestError, RunInputError, SpecError
    try:
        return run(args)
    except BrokenPipeError:   # `dynclient ... | head` closed the pipe: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except APIStatusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except (UsageError, RequestError, RunInputError, SpecError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DynclientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        return 130


def console_main() -> int:
    """The `dynclient` command: `main()`, then everything it made is moved out of the collector's
    reach, so the collection at interpreter exit does not walk a loaded document once more (a
    `describe` on 2026-08-21: 0.44 -> 0.35 s, median of 9 processes). Only here: a library, or
    `main()` called in a longer-lived process, must not freeze the heap."""
    status = main()
    import gc
    gc.freeze()
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynclient", description="A spec-driven client for OpenAPI 3.x documents: nothing generated, "
                                      "every call validated.",
        epilog="examples:\n" + "\n".join(f"  {c.example.splitlines()[0]}" for c in COMMANDS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="dynclient 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.description or command.help,
                               epilog="example:\n  " + command.example.replace("\n", "\n  "),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        command.configure(child)
        child.set_defaults(run=command.run)
    from .evolve.commands import add_commands   # diff, check, lint, spec pin (dynclient/evolve)
    add_commands(sub)
    return parser


def register(command: Command) -> None:
    """Add a subcommand (for modules that extend the command line)."""
    COMMANDS.append(command)


# --- small helpers ------------------------------------------------------------------


def _print_json(value: Any) -> None:
    """Pretty on a terminal, one compact line when piped (for jq and friends)."""
    pretty = sys.stdout.isatty()
    print(json.dumps(value, indent=2 if pretty else None, ensure_ascii=False, default=str))


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns   # honours COLUMNS


def _read_json(source: str, what: str) -> Any:
    """JSON from a file (`-` is stdin); a parse error names the file, line and column."""
    text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} {source}: not valid JSON: {exc}") from None


def _operation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help=SPEC_HELP)
    parser.add_argument("operation", help="operationId (see `dynclient ops SPEC`)")


# --- ops ------------------------------------------------------------------------------


def configure_ops(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help=SPEC_HELP)
    parser.add_argument("--tag", help="only operations with this tag (case-insensitive)")
    parser.add_argument("--grep", metavar="WORD", help="only operations whose id, path, summary or tags "
                                                       "contain WORD (case-insensitive)")
    parser.add_argument("--json", action="store_true", help="one JSON object per operation")


def run_ops(args: argparse.Namespace) -> int:
    from .describe import brief
    from .schema import SchemaSet, operation_compile_error
    from .spec import Spec
    spec = Spec(args.spec)
    chosen = [op for op in spec
              if (not args.tag or args.tag.lower() in (t.lower() for t in op.tags))
              and (not args.grep or args.grep.lower() in
                   " ".join([op.operation_id, op.path, op.summary, *op.tags]).lower())]
    schemas = SchemaSet(spec, fast=False)   # translation finds what cannot compile; nothing is compiled
    broken = {op.operation_id: error for op in chosen if (error := operation_compile_error(schemas, op))}
    if args.json:
        for op in chosen:
            error = broken.get(op.operation_id)
            print(json.dumps({"operation_id": op.operation_id, "method": op.method, "path": op.path,
                              "summary": brief(op.summary), "tags": list(op.tags),
                              "deprecated": op.deprecated,
                              "uncallable": {"pointer": error.pointer, "reason": error.reason} if error else None},
                             ensure_ascii=False))
        return EXIT_OK
    if not chosen:
        print(f"no operations match in {spec.title} {spec.version}", file=sys.stderr)
        return EXIT_OK
    hooks = [w for w in spec.webhooks.values() if not args.tag and (
        not args.grep or args.grep.lower() in f"{w.event_type} {w.name} {w.summary}".lower())]
    rows = [(op.operation_id, op.method, op.path,
             (f"[uncallable: {broken[op.operation_id].pointer}] " if op.operation_id in broken else "")
             + ("[deprecated] " if op.deprecated else "") + brief(op.summary or op.description, 120))
            for op in chosen]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    limit = _width() if sys.stdout.isatty() else None   # piped: never cut
    for row in rows:
        text = "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3]
        text = text.rstrip()
        if limit and len(text) > limit:
            text = text[:limit - 1] + "…"
        print(text)
    if broken:
        print(f"\n{len(broken)} operation{'s' * (len(broken) != 1)} cannot be called: a schema they need does not "
              f"compile (`dynclient lint {args.spec}` says why)")
    if hooks:
        print(f"\nwebhooks (events {spec.title} sends back):")
        width = max(len(w.event_type) for w in hooks)
        for hook in hooks:
            print(f"  {hook.event_type.ljust(width)}  {brief(hook.summary, 100)}".rstrip())
    return EXIT_OK


# --- describe -------------------------------------------------------------------------


def configure_describe(parser: argparse.ArgumentParser) -> None:
    _operation_args(parser)
    parser.add_argument("--json", action="store_true", help="the description as JSON data instead of text")
    parser.add_argument("--depth", type=int, default=4, help="levels of nested fields to expand (default 4)")
    parser.add_argument("--width", type=int, help="wrap to this many columns (default: the terminal's, or 80)")
    parser.add_argument("--no-example", action="store_true", help="leave out the example body")


def run_describe(args: argparse.Namespace) -> int:
    from .describe import describe, render_text
    from .spec import Spec
    info = describe(Spec(args.spec), args.operation, max_depth=args.depth, example=not args.no_example)
    if args.json:
        _print_json(info)
    else:
        sys.stdout.write(render_text(info, args.width or _width(), example=not args.no_example))
    return EXIT_OK


# --- call -----------------------------------------------------------------------------


def configure_call(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="+", metavar="SPEC OP",
                        help="the document and the operationId (or only the operationId with --spec)")
    parser.add_argument("--spec", help="the document, when only OP is given (the older form)")
    parser.add_argument("--base-url", help="server base URL (default: the document's first server)")
    parser.add_argument("--body", help="request body as JSON, or @file.json (@- reads stdin)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter, typed by its schema (repeat; repeat a name for an array)")
    parser.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="an extra request header")
    parser.add_argument("--content-type", help="request media type, when the operation accepts several")
    parser.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the token "
                                                              "(default OPENAI_API_KEY); the token is never printed")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the response body to FILE (needed for "
                                                               "binary bodies on a terminal)")
    parser.add_argument("--raw", action="store_true", help="print the status line and response headers "
                                                           "(credentials redacted) before the body")
    parser.add_argument("--timeout", type=float, help="seconds for connect and for each read")
    parser.add_argument("-F", "--form", action="append", default=[], metavar="NAME=VALUE|NAME=@FILE",
                        help="a multipart/form-data field (repeat); @FILE uploads that file, streamed from disk, "
                             "with a progress bar on a terminal for files over 4 MB")


def form_body(fields: list[str], body: Any) -> dict:
    """`-F purpose=batch -F file=@data.jsonl` as a multipart body (files as paths, streamed)."""
    from pathlib import Path
    merged = dict(body) if isinstance(body, dict) else {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep or not name:
            raise UsageError(f"-F takes NAME=VALUE or NAME=@FILE, not {field!r}")
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                raise UsageError(f"-F {name}: no such file {str(path)!r}")
            value = path
        if name in merged:
            merged[name] = [*(merged[name] if isinstance(merged[name], list) else [merged[name]]), value]
        else:
            merged[name] = value
    return merged


class UploadProgress:
    """`uploading 12.0 / 200.0 MB (6%)` on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self.shown = 0.0

    def __call__(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown >= 0.1 or sent == total:
            self.shown = now
            sys.stderr.write(f"\ruploading {sent / 1e6:.1f} / {total / 1e6:.1f} MB ({100 * sent // max(total, 1)}%)")
            if sent == total:
                sys.stderr.write("\n")
            sys.stderr.flush()


UPLOAD_PROGRESS_MIN_BYTES = 4 * 1000 * 1000


def upload_progress(body: Any) -> UploadProgress | None:
    from pathlib import Path
    if not sys.stderr.isatty() or not isinstance(body, dict):
        return None
    files = [v for value in body.values() for v in (value if isinstance(value, list) else [value])
             if isinstance(v, Path)]
    return UploadProgress() if sum(f.stat().st_size for f in files) >= UPLOAD_PROGRESS_MIN_BYTES else None


def call_target(args: argparse.Namespace) -> tuple[str, str]:
    """`call SPEC OP` or `call OP --spec SPEC`: (spec, operation)."""
    target = args.target
    if args.spec and len(target) == 1:
        return args.spec, target[0]
    if not args.spec and len(target) == 2:
        return target[0], target[1]
    raise UsageError("call takes SPEC OP, or OP --spec SPEC")


def api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_env is None:
        return os.environ.get("OPENAI_API_KEY")
    if args.api_key_env not in os.environ:
        raise UsageError(f"--api-key-env: the environment variable {args.api_key_env} is not set")
    return os.environ[args.api_key_env]


def run_call(args: argparse.Namespace) -> int:
    from .client import Client
    from .core.call import MISSING
    from .errors import APIStatusError
    spec, operation = call_target(args)
    client = Client(spec, base_url=args.base_url, api_key=api_key(args))
    body: Any = MISSING
    if args.body is not None:
        body = _read_json(args.body[1:], "--body") if args.body.startswith("@") else _parse_json(args.body)
    content_type = args.content_type
    if args.form:
        body, content_type = form_body(args.form, body), content_type or "multipart/form-data"
    options = dict(params=parameters(client, operation, args.param), headers=_headers(args.header),
                   content_type=content_type, timeout=args.timeout, progress=upload_progress(body))
    try:
        if isinstance(body, dict) and body.get("stream") is True or (args.output and _binary_answer(client, operation)):
            return _run_stream(client, operation, body, options, args)
        result = client.call_raw(operation, body, **options)
    except APIStatusError as exc:
        if args.raw:
            _print_head(client, exc.status, exc.headers)
            _print_body(exc.body, None, "")
        raise
    if args.raw:
        _print_head(client, result.status, result.headers)
    _print_body(result.body, args.output, result.content_type)
    return EXIT_OK


def _binary_answer(client: Any, operation: str) -> bool:
    """True when the operation's success answer is a binary media type (downloads stream to --output)."""
    from .codecs import media_essence
    for status, response in client.operation(operation).responses.items():
        if status.startswith("2"):
            return any(not (media_essence(t) == "application/json" or media_essence(t).startswith("text/")
                            or media_essence(t).endswith("+json")) for t in response.content)
    return False


def _run_stream(client: Any, operation: str, body: Any, options: dict, args: argparse.Namespace) -> int:
    """Events printed one per line as they arrive; a binary body written to --output chunk by chunk."""
    with client.stream(operation, body, **options) as stream:
        if args.raw:
            _print_head(client, stream.status, stream.headers)
        if stream.is_event_stream:
            _print_body(list(stream) if args.output else iter(stream), args.output, stream.content_type)
        elif args.output:
            size = stream.write_to(args.output)
            print(f"wrote {size:,} bytes to {args.output}", file=sys.stderr)
        else:
            _print_body(stream.read(), None, stream.content_type)
    return EXIT_OK


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--body is not valid JSON: {exc}") from None


def _headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"-H takes 'Name: value', not {line!r}")
        headers[name.strip()] = value.strip()
    return headers


def parameters(client: Any, operation_id: str, pairs: list[str]) -> dict:
    """`-p name=value` texts typed by each parameter's schema (so `limit=5` is the integer 5)."""
    from .schema import from_text, schema_kind
    op = client.operation(operation_id)
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise UsageError(f"-p takes NAME=VALUE, not {pair!r}")
        p = op.parameters_by_name.get(name)
        kind, items = None, None
        if p is not None and p.schema is not None:
            root, resolve = client.schemas.translated(p.pointer, "request")
            kind, items = schema_kind(root, resolve)
        if kind == "array":
            item_kind = schema_kind(items, resolve)[0]
            values.setdefault(name, []).append(_json_value(text) if item_kind in ("object", "array")
                                               else from_text(text, item_kind))
        else:
            values[name] = _json_value(text) if kind == "object" else from_text(text, kind)
    return values


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text   # the validator then says what was expected


REDACTED_RESPONSE_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authorization", "cookie"})


def _print_head(client: Any, status: int, headers: Any) -> None:
    from .core.redact import REDACTOR
    hidden = REDACTED_RESPONSE_HEADERS | client.sensitive_headers
    print(f"HTTP {status}")
    for name, value in headers.items():
        print(f"{name}: {'<redacted>' if name.lower() in hidden else REDACTOR.redact(value)}")
    print()
    sys.stdout.flush()


def _print_body(body: Any, output: str | None, content_type: str) -> None:
    from .codecs import Event
    if isinstance(body, (bytes, bytearray)):
        _write_binary(bytes(body), output, content_type)
    elif output:
        text = body if isinstance(body, str) else json.dumps(
            [e.data for e in body] if _is_events(body) else body, ensure_ascii=False, indent=2)
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {output}", file=sys.stderr)
    elif _is_events(body) or (hasattr(body, "__next__") and not isinstance(body, (str, dict, list))):
        for event in body:   # one event per line, flushed as it comes (streams are iterators)
            data = event.data if isinstance(event, Event) else event
            print(json.dumps(data, ensure_ascii=False), flush=True)
    elif isinstance(body, str):
        print(body)
    elif body is not None:
        _print_json(body)


def _is_events(body: Any) -> bool:
    from .codecs import Event
    return isinstance(body, list) and bool(body) and all(isinstance(e, Event) for e in body)


def _write_binary(data: bytes, output: str | None, content_type: str) -> None:
    if output:
        with open(output, "wb") as fh:
            fh.write(data)
        print(f"wrote {len(data)} bytes ({content_type or 'binary'}) to {output}", file=sys.stderr)
    elif sys.stdout.isatty():
        raise UsageError(f"the response is {len(data)} bytes of {content_type or 'binary data'}; "
                         f"not writing that to a terminal: use --output FILE or redirect stdout")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)


# --- validate -------------------------------------------------------------------------


def configure_validate(parser: argparse.ArgumentParser) -> None:
    _operation_args(parser)
    parser.add_argument("--request", metavar="FILE", help="a recorded request body (JSON; - for stdin)")
    parser.add_argument("--response", nargs=2, metavar=("STATUS", "FILE"),
                        help="a recorded response body and its status (JSON, or an SSE stream for "
                             "text/event-stream)")
    parser.add_argument("--content-type", help="media type of the payload (default: the first declared)")


def run_validate(args: argparse.Namespace) -> int:
    from .core.call import Bound, choose_request_media, validate_request
    from .errors import RequestValidationError
    from .schema import SchemaSet
    from .spec import Spec
    if not args.request and not args.response:
        raise UsageError("validate needs --request FILE, --response STATUS FILE, or both")
    schemas = SchemaSet(Spec(args.spec))
    op = schemas.spec.operations.get(args.operation)
    if op is None:
        from .describe import find_operation
        find_operation(schemas.spec, args.operation)   # raises UnknownOperationError with suggestions
    failed = False
    if args.request:
        body = _read_json(args.request, "--request")
        media = choose_request_media(op, body, args.content_type)
        try:
            validate_request(schemas, op, Bound(), media, body)
            print(f"ok: {args.request}: a valid {op.operation_id} request body"
                  + (f" ({media.content_type})" if media else ""))
        except RequestValidationError as exc:
            failed = True
            _report(args.request, str(exc), exc.errors)
    if args.response:
        status, path = args.response
        problems = response_problems(schemas, op, status, path, args.content_type)
        for message in problems:
            _report(path, f"{op.operation_id}: response {status}: {message}", [])
        if problems:
            failed = True
        else:
            print(f"ok: {path}: a valid {op.operation_id} response {status}")
    return EXIT_USAGE if failed else EXIT_OK


def _report(path: str, message: str, others: list[str]) -> None:
    print(f"{path}: {message}", file=sys.stderr)
    for other in others[1:6]:
        print(f"  also {other}", file=sys.stderr)


def response_problems(schemas: Any, op: Any, status_text: str, path: str, content_type: str | None) -> list[str]:
    """Problems of a recorded response; an SSE file is checked event by event."""
    from . import codecs
    from .core.call import response_problem
    if not status_text.isdigit():
        raise UsageError(f"--response takes STATUS FILE, and {status_text!r} is not a status code")
    status = int(status_text)
    response = op.response_for(status)
    declared = list(response.content) if response else []
    content_type = content_type or next((c for c in declared if "json" in c), declared[0] if declared else "")
    if codecs.media_essence(content_type) == "text/event-stream":
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
        media = response.content[codecs.match_media(response.content, content_type)]
        problems = []
        for number, event in enumerate(codecs.decode_sse(data, content_type), 1):
            violation = schemas.compiled(media.pointer, "response").violation(event.data) \
                if media.schema is not None else None
            if violation:
                problems.append(f"event {number} {violation.pointer or '/'}: {violation.message}")
        return problems
    body = _read_json(path, "--response")
    problem = response_problem(schemas, op, status, body, content_type, True)
    return [f"{problem[0] or '/'}: {problem[1]}"] if problem else []


# --- run ------------------------------------------------------------------------------


def configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help=SPEC_HELP)
    parser.add_argument("requests", help="JSONL: one request a line, in the Batch API's form (custom_id, method, "
                                         "url, body) or as custom_id, operation, body, params")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the results file (JSONL), appended to; the same command again resumes")
    parser.add_argument("--base-url", help="server base URL (default: the document's first server)")
    parser.add_argument("--concurrency", type=int, default=32, metavar="N", help="requests in flight (default 32)")
    parser.add_argument("--max-requests-per-minute", type=float, metavar="R",
                        help="a budget of requests per minute (default: what the server's rate-limit headers say)")
    parser.add_argument("--max-tokens-per-minute", type=float, metavar="T",
                        help="a budget of tokens per minute, each request's estimated from its body")
    parser.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the token "
                                                              "(default OPENAI_API_KEY); the token is never printed")
    parser.add_argument("--timeout", type=float, help="seconds for connect and for each read")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    parser.add_argument("--no-read-ahead", action="store_true",
                        help="read the input in this process (by default, an input of 1,000 lines or more to send "
                             "is read and validated by a second process, on Linux)")


def run_run(args: argparse.Namespace) -> int:
    from .client import Client
    from .errors import RunStoppedError
    resume = resume_command(args)
    options: dict[str, Any] = {"timeout": args.timeout} if args.timeout else {}
    client = Client(args.spec, base_url=args.base_url, api_key=api_key(args), **options)
    try:
        summary = client.run(args.requests, out=args.output, concurrency=args.concurrency,
                             requests_per_minute=args.max_requests_per_minute,
                             tokens_per_minute=args.max_tokens_per_minute,
                             progress=False if args.no_progress else True,
                             read_ahead=False if args.no_read_ahead else None)
    except RunStoppedError as exc:
        print(f"stopped: {exc}\nresume with:\n  {resume}", file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished request is in {args.output}; resume with:\n  {resume}",
              file=sys.stderr)
        return 130
    finally:
        client.close()
    print(summary)
    return EXIT_OK if summary.failed + summary.invalid == 0 else EXIT_API_ERROR


def resume_command(args: argparse.Namespace) -> str:
    import shlex
    words = ["dynclient", "run", args.spec, args.requests, "-o", args.output]
    for flag, value in (("--base-url", args.base_url), ("--concurrency", args.concurrency),
                        ("--max-requests-per-minute", args.max_requests_per_minute),
                        ("--max-tokens-per-minute", args.max_tokens_per_minute),
                        ("--api-key-env", args.api_key_env), ("--timeout", args.timeout)):
        if value is not None:
            words += [flag, str(value)]
    if args.no_read_ahead:
        words.append("--no-read-ahead")
    return " ".join(shlex.quote(word) for word in words)


# --- batch ----------------------------------------------------------------------------


def configure_batch(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="batch_command", metavar="validate|build|submit|status|collect|cancel",
                                required=True)
    check = sub.add_parser("validate", help="check every line of a Batch API input file",
                           description="Check each line of an OpenAI Batch API input file (custom_id, method, "
                                       "url, body): its operation is found by method and path, and its body is "
                                       "validated. Bad lines are listed with their line numbers; the exit code "
                                       "is 2 if there is any.",
                           epilog="example:\n  dynclient batch validate openai@2025-04-29 requests.jsonl",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("spec", help=SPEC_HELP)
    check.add_argument("file", help="the JSONL input file")
    check.add_argument("--no-progress", action="store_true", help="no progress indicator on a terminal")
    build = sub.add_parser("build", help="turn a JSONL file of bodies into a valid Batch API input file",
                           description="Validate each body (one JSON object per line) against the operation "
                                       "and write the Batch API input file; nothing is written if any body is "
                                       "invalid.",
                           epilog="example:\n  dynclient batch build openai@2025-04-29 createChatCompletion "
                                  "bodies.jsonl -o requests.jsonl --id-field id",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _operation_args(build)
    build.add_argument("bodies", help="JSONL file: one request body per line")
    build.add_argument("-o", "--output", required=True, metavar="FILE", help="the batch input file to write")
    build.add_argument("--id-field", metavar="NAME",
                       help="take each custom_id from this body field (it is removed from the body)")
    configure_batch_workflow(sub)
    build.add_argument("--id-prefix", default="request-",
                       help="custom_id prefix before the line number, without --id-field (default request-)")


def _jsonl(path: str, progress: "Progress | None" = None) -> Iterable[tuple[int, str]]:
    with (open(0, "rb", closefd=False) if path == "-" else open(path, "rb")) as fh:
        for number, raw in enumerate(fh, 1):
            if progress:
                progress.advance(number, len(raw))
            yield number, raw.decode("utf-8", "replace").rstrip("\r\n")


class Progress:
    """A tqdm bar over the file's bytes on stderr ("validating"); problems printed above it."""

    def __init__(self, total_bytes: int):
        from tqdm import tqdm
        self.bar = tqdm(total=max(total_bytes, 1), unit="B", unit_scale=True, desc="validating", file=sys.stderr,
                        dynamic_ncols=True, mininterval=0.1)
        self.line = 0

    def advance(self, line: int, size: int) -> None:
        self.line = line
        self.bar.update(size)

    def write(self, text: str) -> None:
        self.bar.write(text, file=sys.stdout)

    def finish(self) -> None:
        self.bar.close()


def run_batch_validate(args: argparse.Namespace) -> int:
    from .batch import BatchChecker
    from .spec import Spec
    checker = BatchChecker(Spec(args.spec))
    size = os.path.getsize(args.file) if args.file != "-" else 0
    progress = Progress(size) if (sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES
                                  and not args.no_progress) else None
    bad_lines, total = 0, 0
    try:
        for number, text in _jsonl(args.file, progress):
            total = number
            problems = checker.check(number, text)
            bad_lines += bool(problems)
            for problem in problems:
                if progress:
                    progress.write(str(problem))
                else:
                    print(problem)
    finally:
        if progress:
            progress.finish()
    summary = f"{args.file}: {total} line{'s' if total != 1 else ''}, {bad_lines} bad"
    print(summary if bad_lines else f"ok: {summary}", file=sys.stderr)
    return EXIT_USAGE if bad_lines else EXIT_OK


def run_batch_build(args: argparse.Namespace) -> int:
    from .batch import build_lines
    from .spec import Spec
    lines, problems = [], []
    for _, line, found in build_lines(Spec(args.spec), args.operation, _jsonl(args.bodies),
                                      id_field=args.id_field, id_prefix=args.id_prefix):
        problems += found
        if line is not None:
            lines.append(json.dumps(line, ensure_ascii=False))
    for problem in problems:
        print(f"{args.bodies}: {problem}", file=sys.stderr)
    if problems:
        print(f"error: {len(problems)} problem(s); {args.output} not written", file=sys.stderr)
        return EXIT_USAGE
    tmp = args.output + ".part"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    os.replace(tmp, args.output)
    print(f"wrote {len(lines)} requests to {args.output}", file=sys.stderr)
    return EXIT_OK


def configure_batch_workflow(sub: Any) -> None:
    def common(child: argparse.ArgumentParser) -> None:
        child.add_argument("spec", help=SPEC_HELP)
        child.add_argument("--manifest", required=True, metavar="FILE", help="the job's manifest (JSON)")
        child.add_argument("--base-url", help="server base URL (default: the document's first server)")
        child.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the token "
                                                                 "(default OPENAI_API_KEY); never printed")
    submit = sub.add_parser("submit", help="validate, split, upload and create the batches of a job",
                            description="Validate every line (the input of `dynclient run`), split the requests "
                                        "within the Batch API's limits, upload each part and create its batch, "
                                        "recording each step in the manifest; run again to finish an "
                                        "interrupted submit (nothing is uploaded or created twice).",
                            epilog="example:\n  dynclient batch submit openai@2025-04-29 requests.jsonl "
                                   "--manifest job.json --base-url http://127.0.0.1:8080/v1",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    common(submit)
    submit.add_argument("requests", help="JSONL, as for `dynclient run`")
    submit.add_argument("--completion-window", default="24h")
    submit.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="a batch metadata pair")
    submit.add_argument("--skip-invalid", action="store_true",
                        help="submit the valid lines and write the invalid ones to --rejects")
    submit.add_argument("--rejects", metavar="FILE", help="where --skip-invalid writes (default MANIFEST.rejects.jsonl)")
    raw = argparse.RawDescriptionHelpFormatter
    status = sub.add_parser("status", help="the status and request counts of each part of a job",
                            epilog="example:\n  dynclient batch status openai@2025-04-29 --manifest job.json --watch",
                            formatter_class=raw)
    common(status)
    status.add_argument("--watch", action="store_true", help="poll (backing off) until every part has ended")
    status.add_argument("--interval", type=float, default=2.0, help="first polling interval in seconds (default 2)")
    collect = sub.add_parser("collect", help="download, validate and merge the answers in input order",
                             epilog="example:\n  dynclient batch collect openai@2025-04-29 --manifest job.json "
                                    "-o results.jsonl", formatter_class=raw)
    common(collect)
    collect.add_argument("-o", "--output", required=True, metavar="FILE", help="the results file (run's format)")
    collect.add_argument("--retry", metavar="FILE", help="the requests to send again (default: retry.jsonl beside "
                                                         "the results)")
    cancel = sub.add_parser("cancel", help="cancel every part of a job that has not ended",
                            epilog="example:\n  dynclient batch cancel openai@2025-04-29 --manifest job.json",
                            formatter_class=raw)
    common(cancel)


def _batch_client(args: argparse.Namespace) -> Any:
    from .client import Client
    return Client(args.spec, base_url=args.base_url, api_key=api_key(args))


def _print_parts(parts: list[dict]) -> None:
    for part in parts:
        counts = part.get("request_counts") or {}
        print(f"part {part['index']}: {part.get('batch_id') or '-'} {part.get('status') or 'not created'} "
              f"{counts.get('completed') or 0}/{counts.get('total') or part['requests']} completed, "
              f"{counts.get('failed') or 0} failed ({part['endpoint']}, lines {part['first_line']}-{part['last_line']})")


def run_batch_submit(args: argparse.Namespace) -> int:
    metadata = {}
    for pair in args.metadata:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata takes KEY=VALUE, not {pair!r}")
        metadata[key] = value
    job = _batch_client(args).batch.submit(args.requests, manifest=args.manifest,
                                           completion_window=args.completion_window, metadata=metadata,
                                           skip_invalid=args.skip_invalid, rejects=args.rejects)
    _print_parts(job["parts"])
    rejected = job["input"]["rejected"]
    print(f"submitted {job['input']['requests']:,} requests in {len(job['parts'])} batch(es)"
          + (f"; {rejected:,} invalid lines in {job['input']['rejects']}" if rejected else "")
          + f" -> {args.manifest}")
    return EXIT_OK


def run_batch_status(args: argparse.Namespace) -> int:
    workflow = _batch_client(args).batch
    parts = workflow.watch(args.manifest, interval=args.interval) if args.watch else workflow.status(args.manifest)
    _print_parts(parts)
    return EXIT_OK


def run_batch_collect(args: argparse.Namespace) -> int:
    summary = _batch_client(args).batch.collect(args.manifest, out=args.output, retry=args.retry)
    for custom_id, pointer, message in summary.invalid_output[:20]:
        print(f"{custom_id}: answer outside the document at {pointer}: {message}", file=sys.stderr)
    print(summary)
    return EXIT_OK if summary.failed == 0 and summary.to_retry == 0 else EXIT_API_ERROR


def run_batch_cancel(args: argparse.Namespace) -> int:
    _print_parts(_batch_client(args).batch.cancel(args.manifest))
    return EXIT_OK


BATCH_COMMANDS = {"validate": run_batch_validate, "build": run_batch_build, "submit": run_batch_submit,
                  "status": run_batch_status, "collect": run_batch_collect, "cancel": run_batch_cancel}


# --- mock and demo --------------------------------------------------------------------


def configure_mock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help=SPEC_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--no-auth", action="store_true", help="do not require credentials")
    parser.add_argument("--override", action="append", default=[], type=_override, metavar="OP=JSON",
                        help="merge this JSON object into every answer of operation OP, e.g. "
                             "'getRun={\"status\": \"completed\"}' (repeatable)")
    parser.add_argument("--max-body-bytes", type=_positive_int, default=512 * 1024 * 1024, metavar="N",
                        help="refuse a request body larger than this with 413 (default 512 MiB)")
    parser.add_argument("--read-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="close a connection that sends nothing for this long (default 30)")
    parser.add_argument("--webhook-url", metavar="URL",
                        help="POST the document's webhook events there, signed, when mock state makes them due "
                             "(a batch whose status becomes completed sends batch.completed)")
    parser.add_argument("--webhook-secret", metavar="SECRET", default=os.environ.get("DYNCLIENT_WEBHOOK_SECRET"),
                        help="the secret the events are signed with (whsec_... or text; default "
                             "$DYNCLIENT_WEBHOOK_SECRET)")
    parser.add_argument("--batch-seconds", type=_seconds, default=0.0, metavar="SECONDS",
                        help="how long a batch takes from creation to completed: validating, in_progress with "
                             "growing request_counts, finalizing (default 0: done at the first retrieve)")
    parser.add_argument("--batch-window-seconds", type=_seconds, default=None, metavar="SECONDS",
                        help="a batch's completion window, in place of its completion_window ('24h'): a batch "
                             "still running then is expired")
    parser.add_argument("--strict-ids", action="store_true",
                        help="answer 404 for an id the mock never created (default: an id never seen stands for "
                             "an object made elsewhere, made from the document on first use and kept)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < 10 ** 7:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 10,000,000 seconds")
    return value


def _override(text: str) -> tuple[str, dict]:
    from .testing.overrides import parse_override
    try:
        return parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_mock(args: argparse.Namespace) -> int:
    from .testing.mock import MockServer
    from .testing.overrides import deep_merge
    overrides: dict[str, dict] = {}
    for operation_id, value in args.override:   # a repeated OP merges, the later over the earlier
        overrides[operation_id] = deep_merge(overrides.get(operation_id, {}), value)
    if args.webhook_url and not args.webhook_secret:
        raise UsageError("--webhook-url needs --webhook-secret (or $DYNCLIENT_WEBHOOK_SECRET)")
    server = MockServer(args.spec, args.host, args.port, require_auth=not args.no_auth, overrides=overrides,
                        max_body_bytes=args.max_body_bytes, read_timeout=args.read_timeout,
                        webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
                        batch_seconds=args.batch_seconds, batch_window_seconds=args.batch_window_seconds or None,
                        strict_ids=args.strict_ids)
    spec = server.app.spec
    overridden = f"; answers of {', '.join(overrides)} overridden" if overrides else ""
    if args.webhook_url:
        overridden += f"; webhook events to {args.webhook_url}"
    print(f"dynclient mock: {spec.title} {spec.version} ({len(spec.operations)} operations{overridden}) "
          f"at {server.base_url}", flush=True)   # the URL last: scripts read it from there
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        server.app.batches.close()   # the uploaded and batch files
    return EXIT_OK


def configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", default=None, help=SPEC_HELP + " (default: the catalogue's default)")


def run_demo(args: argparse.Namespace) -> int:
    from . import Client, RequestValidationError
    from .sources import default_name
    from .testing.mock import MockServer
    source = args.spec or default_name()
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
    return EXIT_OK


# --- the subcommands ------------------------------------------------------------------
# Extra subcommands (diff, lint, check, ...) are added here: one Command each.

# --- webhooks -------------------------------------------------------------------------


def configure_webhooks(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="webhooks_command", required=True, metavar="listen")
    listen = sub.add_parser("listen", help="receive webhooks, verify and validate them, and print each event")
    listen.add_argument("spec", help=SPEC_HELP)
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    listen.add_argument("--port", type=int, default=8081, help="port (default 8081; 0 picks a free one)")
    listen.add_argument("--secret", default=os.environ.get("OPENAI_WEBHOOK_SECRET"),
                        help="the webhook secret (whsec_...; default $OPENAI_WEBHOOK_SECRET); never printed")
    listen.add_argument("--tolerance", type=int, default=300, metavar="SECONDS",
                        help="how far from now a webhook's timestamp may be (default 300)")


def run_webhooks(args: argparse.Namespace) -> int:
    """`dynclient webhooks listen`: a development endpoint that prints each verified, validated event."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from .webhooks import Webhooks
    if not args.secret:
        raise UsageError("give --secret (or set OPENAI_WEBHOOK_SECRET)")
    hooks = Webhooks(args.spec, args.secret, tolerance=args.tolerance, seen=True)

    @hooks.on("*")
    def show(event: dict) -> None:
        print(json.dumps(event, ensure_ascii=False, separators=(",", ":")), flush=True)

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *arguments: object) -> None:   # the events are the output
            pass

    server = make_server(args.host, args.port, hooks.wsgi_app(), handler_class=Quiet)
    print(f"dynclient webhooks: {len(hooks.spec.webhooks)} event types of {hooks.spec.title} "
          f"{hooks.spec.version}; listening at http://{args.host}:{server.server_port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


COMMANDS: list[Command] = [
    Command("demo", "run the client against the built-in mock server (no API key, no network)",
            "dynclient demo --spec openai@2026-08-21", configure_demo, run_demo,
            "Start the mock server on a free loopback port for a document (the default is the catalogue's), "
            "then create an assistant, list a page of assistants and make a chat completion through the "
            "client, validated both ways."),
    Command("ops", "list the operations of a document as a table",
            "dynclient ops openai@2025-04-29 --grep assistant", configure_ops, run_ops,
            "List operations: id, method, path and summary; deprecated ones are marked."),
    Command("describe", "show what an operation takes and returns",
            "dynclient describe openai@2025-04-29 createChatCompletion", configure_describe, run_describe,
            "Method and path, parameters, the request body's fields as a tree (required fields marked *), "
            "an example body that validates, and the responses in brief."),
    Command("call", "call one operation and print the validated result",
            "dynclient call openai@2025-04-29 createAssistant --base-url http://127.0.0.1:8080/v1 "
            "--body '{\"model\": \"gpt-4o\"}'\n"
            "dynclient call openai@2025-04-29 listAssistants -p limit=5 -p order=desc --raw\n"
            "dynclient call createSpeech --spec openai@2025-04-29 --body @speech.json -o speech.mp3",
            configure_call, run_call,
            "Bind, validate, send and validate the answer. JSON is pretty on a terminal and compact when "
            "piped; event streams print one event per line; binary bodies need --output FILE on a terminal. "
            "The token comes from OPENAI_API_KEY (or --api-key-env NAME) and is never printed. Exit codes: "
            "0 success, 1 API error (status and message on stderr), 2 usage or validation error (the field "
            "on stderr)."),
    Command("validate", "validate a recorded request or response payload, without a server",
            "dynclient validate openai@2025-04-29 createChatCompletion --request body.json "
            "--response 200 answer.json", configure_validate, run_validate,
            "Check recorded payloads against the document (for your own CI). Exit code 0 when valid, 2 "
            "otherwise, with the JSON pointer of the failing field on stderr."),
    Command("batch", "OpenAI Batch API jobs: validate or build input files; submit, status, collect, cancel",
            "dynclient batch validate openai@2025-04-29 requests.jsonl\n"
            "dynclient batch build openai@2025-04-29 createChatCompletion bodies.jsonl -o requests.jsonl",
            configure_batch, lambda args: BATCH_COMMANDS[args.batch_command](args)),
    Command("run", "send many requests from a JSONL file: validated, rate-limited, resumable",
            "dynclient run openai@2025-04-29 requests.jsonl -o results.jsonl --base-url http://127.0.0.1:8080/v1 "
            "--concurrency 64", configure_run, run_run,
            "Validate every line, send the valid ones (concurrency and rate limits: your budgets and the "
            "server's x-ratelimit headers; a 429 pauses the whole run), and append one result line per "
            "request to the output as it finishes. The same command again resumes: requests that have a "
            "result are skipped. Exit codes: 0 every request succeeded, 1 some failed or were invalid (see "
            "the results), 2 the input cannot be run (duplicate or missing custom_ids), 130 interrupted."),
    Command("mock", "serve a mock of any OpenAPI 3.x document",
            "dynclient mock openai@2025-04-29 --port 8080\n"
            "dynclient mock openai@2025-04-29 --override 'getRun={\"status\": \"completed\"}'\n"
            "dynclient mock openai@2025-04-29 --batch-seconds 10 --batch-window-seconds 5\n"
            "dynclient mock openai@2026-08-21 --webhook-url http://127.0.0.1:8081/ --webhook-secret whsec_...",
            configure_mock, run_mock),
    Command("webhooks", "receive the events an API sends back: verified, validated, printed",
            "dynclient webhooks listen openai@2026-08-21 --port 8081 --secret whsec_...",
            configure_webhooks, run_webhooks,
            "Listen for webhooks (Standard Webhooks signatures, as OpenAI sends them), verify each, check it "
            "against the document's `webhooks`, and print each event as one JSON line; refused ones are "
            "logged with the reason, and answered 400."),
]


if __name__ == "__main__":
    sys.exit(main())
