"""What the inbox reads and does, over an agent (or team) or a bare store.

With an agent, listing is scoped to the agent's (or team's) sessions, names go through
its naming policy and paused runs continue in this process with its model and tools.
With a store, every session is listed, names go through the installed naming policy
and approvals are read-only: continuing a run needs the application's model and tools.
Listing never loads runs; a transcript loads one page of runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from sessionary.agent.running import RunningOwner
from sessionary.domain.runs import Requirement, Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    InvalidInputError,
    RunAlreadyContinuedError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.models.base import Model
from sessionary.resolve import open_db
from sessionary.storage.base import Store
from sessionary_web.query import Query

__all__ = ["READ_ONLY_REASON", "Inbox", "answer"]

READ_ONLY_REASON = (
    "Read-only: continuing a paused run needs the application's agent (its model and "
    "tools). Start the server with --agent module:attribute, or pass the agent to inbox_app."
)

#: How many of a session's last runs are read first to find its paused runs.
PAUSED_WINDOW = 10


@attrs.define
class Inbox:
    """The store (and agent, if any) behind one inbox app."""

    store: Store
    agent: RunningOwner | None = None
    naming_model: Model | None = None

    @classmethod
    def of(cls, agent_or_db: RunningOwner | Store | str, naming_model: Model | None) -> Inbox:
        """From an agent or team, a store, or a store URL (opened here)."""
        if isinstance(agent_or_db, RunningOwner):
            return cls(store=agent_or_db.db, agent=agent_or_db, naming_model=naming_model)
        if isinstance(agent_or_db, Store):
            return cls(store=agent_or_db, naming_model=naming_model)
        if isinstance(agent_or_db, str):
            return cls(store=open_db(agent_or_db), naming_model=naming_model)
        raise InvalidInputError(
            "inbox_app() takes an Agent, a Team, a Store or a store URL, "
            f"got {type(agent_or_db).__name__}"
        )

    @property
    def read_only_reason(self) -> str | None:
        """Why approvals cannot be given here, or ``None`` when they can."""
        return READ_ONLY_REASON if self.agent is None else None

    def _owner(self) -> dict[str, Any]:
        if self.agent is None:
            return {}
        if self.agent.session_type is SessionType.TEAM:
            return {"session_type": SessionType.TEAM, "team_id": self.agent.id}
        return {"session_type": SessionType.AGENT, "agent_id": self.agent.id}

    def _filters(self, query: Query, user_id: str | None) -> dict[str, Any]:
        filters = query.filters()
        if user_id is not None:
            filters["user_id"] = user_id
        filters.update(self._owner())
        return filters

    # ------------------------------------------------------------------ reads

    def sessions(self, query: Query, user_id: str | None) -> SessionPage:
        """One page of sessions, by last activity (never loads runs)."""
        return self.store.list_sessions(
            **self._filters(query, user_id),
            order_by=query.order_by,
            limit=query.limit,
            cursor=query.cursor,
        )

    def count(self, query: Query, user_id: str | None) -> int:
        """How many sessions match, over every page."""
        return self.store.count_sessions(**self._filters(query, user_id))

    def info(self, session_id: str, user_id: str | None) -> SessionInfo:
        """One session's summary; a missing one (or one the caller may not see) is an error."""
        info = self.store.get_session_info(session_id, user_id=user_id)
        if info is None or not self._owns(info):
            raise SessionNotFoundError(session_id, user_id)
        return info

    def _owns(self, info: SessionInfo) -> bool:
        owner = self._owner()
        return all(getattr(info, key) == value for key, value in owner.items() if value)

    def transcript(
        self, session_id: str, user_id: str | None, *, last_n_runs: int, before_run: str | None
    ) -> Session:
        """The last ``last_n_runs`` runs stored before ``before_run`` (or the newest ones)."""
        self.info(session_id, user_id)
        session = self.store.get_session(
            session_id, user_id=user_id, last_n_runs=last_n_runs, before_run=before_run
        )
        if session is None:
            raise SessionNotFoundError(session_id, user_id)
        return session

    def run(self, session_id: str, run_id: str, user_id: str | None) -> Run:
        """One stored run, with its requirements."""
        self.info(session_id, user_id)
        run = self.store.get_run(session_id, run_id, user_id=user_id)
        if run is None:
            raise RunNotFoundError(session_id, run_id, user_id)
        return run

    def paused_runs(self, info: SessionInfo) -> list[Run]:
        """The session's paused runs, oldest first: the last few runs are read, and the
        whole session only when a paused run is older than those."""
        if info.paused_runs == 0:
            return []
        for window in (PAUSED_WINDOW, None):
            session = self.store.get_session(
                info.session_id, user_id=info.user_id, last_n_runs=window
            )
            runs = [] if session is None else [r for r in session.runs if r.is_paused]
            if len(runs) >= info.paused_runs or window is None:
                return runs
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ writes

    def _acting_user(self, session_id: str, user_id: str | None) -> str | None:
        """Who a write acts as: the caller's user, else (an operator) the session's owner."""
        return self.info(session_id, user_id).user_id if user_id is None else user_id

    def rename(self, session_id: str, name: object, user_id: str | None) -> SessionInfo:
        """Name a session, through the naming guardrails (recorded as manual)."""
        user = self._acting_user(session_id, user_id)
        if not isinstance(name, str):
            raise InvalidInputError(f"the name must be a string, got {type(name).__name__}")
        if self.agent is not None:
            return self.agent.set_session_name(session_id, name, user_id=user).info
        from sessionary.naming.pipeline import default_policy
        from sessionary.naming.service import rename_session
        from sessionary.plugins.manager import get_plugin_host

        return rename_session(
            self.store,
            session_id,
            name,
            user_id=user,
            pipeline=default_policy().resolve(),
            events=get_plugin_host().hook,
        )

    def autoname(self, session_id: str, user_id: str | None) -> SessionInfo:
        """Have the naming model (or, failing it, the fallbacks) name the session."""
        user = self._acting_user(session_id, user_id)
        if self.agent is not None:
            return self.agent.set_session_name(session_id, autogenerate=True, user_id=user).info
        from sessionary.naming.pipeline import default_policy
        from sessionary.naming.service import autoname_session
        from sessionary.plugins.manager import get_plugin_host

        outcome = autoname_session(
            self.store,
            session_id,
            user_id=user,
            model=self.naming_model,
            pipeline=default_policy().resolve(),
            events=get_plugin_host().hook,
        )
        return outcome.session.info

    def delete(self, session_id: str, user_id: str | None) -> bool:
        """Delete a session and its runs."""
        user = self._acting_user(session_id, user_id)
        if not self.store.delete_session(session_id, user_id=user):
            raise SessionNotFoundError(session_id, user_id)
        return True

    def continue_run(
        self, session_id: str, run_id: str, answers: object, user_id: str | None
    ) -> Run:
        """Answer a paused run's requirements and continue it with the agent.

        Two callers continuing one run: one wins, the other gets
        :class:`~sessionary.errors.RunAlreadyContinuedError` and nothing ran for it.
        """
        if self.agent is None:
            raise InvalidInputError(READ_ONLY_REASON)
        user = self._acting_user(session_id, user_id)
        stored = self.agent.get_run_output(run_id, session_id, user_id=user)
        if stored is None:
            raise RunNotFoundError(session_id, run_id, user_id)
        answered_before = {r.id for r in stored.requirements if r.is_resolved}
        given = (
            {a.get("id") for a in answers if isinstance(a, Mapping)}
            if isinstance(answers, list)
            else set()
        )
        if stored.status is not RunStatus.PAUSED or given & answered_before:
            # Someone continued it first (another tab, another operator): say so plainly.
            raise RunAlreadyContinuedError(
                session_id, run_id, stored.status.value, ": someone continued it first"
            )
        answered = answer(stored.active_requirements, answers)
        return self.agent.continue_run(run_id, session_id, requirements=answered, user_id=user)


