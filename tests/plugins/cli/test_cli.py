"""The command line: sessions list/show, migrate, demo, and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.errors import ExitCode

from sessionary import Agent, open_db
from sessionary.testing import ScriptedModel, tool_call

URL = "memory://cli-tests"


@pytest.fixture
def populated() -> str:
    store = open_db(URL)
    for info in store.list_sessions(limit=1000).items:
        store.delete_session(info.session_id)

    def weather(city: str) -> str:
        """Weather."""
        return "sunny"

    agent = Agent(
        model=ScriptedModel(tool_call("weather", city="Oslo"), "Sunny."),
        db=store,
        id="helper",
        tools=[weather],
    )
    agent.run("Weather in Oslo?", session_id="s-alice", user_id="alice")
    agent.run("Hello", session_id="s-bob", user_id="bob")
    store.update_session("s-alice", name="Oslo weather", name_source="manual")
    return URL


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_list_prints_the_inbox_newest_first(populated: str) -> None:
    code, out, _ = run("sessions", "list", "--db", populated, "--json")
    assert code == 0
    data = json.loads(out)
    # By last activity: the rename of s-alice after bob's run moves nothing.
    assert [s["session_id"] for s in data["sessions"]] == ["s-bob", "s-alice"]
    assert data["sessions"][1]["name"] == "Oslo weather"
    assert data["next_cursor"] is None and data["total"] == 2
    code, out, _ = run("sessions", "list", "--db", populated, "--order-by", "updated_at", "--json")
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["s-alice", "s-bob"]
    code, out, _ = run("sessions", "list", "--db", populated, "--user", "bob", "--json")
    assert [s["session_id"] for s in json.loads(out)["sessions"]] == ["s-bob"]
    code, out, _ = run("sessions", "list", "--db", populated)
    assert code == 0
    assert "Oslo weather" in out
    assert "s-bob" in out


def test_list_pages_with_a_cursor(populated: str) -> None:
    _, out, _ = run("sessions", "list", "--db", populated, "--limit", "1", "--json")
    first = json.loads(out)
    assert len(first["sessions"]) == 1
    _, out, _ = run(
        "sessions",
        "list",
        "--db",
        populated,
        "--limit",
        "1",
        "--cursor",
        first["next_cursor"],
        "--json",
    )
    second = json.loads(out)
    assert second["sessions"][0]["session_id"] == "s-alice"


def test_the_db_defaults_to_sessionary_db(populated: str) -> None:
    code, out, _ = run("sessions", "list", "--json", env={"SESSIONARY_DB": populated})
    assert code == 0
    assert len(json.loads(out)["sessions"]) == 2


def test_show_prints_the_transcript_with_tool_calls_folded(populated: str) -> None:
    code, out, _ = run("sessions", "show", "s-alice", "--db", populated)
    assert code == 0
    assert "Weather in Oslo?" in out
    assert 'tool call weather({"city": "Oslo"})' in out
    assert "tool result weather: sunny" in out
    code, out, _ = run("sessions", "show", "s-alice", "--db", populated, "--json")
    assert json.loads(out)["runs"][0]["input"] == "Weather in Oslo?"


def test_exit_codes_are_distinct_and_the_message_is_one_line(populated: str) -> None:
    code, _, err = run("sessions", "show", "nope", "--db", populated)
    assert code == ExitCode.NOT_FOUND
    assert err == "error: session 'nope' not found\n"
    code, _, err = run("sessions", "show", "s-alice", "--db", populated, "--user", "bob")
    assert code == ExitCode.NOT_FOUND
    code, _, err = run("sessions", "list", "--db", "nosuch://x")
    assert code == ExitCode.BAD_INPUT
    assert err.count("\n") == 1
    code, _, err = run("sessions", "list", "--db", populated, "--cursor", "garbage!")
    assert code == ExitCode.BAD_INPUT
    code, _, err = run("sessions", "list")
    assert code == ExitCode.BAD_INPUT
    assert "SESSIONARY_DB" in err


def test_migrate_reports_an_up_to_date_store(populated: str) -> None:
    code, out, _ = run("migrate", "--db", populated)
    assert code == 0
    assert "up to date" in out


def test_demo_runs_offline_and_shows_an_inbox_and_a_transcript() -> None:
    code, out, _ = run("demo", "--db", "memory://demo-test")
    assert code == 0, out
    assert "Inbox" in out
    assert "Damaged order refund" in out
    assert "Lisbon spring trip" in out
    assert "tool call order_status" in out
    assert "bob cannot see her session: True" in out
    again, _, _ = run("demo", "--db", "memory://demo-test")
    assert again == 0
    sessions = open_db("memory://demo-test").list_sessions().items
    assert sorted(i.run_count for i in sessions) == [2, 2]


def test_demo_shows_the_inbox_by_activity_and_the_paused_refund_in_the_approval_queue() -> None:
    code, out, _ = run("demo", "--db", "memory://demo-inbox")
    assert code == 0, out
    inbox, queue = out.split("Inbox, by last activity")[1].split("Approval queue")
    # bob's session was renamed last, but alice's paused refund is the newest activity
    assert inbox.index("demo_alice_refund") < inbox.index("demo_bob_trip")
    table = queue.split("waits for approval")[0]
    assert "demo_alice_refund" in table and "demo_bob_trip" not in table
    assert "issue_refund(order_id='A-1001', amount=49.9) waits for approval" in out
    store = open_db("memory://demo-inbox")
    assert [i.session_id for i in store.list_sessions(has_paused=True).items] == [
        "demo_alice_refund"
    ]
