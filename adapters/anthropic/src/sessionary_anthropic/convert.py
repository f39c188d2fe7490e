"""Sessionary messages to Anthropic's Messages API and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.models.base import ModelRequest, ModelUsage, ToolSpec

__all__ = ["StreamState", "parse_blocks", "request_body", "usage_of"]

#: Metadata key under which Claude's thinking blocks are kept, to be sent back with
#: the tool results of the same turn as the API requires.
THINKING_KEY = "anthropic_thinking"


def request_body(model_id: str, max_tokens: int, request: ModelRequest) -> dict[str, Any]:
    """The Messages API request for a model request (without ``stream``).

    System messages become the top-level ``system`` prompt; tool results become
    ``tool_result`` blocks of a user turn; consecutive messages of one role are merged
    into one turn, as the API expects roles to alternate.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role in (Role.SYSTEM, Role.DEVELOPER):  # Anthropic has no developer role
            if message.content:
                system.append(message.content)
            continue
        role = "assistant" if message.role is Role.ASSISTANT else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    body: dict[str, Any] = {
        "model": model_id,
        "max_tokens": max_tokens,
        "messages": [_compact(turn) for turn in turns],
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request.tools:
        body["tools"] = [_tool(spec) for spec in request.tools]
    return body


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role is Role.TOOL:
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content or "",
        }
        if message.metadata.get("is_error"):
            block["is_error"] = True
        return [block]
    blocks: list[dict[str, Any]] = []
    if message.role is Role.ASSISTANT:
        thinking = message.metadata.get(THINKING_KEY)
        if message.tool_calls and isinstance(thinking, list):
            blocks.extend(dict(b) for b in thinking if isinstance(b, dict))
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    elif message.role is Role.USER:
        blocks.append({"type": "text", "text": message.content or " "})
    blocks.extend(_tool_use(call) for call in message.tool_calls)
    return blocks


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}


def _compact(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn of one text block is sent as plain text, as people write it."""
    content = turn["content"]
    if len(content) == 1 and content[0]["type"] == "text":
        return {"role": turn["role"], "content": content[0]["text"]}
    return turn


def _tool(spec: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": spec.name, "input_schema": spec.parameters}
    if spec.description:
        tool["description"] = spec.description
    return tool


def parse_blocks(
    blocks: Sequence[Any],
) -> tuple[str | None, tuple[ToolCall, ...], list[dict[str, Any]]]:
    """Text, tool calls and thinking blocks of a response's content blocks."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks:
        kind = _get(block, "type")
        if kind == "text":
            texts.append(_get(block, "text") or "")
        elif kind == "tool_use":
            arguments = _get(block, "input")
            if isinstance(arguments, dict):
                calls.append(
                    ToolCall(id=_get(block, "id"), name=_get(block, "name"), arguments=arguments)
                )
            else:
                raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
                calls.append(
                    ToolCall(id=_get(block, "id"), name=_get(block, "name"), raw_arguments=raw)
                )
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(_as_dict(block))
    return ("".join(texts) or None), tuple(calls), thinking


def usage_of(usage: Any) -> ModelUsage:
    """Input tokens include cache writes and reads; Anthropic reports those apart."""
    if usage is None:
        return ModelUsage()
    cached = (_get(usage, "cache_creation_input_tokens") or 0) + (
        _get(usage, "cache_read_input_tokens") or 0
    )
    return ModelUsage(
        input_tokens=int((_get(usage, "input_tokens") or 0) + cached),
        output_tokens=int(_get(usage, "output_tokens") or 0),
    )


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _as_dict(block: Any) -> dict[str, Any]:
    if isinstance(block, dict):
        return dict(block)
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


@attrs.define
class _Block:
    kind: str
    data: dict[str, Any]
    parts: list[str] = attrs.field(factory=list)


@attrs.define
class StreamState:
    """What the events of a streamed message add up to."""

    message_id: str | None = None
    model: str | None = None
    usage: dict[str, int] = attrs.field(factory=dict)
    blocks: dict[int, _Block] = attrs.field(factory=dict)
    stop_reason: str | None = None
    stopped: bool = False

    def add(self, event: Any) -> str:
        """Fold one event in; returns the text it carries."""
        kind = event.type
        if kind == "message_start":
            message = event.message
            self.message_id = message.id
            self.model = getattr(message, "model", None)
            self._add_usage(getattr(message, "usage", None))
        elif kind == "content_block_start":
            block = _as_dict(event.content_block)
            self.blocks[event.index] = _Block(block.get("type", ""), block)
        elif kind == "content_block_delta":
            return self._add_delta(event.index, event.delta)
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None) or self.stop_reason
            self._add_usage(getattr(event, "usage", None))
        elif kind == "message_stop":
            self.stopped = True
        return ""

    def _add_delta(self, index: int, delta: Any) -> str:
        block = self.blocks.setdefault(index, _Block("text", {"type": "text", "text": ""}))
        kind = delta.type
        if kind == "text_delta":
            block.parts.append(delta.text)
            return str(delta.text)
        if kind == "input_json_delta":
            block.parts.append(delta.partial_json)
        elif kind == "thinking_delta":
            block.parts.append(delta.thinking)
        elif kind == "signature_delta":
            block.data["signature"] = delta.signature
        return ""

    def _add_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ):
            value = getattr(usage, name, None)
            if value is not None:  # message_delta counts are cumulative
                self.usage[name] = int(value)

    def content_blocks(self) -> list[dict[str, Any]]:
        """The finished content blocks, as a non-streaming response has them."""
        finished: list[dict[str, Any]] = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            data = dict(block.data)
            joined = "".join(block.parts)
            if block.kind == "text":
                data["text"] = data.get("text", "") + joined
            elif block.kind == "tool_use":
                try:
                    data["input"] = json.loads(joined) if joined.strip() else {}
                except ValueError:
                    data["input"] = joined
            elif block.kind == "thinking":
                data["thinking"] = data.get("thinking", "") + joined
            finished.append(data)
        return finished
