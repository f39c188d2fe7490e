"""OpenAIChat on the wire: Chat Completions as OpenAI and compatible servers speak it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sessionary_openai import OpenAIChat

from sessionary import Agent, get_model, tool
from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    ModelBadRequestError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
)
from sessionary.models.base import ContentDelta
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


def _raw(harness: ProviderHarness, index: int = -1) -> dict[str, Any]:
    return harness.sent()[index].raw


def test_request_body_and_tool_round_trip(chat_fake: ProviderHarness) -> None:
    call = chat_fake.reply_tool_calls(
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    )
    chat_fake.reply_text("Sunny in both.")
    Agent(model=chat_fake.make_model(), instructions="Be brief.", tools=[get_weather]).run(
        "Paris and Rome?"
    )
    server = chat_fake.server  # type: ignore[attr-defined]
    assert [r.path for r in server.requests] == ["/v1/chat/completions"] * 2
    first, second = (r.json() for r in server.requests)
    assert first == {
        "model": "gpt-5.2",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Paris and Rome?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the weather in a city.",
                    "parameters": get_weather.parameters,
                },
            }
        ],
    }
    paris, rome = call.call_ids
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": paris,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
                },
                {
                    "id": rome,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Rome"})},
                },
            ],
        },
        {"role": "tool", "tool_call_id": paris, "content": "Sunny in Paris"},
        {"role": "tool", "tool_call_id": rome, "content": "Sunny in Rome"},
    ]


def test_streaming_asks_for_usage(chat_fake: ProviderHarness) -> None:
    chat_fake.reply_text("Hi there", chunks=["Hi", " there"], input_tokens=4, output_tokens=2)
    items = list(Agent(model=chat_fake.make_model()).run("Hello", stream=True))
    body = _raw(chat_fake)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    run = items[-1]
    assert not isinstance(run, ContentDelta)
    assert (run.metrics.input_tokens, run.metrics.output_tokens) == (4, 2)


def test_compatible_server_without_stream_options(chat_fake: ProviderHarness) -> None:
    """A server that refuses stream_options: the run still streams, without usage."""
    chat_fake.reply_text("Hi there", chunks=["Hi", " there"])
    model = chat_fake.make_model(request_params={"stream_options": None, "top_k": 20})
    items = list(Agent(model=model).run("Hello", stream=True))
    body = _raw(chat_fake)
    assert body.get("stream_options") is None
    assert body["top_k"] == 20  # unknown to the SDK: sent through extra_body
    run = items[-1]
    assert not isinstance(run, ContentDelta)
    assert run.content == "Hi there"
    assert run.metrics.input_tokens == 0  # the server sent no usage chunk


def test_stream_options_are_not_sent_on_plain_requests(chat_fake: ProviderHarness) -> None:
    chat_fake.reply_text("Plain.")
    model = chat_fake.make_model(request_params={"stream_options": {"include_usage": False}})
    Agent(model=model).run("Hello")
    assert "stream_options" not in _raw(chat_fake)


def test_get_model_openai_chat_with_a_compatible_base_url(chat_fake: ProviderHarness) -> None:
    server = chat_fake.server  # type: ignore[attr-defined]
    model = get_model(
        "openai-chat:llama3.2", base_url=server.url + "/v1", api_key="ollama", max_retries=0
    )
    assert isinstance(model, OpenAIChat)
    chat_fake.reply_text("Local hello.")
    assert Agent(model=model).run("Hello").content == "Local hello."
    assert _raw(chat_fake)["model"] == "llama3.2"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
    return SSEEvent(
        {
            "id": "chatcmpl-raw",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-5.2",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


@pytest.mark.parametrize(
    ("error_type", "error"),
    [
        ("server_error", ModelServerError),
        ("rate_limit_exceeded", ModelRateLimitError),
        ("invalid_request_error", ModelBadRequestError),
    ],
)
def test_error_inside_the_stream(
    chat_fake: ProviderHarness, error_type: str, error: type[ModelError]
) -> None:
    events = [
        _chunk({"role": "assistant", "content": "Hal"}),
        SSEEvent({"error": {"message": "mid-stream failure", "type": error_type, "code": None}}),
    ]
    chat_fake.reply_raw(HTTPReply(events=events))
    agent = Agent(model=chat_fake.make_model())
    with pytest.raises(error) as caught:
        list(agent.run("Hello", session_id="s1", stream=True))
    assert caught.value.provider_message == "mid-stream failure"
    [run] = agent.get_session(session_id="s1").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.ERROR
    assert run.content == "Hal"


def test_stream_that_stops_without_finishing(chat_fake: ProviderHarness) -> None:
    chat_fake.reply_raw(HTTPReply(events=[_chunk({"content": "Hal"}), SSEEvent("[DONE]")]))
    with pytest.raises(ModelResponseError, match="before the model finished"):
        list(Agent(model=chat_fake.make_model()).run("Hello", stream=True))


def test_completion_without_choices(chat_fake: ProviderHarness) -> None:
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
    chat_fake.reply_raw(HTTPReply(json=body))
    with pytest.raises(ModelResponseError, match="not a chat completion"):
        Agent(model=chat_fake.make_model()).run("Hello")


def test_finish_reason_and_model_in_metadata(chat_fake: ProviderHarness) -> None:
    reply = chat_fake.reply_text("Done.")
    run = Agent(model=chat_fake.make_model()).run("Hello")
    answer = run.last_assistant_message
    assert answer is not None
    assert answer.metadata["response_id"] == reply.response_id
    assert answer.metadata["finish_reason"] == "stop"
    assert answer.metadata["model"] == "gpt-5.2"
