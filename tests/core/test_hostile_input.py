"""Text that is not valid Unicode, and values nested too deep, are refused before the model."""

from __future__ import annotations

import asyncio

import pytest

from sessionary import Agent, Team
from sessionary.errors import InvalidInputError
from sessionary.storage.checks import MAX_DEPTH
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel
from sessionary.testing.storage_input import LONE, nested


def test_a_lone_surrogate_in_the_input_is_refused_before_the_model_is_called() -> None:
    model = ScriptedModel("never")
    db = MemoryDb()
    agent = Agent(model=model, db=db)
    with pytest.raises(InvalidInputError, match="surrogate"):
        agent.run(f"hello {LONE}", session_id="s1")
    with pytest.raises(InvalidInputError, match="surrogate"):
        asyncio.run(agent.arun(LONE, session_id="s1"))
    team = Team(model=model, db=db, members=[Agent(model=model, id="m")])
    with pytest.raises(InvalidInputError, match="surrogate"):
        team.run(LONE, session_id="t1")
    assert model.requests == []
    assert db.get_session_info("s1") is None and db.get_session_info("t1") is None


def test_session_state_nested_thousands_deep_is_refused_naming_the_limit() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel("hi"), db=db)
    agent.run("hello", session_id="s1")
    with pytest.raises(InvalidInputError, match=f"nested more than {MAX_DEPTH} levels"):
        db.update_session("s1", state=nested(5000))
    info = db.get_session_info("s1")
    assert info is not None and info.version == 1 and info.state == {}


def test_a_model_answer_that_is_not_valid_unicode_is_refused_and_carried_by_the_error() -> None:
    """The model's answer is refused at the final write, and not lost: ``exc.run`` has it."""
    db = MemoryDb()
    agent = Agent(model=ScriptedModel(f"broken {LONE}"), db=db)
    with pytest.raises(InvalidInputError, match="surrogate") as caught:
        agent.run("hello", session_id="s1")
    assert caught.value.run is not None and caught.value.run.content == f"broken {LONE}"
    assert db.get_session_info("s1") is None
