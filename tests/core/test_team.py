"""Teams on the in-memory store: delegation, member runs in the team session, pausing."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sessionary import Agent, Run, RunStatus, SessionType, Team, TeamSession, tool
from sessionary.domain.messages import Role
from sessionary.errors import (
    InvalidInputError,
    ModelServerError,
    RunAlreadyContinuedError,
    RunExpiredError,
    RunNotPausedError,
)
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call

DELEGATE = "delegate_task_to_member"


def delegate(member_id: str, task: str) -> Any:
    return tool_call(DELEGATE, member_id=member_id, task=task)


@pytest.fixture
def db() -> MemoryDb:
    return MemoryDb()


def make_team(db: MemoryDb, team_replies: list[Any], members: list[Agent], **options: Any) -> Team:
    return Team(
        model=ScriptedModel(*team_replies),
        members=members,
        db=db,
        id="support-team",
        instructions="Route questions to the right member.",
        **options,
    )


def test_the_team_delegates_and_member_runs_are_stored_under_the_team_run(db: MemoryDb) -> None:
    researcher = Agent(
        id="researcher", name="Researcher", model=ScriptedModel("Paris is the capital.")
    )
    writer = Agent(name="Writer", model=ScriptedModel("Unused"))
    team = make_team(
        db,
        [delegate("researcher", "Find the capital of France"), "The capital is Paris."],
        [researcher, writer],
    )

    run = team.run("What is the capital of France?", session_id="s1", user_id="u1")

    assert run.status is RunStatus.COMPLETED and run.content == "The capital is Paris."
    assert run.team_id == "support-team" and run.parent_run_id is None
    session = team.get_session(session_id="s1")
    assert isinstance(session, TeamSession)
    assert session.session_type is SessionType.TEAM and session.team_id == "support-team"
    member_run, team_run = session.runs  # the member's run is stored first
    assert team_run.run_id == run.run_id
    assert member_run.parent_run_id == run.run_id
    assert member_run.team_id == "support-team" and member_run.agent_id == "researcher"
    assert member_run.user_id == "u1"
    assert member_run.input == "Find the capital of France"
    assert member_run.content == "Paris is the capital."
    tool_result = next(m for m in run.messages if m.role is Role.TOOL)
    assert tool_result.name == DELEGATE and tool_result.content == "Paris is the capital."
    listed = db.list_sessions(team_id="support-team").items
    assert [i.session_id for i in listed] == ["s1"]


def test_chat_history_is_the_user_facing_conversation(db: MemoryDb) -> None:
    member = Agent(name="Helper", model=ScriptedModel("member says hi"))
    team = make_team(db, [delegate("Helper", "say hi"), "Team says hi"], [member])
    team.run("Hello", session_id="s1")

    history = team.get_chat_history(session_id="s1")
    assert [(m.role, m.content) for m in history] == [
        (Role.USER, "Hello"),
        (Role.ASSISTANT, "Team says hi"),
    ]
    session = team.get_session(session_id="s1")
    assert session is not None
    contents = [m.content for m in session.get_messages()]
    assert "say hi" in contents and "member says hi" in contents
    assert team.get_messages(session_id="s1") == session.get_messages()


def test_members_are_found_by_id_or_name(db: MemoryDb) -> None:
    member = Agent(id="web-researcher", name="Web Researcher", model=ScriptedModel("a", "b", "c"))
    team = make_team(
        db,
        [
            delegate("web-researcher", "one"),
            delegate("Web Researcher", "two"),
            delegate("web_researcher", "three"),
            "done",
        ],
        [member],
    )
    run = team.run("Go", session_id="s1")
    results = [m.content for m in run.messages if m.role is Role.TOOL]
    assert results == ["a", "b", "c"]
    assert team.get_member("WEB RESEARCHER") is member
    assert team.get_member("nobody") is None


def test_an_unknown_member_is_reported_to_the_model(db: MemoryDb) -> None:
    member = Agent(name="Helper", model=ScriptedModel())
    team = make_team(db, [delegate("ghost", "boo"), "Sorry."], [member])
    run = team.run("Go", session_id="s1")
    error = next(m for m in run.messages if m.role is Role.TOOL)
    assert error.metadata.get("is_error")
    assert "ghost" in (error.content or "") and "'Helper'" in (error.content or "")
    assert len(team.get_session(session_id="s1").runs) == 1  # type: ignore[union-attr]


def test_the_team_model_sees_its_members(db: MemoryDb) -> None:
    model = ScriptedModel("ok")
    member = Agent(name="Billing", model=ScriptedModel(), instructions="Answer billing questions.")
    Team(model=model, members=[member], db=db, instructions="Be nice.").run("Hi", session_id="s")
    system = model.requests[0].messages[0]
    assert system.role is Role.SYSTEM and system.content is not None
    assert "Be nice." in system.content and "'Billing'" in system.content
    assert "Answer billing questions." in system.content
    assert [spec.name for spec in model.requests[0].tools] == [DELEGATE]
    assert set(model.requests[0].tools[0].parameters["required"]) == {"member_id", "task"}


def test_naming_a_team_session(db: MemoryDb) -> None:
    team = make_team(db, ["Hi"], [Agent(name="A", model=ScriptedModel())])
    team.run("Hello", session_id="session_001")
    team.set_session_name(session_id="session_001", session_name="Product Launch Planning")
    assert team.get_session_name(session_id="session_001") == "Product Launch Planning"


def test_history_carries_the_team_conversation_only(db: MemoryDb) -> None:
    model = ScriptedModel(delegate("A", "task one"), "first answer", "second answer")
    team = Team(
        model=model,
        members=[Agent(name="A", model=ScriptedModel("member reply"))],
        db=db,
        add_history_to_context=True,
    )
    team.run("first question", session_id="s1")
    team.run("second question", session_id="s1")
    sent = [m.content for m in model.requests[-1].messages if m.role is not Role.SYSTEM]
    assert sent[:2] == ["first question", None]  # the user message, then the delegation call
    assert sent[-1] == "second question"
    assert "task one" not in sent  # the member's own input stays out of the team's history


def test_a_member_failure_reaches_the_team_model(db: MemoryDb) -> None:
    member = Agent(name="Flaky", model=ScriptedModel(ModelServerError("member down")))
    team = make_team(db, [delegate("Flaky", "try"), "It failed, sorry."], [member])
    run = team.run("Go", session_id="s1")
    assert run.status is RunStatus.COMPLETED
    error = next(m for m in run.messages if m.role is Role.TOOL)
    assert "member down" in (error.content or "")
    member_run = team.get_session(session_id="s1").runs[0]  # type: ignore[union-attr]
    assert member_run.status is RunStatus.ERROR and member_run.parent_run_id == run.run_id


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ("agent", "list of agents"),
        ([object()], "must be an Agent"),
        ([Agent(model=ScriptedModel())], "no id or name"),
        ([Agent(name="A", model=ScriptedModel()), Agent(id="a", model=ScriptedModel())], "two"),
        ([Agent(name="A")], "no model"),
    ],
)
def test_bad_members_are_refused(members: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Team(model=ScriptedModel(), members=members)


def test_a_team_without_a_model_or_with_bad_input_is_refused(db: MemoryDb) -> None:
    with pytest.raises(InvalidInputError, match="no model"):
        Team(members=[], db=db).run("Hi")
    with pytest.raises(InvalidInputError, match="input must be a str"):
        Team(model=ScriptedModel(), db=db).run(42)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- pausing


class Deployments:
    def __init__(self) -> None:
        self.done: list[str] = []

    def agent(self, *replies: Any) -> Agent:
        @tool(requires_confirmation=True)
        def deploy(env: str) -> str:
            """Deploy to an environment."""
            self.done.append(env)
            return f"deployed to {env}"

        return Agent(name="Ops", model=ScriptedModel(*replies), tools=[deploy])


def paused_team_run(db: MemoryDb, deployments: Deployments, **options: Any) -> Run:
    ops = deployments.agent(tool_call("deploy", env="prod"))
    team = make_team(db, [delegate("Ops", "Deploy to prod")], [ops], **options)
    return team.run("Ship it", session_id="s1", user_id="u1")


def test_a_member_tool_that_needs_confirmation_pauses_the_team(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments)

    assert run.is_paused and deployments.done == []
    [req] = run.active_requirements
    assert req.needs_confirmation and req.tool_name == "deploy"
    member_run, team_run = db.get_runs("s1")
    assert member_run.is_paused and member_run.parent_run_id == run.run_id
    assert team_run == run
    assert [r.id for r in member_run.requirements] == [req.id]

    req.confirm()
    ops = deployments.agent("Deployed.")
    team = make_team(db, ["Shipped: deployed."], [ops])
    done = team.continue_run(
        run_id=run.run_id, session_id="s1", requirements=run.requirements, user_id="u1"
    )

    assert done.status is RunStatus.COMPLETED and done.content == "Shipped: deployed."
    assert done.run_id == run.run_id and deployments.done == ["prod"]
    member_run, team_run = db.get_runs("s1")
    assert member_run.status is RunStatus.COMPLETED and member_run.content == "Deployed."
    assert team_run == done
    delegation = next(m for m in done.messages if m.role is Role.TOOL)
    assert delegation.name == DELEGATE and delegation.content == "Deployed."
    assert "suspended_calls" not in done.metadata
    history = team.get_chat_history(session_id="s1")
    assert [m.content for m in history] == ["Ship it", "Shipped: deployed."]


def test_a_rejection_reaches_the_member_and_then_the_team(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments)
    run.active_requirements[0].reject("not on a Friday")
    member_model = ScriptedModel("I did not deploy.")
    ops = Agent(name="Ops", model=member_model, tools=deployments.agent().tools)
    team = make_team(db, ["Not shipped."], [ops])

    done = team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")

    assert done.content == "Not shipped." and deployments.done == []
    assert "not on a Friday" in (member_model.requests[-1].messages[-1].content or "")


def test_a_team_run_can_pause_several_times(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments)
    run.active_requirements[0].confirm()
    ops = deployments.agent(tool_call("deploy", env="eu"), "Deployed twice.")
    team = make_team(db, ["All regions done."], [ops])

    second = team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")
    assert second.is_paused and second.run_id == run.run_id
    assert [r.tool_args for r in second.active_requirements] == [{"env": "eu"}]
    assert deployments.done == ["prod"]

    second.active_requirements[0].confirm()
    done = team.continue_run(second.run_id, "s1", requirements=second.requirements, user_id="u1")
    assert done.status is RunStatus.COMPLETED and deployments.done == ["prod", "eu"]
    assert [r.status for r in db.get_runs("s1")] == [RunStatus.COMPLETED, RunStatus.COMPLETED]


def test_continuing_a_team_run_twice_is_a_conflict(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments)
    run.active_requirements[0].confirm()
    team = make_team(db, ["ok", "ok"], [deployments.agent("done", "done")])
    team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")
    with pytest.raises(RunAlreadyContinuedError):
        team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")
    assert deployments.done == ["prod"]


def test_an_expired_team_run_cancels_its_paused_member_runs(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments, pause_expires_after=60)
    stale = attrs.evolve(run, metadata={**run.metadata, "pause_expires_at": run.created_at - 1})
    db.update_run(stale, expected_version=run.version)
    run.active_requirements[0].confirm()
    team = make_team(db, ["ok"], [deployments.agent("done")])

    with pytest.raises(RunExpiredError):
        team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")
    assert [r.status for r in db.get_runs("s1")] == [RunStatus.CANCELLED, RunStatus.CANCELLED]
    assert deployments.done == []
    with pytest.raises(RunNotPausedError):
        team.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")


def test_a_member_run_is_not_continued_as_a_team_run(db: MemoryDb) -> None:
    deployments = Deployments()
    run = paused_team_run(db, deployments)
    member_run = db.get_runs("s1")[0]
    team = make_team(db, ["ok"], [deployments.agent("done")])
    run.active_requirements[0].confirm()
    with pytest.raises(InvalidInputError, match="made by team"):
        Team(
            model=ScriptedModel(), members=[deployments.agent()], db=db, id="other-team"
        ).continue_run(run.run_id, "s1", requirements=run.requirements, user_id="u1")
    assert team.get_run_output(member_run.run_id, "s1", user_id="u1") == member_run
    with pytest.raises(InvalidInputError, match="member run of team run"):
        team.continue_run(member_run.run_id, "s1", requirements=run.requirements, user_id="u1")
    with pytest.raises(InvalidInputError, match="member run of team run"):
        Agent(name="Ops", model=ScriptedModel(), db=db).continue_run(
            member_run.run_id, "s1", requirements=run.requirements, user_id="u1"
        )
    assert deployments.done == []
    assert db.get_runs("s1")[0].is_paused


# --------------------------------------------------------------------------- spec snippets


def test_the_spec_team_caching_snippet() -> None:
    team = Team(
        model=ScriptedModel("one", "two"),
        session_id="team_session",
        cache_session=True,  # Enable in-memory caching
    )

    # First run loads from database and caches
    team.run("First message")

    # Subsequent runs use cached session (faster)
    team.run("Second message")

    history = team.get_chat_history(session_id="team_session")
    assert [m.content for m in history] == ["First message", "one", "Second message", "two"]


def test_the_spec_team_autogenerated_name(db: MemoryDb) -> None:
    model = ScriptedModel(delegate("A", "plan"), "Here is the plan.", "Product Launch Strategy")
    team = Team(model=model, members=[Agent(name="A", model=ScriptedModel("a plan"))], db=db)
    team.run("Help me plan our product launch", session_id="session_456")

    session = team.set_session_name(session_id="session_456", autogenerate=True)
    # Access the generated name
    name = team.get_session_name(session_id="session_456")
    assert name == "Product Launch Strategy" == session.name


def test_agents_and_teams_do_not_continue_each_others_runs(db: MemoryDb) -> None:
    deployments = Deployments()
    team_run = paused_team_run(db, deployments)
    team_run.active_requirements[0].confirm()
    agent = Agent(name="Ops", model=ScriptedModel("x"), db=db, tools=deployments.agent().tools)
    with pytest.raises(
        InvalidInputError, match="in the team session 's1'; continue it with team.continue_run"
    ):
        agent.continue_run(team_run.run_id, "s1", requirements=team_run.requirements, user_id="u1")

    agent_run = Agent(
        model=ScriptedModel(tool_call("deploy", env="qa")),
        db=db,
        tools=deployments.agent().tools,
    ).run("Deploy qa", session_id="a1")
    agent_run.active_requirements[0].confirm()
    team = make_team(db, ["ok"], [deployments.agent("done")])
    with pytest.raises(
        InvalidInputError, match="in the agent session 'a1'; continue it with agent.continue_run"
    ):
        team.continue_run(agent_run.run_id, "a1", requirements=agent_run.requirements)
    assert deployments.done == []
    assert db.get_run("s1", team_run.run_id).is_paused  # type: ignore[union-attr]
    assert db.get_run("a1", agent_run.run_id).is_paused  # type: ignore[union-attr]


def test_two_delegations_in_one_turn_pause_and_resume_together(db: MemoryDb) -> None:
    deployments = Deployments()
    ops = deployments.agent(tool_call("deploy", env="prod"))

    @tool(requires_confirmation=True)
    def announce(text: str) -> str:
        """Announce a release."""
        deployments.done.append(f"announced {text}")
        return "announced"

    comms = Agent(
        name="Comms", model=ScriptedModel(tool_call("announce", text="v2")), tools=[announce]
    )
    notes = Agent(name="Notes", model=ScriptedModel("Release notes written."))
    turn = [delegate("Ops", "Deploy"), delegate("Comms", "Announce"), delegate("Notes", "Write")]
    team = make_team(db, [turn], [ops, comms, notes])

    run = team.run("Release v2", session_id="s1")

    assert run.is_paused
    assert [r.tool_name for r in run.active_requirements] == ["deploy", "announce"]
    assert [m.content for m in run.messages if m.role is Role.TOOL] == ["Release notes written."]
    for requirement in run.active_requirements:
        requirement.confirm()
    ops_after = deployments.agent("Deployed.")
    comms_after = Agent(name="Comms", model=ScriptedModel("Announced."), tools=[announce])
    team = make_team(db, ["Released, announced, documented."], [ops_after, comms_after, notes])

    done = team.continue_run(run.run_id, "s1", requirements=run.requirements)

    assert done.status is RunStatus.COMPLETED
    assert deployments.done == ["prod", "announced v2"]
    results = {m.tool_call_id: m.content for m in done.messages if m.role is Role.TOOL}
    calls = done.messages[2].tool_calls
    assert [results[c.id] for c in calls] == ["Deployed.", "Announced.", "Release notes written."]
    statuses = [(r.agent_id, r.status) for r in db.get_runs("s1")]
    assert statuses == [
        ("Ops", RunStatus.COMPLETED),
        ("Comms", RunStatus.COMPLETED),
        ("Notes", RunStatus.COMPLETED),
        (None, RunStatus.COMPLETED),
    ]


def test_a_team_takes_the_same_naming_and_caching_options_as_an_agent() -> None:
    from sessionary.caching.memory import MemoryCache

    cache = MemoryCache()
    member = Agent(model=ScriptedModel("member answer"), id="helper")
    team = Team(
        model=ScriptedModel("Team answer", "Team Kickoff Notes"),
        members=[member],
        db="memory://",
        cache_session=True,
        session_cache=cache,
        cache_trust_seconds=0.5,
        naming_model=ScriptedModel("Quarterly Planning Chat"),
        strict_naming=True,
    )
    team.run("Plan the quarter", session_id="t-opts")
    session = team.set_session_name(session_id="t-opts", autogenerate=True)
    assert session.name == "Quarterly Planning Chat"
    assert session.name_source == "model"
    stats = team.cache_stats
    assert stats is not None
    assert stats.hits + stats.misses > 0
