"""``sessions list`` as an inbox (filters, order, total) and ``prune --older-than`` by
the last run, on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_sqlite import SqliteDb

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.testing.storage import make_run

DAY = 86400.0
NOW = time.time()


def _session(
    db: SqliteDb, session_id: str, created: float, runs: list[tuple[float, RunStatus]]
) -> None:
    info = SessionInfo(session_id=session_id, user_id="alice", created_at=created)
    stored = [make_run(session_id, user_id="alice", status=s, created_at=at) for at, s in runs]
    db.import_session(Session.from_info(info, stored))


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = SqliteDb(db_file=tmp_path / "inbox.db")
    _session(db, "waiting", NOW - 50 * DAY, [(NOW - 3 * DAY, RunStatus.PAUSED)])
    _session(
        db,
        "went-on",
        NOW - 40 * DAY,
        [(NOW - 40 * DAY, RunStatus.PAUSED), (NOW - 2 * DAY, RunStatus.COMPLETED)],
    )
    _session(db, "idle", NOW - 60 * DAY, [(NOW - 45 * DAY, RunStatus.COMPLETED)])
    _session(db, "empty", NOW - 35 * DAY, [])
    db.update_session("idle", name="Renamed today", name_source="manual")
    db.close()
    return db.url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def listed(url: str, *args: str) -> tuple[list[str], int]:
    code, out, err = run("sessions", "list", "--db", url, "--json", *args)
    assert code == 0, err
    data = json.loads(out)
    return [s["session_id"] for s in data["sessions"]], data["total"]


def test_list_orders_by_activity_and_filters_an_approval_queue(url: str) -> None:
    assert listed(url) == (["went-on", "waiting", "empty", "idle"], 4)
    assert listed(url, "--order-by", "updated_at")[0][0] == "idle"
    assert listed(url, "--order-by", "created_at")[0] == ["empty", "went-on", "waiting", "idle"]
    assert listed(url, "--paused") == (["went-on", "waiting"], 2)
    assert listed(url, "--status", "paused") == (["waiting"], 1)
    assert listed(url, "--paused", "--limit", "1") == (["went-on"], 2)


def test_time_bounds_take_iso_dates_and_epoch_seconds(url: str) -> None:
    week_ago = dt.datetime.fromtimestamp(NOW - 7 * DAY).isoformat(timespec="seconds")
    assert listed(url, "--active-after", week_ago) == (["went-on", "waiting"], 2)
    assert listed(url, "--active-before", str(NOW - 7 * DAY)) == (["idle"], 1)
    utc = dt.datetime.fromtimestamp(NOW - 45 * DAY, dt.timezone.utc).isoformat()
    assert listed(url, "--created-after", utc) == (["went-on", "empty"], 2)
    assert listed(url, "--created-before", str(int(NOW - 45 * DAY))) == (["waiting", "idle"], 2)
    code, _, err = run("sessions", "list", "--db", url, "--active-after", "last tuesday")
    assert code == 2 and "--active-after" in err and "ISO 8601" in err
    code, _, err = run("sessions", "list", "--db", url, "--order-by", "name")
    assert code == 2 and "--order-by" in err


def test_the_table_shows_the_total(url: str) -> None:
    code, out, _ = run("sessions", "list", "--db", url, "--limit", "2")
    assert code == 0
    assert "2 of 4" in out and "more: --cursor" in out
    code, out, _ = run("sessions", "list", "--db", url, "--paused", "--all")
    assert "2 of 2" in out and "more:" not in out


def test_prune_older_than_goes_by_the_last_run_not_by_renames_or_trims(url: str) -> None:
    code, out, _ = run("sessions", "prune", "--db", url, "--keep-last-runs", "1")
    assert code == 0 and "trimmed 1 run(s) from 1 session(s)" in out
    code, out, _ = run("sessions", "prune", "--db", url, "--older-than", "30d", "--json")
    assert code == 0
    report = json.loads(out)
    assert sorted(a["session_id"] for a in report["sessions"]) == ["empty", "idle"]
    assert listed(url)[0] == ["went-on", "waiting"]
