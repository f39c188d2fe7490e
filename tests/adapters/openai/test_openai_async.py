"""The OpenAI providers' async side: the async SDK client, and answers alike to the sync ones.

The provider-neutral clauses are in ``AsyncModelProviderConformance`` and, for the
client kept per event loop, ``LoopClientsConformance`` (both run by
``test_openai_conformance.py``); here is what is particular to these providers: the
``openai.AsyncOpenAI`` client's options, and every wire-level case of the sync tests
answered alike by ``arespond``/``astream``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import openai
import pytest
from answers_alike import assert_answers_alike, error_of, sync_and_async
from sessionary_openai import OpenAIChat, OpenAIResponses

from sessionary.domain.messages import ToolCall
from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness
from sessionary.testing.provider_harness import HELLO

# ---------------------------------------------------------------------- the async client


def test_async_client_has_the_sync_clients_options() -> None:
    model = OpenAIResponses(
        id="gpt-5.2",
        api_key="sk-options",
        base_url="http://127.0.0.1:9/v1",
        timeout=3.5,
        max_retries=4,
        client_params={"organization": "org-1", "default_headers": {"X-Team": "core"}},
    )
    sync = model.client
    in_async = asyncio.run(model.async_client())
    assert isinstance(in_async, openai.AsyncOpenAI)
    for option in ("api_key", "base_url", "timeout", "max_retries", "organization"):
        assert getattr(in_async, option) == getattr(sync, option), option
    assert in_async.default_headers["X-Team"] == sync.default_headers["X-Team"] == "core"
    assert (in_async.timeout, in_async.max_retries) == (3.5, 4)


def test_async_client_errors_are_the_sync_ones() -> None:
    model = OpenAIChat(id="m", api_key="k", client_params={"no_such_option": 1})
    with pytest.raises(ValueError, match="client_params") as in_sync:
        model.respond(HELLO)
    with pytest.raises(ValueError, match="client_params") as in_async:
        asyncio.run(model.arespond(HELLO))
    assert type(in_async.value) is type(in_sync.value)
    assert "no_such_option" in str(in_async.value)  # the SDK's class name differs


def test_a_failed_client_is_not_kept(
    responses_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = responses_fake.make_model_without_credentials()
    with pytest.raises(ModelAuthenticationError, match="OPENAI_API_KEY"):
        asyncio.run(model.arespond(HELLO))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-later")
    responses_fake.reply_text("Now with a key.")
    assert asyncio.run(model.arespond(HELLO)).message.content == "Now with a key."
    server = responses_fake.server  # type: ignore[attr-defined]
    assert server.requests[0].header("Authorization") == "Bearer sk-later"


def test_environment_variables_are_honoured(
    responses_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = responses_fake.server  # type: ignore[attr-defined]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    responses_fake.reply_text("From the environment.")
    model = OpenAIResponses(id="gpt-5.2", max_retries=0)
    assert asyncio.run(model.arespond(HELLO)).message.content == "From the environment."
    assert server.requests[0].header("Authorization") == "Bearer sk-from-env"


SCRIPT = """
import asyncio, sys
from sessionary.domain.messages import Message
from sessionary.models.base import ModelRequest
from sessionary_openai import OpenAIResponses

