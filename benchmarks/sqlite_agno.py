"""The Agno side of ``bench_sqlite.py``: an instant model and Agno's ``SqliteDb``.

Agno is imported only here, and only when the benchmark runs in an environment that
has it (``uv run --with agno==3.1.10 --with 'sqlalchemy[asyncio]'``); no package of
the project depends on it. The instant model answers like Sessionary's
``ScriptedModel`` does once its script runs out: ``"echo: " + <last user message>``,
with tokens counted as words, so both libraries store the same conversation.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["available", "make_agent", "session_stats", "version"]


def available() -> bool:
    """Whether Agno (and SQLAlchemy) can be imported here."""
    try:
        importlib.import_module("agno.db.sqlite")
    except ImportError:
        return False
    return True


def version() -> str:
    """Agno's installed version."""
    from importlib.metadata import version as dist_version

    return dist_version("agno")


def _instant_model_class() -> Any:
    base = importlib.import_module("agno.models.base").Model
    response_cls = importlib.import_module("agno.models.response").ModelResponse
    metrics_cls = importlib.import_module("agno.metrics").MessageMetrics

    def answer(messages: list[Any]) -> Any:
        text = next((m.content for m in reversed(messages) if m.role == "user"), "") or ""
        content = "echo: " + str(text)
        usage = metrics_cls(
            input_tokens=sum(len(str(m.content or "").split()) for m in messages),
            output_tokens=len(content.split()),
        )
        return response_cls(role="assistant", content=content, response_usage=usage)

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    async def ainvoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    def invoke_stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield answer(kwargs["messages"])

    async def ainvoke_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        yield answer(kwargs["messages"])

    def passthrough(self: Any, response: Any, **kwargs: Any) -> Any:
        return response

    namespace = {
        "__annotations__": {"id": str, "name": str, "provider": str},
        "id": "instant",
        "name": "InstantModel",
        "provider": "bench",
        "invoke": invoke,
        "ainvoke": ainvoke,
        "invoke_stream": invoke_stream,
        "ainvoke_stream": ainvoke_stream,
        "_parse_provider_response": passthrough,
        "_parse_provider_response_delta": passthrough,
    }
    return dataclass(type("InstantModel", (base,), namespace))


def make_agent(db_file: str) -> Any:
    """An Agno agent with the instant model on Agno's ``SqliteDb`` (its defaults)."""
    agent_cls = importlib.import_module("agno.agent").Agent
    db_cls = importlib.import_module("agno.db.sqlite").SqliteDb
    return agent_cls(model=_instant_model_class()(), db=db_cls(db_file=db_file), telemetry=False)


def session_stats(db_file: str, session_id: str) -> dict[str, Any]:
    """Runs stored, run order numbers, and the session row's token totals vs its runs'."""
    conn = sqlite3.connect(db_file)
    try:
        runs, distinct_index = conn.execute(
            "SELECT count(*), count(DISTINCT run_index) FROM agno_runs WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        run_tokens = conn.execute(
            "SELECT coalesce(sum(json_extract(run_data, '$.metrics.input_tokens')), 0) "
            "+ coalesce(sum(json_extract(run_data, '$.metrics.output_tokens')), 0) "
            "FROM agno_runs WHERE session_id = ?",
            (session_id,),
        ).fetchone()[0]
        row = conn.execute(
            "SELECT session_data FROM agno_sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
    finally:
        conn.close()
    data = row[0] if row else None
    session_data = json.loads(data) if isinstance(data, str) else (data or {})
    metrics = session_data.get("session_metrics") or {}
    session_tokens = int(metrics.get("input_tokens", 0)) + int(metrics.get("output_tokens", 0))
    return {
        "runs": int(runs),
        "duplicate_order_numbers": int(runs) - int(distinct_index),
        "run_tokens": int(run_tokens),
        "session_tokens": session_tokens,
    }
