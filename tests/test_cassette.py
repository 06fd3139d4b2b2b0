"""Cassettes (#21): record real exchanges over real sockets, replay them with the server gone.

Every test runs on both clients (`make_client`): the cassette sits in the transport, below
everything the two shells share.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dynclient
from dynclient.cassette import Cassette
from dynclient.errors import CassetteError, NotFoundError
from dynclient.testing.mock import MockServer
from httpserver import Reply, TestServer
from _specs import assistant

KEY = "sk-cassette-canary-0123456789"
ORG = "org-canary-4242424242"
PROJECT = "proj_canary_7777777777"
COOKIE = "session=cookie-canary-5555555555"
CLOSED = "http://127.0.0.1:9/v1"   # nothing listens there: a replay that sent anything would fail


def everything(client, folder: Path) -> list:
    """Calls of every kind: JSON, a 404, pages, an event stream, a download."""
    out = []
    first = client.call("createAssistant", {"model": "gpt-4o", "name": "one"})
    client.call("createAssistant", {"model": "gpt-4o", "name": "two"})
    out.append(first)
    out.append(client.call("getAssistant", assistant_id=first["id"]))
    try:
        client.call("getAssistant", assistant_id="asst_missing")
    except NotFoundError as exc:
        out.append(("404", exc.status, exc.body))
    out.append(list(client.paginate("listAssistants", limit=1)))
    with client.stream("createChatCompletion", {"model": "gpt-4o",
                                                "messages": [{"role": "user", "content": "hi"}]}) as stream:
        out.append([(event.event, event.data) for event in stream])
    target = folder / "speech.mp3"
    result = client.download("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"}, to=target)
    out.append((result.status, result.content_type, target.read_bytes()))
    raw = client.call_raw("listModels")
    out.append((raw.status, raw.body, raw.attempts, raw.headers.get("content-type")))
    return out


def test_record_against_the_mock_then_replay_with_it_stopped(make_client, openai_spec, tmp_path):
    path = tmp_path / "cassettes" / "all.jsonl"
    with MockServer(openai_spec, strict_ids=True) as server:   # (strict: `asst_missing` is a 404, not assumed)
        client = make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path)
        live = everything(client, tmp_path)
        sent = len(server.app.requests)
    assert sent == 9   # two creates, a get, a 404, two pages, a stream, a download, the models
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["dynclient_cassette"] == 1 and lines[0]["sha256"] == openai_spec.document.sha256
    assert [line["operation"] for line in lines[1:]] == [
        "createAssistant", "createAssistant", "getAssistant", "getAssistant", "listAssistants", "listAssistants",
        "createChatCompletion", "createSpeech", "listModels"]
    stream = lines[7]["response"]
    assert stream["events"] and stream.get("done") is True and "partial" not in stream
    speech = lines[8]["response"]["file"]   # binary: a side file named by its sha256
    assert (tmp_path / "cassettes" / "all.files" / speech["sha256"]).stat().st_size == speech["size"] > 0

    for mode in ("once", "none"):
        replaying = make_client(openai_spec, base_url=CLOSED, api_key=KEY, cassette=path, record_mode=mode)
        assert everything(replaying, tmp_path) == live
    assert len(lines) == len(path.read_text().splitlines())   # replaying wrote nothing


def test_secrets_and_scrubbed_fields_never_reach_the_file(make_client, openai_spec, tmp_path):
    body = assistant(instructions=f"you hold {KEY}", description="private words")
    with TestServer() as server:
        server.reply(Reply(status=200, body=body, headers=[
            ("Set-Cookie", COOKIE), ("OpenAI-Organization", ORG), ("openai-project", PROJECT),
            ("x-request-id", "req_1")]))
        cassette = Cassette(tmp_path / "secret.jsonl", "once", scrub_fields=["description"])
        client = make_client(openai_spec, base_url=server.url + "/v1", api_key=KEY, organization=ORG,
                             project=PROJECT, headers={"Cookie": COOKIE}, cassette=cassette)
        live = client.call("createAssistant", {"model": "gpt-4o", "metadata": {"key": KEY}},
                           headers={"X-Trace": KEY})
        assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"   # it was sent, for real
    text = (tmp_path / "secret.jsonl").read_text()
    for secret in (KEY, ORG, PROJECT, COOKIE, "cookie-canary", "private words"):
        assert secret not in text
    response = json.loads(text.splitlines()[1])["response"]
    assert response["headers"]["Set-Cookie"] == response["headers"]["OpenAI-Organization"] == "<redacted>"
    assert response["body"]["description"] == "<redacted>" and response["body"]["instructions"] == "<redacted>"
    assert live["description"] == "private words"   # the caller got the real answer

    replay = make_client(openai_spec, base_url=CLOSED, api_key=KEY, cassette=cassette)
    again = replay.call("createAssistant", {"model": "gpt-4o", "metadata": {"key": KEY}}, headers={"X-Trace": KEY})
    assert again["id"] == live["id"] and again["description"] == "<redacted>"


def test_an_unmatched_request_names_the_operation_and_the_closest_exchange(make_client, openai_spec, tmp_path):
    path = tmp_path / "c.jsonl"
    with MockServer(openai_spec) as server:
        client = make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path)
        client.call("createAssistant", {"model": "gpt-4o", "name": "recorded"})
        client.call("listAssistants", limit=2)
    with TestServer() as server:   # a replay that sent anything would reach it
        replay = make_client(openai_spec, base_url=server.url + "/v1", api_key=KEY, cassette=path,
                             record_mode="none")
        with pytest.raises(CassetteError) as caught:
            replay.call("createAssistant", {"model": "gpt-4o", "name": "asked"})
        message = str(caught.value)
        assert message.startswith("createAssistant: no recorded exchange in ") and str(path) in message
        assert 'closest: line 2 (createAssistant), which differs at /request/body/name: recorded "recorded", ' \
               'asked "asked"' in message
        with pytest.raises(CassetteError, match=r"listAssistants: .*differs at /request/arguments/limit: "
                                                r"recorded 2, asked 3"):
            replay.call("listAssistants", limit=3)
        replay.call("listAssistants", limit=2)
        with pytest.raises(CassetteError, match="listAssistants: .*the 1 exchange recorded for it has been "
                                                "replayed already"):
            replay.call("listAssistants", limit=2)
        with pytest.raises(CassetteError, match=r"deleteAssistant: .*another operation"):
            replay.call("deleteAssistant", assistant_id="asst_1")
        assert server.requests == [] and server.connections == 0


def test_record_modes(make_client, openai_spec, tmp_path):
    path = tmp_path / "modes.jsonl"
    with pytest.raises(CassetteError, match="does not exist, and record_mode='none' never records"):
        make_client(openai_spec, base_url=CLOSED, cassette=path, record_mode="none")
    with pytest.raises(dynclient.ConfigError, match="record_mode must be one of"):
        make_client(openai_spec, base_url=CLOSED, cassette=path, record_mode="sometimes")
    with MockServer(openai_spec) as server:
        make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path).call("listModels")
        once = make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path)   # file exists now
        once.call("listModels")
        with pytest.raises(CassetteError, match="record_mode='once', which never sends"):
            once.call("listAssistants")
        assert len(server.app.requests) == 1
        episodes = make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path,
                               record_mode="new_episodes")
        episodes.call("listModels")                  # replayed
        episodes.call("listAssistants")              # sent, appended
        assert len(server.app.requests) == 2
        assert len(path.read_text().splitlines()) == 3
        everything_again = make_client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=path,
                                       record_mode="all")
        everything_again.call("listAssistants")      # sent; the file starts again
        assert len(server.app.requests) == 3
    assert [json.loads(line).get("operation") for line in path.read_text().splitlines()] == [None, "listAssistants"]


def test_retries_replay_as_they_happened_and_a_large_body_goes_to_a_side_file(make_client, openai_spec, tmp_path):
    page = {"object": "list", "data": [{"id": f"model-{i}", "object": "model", "created": 1, "owned_by": "x" * 50}
                                       for i in range(40)]}
    with TestServer() as server:
        server.reply(Reply(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
                     Reply(status=200, body=page))
        cassette = Cassette(tmp_path / "big.jsonl", inline_max=1024)
        live = make_client(openai_spec, base_url=server.url + "/v1", api_key=KEY, cassette=cassette,
                           max_retries=2).call_raw("listModels")
    assert live.attempts == 2
    response = json.loads((tmp_path / "big.jsonl").read_text().splitlines()[1])["response"]
    assert response["attempts"] == 2 and response["file"]["size"] > 1024 and "body" not in response
    replay = make_client(openai_spec, base_url=CLOSED, api_key=KEY, cassette=cassette).call_raw("listModels")
    assert (replay.status, replay.body, replay.attempts) == (200, live.body, 2)


def test_check_a_cassette_against_a_version_where_a_response_field_changed_type(openai_spec, tmp_path, capsys):
    from dynclient.cli import main
    path, big = tmp_path / "c.jsonl", tmp_path / "big.jsonl"   # big: every body in a side file
    with MockServer(openai_spec) as server:
        for cassette in (path, Cassette(big, inline_max=16)):
            client = dynclient.Client(openai_spec, base_url=server.base_url, api_key=KEY, cassette=cassette)
            client.call("createAssistant", {"model": "gpt-4o"})
            list(client.stream("createChatCompletion",
                               {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
    assert all("file" in json.loads(line)["response"] for line in big.read_text().splitlines()[1:])
    newer = json.loads(json.dumps(openai_spec.document.data))
    newer["components"]["schemas"]["AssistantObject"]["properties"]["created_at"] = {"type": "string"}
    newer["components"]["schemas"]["CreateChatCompletionStreamResponse"]["properties"]["created"] = {"type": "string"}
    newer_path = tmp_path / "newer.json"
    newer_path.write_text(json.dumps(newer))

    assert main(["check", "--cassette", str(path), "--spec", str(openai_spec.document.origin)]) == 0
    assert "2 cassette exchanges against" in capsys.readouterr().out
    assert main(["check", "--cassette", str(path), "--spec", str(newer_path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failed = [(r["line"], r["operation_id"], r["location"], r["pointer"]) for r in report["results"] if not r["ok"]]
    assert failed == [(2, "createAssistant", "response", "/body/created_at"),
                      (3, "createChatCompletion", "response", "/events/0/data/created")]
    assert main(["check", "--cassette", str(big), "--spec", str(newer_path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["pointer"] for r in report["results"] if not r["ok"]] == ["/body/created_at", "/events/0/data/created"]
    assert main(["check", "--cassette", str(path), "--spec", str(newer_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  line 2: createAssistant: the recorded response 200 does not match the document at " \
           "/body/created_at" in out
    assert main(["check", "--cassette", str(path)]) == 2   # no document
    assert "needs one document" in capsys.readouterr().err


def test_a_cassette_that_is_not_one_is_refused_by_line(openai_spec, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"dynclient_cassette": 1}\n{"operation": "listModels"}\n')
    with pytest.raises(CassetteError, match=r"bad.jsonl:2: an exchange needs operation, request and response"):
        dynclient.Client(openai_spec, base_url=CLOSED, cassette=path)
    path.write_text('{"dynclient_cassette": 99}\n')
    with pytest.raises(CassetteError, match="bad.jsonl:1: cassette format 99"):
        dynclient.Client(openai_spec, base_url=CLOSED, cassette=path)


PLUGIN_TEST = '''
import dynclient, pytest

@pytest.mark.dynclient_spec({spec!r})
def test_models(dynclient_mock, dynclient_cassette):
    client = dynclient.Client({spec!r}, base_url=dynclient_mock.base_url, api_key="sk-dynclient-mock",
                              cassette=dynclient_cassette)
    assert client.call("listModels")["object"] == "list"
'''


def test_the_pytest_fixture_records_with_the_option_and_replays_by_default(pytester, spec_2025):
    pytester.makepyfile(test_recorded=PLUGIN_TEST.format(spec=str(spec_2025)))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)   # record_mode none by default: nothing recorded yet
    result.stdout.fnmatch_lines(["*CassetteError*does not exist*record_mode='none'*"])
    pytester.runpytest("-p", "no:cacheprovider", "--record-mode", "once").assert_outcomes(passed=1)
    recorded = pytester.path / "cassettes" / "test_recorded" / "test_models.jsonl"
    assert len(recorded.read_text().splitlines()) == 2
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


pytest_plugins = ["pytester"]


def test_a_matcher_a_scrubber_and_a_lost_side_file(make_client, openai_spec, tmp_path):
    def scrubber(exchange):
        if exchange["response"].get("body"):
            exchange["response"]["body"]["name"] = "scrubbed"
        return exchange

    cassette = Cassette(tmp_path / "m.jsonl", match_on=("method", "path"), scrubber=scrubber)
    with TestServer() as server:
        server.reply(Reply(status=200, body=assistant(name="real name")),
                     Reply(status=200, body=b"ID3 audio", headers={"Content-Type": "audio/mpeg"}))
        live = make_client(openai_spec, base_url=server.url + "/v1", api_key=KEY, cassette=cassette)
        assert live.call("createAssistant", {"model": "gpt-4o", "name": "a"})["name"] == "real name"
        live.download("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"}, to=tmp_path / "a.mp3")
    assert "real name" not in (tmp_path / "m.jsonl").read_text()
    replay = make_client(openai_spec, base_url=CLOSED, api_key=KEY, cassette=cassette, record_mode="none")
    # matched on method and path only: another body finds the recorded answer
    assert replay.call("createAssistant", {"model": "gpt-4o", "name": "b"})["name"] == "scrubbed"
    for side in (tmp_path / "m.files").iterdir():
        side.unlink()
    with pytest.raises(CassetteError, match=r"createSpeech: the side file [0-9a-f]{64} of a recorded answer is "
                                            r"missing from .*m\.files"):
        replay.download("createSpeech", {"model": "tts-1", "input": "hi", "voice": "alloy"}, to=tmp_path / "b.mp3")
    assert not (tmp_path / "b.mp3").exists()
    with pytest.raises(dynclient.ConfigError, match="match_on must be a callable or names among"):
        Cassette(tmp_path / "x.jsonl", match_on=("url",))
