"""Session naming for agents and teams: ``set_session_name`` and ``get_session_name``.

:class:`NamingMixin` is a base of :class:`~sessionary.agent.base.SessionOwner`, so every
agent and team has it. The work is done by :mod:`sessionary.naming.service`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionary.agent.background import Background, BackgroundStats
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidInputError, SessionNotFoundError
from sessionary.flow import DbCall, Detach, Flow, run_async, run_sync
from sessionary.models.base import Model
from sessionary.naming.pipeline import NamingPipeline, NamingPolicy, default_policy
from sessionary.naming.service import autoname_flow, rename_flow

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store

__all__ = ["NamingMixin"]


class NamingMixin:
    """Naming of the sessions of an agent or a team.

    The settings (``naming_model``, ``naming``, ``strict_naming``,
    ``auto_name_after_runs``) are attributes of
    :class:`~sessionary.agent.base.SessionOwner`, checked when it is made.
    """

    if TYPE_CHECKING:
        #: A model used only for naming (a cheaper one, say); else the owner's ``model``.
        naming_model: Model | None
        #: This owner's naming policy; ``None`` uses the global default at naming time.
        naming: NamingPolicy | None
        #: Raise instead of falling back when the model's name is not usable.
        strict_naming: bool
        #: Name an unnamed session automatically after this many completed runs.
        auto_name_after_runs: int | None
        model: Model | None
        db: Store
        adb: AsyncStore

        @property
        def events(self) -> Any: ...

        def _session_for_read(self, session_id: str | None, user_id: str | None = None) -> str: ...

        def _user(self, user_id: str | None) -> str | None: ...

        def _owned_elsewhere(self, session_id: str, user_id: str | None) -> Flow[bool]: ...

        _background: Background

    # ------------------------------------------------------------------ public API

    def set_session_name(
        self,
        session_id: str | None = None,
        session_name: str | None = None,
        *,
        autogenerate: bool = False,
        user_id: str | None = None,
    ) -> Session:
        """Name a session, or with ``autogenerate=True`` have its model name it; returns it.

        A manual name passes the naming guardrails (cleaned, or refused with
        :class:`~sessionary.naming.InvalidNameError` and nothing stored) and is recorded
        with ``name_source="manual"``. ``autogenerate=True`` asks the naming model
        (``naming_model``, else ``model``) for a label from the first few messages; if
        that fails the fallbacks propose, and the name's source is recorded. It does
        not raise for a model failure unless the owner has ``strict_naming=True``.
        A manual rename made while a name is being generated is never overwritten.

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hi!", "Greeting Exchange"), db="memory://")
        >>> _ = agent.run("Hello", session_id="s1")
        >>> agent.set_session_name(session_id="s1", session_name="Product Launch Planning").name
        'Product Launch Planning'
        >>> session = agent.set_session_name(session_id="s1", autogenerate=True)
        >>> (session.name, session.name_source)
        ('Greeting Exchange', 'model')
        """
        return run_sync(self._naming_flow(session_id, session_name, autogenerate, user_id), self.db)

    async def aset_session_name(
        self,
        session_id: str | None = None,
        session_name: str | None = None,
        *,
        autogenerate: bool = False,
        user_id: str | None = None,
    ) -> Session:
        """:meth:`set_session_name` for the event loop; ``autogenerate=True`` awaits the
        naming model's ``arespond`` (a timeout in the policy cancels it)."""
        flow = self._naming_flow(session_id, session_name, autogenerate, user_id)
        return await run_async(flow, self.adb)

    def get_session_name(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> str | None:
        """The session's name (``None`` while unnamed); a missing session is an error.

        Reads the session's summary only, never its runs.
        """
        return run_sync(self._name_of(session_id, user_id), self.db)

    async def aget_session_name(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> str | None:
        """:meth:`get_session_name` for the event loop."""
        return await run_async(self._name_of(session_id, user_id), self.adb)

    def _name_of(self, session_id: str | None, user_id: str | None) -> Flow[str | None]:
        sid = self._session_for_read(session_id, user_id)
        user = self._user(user_id)
        info: SessionInfo | None = yield DbCall.of("get_session_info", sid, user_id=user)
        if info is None:
            raise SessionNotFoundError(sid, user)
        return info.name

    def _naming_flow(
        self,
        session_id: str | None,
        session_name: str | None,
        autogenerate: bool,
        user_id: str | None,
    ) -> Flow[Session]:
        sid = self._session_for_read(session_id, user_id)
        user = self._user(user_id)
        if not isinstance(autogenerate, bool):
            raise InvalidInputError("autogenerate must be a bool")
        if (yield from self._owned_elsewhere(sid, user)):
            raise SessionNotFoundError(sid, user)
        if autogenerate:
            if session_name is not None:
                raise InvalidInputError("pass session_name or autogenerate=True, not both")
            outcome = yield from autoname_flow(
                sid,
                user_id=user,
                model=self._naming_model(),
                pipeline=self._naming_pipeline(),
                strict=self.strict_naming,
                events=self.events,
            )
            return outcome.session
        if session_name is None:
            raise InvalidInputError("pass session_name=..., or autogenerate=True")
        yield from rename_flow(
            sid,
            session_name,
            user_id=user,
            pipeline=self._naming_pipeline(),
            events=self.events,
        )
        session: Session | None = yield DbCall.of("get_session", sid, user_id=user)
        if session is None:  # deleted right after the rename
            raise SessionNotFoundError(sid, user)
        return session

    # ------------------------------------------------------------------ background naming

    def wait_for_pending(self, timeout: float | None = None) -> bool:
        """Wait until the automatic naming started by earlier runs has finished.

        ``auto_name_after_runs`` names a session off the caller's path, after the run
        is stored (a worker thread under ``run``, a task of the loop under ``arun``), so
        a run never waits for the naming model. Call this in tests, and at shutdown, to
        let pending names land. Returns whether nothing is pending (``False`` only when
        ``timeout`` seconds passed first). Under ``arun`` use :meth:`await_pending`.
        """
        return self._background.wait(timeout)

    async def await_pending(self, timeout: float | None = None) -> bool:
        """:meth:`wait_for_pending` for the event loop (the loop goes on meanwhile)."""
        return await self._background.await_idle(timeout)

    @property
    def background_stats(self) -> BackgroundStats:
        """Automatic naming jobs started, succeeded, failed (logged), dropped and pending.

        At most 100 jobs are pending at once; more are dropped (logged on the
        ``sessionary.background`` logger), and the session is tried again after another
        ``auto_name_after_runs`` completed runs.
        """
        return self._background.stats

    # ------------------------------------------------------------------ internals

    def _naming_model(self) -> Model | None:
        return self.naming_model if self.naming_model is not None else self.model

    def _naming_pipeline(self) -> NamingPipeline:
        policy = self.naming if self.naming is not None else default_policy()
        return policy.resolve()

    def _autoname_after_run(self, run: Run, info: SessionInfo) -> Flow[None]:
        """Name an unnamed session once it has ``auto_name_after_runs`` completed runs.

        Called after every stored run. Cheap when there is nothing to do (the summary
        says the session is named, or has too few runs); otherwise the naming is
        started off the caller's path (:mod:`sessionary.agent.background`), so it never
        delays or fails the run. If no name could be decided, it tries again after
        another N completed runs, not after each.
        """
        threshold = self.auto_name_after_runs
        if threshold is None or info.name is not None or info.run_count < threshold:
            return
        if run.status is not RunStatus.COMPLETED or run.parent_run_id is not None:
            return
        what = f"automatic naming of session {info.session_id!r}"
        yield Detach(self._autoname_detached(info, threshold), self._background, what)

    def _autoname_detached(self, info: SessionInfo, threshold: int) -> Flow[None]:
        session: Session | None = yield DbCall.of(
            "get_session", info.session_id, user_id=info.user_id
        )
        if session is None or session.name is not None:
            return
        completed = sum(
            1 for r in session.runs if r.status is RunStatus.COMPLETED and r.parent_run_id is None
        )
        # At N completed runs, and again every N while naming keeps failing (bounded cost).
        if completed < threshold or completed % threshold:
            return
        yield from autoname_flow(
            info.session_id,
            user_id=info.user_id,
            model=self._naming_model(),
            pipeline=self._naming_pipeline(),
            strict=self.strict_naming,
            only_unnamed=True,
            events=self.events,
        )
