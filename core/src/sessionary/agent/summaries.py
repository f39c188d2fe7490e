"""Session summaries for agents and teams: the options, ``get_session_summary``, and the
update made after each stored run, off the caller's path.

:class:`SummaryOptions` is a base of :class:`~sessionary.agent.base.SessionOwner`. The
summary itself is made by :func:`sessionary.summary.summary_flow`. The update is
detached on the owner's background worker (:mod:`sessionary.agent.background`, the one
automatic naming uses: a worker thread under ``run``, a task of the loop under
``arun``), so the caller gets its run as soon as it is stored; a failing summary model
is logged and counted, never raised to the caller. Reading a summary
(``get_session_summary``, or a run with ``add_session_summary_to_context``) first waits
for the updates already scheduled, by any owner, so it sees the summary of the runs
before it; ``wait_for_pending()`` waits for an owner's (scripts that exit right after
a run).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import attrs

from sessionary.agent.background import Background
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SessionInfo, SessionSummary
from sessionary.errors import InvalidInputError
from sessionary.flow import Detach, Flow, InvokeTool, run_async, run_sync
from sessionary.models.base import Model
from sessionary.resolve import resolve_model
from sessionary.summary import SessionSummaryManager, summary_flow
from sessionary.tools import Tool

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store

__all__ = ["SummaryOptions", "wait_for_all", "wait_for_scheduled"]

#: The background workers (one per owner, see :mod:`sessionary.agent.background`) that
#: were given summary updates: reading a summary waits for what they have pending.
_RUNNERS: weakref.WeakSet[Background] = weakref.WeakSet()


def wait_for_all(timeout: float | None = None) -> None:
    """Block until the summary updates scheduled so far, by any owner, are done."""
    for runner in list(_RUNNERS):
        runner.wait(timeout)


#: A tool the flows "call" to wait for the workers: the sync driver calls it in place,
#: ``arun``'s in a worker thread, so the event loop goes on running the pending tasks.
_WAIT = Tool(
    name="wait_for_summaries",
    description="",
    parameters={"type": "object", "properties": {}, "required": []},
    function=lambda: wait_for_all(),
)


def wait_for_scheduled() -> Flow[None]:
    """Wait (as a flow) for the summary updates scheduled so far, if any is pending."""
    if any(runner.stats.pending for runner in list(_RUNNERS)):
        yield InvokeTool(_WAIT, {})


def _manager(value: Any) -> SessionSummaryManager | None:
    if value is None or isinstance(value, SessionSummaryManager):
        return value
    raise InvalidInputError(
        f"session_summary_manager must be a SessionSummaryManager, got {type(value).__name__}"
    )


def _bool(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{attribute.name} must be True or False, got {value!r}")


@attrs.define(eq=False, slots=False)
class SummaryOptions:
    """Session summaries of an agent or a team.

    ``enable_session_summaries=True`` (or a ``session_summary_manager``, as in Agno)
    updates the session's summary after each completed run, in the background;
    ``summary_model`` (or ``session_summary_manager=SessionSummaryManager(model=...)``)
    is the model that writes it, else the owner's.
    ``add_session_summary_to_context=True`` shows the model the summary in the system
    message.
    """

    enable_session_summaries: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    add_session_summary_to_context: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    summary_model: Model | None = attrs.field(default=None, kw_only=True, converter=resolve_model)
    session_summary_manager: SessionSummaryManager | None = attrs.field(
        default=None, kw_only=True, converter=_manager
    )

    if TYPE_CHECKING:
        db: Store
        adb: AsyncStore
        model: Model | None
        _background: Background

        def _session_for_read(self, session_id: str | None, user_id: str | None = None) -> str: ...

        def _user(self, user_id: str | None) -> str | None: ...

    def get_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """The session's summary (``.summary`` is the text), or ``None`` if it has none.

        Waits for this owner's summary updates already scheduled, so a script that asks
        right after a run reads the summary of that run.
        """
        uid = self._user(user_id)
        sid = self._session_for_read(session_id, uid)
        wait_for_all()
        info = self.db.get_session_info(sid, user_id=uid)
        return None if info is None else info.summary

    async def aget_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """:meth:`get_session_summary` for the event loop."""
        uid = self._user(user_id)
        sid = self._session_for_read(session_id, uid)
        await asyncio.to_thread(wait_for_all)
        info = await self.adb.get_session_info(sid, user_id=uid)
        return None if info is None else info.summary

    def create_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """Update the session's summary now, on the caller's path; returns it."""
        return run_sync(self._summary_flow(session_id, user_id), self.db)

    async def acreate_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """:meth:`create_session_summary` for the event loop."""
        return await run_async(self._summary_flow(session_id, user_id), self.adb)

    def _summary_flow(
        self, session_id: str | None, user_id: str | None
    ) -> Flow[SessionSummary | None]:
        manager = self.session_summary_manager or SessionSummaryManager()
        model = manager.model or self.summary_model or self.model
        if model is None:
            raise InvalidInputError("no model for summaries: pass summary_model=... or model=...")
        uid = self._user(user_id)
        sid = self._session_for_read(session_id, uid)
        return summary_flow(manager, model, sid, uid)

    def _summarise_after_run(self, run: Run, info: SessionInfo) -> Flow[None]:
        """Start the summary update of a completed top-level run's session, detached."""
        enabled = self.enable_session_summaries or self.session_summary_manager is not None
        if not enabled or run.status is not RunStatus.COMPLETED or run.parent_run_id is not None:
            return
        _RUNNERS.add(self._background)
        flow = self._summary_flow(info.session_id, info.user_id)
        yield Detach(flow, self._background, f"summary of session {info.session_id!r}")

    def _summary_text(self, info: SessionInfo | None) -> str | None:
        """The summary as the model is shown it, when ``add_session_summary_to_context``."""
        summary = None if info is None else info.summary
        if not self.add_session_summary_to_context or summary is None:
            return None
        return (
            "Here is a summary of your earlier conversation with the user:\n"
            f"<summary_of_previous_interactions>\n{summary.summary}\n"
            "</summary_of_previous_interactions>"
        )
