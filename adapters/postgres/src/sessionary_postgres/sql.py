"""The requests a PostgreSQL operation yields, and the SQL text they carry.

An operation (see :mod:`sessionary_postgres.operations`) yields :class:`Sql` requests;
the sync and the async store each execute them on a connection of their pool and send
back a :class:`Reply`. Writes yield :data:`BEGIN` and :data:`COMMIT` (or a last statement
with ``commit=True``) themselves; the driver rolls back whatever transaction an
operation leaves open when it fails. A driver sends ``BEGIN`` with the statement after
it, and ``COMMIT`` with the statement before it, in one round trip (psycopg's pipeline
mode): an append is two round trips, not four, and one when the store still knows the
session's row (:data:`APPEND_IF_UNCHANGED`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from sessionary_postgres.rows import SESSION_COLUMNS, SESSION_WIDTH

__all__ = ["BEGIN", "COMMIT", "ROLLBACK", "Reply", "Sql", "with_version"]


@attrs.frozen
class Sql:
    """One statement with its parameters; with ``many``, executed once per parameter row.

    With ``commit``, the transaction commits right after it, in the same round trip.
    """

    query: str
    params: Sequence[Any] = ()
    many: Sequence[Sequence[Any]] | None = None
    commit: bool = False


@attrs.frozen
class Reply:
    """What a statement returned: its rows (empty for none) and how many rows it touched."""

    rows: list[tuple[Any, ...]]
    rowcount: int


BEGIN = Sql("BEGIN")
COMMIT = Sql("COMMIT")
ROLLBACK = Sql("ROLLBACK")

SCHEMA_EXISTS = "SELECT to_regclass('sessionary_schema') IS NOT NULL"
# The same, read through this statement's snapshot (to_regclass may look through an
# older one): whether a caller that held the schema lock before us made the tables.
SCHEMA_MADE = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'sessionary_schema' "
    "AND relnamespace = (SELECT oid FROM pg_catalog.pg_namespace "
    "WHERE nspname = current_schema()))"
)
READ_VERSION = "SELECT version FROM sessionary_schema WHERE id = 1"
WRITE_VERSION = (
    "INSERT INTO sessionary_schema (id, version, written_by, updated_at) "
    "VALUES (1, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
    "written_by = excluded.written_by, updated_at = excluded.updated_at"
)
CREATE_VERSION = (
    "INSERT INTO sessionary_schema (id, version, written_by, updated_at) "
    "VALUES (1, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(%s)"
# Every write reads the schema version inside its transaction, with a lock that a
# migration (which takes FOR UPDATE on that row) waits for, and that waits for it.
LOCK_VERSION = "SELECT version FROM sessionary_schema WHERE id = 1 FOR KEY SHARE"
# The schema version and the session's row, locked for this transaction: one round trip.
LOCK_SESSION = (
    "WITH v AS MATERIALIZED (SELECT version FROM sessionary_schema WHERE id = 1 FOR KEY SHARE), "
    f"s AS MATERIALIZED (SELECT {SESSION_COLUMNS} FROM sessionary_sessions "
    "WHERE session_id = %s FOR UPDATE) "
    "SELECT (SELECT version FROM v), s.* FROM (SELECT 1) AS one LEFT JOIN s ON true"
)
INSERT_SESSION = (
    "INSERT INTO sessionary_sessions (session_id, session_type, user_id, agent_id, team_id, "
    "name, name_folded, name_source, state, metadata, created_at, updated_at, version, "
    "run_count, last_seq, last_run_status, last_message_preview, input_tokens, output_tokens, "
    "last_run_at, paused_runs) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_NEW_SESSION = (
    INSERT_SESSION + f" ON CONFLICT (session_id) DO NOTHING RETURNING {SESSION_COLUMNS}"
)
_RUN_VALUES = "(session_id, seq, run_id, status, version, data, input_tokens, output_tokens)"
INSERT_RUN = f"INSERT INTO sessionary_runs {_RUN_VALUES} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
_SET_SUMMARY = (
    "UPDATE sessionary_sessions SET updated_at = %s, version = %s, run_count = %s, "
    "last_seq = %s, last_run_status = %s, last_message_preview = %s, input_tokens = %s, "
    "output_tokens = %s, state = %s, last_run_at = %s, paused_runs = %s WHERE session_id = %s"
)
UPDATE_SUMMARY = _SET_SUMMARY
# The run row and the summary in one statement (one round trip); the new session row.
APPEND_RUN = f"WITH r AS ({INSERT_RUN}) {_SET_SUMMARY} RETURNING {SESSION_COLUMNS}"
# An append without a lock or a read first: the summary is set only if the session's row
# (every column) and the schema version are still what the store saw last, and the run
# row is inserted only if it was; one statement, its own transaction, one round trip.
# No row back: something changed, and the store appends the locking way.
APPEND_IF_UNCHANGED = (
    "WITH v AS MATERIALIZED (SELECT version FROM sessionary_schema WHERE id = 1 "
    f"FOR KEY SHARE), s AS ({_SET_SUMMARY} AND (SELECT version FROM v) = %s "
    f"AND ({SESSION_COLUMNS}) IS NOT DISTINCT FROM ("
    + ", ".join(["%s"] * SESSION_WIDTH)
    + f") RETURNING {SESSION_COLUMNS}), r AS (INSERT INTO sessionary_runs {_RUN_VALUES} "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s FROM s) SELECT * FROM s"
)
UPDATE_RUN = (
    "WITH r AS (UPDATE sessionary_runs SET status = %s, version = %s, data = %s, "
    "input_tokens = %s, output_tokens = %s WHERE session_id = %s AND seq = %s) "
    f"{_SET_SUMMARY}"
)
FIND_RUN = "SELECT seq, data FROM sessionary_runs WHERE session_id = %s AND run_id = %s"
UPDATE_SESSION = (
    "UPDATE sessionary_sessions SET name = %s, name_folded = %s, name_source = %s, "
    "state = coalesce(%s, state), metadata = coalesce(%s, metadata), updated_at = %s, "
    "version = %s WHERE session_id = %s"
)
DELETE_SESSION = "DELETE FROM sessionary_sessions WHERE session_id = %s"
ERASE_USER = "DELETE FROM sessionary_sessions WHERE user_id = %s"
TRIM_RUNS = (
    "DELETE FROM sessionary_runs WHERE session_id = %s AND seq <= (SELECT seq FROM "
    "sessionary_runs WHERE session_id = %s ORDER BY seq DESC LIMIT 1 OFFSET %s) "
    "RETURNING run_id, status, input_tokens, output_tokens"
)
SELECT_INFO = f"SELECT {SESSION_COLUMNS} FROM sessionary_sessions WHERE session_id = %s"
# The session row and its last runs in one statement: one snapshot, one round trip.
# The session's row comes with seq NULL; each run's with the session columns NULL.
SELECT_SESSION = (
    f"(SELECT {SESSION_COLUMNS}, NULL::bigint AS seq, NULL::text AS data "
    "FROM sessionary_sessions WHERE session_id = %s) UNION ALL "
    "(SELECT " + ", ".join(["NULL"] * 20) + ", seq, data FROM sessionary_runs "
    "WHERE session_id = %s ORDER BY seq DESC LIMIT %s)"
)
# As SELECT_SESSION, the runs stored before a run (``before_run``): the session's row
# carries that run's seq (NULL: the session has no such run) in its seq column.
SELECT_SESSION_BEFORE = (
    f"(SELECT {SESSION_COLUMNS}, (SELECT seq FROM sessionary_runs WHERE session_id = %s "
    "AND run_id = %s) AS seq, NULL::text AS data FROM sessionary_sessions "
    "WHERE session_id = %s) UNION ALL "
    "(SELECT " + ", ".join(["NULL"] * 20) + ", seq, data FROM sessionary_runs "
    "WHERE session_id = %s AND seq < (SELECT seq FROM sessionary_runs WHERE session_id = %s "
    "AND run_id = %s) ORDER BY seq DESC LIMIT %s)"
)
SELECT_RUN = (
    "SELECT s.user_id, r.seq, r.data FROM sessionary_runs r JOIN sessionary_sessions s "
    "ON s.session_id = r.session_id WHERE r.session_id = %s AND r.run_id = %s"
)


def with_version(query: str, order: str | None = None) -> str:
    """``query`` with the schema version as a first column, in one statement.

    The version comes in every row, and in one row of NULLs when ``query`` has none;
    ``order`` orders the rows again (a join need not keep the order of ``query``).
    """
    return (
        "SELECT v.version, q.* FROM (SELECT (SELECT version FROM sessionary_schema "
        f"WHERE id = 1) AS version) AS v LEFT JOIN ({query}) AS q ON true"
        + (f" ORDER BY {order}" if order else "")
    )
