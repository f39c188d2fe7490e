"""Many processes on one file: nothing lost, nothing half-written, even when killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb

from sessionary.testing.storage import make_run

WORKER = Path(__file__).with_name("sqlite_worker.py")
pytestmark = pytest.mark.slow


def _start(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE)


def _assert_consistent(path: Path, session_id: str) -> int:
    """The file is sound and the session's summary is exactly the sum of its run rows."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT r.seq FROM runs r JOIN sessions s USING (session_key) "
                "WHERE s.session_id = ? ORDER BY r.seq",
                (session_id,),
            )
        ]
    finally:
        conn.close()
    assert seqs == list(range(1, len(seqs) + 1)), "run order numbers are unique and gap-free"
    with SqliteDb(db_file=path) as db:
        runs = db.get_runs(session_id)
        info = db.get_session_info(session_id)
    assert len(runs) == len(seqs)
    if info is None:
        assert runs == []
        return 0
    assert info.run_count == len(runs)
    assert info.version == len(runs)
    assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
    assert info.output_tokens == sum(r.metrics.output_tokens for r in runs)
    return len(runs)


def test_four_processes_append_250_runs_each_and_lose_none(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    url = SqliteDb(db_file=path).url
    workers = [_start("append", url, "shared", str(w), "250") for w in range(4)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    assert _assert_consistent(path, "shared") == 1000
    with SqliteDb(db_file=path) as db:
        runs = db.get_runs("shared")
        assert runs == db.get_runs("shared")  # a stable order
    assert len({r.run_id for r in runs}) == 1000
    for number in range(4):
        mine = [r.input for r in runs if r.input and r.input.startswith(f"{number}:")]
        assert mine == [f"{number}:{i}" for i in range(250)]


def test_a_process_killed_inside_the_append_transaction_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    db = SqliteDb(db_file=path)
    for index in range(3):
        db.append_run(make_run("s1", user_id="mp-user", text=f"before {index}"))
    before = db.get_session("s1")
    marker = tmp_path / "marker"
    victim = _start("hang-at-commit", db.url, "s1", str(marker))
    try:
        while not marker.exists():
            assert victim.poll() is None, victim.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.01)
        # The victim has inserted its run and updated the summary, and holds the lock.
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert db.get_session("s1") == before  # the half-done run is not there at all
    assert _assert_consistent(path, "s1") == 3
    info = db.append_run(make_run("s1", user_id="mp-user", text="after"))  # the lock is free
    assert info.run_count == 4
    assert _assert_consistent(path, "s1") == 4


def test_processes_killed_at_random_points_leave_the_file_consistent(tmp_path: Path) -> None:
    path = tmp_path / "random.db"
    url = SqliteDb(db_file=path).url
    stored = 0
    for round_ in range(6):
        victim = _start("forever", url, "s1")
        deadline = time.monotonic() + 60
        # Let it write a few runs first (counted, not timed), then kill it mid-stream.
        while _count_runs(path) < stored + 5 + round_ and time.monotonic() < deadline:
            assert victim.poll() is None, victim.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
        now = _assert_consistent(path, "s1")
        assert now > stored
        stored = now


def _count_runs(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not created yet
    finally:
        conn.close()
