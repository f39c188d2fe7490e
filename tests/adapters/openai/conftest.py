"""A local server that speaks OpenAI's Responses and Chat Completions wire formats.

Tests get it through the ``responses_fake`` and ``chat_fake`` fixtures: a
:class:`~fake_provider.FakeProvider` whose model is the real provider class, on the real
``openai`` SDK, pointed at the server by ``base_url``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest
from fake_provider import Broken, Calls, FakeProvider, Text, halves
from sessionary_openai import OpenAIChat, OpenAIResponses

from sessionary.domain.messages import ToolCall
from sessionary.models.base import ToolSpec
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness, SentMessage, SentRequest

API_KEY = "sk-test-local"
#: OpenAI's error ``type`` and ``code`` for each HTTP status the fakes answer with.
_ERRORS: dict[int, tuple[str, str | None]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    429: ("requests", "rate_limit_exceeded"),
    400: ("invalid_request_error", None),
    404: ("invalid_request_error", None),
    500: ("server_error", None),
}


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _OpenAIFake(FakeProvider):
    model_id = "gpt-5.2"
    api_key = API_KEY
    call_prefix: ClassVar[str] = "call_"
    url_suffix: ClassVar[str] = "/v1"

    def error_reply(self, status: int, message: str) -> HTTPReply:
        type_, code = _ERRORS[status]
        return HTTPReply(
            status=status,
            json=error_body(message, type_, code),
            headers={"retry-after-ms": "1", "x-request-id": "req_fake"},
        )


class ResponsesFake(_OpenAIFake):
    """A fake OpenAI server scripted for the Responses API."""

    model_class = OpenAIResponses
    model_name = "openai:gpt-5.2"
    path: ClassVar[str] = "/v1/responses"
    id_prefix: ClassVar[str] = "resp_"

    def render(self, turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
        return _responses(turn, body)

    def neutral(self, body: dict[str, Any]) -> SentRequest:
        return _neutral_responses(body)


class ChatFake(_OpenAIFake):
    """A fake OpenAI server scripted for Chat Completions."""

    model_class = OpenAIChat
    model_name = "openai-chat:gpt-5.2"
    path: ClassVar[str] = "/v1/chat/completions"
    id_prefix: ClassVar[str] = "chatcmpl-"

    def render(self, turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
        return _chat(turn, body)

    def neutral(self, body: dict[str, Any]) -> SentRequest:
        return _neutral_chat(body)


# ---------------------------------------------------------------------- Responses API


def _responses(turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
    model = body.get("model", "?")
    response_id = turn.response_id
    if isinstance(turn, Broken):
        events = [_ev("response.created", response=_response(response_id, model, [], None))]
        events += [_text_delta(response_id, chunk) for chunk in turn.chunks]
        return HTTPReply(events=_numbered(events), break_after=len(events))
    output: list[dict[str, Any]]
    if isinstance(turn, Text):
        output = [_message_item(response_id, turn.text)]
    else:
        assert isinstance(turn, Calls)
        output = [
            {
                "type": "function_call",
                "id": f"fc_{call_id}",
                "call_id": call_id,
                "name": name,
                "arguments": json.dumps(arguments),
                "status": "completed",
            }
            for call_id, name, arguments in turn.calls
        ]
    usage = (turn.input_tokens, turn.output_tokens)
    final = _response(response_id, model, output, usage)
    if not body.get("stream"):
        return HTTPReply(json=final)
    events = [_ev("response.created", response=_response(response_id, model, [], None))]
    for index, item in enumerate(output):
        started = {**item, "status": "in_progress"}
        if item["type"] == "message":
            started["content"] = []
        else:
            started["arguments"] = ""
        events.append(_ev("response.output_item.added", output_index=index, item=started))
        if item["type"] == "message":
            assert isinstance(turn, Text)
            events.append(
                _ev(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
            )
            events += [_text_delta(response_id, chunk, index) for chunk in turn.chunks]
            events.append(
                _ev(
                    "response.output_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=turn.text,
                    logprobs=[],
                )
            )
        else:
            arguments = item["arguments"]
            for piece in halves(arguments):
                events.append(
                    _ev(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=piece,
                    )
                )
        events.append(_ev("response.output_item.done", output_index=index, item=item))
    events.append(_ev("response.completed", response=final))
    return HTTPReply(events=_numbered(events))


def _ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def _numbered(events: list[dict[str, Any]]) -> list[SSEEvent]:
    return [
        SSEEvent({**event, "sequence_number": n}, event=event["type"])
        for n, event in enumerate(events)
    ]


def _text_delta(response_id: str, chunk: str, index: int = 0) -> dict[str, Any]:
    return _ev(
        "response.output_text.delta",
        item_id=f"msg_{response_id}",
        output_index=index,
        content_index=0,
        delta=chunk,
        logprobs=[],
    )


def _message_item(response_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{response_id}",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _response(
    response_id: str, model: str, output: list[dict[str, Any]], usage: tuple[int, int] | None
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1_760_000_000,
        "status": "completed" if usage is not None else "in_progress",
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": None
        if usage is None
        else {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": sum(usage),
        },
    }


# ---------------------------------------------------------------------- Chat Completions


def _chat(turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
    model = body.get("model", "?")
    response_id = turn.response_id

    def chunk(delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        return SSEEvent(
            {
                "id": response_id,
                "object": "chat.completion.chunk",
                "created": 1_760_000_000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    if isinstance(turn, Broken):
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in turn.chunks]
        return HTTPReply(events=events, break_after=len(events))
    assert isinstance(turn, (Text, Calls))
    usage = {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
    }
    finish = "stop" if isinstance(turn, Text) else "tool_calls"
    calls: list[dict[str, Any]] = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        for call_id, name, arguments in (turn.calls if isinstance(turn, Calls) else ())
    ]
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text if isinstance(turn, Text) else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        return HTTPReply(
            json={
                "id": response_id,
                "object": "chat.completion",
                "created": 1_760_000_000,
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
                "usage": usage,
            }
        )
    events = [chunk({"role": "assistant", "content": ""})]
    if isinstance(turn, Text):
        events += [chunk({"content": piece}) for piece in turn.chunks]
    for index, call in enumerate(calls):
        head = {
            **call,
            "index": index,
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        arguments = call["function"]["arguments"]
        for piece in halves(arguments):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(
            SSEEvent(
                {
                    "id": response_id,
                    "object": "chat.completion.chunk",
                    "created": 1_760_000_000,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    events.append(SSEEvent("[DONE]"))
    return HTTPReply(events=events)


# ---------------------------------------------------------------------- neutral view


def _text_of(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def _call(call_id: str, name: str, arguments: str) -> ToolCall:
    try:
        return ToolCall(id=call_id, name=name, arguments=json.loads(arguments))
    except ValueError:
        return ToolCall(id=call_id, name=name, raw_arguments=arguments)


def _neutral_responses(body: dict[str, Any]) -> SentRequest:
    messages: list[SentMessage] = []
    for item in body["input"]:
        kind = item.get("type", "message")
        if kind == "function_call":
            call = _call(item["call_id"], item["name"], item["arguments"])
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                messages[-1] = attrs.evolve(last, tool_calls=(*last.tool_calls, call))
            else:
                messages.append(SentMessage(role="assistant", tool_calls=(call,)))
        elif kind == "function_call_output":
            messages.append(
                SentMessage(role="tool", content=item["output"], tool_call_id=item["call_id"])
            )
        else:
            messages.append(SentMessage(role=item["role"], content=_text_of(item["content"])))
    tools = tuple(
        ToolSpec(name=t["name"], description=t.get("description", ""), parameters=t["parameters"])
        for t in body.get("tools", [])
        if t.get("type") == "function"
    )
    return SentRequest(
        model=body["model"],
        system=body.get("instructions"),
        messages=tuple(messages),
        tools=tools,
        stream=bool(body.get("stream")),
        raw=body,
    )


def _neutral_chat(body: dict[str, Any]) -> SentRequest:
    system: list[str] = []
    messages: list[SentMessage] = []
    for item in body["messages"]:
        role = item["role"]
        if role in ("system", "developer"):
            system.append(_text_of(item["content"]) or "")
        elif role == "tool":
            messages.append(
                SentMessage(role="tool", content=item["content"], tool_call_id=item["tool_call_id"])
            )
        else:
            calls = tuple(
                _call(c["id"], c["function"]["name"], c["function"]["arguments"])
                for c in item.get("tool_calls") or ()
            )
            messages.append(
                SentMessage(role=role, content=_text_of(item.get("content")), tool_calls=calls)
            )
    tools = tuple(
        ToolSpec(
            name=t["function"]["name"],
            description=t["function"].get("description", ""),
            parameters=t["function"]["parameters"],
        )
        for t in body.get("tools", [])
    )
    return SentRequest(
        model=body["model"],
        system="\n\n".join(system) or None,
        messages=tuple(messages),
        tools=tools,
        stream=bool(body.get("stream")),
        raw=body,
    )


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a real key, base URL, organisation or custom headers from the environment."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ADMIN_KEY",
        "OPENAI_CUSTOM_HEADERS",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def responses_fake() -> Iterator[ProviderHarness]:
    """A fake OpenAI server scripted for the Responses API."""
    fake = ResponsesFake()
    with fake.server:
        yield fake


@pytest.fixture
def chat_fake() -> Iterator[ProviderHarness]:
    """A fake OpenAI server scripted for Chat Completions."""
    fake = ChatFake()
    with fake.server:
        yield fake
