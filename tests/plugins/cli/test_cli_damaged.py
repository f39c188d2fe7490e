"""The command line on a damaged store: export goes on past a damaged session, and no
command ends in a traceback (issue 18, items 8 and 6)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode, handle_errors
from sessionary_cli.lazy import LazyGroup

from sessionary import open_db
from sessionary.storage.memory import MemoryDb
from sessionary.testing.storage import make_run


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"a traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    name = f"memory://damaged-{request.node.name}"
    store = open_db(name)
    for info in store.list_sessions(limit=1000).items:
        store.delete_session(info.session_id)
    for sid in ("a1", "b2", "c3"):
        store.append_run(make_run(sid, user_id="alice", text=f"hello {sid}"))
    return name


def damage(url: str, session_id: str) -> None:
    """Break one stored run record, as a broken disk would."""
    store = open_db(url)
    assert isinstance(store, MemoryDb)
    store._runs[session_id][0] = '{"run_id": 42'


def write_lone_surrogate(url: str, session_id: str) -> None:
    """Store text with a lone UTF-16 surrogate, as a store did before it refused them."""
    store = open_db(url)
    assert isinstance(store, MemoryDb)
    record = json.loads(store._runs[session_id][0])
    record["messages"][0]["content"] = "broken \ud83d text"
    store._runs[session_id][0] = json.dumps(record)


def exported_ids(out: str) -> list[str]:
    return sorted(json.loads(line)["data"]["session_id"] for line in out.splitlines())


def test_export_writes_every_healthy_session_and_names_the_damaged_one(url: str) -> None:
    damage(url, "b2")
    code, out, err = run("sessions", "export", "--db", url)
    assert code == ExitCode.CORRUPT
    assert exported_ids(out) == ["a1", "c3"]
    assert "'b2'" in err
    assert "exported 2 session(s), 1 damaged and not exported" in err
    assert "Traceback" not in err


def test_export_names_a_session_whose_text_cannot_be_written(url: str) -> None:
    write_lone_surrogate(url, "a1")
    code, out, err = run("sessions", "export", "--db", url)
    assert code == ExitCode.CORRUPT
    assert sorted(json.loads(line)["data"]["session_id"] for line in out.splitlines()) == [
        "b2",
        "c3",
    ]
    assert "'a1'" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_show_of_text_with_a_lone_surrogate_is_a_clean_error(url: str, as_json: bool) -> None:
    write_lone_surrogate(url, "a1")
    code, _, err = run("sessions", "show", "a1", "--db", url, *(["--json"] if as_json else []))
    assert code == ExitCode.CORRUPT
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "UTF-8" in err


def test_an_unexpected_exception_is_one_line_and_exit_code_1() -> None:
    @click.command()
    @handle_errors
    def broken() -> None:
        raise KeyError("boom \ud83d")

    result = CliRunner().invoke(broken, [])
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code == ExitCode.ERROR
    assert result.stderr == "error: unexpected KeyError: 'boom \\ud83d'\n"


def test_no_subcommand_of_the_group_ends_in_a_traceback() -> None:
    group = LazyGroup(name="sessionary", lazy={"gone": "sessionary_cli.no_such_module:x"})

    @group.command()
    def raw() -> None:
        raise RuntimeError("a bug \ud83d\nsecond line")

    result = CliRunner().invoke(group, ["raw"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == ExitCode.ERROR
    assert result.stderr == "error: unexpected RuntimeError: a bug \\ud83d\n"
    result = CliRunner().invoke(group, ["gone"])
    assert result.exit_code == ExitCode.ERROR
    assert result.stderr.startswith("error: unexpected ModuleNotFoundError: ")
    assert CliRunner().invoke(group, ["nope"]).exit_code == 2  # click's own usage error


def test_import_stores_the_summary_the_runs_make_and_names_a_bad_line(
    url: str, tmp_path: Path
) -> None:
    code, out, _ = run("sessions", "export", "--db", url)
    assert code == 0
    lines = out.splitlines()
    lying = json.loads(lines[0])
    lying["data"].update(run_count=999, input_tokens=10**9, output_tokens=10**9)
    twice = json.loads(lines[1])
    twice["data"]["runs"] *= 2
    source = tmp_path / "sessions.jsonl"
    source.write_text(json.dumps(lying) + "\n" + json.dumps(twice) + "\n" + lines[2] + "\n")
    target = f"{url}-copy"
    result = CliRunner().invoke(main, ["sessions", "import", str(source), "--db", target])
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert "line 2: " in result.stderr and "twice" in result.stderr
    info = open_db(target).get_session_info(lying["data"]["session_id"])
    assert info is not None
    assert (info.run_count, info.input_tokens, info.output_tokens) == (1, 3, 5)
    assert open_db(target).get_session(twice["data"]["session_id"]) is None
