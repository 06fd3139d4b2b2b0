"""Proxies: explicit, from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), never for
loopback origins from the environment, credentials kept secret.

The proxy is a loopback TestServer that answers itself, as a forward proxy's upstream would: what
it records is what the client sent the proxy (absolute-form target, Host, Proxy-Authorization).
HTTPS through a proxy (CONNECT) is urllib3's ProxyManager's own work and is not exercised here.
"""

from __future__ import annotations

import base64
import logging

import pytest
from httpserver import Reply

import dynclient
from dynclient.proxies import is_loopback, proxy_for, split_credentials, with_scheme

from _specs import CANARY, assistant

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")
REMOTE = "http://api.example.test/v1"   # never resolved: only the proxy is ever connected to


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_proxy_from_the_environment_gets_the_absolute_url(openai_spec, server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server.url)
    server.reply(Reply(body=assistant()))
    with dynclient.Client(openai_spec, base_url=REMOTE, api_key=CANARY) as client:
        assert client.call("getAssistant", assistant_id="asst_1")["id"] == assistant()["id"]
    arrived = server.last
    assert arrived.target == "http://api.example.test/v1/assistants/asst_1"
    assert arrived.headers["Host"] == "api.example.test"
    assert arrived.headers["Authorization"] == f"Bearer {CANARY}"   # for the API, through the proxy


def test_explicit_proxy_with_credentials_sends_proxy_authorization_and_never_shows_them(
        openai_spec, server, caplog):
    password = "proxy-" + CANARY
    server.reply(Reply(body=assistant()))
    caplog.set_level(logging.DEBUG)
    client = dynclient.Client(openai_spec, base_url=REMOTE, api_key="sk-other-key",
                              proxy=f"http://alice:{password}@127.0.0.1:{server.port}")
    client.call("getAssistant", assistant_id="asst_1")
    token = base64.b64encode(f"alice:{password}".encode()).decode()
    assert server.last.headers["Proxy-Authorization"] == f"Basic {token}"
    shown = [repr(client), repr(client.transport.__dict__), *(r.getMessage() for r in caplog.records)]
    assert not [text for text in shown if password in text]


def test_lowercase_variable_and_all_proxy_count(openai_spec, server, monkeypatch):
    monkeypatch.setenv("all_proxy", f"127.0.0.1:{server.port}")   # no scheme: http is meant
    server.reply(Reply(body=assistant()))
    dynclient.Client(openai_spec, base_url=REMOTE).call("getAssistant", assistant_id="asst_1")
    assert server.last.target.startswith("http://api.example.test/")


def test_loopback_origins_never_use_a_proxy_from_the_environment(openai_spec, server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")   # nothing listens there
    server.reply(Reply(body=assistant()))
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1")
    assert client.call("getAssistant", assistant_id="asst_1")["id"] == assistant()["id"]
    assert server.last.target == "/v1/assistants/asst_1"


def test_explicit_proxy_carries_loopback_origins_too(openai_spec, server, monkeypatch):
    server.reply(Reply(body=assistant()))
    client = dynclient.Client(openai_spec, base_url="http://localhost:9/v1", proxy=server.url)
    client.call("getAssistant", assistant_id="asst_1")
    assert server.last.target == "http://localhost:9/v1/assistants/asst_1"


def test_a_dead_proxy_is_a_typed_connection_error(openai_spec):
    client = dynclient.Client(openai_spec, base_url=REMOTE, proxy="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(dynclient.APIConnectionError):
        client.call("getAssistant", assistant_id="asst_1")


def test_redirect_through_the_proxy(openai_spec, server):
    server.reply(Reply(status=307, headers={"Location": "/v1/assistants/asst_2"}), Reply(body=assistant(id="asst_2")))
    client = dynclient.Client(openai_spec, base_url=REMOTE, proxy=server.url)
    assert client.call("getAssistant", assistant_id="asst_1")["id"] == "asst_2"
    assert [r.target for r in server.requests] == ["http://api.example.test/v1/assistants/asst_1",
                                                   "http://api.example.test/v1/assistants/asst_2"]


# --- the choice, without sockets ---------------------------------------------------------


def test_no_proxy_and_proxy_false(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert proxy_for(None, "https://api.openai.com") == "http://proxy.example:3128"
    assert proxy_for(None, "http://api.openai.com") is None          # no HTTP_PROXY
    assert proxy_for(False, "https://api.openai.com") is None        # the environment ignored
    monkeypatch.setenv("NO_PROXY", "openai.com,.internal")
    assert proxy_for(None, "https://api.openai.com") is None
    assert proxy_for(None, "https://svc.internal:8443") is None
    assert proxy_for(None, "https://example.com") == "http://proxy.example:3128"
    assert proxy_for("http://explicit:1", "https://api.openai.com") == "http://explicit:1"


def test_http_proxy_is_ignored_in_a_cgi_request(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://from-a-request-header:1")   # "httpoxy"
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    assert proxy_for(None, "http://api.example.test") is None


@pytest.mark.parametrize("host, loopback", [("localhost", True), ("127.0.0.1", True), ("127.8.0.1", True),
                                            ("[::1]", True), ("api.localhost", True), ("10.0.0.1", False),
                                            ("example.com", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_socks_and_credentials_parsing():
    with pytest.raises(ValueError, match="socks5"):
        dynclient.Client({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}},
                         proxy="socks5://127.0.0.1:1080")
    assert with_scheme("proxy:3128") == "http://proxy:3128"
    assert split_credentials("http://a%40b:p%3Ass@proxy:3128") == ("http://proxy:3128", ("a@b", "p:ss"))
    assert split_credentials("http://proxy:3128") == ("http://proxy:3128", None)


def test_a_document_is_downloaded_through_the_environment_proxy(server, monkeypatch, tmp_path):
    document = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    monkeypatch.setenv("HTTP_PROXY", f"http://bob:proxy-secret-9@127.0.0.1:{server.port}")
    server.reply(Reply(body=document))
    loaded = dynclient.load("http://specs.example.test/openapi.json", cache=False)
    assert loaded.data == document
    assert server.last.target == "http://specs.example.test/openapi.json"
    assert server.last.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"bob:proxy-secret-9").decode()
