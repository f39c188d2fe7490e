"""The session reads of agents and teams, for a UI: a session, its summary, its history
page by page, and the owner's inbox with its filters and total.

:class:`SessionReads` is a base of :class:`~sessionary.agent.base.SessionOwner`, so
every agent and team has it. Listing and counting are always scoped to the owner's own
sessions (its ``id`` and session type); the other reads take a session ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sessionary.domain.messages import Message
from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store

__all__ = ["SessionReads"]


class SessionReads:
    """``get_session``, ``get_session_info``, ``get_chat_history``, ``get_messages``,
    ``list_sessions``, ``count_sessions`` and their ``a*`` twins."""

    session_type: ClassVar[SessionType]

    if TYPE_CHECKING:
        id: str | None
        db: Store
        adb: AsyncStore

        def _session_for_read(self, session_id: str | None, user_id: str | None = None) -> str: ...

        def _user(self, user_id: str | None) -> str | None: ...

    # ------------------------------------------------------------------ sync

    def get_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> Session | None:
        """The session with all its runs, or ``None`` if there is none (for that user).

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hi!"), db="memory://")
        >>> _ = agent.run("Hello", session_id="s1")
        >>> [m.content for m in agent.get_session(session_id="s1").get_messages()]
        ['Hello', 'Hi!']
        """
        sid = self._session_for_read(session_id, user_id)
        return self.db.get_session(sid, user_id=self._user(user_id))

    def get_session_info(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionInfo | None:
        """The session's summary without its runs (name, run count, last activity, last
        status, paused runs, preview), one cheap read; ``None`` if there is none (for
        that user).

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hi!"), db="memory://")
        >>> _ = agent.run("Hello", session_id="s1", user_id="alice")
        >>> info = agent.get_session_info("s1", user_id="alice")
        >>> (info.run_count, info.last_run_status.value, info.paused_runs)
        (1, 'completed', 0)
        >>> agent.get_session_info("s1", user_id="bob") is None
        True
        """
        sid = self._session_for_read(session_id, user_id)
        return self.db.get_session_info(sid, user_id=self._user(user_id))

    def get_chat_history(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
        before_run: str | None = None,
    ) -> list[Message]:
        """The user and assistant messages with content, oldest first (empty if no session).

        ``last_n_runs`` keeps the last N runs' messages; with ``before_run`` (a run ID)
        only runs stored before that one count, so a UI pages back through a long
        history: pass the oldest run it shows. An unknown ``before_run`` raises
        :class:`~sessionary.errors.RunNotFoundError`.
        """
        session = self.db.get_session(
            self._session_for_read(session_id, user_id),
            user_id=self._user(user_id),
            last_n_runs=last_n_runs,
            before_run=before_run,
        )
        return [] if session is None else session.get_chat_history()

    def get_messages(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> list[Message]:
        """Every message of every run of the session (empty if no session)."""
        session = self.get_session(session_id, user_id=user_id)
        return [] if session is None else session.get_messages()

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        order_by: str = "last_run_at",
    ) -> SessionPage:
        """This agent's (or team's) sessions, latest activity first, one page at a time.

        The filters and ``order_by`` are :meth:`Store.list_sessions
        <sessionary.Store.list_sessions>`'s: ``has_paused=True`` is the approval queue.
        """
        return self.db.list_sessions(
            **self._filters(
                user_id,
                name_contains=name_contains,
                status=status,
                has_paused=has_paused,
                active_after=active_after,
                active_before=active_before,
                created_after=created_after,
                created_before=created_before,
            ),
            order_by=order_by,
            limit=limit,
            cursor=cursor,
        )

    def count_sessions(
        self,
        *,
        user_id: str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        """How many sessions :meth:`list_sessions` lists with these filters (page N of M).

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hi!"), db="memory://", id="helper")
        >>> for sid in ("a", "b", "c"):
        ...     _ = agent.run("Hello", session_id=sid, user_id="alice")
        >>> agent.count_sessions(user_id="alice"), agent.count_sessions(has_paused=True)
        (3, 0)
        """
        return self.db.count_sessions(
            **self._filters(
                user_id,
                name_contains=name_contains,
                status=status,
                has_paused=has_paused,
                active_after=active_after,
                active_before=active_before,
                created_after=created_after,
                created_before=created_before,
            )
        )

    # ------------------------------------------------------------------ async

    async def aget_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> Session | None:
        """:meth:`get_session` for the event loop."""
        sid = self._session_for_read(session_id, user_id)
        return await self.adb.get_session(sid, user_id=self._user(user_id))

    async def aget_session_info(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> SessionInfo | None:
        """:meth:`get_session_info` for the event loop."""
        sid = self._session_for_read(session_id, user_id)
        return await self.adb.get_session_info(sid, user_id=self._user(user_id))

    async def aget_chat_history(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
        before_run: str | None = None,
    ) -> list[Message]:
        """:meth:`get_chat_history` for the event loop."""
        sid = self._session_for_read(session_id, user_id)
        session = await self.adb.get_session(
            sid, user_id=self._user(user_id), last_n_runs=last_n_runs, before_run=before_run
        )
        return [] if session is None else session.get_chat_history()

    async def aget_messages(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> list[Message]:
        """:meth:`get_messages` for the event loop."""
        session = await self.aget_session(session_id, user_id=user_id)
        return [] if session is None else session.get_messages()

    async def alist_sessions(
        self,
        *,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        order_by: str = "last_run_at",
    ) -> SessionPage:
        """:meth:`list_sessions` for the event loop."""
        return await self.adb.list_sessions(
            **self._filters(
                user_id,
                name_contains=name_contains,
                status=status,
                has_paused=has_paused,
                active_after=active_after,
                active_before=active_before,
                created_after=created_after,
                created_before=created_before,
            ),
            order_by=order_by,
            limit=limit,
            cursor=cursor,
        )

    async def acount_sessions(
        self,
        *,
        user_id: str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        """:meth:`count_sessions` for the event loop."""
        return await self.adb.count_sessions(
            **self._filters(
                user_id,
                name_contains=name_contains,
                status=status,
                has_paused=has_paused,
                active_after=active_after,
                active_before=active_before,
                created_after=created_after,
                created_before=created_before,
            )
        )

    # ------------------------------------------------------------------ scope

    def _filters(self, user_id: str | None, **filters: Any) -> dict[str, Any]:
        """The store's filters: the caller's, this owner's sessions, the user's."""
        return {
            **filters,
            "user_id": self._user(user_id),
            "session_type": self.session_type,
            **self._owner_filter(),
        }

    def _owner_filter(self) -> dict[str, Any]:
        if self.session_type is SessionType.TEAM:
            return {"team_id": self.id}
        return {"agent_id": self.id}
