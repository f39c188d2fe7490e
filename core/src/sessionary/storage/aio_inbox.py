"""The inbox reads of :class:`~sessionary.AsyncStore`: listing, counting and history
paging, as coroutines (the sync ones are on :class:`~sessionary.Store`).

Mixins of :class:`~sessionary.storage.aio.AsyncStore` and
:class:`~sessionary.storage.aio.DelegatingAsyncStore`, kept apart so each file stays
small; import them from :mod:`sessionary.storage.aio`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TypeVar

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionPage, SessionType
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.backend import StoreBackend
from sessionary.storage.checks import check_count, check_flag
from sessionary.storage.listing import (
    MAX_LIST_LIMIT,
    ListFilters,
    count_arguments,
    list_arguments,
)

__all__ = ["AsyncInboxMethods", "DelegatingInboxMethods"]

T = TypeVar("T")


class AsyncInboxMethods(abc.ABC):
    """``get_session``, ``list_sessions`` and ``count_sessions`` of an async store."""

    async def get_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        """The session with its runs (the last N with ``last_n_runs``, those before
        ``before_run`` with it), or ``None``; see ``Store.get_session``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n_runs, "last_n_runs")
        check_flag(skip_corrupt, "skip_corrupt")
        validate_optional_id(before_run, "before_run")
        if before_run is not None:
            return await self._get_session(
                session_id, user_id, last_n_runs, skip_corrupt, before_run
            )
        if skip_corrupt:
            return await self._get_session(session_id, user_id, last_n_runs, True)
        return await self._get_session(session_id, user_id, last_n_runs)

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        session_type: SessionType | str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        order_by: str = "last_run_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> SessionPage:
        """One page of sessions, latest activity first; see ``Store.list_sessions``."""
        filters, limit, after = list_arguments(
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            session_type=session_type,
            name_contains=name_contains,
            status=status,
            has_paused=has_paused,
            active_after=active_after,
            active_before=active_before,
            created_after=created_after,
            created_before=created_before,
            order_by=order_by,
            limit=limit,
            cursor=cursor,
        )
        return await self._list_sessions(filters, limit, after)

    async def count_sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        session_type: SessionType | str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        """How many sessions ``list_sessions`` lists with these filters; see
        ``Store.count_sessions``."""
        filters = count_arguments(
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            session_type=session_type,
            name_contains=name_contains,
            status=status,
            has_paused=has_paused,
            active_after=active_after,
            active_before=active_before,
            created_after=created_after,
            created_before=created_before,
        )
        return await self._count_sessions(filters)

    # ------------------------------------------------------------------ backend

    @abc.abstractmethod
    async def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None: ...

    @abc.abstractmethod
    async def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage: ...

    async def _count_sessions(self, filters: ListFilters) -> int:
        """By default, pages through :meth:`_list_sessions` (as ``StoreBackend``'s)."""
        total, after = 0, None
        while True:
            page = await self._list_sessions(filters, MAX_LIST_LIMIT, after)
            total += len(page.items)
            if page.next_cursor is None or not page.items:
                return total
            after = filters.sort_key(page.items[-1])


class DelegatingInboxMethods(AsyncInboxMethods):
    """The inbox reads of a :class:`~sessionary.storage.aio.DelegatingAsyncStore`."""

    @abc.abstractmethod
    async def _run_read(self, call: Callable[[StoreBackend], T]) -> T: ...

    async def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        if before_run is not None:
            return await self._run_read(
                lambda db: db._get_session(
                    session_id, user_id, last_n_runs, skip_corrupt, before_run
                )
            )
        if skip_corrupt:
            return await self._run_read(
                lambda db: db._get_session(session_id, user_id, last_n_runs, True)
            )
        return await self._run_read(lambda db: db._get_session(session_id, user_id, last_n_runs))

    async def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return await self._run_read(lambda db: db._list_sessions(filters, limit, after))

    async def _count_sessions(self, filters: ListFilters) -> int:
        return await self._run_read(lambda db: db._count_sessions(filters))
