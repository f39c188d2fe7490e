"""The Agno cookbook scripts in examples/from-agno run as ported, with a scripted model.

Each script takes its model from ``cookbook_config``; here that module's ``model`` is a
:class:`~sessionary.testing.ScriptedModel` with the replies the script's flow needs
(tool calls included), and the script runs in a fresh working directory as
``__main__``. The checks read what it printed and what it stored.
"""

from __future__ import annotations

import json
import runpy
import sys
import types
from pathlib import Path

import pytest
from sessionary_sqlite import SqliteDb

from sessionary.models.base import ModelRequest, ModelResponse
from sessionary.models.scripted import Reply
from sessionary.storage.memory import MemoryDb
from sessionary.summary import SessionSummaryManager
from sessionary.testing import ScriptedModel, tool_call

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "from-agno"


_SUMMARY_PROMPT = SessionSummaryManager().prompt.split(".")[0]


class AgentAndSummaries(ScriptedModel):
    """One model object for a script's agents and its summary manager, as in the
    scripts; summary requests are answered from ``summaries`` (they run in the
    background, so their turn among the agent's calls is not fixed)."""

    def __init__(self, *replies: Reply, summaries: tuple[str, ...] = ()) -> None:
        super().__init__(*replies)
        self.summaries = ScriptedModel(*summaries)

    def respond(self, request: ModelRequest) -> ModelResponse:
        if (request.messages[0].content or "").startswith(_SUMMARY_PROMPT):
            return self.summaries.respond(request)
        return super().respond(request)


@pytest.fixture
def run_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> types.SimpleNamespace:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    config = types.ModuleType("cookbook_config")
    monkeypatch.setitem(sys.modules, "cookbook_config", config)

    def run(name: str, model: ScriptedModel) -> str:
        config.model = model  # type: ignore[attr-defined]
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        return capsys.readouterr().out

    return types.SimpleNamespace(run=run, db_file=tmp_path / "tmp" / "agents.db")


def _state(db_file: Path, session_id: str, user_id: str | None = None) -> dict[str, object]:
    with SqliteDb(db_file=db_file) as db:
        info = db.get_session_info(session_id, user_id=user_id)
    assert info is not None
    return dict(info.state)


def test_every_example_has_a_test() -> None:
    tested = {
        "session_state_basic.py",
        "manual_session_state_update.py",
        "session_state_run_argument.py",
        "session_summary.py",
        "session_summary_references.py",
        "team_custom_session_summary.py",
    }
    scripts = {p.name for p in EXAMPLES.glob("*.py")} - {"cookbook_config.py"}
    assert scripts == tested


def test_session_state_basic(run_example: types.SimpleNamespace) -> None:
    calls = [tool_call("add_item", item=i) for i in ("milk", "eggs", "bread")]
    out = run_example.run("session_state_basic.py", ScriptedModel(calls, "Added all three."))
    assert "Added all three." in out
    final = "Final session state: {'shopping_list': ['milk', 'eggs', 'bread']}"
    assert final in out
    with SqliteDb(db_file=run_example.db_file) as db:
        session = db.list_sessions().items[0]
    assert session.state == {"shopping_list": ["milk", "eggs", "bread"]}


def test_manual_session_state_update(run_example: types.SimpleNamespace) -> None:
    model = ScriptedModel(
        [tool_call("add_item", item=i) for i in ("milk", "eggs", "bread")],
        "Added.",
        "Milk, eggs, bread and chocolate.",
    )
    out = run_example.run("manual_session_state_update.py", model)
    assert "Milk, eggs, bread and chocolate." in out
    assert "'shopping_list': ['milk', 'eggs', 'bread', 'chocolate']" in out
    system = model.requests[-1].messages[0].content or ""
    assert json.dumps(["milk", "eggs", "bread", "chocolate"]) in system


def test_session_state_run_argument(run_example: types.SimpleNamespace) -> None:
    model = ScriptedModel("You are John.", "You are 30.", "You are Jane.", "You are 25.")
    run_example.run("session_state_run_argument.py", model)
    systems = [request.messages[0].content for request in model.requests]
    assert systems == [
        "Users name is John and age is 30",
        "Users name is John and age is 30",
        "Users name is Jane and age is 25",
        "Users name is Jane and age is 25",
    ]
    assert _state(run_example.db_file, "user_2_session_1", "user_2") == {
        "user_name": "Jane",
        "age": 25,
    }


def test_session_summary(run_example: types.SimpleNamespace) -> None:
    answers = ("John lives in New York.", "John, New York, basketball and hiking.")
    model = AgentAndSummaries("Nice to meet you, John.", "Great hobbies!", summaries=answers)
    out = run_example.run("session_summary.py", model)
    assert "Great hobbies!" in out
    # One update after both runs, or one after each (incremental): the summary printed
    # is the last one made, and it covers the second run.
    made = len(model.summaries.requests)
    assert made in (1, 2)
    assert "I like to play basketball" in (model.summaries.requests[-1].messages[-1].content or "")
    assert f"summary='{answers[made - 1]}'" in out


def test_session_summary_references(run_example: types.SimpleNamespace) -> None:
    model = AgentAndSummaries(
        "Hello John!", "Basketball too!", summaries=("John Doe hikes on weekends.",)
    )
    out = run_example.run("session_summary_references.py", model)
    assert "Basketball too!" in out
    system = model.requests[-1].messages[0].content or ""
    assert "John Doe hikes on weekends." in system


def test_team_custom_session_summary(run_example: types.SimpleNamespace, tmp_path: Path) -> None:
    delegate = "delegate_task_to_member"
    model = AgentAndSummaries(
        tool_call(delegate, member_id="Sprint Planner", task="Plan the sprint"),
        "Week 1: write. Week 2: ship.",
        "Here is the plan: week 1 write, week 2 ship.",
        tool_call(delegate, member_id="Sprint Planner", task="Add milestones"),
        "Testing on day 8, rollout on day 10.",
        "Added testing and rollout milestones.",
        summaries=(
            "Sprint plan for a docs portal.",
            "Sprint plan with testing and rollout milestones.",
        ),
    )
    out = run_example.run("team_custom_session_summary.py", model)
    assert "Session summary: Sprint plan with testing and rollout milestones." in out
    team_system = model.requests[3].messages[0].content or ""  # the second team run
    assert "Sprint plan for a docs portal." in team_system
    with SqliteDb(db_file=tmp_path / "tmp" / "team_session_summary.db") as db:
        runs = db.get_runs("sprint-planning-session")
    assert [r.agent_id for r in runs] == ["Sprint Planner", None, "Sprint Planner", None]


def test_memory_db_is_not_used_by_the_examples() -> None:
    # The examples use files, as Agno's do: a MemoryDb would hide a missing write.
    for script in EXAMPLES.glob("*.py"):
        assert MemoryDb.__name__ not in script.read_text()
