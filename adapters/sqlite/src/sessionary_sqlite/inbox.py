"""The inbox reads of a SQLite store: listing and counting sessions from the summary
columns and their indexes (never a run row), and the run rows of a history page.

Every filter is a condition on a column of ``sessions``; the order is one of the
indexed expressions (:data:`~sessionary_sqlite.schema.ACTIVITY`, ``updated_at``,
``created_at``) then ``session_id``, both descending, so a page is read from an index
and stops at ``limit + 1`` rows, and a count is one ``count(*)`` over an index.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import CorruptRecordError, RunNotFoundError
from sessionary.storage.listing import ListFilters
from sessionary_sqlite.rows import SESSION_COLUMNS, SessionRow, session_row
from sessionary_sqlite.schema import ACTIVITY

__all__ = ["count", "list_page", "order_expression", "run_rows", "where"]

_ORDER = {"last_run_at": ACTIVITY, "updated_at": "updated_at", "created_at": "created_at"}


def order_expression(filters: ListFilters) -> str:
    """The SQL expression of the listing's order, as the indexes are made on it."""
    return _ORDER[filters.order_by]


def where(filters: ListFilters) -> tuple[list[str], list[Any]]:
    """The conditions (ANDed) and their parameters that select what ``filters`` match."""
    clauses: list[str] = []
    params: list[Any] = []
    for condition, value in (
        ("user_id = ?", filters.user_id),
        ("agent_id = ?", filters.agent_id),
        ("team_id = ?", filters.team_id),
        ("session_type = ?", filters.session_type.value if filters.session_type else None),
        ("last_run_status = ?", filters.status.value if filters.status else None),
        # On the activity expression, so the activity index answers the range; a session
        # without runs (last_run_at NULL) never matches.
        (f"{ACTIVITY} >= ? AND last_run_at IS NOT NULL", filters.active_after),
        (f"{ACTIVITY} < ? AND last_run_at IS NOT NULL", filters.active_before),
        ("created_at >= ?", filters.created_after),
        ("created_at < ?", filters.created_before),
        ("sessionary_name_contains(name, ?)", filters.name_contains),
    ):
        if value is not None:
            clauses.append(condition)
            params.append(value)
    if filters.has_paused is not None:  # as the partial indexes are made: paused_runs > 0
        clauses.append("paused_runs > 0" if filters.has_paused else "paused_runs = 0")
    return clauses, params


def list_page(
    conn: sqlite3.Connection, filters: ListFilters, limit: int, after: tuple[float, str] | None
) -> SessionPage:
    """One page of the listing, after the position ``after``."""
    clauses, params = where(filters)
    order = order_expression(filters)
    if after is not None:
        clauses.append(f"({order} < ? OR ({order} = ? AND session_id < ?))")
        params += [after[0], after[0], after[1]]
    condition = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    sql = (
        f"SELECT {SESSION_COLUMNS} FROM sessions {condition}ORDER BY {order} DESC, session_id DESC"
    )
    infos: list[SessionInfo] = []
    for row in conn.execute(sql, params):
        try:
            infos.append(session_row(row).info)
        except CorruptRecordError:
            continue  # one bad record must not hide every other session
        if len(infos) > limit:
            break
    page = infos[:limit]
    cursor = filters.cursor_after(page[-1]) if len(infos) > limit else None
    return SessionPage(items=tuple(page), next_cursor=cursor)


def count(conn: sqlite3.Connection, filters: ListFilters) -> int:
    """How many sessions ``filters`` match, counted in an index."""
    clauses, params = where(filters)
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    row = conn.execute(f"SELECT count(*) FROM sessions{condition}", params).fetchone()
    return int(row[0])


def run_rows(
    conn: sqlite3.Connection,
    current: SessionRow,
    last_n_runs: int | None,
    before_run: str | None,
    user_id: str | None,
    columns: str = "seq, data, run_id",
) -> list[tuple[Any, ...]]:
    """``(seq, data, run_id)`` (or ``columns``) of the runs a read returns, oldest first:
    the last ``last_n_runs`` (all with ``None``) of those stored before ``before_run``
    (of all with ``None``). A ``before_run`` the session does not hold is
    :class:`~sessionary.errors.RunNotFoundError`."""
    bound = current.last_seq + 1
    if before_run is not None:
        found = conn.execute(
            "SELECT seq FROM runs WHERE session_key = ? AND run_id = ?",
            (current.key, before_run),
        ).fetchone()
        if found is None:
            raise RunNotFoundError(current.info.session_id, before_run, user_id)
        bound = found[0]
    if last_n_runs == 0:
        return []
    if last_n_runs is None:
        return conn.execute(
            f"SELECT {columns} FROM runs WHERE session_key = ? AND seq < ? ORDER BY seq",
            (current.key, bound),
        ).fetchall()
    rows = conn.execute(
        f"SELECT {columns} FROM runs WHERE session_key = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
        (current.key, bound, last_n_runs),
    ).fetchall()
    rows.reverse()
    return rows
