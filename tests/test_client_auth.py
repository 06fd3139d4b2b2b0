"""Authentication, default and per-call headers, and keeping the credential secret.

The canary key must never show in repr(client), in str()/repr() or the
formatted traceback of any exception raised here, in any log record at DEBUG
level, in repr(prepared.headers), nor be carried to another host by a redirect.
"""

from __future__ import annotations

import base64
import logging
import socket
import traceback

import pytest
from httpserver import Reply

import dynclient
from dynclient import ParameterError, RequestValidationError

from _specs import CANARY, assert_nothing_sent, assistant, spec_30

ENV = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
LIST = {"object": "list", "data": [], "first_id": "a", "last_id": "b", "has_more": False}


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(openai_spec, server):
    with dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY) as c:
        yield c


def tiny_client(server, **kwargs):
    return dynclient.Client(spec_30(), base_url=server.url + "/v1", **kwargs)


def assert_clean(exc: BaseException) -> None:
    """The canary is in none of the ways an exception is shown."""
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(getattr(exc, "args", ()))]
    for text in shown:
        assert CANARY not in text, f"credential leaked by {type(exc).__name__}: {text!r}"


def raises(exc_type, fn, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    assert_clean(info.value)
    return info.value


# --- where the credential goes ----------------------------------------------------------


def test_bearer_from_api_key(client, server):
    server.reply(Reply(body=assistant()))
    client.call("getAssistant", assistant_id="asst_1")
    assert server.last.headers.get_all("Authorization") == [f"Bearer {CANARY}"]


def test_bearer_from_env_for_openai_documents(openai_spec, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1")
    server.reply(Reply(body=LIST))
    client.call("listAssistants")
    assert server.last.headers.get_all("Authorization") == ["Bearer sk-from-env"]


def test_explicit_api_key_wins_over_env(openai_spec, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY)
    server.reply(Reply(body=LIST))
    client.call("listAssistants")
    assert server.last.headers.get_all("Authorization") == [f"Bearer {CANARY}"]


def test_env_is_not_used_for_other_documents(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    tiny_client(server).call("ping")
    headers = server.last.headers
    assert "Authorization" not in headers
    assert "OpenAI-Organization" not in headers and "OpenAI-Project" not in headers


@pytest.mark.parametrize("url", ["https://openai.com.example.net/v1", "https://example.net/openai.com/v1",
                                 "https://notopenai.com/v1"])
def test_env_is_not_used_for_a_document_whose_server_only_looks_like_openai(server, monkeypatch, url):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    document = spec_30()
    document["servers"] = [{"url": url}]
    dynclient.Client(document, base_url=server.url + "/v1").call("ping")
    assert "Authorization" not in server.last.headers


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://eu.api.openai.com/v1", "https://openai.com"])
def test_openai_hosts_are_openai(url):
    document = spec_30()
    document["servers"] = [{"url": url}]
    assert dynclient.core.call.serves_openai(dynclient.Spec(document))


def test_no_key_sends_no_authorization(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1")
    server.reply(Reply(body=LIST))
    client.call("listAssistants")
    assert "Authorization" not in server.last.headers


def test_http_basic(server):
    client = tiny_client(server, credentials={"basicAuth": ("u", "p")})
    client.call("basicOnly")
    assert server.last.headers.get_all("Authorization") == ["Basic " + base64.b64encode(b"u:p").decode()]


def test_http_basic_is_not_filled_from_api_key(server):
    tiny_client(server, api_key=CANARY).call("basicOnly")
    assert "Authorization" not in server.last.headers


def test_api_key_in_header_and_cookie(server):
    client = tiny_client(server, credentials={"headerKey": "hk-1", "cookieKey": "ck 2;x"})
    client.call("bothAuth")
    assert server.last.headers.get_all("X-Custom-Token") == ["hk-1"]
    assert server.last.headers.get_all("Cookie") == ["sid=ck%202%3Bx"]
    assert "Authorization" not in server.last.headers


def test_api_key_cookie_alongside_cookie_parameters(server):
    client = tiny_client(server, credentials={"headerKey": "hk", "cookieKey": "ck"})
    client.call("bothAuth", theme="dark")
    cookies = server.last.headers.get_all("Cookie")
    assert len(cookies) == 1
    assert sorted(piece.strip() for piece in cookies[0].split(";")) == ["sid=ck", "theme=dark"]


def test_api_key_in_query(server):
    client = tiny_client(server, credentials={"queryKey": "qk&x=1"})
    client.call("altAuth")
    assert server.last.query_pairs() == [("api_key", "qk&x=1")]
    assert "Authorization" not in server.last.headers


def test_operation_level_empty_security_sends_no_auth(server):
    client = tiny_client(server, api_key=CANARY, credentials={"basicAuth": ("u", "p")})
    client.call("publicPing")
    assert "Authorization" not in server.last.headers
    assert "api_key" not in server.last.query and "Cookie" not in server.last.headers
    client.call("ping")   # control: the root requirement does send it
    assert server.last.headers["Authorization"] == f"Bearer {CANARY}"


def test_alternatives_use_the_first_satisfiable_requirement(server):
    only_bearer = tiny_client(server, credentials={"bearerAuth": "tok-b"})
    only_bearer.call("altAuth")
    assert server.last.headers.get_all("Authorization") == ["Bearer tok-b"]
    assert server.last.query == ""

    both = tiny_client(server, credentials={"bearerAuth": "tok-b", "queryKey": "tok-q"})
    both.call("altAuth")
    assert server.last.query_pairs() == [("api_key", "tok-q")]
    assert "Authorization" not in server.last.headers, "only one alternative may be applied"


def test_requirement_with_two_schemes_needs_both(server):
    tiny_client(server, credentials={"headerKey": "hk"}).call("bothAuth")
    assert "X-Custom-Token" not in server.last.headers and "Cookie" not in server.last.headers


def test_organization_and_project(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY,
                              organization="org-123", project="proj_456")
    server.reply(Reply(body=LIST))
    client.call("listAssistants")
    assert server.last.headers.get_all("OpenAI-Organization") == ["org-123"]
    assert server.last.headers.get_all("OpenAI-Project") == ["proj_456"]


def test_organization_and_project_from_env_for_openai_documents(openai_spec, server, monkeypatch):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY)
    server.reply(Reply(body=LIST))
    client.call("listAssistants")
    assert server.last.headers["OpenAI-Organization"] == "org-env"
    assert server.last.headers["OpenAI-Project"] == "proj-env"


def test_default_headers_and_per_call_headers(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY,
                              headers={"OpenAI-Beta": "assistants=v1", "X-Team": "core"})
    server.reply(Reply(body=LIST), Reply(body=LIST))
    client.call("listAssistants")
    assert server.last.headers.get_all("OpenAI-Beta") == ["assistants=v1"]
    client.call("listAssistants", headers={"OpenAI-Beta": "assistants=v2"})
    assert server.last.headers.get_all("OpenAI-Beta") == ["assistants=v2"]
    assert server.last.headers.get_all("X-Team") == ["core"]
    assert server.last.headers.get_all("User-Agent") == ["dynclient/0.1"]


def test_per_call_header_wins_whatever_its_case(openai_spec, server):
    """Header names are case-insensitive: a per-call `openai-beta` replaces the default `OpenAI-Beta`
    instead of sending both."""
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY,
                              headers={"OpenAI-Beta": "assistants=v1"})
    server.reply(Reply(body=LIST))
    client.call("listAssistants", headers={"openai-beta": "assistants=v2", "user-agent": "mine/1"})
    assert server.last.headers.get_all("OpenAI-Beta") == ["assistants=v2"]
    assert server.last.headers.get_all("User-Agent") == ["mine/1"]


def test_per_call_headers_do_not_stick(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY)
    server.reply(Reply(body=LIST), Reply(body=LIST))
    client.call("listAssistants", headers={"OpenAI-Beta": "assistants=v2"})
    client.call("listAssistants")
    assert "OpenAI-Beta" not in server.last.headers


def test_credentials_for_an_unknown_scheme(openai_spec):
    err = raises(ValueError, dynclient.Client, openai_spec, base_url="http://127.0.0.1:9/v1",
                 credentials={"bearer": CANARY})
    assert "bearer" in str(err) and "ApiKeyAuth" in str(err)


def test_credential_with_newline_is_refused_before_sending(openai_spec, server):
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY + "\r\nX-Evil: 1")
    err = raises(ParameterError, client.call, "listAssistants")
    assert err.operation_id == "listAssistants" and err.name == "Authorization"
    assert_nothing_sent(server, client)


# --- secrets ---------------------------------------------------------------------------


def test_canary_not_in_client_repr(openai_spec):
    client = dynclient.Client(openai_spec, base_url="http://127.0.0.1:9/v1", api_key=CANARY)
    for text in (repr(client), str(client), repr(client.options), repr(vars(client)),
                 repr(client.with_options(timeout=1))):
        assert CANARY not in text
    basic = dynclient.Client(spec_30(), base_url="http://127.0.0.1:9/v1",
                             credentials={"basicAuth": ("user", CANARY), "queryKey": CANARY})
    assert CANARY not in repr(basic) and CANARY not in repr(vars(basic))


def test_canary_not_in_prepared_headers_repr(client, server):
    prepared = client.prepare("createAssistant", {"model": "gpt-4o"})
    assert prepared.headers["Authorization"] == f"Bearer {CANARY}"   # it is really there
    assert CANARY not in repr(prepared.headers)
    assert CANARY not in repr(prepared)
    assert "Authorization" in repr(prepared.headers)
    assert_nothing_sent(server, client)


def test_canary_not_in_prepared_headers_repr_for_api_key_header_and_cookie(server):
    client = tiny_client(server, credentials={"headerKey": CANARY, "cookieKey": CANARY})
    prepared = client.prepare("bothAuth")
    assert CANARY in prepared.headers["X-Custom-Token"] and CANARY in prepared.headers["Cookie"]
    assert CANARY not in repr(prepared.headers)


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_canary_not_in_any_exception(openai_spec, server):
    """Every kind of error a keyed client can raise, shown every way: no canary."""
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, timeout=0.2, max_retries=0)
    raises(dynclient.UnknownOperationError, client.call, "getAssistent", assistant_id="a")
    raises(ParameterError, client.call, "getAssistant", asistant_id="a")
    raises(ParameterError, client.call, "createAssistant")
    raises(RequestValidationError, client.call, "createAssistant", {"model": 5})
    raises(RequestValidationError, client.call, "listAssistants", limit="x")
    raises(ParameterError, client.call, "getAssistant", assistant_id="..")
    raises(ParameterError, client.call, "listAssistants", headers={"X-A": "a\nb"})
    server.reply(
        Reply(status=401, body={"error": {"message": "Incorrect API key provided: sk-test-****-123.",
                                          "type": "invalid_request_error", "param": None,
                                          "code": "invalid_api_key"}}),
        Reply(status=500, body="oops"),
        Reply(body=assistant(id=5)),
        Reply(body=b"{bad", headers={"Content-Type": "application/json"}),
        Reply(body=assistant(), delay=1.0),
        Reply(close=True),
    )
    raises(dynclient.AuthenticationError, client.call, "getAssistant", assistant_id="a")
    raises(dynclient.InternalServerError, client.call, "getAssistant", assistant_id="a")
    raises(dynclient.ResponseValidationError, client.call, "getAssistant", assistant_id="a")
    raises(dynclient.ResponseDecodeError, client.call, "getAssistant", assistant_id="a")
    raises(dynclient.APITimeoutError, client.call, "getAssistant", assistant_id="a")
    raises(dynclient.APIConnectionError, client.call, "createAssistant", {"model": "gpt-4o"})
    refused = dynclient.Client(openai_spec, base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=CANARY, max_retries=0)
    raises(dynclient.APIConnectionError, refused.call, "listAssistants")
    raises(ValueError, dynclient.Client, openai_spec, credentials={"nope": CANARY})
    assert all(CANARY in r.headers.get("Authorization", "") for r in server.requests)   # it was sent


