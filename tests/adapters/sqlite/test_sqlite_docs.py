"""The code on docs/storage/sqlite.md runs as shown, and the spec's first snippet persists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb

from sessionary import Agent
from sessionary.testing import ScriptedModel

PAGE = Path(__file__).resolve().parents[3] / "docs" / "storage" / "sqlite.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_sqlite_page_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_storage_sqlite"}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert (tmp_path / "tmp" / "agent.db").is_file()


_NEW_PROCESS = """
from sessionary import Agent
from sessionary_sqlite import SqliteDb

agent = Agent(db=SqliteDb(db_file="tmp/agent.db"))
session = agent.get_session(session_id="user_123_session_456")
history = agent.get_chat_history(session_id="user_123_session_456")
print(session.run_count, [m.content for m in history])
"""


def test_the_specs_first_snippet_persists_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The spec's snippet, with ScriptedModel standing in for OpenAIResponses(id="gpt-5.2").
    agent = Agent(
        model=ScriptedModel("Hi! What shall we plan?"),
        db=SqliteDb(db_file="tmp/agent.db"),
    )

    # Use your own session ID
    agent.run("Hello", session_id="user_123_session_456")

    out = subprocess.run(
        [sys.executable, "-c", _NEW_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ).stdout
    assert out.strip() == "1 ['Hello', 'Hi! What shall we plan?']"
