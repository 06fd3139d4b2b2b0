"""Binding and request validation: every refused call names what is wrong and sends nothing.

Each refusal is checked against the real local server: no connection was
accepted, no byte was read, and the client did not even open a pool.
"""

from __future__ import annotations

import pytest

import dynclient
from dynclient import ParameterError, RequestError, RequestValidationError, UnknownOperationError

from httpserver import Reply

from _specs import CANARY, assert_nothing_sent, assistant, spec_30, spec_31


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(openai_spec, server):
    with dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY) as c:
        yield c


@pytest.fixture
def tiny(server):
    with dynclient.Client(spec_30(), base_url=server.url + "/v1", api_key=CANARY) as c:
        yield c


@pytest.fixture
def tiny31(server):
    with dynclient.Client(spec_31(), base_url=server.url + "/v1", api_key=CANARY) as c:
        yield c


def refused(exc_type, server, client, fn, *args, **kwargs):
    """Run a call that must be refused; return the exception after checking nothing was sent."""
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    assert_nothing_sent(server, client)
    assert isinstance(info.value, RequestError), "every refusal before sending is a RequestError"
    return info.value


# --- a control: the same fixtures do send when the call is valid ----------------------


def test_valid_call_reaches_the_server(client, server):
    server.reply(Reply(body=assistant(id="asst_9")))
    assert client.call("getAssistant", assistant_id="asst_9")["id"] == "asst_9"
    assert server.connections == 1 and server.bytes_received > 0
    assert server.last.method == "GET" and server.last.path == "/v1/assistants/asst_9"


# --- operations -------------------------------------------------------------------------


def test_unknown_operation_suggests_close_names(client, server):
    err = refused(UnknownOperationError, server, client, client.call, "createAssistent", {"model": "gpt-4o"})
    assert err.operation_id == "createAssistent"
    assert "createAssistant" in err.suggestions
    assert err.suggestions[0] == "createAssistant"
    assert "createAssistent" in str(err) and "createAssistant" in str(err)
    assert isinstance(err, KeyError)   # usable as a mapping miss too
    assert not str(err).startswith("'"), "the message must not be KeyError-quoted"


def test_unknown_operation_without_close_names_has_no_suggestion(client, server):
    err = refused(UnknownOperationError, server, client, client.call, "zzzzqqqq")
    assert err.suggestions == []
    assert "did you mean" not in str(err)


# --- parameters -------------------------------------------------------------------------


def test_unknown_parameter_lists_valid_names_and_suggests_closest(client, server):
    err = refused(ParameterError, server, client, client.call, "listAssistants", limt=5)
    assert err.operation_id == "listAssistants"
    assert err.name == "limt"
    message = str(err)
    assert "listAssistants" in message and "'limt'" in message
    assert "did you mean 'limit'" in message
    for valid in ("after", "before", "limit", "order"):
        assert valid in message


def test_unknown_parameter_on_operation_without_parameters(client, server):
    err = refused(ParameterError, server, client, client.call, "createAssistant", {"model": "gpt-4o"}, limit=1)
    assert err.name == "limit"
    assert "takes no parameters" in str(err)


def test_parameter_given_twice_by_name_and_alias(client, server):
    value = ["step_details.tool_calls[*].file_search.results[*].content"]
    err = refused(ParameterError, server, client, client.call, "listRunSteps", thread_id="t", run_id="r",
                  include=value, params={"include[]": value})
    assert err.operation_id == "listRunSteps"
    assert err.name == "include[]"
    assert "twice" in str(err) and "'include'" in str(err) and "'include[]'" in str(err)


def test_parameter_given_twice_in_params_and_as_keyword(client, server):
    """The same name in `params=` and as a keyword is a doubled argument, not a silent override."""
    err = refused(ParameterError, server, client, client.call, "listAssistants", params={"limit": 1}, limit=2)
    assert err.name == "limit"
    assert "twice" in str(err)


def test_missing_required_path_parameter(client, server):
    err = refused(ParameterError, server, client, client.call, "getAssistant")
    assert err.operation_id == "getAssistant"
    assert err.name == "assistant_id"
    assert "missing required parameter 'assistant_id'" in str(err)