def log_texts(records) -> list[str]:
    out = []
    for record in records:
        out.append(record.getMessage())
        out.append(repr(record.args))
        if record.exc_info:
            out.append("".join(traceback.format_exception(*record.exc_info)))
    return out


def test_canary_not_in_debug_logs_bearer(openai_spec, server, caplog):
    caplog.set_level(logging.DEBUG)
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY,
                              validate_responses="warn")
    server.reply(Reply(body=assistant()), Reply(body=assistant(id=5)), Reply(status=401, body={"error": {}}))
    client.call("getAssistant", assistant_id="asst_1")
    client.call("getAssistant", assistant_id="asst_1")         # logs a validation warning
    with pytest.raises(dynclient.AuthenticationError):
        client.call("getAssistant", assistant_id="asst_1")
    assert any(r.name == "dynclient" for r in caplog.records), "dynclient logged nothing: the check is void"
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 DEBUG records not captured"
    for text in log_texts(caplog.records):
        assert CANARY not in text


def test_canary_not_in_debug_logs_query_api_key(server, caplog):
    """An apiKey `in: query` travels in the URL; the URL must not reach the logs with it."""
    caplog.set_level(logging.DEBUG)
    client = tiny_client(server, credentials={"queryKey": CANARY})
    client.call("altAuth")
    assert server.last.query_pairs() == [("api_key", CANARY)]   # it was sent
    leaked = [t for t in log_texts(caplog.records) if CANARY in t]
    assert leaked == []


