"""A personal finance assistant on OpenAI's Assistants API (v2), through dynclient.

    python examples/financial_assistant.py                       # mock server when no key is set
    OPENAI_API_KEY=sk-... python examples/financial_assistant.py --question "Can I afford a $900 bike?"

Creates an assistant with the code_interpreter tool, a thread, a user message
about a budget and a run; polls the run until it ends (bounded by --timeout),
then prints the assistant's answer. Every call is checked against OpenAI's
document before it is sent, and every answer after it arrives. Settings come
from arguments > environment > dynclient.toml (see the README).

Exit status: 0 when the run completed, 1 when it ended any other way or the
server failed, 2 for a bad setting or a request refused before sending.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import dynclient
from _connect import connect, exit_code_for

INSTRUCTIONS = ("You are a personal finance assistant. Work out budgets with code so that every number is "
                "exact, show the arithmetic in a short table, and explain the result in plain words. "
                "Do not recommend specific investments.")
QUESTION = ("My monthly take-home pay is $4,200. Rent is $1,500, groceries $450, transport $180, utilities "
            "$160 and subscriptions $60. I want a $6,000 emergency fund within 12 months. Draft a monthly "
            "budget and tell me whether that goal is realistic.")
BETA = {"OpenAI-Beta": "assistants=v2"}

STILL_GOING = frozenset({"queued", "in_progress", "cancelling"})
# How each way a run can stop is told to the user; a status not listed here is reported as it is.
OUTCOMES = {
    "completed": "the run completed",
    "requires_action": "the run is waiting for tool outputs (requires_action), which this example never asks for",
    "failed": "the run failed",
    "cancelled": "the run was cancelled",
    "expired": "the run expired before it finished",
    "incomplete": "the run ended incomplete",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A personal finance assistant (Assistants API v2) via dynclient.")
    parser.add_argument("--question", default=QUESTION, help="what to ask (default: a monthly budget question)")
    parser.add_argument("--model", default="gpt-4o", help="model for the assistant (default gpt-4o)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up polling the run after this many seconds (default 120; 5 against the mock)")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls (default 1)")
    parser.add_argument("--config", default=None, help="a dynclient.toml to read (default ./dynclient.toml)")
    parser.add_argument("--keep", action="store_true", help="keep the assistant and the thread afterwards")
    args = parser.parse_args(argv)
    try:
        with connect(args.config) as (client, mock):
            timeout = args.timeout if args.timeout is not None else (5.0 if mock else 120.0)
            return converse(client.with_options(headers=BETA), args, timeout)
    except dynclient.DynclientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)


def converse(client: dynclient.Client, args: argparse.Namespace, timeout: float) -> int:
    assistant = client.call("createAssistant", {
        "model": args.model, "name": "Personal finance assistant", "instructions": INSTRUCTIONS,
        "tools": [{"type": "code_interpreter"}]})
    print(f"assistant: {assistant['id']}")
    thread = client.call("createThread", {})
    print(f"thread: {thread['id']}")
    try:
        message = client.call("createMessage", {"role": "user", "content": args.question}, thread_id=thread["id"])
        print(f"message: {message['id']}")
        run = client.call("createRun", {"assistant_id": assistant["id"]}, thread_id=thread["id"])
        print(f"run: {run['id']} ({run['status']})", flush=True)
        run, timed_out = wait_for_run(client, thread["id"], run, timeout, args.poll_interval)
        print(f"outcome: {describe(run, timed_out, timeout)}")
        if timed_out:
            cancel(client, thread["id"], run)
        print_answer(client, thread["id"], run)
        return 0 if run["status"] == "completed" else 1
    finally:
        if not args.keep:
            clean_up(client, assistant["id"], thread["id"])


def wait_for_run(client: dynclient.Client, thread_id: str, run: dict, timeout: float,
                 interval: float) -> tuple[dict, bool]:
    """Poll getRun until the run stops or `timeout` seconds pass; (last run seen, timed out?)."""
    deadline = time.monotonic() + timeout
    while run["status"] in STILL_GOING:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return run, True
        time.sleep(min(interval, remaining))
        previous = run["status"]
        run = client.call("getRun", thread_id=thread_id, run_id=run["id"])
        if run["status"] != previous:
            print(f"run status: {previous} -> {run['status']}", flush=True)
    return run, False


def describe(run: dict, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"the run was still {run['status']} after {timeout:g} s; giving up"
    text = OUTCOMES.get(run["status"], f"the run stopped with status {run['status']!r}")
    details = run.get("last_error") or run.get("incomplete_details")
    if details and run["status"] != "completed":
        text += f" ({', '.join(f'{k}: {v}' for k, v in details.items() if v)})"
    return text


def cancel(client: dynclient.Client, thread_id: str, run: dict) -> None:
    """Don't leave a run going (and billing) after we stopped waiting for it."""
    try:
        cancelled = client.call("cancelRun", thread_id=thread_id, run_id=run["id"])
        print(f"cancel requested: run is now {cancelled['status']}")
    except dynclient.APIStatusError as exc:   # it may have ended meanwhile
        print(f"cancel refused: {exc}")


def print_answer(client: dynclient.Client, thread_id: str, run: dict) -> None:
    """The assistant's messages of this run, oldest first, or why there are none."""
    page = client.call("listMessages", thread_id=thread_id, order="asc", limit=100)
    replies = [m for m in page["data"] if m["role"] == "assistant" and m.get("run_id") == run["id"]]
    print("--- answer ---")
    for message in replies:
        print("\n".join(content_text(part) for part in message["content"]))
    if not replies:
        print(f"(no answer: the assistant wrote no message in this run, whose status is {run['status']})")
    print("--- end ---")


def content_text(part: dict[str, Any]) -> str:
    """Text as text; anything else (a chart from code_interpreter, ...) as a one-line note."""
    kind = part.get("type")
    if kind == "text":
        return part["text"]["value"]
    if kind == "image_file":
        return f"[image file {part['image_file']['file_id']}]"
    return f"[{kind} content]"


def clean_up(client: dynclient.Client, assistant_id: str, thread_id: str) -> None:
    for operation, arguments in (("deleteThread", {"thread_id": thread_id}),
                                 ("deleteAssistant", {"assistant_id": assistant_id})):
        try:
            client.call(operation, **arguments)
        except dynclient.DynclientError as exc:
            print(f"could not {operation}: {exc}", file=sys.stderr)
    print("deleted the thread and the assistant (pass --keep to keep them)")


if __name__ == "__main__":
    sys.exit(main())
