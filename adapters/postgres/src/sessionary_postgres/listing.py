"""Listing and counting sessions on PostgreSQL, written once for the sync and async stores.

A listing is one indexed range per page: ``ORDER BY <key> DESC, session_id DESC`` on the
index of the order (``active_at``, ``updated_at`` or ``created_at``, each also per user,
agent and team; see :mod:`sessionary_postgres.schema`), the cursor a row comparison on
the same pair, and every filter a ``WHERE`` clause on the sessions table. A count is one
``SELECT count(*)`` with the same clauses. Neither reads a run.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import CorruptRecordError
from sessionary.storage.base import ListFilters
from sessionary_postgres.rows import SESSION_COLUMNS, session_row
from sessionary_postgres.sql import Reply, Sql

__all__ = ["ListingOperations"]

Op = Generator[Sql, Reply, Any]


class ListingOperations:
    """The listing reads of :class:`~sessionary_postgres.operations.PostgresOperations`."""

    if TYPE_CHECKING:

        def _read(
            self, query: str, params: tuple[Any, ...], order: str | None = None
        ) -> Generator[Sql, Reply, list[tuple[Any, ...]]]: ...

    def _list_op(self, filters: ListFilters, limit: int, after: tuple[float, str] | None) -> Op:
        clauses, params = _where(filters)
        key = _ORDER_KEYS[filters.order_by]
        order = f"{key} DESC, session_id DESC"  # an index of the schema walks it
        infos: list[SessionInfo] = []
        position = after
        wanted = limit + 1  # one row ahead: is there a next page?
        while True:
            where = list(clauses)
            values = list(params)
            if position is not None:
                where.append(f"({key}, session_id) < (%s, %s)")
                values += [position[0], position[1]]
            query = (
                f"SELECT {SESSION_COLUMNS}, {key} AS sort_key FROM sessionary_sessions "
                + (f"WHERE {' AND '.join(where)} " if where else "")
                + f"ORDER BY {order} LIMIT %s"
            )
            rows = yield from self._read(
                query, (*values, wanted), order="sort_key DESC, session_id DESC"
            )
            for row in rows:
                position = (row[-1], row[0])
                try:
                    infos.append(session_row(row[:-1]).info)
                except CorruptRecordError:
                    continue  # one bad record must not hide every other session
            if len(infos) > limit or len(rows) < wanted:
                break
            wanted = limit + 1 - len(infos)
        page = infos[:limit]
        more = len(infos) > limit
        cursor = filters.cursor_after(page[-1]) if more else None
        return SessionPage(items=tuple(page), next_cursor=cursor)

    def _count_op(self, filters: ListFilters) -> Op:
        clauses, params = _where(filters)
        query = "SELECT count(*) FROM sessionary_sessions" + (
            f" WHERE {' AND '.join(clauses)}" if clauses else ""
        )
        rows = yield from self._read(query, tuple(params))
        return int(rows[0][0]) if rows else 0


#: The column each listing order sorts by (``active_at`` is ``COALESCE(last_run_at,
#: created_at)``, stored), each with an index per scope (see :mod:`.schema`).
_ORDER_KEYS = {"last_run_at": "active_at", "updated_at": "updated_at", "created_at": "created_at"}


def _where(filters: ListFilters) -> tuple[list[str], list[Any]]:
    """The ``WHERE`` clauses (ANDed) and their parameters for every filter of a listing."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("user_id", filters.user_id),
        ("agent_id", filters.agent_id),
        ("team_id", filters.team_id),
        ("session_type", filters.session_type.value if filters.session_type else None),
        ("last_run_status", filters.status.value if filters.status else None),
    ):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if filters.name_contains is not None:
        # Folded by Python on both sides, compared literally: % and _ are plain text.
        clauses.append("strpos(name_folded, %s) > 0")
        params.append(filters.name_contains.casefold())
    if filters.has_paused is not None:
        clauses.append("paused_runs > 0" if filters.has_paused else "paused_runs = 0")
    for column, bound, operator in (
        ("last_run_at", filters.active_after, ">="),
        ("last_run_at", filters.active_before, "<"),
        ("created_at", filters.created_after, ">="),
        ("created_at", filters.created_before, "<"),
    ):
        if bound is not None:  # NULL (no run) never compares true: never matches
            clauses.append(f"{column} {operator} %s")
            params.append(bound)
            if column == "last_run_at":  # implied (active_at is last_run_at when set):
                clauses.append(f"active_at {operator} %s")  # the activity index answers it
                params.append(bound)
    return clauses, params