# --- redirects -------------------------------------------------------------------------


def test_redirect_to_another_host_drops_authorization(client, server, other_server):
    server.reply(Reply(status=307, headers={"Location": other_server.url + "/v1/assistants"}))
    other_server.reply(Reply(body=assistant()))
    result = client.call_raw("createAssistant", {"model": "gpt-4o"})
    assert result.status == 200 and result.body == assistant()
    assert server.last.headers["Authorization"] == f"Bearer {CANARY}"
    arrived = other_server.last
    assert arrived.method == "POST" and arrived.path == "/v1/assistants"
    assert arrived.json() == {"model": "gpt-4o"}                 # 307 keeps method and body
    assert "Authorization" not in arrived.headers
    assert CANARY not in repr(arrived.headers.raw) and CANARY.encode() not in arrived.body


def test_redirect_from_127_0_0_1_to_localhost_drops_authorization(client, server):
    target = f"http://localhost:{server.port}/v1/assistants/asst_2"
    server.reply(Reply(status=307, headers={"Location": target}), Reply(body=assistant(id="asst_2")))
    try:
        body = client.call("getAssistant", assistant_id="asst_1")
    except dynclient.APIConnectionError:
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    assert body["id"] == "asst_2"
    first, second = server.requests
    assert first.headers["Authorization"] == f"Bearer {CANARY}"
    assert second.path == "/v1/assistants/asst_2" and second.headers["Host"].startswith("localhost")
    assert "Authorization" not in second.headers


