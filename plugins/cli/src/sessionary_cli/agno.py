"""Read sessions of Agno's ``SqliteDb`` or ``PostgresDb`` (2.x and 3.x) as Sessionary sessions.

Agno 2.x keeps each session's runs as a JSON list in the ``runs`` column of its sessions
table (often JSON-encoded twice); Agno 3.x keeps one row per run in a runs table
(``agno_runs``), ordered by ``run_index``, and may still carry an un-migrated legacy
``runs`` column. Both layouts are read the same way from either database (SQLite with
the standard library, PostgreSQL with psycopg): no Agno install needed.

What is kept: session, user, agent and team IDs, the session name
(``session_data.session_name``, recorded with the name source ``agno-import``), session
state and metadata, timestamps, and every run with every message (system, user,
assistant with its tool calls, tool results), content, status and token metrics.
Messages Agno copied into a run from history (``from_history``) are not duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Run, RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import InvalidInputError
from sessionary.storage.base import new_session_info, summary_after_append
from sessionary_cli.agno_sources import AgnoImportError, Source, open_source

__all__ = ["NAME_SOURCE", "AgnoImportError", "read_agno"]

#: ``name_source`` of names carried over from Agno.
NAME_SOURCE = "agno-import"

_STATUS = {
    "completed": RunStatus.COMPLETED,
    "running": RunStatus.RUNNING,
    "pending": RunStatus.RUNNING,
    "paused": RunStatus.PAUSED,
    "error": RunStatus.ERROR,
    "cancelled": RunStatus.CANCELLED,
}
_ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "tool": Role.TOOL,
}


def _json(value: Any) -> Any:
    """Agno stores JSON columns as JSON text, sometimes encoded twice."""
    for _ in range(3):
        if not isinstance(value, (str, bytes)):
            return value
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # multimodal content: keep the text parts, else the JSON
        parts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        if texts and len(texts) == len(parts):
            return "\n".join(texts)
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: Any, default: float = 0.0) -> float:
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _tool_call(data: dict[str, Any]) -> ToolCall:
    function = data.get("function") or {}
    raw = function.get("arguments", data.get("arguments"))
    arguments = _json(raw) if isinstance(raw, str) else raw
    return ToolCall(
        id=str(data.get("id") or ""),
        name=str(function.get("name") or data.get("name") or ""),
        arguments=arguments if isinstance(arguments, dict) else {},
        raw_arguments=None if isinstance(arguments, dict) else (None if raw is None else str(raw)),
    )


def _message(data: dict[str, Any], fallback_time: float) -> Message | None:
    role = _ROLES.get(str(data.get("role", "")).lower())
    if role is None or data.get("from_history"):
        return None
    metadata: dict[str, Any] = {}
    if data.get("id"):
        metadata["agno_message_id"] = data["id"]
    provider = data.get("provider_data")
    if isinstance(provider, dict) and isinstance(provider.get("id"), str):
        metadata["response_id"] = provider["id"]
    if role is Role.TOOL and data.get("tool_call_error"):
        metadata["is_error"] = True
    calls = data.get("tool_calls") or []
    call_id = data.get("tool_call_id")
    return Message(
        role=role,
        content=_text(data.get("content")),
        tool_calls=tuple(_tool_call(c) for c in calls if isinstance(c, dict)),
        tool_call_id=call_id if isinstance(call_id, str) else None,
        name=data.get("tool_name") or data.get("name") if role is Role.TOOL else data.get("name"),
        created_at=_number(data.get("created_at"), fallback_time),
        metadata=metadata,
    )


def _run(data: dict[str, Any], session_id: str, user_id: str | None) -> Run:
    created = _number(data.get("created_at"))
    raw_input = data.get("input")
    if isinstance(raw_input, dict) and "input_content" in raw_input:
        raw_input = raw_input["input_content"]
    messages = [
        m
        for m in (_message(d, created) for d in data.get("messages") or [] if isinstance(d, dict))
        if m is not None
    ]
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    status = _STATUS.get(str(data.get("status") or "completed").lower(), RunStatus.COMPLETED)
    return Run(
        run_id=str(data.get("run_id")),
        session_id=session_id,
        user_id=data.get("user_id") or user_id,
        agent_id=data.get("agent_id"),
        team_id=data.get("team_id"),
        parent_run_id=data.get("parent_run_id"),
        status=status,
        input=_text(raw_input),
        messages=tuple(messages),
        content=_text(data.get("content")),
        metrics=RunMetrics(
            input_tokens=_int(metrics.get("input_tokens")),
            output_tokens=_int(metrics.get("output_tokens")),
            duration=_number(metrics.get("duration")),
            model_calls=sum(1 for m in messages if m.role is Role.ASSISTANT),
        ),
        error=_text(data.get("error")) if status is RunStatus.ERROR else None,
        created_at=created,
        updated_at=_number(data.get("updated_at"), created),
        metadata={"agno_status": data.get("status")} if data.get("status") else {},
    )


def read_agno(
    url: str,
    *,
    sessions_table: str = "agno_sessions",
    runs_table: str = "agno_runs",
    schema: str = "ai",
) -> Iterator[Session]:
    """Every agent and team session of an Agno database, as Sessionary sessions.

    ``url`` names Agno's ``SqliteDb`` file (``sqlite:///path/to/agno.db``) or its
    ``PostgresDb`` (``postgresql://...``, also as SQLAlchemy writes it,
    ``postgresql+psycopg://...``), whose tables are in the PostgreSQL ``schema`` (Agno's
    default is ``ai``). Workflow sessions are not sessions of an agent or team and are
    skipped. A session that cannot be read raises :class:`AgnoImportError` naming it.
    """
    for what, name in (("table", sessions_table), ("table", runs_table), ("schema", schema)):
        if not name.replace("_", "").isalnum():
            raise InvalidInputError(f"{what} name {name!r} must be letters, digits and '_'")
    source = open_source(url, schema)
    try:
        tables = source.tables()
        if sessions_table not in tables:
            raise InvalidInputError(
                f"{source.where} has no table {sessions_table!r}: not an Agno database?"
            )
        legacy = "runs" in source.columns(sessions_table)
        has_runs_table = runs_table in tables
        rows = source.rows(
            f"SELECT session_id, session_type, agent_id, team_id, user_id, session_data, "
            f"metadata, created_at, updated_at{', runs' if legacy else ''} "
            f"FROM {source.table(sessions_table)} ORDER BY created_at, session_id"
        )
        for row in rows:
            session_id, kind = row[:2]
            if kind not in ("agent", "team"):
                continue
            try:
                runs = _run_dicts(source, runs_table, session_id) if has_runs_table else []
                yield _session(row, legacy, runs)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise AgnoImportError(
                    f"Agno session {session_id!r} cannot be read: {type(exc).__name__}: {exc}"
                ) from exc
    finally:
        source.close()


def _run_dicts(source: Source, runs_table: str, session_id: str) -> list[Any]:
    return [
        _json(run_data)
        for (run_data,) in source.rows(
            f"SELECT run_data FROM {source.table(runs_table)} WHERE session_id = {source.mark} "
            f"ORDER BY run_index, created_at, {source.row_order}",
            (session_id,),
        )
    ]


def _session(row: tuple[Any, ...], legacy: bool, run_dicts: list[Any]) -> Session:
    session_id, kind, agent_id, team_id, user_id, session_data, metadata, created, updated = row[:9]
    if legacy and not run_dicts:
        blob = _json(row[9])
        if isinstance(blob, list):
            run_dicts = [r for r in blob if isinstance(r, dict)]
    data = _json(session_data)
    data = data if isinstance(data, dict) else {}
    meta = _json(metadata)
    session_type = SessionType.TEAM if kind == "team" else SessionType.AGENT
    runs = [_run(d, session_id, user_id) for d in run_dicts if isinstance(d, dict)]
    now = _number(created)
    info = attrs.evolve(
        new_session_info(
            Run(
                run_id="-",
                session_id=session_id,
                user_id=user_id,
                agent_id=agent_id,
                team_id=team_id,
            ),
            session_type,
            now,
        ),
        agent_id=None if session_type is SessionType.TEAM else agent_id,
        team_id=team_id if session_type is SessionType.TEAM else None,
    )
    for run in runs:
        info = summary_after_append(info, run, max(now, run.created_at))
    name = data.get("session_name")
    state = data.get("session_state")
    final: SessionInfo = attrs.evolve(
        info,
        name=name if isinstance(name, str) and name else None,
        name_source=NAME_SOURCE if isinstance(name, str) and name else None,
        state=state if isinstance(state, dict) else {},
        metadata=meta if isinstance(meta, dict) else {},
        created_at=now,
        updated_at=_number(updated, now),
        version=len(runs) + 1,
    )
    return Session.from_info(final, runs)
