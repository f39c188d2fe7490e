"""A separate process for the PostgreSQL tests: appends runs to one session.

python postgres_worker.py append URL SESSION WORKER COUNT
"""

from __future__ import annotations

import sys

from sessionary_postgres import PostgresDb

from sessionary.testing.storage import make_run


def main(argv: list[str]) -> None:
    mode, url, session_id = argv[:3]
    if mode != "append":
        raise SystemExit(f"unknown mode {mode!r}")
    worker, count = int(argv[3]), int(argv[4])
    with PostgresDb(url, max_size=2) as store:
        for index in range(count):
            store.append_run(
                make_run(
                    session_id,
                    user_id="mp-user",
                    text=f"{worker}:{index}",
                    input_tokens=worker + 1,
                    output_tokens=index % 7,
                )
            )


if __name__ == "__main__":
    main(sys.argv[1:])
