"""``OpenAIChat``: models on the Chat Completions API, OpenAI's or any compatible server's."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import ModelResponseError
from sessionary.models.base import ModelRequest, ModelResponse, ModelUsage, ToolSpec
from sessionary.models.provider import preview
from sessionary_openai._base import OpenAIBase, decode_arguments

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIChat", "request_body"]


class OpenAIChat(OpenAIBase):
    """A model on the Chat Completions API (``POST /chat/completions``).

    Besides OpenAI itself this serves any OpenAI-compatible server (vLLM, llama.cpp,
    Ollama, LM Studio): point ``base_url`` at it, e.g.
    ``OpenAIChat(id="llama3.2", base_url="http://localhost:11434/v1", api_key="ollama")``.
    Options are those of :class:`~sessionary_openai.OpenAIResponses`. Streaming asks
    for usage with ``stream_options={"include_usage": True}``; a server that refuses
    it takes ``request_params={"stream_options": None}``. The async calls run on
    ``openai.AsyncOpenAI``, as :class:`~sessionary_openai.OpenAIResponses` describes.

    >>> OpenAIChat(id="gpt-4.1-mini").label
    'openai-chat:gpt-4.1-mini'
    """

    provider: ClassVar[str] = "openai-chat"
    reserved_params: ClassVar[frozenset[str]] = frozenset({"model", "messages", "stream"})

    # respond, stream, arespond and astream are SDKModel's, through these:

    def _endpoint(self, client: openai.OpenAI | openai.AsyncOpenAI) -> Callable[..., Any]:
        return client.chat.completions.create

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        return request_body(self.id, request)

    def _answer_type(self) -> type[Any]:
        from openai.types.chat import ChatCompletion

        return ChatCompletion

    def _stream_body(self, request: ModelRequest) -> dict[str, Any]:
        body = request_body(self.id, request)
        body["stream"] = True
        if "stream_options" not in self.request_params:
            body["stream_options"] = {"include_usage": True}
        elif self.request_params["stream_options"] is None:
            body["stream_options"] = None
        return body

    def _fold(self) -> _StreamState:
        return _StreamState(self)

    # ------------------------------------------------------------------ answers

    def _parse(self, completion: Any) -> ModelResponse:
        try:
            choice = completion.choices[0]
            message = choice.message
            calls = tuple(
                decode_arguments(call.id, call.function.name, call.function.arguments)
                for call in (message.tool_calls or ())
                if getattr(call, "type", "function") == "function"
            )
            content = message.content or getattr(message, "refusal", None) or None
            usage = _usage(getattr(completion, "usage", None))
            response_id = completion.id
            if not isinstance(response_id, str):
                raise TypeError("no id")
        except Exception as exc:
            raise ModelResponseError(
                f"{self.label}: the server's answer is not a chat completion "
                f"({type(exc).__name__}: {exc}): {preview(completion)}"
            ) from exc
        return self._build(
            response_id,
            getattr(completion, "model", None),
            content,
            calls,
            usage,
            getattr(choice, "finish_reason", None),
        )

    def _build(
        self,
        response_id: str | None,
        model: Any,
        content: str | None,
        calls: tuple[ToolCall, ...],
        usage: ModelUsage,
        finish_reason: Any,
    ) -> ModelResponse:
        metadata: dict[str, Any] = {}
        if response_id:
            metadata["response_id"] = response_id
        if isinstance(model, str):
            metadata["model"] = model
        if isinstance(finish_reason, str):
            metadata["finish_reason"] = finish_reason
        message = Message(role=Role.ASSISTANT, content=content, tool_calls=calls, metadata=metadata)
        return ModelResponse(message=message, usage=usage, response_id=response_id or None)


def request_body(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The Chat Completions request for a model request (without ``stream``)."""
    body: dict[str, Any] = {
        "model": model_id,
        "messages": [_message(m) for m in request.messages],
    }
    if request.tools:
        body["tools"] = [_tool(spec) for spec in request.tools]
    return body


def _message(message: Message) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.content or "",
        }
    if message.role is Role.ASSISTANT and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.raw_arguments
                        if call.raw_arguments is not None
                        else json.dumps(call.arguments),
                    },
                }
                for call in message.tool_calls
            ],
        }
    # Chat Completions servers that are not OpenAI's know no "developer" role: system.
    role = "system" if message.role is Role.DEVELOPER else str(message.role)
    return {"role": role, "content": message.content or ""}


def _tool(spec: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": spec.name, "parameters": spec.parameters}
    if spec.description:
        function["description"] = spec.description
    return {"type": "function", "function": function}


@attrs.define
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = attrs.field(factory=list)


@attrs.define
class _StreamState:
    """What the chunks of a streamed completion add up to."""

    owner: OpenAIChat
    response_id: str | None = None
    model: str | None = None
    texts: list[str] = attrs.field(factory=list)
    calls: list[_CallParts] = attrs.field(factory=list)
    by_index: dict[int, _CallParts] = attrs.field(factory=dict)
    usage: ModelUsage = attrs.field(factory=ModelUsage)
    finish_reason: str | None = None

    def add(self, chunk: Any) -> str:
        """Fold one chunk in; returns its text."""
        self.response_id = self.response_id or getattr(chunk, "id", None)
        self.model = self.model or getattr(chunk, "model", None)
        if getattr(chunk, "usage", None) is not None:
            self.usage = _usage(chunk.usage)
        text = ""
        for choice in chunk.choices or ():
            if getattr(choice, "index", 0) != 0:
                continue
            delta = choice.delta
            if delta is not None:
                piece = delta.content or getattr(delta, "refusal", None) or ""
                if piece:
                    self.texts.append(piece)
                    text += piece
                for call in delta.tool_calls or ():
                    self._add_call(call)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return text

    def finish(self) -> ModelResponse:
        """The complete response; the stream must have said why the model stopped."""
        if self.finish_reason is None:
            raise ModelResponseError(
                f"{self.owner.label}: the stream ended before the model finished"
            )
        return self.owner._build(
            self.response_id,
            self.model,
            "".join(self.texts) or None,
            tuple(decode_arguments(c.id, c.name, "".join(c.arguments)) for c in self.calls),
            self.usage,
            self.finish_reason,
        )

    def _add_call(self, call: Any) -> None:
        index = call.index if call.index is not None else len(self.calls)
        parts = self.by_index.get(index)
        if parts is None:
            parts = self.by_index[index] = _CallParts()
            self.calls.append(parts)
        if call.id:
            parts.id = call.id
        function = call.function
        if function is not None:
            if function.name:
                parts.name = function.name
            if function.arguments:
                parts.arguments.append(function.arguments)


def _usage(usage: Any) -> ModelUsage:
    if usage is None:
        return ModelUsage()
    return ModelUsage(
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
