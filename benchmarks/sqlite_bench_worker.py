"""A separate process for ``bench_sqlite.py``: a concurrent writer, or a fresh reader.

    python benchmarks/sqlite_bench_worker.py write ours|agno DB_FILE SESSION WORKER COUNT
    python benchmarks/sqlite_bench_worker.py read ours|agno DB_FILE SESSION

``write`` runs the agent COUNT times in SESSION. ``read`` prints, as JSON, how long
the imports took and how long opening the store plus one
``get_chat_history(last_n_runs=20)`` took, in a process that has done nothing else.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

USER = "bench-user"


def _ours(db_file: str) -> Any:
    from sessionary_sqlite import SqliteDb

    from sessionary import Agent
    from sessionary.testing import ScriptedModel

    return Agent, ScriptedModel, SqliteDb


def write(kind: str, db_file: str, session_id: str, worker: int, count: int) -> None:
    if kind == "ours":
        agent_cls, model_cls, db_cls = _ours(db_file)
        agent = agent_cls(model=model_cls(), db=db_cls(db_file=db_file))
    else:
        import sqlite_agno

        agent = sqlite_agno.make_agent(db_file)
    for index in range(count):
        agent.run(f"{worker}:{index}", session_id=session_id, user_id=USER)


def read(kind: str, db_file: str, session_id: str) -> None:
    if kind == "ours":
        agent_cls, _, db_cls = _ours(db_file)
        imported = time.perf_counter()
        agent = agent_cls(db=db_cls(db_file=db_file))
    else:
        import sqlite_agno

        sqlite_agno.available()  # imports agno.db.sqlite and SQLAlchemy
        imported = time.perf_counter()
        agent = sqlite_agno.make_agent(db_file)
    history = agent.get_chat_history(session_id=session_id, last_n_runs=20)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": imported - STARTED,
                "open_and_call_s": done - imported,
                "messages": len(history),
            }
        )
    )


if __name__ == "__main__":
    mode, kind, db_file, session_id = sys.argv[1:5]
    if mode == "write":
        write(kind, db_file, session_id, int(sys.argv[5]), int(sys.argv[6]))
    else:
        read(kind, db_file, session_id)
