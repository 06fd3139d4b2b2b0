"""Request and response bodies for the benchmarks: realistic, about 1 KB, and valid for both
openai-2025-04-29 and openai-2026-08-21 (the benchmark checks that before timing anything)."""

from __future__ import annotations

from typing import Any

INSTRUCTIONS = ("You are a personal math tutor. When asked a question, write and run Python code to answer it, "
                "explain each step in plain words, and check the result before you give it.")

ASSISTANT_REQUEST = {
    "model": "gpt-4o",
    "name": "Math Tutor",
    "description": "Answers math questions with code.",
    "instructions": INSTRUCTIONS,
    "tools": [{"type": "code_interpreter"}],
    "metadata": {"team": "benchmarks", "tier": "gold"},
    "temperature": 0.7,
    "top_p": 1.0,
    "response_format": "auto",
}

ASSISTANT_RESPONSE = {
    "id": "asst_abc123XYZdef456GHI789jkl",
    "object": "assistant",
    "created_at": 1741570283,
    "name": "Math Tutor",
    "description": "Answers math questions with code.",
    "model": "gpt-4o",
    "instructions": INSTRUCTIONS,
    "tools": [{"type": "code_interpreter"}],
    "tool_resources": {"code_interpreter": {"file_ids": ["file-abc123", "file-def456"]}},
    "metadata": {"team": "benchmarks", "tier": "gold"},
    "top_p": 1.0,
    "temperature": 0.7,
    "response_format": "auto",
}

CHAT_REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "You are a helpful assistant that answers in one short paragraph."},
        {"role": "user", "content": "What does the image show? Describe the scene and the weather."},
        {"role": "assistant", "content": "Could you send the image again? It did not come through."},
        {"role": "user", "content": [{"type": "text", "text": "Here it is."},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg",
                                                                         "detail": "low"}}]},
    ],
    "temperature": 0.2,
    "max_completion_tokens": 300,
    "n": 1,
    "user": "user-1234",
}

CHAT_RESPONSE = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": ("The image shows a wooden boardwalk path running through a lush green field or meadow. "
                        "The sky is bright blue with some scattered clouds, giving the scene a serene and "
                        "peaceful atmosphere. Trees and shrubs are visible in the background, and the light "
                        "suggests a clear afternoon in late spring."),
            "refusal": None,
            "annotations": [],
        },
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {
        "prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}


def file_list(count: int) -> dict[str, Any]:
    """A listFiles page of `count` file objects."""
    files = [{"id": f"file-{i:08d}", "object": "file", "bytes": 1000 + i, "created_at": 1741570283 + i,
              "filename": f"batch-{i}.jsonl", "purpose": ("assistants", "batch", "fine-tune")[i % 3],
              "status": "processed"} for i in range(count)]
    return {"object": "list", "data": files, "first_id": files[0]["id"] if files else None,
            "last_id": files[-1]["id"] if files else None, "has_more": False}


# What the loopback server answers, by "METHOD /path" under the /v1 base.
ROUTES = {
    "POST /v1/assistants": ASSISTANT_RESPONSE,
    "POST /v1/chat/completions": CHAT_RESPONSE,
}

# The per-call cases: (operation id, path, request body).
CALLS = {
    "createAssistant": ("/assistants", ASSISTANT_REQUEST, ASSISTANT_RESPONSE),
    "createChatCompletion": ("/chat/completions", CHAT_REQUEST, CHAT_RESPONSE),
}