def test_redirect_to_another_host_drops_api_key_header_and_cookie(server, other_server):
    client = tiny_client(server, credentials={"headerKey": CANARY, "cookieKey": CANARY})
    server.reply(Reply(status=307, headers={"Location": other_server.url + "/v1/both"}))
    client.call("bothAuth")
    assert server.last.headers["X-Custom-Token"] == CANARY
    arrived = other_server.last
    assert "X-Custom-Token" not in arrived.headers and "Cookie" not in arrived.headers
    assert CANARY not in repr(arrived.headers.raw)


def test_redirect_to_the_same_host_keeps_authorization(client, server):
    server.reply(Reply(status=307, headers={"Location": "/v1/assistants/asst_2"}), Reply(body=assistant(id="asst_2")))
    assert client.call("getAssistant", assistant_id="asst_1")["id"] == "asst_2"
    assert [r.path for r in server.requests] == ["/v1/assistants/asst_1", "/v1/assistants/asst_2"]
    assert server.last.headers["Authorization"] == f"Bearer {CANARY}"


def test_303_after_post_is_a_bodiless_get_that_keeps_authorization(client, server):
    server.reply(Reply(status=303, headers={"Location": "/v1/assistants/asst_2"}), Reply(body=assistant(id="asst_2")))
    result = client.call_raw("createAssistant", {"model": "gpt-4o"})
    assert result.body["id"] == "asst_2"
    first, second = server.requests
    assert (first.method, second.method) == ("POST", "GET")
    assert second.body == b"" and "Content-Type" not in second.headers and "Content-Length" not in second.headers
    assert second.headers["Authorization"] == f"Bearer {CANARY}"


