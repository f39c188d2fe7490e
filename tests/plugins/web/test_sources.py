"""What an inbox lists: an agent's sessions, a team's, or a whole store's (the demo's)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from inbox_desk import DeskModel
from sessionary_cli import main
from starlette.testclient import TestClient

from sessionary import Agent, Team
from sessionary.storage.base import Store
from sessionary.testing import ScriptedModel, tool_call


def _listed(app: object) -> list[str]:
    with TestClient(app, base_url="http://127.0.0.1") as http:  # type: ignore[arg-type]
        return [s["session_id"] for s in http.get("/api/sessions").json()["items"]]


def test_an_agents_inbox_lists_its_own_sessions_a_stores_lists_all(
    agent: Agent, store: Store, ids: dict[str, str]
) -> None:
    from sessionary_web import inbox_app

    other = Agent(model=DeskModel(), db=store, id="billing")
    other.run("An invoice question", session_id="billing-1", user_id="alice")
    assert "billing-1" not in _listed(inbox_app(agent))
    assert len(_listed(inbox_app(agent))) == 5
    assert _listed(inbox_app(store))[0] == "billing-1"
    assert len(_listed(inbox_app(store))) == 6
    with TestClient(inbox_app(agent), base_url="http://127.0.0.1") as http:
        assert http.get("/api/session", params={"id": "billing-1"}).status_code == 404


def test_a_teams_inbox_shows_its_sessions_with_member_runs(store: Store) -> None:
    from sessionary_web import inbox_app

    writer = Agent(model=ScriptedModel("A haiku about spring."), id="writer")
    team = Team(
        model=ScriptedModel(
            tool_call("delegate_task_to_member", member_id="writer", task="haiku"), "Here it is."
        ),
        members=[writer],
        db=store,
        id="poets",
    )
    team.run("Write a haiku", session_id="team-1", user_id="zoe")
    Agent(model=DeskModel(), db=store, id="solo").run("hi", session_id="solo-1")
    app = inbox_app(team)
    assert _listed(app) == ["team-1"]
    with TestClient(app, base_url="http://127.0.0.1") as http:
        page = http.get("/session", params={"id": "team-1"}).text
    assert "member writer" in page
    assert "A haiku about spring." in page


def test_serve_shows_the_demo_stores_sessions(tmp_path: Path) -> None:
    from sessionary_web import inbox_app

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["demo", "--db", url])
    assert result.exit_code == 0, result.output
    with TestClient(inbox_app(url), base_url="http://127.0.0.1") as http:
        page = http.get("/").text
    assert "Damaged order refund" in page and "Lisbon spring trip" in page
