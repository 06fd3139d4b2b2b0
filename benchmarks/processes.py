"""What the fresh-process rows run: each a `python -c` program.

Every program takes its inputs as JSON in argv[1] (document path, base URL, body) and prints one
JSON line: what it saw, which the runner checks so that a row can never time a failure, and
`done_at` (time.time() when its work was done), so that a row times spawn to done, not the
interpreter's teardown (freeing a 3 MB document at exit takes tens of milliseconds more).
"""

from __future__ import annotations

INTERPRETER = "import json, time; print(json.dumps({'ok': True, 'done_at': time.time()}))"

# The client's whole first call: import, load (cache warm or cold), index, bind, validate the
# request, send, decode, validate the response.
DYNCLIENT_FIRST_CALL = """
import json, sys, time
args = json.loads(sys.argv[1])
import dynclient
client = dynclient.Client(args["path"], base_url=args["base_url"], api_key="sk-bench")
body = client.call(args["operation"], args["body"])
print(json.dumps({"ok": body["id"] == args["expect_id"], "done_at": time.time()}))
"""

OPENAI_IMPORT = """
import json, sys, time
args = json.loads(sys.argv[1])
import openai
client = openai.OpenAI(api_key="sk-bench", base_url=args["base_url"], max_retries=0)
print(json.dumps({"ok": client is not None, "done_at": time.time()}))
"""

# openapi-core as a user would start it: PyYAML's C loader, then OpenAPI.from_dict with the
# document check off (with it on, from_dict refuses the 2026 documents), then one request.
OPENAPI_CORE_FIRST_VALIDATION = """
import json, sys, time
args = json.loads(sys.argv[1])
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest
with open(args["path"], "rb") as file:
    data = yaml.load(file, Loader=yaml.CSafeLoader)
app = OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))
request = MockRequest("https://api.openai.com", "post", "/v1" + args["path_template"],
                      headers={"Authorization": "Bearer sk-bench"},
                      data=json.dumps(args["body"]).encode(), content_type="application/json")
try:
    app.validate_request(request)
    verdict = "accepts the valid body"
except Exception as exc:
    errors = getattr(exc.__cause__, "schema_errors", None) or [exc]
    first = getattr(errors[0], "message", str(errors[0]))
    where = "/" + "/".join(map(str, getattr(errors[0], "path", ())))
    reason = first[first.find("reference"):] if "reference" in first else first[:100]   # not the whole body
    verdict = f"rejects the valid body ({type(exc).__name__} at {where}: {reason})"
print(json.dumps({"ok": True, "note": verdict, "done_at": time.time()}))
"""

# Peak resident memory after the document is loaded and one validated call made. Linux's
# ru_maxrss counts the pages of the process that forked us (the runner, itself ~150 MB), so the
# peak is read from /proc/self/status (VmHWM, this process's own high-water mark) where it exists.
PEAK_RSS = """
def peak_rss_kb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

DYNCLIENT_RSS = PEAK_RSS + DYNCLIENT_FIRST_CALL.replace('"done_at": time.time()', '"maxrss_kb": peak_rss_kb()')

OPENAI_RSS = PEAK_RSS + """
import json, sys, time
args = json.loads(sys.argv[1])
import openai
client = openai.OpenAI(api_key="sk-bench", base_url=args["base_url"], max_retries=0)
completion = client.chat.completions.create(**args["body"])
print(json.dumps({"ok": completion.id == args["expect_id"],
                  "maxrss_kb": peak_rss_kb()}))
"""


def status_kb(field: str = "VmHWM", pid: int | str = "self") -> int:
    """A memory figure of a process from /proc (Linux), in kB: VmHWM its peak RSS, VmRSS its RSS now."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# Pasted at the head of a child program: `rss_kb(field)` reads its own /proc status, and
# `sample_rss(seconds)` starts a thread keeping the highest RSS seen in `peak[0]`.
RSS_SAMPLER = """
import threading as _threading, time as _time
def rss_kb(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
peak = [0]
def sample_rss(seconds):
    def sample():
        while True:
            peak[0] = max(peak[0], rss_kb())
            _time.sleep(seconds)
    _threading.Thread(target=sample, daemon=True).start()
"""
