"""Messages and tool calls: what a run says and does."""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import Enum
from typing import Any

import attrs

__all__ = ["Message", "Role", "ToolCall"]


class TextEnum(str, Enum):
    """An enum of strings that prints as its value (``str(Role.USER) == "user"``)."""

    def __str__(self) -> str:
        return str(self.value)


class Role(TextEnum):
    """Who a message is from."""

    SYSTEM = "system"
    #: Instructions from the application's developer, as OpenAI's ``developer`` role:
    #: OpenAI's Responses API gets ``developer``, Chat Completions and Anthropic (which
    #: has no such role) get it as system instructions.
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


def _to_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    # Dicts pass through as they are: records are immutable by contract and copying
    # every dict on every construction was a measurable share of a run's cost.
    if type(value) is dict:
        return value
    return {} if value is None else dict(value)


@attrs.frozen(kw_only=True, slots=False)
class ToolCall:
    """A model's request to call one tool.

    ``arguments`` are the decoded JSON arguments. When the model sent arguments that
    are not a JSON object, ``arguments`` is empty and ``raw_arguments`` keeps the text
    so the agent can tell the model what was wrong.
    """

    id: str
    name: str
    arguments: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    raw_arguments: str | None = None


def _to_role(value: Role | str) -> Role:
    return value if isinstance(value, Role) else Role(value)


def _to_tool_calls(value: Any) -> tuple[ToolCall, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True, slots=False)
class Message:
    """One message of a run.

    >>> Message(role="user", content="Hello").role
    <Role.USER: 'user'>
    """

    role: Role = attrs.field(converter=_to_role)
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tool_calls)
    #: For a ``tool`` message, the ID of the call it answers.
    tool_call_id: str | None = None
    #: The tool's name (tool messages) or a participant's name.
    name: str | None = None
    created_at: float = attrs.field(factory=time.time)
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    #: A framework's own record of this message (an OpenAI Agents SDK item, say), kept
    #: exactly: JSON only (``dict``, ``list``, ``str``, finite numbers, ``bool``,
    #: ``None``; no tuples), checked before any write, and read back equal.
    payload: dict[str, Any] | None = None

    @property
    def is_chat(self) -> bool:
        """True for the user and assistant messages with content: the chat history."""
        return self.role in (Role.USER, Role.ASSISTANT) and bool(self.content)
