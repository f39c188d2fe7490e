"""Agent-level inbox reads: get_session_info, list_sessions filters and scope, count_sessions,
history paging with before_run, sync and async, on the in-memory store and on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionary import Agent, Team, tool
from sessionary.errors import InvalidInputError, RunNotFoundError
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


@tool(requires_confirmation=True)
def refund(order: str) -> str:
    """Refund an order."""
    return f"refunded {order}"


@pytest.fixture(params=["memory", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryDb()
        return
    from sessionary_sqlite import SqliteDb

    with SqliteDb(db_file=tmp_path / "agent.db") as store:
        yield store


def _support(db: Store, *answers: Any) -> Agent:
    return Agent(model=ScriptedModel(*answers), db=db, id="support", tools=[refund])


def test_the_approval_queue_survives_another_message_and_empties_on_approval(db: Store) -> None:
    agent = _support(
        db,
        "Hello!",
        tool_call("refund", order="A-1001"),
        "Anything else?",
        "Refunded.",
    )
    agent.run("Hi", session_id="chat", user_id="alice")
    paused = agent.run("Refund A-1001 please", session_id="refund", user_id="alice")
    assert paused.is_paused
    agent.run("Are you there?", session_id="refund", user_id="alice")  # the user goes on

    def queue() -> list[str]:
        return [i.session_id for i in agent.list_sessions(user_id="alice", has_paused=True).items]

    assert queue() == ["refund"]
    assert agent.count_sessions(user_id="alice", has_paused=True) == 1
    assert agent.count_sessions(user_id="alice", status="paused") == 0  # last run completed
    info = agent.get_session_info("refund", user_id="alice")
    assert info is not None and (info.run_count, info.paused_runs) == (2, 1)
    assert info.last_run_status is not None and info.last_run_status.value == "completed"
    assert info.last_run_at is not None
    stored = agent.get_run_output(paused.run_id, "refund", user_id="alice")
    assert stored is not None
    for requirement in stored.active_requirements:
        requirement.confirm()
    agent.continue_run(stored, user_id="alice")
    assert queue() == [] and agent.count_sessions(user_id="alice", has_paused=True) == 0
    assert [i.session_id for i in agent.list_sessions(user_id="alice").items] == [
        "refund",
        "chat",
    ]


def test_listing_is_scoped_to_the_owner_and_renames_do_not_reorder(db: Store) -> None:
    agent = _support(db, "a", "b", "c")
    other = Agent(model=ScriptedModel("x"), db=db, id="sales")
    for sid in ("one", "two", "three"):
        agent.run("Hi", session_id=sid, user_id="alice")
    other.run("Hi", session_id="elsewhere", user_id="alice")
    agent.set_session_name("one", "Renamed", user_id="alice")
    page = agent.list_sessions(user_id="alice")
    assert [i.session_id for i in page.items] == ["three", "two", "one"]
    assert agent.count_sessions(user_id="alice") == 3 and other.count_sessions() == 1
    by_update = agent.list_sessions(user_id="alice", order_by="updated_at")
    assert by_update.items[0].session_id == "one"
    first = agent.list_sessions(user_id="alice", limit=2)
    rest = agent.list_sessions(user_id="alice", limit=2, cursor=first.next_cursor)
    assert [i.session_id for i in (*first.items, *rest.items)] == ["three", "two", "one"]
    assert agent.get_session_info("missing", user_id="alice") is None
    assert agent.get_session_info("one", user_id="bob") is None
    with pytest.raises(InvalidInputError):
        agent.list_sessions(status="asleep")
    with pytest.raises(InvalidInputError):
        agent.count_sessions(active_after=float("nan"))


def test_chat_history_pages_back_before_a_run(db: Store) -> None:
    agent = _support(db, *(f"answer {i}" for i in range(5)))
    runs = [agent.run(f"question {i}", session_id="s", user_id="u") for i in range(5)]
    last_two = agent.get_chat_history("s", user_id="u", last_n_runs=2)
    assert [m.content for m in last_two] == ["question 3", "answer 3", "question 4", "answer 4"]
    before = agent.get_chat_history("s", user_id="u", last_n_runs=2, before_run=runs[3].run_id)
    assert [m.content for m in before] == ["question 1", "answer 1", "question 2", "answer 2"]
    assert agent.get_chat_history("s", user_id="u", before_run=runs[0].run_id) == []
    with pytest.raises(RunNotFoundError):
        agent.get_chat_history("s", user_id="u", before_run="nope")
    assert agent.get_chat_history("s", user_id="v", before_run=runs[1].run_id) == []


def test_the_async_twins_read_the_same(db: Store) -> None:
    agent = _support(db, "one", tool_call("refund", order="B-2"), "two")
    first = agent.run("Hi", session_id="s", user_id="u")
    agent.run("Refund B-2", session_id="s", user_id="u")
    agent.run("Hello?", session_id="s", user_id="u")

    async def scenario() -> None:
        info = await agent.aget_session_info("s", user_id="u")
        assert info == agent.get_session_info("s", user_id="u")
        page = await agent.alist_sessions(user_id="u", has_paused=True)
        assert [i.session_id for i in page.items] == ["s"]
        assert await agent.acount_sessions(user_id="u", has_paused=True) == 1
        assert await agent.acount_sessions(user_id="u", status="paused") == 0
        history = await agent.aget_chat_history("s", user_id="u", last_n_runs=5)
        assert history == agent.get_chat_history("s", user_id="u")
        second = agent.get_session("s", user_id="u")
        assert second is not None
        older = await agent.aget_chat_history("s", user_id="u", before_run=second.runs[1].run_id)
        assert [m.content for m in older] == ["Hi", "one"]
        assert first.run_id == second.runs[0].run_id

    asyncio.run(scenario())


def test_a_team_lists_and_counts_its_own_sessions(db: Store) -> None:
    member = Agent(model=ScriptedModel("42"), db=db, id="calc")
    team = Team(
        members=[member],
        model=ScriptedModel(tool_call("delegate_task_to_member", member_id="calc", task="x"), "42"),
        db=db,
        id="crew",
    )
    team.run("What is 6x7?", session_id="t1", user_id="u")
    member.run("Hi", session_id="m1", user_id="u")
    assert [i.session_id for i in team.list_sessions(user_id="u").items] == ["t1"]
    assert team.count_sessions(user_id="u") == 1
    info = team.get_session_info("t1", user_id="u")
    assert info is not None and info.run_count >= 1
