"""The Agno side of ``bench_autoname.py``: Agno 3.1.10 naming the same sessions.

Agno is imported only here, and only when the benchmark runs in an environment that has
it (``uv run --with agno==3.1.10 --with sqlalchemy``); no package of the project depends
on it. Agno has no batch command: its documentation says to loop over the session IDs
and call ``set_session_name(session_id=..., autogenerate=True)`` for each, so that loop
is measured, once as documented (one at a time) and once on a pool of threads of the
same width as Sessionary's. The model answers a naming request with a fixed title after
``delay`` seconds, and any other request at once, as the ``ScriptedModel`` of the
Sessionary side does.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["available", "build", "copy_db", "name_all", "version"]


def available() -> bool:
    """Whether Agno and SQLAlchemy can be imported here."""
    try:
        importlib.import_module("agno.db.sqlite")
    except ImportError:
        return False
    return True


def version() -> str:
    """Agno's installed version."""
    from importlib.metadata import version as dist_version

    return dist_version("agno")


def _model_class(delay: float, title: str) -> Any:
    base = importlib.import_module("agno.models.base").Model
    response_cls = importlib.import_module("agno.models.response").ModelResponse

    def answer(messages: list[Any]) -> Any:
        system = next((m.content for m in messages if m.role == "system"), "") or ""
        if "name for this conversation" in system:
            time.sleep(delay)
            return response_cls(role="assistant", content=title)
        return response_cls(role="assistant", content="Sure, I can help with that.")

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    async def ainvoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    def invoke_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        yield answer(kwargs["messages"])

    async def ainvoke_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        yield answer(kwargs["messages"])

    def passthrough(self: Any, response: Any, **kwargs: Any) -> Any:
        return response

    namespace = {
        "__annotations__": {"id": str, "name": str, "provider": str},
        "id": "slow-namer",
        "name": "SlowNamer",
        "provider": "bench",
        "invoke": invoke,
        "ainvoke": ainvoke,
        "invoke_stream": invoke_stream,
        "ainvoke_stream": ainvoke_stream,
        "_parse_provider_response": passthrough,
        "_parse_provider_response_delta": passthrough,
    }
    return dataclass(type("SlowNamer", (base,), namespace))


def _agent(path: Path, delay: float) -> Any:
    agent_cls = importlib.import_module("agno.agent").Agent
    db_cls = importlib.import_module("agno.db.sqlite").SqliteDb
    model = _model_class(delay, "Damaged Parcel Refund")()
    return agent_cls(model=model, db=db_cls(db_file=str(path)), telemetry=False)


def build(path: Path, topics: Sequence[str], sessions: int) -> list[str]:
    """An Agno SQLite file with ``sessions`` sessions of one run each; their IDs."""
    agent = _agent(path, 0.0)
    ids = [f"s{index:05d}" for index in range(sessions)]
    for index, session_id in enumerate(ids):
        agent.run(topics[index % len(topics)], session_id=session_id, user_id=f"u{index % 50}")
    engine = getattr(agent.db, "db_engine", None)
    if engine is not None:
        engine.dispose()  # closes the connections, so the file is whole and can be copied
    return ids


def copy_db(source: Path, target: Path) -> None:
    """Copy an Agno SQLite file with its WAL side files, if any."""
    for suffix in ("", "-wal", "-shm"):
        side = source.with_name(source.name + suffix)
        if side.exists():
            shutil.copy(side, target.with_name(target.name + suffix))


def name_all(path: Path, ids: Sequence[str], delay: float, workers: int) -> float:
    """Seconds to ``set_session_name(autogenerate=True)`` every session with ``workers``."""
    agent = _agent(path, delay)
    start = time.perf_counter()
    if workers == 1:
        for session_id in ids:
            agent.set_session_name(session_id=session_id, autogenerate=True)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(
                pool.map(
                    lambda session_id: agent.set_session_name(
                        session_id=session_id, autogenerate=True
                    ),
                    ids,
                )
            )
    elapsed = time.perf_counter() - start
    named = sum(1 for sid in ids if agent.get_session_name(session_id=sid))
    assert named == len(ids), f"Agno named {named} of {len(ids)} sessions"
    return elapsed
