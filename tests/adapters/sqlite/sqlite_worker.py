"""A separate process for the SQLite tests: appends runs, or stops where it is told to.

    python sqlite_worker.py append URL SESSION WORKER COUNT
    python sqlite_worker.py hang-at-commit URL SESSION MARKER_FILE
    python sqlite_worker.py forever URL SESSION

``hang-at-commit`` starts one append and, once the run row and the summary are written
but before ``COMMIT`` runs, writes MARKER_FILE and sleeps until it is killed.
``forever`` appends until it is killed, one run after another.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sessionary_sqlite import SqliteDb

from sessionary.domain.runs import Run
from sessionary.testing.storage import make_run


def _run(session_id: str, worker: int, index: int) -> Run:
    return make_run(
        session_id,
        user_id="mp-user",
        text=f"{worker}:{index}",
        input_tokens=worker + 1,
        output_tokens=index % 7,
    )


def main(argv: list[str]) -> None:
    mode, url, session_id = argv[:3]
    store = SqliteDb(db_url=url)
    if mode == "append":
        worker, count = int(argv[3]), int(argv[4])
        for index in range(count):
            store.append_run(_run(session_id, worker, index))
    elif mode == "hang-at-commit":
        marker = Path(argv[3])
        store.ping()

        def pause_at_commit(statement: str) -> None:
            if statement.strip().upper() == "COMMIT":
                marker.write_text("in the transaction, before COMMIT")
                time.sleep(600)

        with store._lock:
            store._connection().set_trace_callback(pause_at_commit)
        store.append_run(_run(session_id, 9, 0))
    elif mode == "forever":
        index = 0
        while True:
            store.append_run(_run(session_id, 7, index))
            index += 1
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
