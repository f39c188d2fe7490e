"""Migrating a PostgreSQL database written by the previous release (schema version 1).

The version 1 tables are created here from that release's DDL, kept verbatim, and
filled the way that release wrote rows; then the store must refuse the database until
``migrate()``, and after it every session has ``last_run_at`` (its newest run's
``created_at``, ``None`` without runs) and ``paused_runs`` (exact), and the inbox lists
by activity.
"""

from __future__ import annotations

import psycopg
import pytest
from sessionary_postgres import PostgresDb

from sessionary.codec import dump_json, encode_run
from sessionary.domain.runs import Run, RunStatus
from sessionary.errors import SchemaVersionError
from sessionary.testing.storage_data import make_run

#: The schema of sessionary-postgres before issue 19 (version 1), as it created it.
VERSION_1_DDL = (
    """
    CREATE TABLE sessionary_schema (
        id integer PRIMARY KEY CHECK (id = 1),
        version integer NOT NULL,
        written_by text NOT NULL,
        updated_at double precision NOT NULL
    )
    """,
    """
    CREATE TABLE sessionary_sessions (
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
    CREATE TABLE sessionary_runs (
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
    "CREATE INDEX sessionary_sessions_by_update "
    "ON sessionary_sessions (updated_at DESC, session_id DESC)",
    "CREATE INDEX sessionary_sessions_by_user "
    "ON sessionary_sessions (user_id, updated_at DESC, session_id DESC)",
    "CREATE INDEX sessionary_sessions_by_agent "
    "ON sessionary_sessions (agent_id, updated_at DESC, session_id DESC)",
    "CREATE INDEX sessionary_sessions_by_team "
    "ON sessionary_sessions (team_id, updated_at DESC, session_id DESC)",
    "INSERT INTO sessionary_schema VALUES (1, 1, 'sessionary-postgres 0.1.0', 0)",
)


def _write_v1(
    conn: psycopg.Connection, session_id: str, created: float, updated: float, runs: list[Run]
) -> None:
    """A session row and its run rows as version 1 wrote them."""
    last = runs[-1] if runs else None
    conn.execute(
        "INSERT INTO sessionary_sessions VALUES (%s, 'agent', 'alice', 'agent-1', NULL, NULL, "
        "NULL, NULL, '{}', '{}', %s, %s, %s, %s, %s, %s, NULL, 0, 0)",
        (
            session_id,
            created,
            updated,
            len(runs),
            len(runs),
            len(runs),
            None if last is None else last.status.value,
        ),
    )
    for seq, run in enumerate(runs, start=1):
        conn.execute(
            "INSERT INTO sessionary_runs VALUES (%s, %s, %s, %s, %s, %s, 0, 0)",
            (
                session_id,
                seq,
                run.run_id,
                run.status.value,
                run.version,
                dump_json(encode_run(run)),
            ),
        )


@pytest.fixture
def v1_url(database_url: str) -> str:
    """A database on schema version 1 with three sessions.

    ``quiet`` has runs long ago but was renamed last (the newest ``updated_at``);
    ``busy`` had the newest run, two of its three runs paused; ``empty`` has no runs.
    """
    paused = RunStatus.PAUSED
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in VERSION_1_DDL:
            conn.execute(statement)
        _write_v1(conn, "quiet", 100.0, 900.0, [make_run("quiet", created_at=110.0)])
        _write_v1(
            conn,
            "busy",
            200.0,
            500.0,
            [
                make_run("busy", created_at=210.0, status=paused),
                make_run("busy", created_at=300.0, status=paused),
                make_run("busy", created_at=400.0),
            ],
        )
        _write_v1(conn, "empty", 150.0, 150.0, [])
    return database_url


def test_a_version_1_database_is_refused_until_migrated_then_lists_by_activity(
    v1_url: str,
) -> None:
    with PostgresDb(v1_url) as db:
        status = db.schema_status()
        assert (status.current, status.latest, status.needs_migration) == (1, 2, True)
        with pytest.raises(SchemaVersionError, match="sessionary migrate"):
            db.list_sessions()
        with pytest.raises(SchemaVersionError, match="sessionary migrate"):
            db.append_run(make_run("busy", user_id="alice"))
        assert db.migrate() == ["version 2"]
        assert db.schema_status().needs_migration is False
        infos = {info.session_id: info for info in db.list_sessions().items}
        assert (infos["quiet"].last_run_at, infos["quiet"].paused_runs) == (110.0, 0)
        assert (infos["busy"].last_run_at, infos["busy"].paused_runs) == (400.0, 2)
        assert (infos["empty"].last_run_at, infos["empty"].paused_runs) == (None, 0)
        # By activity: busy's last run (400), empty's creation (150), quiet's run (110).
        assert [i.session_id for i in db.list_sessions().items] == ["busy", "empty", "quiet"]
        by_update = db.list_sessions(order_by="updated_at").items
        assert [i.session_id for i in by_update] == ["quiet", "busy", "empty"]
        assert [i.session_id for i in db.list_sessions(has_paused=True).items] == ["busy"]
        assert db.count_sessions(active_after=100.0) == 2
        assert db.migrate() == []  # once is enough
    with PostgresDb(v1_url) as again:  # a new store sees the new version
        session = again.get_session("busy")
        assert session is not None and session.paused_runs == 2
