"""Encoding: the exact bytes the local server received for paths, queries, headers, cookies and bodies.

Note on raw query keys: urllib3 re-encodes characters RFC 3986 does not allow
raw in a query (``[``, ``]``, ``|``), so ``include[]`` travels as
``include%5B%5D``; the tests therefore check the decoded pairs and the number
of raw ``&``-separated pieces, which is what decides whether a value could
add a pair.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from httpserver import Reply
from hypothesis import given, settings, strategies as st

import dynclient
from dynclient import ParameterError, RequestError, params

from _specs import CANARY, assert_nothing_sent, openai_file, spec_30


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(openai_spec, server):
    with dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY,
                          validate_responses="off") as c:
        yield c


@pytest.fixture
def tiny(server):
    with dynclient.Client(spec_30(), base_url=server.url + "/v1", api_key=CANARY) as c:
        yield c


def raw_pieces(query: str) -> list[str]:
    return query.split("&") if query else []


# --- path parameters -----------------------------------------------------------------


@pytest.mark.parametrize("value, encoded", [
    ("../x", "..%2Fx"),
    ("a/b", "a%2Fb"),
    ("a?b", "a%3Fb"),
    ("a#b", "a%23b"),
    ("a b", "a%20b"),
    ("ü x", "%C3%BC%20x"),
    ("日本", "%E6%97%A5%E6%9C%AC"),
    ("a\\b", "a%5Cb"),
    ("%2F", "%252F"),
    ("...", "..."),
    ("asst_abc-123.x~", "asst_abc-123.x~"),
])
def test_path_parameter_cannot_change_the_path(client, server, value, encoded):
    client.call("getAssistant", assistant_id=value)
    assert server.last.path == "/v1/assistants/" + encoded
    assert server.last.query == ""
    segments = server.last.path.split("/")
    assert segments[:3] == ["", "v1", "assistants"] and len(segments) == 4
    assert unquote(segments[3]) == value


def test_two_path_parameters_stay_in_their_segments(tiny, server):
    tiny.call("getFile", folder="a/../b", name="c?d=e#f")
    assert server.last.path == "/v1/files/a%2F..%2Fb/c%3Fd%3De%23f"
    assert server.last.query == ""


def test_path_parameter_braces_cannot_inject_another_placeholder(tiny, server):
    tiny.call("getFile", folder="{name}", name="n")
    assert server.last.path == "/v1/files/%7Bname%7D/n"


@pytest.mark.parametrize("value", [".", "..", ""])
def test_dot_segments_and_empty_path_values_are_refused(client, server, value):
    with pytest.raises(ParameterError) as info:
        client.call("getAssistant", assistant_id=value)
    err = info.value
    assert err.operation_id == "getAssistant" and err.name == "assistant_id"
    assert "assistant_id" in str(err) and repr(value) in str(err)
    assert_nothing_sent(server, client)


def test_dot_segment_refused_in_the_second_path_parameter(tiny, server):
    with pytest.raises(ParameterError) as info:
        tiny.call("getFile", folder="ok", name="..")
    assert info.value.name == "name"
    assert_nothing_sent(server, tiny)


def test_label_and_matrix_styles_with_arrays(tiny, server):
    tiny.call("styles", lab=["a", "b"], labx=["a", "b"], mat=["a", "b"], matx=["a", "b"])
    # RFC 6570: {.x} {.x*} {;x} {;x*}
    assert server.last.path == "/v1/styles/.a,b/.a.b/;mat=a,b/;matx=a;matx=b"


def test_label_and_matrix_styles_with_objects(tiny, server):
    obj = {"x": "1", "y": "2"}
    tiny.call("styles", lab=obj, labx=obj, mat=obj, matx=obj)
    assert server.last.path == "/v1/styles/.x,1,y,2/.x=1.y=2/;mat=x,1,y,2/;x=1;y=2"


def test_label_and_matrix_styles_with_primitives(tiny, server):
    tiny.call("styles", lab="v", labx=5, mat="a/b", matx="")
    assert server.last.path == "/v1/styles/.v/.5/;mat=a%2Fb/;matx"


def test_label_style_value_cannot_add_segments(tiny, server):
    tiny.call("styles", lab="../..", labx="x", mat="y", matx="z")
    first = server.last.path.split("/")[3]
    assert first == "...%2F.."
    assert len(server.last.path.split("/")) == 7


def test_label_style_dot_value_is_refused(tiny, server):
    with pytest.raises(ParameterError) as info:
        tiny.call("styles", lab=".", labx="x", mat="y", matx="z")
    assert info.value.name == "lab"
    assert_nothing_sent(server, tiny)


# --- query parameters ----------------------------------------------------------------


def test_form_explode_array(tiny, server):
    tiny.call("search", include=["a", "b"], tags=["x", "y"])
    assert server.last.query_pairs() == [("include[]", "a"), ("include[]", "b"), ("tags", "x"), ("tags", "y")]
    assert len(raw_pieces(server.last.query)) == 4
    assert raw_pieces(server.last.query)[0] in ("include[]=a", "include%5B%5D=a")


def test_form_no_explode_array(tiny, server):
    tiny.call("search", ids=["a", "b"])
    assert server.last.query == "ids=a,b"


def test_form_no_explode_keeps_commas_inside_values_apart(tiny, server):
    tiny.call("search", ids=["a,b", "c"])
    assert server.last.query == "ids=a%2Cb,c"


def test_space_delimited(tiny, server):
    tiny.call("search", spaced=["a", "b", "c"])
    assert server.last.query == "spaced=a%20b%20c"
    assert server.last.query_pairs() == [("spaced", "a b c")]


def test_pipe_delimited(tiny, server):
    tiny.call("search", piped=["a", "b"])
    assert server.last.query_pairs() == [("piped", "a|b")]
    assert len(raw_pieces(server.last.query)) == 1


def test_deep_object(tiny, server):
    tiny.call("search", metadata={"k": "v", "a b": "c&d=e"})
    assert server.last.query_pairs() == [("metadata[k]", "v"), ("metadata[a b]", "c&d=e")]
    assert len(raw_pieces(server.last.query)) == 2


def test_booleans_are_true_and_false(tiny, server):
    tiny.call("search", flag=True)
    assert server.last.query == "flag=true"
    tiny.call("search", flag=False)
    assert server.last.query == "flag=false"


def test_integers(tiny, server):
    tiny.call("search", limit=0)
    assert server.last.query == "limit=0"


@pytest.mark.parametrize("value", ["a&b=c", "x#frag", "1+1", "a b", "k=v&admin=true", "?q", "%26", "ü"])
def test_query_values_cannot_add_pairs(tiny, server, value):
    tiny.call("search", q=value, limit=1)
    assert server.last.query_pairs() == [("q", value), ("limit", "1")]
    assert len(raw_pieces(server.last.query)) == 2
    assert "+" not in server.last.query and " " not in server.last.query and "#" not in server.last.target


def test_query_on_the_real_document(client, server):
    client.call("listAssistants", limit=5, order="asc", after="asst_a&b")
    assert server.last.path == "/v1/assistants"
    assert server.last.query_pairs() == [("limit", "5"), ("order", "asc"), ("after", "asst_a&b")]


# --- header and cookie parameters -------------------------------------------------------


def test_header_parameter_simple_array(tiny, server):
    tiny.call("search", X_Trace_Ids=["a", "b", "c"], X_Flag=True)
    assert server.last.headers.get_all("X-Trace-Ids") == ["a,b,c"]
    assert server.last.headers.get_all("X-Flag") == ["true"]


@pytest.mark.parametrize("value", ["v\r\nX-Evil: 1", "v\nX-Evil: 1", "v\rX", "v\0"])
def test_cr_lf_nul_in_header_parameter_refused(tiny, server, value):
    with pytest.raises(ParameterError) as info:
        tiny.call("search", OpenAI_Beta=value)
    assert info.value.operation_id == "search" and info.value.name == "OpenAI-Beta"
    assert "CR, LF or NUL" in str(info.value)
    assert_nothing_sent(server, tiny)


def test_cr_lf_in_array_header_parameter_refused(tiny, server):
    with pytest.raises(ParameterError) as info:
        tiny.call("search", X_Trace_Ids=["a", "b\r\nX-Evil: 1"])
    assert info.value.name == "X-Trace-Ids"
    assert_nothing_sent(server, tiny)


def test_cr_lf_in_per_call_header_refused(tiny, server):
    with pytest.raises(ParameterError) as info:
        tiny.call("ping", headers={"X-Note": "a\r\nX-Evil: 1"})
    assert info.value.name == "X-Note" and info.value.operation_id == "ping"
    assert_nothing_sent(server, tiny)


def test_cr_lf_in_default_header_refused_before_sending(server):
    """A client-wide header with CR/LF is refused at construction (ValueError) or at the call
    (a RequestError naming the operation) -- never handed to http.client."""
    try:
        client = dynclient.Client(spec_30(), base_url=server.url + "/v1", headers={"X-Note": "a\r\nX-Evil: 1"})
    except ValueError:
        client = None
    if client is not None:
        with pytest.raises(RequestError) as info:
            client.call("ping")
        assert info.value.operation_id == "ping" and "X-Note" in str(info.value)
    assert_nothing_sent(server, client)


def test_non_latin1_header_parameter_refused_with_parameter_error(tiny, server):
    """http.client can only send latin-1 header values; dynclient must refuse the value
    itself (naming the parameter), not crash with UnicodeEncodeError."""
    with pytest.raises(ParameterError) as info:
        tiny.call("search", OpenAI_Beta="日本")
    assert info.value.name == "OpenAI-Beta"
    assert_nothing_sent(server, tiny)


def parse_cookie_header(value: str) -> list[tuple[str, str]]:
    pairs = []
    for piece in value.split(";"):
        name, sep, raw = piece.strip().partition("=")
        assert sep, f"cookie piece without '=': {piece!r}"
        pairs.append((name, unquote(raw)))
    return pairs


def test_cookie_parameters(tiny, server):
    tiny.call("search", session="s1", prefs=["a", "b"])
    cookies = server.last.headers.get_all("Cookie")
    assert len(cookies) == 1
    assert parse_cookie_header(cookies[0]) == [("session", "s1"), ("prefs", "a,b")]


@pytest.mark.parametrize("value", ["x; admin=1", "a=b", "a\r\nX-Evil: 1", "a,b", "ü"])
def test_cookie_value_cannot_add_cookies_or_headers(tiny, server, value):
    tiny.call("search", session=value)
    cookies = server.last.headers.get_all("Cookie")
    assert len(cookies) == 1
    assert parse_cookie_header(cookies[0]) == [("session", value)]
    assert "X-Evil" not in server.last.headers


# --- JSON bodies ----------------------------------------------------------------------------


def test_json_body_exact_bytes(client, server):
    client.call("createAssistant", {"model": "gpt-4o", "name": "Tütor", "metadata": {"k": "v"},
                                    "temperature": 0.5, "tools": []})
    assert server.last.method == "POST" and server.last.path == "/v1/assistants"
    expected = b'{"model":"gpt-4o","name":"T\xc3\xbctor","metadata":{"k":"v"},"temperature":0.5,"tools":[]}'
    assert server.last.body == expected
    assert server.last.headers["Content-Type"] == "application/json"
    assert server.last.headers["Content-Length"] == str(len(expected))


def test_json_body_not_serializable_nan(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, validate_requests=False)
    with pytest.raises(ParameterError) as info:
        client.call("createAssistant", {"model": "gpt-4o", "temperature": math.nan})
    err = info.value
    assert err.operation_id == "createAssistant" and err.name == "body"
    assert "JSON" in str(err)
    assert_nothing_sent(server, client)


def test_json_body_not_serializable_object(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, validate_requests=False)
    with pytest.raises(ParameterError) as info:
        client.call("createAssistant", {"model": "gpt-4o", "metadata": {"k": object()}})
    assert info.value.name == "body" and "createAssistant" in str(info.value)
    assert_nothing_sent(server, client)


# --- multipart/form-data ----------------------------------------------------------------


def parts_by_name(server):
    parts = server.last.multipart()
    out: dict = {}
    for part in parts:
        out.setdefault(part.name, []).append(part)
    return parts, out


def test_multipart_bytes_field(tiny, server):
    data = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    tiny.call("upload", {"file": data})
    assert server.last.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    parts, named = parts_by_name(server)
    assert len(parts) == 1
    (part,) = named["file"]
    assert part.data == data
    assert part.filename == "file"
    assert part.content_type == "application/octet-stream"


def test_multipart_open_file_object(tiny, server, tmp_path):
    path = tmp_path / "report.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    with open(path, "rb") as fh:
        tiny.call("upload", {"file": fh})
    (part,) = parts_by_name(server)[1]["file"]
    assert part.data == b'{"a": 1}\n{"a": 2}\n'
    assert part.filename == "report.jsonl"


def test_multipart_pathlib_path(tiny, server, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01binary\xff")
    tiny.call("upload", {"file": path})
    (part,) = parts_by_name(server)[1]["file"]
    assert part.data == b"\x00\x01binary\xff" and part.filename == "data.bin"


def test_multipart_tuple_with_filename_and_type(tiny, server):
    tiny.call("upload", {"file": ("table.csv", b"a,b\n1,2\n", "text/csv")})
    (part,) = parts_by_name(server)[1]["file"]
    assert part.filename == "table.csv" and part.content_type == "text/csv" and part.data == b"a,b\n1,2\n"


def test_multipart_encoding_content_type_applies_to_files(tiny, server):
    tiny.call("upload", {"file": b"f", "image": b"\x89PNG"})
    named = parts_by_name(server)[1]
    assert named["image"][0].content_type == "image/png"
    assert named["file"][0].content_type == "application/octet-stream"


def test_multipart_arrays_objects_and_scalars(tiny, server, tmp_path):
    body = {
        "file": io.BytesIO(b"main"),
        "attachments": [b"one", ("two.txt", b"two")],
        "tags": ["x", "y"],
        "meta": {"k": "v", "n": [1, 2]},
        "flag": True,
        "n": 3,
        "ratio": 1.5,
        "note": "héllo",
    }
    tiny.call("upload", body)
    parts, named = parts_by_name(server)
    assert [p.name for p in parts] == ["file", "attachments", "attachments", "tags", "tags", "meta",
                                       "flag", "n", "ratio", "note"]
    assert named["file"][0].data == b"main"
    assert [p.data for p in named["attachments"]] == [b"one", b"two"]
    assert named["attachments"][1].filename == "two.txt"
    assert [p.text for p in named["tags"]] == ["x", "y"]
    assert all(p.filename is None for p in named["tags"])
    assert json.loads(named["meta"][0].data) == {"k": "v", "n": [1, 2]}
    assert named["meta"][0].content_type == "application/json"
    assert named["flag"][0].text == "true"
    assert named["n"][0].text == "3"
    assert named["ratio"][0].text == "1.5"
    assert named["note"][0].text == "héllo"


def test_multipart_false_and_zero_are_sent(tiny, server):
    tiny.call("upload", {"file": b"f", "flag": False, "n": 0})
    named = parts_by_name(server)[1]
    assert named["flag"][0].text == "false" and named["n"][0].text == "0"


def test_multipart_filename_cannot_inject_headers_or_fields(tiny, server):
    tiny.call("upload", {"file": ('x"; name="note\r\nX-Evil: 1', b"data")})
    parts, named = parts_by_name(server)
    assert [p.name for p in parts] == ["file"]
    assert named["file"][0].data == b"data"
    assert "X-Evil" not in named["file"][0].headers


def test_multipart_real_create_file(client, server, tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"prompt": "a"}\n')
    server.reply(Reply(body=openai_file(filename="train.jsonl")))
    result = client.call("createFile", {"file": path, "purpose": "fine-tune"})
    assert result["filename"] == "train.jsonl"
    assert server.last.path == "/v1/files"
    parts, named = parts_by_name(server)
    assert sorted(named) == ["file", "purpose"]
    assert named["file"][0].data == b'{"prompt": "a"}\n' and named["file"][0].filename == "train.jsonl"
    assert named["purpose"][0].text == "fine-tune"


def test_multipart_body_must_be_a_dict(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, validate_requests=False)
    with pytest.raises(ParameterError) as info:
        client.call("createFile", [b"x"])
    assert info.value.name == "body" and "multipart" in str(info.value)
    assert_nothing_sent(server, client)


# --- x-www-form-urlencoded, octet-stream, choosing the media type -------------------------


def test_form_urlencoded(tiny, server):
    tiny.call("submitForm", {"name": "a b&c=d+e", "tags": ["x", "y"], "flag": False, "count": 3,
                             "meta": {"k": "v"}})
    assert server.last.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert server.last.form() == [("name", "a b&c=d+e"), ("tags", "x"), ("tags", "y"), ("flag", "false"),
                                  ("count", "3"), ("meta", '{"k":"v"}')]
    assert len(server.last.body.split(b"&")) == 6


def test_octet_stream_bytes(tiny, server):
    data = bytes(range(256)) * 4
    tiny.call("uploadBlob", data)
    assert server.last.body == data
    assert server.last.headers["Content-Type"] == "application/octet-stream"
    assert server.last.headers["Content-Length"] == "1024"


def test_octet_stream_file_object_and_path(tiny, server, tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00file-bytes\xff")
    with open(path, "rb") as fh:
        tiny.call("uploadBlob", fh)
    assert server.last.body == b"\x00file-bytes\xff"
    tiny.call("uploadBlob", path)
    assert server.last.body == b"\x00file-bytes\xff"


@pytest.mark.parametrize("content_type, check", [
    (None, lambda rec: rec.json() == {"name": "n", "count": 2}),
    ("application/json", lambda rec: rec.json() == {"name": "n", "count": 2}),
    ("application/x-www-form-urlencoded", lambda rec: rec.form() == [("name", "n"), ("count", "2")]),
    ("multipart/form-data", lambda rec: [(p.name, p.text) for p in rec.multipart()] == [("name", "n"),
                                                                                        ("count", "2")]),
])
def test_content_type_chooses_the_request_media_type(tiny, server, content_type, check):
    tiny.call("createThing", {"name": "n", "count": 2}, content_type=content_type)
    sent_type = server.last.headers["Content-Type"]
    assert sent_type.split(";")[0] == (content_type or "application/json")
    assert check(server.last)


def test_content_type_not_declared_is_refused(tiny, server):
    with pytest.raises(ParameterError) as info:
        tiny.call("createThing", {"name": "n"}, content_type="text/xml")
    err = info.value
    assert err.name == "content_type" and err.operation_id == "createThing"
    for allowed in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        assert allowed in str(err)
    assert "text/xml" in str(err)
    assert_nothing_sent(server, tiny)


def test_body_is_validated_in_the_chosen_media_type(tiny, server):
    with pytest.raises(dynclient.RequestValidationError) as info:
        tiny.call("createThing", {"name": "n", "count": "two"}, content_type="multipart/form-data")
    assert info.value.pointer == "/count"
    assert_nothing_sent(server, tiny)


def test_prepare_builds_the_same_request_without_sending(tiny, server):
    prepared = tiny.prepare("search", q="a&b", X_Trace_Ids=["1", "2"])
    assert prepared.method == "GET"
    assert prepared.url.startswith(server.url + "/v1/search?")
    assert prepared.headers["X-Trace-Ids"] == "1,2"
    assert prepared.body is None
    assert_nothing_sent(server, tiny)
    tiny.call("search", q="a&b", X_Trace_Ids=["1", "2"])
    assert server.url + server.last.target == prepared.url


@given(value=st.one_of(st.text(), st.text(alphabet="abcXYZ019_.-~/ %&=é"), st.integers(), st.floats(allow_nan=False),
                       st.booleans()),
       safe=st.sampled_from(["", "[]", params.RESERVED]))
@settings(max_examples=300, deadline=None)
def test_unreserved_shortcut_encodes_exactly_as_quote(value, safe):
    """params._encode skips quote() for text quote would leave alone; it must never differ from it."""
    assert params._encode(value, safe) == quote(params.text(value), safe=safe)


@pytest.mark.parametrize("operation, body", [
    ("createAssistant", {"model": "gpt-4o", "name": "Tutor", "metadata": {"team": "a"}}),
    ("createChatCompletion", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
    ("createAssistant", {"model": 5}),                       # invalid: both paths refuse it alike
    ("createChatCompletion", {"model": "gpt-4o", "messages": "not a list"}),
])
def test_json_plan_prepares_what_the_general_path_does(openai_spec, operation, body):
    # A call with only a JSON object body takes the plan worked out once (core/base.py, JsonPlan);
    # naming the content type sends the same call through bind, validate and encode step by step.
    client = dynclient.Client(openai_spec, base_url="http://127.0.0.1:9/v1", api_key="sk-plan",
                              organization="org-1", headers={"OpenAI-Beta": "assistants=v2"})
    declared = next(iter(client.spec.operations[operation].request_body.content))

    def outcome(**general):
        try:
            prepared = client.prepare(operation, body, **general)
        except dynclient.DynclientError as exc:
            return type(exc), str(exc)
        key = prepared.headers.pop("Idempotency-Key")
        assert key.startswith("dynclient-")
        return prepared.method, prepared.url, list(prepared.headers.items()), prepared.body

    for _ in range(2):   # the plan is made by the first call and used by the second
        assert outcome() == outcome(content_type=declared)


def test_json_plan_follows_the_options(openai_spec):
    client = dynclient.Client(openai_spec, base_url="http://127.0.0.1:9/v1", api_key="sk-plan")
    body = {"model": "gpt-4o"}
    assert "Idempotency-Key" in client.prepare("createAssistant", body).headers
    assert "Idempotency-Key" not in client.with_options(max_retries=0).prepare("createAssistant", body).headers
    other = client.with_options(base_url="http://127.0.0.1:8/v2", headers={"X-Extra": "1"})
    prepared = other.prepare("createAssistant", body)
    assert prepared.url == "http://127.0.0.1:8/v2/assistants" and prepared.headers["x-extra"] == "1"
    assert client.prepare("createAssistant", body).url == "http://127.0.0.1:9/v1/assistants"
    with pytest.raises(dynclient.RequestValidationError):
        client.prepare("createAssistant", {"model": 5})
    client.with_options(validate_requests=False).prepare("createAssistant", {"model": 5})


@pytest.mark.parametrize("default_key", [False, True])
def test_json_plan_with_the_callers_key_and_body_text_prepares_what_the_general_path_does(openai_spec, default_key):
    # A bulk run's call: its own Idempotency-Key, and the body's JSON text as its line wrote it.
    client = dynclient.Client(openai_spec, base_url="http://127.0.0.1:9/v1", api_key="sk-plan",
                              headers={"Idempotency-Key": "from-the-client"} if default_key else None)
    body_text = b'{ "model" : "gpt-4o",  "name": "as written" }'
    body = json.loads(body_text)
    for _ in range(2):
        planned = client.prepare("createAssistant", body, headers={"Idempotency-Key": "run-key-1"},
                                 body_text=body_text)
        general = client.prepare("createAssistant", body, headers={"Idempotency-Key": "run-key-1"},
                                 body_text=body_text, content_type="application/json")
        assert (planned.url, list(planned.headers.items()), planned.body) == \
            (general.url, list(general.headers.items()), general.body)
        assert planned.body == body_text and planned.headers["idempotency-key"] == "run-key-1"
    with pytest.raises(dynclient.ParameterError, match="Idempotency-Key"):
        client.prepare("createAssistant", body, headers={"Idempotency-Key": "bad\r\nkey"})


@pytest.mark.parametrize("call_headers", [
    {"X-Trace": "t-1"},
    {"OpenAI-Beta": "assistants=v1", "idempotency-key": "mine"},   # overrides a default; a key in any case
    {"Content-Type": "application/json; charset=utf-8"},
])
def test_json_plan_with_call_headers_prepares_what_the_general_path_does(openai_spec, call_headers):
    client = dynclient.Client(openai_spec, base_url="http://127.0.0.1:9/v1", api_key="sk-plan",
                              headers={"OpenAI-Beta": "assistants=v2"})
    body = {"model": "gpt-4o"}

    def outcome(**general):
        prepared = client.prepare("createAssistant", body, headers=call_headers, **general)
        headers = dict(prepared.headers.items())
        key = headers.pop("Idempotency-Key", None) or headers.pop("idempotency-key")
        return prepared.url, list(headers.items()), prepared.body, key if key == "mine" else "generated"

    for _ in range(2):
        assert outcome() == outcome(content_type="application/json")
