"""Claude's async side: the async SDK client, and answers alike to the sync ones.

The provider-neutral clauses are in ``AsyncModelProviderConformance`` and, for the
client kept per event loop, ``LoopClientsConformance`` (both run by
``test_anthropic_conformance.py``); here is what is particular to Claude: the
``anthropic.AsyncAnthropic`` client's options, and every wire-level case of the sync
tests answered alike by ``arespond``/``astream``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import anthropic
import pytest
from answers_alike import assert_answers_alike, error_of, sync_and_async
from sessionary_anthropic import Claude

from sessionary.errors import (
    InvalidInputError,
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.models.base import ModelResponse
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness
from sessionary.testing.provider_harness import HELLO

MODEL = "claude-sonnet-4-6"
# ---------------------------------------------------------------------- the async client


def test_async_client_has_the_sync_clients_options() -> None:
    model = Claude(
        id=MODEL,
        api_key="sk-ant-options",
        base_url="http://127.0.0.1:9",
        timeout=2.5,
        max_retries=3,
        client_params={"default_headers": {"X-Team": "core"}},
    )
    sync = model.client
    in_async = asyncio.run(model.async_client())
    assert isinstance(in_async, anthropic.AsyncAnthropic)
    for option in ("api_key", "auth_token", "base_url", "timeout", "max_retries"):
        assert getattr(in_async, option) == getattr(sync, option), option
    assert in_async.default_headers["X-Team"] == sync.default_headers["X-Team"] == "core"
    assert (in_async.timeout, in_async.max_retries) == (2.5, 3)


def test_bad_client_params_are_clear_errors_both_ways() -> None:
    model = Claude(id=MODEL, api_key="k", client_params={"no_such_option": 1})
    with pytest.raises(InvalidInputError, match="bad client_params") as in_sync:
        model.respond(HELLO)
    with pytest.raises(InvalidInputError, match="bad client_params") as in_async:
        asyncio.run(model.arespond(HELLO))
    assert "no_such_option" in str(in_sync.value)
    assert "no_such_option" in str(in_async.value)  # the SDK's class name differs


def test_a_failed_client_is_not_kept(
    claude_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = claude_fake.make_model_without_credentials()
    with pytest.raises(ModelAuthenticationError, match="ANTHROPIC_API_KEY"):
        asyncio.run(model.arespond(HELLO))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-later")
    claude_fake.reply_text("Now with a key.")
    assert asyncio.run(model.arespond(HELLO)).message.content == "Now with a key."


def test_environment_variables_are_honoured(
    claude_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = claude_fake.server  # type: ignore[attr-defined]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    claude_fake.reply_text("From the environment.")
    model = Claude(id=MODEL, max_retries=0)
    assert asyncio.run(model.arespond(HELLO)).message.content == "From the environment."
    request = server.requests[0]
    sent_key = request.header("x-api-key") or request.header("Authorization") or ""
    assert sent_key.removeprefix("Bearer ") == "sk-ant-from-env"


SCRIPT = """
import asyncio, sys
from sessionary.domain.messages import Message
from sessionary.models.base import ModelRequest
from sessionary_anthropic import Claude

model = Claude(id="claude-sonnet-4-6", api_key="sk-ant-test-local", base_url=sys.argv[1],
               max_retries=0, request_params={"temperature": 0.2})
