"""Session summaries: a short, model-made summary of a session, kept up to date incrementally.

The summary lives in the session's summary record (:attr:`SessionInfo.summary
<sessionary.domain.sessions.SessionInfo.summary>`, kept under the reserved metadata key
:data:`SUMMARY_KEY`), so an inbox shows it from a listing, without loading runs. Each
update reads the previous summary and only the runs stored since it was made (at most
:attr:`SessionSummaryManager.max_runs` of them, each cut to ``max_chars_per_run``): a
10,000-run session costs the same to summarise as a 10-run one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SUMMARY_KEY, SessionInfo, SessionSummary
from sessionary.errors import ConflictError, InvalidInputError, ModelResponseError
from sessionary.flow import DbCall, Flow, Respond
from sessionary.models.base import Model, ModelRequest, ModelResponse
from sessionary.resolve import resolve_model

__all__ = ["SUMMARY_KEY", "SessionSummary", "SessionSummaryManager", "summary_flow"]


_PROMPT = (
    "You keep a short summary of a conversation between a user and an assistant. "
    "Update the summary with the new exchanges: keep what still matters (facts about the "
    "user, decisions, open questions), drop small talk, and answer with the summary "
    "only, in at most {words} words."
)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInputError(f"{attribute.name} must be a positive int, got {value!r}")


@attrs.define(kw_only=True)
class SessionSummaryManager:
    """Makes session summaries: which model, and how much it reads (Agno's name).

    ``model`` is the summary model (a cheaper one, say; a ``"provider:model"`` string
    works); ``None`` uses the agent's own. Each update sends the previous summary and at
    most ``max_runs`` new runs, each cut to ``max_chars_per_run`` characters.
    """

    model: Model | None = attrs.field(default=None, converter=resolve_model)
    max_runs: int = attrs.field(default=10, validator=_positive)
    max_chars_per_run: int = attrs.field(default=2000, validator=_positive)
    max_words: int = attrs.field(default=150, validator=_positive)
    prompt: str = attrs.field(default=_PROMPT)

    def request(self, previous: SessionSummary | None, runs: Sequence[Run]) -> ModelRequest:
        """The summary model's request: the previous summary and the new runs, bounded."""
        lines = [f"Previous summary: {previous.summary}" if previous else "No summary yet."]
        lines.append("New exchanges:")
        for run in runs:
            text = "\n".join(
                f"{m.role.value}: {m.content}" for m in run.chat_messages() if m.content
            )
            lines.append(text[: self.max_chars_per_run])
        system = Message(role=Role.SYSTEM, content=self.prompt.format(words=self.max_words))
        return ModelRequest(messages=(system, Message(role=Role.USER, content="\n\n".join(lines))))


def _new_runs(runs: Sequence[Run], previous: SessionSummary | None) -> list[Run]:
    own = [r for r in runs if r.parent_run_id is None and r.status is RunStatus.COMPLETED]
    if previous is not None and previous.last_run_id is not None:
        ids = [r.run_id for r in own]
        if previous.last_run_id in ids:
            own = own[ids.index(previous.last_run_id) + 1 :]
    return own


def summary_flow(
    manager: SessionSummaryManager,
    model: Model,
    session_id: str,
    user_id: str | None,
    *,
    retries: int = 20,
) -> Flow[SessionSummary | None]:
    """Update the session's summary from its previous one and the runs since; store it.

    Returns the stored summary, or ``None`` when there was nothing new to summarise (or
    no session). The write is a compare-and-set on the session's version that merges
    the summary into the metadata as it is then, so it never undoes another write.
    """
    info: SessionInfo | None = yield DbCall.of("get_session_info", session_id, user_id=user_id)
    if info is None:
        return None
    previous = info.summary
    runs: list[Run] = yield DbCall.of(
        "get_runs", session_id, user_id=user_id, last_n=manager.max_runs
    )
    fresh = _new_runs(runs, previous)
    if not fresh:
        return None
    response = yield Respond(model, manager.request(previous, fresh))
    if not isinstance(response, ModelResponse) or not (response.message.content or "").strip():
        raise ModelResponseError(f"summary model {model.label} gave no summary")
    summary = SessionSummary(
        summary=(response.message.content or "").strip(),
        last_run_id=fresh[-1].run_id,
        updated_at=time.time(),
    )
    for _ in range(retries):
        current: SessionInfo | None = yield DbCall.of(
            "get_session_info", session_id, user_id=user_id
        )
        if current is None:
            return None
        metadata = {**current.metadata, SUMMARY_KEY: summary.to_dict()}
        try:
            yield DbCall.of(
                "update_session",
                session_id,
                user_id=user_id,
                expected_version=current.version,
                metadata=metadata,
            )
        except ConflictError:
            continue
        return summary
    raise ConflictError(f"session {session_id!r} kept changing; its summary was not stored")
