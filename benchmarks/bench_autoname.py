"""Batch naming: ``sessionary sessions autoname`` over 1,000 sessions, concurrency 8 against 1.

What it measures: the wall time to name 1,000 unnamed sessions of a SQLite file with a
model that takes 100 ms per call (``ScriptedModel(delay=0.1)``), through the same code
the command runs (``find_candidates`` then ``autoname_many`` with the default naming
pipeline: both naming plugins installed), at concurrency 1, 4, 8 and 16. Each
concurrency starts from its own copy of the same unnamed database. The target is
concurrency 8 at least 6 times faster than concurrency 1. The time beyond
``1,000 x 100 ms / concurrency`` is Sessionary's own cost (SQLite reads and
compare-and-set writes, guardrails), reported per session.

The command line itself cannot be given a model with a delay, so the benchmark calls
the functions the command calls; it also runs the real command once (offline
fallbacks, no model) to check the numbers come from the same path.

Side by side, when Agno 3.1.10 is importable (``autoname_agno.py``): Agno has no batch
command, and its documentation says to loop over the sessions calling
``set_session_name(autogenerate=True)``; that loop is timed on the same sessions in
Agno's own SQLite file, one at a time and on 8 threads, with a model that also takes
100 ms per naming call.

Measured on Linux x86_64, 2 cores, Python 3.11.7 (2026-11-25), two runs: concurrency 1
110.91 / 112.68 s, 4 29.02 / 28.23 s, 8 13.83 / 15.15 s (8.02x / 7.44x), 16 7.83 / 8.47 s.
Agno 3.1.10 on the same sessions (second run): 125.22 s one at a time, 20.00 s on 8
threads.

Run it (about two and a half minutes; six with Agno):

    cd /work/main && python3 -m uv sync && .venv/bin/python benchmarks/bench_autoname.py
    cd /work/main && python3 -m uv run --with agno==3.1.10 --with 'sqlalchemy[asyncio]' \
        python benchmarks/bench_autoname.py

Options: ``--sessions N`` (1000), ``--delay SECONDS`` (0.1), ``--concurrency 1,4,8,16``,
``--no-agno``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import autoname_agno
from click.testing import CliRunner
from common import machine, print_table, save_results
from sessionary_cli import main as cli
from sessionary_sqlite import SqliteDb

from sessionary import Agent
from sessionary.naming.batch import autoname_many, find_candidates
from sessionary.naming.pipeline import default_policy
from sessionary.testing import ScriptedModel

TOPICS = (
    "My parcel arrived damaged, I want a refund",
    "How do I reset my password?",
    "Please change the billing address on my invoice",
    "Which plan includes priority support?",
    "Plan a three-day trip to Lisbon in April",
)
NAMES = (
    "Damaged Parcel Refund",
    "Password Reset Help",
    "Invoice Address Change",
    "Priority Support Plans",
    "Lisbon Spring Trip",
)


def build(path: Path, sessions: int) -> None:
    """A SQLite file with ``sessions`` unnamed sessions of one run each."""
    store = SqliteDb(db_file=path, synchronous="normal")
    agent = Agent(model=ScriptedModel(), db=store, id="support")
    for index in range(sessions):
        agent.run(TOPICS[index % len(TOPICS)], session_id=f"s{index:05d}", user_id=f"u{index % 50}")
    store.close()


def name_all(
    path: Path, sessions: int, delay: float, concurrency: int
) -> tuple[float, dict[str, int]]:
    """Seconds to name every session at ``concurrency``, and the count by name source."""
    store = SqliteDb(db_file=path)
    replies = [NAMES[i % len(NAMES)] for i in range(sessions)]
    model = ScriptedModel(*replies, delay=delay)
    pipeline = default_policy().resolve()
    start = time.perf_counter()
    candidates = find_candidates(store)
    report = autoname_many(
        store, candidates, model=model, pipeline=pipeline, concurrency=concurrency
    )
    elapsed = time.perf_counter() - start
    assert not report.failures, report.failures[:3]
    assert sum(report.named.values()) == sessions, report
    assert not find_candidates(store), "some sessions are still unnamed"
    store.close()
    return elapsed, dict(report.named)


def command_check(path: Path, sessions: int) -> float:
    """The real command once, offline fallbacks, concurrency 8: seconds, and it names all."""
    start = time.perf_counter()
    result = CliRunner().invoke(
        cli, ["sessions", "autoname", "--db", f"sqlite:///{path}", "--concurrency", "8"]
    )
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert f"Named {sessions} of {sessions}" in result.stdout, result.stdout
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--no-agno", action="store_true", help="skip the Agno side")
    args = parser.parse_args()
    agno = not args.no_agno and autoname_agno.available()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        build(template, args.sessions)
        results: dict[int, float] = {}
        for concurrency in levels:
            copy = Path(tmp) / f"c{concurrency}.db"
            shutil.copy(template, copy)
            elapsed, named = name_all(copy, args.sessions, args.delay, concurrency)
            results[concurrency] = elapsed
            print(f"concurrency {concurrency:>2}: {elapsed:7.2f} s  named by {named}", flush=True)
        offline_copy = Path(tmp) / "offline.db"
        shutil.copy(template, offline_copy)
        offline = command_check(offline_copy, args.sessions)
        agno_results: dict[int, float] = {}
        if agno:
            agno_template = Path(tmp) / "agno-template.db"
            ids = autoname_agno.build(agno_template, TOPICS, args.sessions)
            for workers in (1, 8):
                copy = Path(tmp) / f"agno-{workers}.db"
                autoname_agno.copy_db(agno_template, copy)
                agno_results[workers] = autoname_agno.name_all(copy, ids, args.delay, workers)
                print(f"Agno, {workers} thread(s): {agno_results[workers]:7.2f} s", flush=True)

    base = results.get(1)
    rows = []
    for concurrency, elapsed in results.items():
        ideal = args.sessions * args.delay / concurrency
        overhead_ms = (elapsed - ideal) / args.sessions * 1000 * concurrency
        speedup = f"{base / elapsed:.2f}x" if base else "-"
        rows.append(
            [concurrency, f"{elapsed:.2f} s", f"{ideal:.2f} s", speedup, f"{overhead_ms:.2f} ms"]
        )
    print(f"\n{machine()}; {args.sessions} sessions; model {args.delay * 1000:.0f} ms per call")
    print_table(
        "sessions autoname (SQLite file, default naming pipeline)",
        [
            "concurrency",
            "wall time",
            "model time / concurrency",
            "speed-up vs 1",
            "own cost per session, per worker",
        ],
        rows,
    )
    if agno_results:
        agno_rows = [
            [
                f"Agno {autoname_agno.version()}, set_session_name loop, {w} thread(s)",
                f"{t:.2f} s",
                f"{results[w]:.2f} s" if w in results else "-",
                f"{t / results[w]:.2f}x" if w in results else "-",
            ]
            for w, t in agno_results.items()
        ]
        print_table(
            f"Side by side: the same sessions named with a {args.delay * 1000:.0f} ms model",
            ["Agno", "Agno wall time", "Sessionary, same width", "Sessionary faster by"],
            agno_rows,
        )
    print(f"\nThe command itself, offline fallbacks, concurrency 8: {offline:.2f} s")
    if base and 8 in results:
        verdict = "met" if base / results[8] >= 6 else "NOT met"
        print(f"Target (concurrency 8 >= 6x concurrency 1): {base / results[8]:.2f}x, {verdict}")
    path = save_results(
        "autoname",
        {
            "sessions": args.sessions,
            "delay": args.delay,
            "seconds_by_concurrency": results,
            "offline_command_seconds": offline,
            "agno_seconds_by_threads": agno_results,
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
