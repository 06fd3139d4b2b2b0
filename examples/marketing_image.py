"""A marketing image for a product, from its description, with OpenAI's createImage through dynclient.

    python examples/marketing_image.py "A bamboo toothbrush with charcoal bristles"
    echo "Hand-made ceramic mug" | python examples/marketing_image.py --out mug.png
    python examples/marketing_image.py          # asks for the description on the console

The image comes back as base64 (asked for with response_format=b64_json, and
always so for gpt-image-* models) or, where the server answers with a URL, is
fetched from it without sending the API key along. Settings come from
arguments > environment > dynclient.toml; with no key, the built-in mock
answers (see the README).

Exit status: 0 when the image was saved, 1 when the server gave no usable
image or failed, 2 for a bad setting or input, or a request refused before sending.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from pathlib import Path

import urllib3

import dynclient
from _connect import connect, exit_code_for

PROMPT = ("A polished marketing photograph of this product: {description}. Studio lighting, clean "
          "background, the product as the hero of the frame, no text.")
# First bytes of the image formats the API returns, to say what was saved.
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"RIFF": "WebP", b"GIF8": "GIF"}


class NoImage(Exception):
    """The answer carried no image we can save."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a marketing image for a product via dynclient.")
    parser.add_argument("description", nargs="*", help="the product description (default: read from the console)")
    parser.add_argument("--out", default="marketing_image.png", help="file to write (default marketing_image.png)")
    parser.add_argument("--model", default="dall-e-3", help="image model (default dall-e-3)")
    parser.add_argument("--size", default="1024x1024", help="image size (default 1024x1024)")
    parser.add_argument("--config", default=None, help="a dynclient.toml to read (default ./dynclient.toml)")
    args = parser.parse_args(argv)
    description = (" ".join(args.description) or read_description()).strip()
    if not description:
        print("error: no product description given (as an argument, on stdin or at the prompt)", file=sys.stderr)
        return 2
    try:
        with connect(args.config) as (client, mock):
            return generate(client, description, args, mock)
    except dynclient.DynclientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)


def read_description() -> str:
    if sys.stdin.isatty():
        try:
            return input("Product description: ")
        except EOFError:
            return ""
    return sys.stdin.read()


def generate(client: dynclient.Client, description: str, args: argparse.Namespace, mock: bool) -> int:
    request = {"prompt": PROMPT.format(description=description), "model": args.model, "n": 1, "size": args.size}
    if not args.model.startswith("gpt-image"):   # gpt-image-* refuse the field and always answer in base64
        request["response_format"] = "b64_json"
    answer = client.call("createImage", request)
    try:
        data = image_bytes(answer)
    except NoImage as exc:
        print(f"error: no image saved: {exc}", file=sys.stderr)
        if mock:
            print("(this was the mock's answer, which the document lets omit the image; a real server "
                  "sends one)", file=sys.stderr)
        return 1
    path = Path(args.out)
    path.write_bytes(data)
    kind = next((name for magic, name in SIGNATURES.items() if data.startswith(magic)), "unrecognised format")
    print(f"saved {len(data)} bytes ({kind}) to {path}")
    revised = (answer.get("data") or [{}])[0].get("revised_prompt")
    if revised:
        print(f"revised prompt: {revised}")
    return 0


def image_bytes(answer: dict) -> bytes:
    """The first image of a createImage answer: decoded from b64_json, or fetched from its url."""
    images = answer.get("data") or []
    if not images:
        raise NoImage("the answer has no `data`")
    first = images[0]
    if first.get("b64_json"):
        try:
            return base64.b64decode(first["b64_json"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoImage(f"data[0].b64_json is not valid base64 ({exc})") from None
    if first.get("url"):
        return fetch(first["url"])
    raise NoImage("data[0] has neither `b64_json` nor `url`")


def fetch(url: str) -> bytes:
    """GET the image URL: a plain request to the image host, with no credentials of ours."""
    try:
        response = urllib3.request("GET", url, timeout=urllib3.Timeout(connect=10, read=60), retries=2)
    except urllib3.exceptions.HTTPError as exc:
        raise NoImage(f"fetching the image URL failed: {exc}") from None
    if response.status != 200:
        raise NoImage(f"fetching the image URL answered HTTP {response.status}")
    return response.data


if __name__ == "__main__":
    sys.exit(main())
