"""`sessionary import-agno` against databases the real Agno wrote in this test.

Collected only by the nox cells "tests(agno-import-2)" and "tests(agno-import-3)",
which install Agno 2.9.0 or 3.1.10 beside sessionary (never in any package's
dependencies). Without Agno the tests fail: they never skip. Agno writes its SqliteDb
in a temporary folder and its PostgresDb into a database of each test's own on the
server at ``SESSIONARY_POSTGRES_URL`` (dropped afterwards).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from postgres_support import temporary_database
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import open_db

HERE = Path(__file__).parent
POSTGRES = os.environ.get(
    "SESSIONARY_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _write_agno(where: str, truth: Path) -> dict[str, Any]:
    importlib.metadata.version("agno")  # fails loudly when Agno is missing
    subprocess.run([sys.executable, str(HERE / "write_agno.py"), where, str(truth)], check=True)
    loaded: dict[str, Any] = json.loads(truth.read_text())
    return loaded


@pytest.fixture(scope="module")
def agno_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Agno's SqliteDb file, as a URL, and what Agno says is in it."""
    folder = tmp_path_factory.mktemp("agno")
    db = folder / "agno.db"
    return f"sqlite:///{db}", _write_agno(str(db), folder / "truth.json")


@pytest.fixture
def agno_postgres(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Agno's PostgresDb in a database of this test's own, as a URL, and the truth."""
    with temporary_database(POSTGRES) as url:
        yield url, _write_agno(url, tmp_path / "truth.json")


@pytest.fixture(params=["sqlite", "postgres"])
def agno_source(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each Agno database in turn."""
    fixture = "agno_db" if request.param == "sqlite" else "agno_postgres"
    source: tuple[str, dict[str, Any]] = request.getfixturevalue(fixture)
    return source


def _view(session: Any) -> list[list[dict[str, Any]]]:
    return [
        [
            {
                "role": m.role.value,
                "content": m.content,
                "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in m.tool_calls],
            }
            for m in run.messages
        ]
        for run in session.runs
    ]


def test_every_session_message_user_and_name_survives(
    agno_source: tuple[str, dict[str, Any]],
) -> None:
    source, truth = agno_source
    target = f"memory://agno-import-all-{uuid.uuid4().hex}"
    result = CliRunner().invoke(main, ["import-agno", "--from", source, "--to", target])
    assert result.exit_code == 0, result.output
    assert "imported 3 session(s)" in result.output
    store = open_db(target)
    for session_id, expected in truth.items():
        session = store.get_session(session_id, user_id=expected["user_id"])
        assert session is not None, session_id
        assert session.session_type.value == expected["type"]
        assert session.name == expected["name"]
        assert [r.run_id for r in session.runs] == expected["run_ids"]
        assert _view(session) == expected["runs"]
        assert session.run_count == len(expected["run_ids"])
    s1 = store.get_session("s1")
    assert s1 is not None
    assert s1.name_source == "agno-import"
    assert [m.content for m in s1.get_chat_history()][:2] == [
        "Weather in Paris?",
        "It is sunny in Paris.",
    ]
    tool_results = [m for m in s1.get_messages() if m.role.value == "tool"]
    assert tool_results[0].content == "Sunny in Paris"
    assert tool_results[0].tool_call_id == s1.runs[0].messages[2].tool_calls[0].id
    assert s1.input_tokens > 0


def test_importing_twice_skips_what_is_there_and_replace_overwrites(
    agno_source: tuple[str, dict[str, Any]],
) -> None:
    source, _ = agno_source
    target = f"memory://agno-import-twice-{uuid.uuid4().hex}"
    args = ["import-agno", "--from", source, "--to", target]
    assert CliRunner().invoke(main, args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert "imported 0 session(s)" in again.output
    assert "skipped 3 existing" in again.output
    replaced = CliRunner().invoke(main, [*args, "--replace"])
    assert "imported 3 session(s)" in replaced.output


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["import-agno", "--from", "redis://x", "--to", "memory://"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "SqliteDb (sqlite:///path/to/agno.db) and PostgresDb" in result.stderr
    missing = runner.invoke(
        main, ["import-agno", "--from", f"sqlite:///{tmp_path}/none.db", "--to", "memory://"]
    )
    assert missing.exit_code == ExitCode.BAD_INPUT
    empty = tmp_path / "empty.db"
    import sqlite3

    sqlite3.connect(empty).close()
    result = runner.invoke(
        main, ["import-agno", "--from", f"sqlite:///{empty}", "--to", "memory://"]
    )
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "not an Agno database" in result.stderr


def test_a_postgres_database_without_agno_tables_or_server_is_a_clear_error(
    agno_postgres: tuple[str, dict[str, Any]],
) -> None:
    source, _ = agno_postgres
    runner = CliRunner()
    wrong_schema = runner.invoke(
        main, ["import-agno", "--from", source, "--schema", "nothere", "--to", "memory://"]
    )
    assert wrong_schema.exit_code == ExitCode.BAD_INPUT
    assert "not an Agno database" in wrong_schema.stderr
    alchemy = source.replace("postgresql://", "postgresql+psycopg://", 1)
    target = f"memory://agno-import-alchemy-{uuid.uuid4().hex}"
    same = runner.invoke(main, ["import-agno", "--from", alchemy, "--to", target])
    assert "imported 3 session(s)" in same.output, same.output
    down = runner.invoke(
        main, ["import-agno", "--from", "postgresql://postgres@127.0.0.1:1/x", "--to", "memory://"]
    )
    assert down.exit_code != 0
    assert "127.0.0.1:1/x" in down.stderr
