"""Sessionary: the session layer for AI agents and teams.

>>> from sessionary import Agent
>>> from sessionary.testing import ScriptedModel
>>> agent = Agent(model=ScriptedModel(), db="memory://")
>>> agent.run("Hello", session_id="s1").content
'echo: Hello'

Names are imported on first use, so ``import sessionary`` stays cheap and loads no
plugin, SDK or adapter.
"""

from __future__ import annotations

import importlib

# Not ``from typing import TYPE_CHECKING``: importing typing alone costs ~10 ms here.
TYPE_CHECKING = False

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Agent": "sessionary.agent.agent",
    "AgentSession": "sessionary.domain.sessions",
    "AsyncStore": "sessionary.storage.aio",
    "Message": "sessionary.domain.messages",
    "Model": "sessionary.models.base",
    "Requirement": "sessionary.domain.runs",
    "Role": "sessionary.domain.messages",
    "Run": "sessionary.domain.runs",
    "RunContext": "sessionary.agent.context",
    "RunMetrics": "sessionary.domain.runs",
    "RunOutput": "sessionary.domain.runs",
    "RunStatus": "sessionary.domain.runs",
    "Session": "sessionary.domain.sessions",
    "SessionInfo": "sessionary.domain.sessions",
    "SessionPage": "sessionary.domain.sessions",
    "SessionSummary": "sessionary.domain.sessions",
    "SessionSummaryManager": "sessionary.summary",
    "SessionType": "sessionary.domain.sessions",
    "Store": "sessionary.storage.base",
    "Team": "sessionary.agent.team",
    "TeamSession": "sessionary.domain.sessions",
    "Tool": "sessionary.tools",
    "ToolCall": "sessionary.domain.messages",
    "get_model": "sessionary.resolve",
    "hookimpl": "sessionary.plugins.markers",
    "open_db": "sessionary.resolve",
    "tool": "sessionary.tools",
}

__all__ = [
    "Agent",
    "AgentSession",
    "AsyncStore",
    "Message",
    "Model",
    "Requirement",
    "Role",
    "Run",
    "RunContext",
    "RunMetrics",
    "RunOutput",
    "RunStatus",
    "Session",
    "SessionInfo",
    "SessionPage",
    "SessionSummary",
    "SessionSummaryManager",
    "SessionType",
    "Store",
    "Team",
    "TeamSession",
    "Tool",
    "ToolCall",
    "__version__",
    "get_model",
    "hookimpl",
    "open_db",
    "tool",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionary' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from sessionary.agent.agent import Agent
    from sessionary.agent.context import RunContext
    from sessionary.agent.team import Team
    from sessionary.domain.messages import Message, Role, ToolCall
    from sessionary.domain.runs import Requirement, Run, RunMetrics, RunOutput, RunStatus
    from sessionary.domain.sessions import (
        AgentSession,
        Session,
        SessionInfo,
        SessionPage,
        SessionSummary,
        SessionType,
        TeamSession,
    )
    from sessionary.models.base import Model
    from sessionary.plugins.markers import hookimpl
    from sessionary.resolve import get_model, open_db
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store
    from sessionary.summary import SessionSummaryManager
    from sessionary.tools import Tool, tool
