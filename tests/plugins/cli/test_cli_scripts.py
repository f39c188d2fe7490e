"""The command line in scripts and small terminals (issue 19 items 9, 10 and 11): read
commands never create a store, autoname fails safe, tables fit, every result has --json,
prune --dry-run lists, list pages past 1,000, a damaged file is a corrupt-record exit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import Agent, open_db
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run


def run(*args: str, columns: int = 200, env: dict[str, str | None] | None = None) -> tuple[
    int, str, str
]:  # fmt: skip
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns), **(env or {})})
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"a traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    name = f"memory://scripts-{request.node.name}"
    store = open_db(name)
    for info in store.list_sessions(limit=1000).items:
        store.delete_session(info.session_id)
    for user, sid, n in (("alice", "a1", 3), ("alice", "a2", 1), ("bob", "b1", 2)):
        for i in range(n):
            store.append_run(make_run(sid, user_id=user, text=f"{sid} {i}"))
    return name


# --------------------------------------------------------------------------- item 9


@pytest.mark.parametrize(
    "command",
    [
        ["sessions", "list"],
        ["sessions", "list", "--json"],
        ["sessions", "show", "s1"],
        ["sessions", "export"],
        ["doctor"],
        ["doctor", "--json"],
        ["migrate", "--check"],
        ["sessions", "prune", "--older-than", "1d"],
        ["sessions", "autoname"],
    ],
)
def test_a_command_on_a_mistyped_sqlite_path_creates_nothing_and_exits_5(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "typo-folder" / "agnet.db"
    code, out, err = run(*command, "--db", f"sqlite:///{path}")
    assert code == ExitCode.UNREACHABLE
    assert "does not exist" in (err + out) and "--create" in (err + out)
    assert not path.exists() and not path.parent.exists()


def test_create_makes_the_store_and_import_is_a_write_that_may(tmp_path: Path) -> None:
    path = tmp_path / "new" / "agent.db"
    code, out, _ = run("sessions", "list", "--db", f"sqlite:///{path}", "--create", "--json")
    assert code == 0 and json.loads(out)["sessions"] == [] and path.exists()
    code, out, _ = run("doctor", "--db", f"sqlite:///{tmp_path}/other.db", "--create", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    source = tmp_path / "sessions.jsonl"
    source.write_text("")
    imported = tmp_path / "imported" / "agent.db"
    code, _, err = run("sessions", "import", str(source), "--db", f"sqlite:///{imported}")
    assert code == 0, err
    assert imported.exists()


def test_a_server_store_that_cannot_tell_is_opened_as_before(url: str) -> None:
    code, out, _ = run("sessions", "list", "--db", url, "--json")
    assert code == 0 and len(json.loads(out)["sessions"]) == 3


# --------------------------------------------------------------------------- damaged file


def test_a_damaged_sqlite_file_exits_with_the_corrupt_record_code(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    for command in (["sessions", "list"], ["doctor"], ["sessions", "export"]):
        code, out, err = run(*command, "--db", f"sqlite:///{path}")
        assert code == ExitCode.CORRUPT, (command, out, err)
        assert "damaged or not a SQLite file" in (err + out)
    assert path.read_bytes() == b"these are my notes, not a database\n" * 100


# --------------------------------------------------------------------------- item 10


@pytest.fixture
def named_store(request: pytest.FixtureRequest) -> str:
    name = f"memory://autoname-{request.node.name}"
    store = open_db(name)
    for info in store.list_sessions(limit=1000).items:
        store.delete_session(info.session_id)
    agent = Agent(model=ScriptedModel(), db=store, id="support")
    for sid in ("by-model", "by-hand", "unnamed"):
        agent.run(f"My parcel {sid} arrived damaged, refund please", session_id=sid)
    store.update_session("by-model", name="Damaged Parcel Refund", name_source="model")
    store.update_session("by-hand", name="Refund for order A-1001 urgent", name_source="manual")
    return name


BROKEN_MODEL = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


def test_autoname_all_with_a_broken_model_never_overwrites_a_given_name(named_store: str) -> None:
    code, out, err = run(
        "sessions", "autoname", "--db", named_store, "--all", "--json",
        "--model", "openai:gpt-5-mini", env=BROKEN_MODEL,
    )  # fmt: skip
    assert code == ExitCode.ERROR, err
    report = json.loads(out)
    assert report["kept_after_model_failure"] == 1
    assert report["model_failures"] == 2  # the model-named session, and the unnamed one
    assert report["model_failure_reasons"]
    assert "model answer not used" in err
    infos = {i.session_id: i for i in open_db(named_store).list_sessions().items}
    assert (infos["by-model"].name, infos["by-model"].name_source) == (
        "Damaged Parcel Refund",
        "model",
    )
    assert infos["by-hand"].name == "Refund for order A-1001 urgent"
    assert infos["unnamed"].name_source not in ("model", "manual")  # a fallback named it


def test_autoname_all_without_a_model_keeps_model_names_and_exits_0(named_store: str) -> None:
    code, out, err = run("sessions", "autoname", "--db", named_store, "--all")
    assert code == 0, err
    info = open_db(named_store).get_session_info("by-model")
    assert info is not None and (info.name, info.name_source) == ("Damaged Parcel Refund", "model")


def test_autoname_stops_when_the_model_keeps_failing(request: pytest.FixtureRequest) -> None:
    name = f"memory://autoname-stop-{request.node.name}"
    store = open_db(name)
    for index in range(12):
        store.append_run(make_run(f"s{index}", text=f"question {index}"))
    code, out, err = run(
        "sessions", "autoname", "--db", name, "--json", "--concurrency", "1",
        "--max-model-failures", "2", "--model", "openai:gpt-5-mini", env=BROKEN_MODEL,
    )  # fmt: skip
    assert code == ExitCode.ERROR
    report = json.loads(out)
    assert report["not_attempted"] == 10 and "stopped" in err  # exactly: 2 tried, then stop


# --------------------------------------------------------------------------- item 11


def test_the_inbox_fits_80_columns_and_never_splits_an_id() -> None:
    name = f"memory://narrow-{uuid.uuid4().hex}"
    store = open_db(name)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for sid in ids:
        store.append_run(make_run(sid, user_id="a-rather-long-user-name", text="hello"))
        store.update_session(sid, name="Refund for order A-1001 urgent, second try")
    for columns in (80, 60):
        code, out, _ = run("sessions", "list", "--db", name, columns=columns)
        assert code == 0
        lines = out.splitlines()
        assert all(len(line) <= columns for line in lines), out
        for sid in ids:
            assert any(sid in line for line in lines), out  # whole, on one line


def test_prune_dry_run_lists_what_would_go_and_changes_nothing(url: str) -> None:
    code, out, _ = run("sessions", "prune", "--db", url, "--keep-last-runs", "1", "--dry-run")
    assert code == 0
    assert "would trim 2 run(s) of a1 (user alice)" in out
    assert "would trim 1 run(s) of b1 (user bob)" in out
    code, out, _ = run(
        "sessions", "prune", "--db", url, "--keep-last-runs", "1", "--dry-run", "--json"
    )
    report = json.loads(out)
    assert report["dry_run"] is True and report["trimmed_runs"] == 3
    assert {(s["session_id"], s["runs"]) for s in report["sessions"]} == {("a1", 2), ("b1", 1)}
    assert open_db(url).get_session_info("a1").run_count == 3  # type: ignore[union-attr]
    code, out, _ = run("sessions", "prune", "--db", url, "--keep-last-runs", "1", "--json")
    assert json.loads(out)["trimmed_runs"] == 3


def test_every_command_that_prints_a_result_has_json(url: str, tmp_path: Path) -> None:
    code, out, _ = run("sessions", "rename", "a2", "Billing question", "--db", url, "--json")
    assert code == 0 and json.loads(out)["name"] == "Billing question"
    code, out, _ = run("sessions", "autoname", "--db", url, "--json")
    assert code == 0 and json.loads(out)["total"] == 2
    code, out, _ = run("doctor", "--db", url, "--json")
    assert code == 0 and {c["check"] for c in json.loads(out)["checks"]} >= {"store", "schema"}
    code, out, _ = run("migrate", "--db", url, "--json")
    assert code == 0 and json.loads(out)["needs_migration"] is False
    exported = tmp_path / "out.jsonl"
    code, _, err = run("sessions", "export", "--db", url, "-o", str(exported))
    assert code == 0 and "exporting" not in err  # no progress bar off a terminal
    code, out, err = run("sessions", "import", str(exported), "--db", "memory://elsewhere-json",
                         "--json")  # fmt: skip
    assert code == 0 and json.loads(out) == {"imported": 3, "skipped": 0, "bad_lines": []}
    assert "importing" not in err
    code, out, _ = run("sessions", "delete", "b1", "--db", url, "--yes", "--json")
    assert code == 0 and json.loads(out) == {"deleted": "b1", "runs": 2}
    code, out, _ = run("sessions", "erase-user", "alice", "--db", url, "--yes", "--json")
    assert code == 0 and json.loads(out) == {"user_id": "alice", "erased_sessions": 2}


def test_list_all_pages_past_a_thousand_sessions() -> None:
    name = f"memory://many-{uuid.uuid4().hex}"
    store = open_db(name)
    assert isinstance(store, MemoryDb)
    for index in range(1005):
        store.append_run(make_run(f"s{index:04d}", text="hi"))
    code, out, _ = run("sessions", "list", "--db", name, "--all", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["sessions"]) == 1005 and data["next_cursor"] is None
    assert len({s["session_id"] for s in data["sessions"]}) == 1005
    code, _, err = run("sessions", "list", "--db", name, "--limit", "1001")
    assert code == ExitCode.BAD_INPUT and "1001" in err


def test_the_demo_prints_the_file_it_really_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("demo", env={"SESSIONARY_DB": None})
    assert code == 0, err
    written = tmp_path / "tmp" / "sessionary-demo.db"
    assert written.is_file()
    assert f"(the file {written})" in out.replace("\n", "")
