"""The PostgreSQL schema: its tables, its version, and the steps that upgrade older ones.

The database records the schema version it holds in the one-row table
``sessionary_schema``. :data:`LATEST` is the version this package writes;
:data:`MIGRATIONS` holds the statements of one step per version, and :data:`FILLS`
names the steps that also compute values in Python (``operations`` runs them).

Version 2 (issue 19) added ``last_run_at`` and ``paused_runs`` to the summary, the
stored column ``active_at`` (``COALESCE(last_run_at, created_at)``, the inbox's
default order) and the indexes that list by activity and by creation.

Tables (all prefixed ``sessionary_``, so they can share a database with others):

* ``sessionary_sessions``: one row per session, with the summary an inbox lists
  (run count, last status, preview, token totals, time of the last run, paused runs)
  and ``last_seq``, the sequence of its last run. ``name_folded`` is the name
  case-folded by Python (``str.casefold``), so name search folds exactly as every
  other store.
* ``sessionary_runs``: one row per run, keyed by ``(session_id, seq)``, unique on
  ``(session_id, run_id)``, the run as the core codec's JSON text.

ID columns use ``COLLATE "C"``: compared and ordered by code point, as every store does.
JSON is kept as ``text``, not ``jsonb``: ``jsonb`` reorders keys and refuses ``\\u0000``.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "CREATE_LATEST",
    "FILLS",
    "INDEXES",
    "LATEST",
    "MIGRATIONS",
    "SCHEMA_LOCK",
]

#: The schema version this package writes.
LATEST = 2
#: The advisory lock key taken while the schema is created or migrated.
SCHEMA_LOCK = 0x5E5510_0A7E


def _indexes() -> tuple[str, ...]:
    """An index per listing order (``ORDER BY <key> DESC, session_id DESC``), for every
    session and per user, agent and team; and one for the approval queue (sessions with
    a paused run, by activity)."""
    made = []
    for suffix, key in (
        ("update", "updated_at"),
        ("activity", "active_at"),
        ("creation", "created_at"),
    ):
        made.append(
            f"CREATE INDEX IF NOT EXISTS sessionary_sessions_by_{suffix} "
            f"ON sessionary_sessions ({key} DESC, session_id DESC)"
        )
        for owner in ("user", "agent", "team"):
            name = owner if suffix == "update" else f"{owner}_{suffix}"
            made.append(
                f"CREATE INDEX IF NOT EXISTS sessionary_sessions_by_{name} "
                f"ON sessionary_sessions ({owner}_id, {key} DESC, session_id DESC)"
            )
    made.append(
        "CREATE INDEX IF NOT EXISTS sessionary_sessions_paused "
        "ON sessionary_sessions (active_at DESC, session_id DESC) WHERE paused_runs > 0"
    )
    return tuple(made)


#: The listing indexes of the latest schema (every statement is ``IF NOT EXISTS``).
INDEXES: tuple[str, ...] = _indexes()

CREATE_LATEST: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS sessionary_schema (
        id integer PRIMARY KEY CHECK (id = 1),
        version integer NOT NULL,
        written_by text NOT NULL,
        updated_at double precision NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sessionary_sessions (
        session_id text COLLATE "C" PRIMARY KEY,
        session_type text NOT NULL,
        user_id text COLLATE "C",
        agent_id text COLLATE "C",
        team_id text COLLATE "C",
        name text,
        name_folded text,
        name_source text,
        state text NOT NULL,
        metadata text NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        version bigint NOT NULL,
        run_count bigint NOT NULL,
        last_seq bigint NOT NULL,
        last_run_status text,
        last_message_preview text,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        last_run_at double precision,
        paused_runs bigint NOT NULL DEFAULT 0,
        active_at double precision GENERATED ALWAYS AS (coalesce(last_run_at, created_at)) STORED
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sessionary_runs (
        session_id text COLLATE "C" NOT NULL
            REFERENCES sessionary_sessions (session_id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        run_id text COLLATE "C" NOT NULL,
        status text NOT NULL,
        version bigint NOT NULL,
        data text NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        PRIMARY KEY (session_id, seq),
        UNIQUE (session_id, run_id)
    )
    """,
    *INDEXES,
)

#: ``MIGRATIONS[n]`` lists the statements that upgrade version ``n - 1`` to ``n``.
MIGRATIONS: dict[int, Callable[[], tuple[str, ...]]] = {
    2: lambda: (
        "ALTER TABLE sessionary_sessions ADD COLUMN IF NOT EXISTS last_run_at double precision",
        "ALTER TABLE sessionary_sessions "
        "ADD COLUMN IF NOT EXISTS paused_runs bigint NOT NULL DEFAULT 0",
        "ALTER TABLE sessionary_sessions ADD COLUMN IF NOT EXISTS active_at double precision "
        "GENERATED ALWAYS AS (coalesce(last_run_at, created_at)) STORED",
        # Exact counts from the runs' status column (no run is decoded for this).
        "UPDATE sessionary_sessions s SET paused_runs = c.n FROM (SELECT session_id, "
        "count(*) AS n FROM sessionary_runs WHERE status = 'paused' GROUP BY session_id) c "
        "WHERE s.session_id = c.session_id",
        *INDEXES,
    ),
}
#: The versions whose step also fills ``last_run_at`` from each session's newest run
#: (its ``created_at`` is in the run's JSON; decoded in Python, like every run).
FILLS: frozenset[int] = frozenset({2})
