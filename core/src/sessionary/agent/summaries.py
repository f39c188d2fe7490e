"""Session summaries for agents and teams: the options, ``get_session_summary``, and the
update made after each stored run, off the caller's path.

:class:`SummaryOptions` is a base of :class:`~sessionary.agent.base.SessionOwner`. The
summary itself is made by :func:`sessionary.summary.summary_flow`. The update runs on
the process's background worker (one thread, jobs in order, started on first
use), so ``run`` and ``arun`` return as soon as the run is stored; a failing summary
model is logged, never raised to the caller. Reading a summary (``get_session_summary``,
or a run with ``add_session_summary_to_context``) first waits for the updates already
scheduled, so it sees the summary of the runs before it; ``wait_for_summaries()`` waits
for them too (scripts that exit right after a run).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SessionInfo, SessionSummary
from sessionary.errors import InvalidInputError
from sessionary.flow import Flow, InvokeTool, run_async, run_sync
from sessionary.models.base import Model
from sessionary.resolve import resolve_model
from sessionary.summary import SessionSummaryManager, summary_flow
from sessionary.tools import Tool

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store

__all__ = ["BACKGROUND", "Background", "SummaryOptions", "wait_for_scheduled"]

log = logging.getLogger("sessionary.summary")


class Background:
    """Work done after a call returns: one worker thread, jobs in the order given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._futures: list[Future[Any]] = []

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        """Run ``job`` on the worker; a failure is logged, never raised to anyone."""

        def guarded() -> Any:
            try:
                return job()
            except Exception:
                log.warning("background job failed", exc_info=True)
                return None

        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="sessionary-bg")
            self._futures = [f for f in self._futures if not f.done()]
            future = self._executor.submit(guarded)
            self._futures.append(future)
            return future

    def busy(self) -> bool:
        """Whether a job submitted is not done yet."""
        with self._lock:
            return any(not f.done() for f in self._futures)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every job submitted so far."""
        with self._lock:
            pending = list(self._futures)
        for future in pending:
            future.result(timeout=timeout)


#: The one background worker of this process: summary updates, in the order scheduled.
BACKGROUND = Background()

#: A tool the flows "call" to wait for the background worker: the sync driver calls it
#: in place, ``arun``'s in a worker thread, so the event loop never waits on it.
_WAIT = Tool(
    name="wait_for_summaries",
    description="",
    parameters={"type": "object", "properties": {}, "required": []},
    function=lambda: BACKGROUND.wait(),
)


def wait_for_scheduled() -> Flow[None]:
    """Wait (as a flow) for the summary updates scheduled so far, if any."""
    if BACKGROUND.busy():
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

        def _session_for_read(self, session_id: str | None) -> str: ...

        def _user(self, user_id: str | None) -> str | None: ...

    def get_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """The session's summary (``.summary`` is the text), or ``None`` if it has none.

        Waits for this owner's summary updates already scheduled, so a script that asks
        right after a run reads the summary of that run.
        """
        sid, uid = self._session_for_read(session_id), self._user(user_id)
        BACKGROUND.wait()
        info = self.db.get_session_info(sid, user_id=uid)
        return None if info is None else info.summary

    async def aget_session_summary(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionSummary | None:
        """:meth:`get_session_summary` for the event loop."""
        sid, uid = self._session_for_read(session_id), self._user(user_id)
        await asyncio.to_thread(BACKGROUND.wait)
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

    def wait_for_summaries(self, timeout: float | None = None) -> None:
        """Wait until the summary updates scheduled so far are done."""
        BACKGROUND.wait(timeout)

    def _summary_flow(
        self, session_id: str | None, user_id: str | None
    ) -> Flow[SessionSummary | None]:
        manager = self.session_summary_manager or SessionSummaryManager()
        model = manager.model or self.summary_model or self.model
        if model is None:
            raise InvalidInputError("no model for summaries: pass summary_model=... or model=...")
        sid, uid = self._session_for_read(session_id), self._user(user_id)
        return summary_flow(manager, model, sid, uid)

    def _summarise_after_run(self, run: Run, info: SessionInfo) -> None:
        """Schedule the summary update of a completed top-level run's session."""
        enabled = self.enable_session_summaries or self.session_summary_manager is not None
        if not enabled or run.status is not RunStatus.COMPLETED:
            return
        if run.parent_run_id is not None:
            return

        def job() -> SessionSummary | None:
            return run_sync(self._summary_flow(info.session_id, info.user_id), self.db)

        BACKGROUND.submit(job)

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
