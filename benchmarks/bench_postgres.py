"""PostgreSQL storage: Sessionary's ``PostgresDb`` next to Agno 3.1.10's ``PostgresDb``.

Run from the repository root, in the locked ``bench`` environment (``nox -s bench``), or:

    uv run --group bench python benchmarks/bench_postgres.py

against the server at ``SESSIONARY_POSTGRES_URL`` (``postgresql://postgres@127.0.0.1:5432/
postgres`` by default; each side gets a database of its own, dropped afterwards).
``--quick`` uses smaller sessions (a smoke test, not the numbers); ``--skip-agno`` runs
our side only; ``--agno-runs N`` caps the length of Agno's long session (default 1,000:
Agno rewrites its session row on every run, so growing it further takes long). Both
libraries run the same conversation with an instant model.

What it measures:

1. ``Agent.run`` at run N of a session, N = 10, 1,000 and 10,000: session ``long`` is
   grown to 10,000 runs and ``n-1000`` to 1,000 (Agno's to ``--agno-runs``), then run
   10 of a fresh session, the next run of each grown session, the bare transaction and
   the floor are timed in turns, ours and Agno's in the same rounds (100 rounds; Agno
   in 40 of them, spread evenly), so server and machine noise falls on all alike.
2. The bare transaction, on the same server with raw psycopg: ``BEGIN``, insert the same
   run row (the same JSON) into the runs table, update one summary row, ``COMMIT``.
3. The floor: one round trip (``SELECT 1``) and one durable commit (an autocommit
   ``INSERT`` of one integer), what any write costs on this server and disk.
4. ``get_chat_history(last_n_runs=20)`` on the longest session, warm.
5. Four writer processes running 250 runs each in one session: runs lost, duplicated
   run order numbers, and whether the session's token totals equal the sum of its runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import postgres_agno
import psycopg
from bench_sqlite import _timed
from common import Stats, machine, measure, ms, print_table, save_results
from psycopg import sql
from sessionary_postgres import PostgresDb

from sessionary import Agent
from sessionary.testing import ScriptedModel

HERE = Path(__file__).parent
USER = "bench-user"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def temporary_database(server: str) -> Iterator[str]:
    """A new, empty database on the server (dropped on exit); its URL."""
    name = f"sessionary_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path="/" + name))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _runs_until(run: Any, session_id: str, start: int, stop: int) -> None:
    for index in range(start, stop):
        run(f"message {index}", session_id=session_id, user_id=USER)


def grow(run: Any, points: list[int]) -> None:
    """Session ``long`` grown to the last point, and one per other point (``n-1000``)."""
    _runs_until(run, "long", 0, max(points))
    for point in sorted(points)[:-1]:
        _runs_until(run, f"n-{point}", 0, point)


def bare_transaction(url: str) -> Any:
    """BEGIN, insert one run row, update one summary row, COMMIT: raw psycopg.

    The run row is a copy of the last run Agent.run stored (the same JSON), in a session
    row of its own. Returns the transaction as a function to time.
    """
    conn = psycopg.connect(url, autocommit=True)
    row = conn.execute(
        "SELECT data FROM sessionary_runs WHERE session_id = 'long' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    data = row[0]
    conn.execute(
        "INSERT INTO sessionary_sessions (session_id, session_type, state, metadata, "
        "created_at, updated_at, version, run_count, last_seq, input_tokens, output_tokens) "
        "VALUES ('bare', 'agent', '{}', '{}', 0, 0, 0, 0, 0, 0, 0)"
    )
    counter = iter(range(1, 10**9))

    def transaction() -> None:
        seq = next(counter)
        with conn.transaction():
            conn.execute(
                "INSERT INTO sessionary_runs (session_id, seq, run_id, status, version, data, "
                "input_tokens, output_tokens) VALUES ('bare', %s, %s, 'completed', 1, %s, 3, 5)",
                (seq, f"bare-{seq}", data),
            )
            conn.execute(
                "UPDATE sessionary_sessions SET updated_at = %s, version = version + 1, "
                "run_count = %s, last_seq = %s, last_run_status = 'completed', "
                "last_message_preview = %s, input_tokens = input_tokens + 3, "
                "output_tokens = output_tokens + 5 WHERE session_id = 'bare'",
                (time.time(), seq, seq, "echo: message"),
            )

    for _ in range(20):
        transaction()
    return transaction


def _write(kind: str, url: str, worker: int, count: int) -> None:
    if kind == "agno":
        agent = postgres_agno.make_agent(url)
    else:
        agent = Agent(model=ScriptedModel(), db=PostgresDb(url, max_size=2))
    for index in range(count):
        agent.run(f"{worker}:{index}", session_id="shared", user_id=USER)


def four_writers(kind: str, url: str, per_process: int = 250) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    began = time.perf_counter()
    procs = [context.Process(target=_write, args=(kind, url, w, per_process)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - began
    expected = 4 * per_process
    stats = postgres_agno.session_stats(url, "shared") if kind == "agno" else _ours_stats(url)
    codes = [p.exitcode for p in procs]
    stats.update(exit_codes=codes, expected=expected, lost=expected - stats["runs"], wall=elapsed)
    return stats


def _ours_stats(url: str) -> dict[str, Any]:
    with PostgresDb(url) as db:
        info = db.get_session_info("shared")
        runs = db.get_runs("shared")
    with psycopg.connect(url) as conn:
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT seq FROM sessionary_runs WHERE session_id = 'shared' ORDER BY seq"
            )
        ]
    run_tokens = sum(r.metrics.input_tokens + r.metrics.output_tokens for r in runs)
    return {
        "runs": len(runs),
        "duplicate_order_numbers": len(seqs) - len(set(seqs)),
        "run_tokens": run_tokens,
        "session_tokens": 0 if info is None else info.input_tokens + info.output_tokens,
    }


def floor(url: str) -> dict[str, Any]:
    """A round trip and a durable commit on raw psycopg, as functions to time."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE TABLE bench_floor (x integer)")
    return {
        "round trip": lambda: conn.execute("SELECT 1").fetchall(),
        "commit": lambda: conn.execute("INSERT INTO bench_floor VALUES (1)"),
    }


