"""`sessionary import-agno` against databases the real Agno wrote in this test.

Collected only by the nox cells "tests(agno-import-2)" and "tests(agno-import-3)",
which install Agno 2.9.0 or 3.1.10 beside sessionary (never in any package's
dependencies). Without Agno the tests fail: they never skip.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import open_db

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def agno_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    version = importlib.metadata.version("agno")  # fails loudly when Agno is missing
    folder = tmp_path_factory.mktemp(f"agno-{version}")
    db, truth = folder / "agno.db", folder / "truth.json"
    subprocess.run([sys.executable, str(HERE / "write_agno.py"), str(db), str(truth)], check=True)
    return db, json.loads(truth.read_text())


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
    agno_db: tuple[Path, dict[str, Any]],
) -> None:
    db, truth = agno_db
    target = "memory://agno-import-all"
    result = CliRunner().invoke(main, ["import-agno", "--from", f"sqlite:///{db}", "--to", target])
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
    agno_db: tuple[Path, dict[str, Any]],
) -> None:
    db, _ = agno_db
    target = "memory://agno-import-twice"
    args = ["import-agno", "--from", f"sqlite:///{db}", "--to", target]
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
    assert "only Agno's SqliteDb" in result.stderr
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
