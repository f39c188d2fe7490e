"""The SDK's input items and Sessionary's messages: one message per item, kept losslessly.

An item (``TResponseInputItem``: a JSON object) becomes a :class:`~sessionary.Message`
that every Sessionary tool understands (its role, text, tool calls and results, for the
inbox preview, ``sessions show``, export, or a Sessionary ``Agent`` continuing the
conversation), and that carries the item itself, exactly, in
:attr:`Message.payload <sessionary.Message.payload>`. Reading gives that item back; a
message written by something else (a Sessionary ``Agent``) becomes the item the SDK
would have written for it.

Sessions written by the first version of this package kept the item in the message's
metadata under ``"openai_agents_item"``; they read back the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from sessionary import Message, Role
from sessionary.domain.messages import ToolCall
from sessionary.errors import InvalidInputError

__all__ = ["ItemError", "items_of", "message_of"]

#: Where the first version of this package kept the item: in the message's metadata.
LEGACY_KEY = "openai_agents_item"


class ItemError(InvalidInputError, TypeError):
    """An item that cannot be stored: not a dict, or not JSON-serialisable.

    A ``TypeError`` too, as ``json.dumps`` raises for the SDK's own sessions.
    """


_ROLES = {
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "developer": Role.DEVELOPER,
}


def message_of(item: Any, now: float | None = None) -> Message:
    """The message that stores one item. An item that is not a JSON object is bad input."""
    if not isinstance(item, dict):
        raise ItemError(
            f"a session item must be a dict (a TResponseInputItem), got {type(item).__name__}"
        )
    try:
        # Our own copy, checked now: the store keeps it, and a caller that changes its
        # dict later changes nothing stored.
        text = _dump_item(item)
    except (TypeError, ValueError) as exc:
        raise ItemError(f"a session item is not JSON-serialisable: {exc}") from exc
    payload = _load_item(text)
    created_at = time.time() if now is None else now
    kind = payload.get("type")
    if kind == "function_call":
        call = ToolCall(
            id=str(payload.get("call_id", "")),
            name=str(payload.get("name", "")),
            arguments=_arguments(payload.get("arguments")),
            raw_arguments=_raw(payload.get("arguments")),
        )
        return Message(
            role=Role.ASSISTANT, tool_calls=(call,), created_at=created_at, payload=payload
        )
    if kind == "function_call_output":
        return Message(
            role=Role.TOOL,
            content=_text(payload.get("output")),
            tool_call_id=str(payload.get("call_id", "")),
            created_at=created_at,
            payload=payload,
        )
    role = _ROLES.get(payload.get("role")) if kind in (None, "message") else None
    if role is None:  # reasoning, built-in tool calls, ...: kept, shown as nothing
        return Message(role=Role.ASSISTANT, created_at=created_at, payload=payload)
    return Message(
        role=role, content=_text(payload.get("content")), created_at=created_at, payload=payload
    )


#: ``json.dumps(item, allow_nan=False)``, without making an encoder each call.
_dump_item = json.JSONEncoder(allow_nan=False).encode


def _load_item(text: str) -> Any:
    """``json.loads(text)`` for what :data:`_dump_item` wrote, by msgspec (about eight
    times faster on an item); a lone surrogate's escape, which msgspec refuses, goes
    the standard way."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def item_of(message: Message) -> dict[str, Any] | None:
    """The item a message stores (``None`` for a message written by something else)."""
    payload = message.payload
    if payload is None:
        legacy = message.metadata.get(LEGACY_KEY) if message.metadata else None
        return legacy if isinstance(legacy, dict) else None
    return payload


def items_of(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """The items of messages, in order; a foreign assistant message with several tool
    calls gives one ``function_call`` item per call, and one with neither text nor
    calls gives none."""
    items: list[dict[str, Any]] = []
    for message in messages:
        item = item_of(message)
        if item is not None:
            items.append(item)
        elif message.role is Role.TOOL:
            output = message.content or ""
            call_id = message.tool_call_id or ""
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
        else:
            if message.content:
                items.append({"role": message.role.value, "content": message.content})
            items.extend(_call(call) for call in message.tool_calls)
    return items


def _call(call: ToolCall) -> dict[str, Any]:
    arguments = call.raw_arguments
    return {
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": json.dumps(call.arguments) if arguments is None else arguments,
    }


def _text(content: Any) -> str | None:
    """The text of an item's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "".join(parts) if parts else None
    return None


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _raw(arguments: Any) -> str | None:
    if isinstance(arguments, str) and _arguments(arguments) == {} and arguments.strip() != "{}":
        return arguments
    return None
