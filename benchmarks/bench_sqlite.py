"""SQLite storage: Sessionary's ``SqliteDb`` next to Agno 3.1.10's ``SqliteDb``.

Run from the repository root (Agno is installed in this command's environment only):

    python3 -m uv run --with agno==3.1.10 --with 'sqlalchemy[asyncio]' \\
        python benchmarks/bench_sqlite.py

``--quick`` uses smaller sessions (a smoke test, not the numbers); ``--skip-agno`` runs
our side only; ``--agno-runs N`` caps the length of Agno's long session (default
10,000). Both libraries run the same conversation with an instant model
(``ScriptedModel`` echoing, and the equivalent Agno model in ``sqlite_agno.py``), with
the same user and session IDs, on files in a temporary folder.

What it measures:

1. The cost of ``Agent.run`` at run N of a session, N = 10, 1,000 and 10,000: session
   ``long`` is grown to 10,000 runs and ``n-1000`` to 1,000 in one file, then run 10 of a
   fresh session, the next run of each grown session and a bare transaction are timed
   in turns (100 rounds; 40 for Agno), so disk and machine noise falls on all alike.
   Ours at ``synchronous=FULL`` (the default) and ``NORMAL``; Agno at its default (FULL).
2. The bare SQLite transaction, in the same file at the same durability: ``BEGIN
   IMMEDIATE``, insert the same run row (the same JSON) into the runs table, update one
   summary row, ``COMMIT``, with raw ``sqlite3``; ``Agent.run`` at run 1,000 over it.
3. ``get_chat_history(last_n_runs=20)`` and ``get_session`` on the 10,000-run session,
   warm (median of repeated calls in this process) and from a fresh process (opening the
   store plus the first call, after the imports, median of 10 processes; the imports are
   reported beside it).
4. Bytes the file grows per run as the session grows (file size after a checkpoint that
   folds the WAL in).
5. Four writer processes running 250 runs each in one session: runs lost, duplicated
   run order numbers, and whether the session's token totals equal the sum of its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlite_agno
from common import Stats, machine, measure, ms, print_table, save_results
from sessionary_sqlite import SqliteDb

from sessionary import Agent
from sessionary.testing import ScriptedModel

HERE = Path(__file__).parent
WORKER = HERE / "sqlite_bench_worker.py"
USER = "bench-user"


# --------------------------------------------------------------------------- helpers


def _file_bytes(path: Path) -> int:
    """The file's size once the WAL is folded into it."""
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
    return path.stat().st_size


def _runs_until(run: Any, session_id: str, start: int, stop: int) -> None:
    for index in range(start, stop):
        run(f"message {index}", session_id=session_id, user_id=USER)


def _timed(run: Any, text: str, session_id: str) -> float:
    began = time.perf_counter()
    run(text, session_id=session_id, user_id=USER)
    return time.perf_counter() - began


def grow(run: Any, path: Path, points: list[int]) -> dict[int, int]:
    """Session ``long`` grown to the last point, and one per point (``n-1000``) to it.

    Returns the file's size when ``long`` had 10 runs and each point's number of runs.
    """
    sizes: dict[int, int] = {}
    done = 0
    for point in [10, *sorted(points)]:
        _runs_until(run, "long", done, point)
        done = point
        sizes[point] = _file_bytes(path)
    for point in sorted(points)[:-1]:
        _runs_until(run, f"n-{point}", 0, point)
    return sizes


def interleaved(run: Any, points: list[int], samples: int, bare: Any = None) -> dict[str, Stats]:
    """Time run 10 of a fresh session, the next run of each grown session, and the bare
    transaction, one after the other, ``samples`` times: disk and machine noise hits all
    of them alike, so their ratios hold even on a busy machine."""
    costs: dict[str, list[float]] = {"10": [], "bare": []}
    longest = max(points)
    for point in points:
        costs[str(point)] = []
    for sample in range(samples):
        fresh = f"ten-{sample}"
        _runs_until(run, fresh, 0, 9)
        costs["10"].append(_timed(run, "message 9", fresh))
        for point in points:
            session_id = "long" if point == longest else f"n-{point}"
            costs[str(point)].append(_timed(run, "one more", session_id))
        if bare is not None:
            began = time.perf_counter()
            bare()
            costs["bare"].append(time.perf_counter() - began)
    return {key: Stats(values) for key, values in costs.items() if values}