def _timed_call(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def _round(run: Any, points: list[int], longest: int, sample: int, costs: dict[str, Any]) -> None:
    fresh = f"ten-{sample}"
    _runs_until(run, fresh, 0, 9)
    costs["10"].append(_timed(run, "message 9", fresh))
    for point in points:
        session_id = "long" if point == longest else f"n-{point}"
        costs[str(point)].append(_timed(run, "one more", session_id))


def interleaved_with_agno(
    mine: Any,
    theirs: Any,
    points: list[int],
    agno_points: list[int],
    samples: int,
    agno_samples: int,
    extra: dict[str, Any],
) -> tuple[dict[str, Stats], dict[str, Stats]]:
    """Rounds of ours (and ``extra``: the bare transaction, the floor) with Agno's
    rounds spread evenly among them; the medians of each."""
    ours_costs: dict[str, list[float]] = {k: [] for k in ["10", *map(str, points), *extra]}
    agno_costs: dict[str, list[float]] = {k: [] for k in ["10", *map(str, agno_points)]}
    step = max(1, samples // max(1, agno_samples))
    for sample in range(samples):
        _round(mine, points, max(points), sample, ours_costs)
        for name, fn in extra.items():
            ours_costs[name].append(_timed_call(fn))
        if theirs is not None and sample % step == 0 and sample // step < agno_samples:
            _round(theirs, agno_points, max(agno_points), sample, agno_costs)
    return (
        {k: Stats(v) for k, v in ours_costs.items() if v},
        {k: Stats(v) for k, v in agno_costs.items() if v},
    )


def compare(
    server: str, points: list[int], agno_points: list[int] | None, samples: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both sides grown in databases of their own, then timed in the same rounds."""
    with temporary_database(server) as url, temporary_database(server) as agno_url:
        db = PostgresDb(url)
        agent = Agent(model=ScriptedModel(), db=db)
        grow(agent.run, points)
        theirs_agent = None
        if agno_points is not None:
            theirs_agent = postgres_agno.make_agent(agno_url)
            grow(theirs_agent.run, agno_points)
        extra = {"bare": bare_transaction(url), **floor(url)}
        mine_costs, agno_costs = interleaved_with_agno(
            agent.run,
            None if theirs_agent is None else theirs_agent.run,
            points,
            agno_points or [],
            samples,
            min(samples, 40),
            extra,
        )
        mine: dict[str, Any] = {
            "costs": mine_costs,
            "history_warm": measure(
                lambda: agent.get_chat_history(session_id="long", last_n_runs=20), repeat=200
            ),
            "long_runs": max(points),
        }
        theirs: dict[str, Any] | None = None
        if theirs_agent is not None and agno_points:
            theirs = {
                "costs": agno_costs,
                "history_warm": measure(
                    lambda: theirs_agent.get_chat_history(session_id="long", last_n_runs=20),
                    repeat=50,
                ),
                "long_runs": max(agno_points),
            }
            theirs_agent.db.db_engine.dispose()
        db.close()
    with temporary_database(server) as url:
        mine["writers"] = four_writers("ours", url)
    if theirs is not None:
        with temporary_database(server) as url:
            theirs["writers"] = four_writers("agno", url)
    return mine, theirs


def _cost(result: dict[str, Any] | None, n: int | str) -> str:
    if result is None or str(n) not in result["costs"]:
        return "-"
    return ms(result["costs"][str(n)].median)


def report(mine: dict[str, Any], theirs: dict[str, Any] | None, points: list[int]) -> None:
    with psycopg.connect(os.environ.get("SESSIONARY_POSTGRES_URL", DEFAULT_URL)) as conn:
        server = conn.execute("SHOW server_version").fetchone()
    print(f"machine: {machine()}; PostgreSQL {server[0] if server else '?'} on loopback")
    print(f"load (uptime) before / after: {mine['load'][0]} / {mine['load'][1]}")
    if theirs is not None:
        print(f"agno: {postgres_agno.version()}")
    print_table(
        "Agent.run at run N of one session (median of interleaved samples)",
        ["N", "ours", "Agno PostgresDb"],
        [[f"run {n:,}", _cost(mine, n), _cost(theirs, n)] for n in [10, *points]],
    )
    big = max(points)
    costs = mine["costs"]
    print(f"\nrun {big:,} / run 10: {costs[str(big)].median / costs['10'].median:.2f}")
    at = 1000 if 1000 in points else points[0]
    print(
        f"Agent.run at run {at:,} / bare transaction ({ms(costs['bare'].median)}): "
        f"{costs[str(at)].median / costs['bare'].median:.2f}"
    )
    if theirs is not None:
        for n in ("10", *map(str, points)):
            if n in theirs["costs"]:
                factor = theirs["costs"][n].median / costs[n].median
                print(f"at run {int(n):,}: Agno / ours = {factor:.1f}x")
    print(
        f"floor on this server: a round trip {ms(costs['round trip'].median)}, "
        f"a durable commit {ms(costs['commit'].median)}"
    )
    print_table(
        "get_chat_history(last_n_runs=20), warm (median)",
        ["store", "session length", "time"],
        [
            [name, f"{r['long_runs']:,}", ms(r["history_warm"].median)]
            for name, r in (("ours", mine), ("Agno", theirs))
            if r is not None
        ],
    )
    rows = []
    for name, result in (("ours", mine), ("Agno", theirs)):
        if result is None:
            continue
        stats = result["writers"]
        exact = stats["session_tokens"] == stats["run_tokens"]
        rows.append(
            [
                name,
                f"{stats['lost']} of {stats['expected']}",
                stats["duplicate_order_numbers"],
                "yes" if exact else f"no ({stats['session_tokens']} of {stats['run_tokens']})",
                f"{stats['wall']:.1f} s",
            ]
        )
    print_table(
        "4 writer processes x 250 runs, one session",
        ["store", "runs lost", "duplicate order numbers", "summary = sum of runs", "wall"],
        rows,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Stats):
        return value.as_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _load() -> str:
    """The load averages over 1, 5 and 15 minutes, as ``uptime`` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sessions: a smoke test")
    parser.add_argument("--skip-agno", action="store_true", help="our side only")
    parser.add_argument("--agno-runs", type=int, default=1000, help="Agno's longest session")
    args = parser.parse_args()
    server = os.environ.get("SESSIONARY_POSTGRES_URL", DEFAULT_URL)
    points = [200, 1000] if args.quick else [1000, 10_000]
    samples = 30 if args.quick else 100
    with_agno = not args.skip_agno and postgres_agno.available()
    if not args.skip_agno and not with_agno:
        print("Agno is not installed here: run in the bench environment (nox -s bench)")
    agno_points = None
    if with_agno:
        agno_points = [p for p in points if p <= args.agno_runs] or [points[0]]
    before = _load()
    mine, theirs = compare(server, points, agno_points, samples)
    mine["load"] = (before, _load())
    report(mine, theirs, points)
    path = save_results(
        "postgres", {"points": points, "ours": _plain(mine), "agno": _plain(theirs or {})}
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
