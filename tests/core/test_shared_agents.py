"""One agent (or team) object serving many users: generated session IDs per user, run
metadata, and continue_run streaming (issue 19 items 4, 6 and 7)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sessionary import Agent, Run, RunStatus, Team, tool
from sessionary.errors import InvalidIdError, InvalidInputError, ModelError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


def _owner(kind: str, db: MemoryDb, *answers: Any, tools: list[Any] | None = None) -> Agent | Team:
    if kind == "agent":
        return Agent(model=ScriptedModel(*answers), db=db, tools=tools or [], id="helper")
    member = Agent(name="Ops", model=ScriptedModel(*answers), tools=tools or [])
    return Team(model=ScriptedModel(), members=[member], db=db, id="team")


# --------------------------------------------------------------------------- item 4


@pytest.mark.parametrize("kind", ["agent", "team"])
def test_one_owner_object_serves_two_users_each_in_their_own_generated_session(kind: str) -> None:
    db = MemoryDb()
    owner = _owner(kind, db)
    alice_1 = owner.run("alice one", user_id="alice")
    bob_1 = owner.run("bob one", user_id="bob")  # an OwnershipError before the fix
    alice_2 = owner.run("alice two", user_id="alice")
    bob_2 = owner.run("bob two", user_id="bob")
    assert uuid.UUID(alice_1.session_id).version == 4
    assert alice_1.session_id != bob_1.session_id
    assert alice_2.session_id == alice_1.session_id and bob_2.session_id == bob_1.session_id
    assert owner.session_id is None  # the owner's default is not taken over by a user
    assert owner.current_session_id("alice") == alice_1.session_id
    assert owner.current_session_id("bob") == bob_1.session_id
    assert owner.current_session_id("carol") is None
    alice_says = [m.content for m in owner.get_chat_history(user_id="alice")]
    assert "alice one" in alice_says and "alice two" in alice_says
    assert not any("bob" in (text or "") for text in alice_says)
    with pytest.raises(InvalidIdError, match="no session_id given"):
        owner.get_chat_history(user_id="carol")


@pytest.mark.parametrize("kind", ["agent", "team"])
def test_two_users_on_one_owner_under_arun(kind: str) -> None:
    owner = _owner(kind, MemoryDb())

    async def both() -> list[Run]:
        first = await asyncio.gather(
            owner.arun("alice one", user_id="alice"), owner.arun("bob one", user_id="bob")
        )
        second = await asyncio.gather(
            owner.arun("alice two", user_id="alice"), owner.arun("bob two", user_id="bob")
        )
        return [*first, *second]

    alice_1, bob_1, alice_2, bob_2 = asyncio.run(both())
    assert alice_1.session_id != bob_1.session_id
    assert (alice_2.session_id, bob_2.session_id) == (alice_1.session_id, bob_1.session_id)
    history = asyncio.run(owner.aget_chat_history(user_id="bob"))
    assert [m.content for m in history if m.role.value == "user"] == ["bob one", "bob two"]


def test_one_user_keeps_the_spec_sticky_session_and_a_default_user_counts_as_that_user() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://", user_id="u1")
    first = agent.run("one")
    assert agent.run("two").session_id == first.session_id
    assert agent.run("three", user_id="u1").session_id == first.session_id
    assert agent.current_session_id() == first.session_id
    assert len(agent.get_chat_history()) == 6


def test_a_session_id_given_to_the_owner_is_every_users_default_as_before() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://", session_id="shared")
    assert agent.run("hi").session_id == "shared"
    assert agent.current_session_id("anyone") == "shared"


def test_the_remembered_ids_are_bounded_to_the_most_recent_users() -> None:
    from sessionary.agent.sticky import GeneratedSessions

    ids = GeneratedSessions(limit=2)
    a = ids.get_or_make("a")
    ids.get_or_make("b")
    assert ids.get("a") == a  # a is now the most recent
    ids.get_or_make("c")
    assert ids.get("b") is None and ids.get("a") == a and ids.get("c") is not None


# --------------------------------------------------------------------------- item 6


@pytest.mark.parametrize("kind", ["agent", "team"])
def test_run_metadata_is_stored_on_the_run_and_on_the_session_it_starts(kind: str) -> None:
    db = MemoryDb()
    owner = _owner(kind, db)
    first = owner.run("hi", session_id="s1", user_id="u", metadata={"ticket": "A-1", "n": 2})
    assert first.metadata == {"ticket": "A-1", "n": 2}
    info = db.get_session_info("s1", user_id="u")
    assert info is not None and info.metadata == {"ticket": "A-1", "n": 2}
    second = owner.run("more", session_id="s1", user_id="u", metadata={"channel": "web"})
    stored = db.get_run("s1", second.run_id, user_id="u")
    assert stored is not None and stored.metadata == {"channel": "web"}
    info = db.get_session_info("s1", user_id="u")
    assert info is not None and info.metadata == {"ticket": "A-1", "n": 2}  # left as it was


def test_run_metadata_under_arun_and_with_a_stream() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel(), db=db)
    run = asyncio.run(agent.arun("hi", session_id="s1", metadata={"ticket": "A-2"}))
    assert run.metadata == {"ticket": "A-2"}
    items = list(agent.run("x", session_id="s2", stream=True, metadata={"channel": "sms"}))
    assert isinstance(items[-1], Run) and items[-1].metadata == {"channel": "sms"}
    for sid, wanted in (("s1", {"ticket": "A-2"}), ("s2", {"channel": "sms"})):
        info = db.get_session_info(sid)
        assert info is not None and info.metadata == wanted


def test_a_paused_run_keeps_its_metadata_beside_its_own_keys() -> None:
    @tool(requires_confirmation=True)
    def refund(order: str) -> str:
        """Refund an order."""
        return f"refunded {order}"

    agent = Agent(
        model=ScriptedModel(tool_call("refund", order="A-1"), "Refunded."),
        db="memory://",
        tools=[refund],
        pause_expires_after=3600,
    )
    paused = agent.run("refund A-1", session_id="s1", metadata={"ticket": "T-9"})
    assert paused.is_paused and paused.metadata["ticket"] == "T-9"
    assert paused.pause_expires_at is not None
    for requirement in paused.active_requirements:
        requirement.confirm()
    done = agent.continue_run(paused)
    assert done.status is RunStatus.COMPLETED and done.metadata == {"ticket": "T-9"}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("ticket", "metadata must be a dict, got str"),
        ({1: "x"}, "metadata keys must be str"),
        ({"x": object()}, "JSON-compatible"),
        ({"x": float("nan")}, "JSON-compatible"),
        ({"pause_expires_at": 1}, "reserved"),
        ({"x": "\ud83d"}, "surrogate"),
    ],
)
def test_bad_metadata_is_refused_before_the_model_is_called(metadata: Any, message: str) -> None:
    model = ScriptedModel()
    db = MemoryDb()
    agent = Agent(model=model, db=db)
    with pytest.raises(InvalidInputError, match=message):
        agent.run("hi", session_id="s1", metadata=metadata)
    assert model.requests == [] and db.get_session_info("s1") is None


# --------------------------------------------------------------------------- item 7


class _Words(Model):
    """Streams its answer in words; the first answer is a confirmation-needing call."""

    provider = "words"

    def __init__(self, *answers: Any, fail: bool = False) -> None:
        self.id = "w"
        self.script = ScriptedModel(*answers)
        self.fail = fail

    def respond(self, request: ModelRequest) -> ModelResponse:
        return self.script.respond(request)

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        response = self.script.respond(request)
        for word in (response.message.content or "").split(" "):
            yield ContentDelta(word + " ")
            if self.fail:
                raise ConnectionError("stream broke")
        yield response

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        for item in self.stream(request):
            yield item


@tool(requires_confirmation=True)
def deploy(env: str) -> str:
    """Deploy the build."""
    return f"deployed to {env}"


def _paused_agent(fail: bool = False) -> tuple[Agent, Run]:
    model = _Words(tool_call("deploy", env="prod"), "Deployed to prod now", fail=fail)
    agent = Agent(model=model, db="memory://", tools=[deploy])
    paused = agent.run("deploy", session_id="s1")
    assert paused.is_paused
    for requirement in paused.active_requirements:
        requirement.confirm()
    return agent, paused


def test_continue_run_streams_deltas_then_the_stored_run() -> None:
    agent, paused = _paused_agent()
    items = list(agent.continue_run(paused, stream=True))
    assert items[:-1] == [ContentDelta("Deployed "), ContentDelta("to "), ContentDelta("prod "),
                          ContentDelta("now ")]  # fmt: skip
    run = items[-1]
    assert isinstance(run, Run) and run.status is RunStatus.COMPLETED
    assert run.content == "Deployed to prod now"
    stored = agent.get_run_output(paused.run_id, session_id="s1")
    assert stored is not None and stored.status is RunStatus.COMPLETED


def test_acontinue_run_streams_as_an_async_iterator() -> None:
    agent, paused = _paused_agent()

    async def collect() -> list[ContentDelta | Run]:
        return [item async for item in agent.acontinue_run(paused, stream=True)]

    items = asyncio.run(collect())
    assert [i.text for i in items[:-1] if isinstance(i, ContentDelta)] == [
        "Deployed ",
        "to ",
        "prod ",
        "now ",
    ]
    assert isinstance(items[-1], Run) and items[-1].status is RunStatus.COMPLETED


def test_an_abandoned_continue_stream_is_stored_cancelled_with_what_arrived() -> None:
    agent, paused = _paused_agent()
    stream = agent.continue_run(paused, stream=True)
    assert next(stream) == ContentDelta("Deployed ")
    stream.close()  # type: ignore[attr-defined]
    stored = agent.get_run_output(paused.run_id, session_id="s1")
    assert stored is not None and stored.status is RunStatus.CANCELLED
    assert stored.content == "Deployed "
    assert stored.messages[-1].metadata == {"partial": True}


def test_a_broken_continue_stream_is_stored_as_error_and_raised() -> None:
    agent, paused = _paused_agent(fail=True)
    stream = agent.continue_run(paused, stream=True)
    with pytest.raises(ModelError, match="stream broke"):
        list(stream)
    stored = agent.get_run_output(paused.run_id, session_id="s1")
    assert stored is not None and stored.status is RunStatus.ERROR
    assert stored.content == "Deployed "


def test_a_team_continue_run_streams_the_team_models_text() -> None:
    ops = Agent(name="Ops", model=ScriptedModel(tool_call("deploy", env="prod"), "done"),
                tools=[deploy])  # fmt: skip
    team = Team(
        model=_Words(
            tool_call("delegate_task_to_member", member_id="Ops", task="deploy"),
            "Ops deployed it",
        ),
        members=[ops],
        db="memory://",
    )
    paused = team.run("ship it", session_id="t1")
    assert paused.is_paused
    for requirement in paused.active_requirements:
        requirement.confirm()
    items = list(team.continue_run(paused, stream=True))
    assert [i.text for i in items[:-1] if isinstance(i, ContentDelta)] == [
        "Ops ",
        "deployed ",
        "it ",
    ]
    assert isinstance(items[-1], Run) and items[-1].content == "Ops deployed it"


def test_continue_run_checks_stream_at_the_call() -> None:
    agent, paused = _paused_agent()
    with pytest.raises(InvalidInputError, match="stream must be a bool"):
        agent.continue_run(paused, stream="yes")  # type: ignore[call-overload]
