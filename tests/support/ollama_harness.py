"""The harness of the third-party ``ollama-like`` provider: a public ``FakeHTTPServer``
speaking Ollama's ``/api/chat`` (JSON lines when streaming), scripted in neutral terms.

Written from docs/guides/writing-a-model-provider.md alone (its harness table); its
tests are in tests/third_party/ollama_like."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sessionary_ollama_like import OllamaLike

from sessionary import Model, ToolCall
from sessionary.models import ToolSpec
from sessionary.testing import ProviderHarness
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply, RecordedRequest
from sessionary.testing.provider_harness import (
    ErrorKind,
    ScriptedReply,
    SentMessage,
    SentRequest,
)

STATUS = {
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.SERVER: 500,
}

#: What the server does with the request body: an ``HTTPReply``.
Turn = Callable[[dict[str, Any]], HTTPReply]


def _line(content: str = "", calls: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = list(calls)
    return {"model": "llama3.2", "message": message, "done": False}


def _last(line: dict[str, Any], input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        **line,
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": input_tokens,
        "eval_count": output_tokens,
    }


class OllamaHarness(ProviderHarness):
    """Scripts the fake ``/api/chat``; replies are consumed one per request."""

    model_name = "ollama-like:llama3.2"

    def __init__(self) -> None:
        self.script: deque[Turn] = deque()
        self.lock = threading.Lock()
        self.server = FakeHTTPServer(self._respond)

    def _respond(self, request: RecordedRequest) -> HTTPReply:
        if request.path != "/api/chat":
            return HTTPReply(status=404, json={"error": f"no route {request.path}"})
        with self.lock:
            turn = self.script.popleft() if self.script else None
        if turn is None:
            return HTTPReply(status=400, json={"error": "fake server: no scripted reply left"})
        return turn(request.json())

    # ------------------------------------------------------------------ models

    def make_model(self, **options: Any) -> Model:
        settings: dict[str, Any] = {"base_url": self.server.url, "timeout": 10.0, **options}
        return OllamaLike("llama3.2", **settings)

    def connection_options(self) -> dict[str, Any]:
        return {"base_url": self.server.url}

    # ------------------------------------------------------------------ scripting

    def reply_text(
        self,
        text: str,
        *,
        chunks: Sequence[str] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> ScriptedReply:
        parts = list(chunks) if chunks is not None else [text]

        def turn(body: dict[str, Any]) -> HTTPReply:
            if not body.get("stream"):
                return HTTPReply(json=_last(_line(text), input_tokens, output_tokens))
            lines = [_line(part) for part in parts]
            return HTTPReply(lines=[*lines, _last(_line(), input_tokens, output_tokens)])

        self.script.append(turn)
        return ScriptedReply()

    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        wire = [{"function": {"name": name, "arguments": dict(args)}} for name, args in calls]

        def turn(body: dict[str, Any]) -> HTTPReply:
            if not body.get("stream"):
                return HTTPReply(json=_last(_line("", wire), input_tokens, output_tokens))
            return HTTPReply(lines=[_line("", wire), _last(_line(), input_tokens, output_tokens)])

        self.script.append(turn)
        return ScriptedReply()

    def reply_error(self, kind: ErrorKind, message: str) -> None:
        self.script.append(lambda body: HTTPReply(status=STATUS[kind], json={"error": message}))

    def reply_slowly(self, seconds: float) -> None:
        self.script.append(lambda body: HTTPReply(json={"late": True}, delay=seconds))

    def reply_malformed(self) -> None:
        self.script.append(lambda body: HTTPReply(json={"unexpected": ["shape"]}))

    def reply_broken_stream(self, chunks: Sequence[str]) -> None:
        lines = [_line(part) for part in chunks]
        self.script.append(
            lambda body: HTTPReply(lines=[*lines, _line("!")], break_after=len(lines))
        )

    # ------------------------------------------------------------------ what arrived

    def sent(self) -> list[SentRequest]:
        return [self._neutral(r.json()) for r in self.server.requests if r.method == "POST"]

    def client_disconnected(self, timeout: float = 5.0) -> bool:
        return self.server.disconnected(timeout)

    @staticmethod
    def _neutral(body: dict[str, Any]) -> SentRequest:
        system = [m["content"] for m in body["messages"] if m["role"] == "system"]
        messages = tuple(
            SentMessage(
                role=m["role"],
                content=m.get("content") or None,
                tool_calls=tuple(
                    ToolCall(
                        id="", name=c["function"]["name"], arguments=c["function"]["arguments"]
                    )
                    for c in m.get("tool_calls") or ()
                ),
            )
            for m in body["messages"]
            if m["role"] != "system"
        )
        tools = tuple(
            ToolSpec(
                name=t["function"]["name"],
                description=t["function"]["description"],
                parameters=t["function"]["parameters"],
            )
            for t in body.get("tools") or ()
        )
        return SentRequest(
            model=body["model"],
            system="\n".join(system) or None,
            messages=messages,
            tools=tools,
            stream=bool(body.get("stream")),
            raw=body,
        )
