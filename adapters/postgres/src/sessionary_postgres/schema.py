"""The PostgreSQL schema: its tables, its version, and the steps that upgrade older ones.

The database records the schema version it holds in the one-row table
``sessionary_schema``. :data:`LATEST` is the version this package writes;
:data:`MIGRATIONS` holds one step per version (none yet: version 1 is the first).

Tables (all prefixed ``sessionary_``, so they can share a database with others):

* ``sessionary_sessions``: one row per session, with the summary an inbox lists
  (run count, last status, preview, token totals) and ``last_seq``, the sequence of
  its last run. ``name_folded`` is the name case-folded by Python (``str.casefold``),
  so name search folds exactly as every other store.
* ``sessionary_runs``: one row per run, keyed by ``(session_id, seq)``, unique on
  ``(session_id, run_id)``, the run as the core codec's JSON text.

ID columns use ``COLLATE "C"``: compared and ordered by code point, as every store does.
JSON is kept as ``text``, not ``jsonb``: ``jsonb`` reorders keys and refuses ``\\u0000``.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "CREATE_LATEST",
    "LATEST",
    "MIGRATIONS",
    "SCHEMA_LOCK",
]

#: The schema version this package writes.
LATEST = 1
#: The advisory lock key taken while the schema is created or migrated.
SCHEMA_LOCK = 0x5E5510_0A7E

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
        output_tokens bigint NOT NULL
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
    "CREATE INDEX IF NOT EXISTS sessionary_sessions_by_update "
    "ON sessionary_sessions (updated_at DESC, session_id DESC)",
    "CREATE INDEX IF NOT EXISTS sessionary_sessions_by_user "
    "ON sessionary_sessions (user_id, updated_at DESC, session_id DESC)",
    "CREATE INDEX IF NOT EXISTS sessionary_sessions_by_agent "
    "ON sessionary_sessions (agent_id, updated_at DESC, session_id DESC)",
    "CREATE INDEX IF NOT EXISTS sessionary_sessions_by_team "
    "ON sessionary_sessions (team_id, updated_at DESC, session_id DESC)",
)

#: ``MIGRATIONS[n]`` lists the statements that upgrade version ``n - 1`` to ``n``.
MIGRATIONS: dict[int, Callable[[], tuple[str, ...]]] = {}
