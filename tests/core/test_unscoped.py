"""Calls without a user_id never write into a session that has an owner (issue 18, item 4)."""

from __future__ import annotations

import asyncio

import pytest

from sessionary import Agent, Team, tool
from sessionary.errors import InvalidInputError, RunNotFoundError, SessionNotFoundError
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


def _alices(db: MemoryDb) -> None:
    Agent(model=ScriptedModel("secret answer"), db=db).run(
        "my secret", session_id="s1", user_id="alice"
    )


def test_an_unscoped_run_into_an_owned_session_is_refused_as_not_found() -> None:
    db = MemoryDb()
    _alices(db)
    model = ScriptedModel("never")
    agent = Agent(model=model, db=db)
    with pytest.raises(SessionNotFoundError) as caught:
        agent.run("hello", session_id="s1")
    assert str(caught.value) == str(SessionNotFoundError("s1"))
    with pytest.raises(SessionNotFoundError):
        asyncio.run(agent.arun("hello", session_id="s1"))
    team = Team(model=model, db=db, members=[Agent(model=model, id="m")])
    with pytest.raises(SessionNotFoundError):
        team.run("hello", session_id="s1")
    assert model.requests == []  # alice's history went to no model
    info = db.get_session_info("s1")
    assert info is not None and info.run_count == 1 and info.version == 1


def test_unscoped_rename_and_delete_of_an_owned_session_are_refused() -> None:
    db = MemoryDb()
    _alices(db)
    agent = Agent(model=ScriptedModel(), db=db)
    with pytest.raises(SessionNotFoundError):
        agent.set_session_name("s1", session_name="pwned")
    assert agent.delete_session("s1") is False
    assert asyncio.run(agent.adelete_session("s1")) is False
    info = db.get_session_info("s1")
    assert info is not None and info.name is None and info.version == 1
    # An unscoped read stays allowed (trusted server code, operators).
    assert agent.get_session("s1") is not None


def test_an_unscoped_continue_of_an_owned_paused_run_is_refused() -> None:
    calls: list[str] = []

    @tool(requires_confirmation=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        calls.append(path)
        return "deleted"

    db = MemoryDb()
    agent = Agent(
        model=ScriptedModel(tool_call("delete_file", path="/x"), "done"), db=db, tools=[delete_file]
    )
    run = agent.run("delete /x", session_id="s1", user_id="alice")
    run.active_requirements[0].confirm()
    with pytest.raises(RunNotFoundError):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    assert calls == []
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.is_paused


def test_sessions_without_an_owner_still_work_without_a_user_id() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel("a", "b"), db=db)
    agent.run("one", session_id="open")
    agent.run("two", session_id="open")
    agent.set_session_name("open", session_name="named")
    assert agent.delete_session("open") is True


def test_require_user_id_refuses_unscoped_reads_and_writes() -> None:
    db = MemoryDb()
    _alices(db)
    model = ScriptedModel("hi")
    strict = Agent(model=model, db=db, require_user_id=True)
    for call in (
        lambda: strict.run("hello", session_id="s2"),
        lambda: strict.get_session("s1"),
        lambda: strict.get_chat_history("s1"),
        lambda: strict.list_sessions(),
        lambda: strict.delete_session("s1"),
    ):
        with pytest.raises(InvalidInputError, match="require_user_id"):
            call()
    assert model.requests == []
    assert strict.get_session("s1", user_id="alice") is not None
    team = Team(model=model, db=db, members=[Agent(model=model, id="m")], require_user_id=True)
    with pytest.raises(InvalidInputError, match="require_user_id"):
        team.get_session("s1")
    with_default = Agent(model=model, db=db, user_id="alice", require_user_id=True)
    assert with_default.get_session("s1") is not None