def test_second_hop_to_another_host_drops_authorization(client, server, other_server):
    server.reply(Reply(status=307, headers={"Location": "/v1/assistants/hop"}),
                 Reply(status=307, headers={"Location": other_server.url + "/v1/assistants"}))
    other_server.reply(Reply(body=assistant()))
    client.call("createAssistant", {"model": "gpt-4o"})
    assert [r.headers["Authorization"] for r in server.requests] == [f"Bearer {CANARY}"] * 2
    assert other_server.last.json() == {"model": "gpt-4o"} and "Authorization" not in other_server.last.headers


def test_redirect_budget_spent_makes_the_redirect_the_answer(openai_spec, server):
    server.reply(*[Reply(status=307, headers={"Location": "/v1/assistants/asst_1"}) for _ in range(10)])
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, validate_responses="off")
    result = client.call_raw("getAssistant", assistant_id="asst_1")
    assert result.status == 307 and len(server.requests) == 6   # the first request and 5 redirects


def test_close_closes_the_kept_alive_connection_and_a_later_call_opens_another(client, server):
    server.reply(Reply(body=assistant()), Reply(body=assistant()))
    client.call("getAssistant", assistant_id="asst_1")
    pool = next(iter(client.transport._routes.values()))
    client.close()
    assert pool.pool is None   # closed, not only forgotten
    assert client.call("getAssistant", assistant_id="asst_1")["id"] == assistant()["id"]
    assert server.connections == 2


def test_calls_to_one_origin_share_a_kept_alive_connection(client, server):
    server.reply(*[Reply(body=assistant()) for _ in range(5)])
    for _ in range(5):
        client.call("getAssistant", assistant_id="asst_1")
    assert server.connections == 1


@pytest.mark.parametrize("url, origin, target", [
    ("http://127.0.0.1:8080/v1/x?a=1", "http://127.0.0.1:8080", "/v1/x?a=1"),
    ("https://api.example.com", "https://api.example.com", "/"),
    ("https://api.example.com?a=1#frag", "https://api.example.com", "/?a=1"),
    ("http://[::1]:8080/v1#frag", "http://[::1]:8080", "/v1"),
    ("/relative/path", "", "/relative/path"),
])
def test_split_origin(url, origin, target):
    from dynclient.core.redirects import split_origin
    assert split_origin(url) == (origin, target)


def test_request_headers_match_names_without_regard_to_case():
    from dynclient.core.headers import Headers
    headers = Headers({"OpenAI-Beta": "assistants=v1", "Authorization": f"Bearer {CANARY}"})
    headers["openai-beta"] = "assistants=v2"
    assert dict(headers) == {"Authorization": f"Bearer {CANARY}", "openai-beta": "assistants=v2"}
    assert headers["OPENAI-BETA"] == "assistants=v2" and "authorization" in headers
    assert headers.get("x-missing") is None and headers.pop("AUTHORIZATION") == f"Bearer {CANARY}"
    copy = headers.copy()
    copy["X-Other"] = "1"
    assert "X-Other" not in headers and copy == {"OPENAI-beta": "assistants=v2", "x-other": "1"}
    with pytest.raises(KeyError):
        del headers["authorization"]


def test_request_headers_keep_their_index_through_every_change():
    from dynclient.core.headers import Headers
    headers = Headers({"A-One": "1"}, B="2")
    headers.setdefault("c-three", "3")
    headers["a-one"] = "one"
    assert dict(headers) == {"B": "2", "c-three": "3", "a-one": "one"}
    assert headers.pop("C-THREE") == "3" and "c-three" not in headers and headers.get("C-Three") is None
    name, value = headers.popitem()
    assert (name, value) == ("a-one", "one") and "A-ONE" not in headers
    copy = headers.copy()
    headers.clear()
    assert "b" not in headers and copy["b"] == "2" and len(copy) == 1
    copy["B"] = "x"
    assert dict(copy) == {"B": "x"}
