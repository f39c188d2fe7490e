"""The SQLite schema: its tables, its version, and the steps that upgrade older files.

A file records the schema version it holds in the one-row table ``sessionary_schema``.
:data:`LATEST` is the version this package writes; :data:`MIGRATIONS` holds one step per
version, each run inside the same write transaction as the version bump, so a
migration is applied whole or not at all, and two processes migrating at once apply
it once.

Version history:

1. Sessions and runs, one row per run, ordered by a per-session sequence.
2. Token totals in the session summary (and on each run row), backfilled from the
   stored runs, and an index for "the sessions of a user by last update".
3. The inbox: ``last_run_at`` (the last run's activity) and ``paused_runs`` in the
   session summary, backfilled from the stored runs, and the indexes that list and
   count by activity, by creation and the sessions with paused runs (see
   :data:`ACTIVITY`).
4. The per-user indexes whose keys move with every run (by last update, by last
   activity) hold only the sessions that have a user (``WHERE user_id IS NOT NULL``):
   an append to a session without one writes two index pages fewer. The listing and
   count of a user's sessions (``user_id = ?``) read them as before.

No released package wrote version 1; it is kept so the migration path is exercised
from the first release on (see ``docs/storage/sqlite.md``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "SCHEMA_TABLE",
    "create_latest",
    "create_version_1",
    "create_version_2",
    "create_version_3",
    "foreign_tables",
    "read_version",
    "write_version",
]

#: The schema version this package writes.
LATEST = 4
#: A session's place in the inbox: its last activity, its creation without runs. The
#: listing queries write it exactly so, so SQLite picks the indexes made on it.
ACTIVITY = "coalesce(last_run_at, created_at)"
SCHEMA_TABLE = "sessionary_schema"

_SCHEMA_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    written_by TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""

# Version 1: the tables without token totals. Columns added later go at the end, so
# a migrated file and a fresh one have the same columns in the same order.
_V1_DDL = (
    """
    CREATE TABLE sessions (
        session_key INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        session_type TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        team_id TEXT,
        name TEXT,
        name_source TEXT,
        state TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        version INTEGER NOT NULL,
        run_count INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_run_status TEXT,
        last_message_preview TEXT
    )
    """,
    """
    CREATE TABLE runs (
        run_key INTEGER PRIMARY KEY,
        session_key INTEGER NOT NULL REFERENCES sessions (session_key) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (session_key, seq),
        UNIQUE (session_key, run_id)
    )
    """,
    "CREATE INDEX sessions_by_update ON sessions (updated_at DESC, session_id DESC)",
)

_V2_STEPS = (
    "ALTER TABLE sessions ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX sessions_by_user ON sessions (user_id, updated_at DESC, session_id DESC)",
)


_V3_STEPS = (
    "ALTER TABLE sessions ADD COLUMN last_run_at REAL",
    "ALTER TABLE sessions ADD COLUMN paused_runs INTEGER NOT NULL DEFAULT 0",
    f"CREATE INDEX sessions_by_activity ON sessions ({ACTIVITY} DESC, session_id DESC)",
    f"CREATE INDEX sessions_by_user_activity ON sessions "
    f"(user_id, {ACTIVITY} DESC, session_id DESC)",
    "CREATE INDEX sessions_by_creation ON sessions (created_at DESC, session_id DESC)",
    "CREATE INDEX sessions_by_user_creation ON sessions "
    "(user_id, created_at DESC, session_id DESC)",
    f"CREATE INDEX sessions_paused ON sessions ({ACTIVITY} DESC, session_id DESC) "
    "WHERE paused_runs > 0",
    f"CREATE INDEX sessions_paused_by_user ON sessions "
    f"(user_id, {ACTIVITY} DESC, session_id DESC) WHERE paused_runs > 0",
)


#: Version 4: the per-user indexes that every append moves leave out the sessions
#: without a user (``user_id = ?`` implies ``user_id IS NOT NULL``, so SQLite still
#: answers a user's listing and count from them).
_V4_STEPS = (
    "DROP INDEX sessions_by_user",
    "CREATE INDEX sessions_by_user ON sessions (user_id, updated_at DESC, session_id DESC) "
    "WHERE user_id IS NOT NULL",
    "DROP INDEX sessions_by_user_activity",
    f"CREATE INDEX sessions_by_user_activity ON sessions "
    f"(user_id, {ACTIVITY} DESC, session_id DESC) WHERE user_id IS NOT NULL",
)


def read_version(conn: sqlite3.Connection) -> int | None:
    """The version the file holds, or ``None`` if it has no Sessionary schema yet."""
    try:
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE} WHERE id = 1").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc).lower():
            return None
        raise
    if row is None or type(row[0]) is not int:
        return 0
    return int(row[0])


def foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables named like ours in a file that has no Sessionary schema table."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('sessions', 'runs')"
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def write_version(conn: sqlite3.Connection, version: int, written_by: str) -> None:
    """Record ``version`` as the file's schema version (inside the caller's transaction)."""
    conn.execute(_SCHEMA_TABLE_DDL)
    conn.execute(
        f"INSERT INTO {SCHEMA_TABLE} (id, version, written_by, updated_at) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
        "written_by = excluded.written_by, updated_at = excluded.updated_at",
        (version, written_by, time.time()),
    )


def create_version_1(conn: sqlite3.Connection, written_by: str) -> None:
    """Create the version 1 tables (for tests of the migration path)."""
    for statement in _V1_DDL:
        conn.execute(statement)
    write_version(conn, 1, written_by)


def create_version_2(conn: sqlite3.Connection, written_by: str) -> None:
    """Create the version 2 tables, as the previous release did (for migration tests)."""
    for statement in (*_V1_DDL, *_V2_STEPS):
        conn.execute(statement)
    write_version(conn, 2, written_by)


def create_version_3(conn: sqlite3.Connection, written_by: str) -> None:
    """Create the version 3 tables, as the previous release did (for migration tests)."""
    for statement in (*_V1_DDL, *_V2_STEPS, *_V3_STEPS):
        conn.execute(statement)
    write_version(conn, 3, written_by)


def create_latest(conn: sqlite3.Connection, written_by: str) -> None:
    """Create the latest tables in an empty file (inside the caller's transaction)."""
    for statement in (*_V1_DDL, *_V2_STEPS, *_V3_STEPS, *_V4_STEPS):
        conn.execute(statement)
    write_version(conn, LATEST, written_by)


def _to_version_2(conn: sqlite3.Connection) -> list[str]:
    for statement in _V2_STEPS:
        conn.execute(statement)
    notes: list[str] = []
    totals: dict[int, list[int]] = {}
    rows = conn.execute(
        "SELECT r.run_key, r.session_key, r.seq, s.session_id, r.data "
        "FROM runs r JOIN sessions s ON s.session_key = r.session_key"
    ).fetchall()
    for run_key, session_key, seq, session_id, data in rows:
        try:
            metrics = json.loads(data)["metrics"]
            tokens_in, tokens_out = int(metrics["input_tokens"]), int(metrics["output_tokens"])
        except (ValueError, TypeError, KeyError) as exc:
            notes.append(
                f"session {session_id!r}: run #{seq} cannot be decoded ({exc!r}); "
                "its tokens count as 0"
            )
            continue
        conn.execute(
            "UPDATE runs SET input_tokens = ?, output_tokens = ? WHERE run_key = ?",
            (tokens_in, tokens_out, run_key),
        )
        pair = totals.setdefault(session_key, [0, 0])
        pair[0] += tokens_in
        pair[1] += tokens_out
    conn.executemany(
        "UPDATE sessions SET input_tokens = ?, output_tokens = ? WHERE session_key = ?",
        [(a, b, key) for key, (a, b) in totals.items()],
    )
    summary = (
        f"version 2: added token totals to {len(totals)} session(s) from {len(rows)} run(s), "
        "and the index of a user's sessions by last update"
    )
    return [summary, *notes]


def _to_version_3(conn: sqlite3.Connection) -> list[str]:
    for statement in _V3_STEPS:
        conn.execute(statement)
    # The run rows carry their status: the paused count is one grouped scan.
    conn.execute(
        "UPDATE sessions SET paused_runs = (SELECT count(*) FROM runs r WHERE "
        "r.session_key = sessions.session_key AND r.status = 'paused')"
    )
    # The newest run's created_at is in its JSON: decode the newest run of each session.
    newest = conn.execute(
        "SELECT s.session_key, s.session_id, s.updated_at, r.seq, r.data FROM sessions s "
        "JOIN runs r ON r.session_key = s.session_key AND r.seq = "
        "(SELECT max(seq) FROM runs WHERE session_key = s.session_key)"
    ).fetchall()
    notes: list[str] = []
    filled: list[tuple[float, int]] = []
    for key, session_id, updated_at, seq, data in newest:
        try:
            created = json.loads(data)["created_at"]
            if isinstance(created, bool) or not isinstance(created, (int, float)):
                raise TypeError(f"created_at is {created!r}")
        except (ValueError, TypeError, KeyError) as exc:
            notes.append(
                f"session {session_id!r}: run #{seq} cannot be decoded ({exc!r}); "
                "its last activity is taken as its last update"
            )
            created = updated_at
        filled.append((float(created), key))
    conn.executemany("UPDATE sessions SET last_run_at = ? WHERE session_key = ?", filled)
    summary = (
        f"version 3: added the last activity and the paused-run count to the sessions "
        f"({len(filled)} with runs), and the indexes of the inbox"
    )
    return [summary, *notes]


def _to_version_4(conn: sqlite3.Connection) -> list[str]:
    for statement in _V4_STEPS:
        conn.execute(statement)
    return [
        "version 4: the per-user indexes by last update and by last activity hold only "
        "the sessions that have a user"
    ]


#: ``MIGRATIONS[n]`` upgrades a file from version ``n - 1`` to ``n``; returns notes.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], list[str]]] = {
    2: _to_version_2,
    3: _to_version_3,
    4: _to_version_4,
}
