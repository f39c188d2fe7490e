"""``Team.run(stream=True)`` and ``Team.arun(stream=True)`` stream as an agent's runs do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sessionary import Agent, Run, RunStatus, Team
from sessionary.errors import InvalidInputError, ModelError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


class _Words(Model):
    """Streams three words; breaks before the word at ``fail_after`` if given."""

    provider = "words"

    def __init__(self, fail_after: int | None = None) -> None:
        self.id = "w"
        self.fail_after = fail_after

    def respond(self, request: ModelRequest) -> ModelResponse:
        raise NotImplementedError

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        for index, word in enumerate(["one ", "two ", "three"]):
            if index == self.fail_after:
                raise ConnectionError("stream broke")
            yield ContentDelta(word)
        yield ScriptedModel("one two three").respond(request)

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        for item in self.stream(request):
            yield item


def _team(model: Model, db: MemoryDb) -> Team:
    writer = Agent(name="Writer", model=ScriptedModel("A haiku, whole."))
    return Team(model=model, members=[writer], db=db, id="team")


def _delegating() -> ScriptedModel:
    return ScriptedModel(
        tool_call("delegate_task_to_member", member_id="Writer", task="Write a haiku"),
        "Here it is.",
    )


def test_a_streamed_team_run_yields_the_team_models_deltas_then_the_stored_run() -> None:
    db = MemoryDb()
    team = _team(_delegating(), db)
    items = list(team.run("A poem", session_id="s1", stream=True))
    # the member answers whole, as the delegation's result: only the team's text streams
    assert items[:-1] == [ContentDelta("Here it is.")]
    run = items[-1]
    assert isinstance(run, Run) and run.content == "Here it is."
    member_run, team_run = team.get_session(session_id="s1").runs  # type: ignore[union-attr]
    assert team_run == run
    assert (member_run.agent_id, member_run.parent_run_id) == ("Writer", run.run_id)
    assert member_run.content == "A haiku, whole."


def test_an_abandoned_team_stream_is_stored_as_cancelled_with_what_arrived() -> None:
    db = MemoryDb()
    stream = _team(_Words(), db).run("hi", session_id="s1", stream=True)
    assert next(stream) == ContentDelta("one ")
    stream.close()  # type: ignore[attr-defined]
    [run] = db.get_session("s1").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.CANCELLED
    assert run.error == "the caller abandoned the stream"
    assert run.content == "one "


def test_a_broken_team_stream_is_stored_as_error() -> None:
    db = MemoryDb()
    stream = _team(_Words(fail_after=1), db).run("hi", session_id="s1", stream=True)
    assert next(stream) == ContentDelta("one ")
    with pytest.raises(ModelError, match="stream broke"):
        next(stream)
    [run] = db.get_session("s1").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.ERROR
    assert run.content == "one "


def test_team_arun_stream_is_an_async_iterator_of_deltas_then_the_run() -> None:
    db = MemoryDb()
    team = _team(_delegating(), db)

    async def collect() -> list[Any]:
        return [item async for item in team.arun("A poem", session_id="s1", stream=True)]

    items = asyncio.run(collect())
    assert items[:-1] == [ContentDelta("Here it is.")]
    assert isinstance(items[-1], Run) and items[-1].content == "Here it is."
    assert [r.agent_id for r in db.get_session("s1").runs] == ["Writer", None]  # type: ignore[union-attr]


def test_an_abandoned_async_team_stream_is_stored_as_cancelled() -> None:
    db = MemoryDb()
    team = _team(_Words(), db)

    async def abandon() -> None:
        stream = team.arun("hi", session_id="s1", stream=True)
        assert await stream.__anext__() == ContentDelta("one ")
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(abandon())
    [run] = db.get_session("s1").runs  # type: ignore[union-attr]
    assert (run.status, run.content) == (RunStatus.CANCELLED, "one ")


def test_stream_must_be_a_bool_and_is_checked_before_anything_runs() -> None:
    db = MemoryDb()
    team = _team(_delegating(), db)
    with pytest.raises(InvalidInputError, match="stream must be a bool"):
        team.run("hi", session_id="s1", stream="yes")  # type: ignore[call-overload]
    assert db.get_session("s1") is None
