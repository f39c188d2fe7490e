"""Agent and Team share one constructor: the same keywords, the same checks, the same errors."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from sessionary import Agent, Team
from sessionary.caching import CachingStore
from sessionary.errors import InvalidInputError
from sessionary.naming import NamingPolicy
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel

OWNERS = [Agent, Team]


def _keywords(cls: type) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(cls).parameters)


def test_agent_and_team_take_the_same_arguments_but_tools_and_members() -> None:
    agent, team = _keywords(Agent), _keywords(Team)
    assert set(agent) - set(team) == {"tools"}
    assert set(team) - set(agent) == {"members"}
    for name in set(agent) & set(team):
        assert agent[name].default == team[name].default, name
        assert agent[name].kind == team[name].kind, name
    # model and db are positional, as documented: Agent(model, db), Team(model, members, db)
    assert list(agent)[:2] == ["model", "db"]
    assert list(team)[:3] == ["model", "members", "db"]


@pytest.mark.parametrize("owner", OWNERS)
def test_every_documented_keyword_is_kept(owner: Any) -> None:
    db = MemoryDb()
    made = owner(
        model="scripted:lead",
        db=db,
        name="Helper",
        session_id="my_session",
        user_id="user_1",
        instructions=["Be brief.", "Be kind."],
        add_history_to_context=True,
        num_history_runs=5,
        max_steps=4,
        pause_expires_after=timedelta(minutes=2),
        cache_session=True,
        cache_trust_seconds=1.5,
        naming_model="scripted:namer",
        naming=NamingPolicy(),
        strict_naming=True,
        auto_name_after_runs=2,
    )
    assert made.id == "Helper"  # the id defaults to the name
    assert (made.session_id, made.user_id) == ("my_session", "user_1")
    assert made.instructions == "Be brief.\nBe kind."
    assert (made.add_history_to_context, made.num_history_runs, made.max_steps) == (True, 5, 4)
    assert made.pause_expires_after == 120.0
    assert isinstance(made.db, CachingStore) and made.cache_trust_seconds == 1.5
    assert made.model.label == "scripted:lead"
    assert made.naming_model.label == "scripted:namer"
    assert (made.strict_naming, made.auto_name_after_runs) == (True, 2)


@pytest.mark.parametrize("owner", OWNERS)
def test_the_spec_snippet_without_a_db_caches_in_memory(owner: Any) -> None:
    made = owner(model=ScriptedModel(), session_id="my_session", cache_session=True)
    assert isinstance(made.db, CachingStore)
    assert made.session_id == "my_session"


BAD: list[tuple[dict[str, Any], str]] = [
    ({"num_history_runs": -1}, "num_history_runs must be a non-negative int"),
    ({"num_history_runs": 2.0}, "num_history_runs"),
    ({"max_steps": 0}, "max_steps must be a positive int"),
    ({"max_steps": True}, "max_steps"),
    ({"add_history_to_context": "yes"}, "add_history_to_context must be True or False"),
    ({"strict_naming": 1}, "strict_naming must be True or False"),
    ({"auto_name_after_runs": 0}, "auto_name_after_runs must be a positive int or None"),
    ({"naming": "strict"}, "naming must be a NamingPolicy or None"),
    ({"naming_model": 42}, "model must be a Model"),
    ({"name": 7}, "name must be a str or None"),
    ({"id": ""}, "id"),
    ({"session_id": "a\nb"}, "session_id"),
    ({"user_id": 3}, "user_id"),
    ({"instructions": ["ok", 1]}, "instructions must be a str or a list of str"),
    ({"pause_expires_after": 0}, "pause_expires_after must be a positive number"),
    ({"cache_session": "yes"}, "cache_session must be True or False"),
    ({"cache_trust_seconds": 2.0}, "cache_session is False"),
    ({"db": 42}, "db must be"),
    ({"model": 42}, "model must be a Model"),
]


@pytest.mark.parametrize("owner", OWNERS)
@pytest.mark.parametrize(("options", "message"), BAD, ids=[str(next(iter(o))) for o, _ in BAD])
def test_a_bad_argument_is_refused_with_its_name(
    owner: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        owner(**options)


@pytest.mark.parametrize("owner", OWNERS)
def test_an_unknown_keyword_is_a_type_error_naming_it(owner: Any) -> None:
    with pytest.raises(TypeError, match="cache_sesion"):
        owner(model=ScriptedModel(), cache_sesion=True)


def test_settings_changed_later_are_checked_too() -> None:
    agent = Agent(model=ScriptedModel())
    with pytest.raises(InvalidInputError, match="num_history_runs"):
        agent.num_history_runs = -1
    agent.model = "scripted:other"  # type: ignore[assignment]
    assert agent.model is not None and agent.model.label == "scripted:other"
