"""MongoDB adapter cost as a session grows, measured ON MONGOMOCK (not a MongoDB server).

No MongoDB server can be had on the machines this project runs on, so this benchmark
runs ``sessionary_mongodb.MongoDb`` on mongomock, wrapped by
``sessionary_mongodb.testing.server_like_mongomock`` which counts every collection
operation and the documents it read and wrote. What it measures is the adapter's own
work, which does not depend on the server:

- operations, documents read and documents written by one ``append_run`` and by one
  ``Agent.get_chat_history(last_n_runs=20)``, at sessions of 10, 100, 1,000 and 3,000 runs:
  they must stay constant as the session grows;
- bytes per run: the BSON size of one run document (a two-message chat run, and a run
  with a system prompt, tool calls, a tool result and a pending requirement), and of
  the session document, which holds no runs and so does not grow;

No times are reported: mongomock scans every document of a collection for each query
(it has no real indexes), so its timings grow with the collection and say nothing
about a server's latency.

Run it from the repository root:

    python3 -m uv run --with mongomock python benchmarks/bench_mongodb.py

It prints Markdown tables and writes ``benchmarks/out/bench_mongodb.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import bson

sys.path.insert(0, str(Path(__file__).parent))

from common import machine, print_table, save_results
from sessionary_mongodb import MongoDb
from sessionary_mongodb.documents import encode_run_text, run_doc
from sessionary_mongodb.testing import server_like_mongomock

from sessionary import Agent
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run, rich_run

LENGTHS = (10, 100, 1_000, 3_000)
SESSION = "bench-session"
USER = "bench-user"


def _fill(store: MongoDb, target: int) -> None:
    info = store.get_session_info(SESSION)
    have = 0 if info is None else info.run_count
    for index in range(have, target):
        store.append_run(make_run(SESSION, user_id=USER, text=f"message {index}"))


def _counted(store: MongoDb, action: Any) -> dict[str, int]:
    log = store.client.log
    log.clear()
    action()
    return dict(log.total())


def _run_bytes(run: Any) -> int:
    return len(bson.encode(run_doc(run, encode_run_text(run), "0" * 32, 1)))


def main() -> None:
    client = server_like_mongomock()
    store = MongoDb(client=client, db_name="bench")
    agent = Agent(model=ScriptedModel(), db=store)
    rows: list[list[Any]] = []
    results: list[dict[str, Any]] = []
    for length in LENGTHS:
        _fill(store, length)
        append = _counted(store, lambda: store.append_run(make_run(SESSION, user_id=USER)))
        history = _counted(
            store,
            lambda: agent.get_chat_history(session_id=SESSION, user_id=USER, last_n_runs=20),
        )
        session_doc = client["bench"]["sessions"].find_one({"_id": SESSION})
        session_bytes = len(bson.encode(session_doc))
        results.append(
            {
                "runs_in_session": length,
                "append": append,
                "chat_history_last_20": history,
                "session_document_bytes": session_bytes,
            }
        )
        rows.append(
            [
                f"{length:,}",
                f"{append['operations']} / {append['read']} / {append['written']}",
                f"{history['operations']} / {history['read']} / {history['written']}",
                f"{session_bytes:,}",
            ]
        )
    print(f"MongoDB adapter on mongomock (no server). {machine()}")
    print_table(
        "Cost per call as the session grows (mongomock)",
        [
            "runs in session",
            "append_run: ops / docs read / docs written",
            "get_chat_history(last_n_runs=20): ops / docs read / docs written",
            "session document bytes",
        ],
        rows,
    )
    chat, rich = _run_bytes(make_run("s", user_id=USER)), _run_bytes(rich_run("s", USER))
    print_table(
        "Bytes per run document (BSON)",
        ["run", "bytes"],
        [["two-message chat run", f"{chat:,}"], ["tools, system prompt, requirement", f"{rich:,}"]],
    )
    path = save_results(
        "bench_mongodb",
        {
            "backend": "mongomock (server_like_mongomock), not a MongoDB server",
            "lengths": results,
            "run_document_bytes": {"chat_run": chat, "rich_run": rich},
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
