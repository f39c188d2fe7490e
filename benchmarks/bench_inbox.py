"""The inbox at 100,000 sessions: the first page, the approval queue, the count.

Run from the repository root:

    .venv/bin/python benchmarks/bench_inbox.py                      # SQLite, a temp file
    .venv/bin/python benchmarks/bench_inbox.py --db redis://127.0.0.1:6379/0

``--sessions N`` (default 100,000) sessions of ``--users U`` (default 1,000) users are
imported (one or two runs each, 1% with a paused run that the user went past: the
approval queue), their activity spread over 90 days. On SQLite the file is loaded with
``synchronous=normal`` (loading is not measured) and measured with the default store.
With ``--db`` the sessions are written under the users ``inbox-bench-*`` and erased at
the end (``--keep`` keeps them).

Each read is timed ``--repeat`` times (default 50) after a warm-up; the median and p95
are reported. None of them loads a run: the listing and the count read the session
summaries (from the indexes of a store that has them).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import machine, measure, ms, print_table, save_results

from sessionary import open_db
from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.storage.base import Store
from sessionary.testing.storage_data import make_run

DAY = 86400.0


def _populate(store: Store, sessions: int, users: int, seed: int = 19) -> float:
    """Import the sessions; returns the time the newest activity is near (now)."""
    rng = random.Random(seed)
    now = time.time()
    began = time.perf_counter()
    for n in range(sessions):
        session_id = f"inbox-{n:06d}"
        user = f"inbox-bench-{n % users:04d}"
        created = now - rng.uniform(1, 90) * DAY
        active = created + rng.uniform(0, now - created)
        waiting = rng.random() < 0.01  # a paused run, then the user sent another message
        statuses = [RunStatus.PAUSED, RunStatus.COMPLETED] if waiting else [RunStatus.COMPLETED]
        runs = [
            make_run(session_id, user_id=user, agent_id="support", status=status, created_at=at)
            for status, at in zip(statuses, (active - 60.0, active)[-len(statuses) :], strict=True)
        ]
        info = SessionInfo(
            session_id=session_id, user_id=user, agent_id="support", created_at=created
        )
        store.import_session(Session.from_info(info, runs))
        if (n + 1) % 10_000 == 0:
            rate = (n + 1) / (time.perf_counter() - began)
            print(f"  loaded {n + 1:,} sessions ({rate:,.0f}/s)", flush=True)
    return now


def _open(args: argparse.Namespace, folder: Path) -> tuple[Store, Store, str]:
    """The store to load and the store to measure (the same one except on SQLite)."""
    if args.db:
        store = open_db(args.db)
        return store, store, args.db
    from sessionary_sqlite import SqliteDb

    path = folder / "inbox.db"
    loader = SqliteDb(db_file=path, synchronous="normal")
    return loader, SqliteDb(db_file=path), f"sqlite (a file, {path.name})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="Store URL (default: a SQLite file in a temp folder).")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="Keep the sessions written.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        loader, store, where = _open(args, Path(folder))
        print(f"loading {args.sessions:,} sessions of {args.users:,} users into {where}")
        now = _populate(loader, args.sessions, args.users)
        if loader is not store:
            loader.close()
        user = "inbox-bench-0007"
        first = store.list_sessions(limit=50)
        second_cursor = first.next_cursor
        reads: list[tuple[str, Callable[[], Any]]] = [
            ("first page, everyone (50, by activity)", lambda: store.list_sessions(limit=50)),
            ("first page, one user (50 of 100)", lambda: store.list_sessions(user_id=user)),
            (
                "second page, everyone (cursor)",
                lambda: store.list_sessions(limit=50, cursor=second_cursor),
            ),
            (
                "approval queue, first page (has_paused)",
                lambda: store.list_sessions(has_paused=True),
            ),
            (
                "approval queue, one user",
                lambda: store.list_sessions(user_id=user, has_paused=True),
            ),
            ("count, everyone", lambda: store.count_sessions()),
            ("count, one user", lambda: store.count_sessions(user_id=user)),
            ("count, approval queue", lambda: store.count_sessions(has_paused=True)),
            (
                "count, active in the last 24 h",
                lambda: store.count_sessions(active_after=now - DAY),
            ),
            (
                "first page by creation (order_by=created_at)",
                lambda: store.list_sessions(order_by="created_at"),
            ),
        ]
        checks = {
            "count": store.count_sessions(),
            "queue": store.count_sessions(has_paused=True),
            "user": store.count_sessions(user_id=user),
        }
        print(f"counted: {checks}")
        rows: list[list[Any]] = []
        results: dict[str, Any] = {}
        for label, call in reads:
            stats = measure(call, repeat=args.repeat, warmup=3)
            rows.append([label, ms(stats.median), ms(stats.p95)])
            results[label] = stats.as_dict()
        title = f"The inbox at {args.sessions:,} sessions, {where} ({machine()})"
        print_table(title, ["read", "median", "p95"], rows)
        save_results(
            "inbox",
            {
                "store": where,
                "sessions": args.sessions,
                "users": args.users,
                **checks,
                "reads": results,
            },
        )
        if args.db and not args.keep:
            for n in range(args.users):
                store.erase_user(f"inbox-bench-{n:04d}")
        store.close()


if __name__ == "__main__":
    main()