def bare_transaction(path: Path, synchronous: str) -> Any:
    """BEGIN IMMEDIATE, insert one run row, update one summary row, COMMIT: raw sqlite3.

    The run row is a copy of the last run Agent.run stored (the same JSON); the summary
    row is a session of its own. Returns the transaction as a function to time.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    (data,) = conn.execute(
        "SELECT r.data FROM sessions s JOIN runs r USING (session_key) "
        "WHERE s.session_id = 'long' ORDER BY r.seq DESC LIMIT 1"
    ).fetchone()
    conn.execute(
        "INSERT INTO sessions (session_id, session_type, state, metadata, created_at, "
        "updated_at, version, run_count, last_seq, input_tokens, output_tokens) "
        "VALUES ('bare', 'agent', '{}', '{}', 0, 0, 0, 0, 0, 0, 0)"
    )
    (key,) = conn.execute("SELECT session_key FROM sessions WHERE session_id = 'bare'").fetchone()
    counter = iter(range(1, 10**9))

    def transaction() -> None:
        seq = next(counter)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO runs (session_key, seq, run_id, status, version, data, input_tokens, "
            "output_tokens) VALUES (?, ?, ?, 'completed', 1, ?, 3, 5)",
            (key, seq, f"bare-{seq}", data),
        )
        conn.execute(
            "UPDATE sessions SET updated_at = ?, version = version + 1, run_count = ?, "
            "last_seq = ?, last_run_status = 'completed', last_message_preview = ?, "
            "input_tokens = input_tokens + 3, output_tokens = output_tokens + 5 "
            "WHERE session_key = ?",
            (time.time(), seq, seq, "echo: message", key),
        )
        conn.execute("COMMIT")

    for _ in range(20):
        transaction()
    return transaction


def fresh_reads(kind: str, path: Path, session_id: str, repeat: int = 10) -> dict[str, Stats]:
    imports, calls = [], []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, str(WORKER), "read", kind, str(path), session_id],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        assert result["messages"] == 40, result
        imports.append(result["import_s"])
        calls.append(result["open_and_call_s"])
    return {"import": Stats(imports), "open_and_call": Stats(calls)}


def four_writers(kind: str, path: Path, per_process: int = 250) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                "write",
                kind,
                str(path),
                "shared",
                str(w),
                f"{per_process}",
            ],
            env=env,
            # Agno's writers log their own table-creation races to stdout; keep the
            # report to the measurements (the outcome is read back from the file).
            stdout=subprocess.DEVNULL,
        )
        for w in range(4)
    ]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - began
    expected = 4 * per_process
    if kind == "agno":
        stats = sqlite_agno.session_stats(str(path), "shared")
    else:
        stats = _our_session_stats(path, "shared")
    stats.update(exit_codes=codes, expected=expected, lost=expected - stats["runs"], wall=elapsed)
    return stats


def _our_session_stats(path: Path, session_id: str) -> dict[str, Any]:
    with SqliteDb(db_file=path) as db:
        info = db.get_session_info(session_id)
        runs = db.get_runs(session_id)
    conn = sqlite3.connect(path)
    seqs = [
        r[0]
        for r in conn.execute(
            "SELECT seq FROM runs JOIN sessions USING (session_key) WHERE session_id = ? "
            "ORDER BY seq",
            (session_id,),
        )
    ]
    conn.close()
    run_tokens = sum(r.metrics.input_tokens + r.metrics.output_tokens for r in runs)
    session_tokens = 0 if info is None else info.input_tokens + info.output_tokens
    return {
        "runs": len(runs),
        "duplicate_order_numbers": len(seqs) - len(set(seqs)),
        "gap_free": seqs == list(range(1, len(seqs) + 1)),
        "run_count_matches": info is not None and info.run_count == len(runs),
        "run_tokens": run_tokens,
        "session_tokens": session_tokens,
    }


# --------------------------------------------------------------------------- scenarios


def ours(folder: Path, synchronous: str, points: list[int], samples: int) -> dict[str, Any]:
    path = folder / f"ours-{synchronous}.db"
    db = SqliteDb(db_file=path, synchronous=synchronous)
    agent = Agent(model=ScriptedModel(), db=db)
    result: dict[str, Any] = {"sizes": grow(agent.run, path, points)}
    bare = bare_transaction(path, synchronous)
    result["costs"] = interleaved(agent.run, points, samples, bare)
    if synchronous == "full":
        longest = max(points)
        result["history_warm"] = measure(
            lambda: agent.get_chat_history(session_id="long", last_n_runs=20), repeat=200
        )
        result["session_warm"] = measure(lambda: agent.get_session(session_id="long"), repeat=5)
        result["fresh"] = fresh_reads("ours", path, "long")
        conn = sqlite3.connect(path)
        result["run_json_bytes"] = len(conn.execute("SELECT data FROM runs").fetchone()[0])
        conn.close()
        result["long_runs"] = longest
    db.close()
    return result


def agno(folder: Path, points: list[int], samples: int) -> dict[str, Any]:
    path = folder / "agno.db"
    agent = sqlite_agno.make_agent(str(path))
    result: dict[str, Any] = {"sizes": grow(agent.run, path, points)}
    result["costs"] = interleaved(agent.run, points, samples)
    result["history_warm"] = measure(
        lambda: agent.get_chat_history(session_id="long", last_n_runs=20), repeat=50
    )
    result["session_warm"] = measure(lambda: agent.get_session(session_id="long"), repeat=3)
    result["fresh"] = fresh_reads("agno", path, "long")
    result["long_runs"] = max(points)
    return result


# --------------------------------------------------------------------------- report


def _cost(result: dict[str, Any] | None, n: int | str) -> str:
    if result is None or str(n) not in result["costs"]:
        return "-"
    return ms(result["costs"][str(n)].median)


def _per_run(result: dict[str, Any] | None, start: int, stop: int) -> str:
    if result is None or start not in result["sizes"] or stop not in result["sizes"]:
        return "-"
    grown = result["sizes"][stop] - result["sizes"][start]
    return f"{grown / (stop - start):,.0f} B"


def report(results: dict[str, Any], points: list[int]) -> dict[str, Any]:
    full, normal, theirs = results["full"], results["normal"], results.get("agno")
    big = max(points)
    print(f"machine: {machine()}; sqlite {sqlite3.sqlite_version}")
    if theirs is not None:
        print(f"agno: {sqlite_agno.version()}")
    rows = [
        [f"run {n:,}", _cost(full, n), _cost(normal, n), _cost(theirs, n)] for n in [10, *points]
    ]
    print_table(
        "Agent.run at run N of one session (median of interleaved samples)",
        ["N", "ours, FULL (default)", "ours, NORMAL", "Agno SqliteDb (FULL)"],
        rows,
    )
    ratio = {
        name: result["costs"][str(big)].median / result["costs"]["10"].median
        for name, result in (("full", full), ("normal", normal))
    }
    print(f"\nrun {big:,} / run 10: FULL {ratio['full']:.2f}, NORMAL {ratio['normal']:.2f}")
    at = 1000 if 1000 in points else points[0]
    over = {
        name: result["costs"][str(at)].median / result["costs"]["bare"].median
        for name, result in (("full", full), ("normal", normal))
    }
    print_table(
        f"Agent.run at run {at:,} against a bare transaction (same file, same durability)",
        ["durability", "bare transaction", f"Agent.run at run {at:,}", "ratio"],
        [
            ["FULL", _cost(full, "bare"), _cost(full, at), f"{over['full']:.2f}"],
            ["NORMAL", _cost(normal, "bare"), _cost(normal, at), f"{over['normal']:.2f}"],
        ],
    )
    if theirs is not None and str(at) in theirs["costs"]:
        mine = {"FULL": full, "NORMAL": normal}
        for label, result in mine.items():
            factor = theirs["costs"][str(at)].median / result["costs"][str(at)].median
            print(f"\nat run {at:,}: Agno / ours ({label}) = {factor:.1f}x")
    read_rows = []
    for label, key in (
        ("get_chat_history(last_n_runs=20), warm", "history_warm"),
        ("get_session (all runs), warm", "session_warm"),
    ):
        read_rows.append([label, ms(full[key].median), ms(theirs[key].median) if theirs else "-"])
    for label, key in (("open + first call", "open_and_call"), ("imports", "import")):
        read_rows.append(
            [
                f"get_chat_history(last_n_runs=20), fresh process: {label}",
                ms(full["fresh"][key].median),
                ms(theirs["fresh"][key].median) if theirs else "-",
            ]
        )
    agno_runs = f", Agno's {theirs['long_runs']:,} runs" if theirs else ""
    print_table(
        f"Reads on a {big:,}-run session{agno_runs} (median)", ["read", "ours", "Agno"], read_rows
    )
    pairs = list(zip([10, *points][:-1], [10, *points][1:], strict=True))
    print_table(
        "Bytes added to the file per run",
        ["runs", "ours", "Agno"],
        [[f"{a:,} to {b:,}", _per_run(full, a, b), _per_run(theirs, a, b)] for a, b in pairs],
    )
    print(f"(one of our run records is {full['run_json_bytes']:,} B of JSON)")
    writer_rows = []
    for name, stats in results["writers"].items():
        exact = stats["session_tokens"] == stats["run_tokens"]
        lost_updates = (
            1 - stats["session_tokens"] / stats["run_tokens"] if stats["run_tokens"] else 0
        )
        writer_rows.append(
            [
                name,
                f"{stats['lost']} of {stats['expected']}",
                stats["duplicate_order_numbers"],
                "yes" if exact else f"no ({lost_updates:.0%} of token updates lost)",
                f"{stats['wall']:.1f} s",
            ]
        )
    print_table(
        "4 writer processes x 250 runs, one session",
        ["store", "runs lost", "duplicate order numbers", "summary = sum of runs", "wall"],
        writer_rows,
    )
    return {
        "ratio_last_to_10": ratio,
        "ratio_to_bare": over,
        "writers": results["writers"],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Stats):
        return value.as_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sessions: a smoke test")
    parser.add_argument("--skip-agno", action="store_true", help="our side only")
    parser.add_argument("--agno-runs", type=int, default=10_000, help="Agno's longest session")
    args = parser.parse_args()
    points = [200, 1000] if args.quick else [1000, 10_000]
    with_agno = not args.skip_agno and sqlite_agno.available()
    if not args.skip_agno and not with_agno:
        print("Agno is not installed here: run with `uv run --with agno==3.1.10 ...`")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        folder = Path(tmp)
        samples = 30 if args.quick else 100
        results["full"] = ours(folder, "full", points, samples)
        results["normal"] = ours(folder, "normal", points, samples)
        writers = {"ours": four_writers("ours", folder / "writers-ours.db")}
        if with_agno:
            agno_points = [p for p in points if p <= args.agno_runs] or [points[0]]
            results["agno"] = agno(folder, agno_points, min(samples, 40))
            writers["agno"] = four_writers("agno", folder / "writers-agno.db")
        results["writers"] = writers
        summary = report(results, points)
    path = save_results(
        "sqlite",
        {"points": points, "sqlite": sqlite3.sqlite_version, **_plain(results), **summary},
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
