"""Sessions: a conversation's identity, owner, name, state and runs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import attrs

from sessionary.domain.messages import Message, TextEnum, _to_dict
from sessionary.domain.runs import Run, RunStatus

__all__ = [
    "AgentSession",
    "Session",
    "SessionInfo",
    "SessionPage",
    "SessionSummary",
    "SessionType",
    "TeamSession",
]

#: The metadata key a session's summary is kept under (see :mod:`sessionary.summary`).
SUMMARY_KEY = "session_summary"


class SessionType(TextEnum):
    """Whether a session belongs to an agent or to a team."""

    AGENT = "agent"
    TEAM = "team"


def _to_type(value: SessionType | str) -> SessionType:
    return value if isinstance(value, SessionType) else SessionType(value)


def _to_optional_status(value: RunStatus | str | None) -> RunStatus | None:
    if value is None or isinstance(value, RunStatus):
        return value
    return RunStatus(value)


def _to_topics(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SessionSummary:
    """A model-made summary of a session (``enable_session_summaries``), as Agno has it.

    ``last_run_id`` is the last run it covers: the next update reads only later runs.
    """

    summary: str
    topics: tuple[str, ...] = attrs.field(default=(), converter=_to_topics)
    last_run_id: str | None = None
    updated_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-compatible data (what the session's metadata keeps)."""
        return {
            "summary": self.summary,
            "topics": list(self.topics),
            "last_run_id": self.last_run_id,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SessionSummary | None:
        """The inverse of :meth:`to_dict`; ``None`` for anything that is not a summary."""
        if not isinstance(data, dict) or not isinstance(data.get("summary"), str):
            return None
        topics = data.get("topics") or []
        last = data.get("last_run_id")
        when = data.get("updated_at")
        return cls(
            summary=data["summary"],
            topics=tuple(t for t in topics if isinstance(t, str))
            if isinstance(topics, list)
            else (),
            last_run_id=last if isinstance(last, str) else None,
            updated_at=float(when) if isinstance(when, (int, float)) else None,
        )


@attrs.frozen(kw_only=True)
class SessionInfo:
    """A session's metadata and inbox summary, without its runs.

    This is what listing returns: enough for an inbox row, never the runs. Every
    write to the session bumps ``version``.
    """

    session_id: str
    session_type: SessionType = attrs.field(default=SessionType.AGENT, converter=_to_type)
    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    name: str | None = None
    #: Where the name came from: ``"manual"``, ``"model"``, or a fallback's name.
    name_source: str | None = None
    state: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    created_at: float = attrs.field(factory=time.time)
    updated_at: float = attrs.field(factory=time.time)
    version: int = 0
    run_count: int = 0
    last_run_status: RunStatus | None = attrs.field(default=None, converter=_to_optional_status)
    #: The start of the last message with content, for an inbox row.
    last_message_preview: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    #: When the last run was appended or continued (``None``: no run yet). Renames,
    #: state updates and trims never move it: it is what an inbox orders by.
    last_run_at: float | None = None
    #: How many of the stored runs are paused (waiting for an approval or an input).
    paused_runs: int = 0

    @property
    def summary(self) -> SessionSummary | None:
        """The session's summary (``enable_session_summaries``), or ``None``; from the
        summary record itself, so a listing shows it without loading runs."""
        return SessionSummary.from_dict(self.metadata.get(SUMMARY_KEY))

    @property
    def owner_id(self) -> str | None:
        """The agent's or the team's ID, whichever owns the session."""
        return self.team_id if self.session_type is SessionType.TEAM else self.agent_id


def _to_runs(value: Iterable[Run]) -> tuple[Run, ...]:
    return value if type(value) is tuple else tuple(value)


def _to_labels(value: Iterable[str]) -> tuple[str, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True)
class Session(SessionInfo):
    """A session with its runs, in the order they were stored.

    Sessions are immutable: a later run never changes a session a caller holds.
    """

    runs: tuple[Run, ...] = attrs.field(default=(), converter=_to_runs)
    #: The runs a tolerant read (``skip_corrupt=True``) left out because their stored
    #: record could not be decoded: each one's run ID, or ``"#<n>"`` (its position,
    #: from 1) where the store cannot tell the ID of a damaged record. Empty otherwise.
    skipped_runs: tuple[str, ...] = attrs.field(default=(), converter=_to_labels)

    def get_messages(self) -> list[Message]:
        """Every message of every run in order: system, user, assistant, tool calls and results."""
        return [message for run in self.runs for message in run.messages]

    def get_chat_history(self) -> list[Message]:
        """Only the user and assistant messages that carry content."""
        return [message for run in self._conversation_runs() for message in run.chat_messages()]

    def get_run(self, run_id: str) -> Run | None:
        """The run with that ID, or ``None``."""
        for run in self.runs:
            if run.run_id == run_id:
                return run
        return None

    def _conversation_runs(self) -> Iterable[Run]:
        return self.runs

    @property
    def info(self) -> SessionInfo:
        """The session without its runs."""
        fields = attrs.fields(SessionInfo)
        return SessionInfo(**{f.name: getattr(self, f.name) for f in fields})

    @staticmethod
    def from_info(
        info: SessionInfo, runs: Iterable[Run], skipped_runs: Iterable[str] = ()
    ) -> Session:
        """An :class:`AgentSession` or :class:`TeamSession`, by the info's session type."""
        cls = TeamSession if info.session_type is SessionType.TEAM else AgentSession
        fields = attrs.fields(SessionInfo)
        return cls(
            runs=tuple(runs),
            skipped_runs=tuple(skipped_runs),
            **{f.name: getattr(info, f.name) for f in fields},
        )


@attrs.frozen(kw_only=True)
class AgentSession(Session):
    """A session of an :class:`~sessionary.Agent`."""


@attrs.frozen(kw_only=True)
class TeamSession(Session):
    """A session of a team: the team's runs and, under them, its members' runs.

    ``get_messages()`` returns every message, members' included;
    ``get_chat_history()`` returns the user-facing conversation, the team's own runs.
    """

    def _conversation_runs(self) -> Iterable[Run]:
        return (run for run in self.runs if run.parent_run_id is None)


def _to_infos(value: Iterable[SessionInfo]) -> tuple[SessionInfo, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True)
class SessionPage:
    """One page of a session listing; pass ``next_cursor`` back for the next page."""

    items: tuple[SessionInfo, ...] = attrs.field(converter=_to_infos)
    next_cursor: str | None = None