def test_missing_several_required_parameters_names_them_all(client, server):
    err = refused(ParameterError, server, client, client.call, "listRunSteps")
    assert "'thread_id'" in str(err) and "'run_id'" in str(err)


def test_missing_required_body(client, server):
    err = refused(ParameterError, server, client, client.call, "createAssistant")
    assert err.operation_id == "createAssistant"
    assert err.name == "body"
    assert "missing required request body" in str(err) and "application/json" in str(err)


def test_body_given_to_an_operation_without_body(client, server):
    err = refused(ParameterError, server, client, client.call, "getAssistant", {"name": "x"}, assistant_id="a")
    assert err.name == "body"
    assert "takes no request body" in str(err)


def test_optional_body_may_be_left_out(tiny, server):
    assert tiny.call("postPing") == {"ok": True}
    assert server.last.method == "POST" and server.last.body == b""
    assert "Content-Type" not in server.last.headers


def test_none_for_an_optional_parameter_omits_it(client, server):
    server.reply(Reply(body={"object": "list", "data": [], "first_id": "a", "last_id": "b", "has_more": False}))
    client.call("listAssistants", limit=None, order="asc", after=None)
    assert server.last.query == "order=asc"


def test_none_for_a_required_parameter_is_refused(client, server):
    err = refused(RequestValidationError, server, client, client.call, "getAssistant", assistant_id=None)
    assert err.location == "path" and err.pointer == "assistant_id"
    assert err.given is None


def test_params_dict_for_names_that_are_not_identifiers_or_clash(tiny, server):
    tiny.call("search", params={"filter[name]": "n1", "timeout": "t1", "headers": "h1", "params": "p1"})
    assert server.last.query_pairs() == [
        ("filter[name]", "n1"), ("timeout", "t1"), ("headers", "h1"), ("params", "p1")]


def test_params_dict_and_keywords_combine(tiny, server):
    tiny.call("search", params={"filter[name]": "n"}, q="x")
    assert sorted(server.last.query_pairs()) == [("filter[name]", "n"), ("q", "x")]


def test_alias_include_brackets(tiny, server):
    tiny.call("search", include=["a", "b"])
    assert server.last.query_pairs() == [("include[]", "a"), ("include[]", "b")]


def test_alias_header_dash_to_underscore(tiny, server):
    tiny.call("search", OpenAI_Beta="assistants=v2")
    assert server.last.headers.get_all("OpenAI-Beta") == ["assistants=v2"]


def test_real_name_still_accepted_through_params(tiny, server):
    tiny.call("search", params={"OpenAI-Beta": "assistants=v2", "include[]": ["z"]})
    assert server.last.headers["OpenAI-Beta"] == "assistants=v2"
    assert server.last.query_pairs() == [("include[]", "z")]


def test_alias_for_real_document_include_parameter(client, server):
    server.reply(Reply(body={"object": "list", "data": [], "first_id": "a", "last_id": "b", "has_more": False}))
    value = "step_details.tool_calls[*].file_search.results[*].content"
    client.call_raw("listRunSteps", thread_id="thread_1", run_id="run_1", include=[value])
    assert server.last.path == "/v1/threads/thread_1/runs/run_1/steps"
    assert server.last.query_pairs() == [("include[]", value)]


# --- parameter validation ----------------------------------------------------------------


def test_string_for_integer_query_parameter(client, server):
    err = refused(RequestValidationError, server, client, client.call, "listAssistants", limit="5")
    assert err.operation_id == "listAssistants"
    assert err.location == "query"
    assert err.pointer == "limit"
    assert err.expected == "integer"
    assert err.given == "5"
    assert "integer" in str(err) and "'5'" in str(err) and "limit" in str(err)


def test_bad_enum_query_parameter(client, server):
    err = refused(RequestValidationError, server, client, client.call, "listAssistants", order="sideways")
    assert err.location == "query" and err.pointer == "order"
    assert sorted(err.expected) == ["asc", "desc"]
    assert err.given == "sideways"
    assert "'asc'" in str(err) and "'sideways'" in str(err)


