"""How the OpenAI adapters send a ``developer`` message (issue 21: Role.DEVELOPER)."""

from __future__ import annotations

from sessionary_openai import chat, responses

from sessionary.domain.messages import Message, Role
from sessionary.models.base import ModelRequest

REQUEST = ModelRequest(
    messages=(
        Message(role=Role.SYSTEM, content="Be brief."),
        Message(role=Role.USER, content="hi"),
        Message(role=Role.DEVELOPER, content="Answer in French."),
    )
)


def test_responses_sends_developer_as_developer() -> None:
    body = responses.request_body("gpt-5.2", REQUEST)
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": "Answer in French."},
    ]


def test_chat_completions_sends_developer_as_system() -> None:
    body = chat.request_body("gpt-4o", REQUEST)
    assert [m["role"] for m in body["messages"]] == ["system", "user", "system"]
    assert body["messages"][2]["content"] == "Answer in French."
