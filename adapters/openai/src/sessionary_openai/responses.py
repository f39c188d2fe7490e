"""``OpenAIResponses``: OpenAI models on the Responses API (``POST /responses``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import ModelError, ModelResponseError
from sessionary.models.base import ModelRequest, ModelResponse, ModelUsage, ToolSpec
from sessionary.models.provider import preview
from sessionary_openai._base import OpenAIBase, decode_arguments, error_from_code

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIResponses", "request_body"]


class OpenAIResponses(OpenAIBase):
    """An OpenAI model on the Responses API, through the official ``openai`` SDK.

    ``api_key`` and ``base_url`` default to the SDK's ``OPENAI_API_KEY`` and
    ``OPENAI_BASE_URL``; ``timeout`` (seconds) and ``max_retries`` go to the SDK
    client, whose retries are the ones used. ``request_params`` are added to every
    request (``{"temperature": 0.2, "reasoning": {"effort": "low"}}``); names the SDK
    does not know travel in ``extra_body``. ``client_params`` go to ``openai.OpenAI``.

    The async calls (``arespond``, ``astream``) run on ``openai.AsyncOpenAI`` with the
    same options, one client per running event loop (see ``async_client``).

    The whole conversation is sent each time (``previous_response_id`` is not used),
    so a session can move between models and stores.

    >>> model = OpenAIResponses(id="gpt-5.2")
    >>> model.label
    'openai:gpt-5.2'
    """

    provider: ClassVar[str] = "openai"
    reserved_params: ClassVar[frozenset[str]] = frozenset(
        {"model", "input", "instructions", "stream"}
    )

    # respond, stream, arespond and astream are SDKModel's, through these:

    def _endpoint(self, client: openai.OpenAI | openai.AsyncOpenAI) -> Callable[..., Any]:
        return client.responses.create

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        return request_body(self.id, request)

    def _answer_type(self) -> type[Any]:
        from openai.types.responses import Response

        return Response

    def _fold(self) -> _ResponsesFold:
        return _ResponsesFold(self)

    # ------------------------------------------------------------------ answers

    def _parse(self, response: Any) -> ModelResponse:
        try:
            response_id = response.id
            status = getattr(response, "status", None)
            if status == "failed":
                raise self._failed(response)
            output = response.output
            if not isinstance(response_id, str) or not isinstance(output, list):
                raise TypeError("no id or no output list")
            content, calls, kinds = _read_output(output)
            usage = _usage(getattr(response, "usage", None))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelResponseError(
                f"{self.label}: the server's answer is not a Responses API response "
                f"({type(exc).__name__}: {exc}): {preview(response)}"
            ) from exc
        metadata: dict[str, Any] = {"response_id": response_id}
        model = getattr(response, "model", None)
        if isinstance(model, str):
            metadata["model"] = model
        if status == "incomplete":
            details = getattr(response, "incomplete_details", None)
            metadata["incomplete_reason"] = getattr(details, "reason", None)
        other = sorted(kinds - {"message", "function_call"})
        if other:
            metadata["other_output"] = other
        message = Message(role=Role.ASSISTANT, content=content, tool_calls=calls, metadata=metadata)
        return ModelResponse(message=message, usage=usage, response_id=response_id)

    def _failed(self, response: Any) -> ModelError:
        error = getattr(response, "error", None)
        code = getattr(error, "code", None)
        message = getattr(error, "message", None) or "the response failed"
        return error_from_code(self.label, code, str(message))


class _ResponsesFold:
    """Text deltas of a streamed response, then the completed response it ends with."""

    def __init__(self, model: OpenAIResponses) -> None:
        self.model = model
        self.final: Any = None

    def add(self, event: Any) -> str:
        kind = getattr(event, "type", None)
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return str(event.delta or "")
        if kind in ("response.completed", "response.incomplete"):
            self.final = event.response
        elif kind == "response.failed":
            raise self.model._failed(event.response)
        elif kind == "error":
            raise error_from_code(self.model.label, event.code, event.message)
        return ""

    def finish(self) -> ModelResponse:
        if self.final is None:
            raise ModelResponseError(
                f"{self.model.label}: the stream ended before the response completed"
            )
        return self.model._parse(self.final)


def request_body(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The Responses API request for a model request (without ``stream``)."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in request.messages:
        items.extend(_items(message, instructions, leading=not items))
    body: dict[str, Any] = {"model": model_id, "input": items}
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    if request.tools:
        body["tools"] = [_tool(spec) for spec in request.tools]
    return body


def _items(message: Message, instructions: list[str], *, leading: bool) -> list[dict[str, Any]]:
    text = message.content or ""
    if message.role is Role.SYSTEM:
        if leading:  # system messages before the conversation are the instructions
            instructions.append(text)
            return []
        return [{"role": "developer", "content": text}]
    if message.role is Role.DEVELOPER:  # the Responses API's own role
        return [{"role": "developer", "content": text}]
    if message.role is Role.USER:
        return [{"role": "user", "content": text}]
    if message.role is Role.TOOL:
        return [{"type": "function_call_output", "call_id": message.tool_call_id, "output": text}]
    items: list[dict[str, Any]] = []
    if message.content:
        items.append({"role": "assistant", "content": message.content})
    items.extend(_call_item(call) for call in message.tool_calls)
    return items


def _call_item(call: ToolCall) -> dict[str, Any]:
    arguments = call.raw_arguments if call.raw_arguments is not None else json.dumps(call.arguments)
    return {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": arguments}


def _tool(spec: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "type": "function",
        "name": spec.name,
        "parameters": spec.parameters,
        # Our schemas allow optional arguments, which strict mode does not.
        "strict": False,
    }
    if spec.description:
        tool["description"] = spec.description
    return tool


def _read_output(output: Sequence[Any]) -> tuple[str | None, tuple[ToolCall, ...], set[str]]:
    texts: list[str] = []
    calls: list[ToolCall] = []
    kinds: set[str] = set()
    for item in output:
        kind = item.type
        kinds.add(kind)
        if kind == "message":
            for part in item.content:
                if part.type == "output_text":
                    texts.append(part.text)
                elif part.type == "refusal":
                    texts.append(part.refusal)
        elif kind == "function_call":
            calls.append(decode_arguments(item.call_id, item.name, item.arguments))
    return ("".join(texts) or None), tuple(calls), kinds


def _usage(usage: Any) -> ModelUsage:
    if usage is None:
        return ModelUsage()
    return ModelUsage(
        input_tokens=int(usage.input_tokens or 0), output_tokens=int(usage.output_tokens or 0)
    )
