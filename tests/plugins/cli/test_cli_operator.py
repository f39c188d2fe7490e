"""Operator commands: rename, delete, erase-user, export, import, prune, doctor."""

from __future__ import annotations

import json
import time
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import open_db
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing.storage import make_run


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    name = f"memory://operator-{request.node.name}"
    store = open_db(name)
    for user, sid, n in (("alice", "a1", 3), ("alice", "a2", 1), ("bob", "b1", 2)):
        for i in range(n):
            store.append_run(make_run(sid, user_id=user, text=f"{sid} {i}", input_tokens=1))
    return name


def test_rename_goes_through_the_guardrails(url: str) -> None:
    code, out, err = run("sessions", "rename", "a1", "Refund  for\norder", "--db", url)
    assert code == 0, err
    info = open_db(url).get_session_info("a1")
    assert info is not None
    assert "\n" not in (info.name or "")
    assert info.name_source == "manual"
    code, _, err = run("sessions", "rename", "a1", "x", "--db", url, "--user", "bob")
    assert code == ExitCode.NOT_FOUND


def test_delete_asks_for_confirmation_unless_yes(url: str) -> None:
    code, _, _ = run("sessions", "delete", "a1", "--db", url, input="n\n")
    assert code != 0
    assert open_db(url).get_session("a1") is not None
    code, out, _ = run("sessions", "delete", "a1", "--db", url, input="y\n")
    assert code == 0
    assert open_db(url).get_session("a1") is None
    code, _, err = run("sessions", "delete", "a1", "--db", url, "--yes")
    assert code == ExitCode.NOT_FOUND
    assert err == "error: session 'a1' not found\n"
    code, _, _ = run("sessions", "delete", "b1", "--db", url, "--yes", "--user", "alice")
    assert code == ExitCode.NOT_FOUND
    assert open_db(url).get_session("b1") is not None


def test_erase_user(url: str) -> None:
    code, out, _ = run("sessions", "erase-user", "alice", "--db", url, "--yes")
    assert code == 0
    assert "erased 2 session(s)" in out
    assert [i.session_id for i in open_db(url).list_sessions().items] == ["b1"]


def test_export_then_import_into_another_store_is_identical(url: str, tmp_path: Path) -> None:
    dump = tmp_path / "sessions.jsonl"
    code, _, err = run("sessions", "export", "--db", url, "-o", str(dump))
    assert code == 0
    assert "exported 3 session(s)" in err
    lines = dump.read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["kind"] == "session" for line in lines)
    target = f"{url}-copy"
    code, _, err = run("sessions", "import", str(dump), "--db", target)
    assert code == 0, err
    assert "imported 3 session(s)" in err
    source, copy = open_db(url), open_db(target)
    for sid in ("a1", "a2", "b1"):
        assert copy.get_session(sid) == source.get_session(sid)
    code, _, err = run("sessions", "import", str(dump), "--db", target)
    assert "skipped 3 existing" in err
    code, _, _ = run("sessions", "export", "--db", url, "--user", "bob", "-o", str(dump))
    assert len(dump.read_text().splitlines()) == 1


def test_import_reports_bad_lines_and_keeps_going(url: str, tmp_path: Path) -> None:
    dump = tmp_path / "mixed.jsonl"
    run("sessions", "export", "--db", url, "--user", "bob", "-o", str(dump))
    dump.write_text("not json\n" + dump.read_text() + '{"schema": 1, "kind": "run"}\n')
    code, _, err = run("sessions", "import", str(dump), "--db", f"{url}-mixed")
    assert code == ExitCode.BAD_INPUT
    assert "line 1:" in err
    assert "line 3:" in err
    assert "imported 1 session(s)" in err


def _age(store: Store, session_id: str, days: float) -> None:
    assert isinstance(store, MemoryDb)
    info = store._sessions[session_id]
    old = time.time() - days * 86400
    store._sessions[session_id] = attrs.evolve(info, updated_at=old, last_run_at=old)


def test_prune_older_than_and_keep_last_runs(url: str) -> None:
    store = open_db(url)
    _age(store, "a2", 40)
    code, out, _ = run("sessions", "prune", "--db", url, "--older-than", "30d", "--dry-run")
    assert code == 0
    assert "would delete 1 session(s)" in out
    assert store.get_session("a2") is not None
    code, out, _ = run(
        "sessions", "prune", "--db", url, "--older-than", "30d", "--keep-last-runs", "1"
    )
    assert code == 0, out
    assert "deleted 1 session(s); trimmed 3 run(s) from 2 session(s)" in out
    assert store.get_session("a2") is None
    info = store.get_session_info("a1")
    assert info is not None
    assert (info.run_count, info.input_tokens) == (1, 1)
    code, _, err = run("sessions", "prune", "--db", url)
    assert code == ExitCode.BAD_INPUT
    code, _, err = run("sessions", "prune", "--db", url, "--older-than", "soon")
    assert code == 2
    assert "not a duration" in err


def test_doctor_reports_store_schema_and_plugins(url: str) -> None:
    code, out, _ = run("doctor", "--db", url)
    assert code == 0, out
    assert "memory: reachable" in out
    assert "schema 1 (latest 1)" in out
    assert "plugin sessionary" in out
    code, out, _ = run("sessions", "doctor", "--db", "nosuch://x")
    assert code == ExitCode.BAD_INPUT
