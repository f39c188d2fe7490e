"""Runs: one input, everything the agent and model said and did for it, and how it ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from enum import Enum
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role, ToolCall

__all__ = [
    "Requirement",
    "RequirementKind",
    "Run",
    "RunMetrics",
    "RunOutput",
    "RunStatus",
]


class RunStatus(str, Enum):
    """Where a run stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


class RequirementKind(str, Enum):
    """What a paused run waits for from a person or an outside system."""

    CONFIRMATION = "confirmation"
    USER_INPUT = "user_input"
    EXTERNAL_EXECUTION = "external_execution"

    def __str__(self) -> str:
        return self.value


def _to_dict(value: Any) -> dict[str, Any]:
    return {} if value is None else dict(value)


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True)
class Requirement:
    """One thing a paused run waits for, and (once given) the answer.

    ``resolution`` is ``None`` while unresolved, else ``"confirmed"``, ``"rejected"``,
    ``"user_input"`` or ``"external_result"``.
    """

    id: str
    kind: RequirementKind = attrs.field(converter=RequirementKind)
    tool_call: ToolCall
    user_input_fields: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    resolution: str | None = None
    note: str | None = None
    user_input: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    external_result: str | None = None

    @property
    def is_resolved(self) -> bool:
        """True once an answer has been given."""
        return self.resolution is not None


@attrs.frozen(kw_only=True)
class RunMetrics:
    """What a run cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    #: Wall time of the run in seconds.
    duration: float = 0.0
    #: Number of model calls the run made.
    model_calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: RunMetrics) -> RunMetrics:
        return RunMetrics(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            duration=self.duration + other.duration,
            model_calls=self.model_calls + other.model_calls,
        )


def _to_status(value: RunStatus | str) -> RunStatus:
    return value if isinstance(value, RunStatus) else RunStatus(value)


@attrs.frozen(kw_only=True)
class Run:
    """One run of an agent or team in a session: the record stores keep.

    ``Agent.run`` returns this object as its run output (``RunOutput`` is the same
    class). ``version`` counts the updates of this run record; a store updates a run
    only when the stored version is the one the writer read (optimistic check).
    """

    run_id: str
    session_id: str
    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    #: For a team member's run, the team run that spawned it.
    parent_run_id: str | None = None
    status: RunStatus = attrs.field(default=RunStatus.COMPLETED, converter=_to_status)
    input: str | None = None
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_to_tuple)
    content: str | None = None
    #: What a paused run waits for (and, once continued, the answers it got).
    requirements: tuple[Requirement, ...] = attrs.field(default=(), converter=_to_tuple)
    metrics: RunMetrics = attrs.field(factory=RunMetrics)
    #: For a run that ended in ``error`` or ``cancelled``: what happened.
    error: str | None = None
    created_at: float = attrs.field(factory=time.time)
    updated_at: float = attrs.field(factory=time.time)
    version: int = 1
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)

    @property
    def is_paused(self) -> bool:
        """True when the run waits for a person (see :attr:`active_requirements`)."""
        return self.status is RunStatus.PAUSED

    @property
    def active_requirements(self) -> list[Requirement]:
        """The requirements of a paused run that are not resolved yet."""
        return [r for r in self.requirements if not r.is_resolved]

    def chat_messages(self) -> Iterator[Message]:
        """The user and assistant messages of this run that carry content."""
        return (m for m in self.messages if m.is_chat)

    @property
    def last_assistant_message(self) -> Message | None:
        """The last assistant message of the run, if any."""
        for message in reversed(self.messages):
            if message.role is Role.ASSISTANT:
                return message
        return None


#: The object ``Agent.run`` returns: the stored run record itself.
RunOutput = Run
