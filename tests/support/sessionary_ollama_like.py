"""A third-party model provider written from docs/guides/writing-a-model-provider.md alone.

Ollama's native ``/api/chat`` on httpx: JSON lines when streaming, tool calls without
IDs, no response ID, no API key, no retries, and a native async client kept one per
event loop. A test fixture of this repository (in no wheel), proving the guide.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpx

from sessionary import Message, Model, Role, ToolCall, hookimpl
from sessionary.errors import (
    ModelConnectionError,
    ModelError,
    ModelResponseError,
    ModelTimeoutError,
)
from sessionary.models import ContentDelta, ModelRequest, ModelResponse, ModelUsage
from sessionary.models.failures import model_error, status_error_class
from sessionary.models.loop_clients import AsyncClientPerLoop, LoopClients

_CALL_IDS = itertools.count(1)


class OllamaLike(Model, AsyncClientPerLoop[httpx.AsyncClient]):
    """Ollama's ``/api/chat`` on httpx, sync and async, streaming JSON lines."""

    provider: ClassVar[str] = "ollama-like"
    native_async: ClassVar[bool] = True

    def __init__(self, id: str, *, base_url: str | None = None, timeout: float = 60.0) -> None:
        self.id = id  # no I/O here: the clients are made on the first call
        self.base_url = base_url or os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._async_clients = LoopClients(
            lambda: httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        )

    # ------------------------------------------------------------------ sync

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        return self._client

    def respond(self, request: ModelRequest) -> ModelResponse:
        try:
            reply = self._sync_client().post("/api/chat", json=self._body(request, False))
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        self._check(reply.status_code, reply.text)
        return self._parse(reply.text)

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        fold = _Fold(self.label)
        try:
            body = self._body(request, True)
            with self._sync_client().stream("POST", "/api/chat", json=body) as reply:
                if reply.status_code >= 400:
                    self._check(reply.status_code, reply.read().decode("utf-8", "replace"))
                for line in reply.iter_lines():
                    text = fold.add(line)
                    if text:
                        yield ContentDelta(text)
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        yield fold.finish()

    # ------------------------------------------------------------------ async

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        client = await self.async_client()
        try:
            reply = await client.post("/api/chat", json=self._body(request, False))
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        self._check(reply.status_code, reply.text)
        return self._parse(reply.text)

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        client = await self.async_client()
        fold = _Fold(self.label)
        try:
            body = self._body(request, True)
            async with client.stream("POST", "/api/chat", json=body) as reply:
                if reply.status_code >= 400:
                    said = (await reply.aread()).decode("utf-8", "replace")
                    self._check(reply.status_code, said)
                async for line in reply.aiter_lines():
                    text = fold.add(line)
                    if text:
                        yield ContentDelta(text)
        except httpx.HTTPError as exc:
            raise self._failure(exc) from exc
        yield fold.finish()

    # ------------------------------------------------------------------ the wire format

    def _body(self, request: ModelRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.id,
            "messages": [to_wire(m) for m in request.messages],
            "stream": stream,
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        return body

    def _parse(self, text: str) -> ModelResponse:
        fold = _Fold(self.label)
        fold.add(text)
        return fold.finish()

    def _check(self, status: int, text: str) -> None:
        if status < 400:
            return
        try:
            said = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            said = text.strip() or f"HTTP {status}"
        raise model_error(status_error_class(status), self.label, str(said), status=status)

    def _failure(self, exc: httpx.HTTPError) -> ModelError:
        if isinstance(exc, httpx.TimeoutException):
            return model_error(ModelTimeoutError, self.label, str(exc) or "timed out", cause=exc)
        return model_error(ModelConnectionError, self.label, str(exc) or repr(exc), cause=exc)


def to_wire(message: Message) -> dict[str, Any]:
    """A message as ``/api/chat`` takes it: tool results name their tool, not a call ID."""
    wire: dict[str, Any] = {"role": message.role.value, "content": message.content or ""}
    if message.role is Role.TOOL and message.name:
        wire["tool_name"] = message.name
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls
        ]
    return wire


class _Fold:
    """Reads an answer, whole or as JSON lines: the text, the tool calls and the usage."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.text = ""
        self.calls: list[ToolCall] = []
        self.usage = ModelUsage()
        self.done = False

    def add(self, line: str) -> str:
        """Fold one JSON line (or a whole answer) in; the text it carried."""
        if not line.strip():
            return ""
        try:
            chunk = json.loads(line)
            said = chunk["message"]
            piece = said.get("content") or ""
            for call in said.get("tool_calls") or ():
                function = call["function"]
                # Ollama gives calls no ID: make one, as the guide says.
                self.calls.append(
                    ToolCall(
                        id=f"call_{next(_CALL_IDS)}",
                        name=function["name"],
                        arguments=function.get("arguments") or {},
                    )
                )
            if chunk.get("done"):
                self.done = True
                self.usage = ModelUsage(
                    input_tokens=int(chunk.get("prompt_eval_count", 0)),
                    output_tokens=int(chunk.get("eval_count", 0)),
                )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise model_error(
                ModelResponseError, self.label, f"not a chat answer: {line[:200]!r}", cause=exc
            ) from exc
        self.text += piece
        return str(piece)

    def finish(self) -> ModelResponse:
        """The whole answer, once the last line (``"done": true``) was read."""
        if not self.done:
            raise model_error(ModelConnectionError, self.label, "the answer ended before done")
        message = Message(
            role=Role.ASSISTANT, content=self.text or None, tool_calls=tuple(self.calls)
        )
        return ModelResponse(message=message, usage=self.usage)


@hookimpl
def sessionary_model_providers() -> list[type[Model]]:
    """Registers ``ollama-like``."""
    return [OllamaLike]
