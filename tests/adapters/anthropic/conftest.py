"""A local server that speaks Anthropic's Messages API wire format (JSON and SSE).

Tests get it through the ``claude_fake`` fixture: a :class:`~fake_provider.FakeProvider`
whose model is the real :class:`~sessionary_anthropic.Claude`, on the real ``anthropic``
SDK, pointed at the server by ``base_url``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fake_provider import Broken, Calls, FakeProvider, Text, halves
from sessionary_anthropic import Claude

from sessionary.domain.messages import ToolCall
from sessionary.models.base import ToolSpec
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness, SentMessage, SentRequest

API_KEY = "sk-ant-test-local"
#: Not "claude-sonnet-4-5": this SDK warns that it is deprecated.
MODEL = "claude-sonnet-4-6"
#: Anthropic's error ``type`` for each HTTP status the fake answers with.
_ERROR_TYPES = {
    401: "authentication_error",
    429: "rate_limit_error",
    400: "invalid_request_error",
    404: "not_found_error",
    500: "api_error",
}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    """Anthropic's error body."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


def sse(data: dict[str, Any]) -> SSEEvent:
    """An Anthropic stream event: the event name is the data's ``type``."""
    return SSEEvent(data, event=data["type"])


class ClaudeFake(FakeProvider):
    """A fake Anthropic server with a script of replies."""

    model_class = Claude
    model_id = MODEL
    model_name = f"anthropic:{MODEL}"
    api_key = API_KEY
    path: ClassVar[str] = "/v1/messages"
    id_prefix: ClassVar[str] = "msg_"
    call_prefix: ClassVar[str] = "toolu_"

    def render(self, turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
        return render_turn(turn, body)

    def error_reply(self, status: int, message: str) -> HTTPReply:
        return HTTPReply(
            status=status,
            json=error_body(_ERROR_TYPES[status], message),
            headers={"retry-after-ms": "1", "request-id": "req_fake"},
        )

    def neutral(self, body: dict[str, Any]) -> SentRequest:
        return neutral_view(body)


def _message(message_id: str, model: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def render_turn(turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
    model = body.get("model", "?")
    if isinstance(turn, Broken):
        events = [
            sse({"type": "message_start", "message": _message(turn.response_id, model, [])}),
            sse({"type": "content_block_start", "index": 0, "content_block": _text_block("")}),
        ]
        events += [_text_delta(0, chunk) for chunk in turn.chunks]
        return HTTPReply(events=events, break_after=len(events))
    if isinstance(turn, Text):
        content = [_text_block(turn.text)]
        stop_reason = "end_turn"
    else:
        content = [
            {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
            for call_id, name, arguments in turn.calls
        ]
        stop_reason = "tool_use"
    final = _message(turn.response_id, model, content)
    final["stop_reason"] = stop_reason
    final["usage"]["input_tokens"] = turn.input_tokens
    final["usage"]["output_tokens"] = turn.output_tokens
    if not body.get("stream"):
        return HTTPReply(json=final, headers={"request-id": "req_fake"})
    start = _message(turn.response_id, model, [])
    start["usage"]["input_tokens"] = turn.input_tokens
    start["usage"]["output_tokens"] = 1
    events = [sse({"type": "message_start", "message": start}), sse({"type": "ping"})]
    for index, block in enumerate(content):
        if block["type"] == "text":
            assert isinstance(turn, Text)
            events.append(
                sse(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": _text_block(""),
                    }
                )
            )
            events += [_text_delta(index, chunk) for chunk in turn.chunks]
        else:
            events.append(
                sse(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {**block, "input": {}},
                    }
                )
            )
            arguments = json.dumps(block["input"])
            for piece in halves(arguments):
                events.append(
                    sse(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        }
                    )
                )
        events.append(sse({"type": "content_block_stop", "index": index}))
    events.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": turn.output_tokens},
            }
        )
    )
    events.append(sse({"type": "message_stop"}))
    return HTTPReply(events=events)


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _text_delta(index: int, text: str) -> SSEEvent:
    return sse(
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": text},
        }
    )


# ---------------------------------------------------------------------- neutral view


def neutral_view(body: dict[str, Any]) -> SentRequest:
    system = body.get("system")
    if isinstance(system, list):
        system = "\n\n".join(block["text"] for block in system)
    messages: list[SentMessage] = []
    for turn in body["messages"]:
        content = turn["content"]
        blocks: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content
        )
        if turn["role"] == "assistant":
            texts = [b["text"] for b in blocks if b["type"] == "text"]
            calls = tuple(
                ToolCall(id=b["id"], name=b["name"], arguments=b["input"])
                for b in blocks
                if b["type"] == "tool_use"
            )
            messages.append(
                SentMessage(role="assistant", content="".join(texts) or None, tool_calls=calls)
            )
            continue
        texts = []
        for block in blocks:
            if block["type"] == "tool_result":
                result = block["content"]
                if isinstance(result, list):
                    result = "".join(part.get("text", "") for part in result)
                messages.append(
                    SentMessage(role="tool", content=result, tool_call_id=block["tool_use_id"])
                )
            elif block["type"] == "text":
                texts.append(block["text"])
        if texts:
            messages.append(SentMessage(role="user", content="".join(texts)))
    tools = tuple(
        ToolSpec(name=t["name"], description=t.get("description", ""), parameters=t["input_schema"])
        for t in body.get("tools", [])
    )
    return SentRequest(
        model=body["model"],
        system=system,
        messages=tuple(messages),
        tools=tools,
        stream=bool(body.get("stream")),
        raw=body,
    )


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_anthropic_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees a real key, profile, base URL or custom headers."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_ORGANIZATION_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "anthropic-config"
    empty.mkdir()
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(empty))


@pytest.fixture
def claude_fake() -> Iterator[ProviderHarness]:
    """A fake Anthropic server."""
    fake = ClaudeFake()
    with fake.server:
        yield fake
