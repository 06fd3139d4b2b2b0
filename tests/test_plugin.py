"""The pytest plugin, as a user meets it: installed by entry point, run on an inner test file.

The inner runs are in-process (``pytester.runpytest``); the plugin is not
named anywhere in them, so they pass only if the ``pytest11`` entry point
loads it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

import dynclient.yaml12  # noqa: F401  (imported before the in-process runs: pytester forgets modules
# first imported inside one, and a YAML loader from a forgotten copy of PyYAML loses its constructors)

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_by_entry_point():
    found = [e for e in entry_points(group="pytest11") if e.value == "dynclient.testing.pytest_plugin"]
    assert found, "reinstall with `pip install -e .` to register the pytest11 entry point"


def test_public_imports():
    from dynclient.testing import MockServer, serve, strategies
    assert callable(serve) and MockServer and callable(strategies.request_body)


INNER = '''
import pytest

def test_fixture_gives_server_client_and_state(dynclient_mock):
    assert dynclient_mock.base_url.startswith("http://127.0.0.1:") and dynclient_mock.base_url.endswith("/v1")
    assert dynclient_mock.spec.version and "{version}" in dynclient_mock.spec.openapi
    asst = dynclient_mock.client.call("createAssistant", {{"model": "gpt-4o", "name": "t"}})
    assert list(dynclient_mock.store("/assistants")) == [asst["id"]]
    assert [(r.method, r.status) for r in dynclient_mock.requests] == [("POST", 200)]

def test_state_does_not_leak_between_tests(dynclient_mock):
    assert dynclient_mock.client.call("listAssistants")["data"] == []

@pytest.mark.dynclient_spec("{other}", require_auth=False)
def test_marker_picks_the_document_and_options(dynclient_mock):
    assert dynclient_mock.spec.openapi.startswith("3.1")
    import urllib3
    assert urllib3.request("GET", dynclient_mock.base_url + "/models").status == 200
'''


def test_ini_option_and_marker(pytester, spec_2025, spec_2026):
    pytester.makeini(f"[pytest]\ndynclient_spec = {spec_2025}\n")
    pytester.makepyfile(test_inner=INNER.format(version="3.0", other=spec_2026))
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_marker_is_registered(pytester):
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*dynclient_spec(source, **options)*"])


def test_a_failing_inner_test_fails(pytester, spec_2025):
    """The fixture's client really validates: a bad call in a user's test is a failure there."""
    pytester.makeini(f"[pytest]\ndynclient_spec = {spec_2025}\n")
    pytester.makepyfile(test_bad='''
def test_bad(dynclient_mock):
    dynclient_mock.client.call("createAssistant", {"model": 42})
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RequestValidationError*createAssistant*model*"])


def test_without_ini_or_marker_the_default_named_document_is_served(pytester, corpus_dir, monkeypatch):
    from dynclient.sources import default_name
    monkeypatch.setenv("DYNCLIENT_SPEC_PATH", str(corpus_dir))
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_default=f'''
def test_default(dynclient_mock):
    assert dynclient_mock.spec.document.origin.endswith("{default_name().split("@")[1]}.yaml")
    assert dynclient_mock.client.call("listModels")["object"] == "list"
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_async_client_of_the_fixture(pytester, spec_2025):
    """An asyncio test drives the mock through the fixture's AsyncClient; its connections are closed
    after the test without a warning about an unclosed session."""
    pytester.makeini(f"[pytest]\ndynclient_spec = {spec_2025}\nfilterwarnings = error\n")
    pytester.makepyfile(test_async='''
import asyncio

def test_many_at_once(dynclient_mock):
    async def main():
        async with dynclient_mock.async_client as client:
            created = await client.call("createAssistant", {"model": "gpt-4o", "name": "a"})
            got = await asyncio.gather(*[client.call("getAssistant", assistant_id=created["id"])
                                         for _ in range(20)])
            return created, got
    created, got = asyncio.run(main())
    assert {g["id"] for g in got} == {created["id"]}
    assert list(dynclient_mock.store("/assistants")) == [created["id"]]

def test_the_async_client_serves_a_second_loop(dynclient_mock):
    async def one():
        async with dynclient_mock.async_client as client:
            return (await client.call("listModels"))["object"]
    assert asyncio.run(one()) == asyncio.run(one()) == "list"

def test_an_unused_async_client_costs_nothing(dynclient_mock):
    assert dynclient_mock.async_client.spec is dynclient_mock.spec
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error::ResourceWarning")
    result.assert_outcomes(passed=3)