model = OpenAIResponses(id="gpt-5.2", api_key="sk-test-local", base_url=sys.argv[1], max_retries=0)
assert "openai" not in sys.modules, "the SDK was imported before the first call"
answer = asyncio.run(model.arespond(ModelRequest(messages=[Message(role="user", content="Hi")])))
assert "openai" in sys.modules
print(answer.message.content)
"""


def test_no_sdk_until_the_first_async_call(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_text("Imported late, off the loop.")
    base_url = responses_fake.connection_options()["base_url"]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, base_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported late, off the loop."


# ---------------------------------------------------------------------- answers alike


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_server_that_is_gone(api: str) -> None:
    cls = OpenAIResponses if api == "responses" else OpenAIChat
    model = cls(id="gpt-5.2", api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    for stream in (False, True):
        in_sync, in_async = sync_and_async(model, HELLO, stream=stream)
        assert in_async == in_sync
        assert error_of(in_async) is ModelConnectionError
        assert "Connection refused" in in_async[2]


def _response(output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {
        "id": "resp_raw",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-5.2",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5,
        },
    }
    body.update(extra)
    return body


def _events(events: list[dict[str, Any]]) -> HTTPReply:
    return HTTPReply(
        events=[
            SSEEvent({**event, "sequence_number": n}, event=event["type"])
            for n, event in enumerate(events)
        ]
    )


def _error_body(status: int) -> HTTPReply:
    message = f"status {status}"
    body = {"error": {"message": message, "type": "x", "param": None, "code": None}}
    return HTTPReply(status=status, json=body)


_DELTA = {
    "type": "response.output_text.delta",
    "item_id": "msg_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "Hel",
    "logprobs": [],
}
_MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
}
_BAD_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_bad",
    "name": "get_weather",
    "arguments": "{city: Paris",
    "status": "completed",
}
_FAILED = _response([], status="failed", error={"code": "server_error", "message": "boom"})

RESPONSES_CASES: dict[str, tuple[HTTPReply, bool, type[ModelError] | None]] = {
    "403": (_error_body(403), False, ModelAuthenticationError),
    "404": (_error_body(404), False, ModelBadRequestError),
    "422": (_error_body(422), True, ModelBadRequestError),
    "408": (_error_body(408), False, ModelTimeoutError),
    "503": (_error_body(503), True, ModelServerError),
    "html": (HTTPReply(body=b"<html>proxy</html>", content_type="text/html"), False, ModelError),
    "text and a call": (HTTPReply(json=_response([_MESSAGE, _BAD_CALL])), False, None),
    "incomplete": (
        HTTPReply(
            json=_response(
                [{"type": "reasoning", "id": "rs_1", "summary": []}, _MESSAGE],
                status="incomplete",
                incomplete_details={"reason": "max_output_tokens"},
            )
        ),
        False,
        None,
    ),
    "failed": (HTTPReply(json=_FAILED), False, ModelServerError),
    "error event": (
        _events([_DELTA, {"type": "error", "code": "rate_limit_exceeded", "message": "slow"}]),
        True,
        ModelRateLimitError,
    ),
    "failed event": (_events([{"type": "response.failed", "response": _FAILED}]), True, ModelError),
    "stream cut short": (_events([_DELTA]), True, ModelResponseError),
}


@pytest.mark.parametrize("case", list(RESPONSES_CASES))
def test_responses_answers_alike(responses_fake: ProviderHarness, case: str) -> None:
    reply, stream, error = RESPONSES_CASES[case]
    assert_answers_alike(responses_fake, reply, stream=stream, error=error)


def test_responses_text_and_bad_arguments(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_raw(HTTPReply(json=_response([_MESSAGE, _BAD_CALL])))
    answer = asyncio.run(responses_fake.make_model().arespond(HELLO)).message
    assert answer.content == "Let me check."
    assert answer.tool_calls == (
        ToolCall(id="call_bad", name="get_weather", raw_arguments="{city: Paris"),
    )


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


CHAT_CASES: dict[str, tuple[HTTPReply, bool, type[ModelError] | None]] = {
    "429": (_error_body(429), False, ModelRateLimitError),
    "500 streamed": (_error_body(500), True, ModelServerError),
    "html": (HTTPReply(body=b"<html>gateway</html>", content_type="text/html"), False, ModelError),
    "no choices": (
        HTTPReply(json={"id": "x", "object": "chat.completion", "created": 1, "choices": []}),
        False,
        ModelResponseError,
    ),
    "error inside the stream": (
        HTTPReply(
            events=[
                _chunk({"role": "assistant", "content": "Hal"}),
                SSEEvent({"error": {"message": "mid-stream", "type": "server_error"}}),
            ]
        ),
        True,
        ModelServerError,
    ),
    "stream without a finish": (
        HTTPReply(events=[_chunk({"content": "Hal"}), SSEEvent("[DONE]")]),
        True,
        ModelResponseError,
    ),
    "refusal": (
        HTTPReply(events=[_chunk({"refusal": "I can't."}), _chunk({}, "stop"), SSEEvent("[DONE]")]),
        True,
        None,
    ),
}


@pytest.mark.parametrize("case", list(CHAT_CASES))
def test_chat_answers_alike(chat_fake: ProviderHarness, case: str) -> None:
    reply, stream, error = CHAT_CASES[case]
    assert_answers_alike(chat_fake, reply, stream=stream, error=error)


@pytest.mark.parametrize(
    "request_params",
    [
        {},
        {"stream_options": None, "top_k": 20},
        {"stream_options": {"include_usage": False}, "temperature": 0.2},
    ],
)
def test_chat_stream_options_alike(
    chat_fake: ProviderHarness, request_params: dict[str, Any]
) -> None:
    model = chat_fake.make_model(request_params=request_params)
    for stream in (False, True):
        chat_fake.reply_text("Hi there", chunks=["Hi", " there"])
        chat_fake.reply_text("Hi there", chunks=["Hi", " there"])
        in_sync, in_async = sync_and_async(model, HELLO, stream=stream)
        assert in_async[0] == in_sync[0]
        (content, _, _, usage, _), (sync_content, _, _, sync_usage, _) = in_async[1], in_sync[1]
        assert (content, usage) == (sync_content, sync_usage)
    plain_sync, plain_async, streamed_sync, streamed_async = (s.raw for s in chat_fake.sent())
    assert plain_async == plain_sync
    assert "stream_options" not in plain_async
    assert streamed_async == streamed_sync
    assert streamed_async["stream"] is True


def test_request_params_alike(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_text("Hi!")
    responses_fake.reply_text("Hi!")
    model = responses_fake.make_model(
        request_params={
            "temperature": 0.2,
            "reasoning": {"effort": "low"},
            "tools": [{"type": "web_search"}],
            "vendor_flag": True,  # not an SDK parameter: travels in extra_body
        }
    )
    sync_and_async(model, HELLO, stream=False)
    by_sync, by_async = responses_fake.sent()
    assert by_async.raw == by_sync.raw
    assert by_async.raw["vendor_flag"] is True
    assert [t["type"] for t in by_async.raw["tools"]] == ["function", "web_search"]


def test_the_blocking_clause_fails_a_provider_whose_async_call_is_its_sync_one(
    responses_fake: ProviderHarness,
) -> None:
    """The sync client waits on the loop's thread for a reply the server holds until the
    loop lets it through: the gate gives up and the check fails, naming the call."""
    from sessionary.testing import IoGate

    class Wrong(OpenAIResponses):
        async def arespond(self, request: Any) -> Any:
            return self.respond(request)  # the bug: a blocking HTTP call inside the loop

    gate = IoGate(fallback=1.0)
    responses_fake.reply_text("Held.")
    model = Wrong(id="m", **responses_fake.connection_options())
    responses_fake.gate_replies(gate.wait)
    try:
        with pytest.raises(AssertionError, match="arespond held the event loop"):
            asyncio.run(gate.check(model.arespond(HELLO), what="arespond"))
    finally:
        responses_fake.gate_replies(None)
    assert gate.released_by_fallback == 1