def test_path_parameter_of_wrong_type(client, server):
    err = refused(RequestValidationError, server, client, client.call, "getAssistant", assistant_id=5)
    assert err.location == "path" and err.pointer == "assistant_id"
    assert err.expected == "string" and err.given == 5


def test_header_parameter_of_wrong_type(tiny, server):
    err = refused(RequestValidationError, server, tiny, tiny.call, "search", X_Flag="yes")
    assert err.location == "header" and err.pointer == "X-Flag"
    assert err.expected == "boolean" and err.given == "yes"


def test_array_item_pointer_in_a_parameter(tiny, server):
    err = refused(RequestValidationError, server, tiny, tiny.call, "search", tags=["a", 7])
    assert err.location == "query"
    assert err.pointer == "tags/1"
    assert err.expected == "string" and err.given == 7


def test_validation_off_lets_a_bad_parameter_through(openai_spec, server):
    server.reply(Reply(body={"object": "list", "data": [], "first_id": "a", "last_id": "b", "has_more": False}))
    client = dynclient.Client(openai_spec, base_url=server.url + "/v1", api_key=CANARY, validate_requests=False)
    client.call("listAssistants", limit="five")
    assert server.last.query == "limit=five"


# --- body validation against the real document -----------------------------------------


def test_body_wrong_type(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createAssistant",
                  {"model": "gpt-4o", "name": 12})
    assert err.operation_id == "createAssistant"
    assert err.location == "body"
    assert err.pointer == "/name"
    assert err.given == 12
    assert "string" in str(err) and "12" in str(err) and "/name" in str(err)


def test_body_missing_required_property(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createAssistant", {"name": "x"})
    assert err.location == "body"
    assert err.pointer == ""
    assert "model" in err.expected
    assert err.given == {"name": "x"}
    assert "'model' is a required property" in str(err)


def test_body_not_an_object(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createAssistant", ["gpt-4o"])
    assert err.pointer == "" and err.expected == "object" and err.given == ["gpt-4o"]


def test_body_unknown_property_refused_by_additional_properties_false(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createAssistant",
                  {"model": "gpt-4o", "colour": "red"})
    assert "colour" in str(err)


def test_body_bad_enum(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createFile",
                  {"file": b"{}", "purpose": "nope"})
    assert err.operation_id == "createFile"
    assert err.pointer == "/purpose"
    assert "assistants" in err.expected and "fine-tune" in err.expected
    assert err.given == "nope"
    assert "'nope'" in str(err) and "'assistants'" in str(err)


def test_body_number_out_of_range(client, server):
    err = refused(RequestValidationError, server, client, client.call, "createSpeech",
                  {"model": "tts-1", "input": "hi", "voice": "alloy", "speed": 9})
    assert err.pointer == "/speed"
    assert err.expected == 4 and err.given == 9
    assert "maximum" in str(err)


def test_one_of_message_with_bad_role_reports_role_and_allowed_roles(client, server):
    body = {"model": "gpt-4o", "messages": [{"role": "usr", "content": "hi"}]}
    err = refused(RequestValidationError, server, client, client.call, "createChatCompletion", body)
    assert err.operation_id == "createChatCompletion"
    assert err.location == "body"
    assert err.pointer == "/messages/0/role"
    assert sorted(err.expected) == ["assistant", "developer", "function", "system", "tool", "user"]
    assert err.given == "usr"
    for role in ("user", "assistant", "system"):
        assert f"'{role}'" in str(err)
    assert "'usr'" in str(err) and "/messages/0/role" in str(err)


def test_one_of_error_inside_the_chosen_branch(client, server):
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                            {"role": "user", "content": 5}]}
    err = refused(RequestValidationError, server, client, client.call, "createChatCompletion", body)
    assert err.pointer == "/messages/1/content"
    assert err.given == 5
    assert "string" in str(err) and "5" in str(err)


def test_one_of_branch_missing_required(client, server):
    body = {"model": "gpt-4o", "messages": [{"role": "user"}]}
    err = refused(RequestValidationError, server, client, client.call, "createChatCompletion", body)
    assert err.pointer == "/messages/0"
    assert "content" in err.expected
    assert "'content' is a required property" in str(err)