assert "anthropic" not in sys.modules, "the SDK was imported before the first call"
answer = asyncio.run(model.arespond(ModelRequest(messages=[Message(role="user", content="Hi")])))
assert "anthropic" in sys.modules
print(answer.message.content)
"""


def test_no_sdk_until_the_first_async_call(claude_fake: ProviderHarness) -> None:
    claude_fake.reply_text("Imported late, off the loop.")
    url = claude_fake.connection_options()["base_url"]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported late, off the loop."
    assert claude_fake.sent()[0].raw["temperature"] == 0.2


# ---------------------------------------------------------------------- answers alike


def test_a_server_that_is_gone() -> None:
    model = Claude(id=MODEL, api_key="k", base_url="http://127.0.0.1:9", max_retries=0)
    for stream in (False, True):
        in_sync, in_async = sync_and_async(model, HELLO, stream=stream)
        assert in_async == in_sync
        assert error_of(in_async) is ModelConnectionError


def _message(content: list[dict[str, Any]], stop_reason: str | None = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_raw",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 3,
            "cache_creation_input_tokens": 4,
            "cache_read_input_tokens": 6,
        },
    }


def _sse(*events: dict[str, Any]) -> HTTPReply:
    return HTTPReply(events=[SSEEvent(e, event=e["type"]) for e in events])


def _status(status: int, error_type: str) -> HTTPReply:
    body = {"type": "error", "error": {"type": error_type, "message": f"status {status}"}}
    return HTTPReply(status=status, json=body, headers={"x-should-retry": "false"})


_START = {"type": "message_start", "message": _message([], None)}
_TEXT_START = {
    "type": "content_block_start",
    "index": 0,
    "content_block": {"type": "text", "text": ""},
}
_TEXT_DELTA = {
    "type": "content_block_delta",
    "index": 0,
    "delta": {"type": "text_delta", "text": "Par"},
}
_THINKING = {"type": "thinking", "thinking": "The user wants Oslo.", "signature": "sig-1"}
_TOOL_USE = {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Oslo"}}

CASES: dict[str, tuple[HTTPReply, bool, type[ModelError] | None]] = {
    "403": (_status(403, "permission_error"), False, ModelAuthenticationError),
    "404": (_status(404, "not_found_error"), True, ModelBadRequestError),
    "413": (_status(413, "request_too_large"), False, ModelBadRequestError),
    "529": (_status(529, "overloaded_error"), True, ModelServerError),
    "504": (_status(504, "timeout_error"), False, ModelTimeoutError),
    "html": (HTTPReply(body=b"<html>gateway</html>", content_type="text/html"), False, ModelError),
    "thinking, text and a tool call": (
        HTTPReply(
            json=_message(
                [_THINKING, {"type": "text", "text": "Let me check."}, _TOOL_USE], "tool_use"
            )
        ),
        False,
        None,
    ),
    "error event": (
        _sse(
            _START,
            _TEXT_START,
            _TEXT_DELTA,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "stream trouble"}},
        ),
        True,
        ModelRateLimitError,
    ),
    "no message_stop": (_sse(_START, _TEXT_START, _TEXT_DELTA), True, ModelResponseError),
    "streamed thinking and a tool call": (
        _sse(
            _START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Weather, so call the tool."},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig-9"},
            },
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {**_TOOL_USE, "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": "Lima"}'},
            },
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 30},
            },
            {"type": "message_stop"},
        ),
        True,
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_answers_alike(claude_fake: ProviderHarness, case: str) -> None:
    reply, stream, error = CASES[case]
    assert_answers_alike(claude_fake, reply, stream=stream, error=error)


def test_streamed_thinking_is_kept(claude_fake: ProviderHarness) -> None:
    claude_fake.reply_raw(CASES["streamed thinking and a tool call"][0])
    model = claude_fake.make_model()

    async def drain() -> ModelResponse:
        items = [item async for item in model.astream(HELLO)]
        final = items[-1]
        assert isinstance(final, ModelResponse)
        return final

    answer = asyncio.run(drain()).message
    assert answer.tool_calls[0].arguments == {"city": "Lima"}
    assert answer.metadata["anthropic_thinking"] == [
        {"type": "thinking", "thinking": "Weather, so call the tool.", "signature": "sig-9"}
    ]


def test_request_params_alike(claude_fake: ProviderHarness) -> None:
    claude_fake.reply_text("Hi!")
    claude_fake.reply_text("Hi!")
    model = claude_fake.make_model(
        max_tokens=512, request_params={"temperature": 0.3, "top_k": 5, "vendor_flag": "on"}
    )
    sync_and_async(model, HELLO, stream=False)
    by_sync, by_async = claude_fake.sent()
    assert by_async.raw == by_sync.raw
    raw = by_async.raw
    assert (raw["max_tokens"], raw["temperature"], raw["top_k"], raw["vendor_flag"]) == (
        512,
        0.3,
        5,
        "on",
    )
