"""How the Anthropic adapter sends a ``developer`` message (issue 21: Role.DEVELOPER)."""

from __future__ import annotations

from sessionary_anthropic.convert import request_body

from sessionary.domain.messages import Message, Role
from sessionary.models.base import ModelRequest


def test_developer_messages_join_the_system_prompt() -> None:
    request = ModelRequest(
        messages=(
            Message(role=Role.SYSTEM, content="Be brief."),
            Message(role=Role.DEVELOPER, content="Answer in French."),
            Message(role=Role.USER, content="hi"),
        )
    )
    body = request_body("claude-x", 100, request)
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": "hi"}]
