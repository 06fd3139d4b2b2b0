"""The official `openai` package, a client nobody here wrote, against the mock of 2025-04-29.

Its own request building (headers such as ``OpenAI-Beta: assistants=v2``,
multipart uploads) must pass the mock's validation, and its own parsing of the
mock's answers must succeed. ``max_retries=0`` so that a 5xx fails at once.
"""

from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")

from dynclient.testing.mock import MockServer  # noqa: E402

# The package marks its Assistants API deprecated; the mock still serves the document that has it.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


def strict(obj):
    """The package builds its models without validating them; validate this one for real (pydantic)."""
    return type(obj).model_validate(obj.to_dict(mode="json"))


@pytest.fixture(scope="module")
def mock(spec_2025):
    with MockServer(spec_2025) as server:
        yield server


@pytest.fixture
def client(mock):
    with openai.OpenAI(base_url=mock.base_url, api_key="sk-test", max_retries=0) as client:
        yield client


def test_assistants_create_retrieve_list_delete(client, mock):
    created = client.beta.assistants.create(model="gpt-4o", name="Math Tutor", instructions="Be brief.")
    assert isinstance(created, openai.types.beta.Assistant) and strict(created)
    assert created.id.startswith("asst_") and created.name == "Math Tutor" and created.model == "gpt-4o"
    assert client.beta.assistants.retrieve(created.id).id == created.id

    page = client.beta.assistants.list(limit=100, order="asc")
    assert created.id in [a.id for a in page.data]
    assert page.has_more is False

    deleted = client.beta.assistants.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True) and strict(deleted) and strict(page.data[0])
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(created.id)
    last = mock.app.requests[-1]
    assert (last.method, last.target, last.status) == ("GET", f"/v1/assistants/{created.id}", 404)


def test_assistants_pagination_follows_the_cursor(client):
    ids = [client.beta.assistants.create(model="gpt-4o", name=f"p{i}").id for i in range(3)]
    seen = [a.id for a in client.beta.assistants.list(limit=1, order="asc")]   # auto-paginates with after=
    assert seen[-3:] == ids


def test_the_beta_header_is_what_the_package_sends(client, mock):
    """The mock checks the header the document declares; the package sends `assistants=v2` itself."""
    raw = client.beta.assistants.with_raw_response.create(model="gpt-4o")
    assert raw.http_request.headers["OpenAI-Beta"] == "assistants=v2"
    assert raw.status_code == 200


def test_chat_completion(client):
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "2 + 2?"}])
    assert isinstance(completion, openai.types.chat.ChatCompletion) and strict(completion)
    assert completion.object == "chat.completion" and completion.model == "gpt-4o"
    assert completion.choices[0].message.role == "assistant"
    assert isinstance(completion.choices[0].message.content, str)


def test_chat_completion_stream(client):
    stream = client.chat.completions.create(model="gpt-4o", stream=True,
                                            messages=[{"role": "user", "content": "2 + 2?"}])
    chunks = list(stream)
    assert chunks and all(isinstance(c, openai.types.chat.ChatCompletionChunk) and strict(c) for c in chunks)
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-4o" for c in chunks)


def test_embeddings(client):
    result = client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])
    assert result.object == "list" and result.data and strict(result)
    assert all(isinstance(item.embedding, list) for item in result.data)


def test_file_upload_is_multipart_and_kept(client):
    uploaded = client.files.create(file=("notes.jsonl", b'{"prompt": "hi"}\n'), purpose="assistants")
    assert isinstance(uploaded, openai.types.FileObject) and strict(uploaded)
    assert uploaded.purpose == "assistants"
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert uploaded.id in [f.id for f in client.files.list()]


def test_audio_speech_bytes(client):
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello")
    data = speech.read()
    assert data and isinstance(data, bytes)
    assert int(speech.response.headers["content-length"]) == len(data)


def test_errors_parse_as_the_packages_own(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "usr", "content": "hi"}])
    assert caught.value.status_code == 400
    assert caught.value.param == "messages[0].role" and caught.value.type == "invalid_request_error"
    with pytest.raises(openai.AuthenticationError):
        client.with_options(default_headers={"Authorization": "Basic c2stdGVzdA=="}).models.list()
