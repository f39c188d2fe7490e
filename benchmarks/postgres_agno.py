"""The Agno side of ``bench_postgres.py``: the instant model on Agno 3.1.10's ``PostgresDb``.

Agno is imported only here, and only when the benchmark runs in an environment that
has it (the locked ``bench`` group: agno, SQLAlchemy and psycopg); no package of the
project depends on it. The model is the SQLite benchmark's instant model, so both
libraries store the same conversation.
"""

from __future__ import annotations

import importlib
from typing import Any

import psycopg
import sqlite_agno

__all__ = ["SCHEMA", "available", "make_agent", "session_stats", "version"]

#: The PostgreSQL schema Agno's tables go in.
SCHEMA = "agno"


def available() -> bool:
    """Whether Agno's PostgresDb (with SQLAlchemy) can be imported here."""
    try:
        importlib.import_module("agno.db.postgres")
    except ImportError:
        return False
    return True


def version() -> str:
    """Agno's installed version."""
    return sqlite_agno.version()


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as SQLAlchemy names it for psycopg 3."""
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def make_agent(url: str) -> Any:
    """An Agno agent with the instant model on Agno's ``PostgresDb`` (its defaults)."""
    agent_cls = importlib.import_module("agno.agent").Agent
    db_cls = importlib.import_module("agno.db.postgres").PostgresDb
    db = db_cls(db_url=sqlalchemy_url(url), db_schema=SCHEMA)
    return agent_cls(model=sqlite_agno._instant_model_class()(), db=db, telemetry=False)


def session_stats(url: str, session_id: str) -> dict[str, Any]:
    """Runs stored, run order numbers, and the session row's token totals vs its runs'."""
    with psycopg.connect(url) as conn:
        runs, distinct_index, run_tokens = conn.execute(
            f"SELECT count(*), count(DISTINCT run_index), "
            f"coalesce(sum((run_data->'metrics'->>'input_tokens')::bigint), 0) "
            f"+ coalesce(sum((run_data->'metrics'->>'output_tokens')::bigint), 0) "
            f"FROM {SCHEMA}.agno_runs WHERE session_id = %s",
            (session_id,),
        ).fetchone() or (0, 0, 0)
        row = conn.execute(
            f"SELECT session_data FROM {SCHEMA}.agno_sessions WHERE session_id = %s",
            (session_id,),
        ).fetchone()
    session_data = (row[0] if row else None) or {}
    metrics = session_data.get("session_metrics") or {}
    session_tokens = int(metrics.get("input_tokens", 0)) + int(metrics.get("output_tokens", 0))
    return {
        "runs": int(runs),
        "duplicate_order_numbers": int(runs) - int(distinct_index),
        "run_tokens": int(run_tokens),
        "session_tokens": session_tokens,
    }
