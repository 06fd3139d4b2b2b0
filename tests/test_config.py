"""Configuration: arguments > environment > dynclient.toml, key by key; the file's checks; from_config.

Every resolve() here gets an explicit `environ` and `cwd`, so neither the
machine's environment nor a stray dynclient.toml can change a result.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import warnings
from pathlib import Path

import pytest
import urllib3

import dynclient
from dynclient import config
from dynclient.config import ConfigError, InlineKeyWarning
from _specs import CANARY, spec_30

FILE_KEY = "sk-file-canary-456"


def write(directory: Path, text: str, name: str = "dynclient.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def resolve(tmp_path: Path, environ: dict | None = None, path=None, **arguments) -> config.Settings:
    return config.resolve(path, environ=environ or {}, cwd=tmp_path, **arguments)


# --- precedence, key by key -------------------------------------------------------------
# (setting, environment variable or None, argument value, environment text, TOML text, value from the file)

LAYERS = [
    ("spec", "DYNCLIENT_SPEC", "openai@2026-08-21", "openai@2025-03-22", '"openai@2025-04-29"', "openai@2025-04-29"),
    ("base_url", "OPENAI_BASE_URL", "http://arg.test/v1", "http://env.test/v1", '"http://file.test/v1"',
     "http://file.test/v1"),
    ("organization", "OPENAI_ORG_ID", "org-arg", "org-env", '"org-file"', "org-file"),
    ("project", "OPENAI_PROJECT_ID", "proj_arg", "proj_env", '"proj_file"', "proj_file"),
    ("timeout", None, 7, None, "{ connect = 2, read = 30, total = 60 }", dynclient.Timeout(2.0, 30.0, 60.0)),
    ("max_retries", None, 5, None, "2", 2),
    ("validate_requests", None, True, None, "false", False),
    ("validate_responses", None, "off", None, '"warn"', "warn"),
]


@pytest.mark.parametrize("name, variable, argument, from_env, toml, from_file", LAYERS, ids=[l[0] for l in LAYERS])
def test_each_setting_takes_argument_then_environment_then_file(tmp_path, name, variable, argument, from_env,
                                                                 toml, from_file):
    write(tmp_path, f"{name} = {toml}\n")
    environ = {variable: from_env} if variable else {}
    file_origin = f"file {tmp_path / 'dynclient.toml'}"

    only_file = resolve(tmp_path, environ={})
    assert getattr(only_file, name) == from_file and only_file.origins[name] == file_origin

    if variable:
        env_over_file = resolve(tmp_path, environ=environ)
        assert getattr(env_over_file, name) == from_env
        assert env_over_file.origins[name] == f"environment {variable}"

    argument_over_all = resolve(tmp_path, environ=environ, **{name: argument})
    expected = float(argument) if name == "timeout" else argument
    assert getattr(argument_over_all, name) == expected and argument_over_all.origins[name] == "argument"

    (tmp_path / "dynclient.toml").unlink()
    nowhere = resolve(tmp_path, environ={})
    assert getattr(nowhere, name) is None and name not in nowhere.origins


def test_the_key_takes_argument_then_openai_api_key_then_the_files_variable_then_an_inline_key(tmp_path):
    write(tmp_path, 'api_key_env = "TEAM_KEY"\n')
    environ = {"OPENAI_API_KEY": "sk-env", "TEAM_KEY": "sk-team"}
    assert resolve(tmp_path, environ, api_key="sk-arg").api_key.reveal() == "sk-arg"
    from_env = resolve(tmp_path, environ)
    assert from_env.api_key.reveal() == "sk-env" and from_env.origins["api_key"] == "environment OPENAI_API_KEY"
    from_file_variable = resolve(tmp_path, {"TEAM_KEY": "sk-team"})
    assert from_file_variable.api_key.reveal() == "sk-team"
    assert from_file_variable.origins["api_key"].endswith("api_key_env = TEAM_KEY")
    assert from_file_variable.key_sources == ("OPENAI_API_KEY", "TEAM_KEY")
    nothing = resolve(tmp_path, {})
    assert nothing.api_key is None and nothing.key_sources == ("OPENAI_API_KEY", "TEAM_KEY")
    # api_key_env as an argument names a variable that is looked at before OPENAI_API_KEY
    assert resolve(tmp_path, environ, api_key_env="TEAM_KEY").api_key.reveal() == "sk-team"

    write(tmp_path, f'api_key = "{FILE_KEY}"\nallow_inline_key = true\n')
    with pytest.warns(InlineKeyWarning):
        inline = resolve(tmp_path, {})
    assert inline.api_key.reveal() == FILE_KEY
    with pytest.warns(InlineKeyWarning):
        assert resolve(tmp_path, {"OPENAI_API_KEY": "sk-env"}).api_key.reveal() == "sk-env"


def test_headers_merge_by_name_with_the_argument_winning_whatever_its_case(tmp_path):
    write(tmp_path, '[headers]\nOpenAI-Beta = "assistants=v1"\nX-Team = "finance"\n')
    settings = resolve(tmp_path, headers={"openai-beta": "assistants=v2"})
    assert dict(settings.headers) == {"X-Team": "finance", "openai-beta": "assistants=v2"}
    assert settings.origins["headers"] == f"argument over file {tmp_path / 'dynclient.toml'}"
    assert dict(resolve(tmp_path).headers) == {"OpenAI-Beta": "assistants=v1", "X-Team": "finance"}


def test_an_empty_environment_variable_counts_as_unset(tmp_path):
    write(tmp_path, 'base_url = "http://file.test/v1"\n')
    settings = resolve(tmp_path, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""})
    assert settings.base_url == "http://file.test/v1" and settings.api_key is None


def test_openai_variables_can_be_left_out_for_another_apis_document(tmp_path):
    write(tmp_path, 'api_key_env = "OPENAI_API_KEY"\n')
    environ = {"OPENAI_BASE_URL": "http://env.test", "OPENAI_ORG_ID": "org-env", "DYNCLIENT_SPEC": "x.yaml",
               "OPENAI_API_KEY": "sk-env"}
    settings = config.resolve(environ=environ, cwd=tmp_path, openai_environment=False)
    assert settings.base_url is None and settings.organization is None
    assert settings.spec == "x.yaml"
    # ...but a variable the file names explicitly is still read
    assert settings.api_key.reveal() == "sk-env" and settings.origins["api_key"].startswith("file ")


# --- which file -------------------------------------------------------------------------


def test_the_file_is_the_argument_then_dynclient_config_then_the_working_directorys(tmp_path):
    here = write(tmp_path, 'organization = "org-cwd"\n')
    named = write(tmp_path, 'organization = "org-env-file"\n', "named.toml")
    given = write(tmp_path, 'organization = "org-arg-file"\n', "given.toml")
    assert resolve(tmp_path).config_file == str(here)
    assert resolve(tmp_path, {"DYNCLIENT_CONFIG": str(named)}).organization == "org-env-file"
    assert resolve(tmp_path, {"DYNCLIENT_CONFIG": str(named)}, path="given.toml").organization == "org-arg-file"
    assert resolve(tmp_path, path=given).config_file == str(given)
    here.unlink()
    assert resolve(tmp_path).config_file is None


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_named_file_that_does_not_exist_is_an_error(tmp_path, how):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="nowhere.toml .*does not exist"):
        if how == "argument":
            resolve(tmp_path, path=missing)
        else:
            resolve(tmp_path, {"DYNCLIENT_CONFIG": str(missing)})


def test_a_relative_spec_path_is_relative_to_the_file_and_names_stay_names(tmp_path):
    sub = tmp_path / "project"
    sub.mkdir()
    write(sub, 'spec = "specs/api.yaml"\n')
    assert resolve(tmp_path, path=sub / "dynclient.toml").spec == str(sub / "specs" / "api.yaml")
    write(sub, 'spec = "openai@2025-04-29"\n')
    assert resolve(tmp_path, path=sub / "dynclient.toml").spec == "openai@2025-04-29"


# --- what a file may not say ---------------------------------------------------------------


@pytest.mark.parametrize("text, suggestion", [("base_ur = 'x'", "base_url"), ("max_retry = 3", "max_retries"),
                                              ("apikey_env = 'K'", "api_key_env"), ("colour = 'red'", None)])
def test_an_unknown_key_names_the_key_the_file_and_the_closest_known_key(tmp_path, text, suggestion):
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as caught:
        resolve(tmp_path)
    message = str(caught.value)
    assert str(path) in message and repr(text.split(" ")[0]) in message
    assert (f"did you mean {suggestion!r}" in message) if suggestion else "did you mean" not in message


@pytest.mark.parametrize("text, expected", [
    ('timeout = "abc"', "'timeout' must be a number of seconds > 0, or a table"),
    ("timeout = -1", "'timeout' must be a number of seconds"),
    ("timeout = { connect = 1, wait = 2 }", "'timeout' must be a table with only 'connect', 'read' and 'total'"),
    ('timeout = { read = "x" }', "'timeout' must be connect, read and total as numbers"),
    ("max_retries = 1.5", "'max_retries' must be a whole number >= 0, not float 1.5"),
    ("max_retries = true", "'max_retries' must be a whole number >= 0, not bool True"),
    ("max_retries = -1", "'max_retries' must be a whole number >= 0"),
    ('validate_requests = "yes"', "'validate_requests' must be true or false, not str 'yes'"),
    ('validate_responses = "loud"', "'validate_responses' must be one of 'strict', 'warn', 'off'"),
    ("base_url = 8080", "'base_url' must be a non-empty string, not int 8080"),
    ("headers = { X-Count = 3 }", "'headers' must be a table of header names to string values ('X-Count' is int)"),
    ('headers = "x"', "'headers' must be a table of header names to string values, not str"),
    ("api_key_env = []", "'api_key_env' must be a non-empty string, not list"),
])
def test_a_wrong_type_names_the_key_and_what_was_expected(tmp_path, text, expected):
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as caught:
        resolve(tmp_path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_malformed_toml_names_the_file_and_the_place(tmp_path):
    path = write(tmp_path, 'base_url = "http://x"\ntimeout = [1,\n')
    with pytest.raises(ConfigError, match=r"not valid TOML") as caught:
        resolve(tmp_path)
    assert str(path) in str(caught.value)


def test_a_literal_key_in_the_file_is_refused_without_showing_it(tmp_path):
    write(tmp_path, f'api_key = "{FILE_KEY}"\n')
    with pytest.raises(ConfigError, match="api_key_env = \"OPENAI_API_KEY\".*allow_inline_key = true") as caught:
        resolve(tmp_path)
    assert FILE_KEY not in str(caught.value)


def test_a_credential_header_in_the_file_is_refused_too(tmp_path):
    write(tmp_path, f'[headers]\nAuthorization = "Bearer {FILE_KEY}"\n')
    with pytest.raises(ConfigError, match="header 'Authorization' holds a literal credential") as caught:
        resolve(tmp_path)
    assert FILE_KEY not in str(caught.value)


def test_both_a_key_and_a_key_variable_is_ambiguous(tmp_path):
    write(tmp_path, f'api_key = "{FILE_KEY}"\napi_key_env = "K"\nallow_inline_key = true\n')
    with pytest.raises(ConfigError, match="one of 'api_key_env' and 'api_key', not both"):
        resolve(tmp_path)


def test_an_allowed_inline_key_warns_without_showing_it(tmp_path):
    write(tmp_path, f'api_key = "{FILE_KEY}"\nallow_inline_key = true\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = resolve(tmp_path)
    assert [w.category for w in caught] == [InlineKeyWarning]
    assert "clear text" in str(caught[0].message) and FILE_KEY not in str(caught[0].message)
    assert settings.origins["api_key"].endswith("(inline key)")


def test_without_tomllib_or_tomli_a_file_is_a_clear_error(tmp_path, monkeypatch):
    write(tmp_path, 'base_url = "http://x"\n')
    monkeypatch.setitem(sys.modules, "tomllib", None)   # `import tomllib` now fails, as on Python 3.10
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ConfigError, match=r"Python 3\.11\+ \(tomllib\) or the 'tomli' package.*arguments"):
        resolve(tmp_path)
    assert resolve(tmp_path / "..", base_url="http://arg").base_url == "http://arg"   # no file: no TOML needed


# --- arguments ----------------------------------------------------------------------------


def test_an_unknown_argument_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting 'base_ur'; did you mean 'base_url'\?"):
        resolve(tmp_path, base_ur="http://x")


def test_a_wrong_argument_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"argument max_retries= must be a whole number >= 0, not str '3'"):
        resolve(tmp_path, max_retries="3")
    with pytest.raises(ConfigError, match=r"argument api_key= must be a non-empty string, not int$"):
        resolve(tmp_path, api_key=12345)


def test_spec_arguments_in_the_clients_own_forms(tmp_path, server, clean_env):
    path = spec_file(tmp_path, "https://api.example.test/v1")
    assert resolve(tmp_path, spec=path).spec == str(path)
    loaded = dynclient.Spec(str(path))
    assert resolve(tmp_path, spec=loaded).spec is loaded
    client = dynclient.Client.from_config(spec=loaded, base_url=server.url)
    assert client.spec is loaded and client.call("publicPing") == {"ok": True}
    with pytest.raises(ConfigError, match=r"argument spec= must be a non-empty string, not dict"):
        resolve(tmp_path, spec={"openapi": "3.0.3"})


def test_timeout_arguments_in_the_clients_own_forms(tmp_path):
    assert resolve(tmp_path, timeout=(1, 2)).timeout == dynclient.Timeout(1.0, 2.0)
    assert resolve(tmp_path, timeout=(1, 2, 3)).timeout == dynclient.Timeout(1.0, 2.0, 3.0)
    for given in (urllib3.Timeout(connect=1, read=9), dynclient.Timeout(total=4)):
        assert resolve(tmp_path, timeout=given).timeout is given
    write(tmp_path, "timeout = { read = 30 }\n")
    assert resolve(tmp_path).timeout == dynclient.Timeout(5.0, 30.0)   # the missing parts keep the defaults


# --- the value ------------------------------------------------------------------------------


def test_settings_are_immutable_and_their_repr_never_shows_the_key(tmp_path):
    write(tmp_path, 'api_key_env = "TEAM_KEY"\n[headers]\nX-Team = "finance"\n')
    settings = resolve(tmp_path, {"TEAM_KEY": CANARY})
    for text in (repr(settings), str(settings), repr(settings.api_key), repr(settings.origins)):
        assert CANARY not in text
    assert "api_key=<set from file" in repr(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.base_url = "http://elsewhere"   # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.headers["X-Team"] = "other"   # type: ignore[index]
    with pytest.raises(TypeError):
        settings.origins["api_key"] = "x"   # type: ignore[index]


# --- Client.from_config over a loopback server ---------------------------------------------


def spec_file(tmp_path: Path, server_url: str) -> Path:
    document = spec_30()
    document["servers"] = [{"url": server_url}]
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "DYNCLIENT_SPEC",
                 "DYNCLIENT_CONFIG", "TEAM_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_from_config_sends_what_the_file_and_the_environment_say(tmp_path, server, clean_env):
    spec_file(tmp_path, "https://api.openai.com/v1")   # OpenAI's server: the OPENAI_* variables count
    write(tmp_path, f'spec = "api.json"\nbase_url = "{server.url}/v1"\napi_key_env = "TEAM_KEY"\n'
                    f'organization = "org-file"\ntimeout = 5\n[headers]\nX-Team = "finance"\n')
    clean_env.chdir(tmp_path)
    clean_env.setenv("TEAM_KEY", CANARY)
    clean_env.setenv("OPENAI_PROJECT_ID", "proj_env")
    with dynclient.Client.from_config(headers={"X-Call": "1"}) as client:
        assert client.call("ping") == {"ok": True}
        assert CANARY not in repr(client)
    sent = server.last
    assert sent.path == "/v1/ping"
    assert sent.headers["Authorization"] == f"Bearer {CANARY}"
    assert sent.headers["OpenAI-Organization"] == "org-file" and sent.headers["OpenAI-Project"] == "proj_env"
    assert sent.headers["X-Team"] == "finance" and sent.headers["X-Call"] == "1"


def test_from_config_argument_beats_environment_beats_file_on_the_wire(tmp_path, server, clean_env):
    spec_file(tmp_path, "https://api.openai.com/v1")
    write(tmp_path, 'spec = "api.json"\nbase_url = "http://127.0.0.1:9/v1"\norganization = "org-file"\n')
    clean_env.setenv("OPENAI_BASE_URL", server.url + "/env")
    clean_env.setenv("OPENAI_ORG_ID", "org-env")
    clean_env.setenv("OPENAI_API_KEY", "sk-env")
    client = dynclient.Client.from_config(tmp_path / "dynclient.toml", api_key="sk-arg")
    client.call("ping")
    assert server.last.path == "/env/ping"
    assert server.last.headers["Authorization"] == "Bearer sk-arg"
    assert server.last.headers["OpenAI-Organization"] == "org-env"


def test_from_config_never_sends_openai_variables_to_another_apis_server(tmp_path, server, clean_env):
    spec_file(tmp_path, "https://api.example.test/v1")
    write(tmp_path, f'spec = "api.json"\nbase_url = "{server.url}/v1"\n')
    clean_env.setenv("OPENAI_API_KEY", CANARY)
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")   # would refuse the connection if used
    clean_env.setenv("OPENAI_ORG_ID", "org-env")
    client = dynclient.Client.from_config(tmp_path / "dynclient.toml")
    client.call("publicPing")
    assert server.last.path == "/v1/public"
    assert "Authorization" not in server.last.headers and "OpenAI-Organization" not in server.last.headers


def test_from_config_passes_client_options_and_refuses_unknown_ones(tmp_path, server, clean_env):
    spec_file(tmp_path, "https://api.example.test/v1")
    write(tmp_path, f'spec = "api.json"\nbase_url = "{server.url}/v1"\nvalidate_responses = "off"\n')
    client = dynclient.Client.from_config(tmp_path / "dynclient.toml", verify=False, pool_maxsize=2)
    assert client.options.validate_responses == "off"
    with pytest.raises(ConfigError, match="did you mean 'verify'"):
        dynclient.Client.from_config(tmp_path / "dynclient.toml", verfy=False)


@pytest.mark.skipif("max_retries" not in inspect.signature(dynclient.Client).parameters,
                    reason="Client(max_retries=) arrives with the lead's retries branch")
def test_from_config_hands_max_retries_to_the_client(tmp_path, server, clean_env):
    spec_file(tmp_path, "https://api.example.test/v1")
    write(tmp_path, f'spec = "api.json"\nbase_url = "{server.url}/v1"\nmax_retries = 1\n')
    from httpserver import Reply
    failure = Reply(status=500, headers={"Retry-After": "0"}, body={"error": {"message": "boom"}})
    server.reply(failure, failure, Reply(body={"ok": True}))
    client = dynclient.Client.from_config(tmp_path / "dynclient.toml")
    with pytest.raises(dynclient.InternalServerError):
        client.call("publicPing")
    assert len(server.requests) == 2   # max_retries = 1 from the file: one try and one retry, no more
