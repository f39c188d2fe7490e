"""Teams name their sessions as agents do: the spec's Team snippets and the team transcript."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionary import Agent
from sessionary.agent.team import Team
from sessionary.errors import SessionNotFoundError
from sessionary.naming import NamingPolicy, set_default_policy
from sessionary.testing import ScriptedModel, tool_call


@pytest.fixture(autouse=True)
def core_only_default() -> Iterator[None]:
    set_default_policy(NamingPolicy(guardrails=[], fallbacks=[]))
    yield
    set_default_policy(None)


def make_team(*naming_replies: str) -> Team:
    writer = Agent(name="Writer", model=ScriptedModel("Launch copy, drafted."))
    lead = ScriptedModel(
        tool_call("delegate_task_to_member", member_id="Writer", task="Draft launch copy"),
        "Here is the launch copy.",
        *naming_replies,
    )
    team = Team(model=lead, members=[writer], db="memory://")
    team.run("Plan our product launch", session_id="session_001", user_id="ann")
    return team


def test_spec_team_manual_naming() -> None:
    team = make_team()

    team.set_session_name(
        session_id="session_001", session_name="Product Launch Planning", user_id="ann"
    )
    name = team.get_session_name(session_id="session_001")

    assert name == "Product Launch Planning"


def test_spec_team_auto_generated_name_reads_the_team_conversation_only() -> None:
    team = make_team("Product Launch Strategy")

    session = team.set_session_name(
        session_id="session_001",
        autogenerate=True,
        user_id="ann",
    )
    name = team.get_session_name(session_id="session_001")

    assert name == "Product Launch Strategy"
    assert (session.name, session.name_source) == (name, "model")
    assert len(session.runs) == 2  # the member's run and the team's
    model = team.model
    assert isinstance(model, ScriptedModel)
    excerpt = model.requests[-1].messages[1].content or ""
    assert "user: Plan our product launch" in excerpt
    assert "assistant: Here is the launch copy." in excerpt
    assert "Draft launch copy" not in excerpt and "drafted" not in excerpt


def test_team_naming_is_scoped_to_the_user() -> None:
    team = make_team()
    with pytest.raises(SessionNotFoundError):
        team.set_session_name(session_id="session_001", session_name="x", user_id="bob")
    assert team.get_session_name(session_id="session_001", user_id="ann") is None
