"""The domain model: messages, runs and sessions, as attrs classes."""

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import (
    Requirement,
    RequirementKind,
    Run,
    RunMetrics,
    RunOutput,
    RunStatus,
)
from sessionary.domain.sessions import (
    AgentSession,
    Session,
    SessionInfo,
    SessionPage,
    SessionType,
    TeamSession,
)

__all__ = [
    "AgentSession",
    "Message",
    "Requirement",
    "RequirementKind",
    "Role",
    "Run",
    "RunMetrics",
    "RunOutput",
    "RunStatus",
    "Session",
    "SessionInfo",
    "SessionPage",
    "SessionType",
    "TeamSession",
    "ToolCall",
]