def test_nested_pointer_through_arrays_and_refs(client, server):
    body = {"model": "gpt-4o", "tools": [{"type": "code_interpreter"},
                                         {"type": "function", "function": {"name": 5}}]}
    err = refused(RequestValidationError, server, client, client.call, "createAssistant", body)
    assert err.pointer == "/tools/1/function/name"
    assert err.expected == "string" and err.given == 5


def test_errors_list_keeps_every_failure(client, server):
    body = {"model": 5, "name": 7}
    err = refused(RequestValidationError, server, client, client.call, "createAssistant", body)
    joined = "\n".join(err.errors)
    assert "/name" in joined and "/model" in joined


def test_valid_real_body_is_sent(client, server):
    server.reply(Reply(body=assistant()))
    body = {"model": "gpt-4o", "name": "Tutor", "tools": [{"type": "code_interpreter"}], "metadata": {"k": "v"}}
    assert client.call("createAssistant", body)["object"] == "assistant"
    assert server.last.json() == body


# --- body validation on inline 3.0 and 3.1 documents -----------------------------------


def test_31_type_list_admits_null_and_rejects_string(tiny31, server):
    server.reply(Reply(body={"id": "r1", "score": None}))
    assert tiny31.call("putRecord", {"name": "a", "kind": "record", "score": None}, record_id="r1") == \
        {"id": "r1", "score": None}
    server.reset()   # the pool now holds a connection: check the server side only
    err = refused(RequestValidationError, server, None, tiny31.call, "putRecord",
                  {"name": "a", "kind": "record", "score": "high"}, record_id="r1")
    assert err.operation_id == "putRecord" and err.pointer == "/score"
    assert sorted(err.expected) == ["null", "number"] and err.given == "high"


def test_31_const(tiny31, server):
    err = refused(RequestValidationError, server, tiny31, tiny31.call, "putRecord",
                  {"name": "a", "kind": "folder"}, record_id="r1")
    assert err.pointer == "/kind" and err.expected == "record" and err.given == "folder"
    assert "'record'" in str(err) and "'folder'" in str(err)


def test_31_nested_pointer_and_max_items(tiny31, server):
    err = refused(RequestValidationError, server, tiny31, tiny31.call, "putRecord",
                  {"name": "a", "kind": "record", "nested": {"deep": {"leaf": "x"}}}, record_id="r1")
    assert err.pointer == "/nested/deep/leaf" and err.expected == "integer" and err.given == "x"
    err = refused(RequestValidationError, server, tiny31, tiny31.call, "putRecord",
                  {"name": "a", "kind": "record", "labels": ["a", "b", "c"]}, record_id="r1")
    assert err.pointer == "/labels" and err.expected == 2


def test_31_query_parameter_minimum(tiny31, server):
    err = refused(RequestValidationError, server, tiny31, tiny31.call, "putRecord",
                  {"name": "a", "kind": "record"}, record_id="r1", version=0)
    assert err.location == "query" and err.pointer == "version"
    assert err.expected == 1 and err.given == 0


def test_30_property_without_nullable_refuses_null(tiny, server):
    server.reply(Reply(body={"ok": True}))
    tiny.call("createThing", {"name": "a", "count": 1})
    server.reset()
    with pytest.raises(RequestValidationError) as info:
        tiny.call("createThing", {"name": None})
    assert info.value.pointer == "/name" and info.value.given is None
    assert_nothing_sent(server)


def test_document_without_server_needs_base_url(server):
    client = dynclient.Client(spec_31(), api_key=CANARY)
    with pytest.raises(ParameterError) as info:
        client.call("putRecord", {"name": "a", "kind": "record"}, record_id="r")
    assert info.value.name == "base_url" and "base_url=" in str(info.value)
    assert_nothing_sent(server, client)


def test_bad_validation_mode_is_refused_at_construction():
    with pytest.raises(ValueError, match="validate_responses"):
        dynclient.Client(spec_30(), base_url="http://127.0.0.1:9/v1", validate_responses="loud")
