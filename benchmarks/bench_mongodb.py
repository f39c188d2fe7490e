"""MongoDB adapter cost as a session grows, measured ON MONGOMOCK (not a MongoDB server).

No MongoDB server can be had on the machines this project runs on, so this benchmark
runs ``sessionary_mongodb.MongoDb`` on mongomock, wrapped by
``server_like_mongomock`` (``tests/support/mongodb_support.py``) which counts every collection
operation and the documents it read and wrote. What it measures is the adapter's own
work, which does not depend on the server:

- operations, documents read and documents written by one ``append_run`` and by one
  ``Agent.get_chat_history(last_n_runs=20)``, at sessions of 10, 100, 1,000 and 3,000 runs:
  they must stay constant as the session grows;
- bytes per run: the BSON size of one run document (a two-message chat run, and a run
  with a system prompt, tool calls, a tool result and a pending requirement), and of
  the session document, which holds no runs and so does not grow;

- side by side, when agno 3.1.10 is installed in the benchmark's environment: documents
  read and written by one ``Agent.run`` (a scripted model that answers at once, no
  history in context) and one ``get_chat_history(last_n_runs=20)`` with sessionary's
  ``MongoDb`` and with agno's ``MongoDb``, both on the same counting mongomock wrapper,
  at sessions of 10, 100 and 1,000 runs.

No times are reported: mongomock scans every document of a collection for each query
(it has no real indexes), so its timings grow with the collection and say nothing
about a server's latency.

Run it from the repository root:

    python3 -m uv run --with mongomock python benchmarks/bench_mongodb.py
    python3 -m uv run --with mongomock --with agno==3.1.10 python benchmarks/bench_mongodb.py

(the second adds the agno columns; agno is no dependency of any package).

It prints Markdown tables and writes ``benchmarks/out/bench_mongodb.json``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import bson

sys.path.insert(0, str(Path(__file__).parent))
# The server-like mongomock and its operation log are test helpers, shipped in no wheel.
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "support"))

from common import machine, print_table, save_results
from mongodb_support import server_like_mongomock
from sessionary_mongodb import MongoDb
from sessionary_mongodb.documents import run_doc

from sessionary import Agent
from sessionary.codec import dump_run
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run, rich_run

#: ``--quick`` checks the pipeline with short sessions; the numbers need the full lengths.
QUICK = "--quick" in sys.argv
LENGTHS = (10, 100) if QUICK else (10, 100, 1_000, 3_000)
AGENT_LENGTHS = (10, 100) if QUICK else (10, 100, 1_000)
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
    return len(bson.encode(run_doc(run, dump_run(run), "0" * 32, 1)))


def _agno_available() -> bool:
    try:
        return version("agno") == "3.1.10"
    except PackageNotFoundError:
        return False


def _agno_agent(client: Any) -> Any:
    """An agno Agent on agno's MongoDb over ``client``, with a model that answers at once."""
    agent_cls = importlib.import_module("agno.agent").Agent
    mongo_cls = importlib.import_module("agno.db.mongo").MongoDb
    base = importlib.import_module("agno.models.base").Model
    response = importlib.import_module("agno.models.response").ModelResponse

    @dataclass
    class InstantModel(base):  # type: ignore[misc, valid-type]
        id: str = "instant"
        name: str = "instant"
        provider: str = "bench"

        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            return response(role="assistant", content="ok")

        async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
            return response(role="assistant", content="ok")

        def invoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield response(role="assistant", content="ok")

        async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield response(role="assistant", content="ok")

        def _parse_provider_response(self, result: Any, **kwargs: Any) -> Any:
            return result

        def _parse_provider_response_delta(self, result: Any) -> Any:
            return result

    return agent_cls(model=InstantModel(), db=mongo_cls(db_client=client, db_name="agno"))


def _agent_costs(label: str, agent: Any, log: Any) -> list[dict[str, Any]]:
    """Documents per Agent.run and per get_chat_history(last_n_runs=20) as the session grows."""
    results = []
    done = 0
    for length in AGENT_LENGTHS:
        while done < length:
            agent.run(f"message {done}", session_id=SESSION, user_id=USER)
            done += 1
        log.clear()
        agent.run("one more", session_id=SESSION, user_id=USER)
        run = dict(log.total())
        done += 1
        log.clear()
        history = agent.get_chat_history(session_id=SESSION, last_n_runs=20)
        results.append(
            {
                "framework": label,
                "runs_in_session": length,
                "agent_run": run,
                "chat_history_last_20": dict(log.total()),
                "history_messages": len(history),
            }
        )
    return results


def _side_by_side() -> list[dict[str, Any]]:
    ours_client = server_like_mongomock()
    ours = Agent(model=ScriptedModel(), db=MongoDb(client=ours_client, db_name="side"))
    results = _agent_costs("sessionary", ours, ours_client.log)
    if _agno_available():
        agno_client = server_like_mongomock()
        results += _agent_costs("agno 3.1.10", _agno_agent(agno_client), agno_client.log)
    rows = [
        [
            r["framework"],
            f"{r['runs_in_session']:,}",
            f"{r['agent_run']['operations']} / {r['agent_run']['read']} / "
            f"{r['agent_run']['written']}",
            f"{r['chat_history_last_20']['operations']} / {r['chat_history_last_20']['read']}",
        ]
        for r in results
    ]
    print_table(
        "Agent.run and get_chat_history(last_n_runs=20), documents (mongomock)",
        [
            "framework",
            "runs in session",
            "Agent.run: ops / docs read / docs written",
            "get_chat_history(last_n_runs=20): ops / docs read",
        ],
        rows,
    )
    if not _agno_available():
        print("\n(agno 3.1.10 is not installed here: no agno rows; see the module docstring)")
    return results


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
    side = _side_by_side()
    path = save_results(
        "bench_mongodb",
        {
            "backend": "mongomock (server_like_mongomock), not a MongoDB server",
            "lengths": results,
            "agent_side_by_side": side,
            "run_document_bytes": {"chat_run": chat, "rich_run": rich},
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
