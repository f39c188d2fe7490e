"""A local server that speaks Anthropic's Messages API wire format (JSON and SSE).

Tests get it through the ``claude_fake`` fixture: a
:class:`~sessionary.testing.models.ProviderHarness` whose model is the real
:class:`~sessionary_anthropic.Claude`, on the real ``anthropic`` SDK, pointed at the
server by ``base_url``.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from sessionary_anthropic import Claude

from sessionary.domain.messages import ToolCall
from sessionary.models.base import Model, ToolSpec
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply, RecordedRequest, SSEEvent
from sessionary.testing.models import (
    ErrorKind,
    ProviderHarness,
    ScriptedReply,
    SentMessage,
    SentRequest,
)

API_KEY = "sk-ant-test-local"
#: Not "claude-sonnet-4-5": this SDK warns that it is deprecated.
MODEL = "claude-sonnet-4-6"
_STATUS = {
    ErrorKind.AUTHENTICATION: (401, "authentication_error"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error"),
    ErrorKind.BAD_REQUEST: (400, "invalid_request_error"),
    ErrorKind.SERVER: (500, "api_error"),
}


@attrs.frozen
class _Text:
    message_id: str
    text: str
    chunks: tuple[str, ...]
    input_tokens: int
    output_tokens: int


@attrs.frozen
class _Calls:
    message_id: str
    calls: tuple[tuple[str, str, dict[str, Any]], ...]  # (tool_use_id, name, input)
    input_tokens: int
    output_tokens: int


@attrs.frozen
class _Broken:
    message_id: str
    chunks: tuple[str, ...]


_Turn = _Text | _Calls | _Broken | HTTPReply


def error_body(error_type: str, message: str) -> dict[str, Any]:
    """Anthropic's error body."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


def sse(data: dict[str, Any]) -> SSEEvent:
    """An Anthropic stream event: the event name is the data's ``type``."""
    return SSEEvent(data, event=data["type"])


class ClaudeFake(ProviderHarness):
    """A fake Anthropic server with a script of replies."""

    model_name = f"anthropic:{MODEL}"

    def __init__(self) -> None:
        self.script: deque[_Turn] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        #: The server thread that took each request; it ends when its connection closes.
        self.handlers: list[threading.Thread] = []
        self.server = FakeHTTPServer(self._respond)

    # ------------------------------------------------------------------ harness

    def make_model(self, **options: Any) -> Model:
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 10.0)
        return Claude(id=MODEL, api_key=API_KEY, base_url=self.server.url, **options)

    def make_model_without_credentials(self) -> Model:
        return Claude(id=MODEL, base_url=self.server.url, max_retries=0)

    def connection_options(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "base_url": self.server.url, "max_retries": 0}

    def reply_text(
        self,
        text: str,
        *,
        chunks: Sequence[str] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> ScriptedReply:
        parts = tuple(chunks) if chunks is not None else (text,)
        assert "".join(parts) == text
        message_id = self._next_id()
        self.script.append(_Text(message_id, text, parts, input_tokens, output_tokens))
        return ScriptedReply(message_id)

    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        message_id = self._next_id()
        scripted = tuple(
            (f"toolu_{message_id[-4:]}_{index}", name, dict(arguments))
            for index, (name, arguments) in enumerate(calls)
        )
        self.script.append(_Calls(message_id, scripted, input_tokens, output_tokens))
        return ScriptedReply(message_id, tuple(c[0] for c in scripted))

    def reply_error(self, kind: ErrorKind, message: str) -> None:
        status, error_type = _STATUS[kind]
        self.script.append(
            HTTPReply(
                status=status,
                json=error_body(error_type, message),
                headers={"retry-after-ms": "1", "request-id": "req_fake"},
            )
        )

    def reply_slowly(self, seconds: float) -> None:
        self.script.append(HTTPReply(json={"late": True}, delay=seconds))

    def reply_malformed(self) -> None:
        self.script.append(HTTPReply(json={"unexpected": ["shape"]}))

    def reply_broken_stream(self, chunks: Sequence[str]) -> None:
        self.script.append(_Broken(self._next_id(), tuple(chunks)))

    def reply_raw(self, reply: HTTPReply) -> None:
        self.script.append(reply)

    def sent(self) -> list[SentRequest]:
        return [_neutral(r.json()) for r in self.server.requests if r.method == "POST"]

    def client_disconnected(self, timeout: float = 5.0) -> bool:
        [*_, handler] = self.handlers
        handler.join(timeout)
        return not handler.is_alive()

    # ------------------------------------------------------------------ serving

    def _next_id(self) -> str:
        return f"msg_{next(self._ids):04d}"

    def _respond(self, request: RecordedRequest) -> HTTPReply:
        if request.path != "/v1/messages":
            return HTTPReply(status=404, json=error_body("not_found_error", request.path))
        with self._lock:
            self.handlers.append(threading.current_thread())
            turn = self.script.popleft() if self.script else None
        if turn is None:
            return HTTPReply(
                status=400,
                json=error_body("invalid_request_error", "fake server: no scripted reply left"),
            )
        if isinstance(turn, HTTPReply):
            return turn
        return _render(turn, request.json())


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


def _render(turn: _Text | _Calls | _Broken, body: dict[str, Any]) -> HTTPReply:
    model = body.get("model", "?")
    if isinstance(turn, _Broken):
        events = [
            sse({"type": "message_start", "message": _message(turn.message_id, model, [])}),
            sse({"type": "content_block_start", "index": 0, "content_block": _text_block("")}),
        ]
        events += [_text_delta(0, chunk) for chunk in turn.chunks]
        return HTTPReply(events=events, break_after=len(events))
    if isinstance(turn, _Text):
        content = [_text_block(turn.text)]
        stop_reason = "end_turn"
    else:
        content = [
            {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
            for call_id, name, arguments in turn.calls
        ]
        stop_reason = "tool_use"
    final = _message(turn.message_id, model, content)
    final["stop_reason"] = stop_reason
    final["usage"]["input_tokens"] = turn.input_tokens
    final["usage"]["output_tokens"] = turn.output_tokens
    if not body.get("stream"):
        return HTTPReply(json=final, headers={"request-id": "req_fake"})
    start = _message(turn.message_id, model, [])
    start["usage"]["input_tokens"] = turn.input_tokens
    start["usage"]["output_tokens"] = 1
    events = [sse({"type": "message_start", "message": start}), sse({"type": "ping"})]
    for index, block in enumerate(content):
        if block["type"] == "text":
            assert isinstance(turn, _Text)
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
            for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
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


def _neutral(body: dict[str, Any]) -> SentRequest:
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