def answer(requirements: Sequence[Requirement], answers: object) -> list[Requirement]:
    """Apply ``answers`` (``[{"id", "action", ...}]``) to the requirements; checked first.

    ``action`` is ``confirm``, ``reject`` (with an optional ``note``), ``input`` (with
    ``values``, a mapping of the tool's user input fields) or ``result`` (with the
    external execution's ``result``).
    """
    if not isinstance(answers, list) or not all(isinstance(a, Mapping) for a in answers):
        raise InvalidInputError('"answers" must be a list of objects with "id" and "action"')
    by_id = {r.id: r for r in requirements}
    done: list[Requirement] = []
    for given in answers:
        rid, action = given.get("id"), given.get("action")
        requirement = by_id.get(rid) if isinstance(rid, str) else None
        if requirement is None:
            raise InvalidInputError(f"no unanswered requirement {rid!r} in this run")
        if action == "confirm":
            requirement.confirm()
        elif action == "reject":
            note = given.get("note") or None
            requirement.reject(note)
        elif action == "input":
            requirement.provide_user_input(given.get("values") or {})
        elif action == "result":
            requirement.set_external_execution_result(given.get("result"))
        else:
            raise InvalidInputError(
                f"requirement {rid!r}: action must be confirm, reject, input or result, "
                f"got {action!r}"
            )
        done.append(requirement)
    return done
