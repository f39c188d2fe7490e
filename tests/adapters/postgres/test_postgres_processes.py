"""Many processes on one session: nothing lost, the sequence gap-free, the summary exact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sessionary_postgres import PostgresDb

WORKER = Path(__file__).with_name("postgres_worker.py")
pytestmark = pytest.mark.slow


def _start(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE)


def test_four_processes_append_250_runs_each_and_lose_none(database_url: str) -> None:
    workers = [_start("append", database_url, "shared", str(w), "250") for w in range(4)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    with psycopg.connect(database_url) as conn:
        seqs = [
            row[0]
            for row in conn.execute(
                "SELECT seq FROM sessionary_runs WHERE session_id = 'shared' ORDER BY seq"
            )
        ]
    assert seqs == list(range(1, 1001)), "run order numbers are unique and gap-free"
    with PostgresDb(database_url) as db:
        runs = db.get_runs("shared")
        info = db.get_session_info("shared")
    assert len({r.run_id for r in runs}) == 1000
    for number in range(4):
        mine = [r.input for r in runs if r.input and r.input.startswith(f"{number}:")]
        assert mine == [f"{number}:{i}" for i in range(250)]
    assert info is not None
    assert (info.run_count, info.version) == (1000, 1000)
    assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
    assert info.output_tokens == sum(r.metrics.output_tokens for r in runs)
