"""Session state on agents and teams: tools change it, runs store it, the model sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sessionary import Agent, Team, tool
from sessionary.agent.context import RunContext
from sessionary.domain.messages import Role
from sessionary.errors import InvalidInputError, SessionNotFoundError
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list."""
    run_context.session_state["shopping_list"].append(item)
    return f"The shopping list is now {run_context.session_state['shopping_list']}"


def _system(model: ScriptedModel, index: int = -1) -> str:
    first = model.requests[index].messages[0]
    assert first.role is Role.SYSTEM
    return first.content or ""


def test_the_agno_quickstart_flow_stores_state_from_the_first_run() -> None:
    db = MemoryDb()
    model = ScriptedModel(tool_call("add_item", item="milk"), "Added milk.", "Noted.")
    agent = Agent(
        model=model,
        db=db,
        session_state={"shopping_list": []},
        tools=[add_item],
        instructions="Current shopping list: {shopping_list}",
    )
    result = agent.run("Add milk", session_id="s1")
    assert result.session_state == {"shopping_list": ["milk"]}
    info = db.get_session_info("s1")
    assert info is not None and info.state == {"shopping_list": ["milk"]}
    assert "run_context" not in str(agent.tools[0].spec.parameters)
    agent.run("What is on it?", session_id="s1")
    assert _system(model) == 'Current shopping list: ["milk"]'
    assert agent.get_session_state(session_id="s1") == {"shopping_list": ["milk"]}
    stored = db.get_run("s1", result.run_id)
    assert stored is not None and stored.state_changes.set == {"shopping_list": ["milk"]}


def test_placeholders_are_off_without_state_and_unknown_keys_stay_visible() -> None:
    plain = ScriptedModel("ok")
    Agent(model=plain, instructions="Reply as JSON like {answer}").run("x", session_id="s")
    assert _system(plain) == "Reply as JSON like {answer}"
    model = ScriptedModel("ok")
    agent = Agent(
        model=model,
        session_state={"name": "Ann"},
        instructions="Hi {name} in {session_id}; {unknown} stays",
    )
    agent.run("x", session_id="s2")
    assert _system(model) == "Hi Ann in s2; {unknown} stays"


def test_add_session_state_to_context_and_run_session_state() -> None:
    model = ScriptedModel("ok", "ok")
    db = MemoryDb()
    agent = Agent(model=model, db=db, add_session_state_to_context=True)
    out = agent.run("x", session_id="s", session_state={"mood": "happy"})
    assert out.session_state == {"mood": "happy"}
    assert '"mood": "happy"' in _system(model)
    assert "<session_state>" in _system(model)
    agent.run("y", session_id="s", session_state={"topic": "tea"})
    assert agent.get_session_state(session_id="s") == {"mood": "happy", "topic": "tea"}


def test_update_session_state_creates_merges_and_removes() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel(), db=db, session_state={"a": 0})
    assert agent.get_session_state(session_id="new") == {"a": 0}
    assert agent.update_session_state({"b": 1}, session_id="new") == {"a": 0, "b": 1}
    other = Agent(model=ScriptedModel(), db=db)
    other.update_session_state({"c": 2}, session_id="new", remove=["a"])
    assert agent.get_session_state(session_id="new") == {"a": 0, "b": 1, "c": 2}
    info = db.get_session_info("new")
    assert info is not None and info.state == {"b": 1, "c": 2}
    with pytest.raises(InvalidInputError):
        agent.update_session_state({"bad": object()}, session_id="new")
    with pytest.raises(InvalidInputError):
        agent.update_session_state({"b": 2}, session_id="new", remove="b")


def test_async_state_api_and_arun() -> None:
    agent = Agent(model=ScriptedModel(tool_call("add_item", item="tea"), "ok"), tools=[add_item])
    agent.session_state = {"shopping_list": []}

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        out = await agent.arun("tea", session_id="s")
        await agent.aupdate_session_state({"x": 1}, session_id="s")
        assert out.session_state is not None
        return out.session_state, await agent.aget_session_state(session_id="s")

    first, now = asyncio.run(go())
    assert first == {"shopping_list": ["tea"]}
    assert now == {"shopping_list": ["tea"], "x": 1}


def test_unscoped_state_write_into_an_owned_session_is_not_found() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel(), db=db)
    agent.run("hi", session_id="s", user_id="alice", session_state={"a": 1})
    with pytest.raises(SessionNotFoundError):
        agent.update_session_state({"a": 2}, session_id="s")
    with pytest.raises(SessionNotFoundError):
        agent.update_session_state({"a": 2}, session_id="s", user_id="bob")
    assert agent.get_session_state(session_id="s", user_id="alice") == {"a": 1}


def test_a_tool_that_leaves_an_unstorable_state_fails_the_run_and_stores_it() -> None:
    def bad(run_context: RunContext) -> str:
        run_context.session_state["when"] = object()
        return "done"

    db = MemoryDb()
    agent = Agent(model=ScriptedModel(tool_call("bad"), "ok"), db=db, tools=[bad])
    with pytest.raises(InvalidInputError, match="JSON"):
        agent.run("x", session_id="s")
    session = db.get_session("s")
    assert session is not None and session.runs[0].status.value == "error"
    assert session.state == {}


def test_a_paused_runs_state_change_is_kept_when_it_continues() -> None:
    def note(run_context: RunContext, text: str) -> str:
        run_context.session_state["notes"] = [*run_context.session_state.get("notes", []), text]
        return "noted"

    @tool(requires_confirmation=True)
    def ship(run_context: RunContext, order: str) -> str:
        """Ship an order."""
        run_context.session_state["shipped"] = order
        return "shipped"

    db = MemoryDb()
    model = ScriptedModel([tool_call("note", text="before"), tool_call("ship", order="o1")], "done")
    agent = Agent(model=model, db=db, tools=[note, ship])
    paused = agent.run("ship it", session_id="s")
    assert paused.is_paused
    assert agent.get_session_state(session_id="s") == {"notes": ["before"]}
    # Another process changes the state while the run waits.
    agent.update_session_state({"elsewhere": True}, session_id="s")
    for requirement in paused.active_requirements:
        requirement.confirm()
    done = agent.continue_run(paused)
    assert done.session_state == {"notes": ["before"], "shipped": "o1", "elsewhere": True}
    info = db.get_session_info("s")
    assert info is not None and info.state == done.session_state


def test_a_team_members_tool_changes_the_team_sessions_state() -> None:
    member = Agent(
        name="Shopper",
        model=ScriptedModel(tool_call("add_item", item="eggs"), "Added."),
        tools=[add_item],
    )
    db = MemoryDb()
    team = Team(
        model=ScriptedModel(
            tool_call("delegate_task_to_member", member_id="Shopper", task="add eggs"), "Done."
        ),
        members=[member],
        db=db,
        session_state={"shopping_list": []},
        instructions="List: {shopping_list}",
    )
    out = team.run("eggs please", session_id="t")
    assert out.session_state == {"shopping_list": ["eggs"]}
    assert team.get_session_state(session_id="t") == {"shopping_list": ["eggs"]}
    team.update_session_state({"budget": 10}, session_id="t")
    info = db.get_session_info("t")
    assert info is not None and info.state == {"shopping_list": ["eggs"], "budget": 10}
