"""A run whose final write fails is not lost: the error carries it, and it can be saved later."""

from __future__ import annotations

import asyncio

import pytest

from sessionary import Agent, RunStatus, Team
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import StoreUnavailableError
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel


class _FailingOnce(MemoryDb):
    """Fails the next ``fail`` appends, after writing them when ``applied`` (a lost reply)."""

    def __init__(self, *, applied: bool) -> None:
        super().__init__()
        self.fail = 0
        self.applied = applied

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        if self.fail:
            self.fail -= 1
            if self.applied:
                super()._append_run(run, session_type, expected_version)
            raise StoreUnavailableError("the server went away")
        return super()._append_run(run, session_type, expected_version)


@pytest.mark.parametrize("applied", [False, True])
def test_a_run_whose_write_failed_is_carried_by_the_error_and_saved_later(applied: bool) -> None:
    db = _FailingOnce(applied=applied)
    agent = Agent(model=ScriptedModel("hi", "the answer"), db=db)
    agent.run("first", session_id="s1", user_id="alice")
    db.fail = 1
    with pytest.raises(StoreUnavailableError) as caught:
        agent.run("second", session_id="s1", user_id="alice")
    run = caught.value.run
    assert isinstance(run, Run) and run.content == "the answer" and run.input == "second"
    assert run.status is RunStatus.COMPLETED
    info = agent.save_run(run)
    assert info.run_count == 2
    assert agent.save_run(run) == info  # idempotent: a second save stores nothing
    assert [r.input for r in db.get_runs("s1")] == ["first", "second"]


def test_asave_run_stores_a_run_an_async_run_lost() -> None:
    db = _FailingOnce(applied=False)
    agent = Agent(model=ScriptedModel("the answer"), db=db)

    async def scenario() -> None:
        db.fail = 1
        with pytest.raises(StoreUnavailableError) as caught:
            await agent.arun("hello", session_id="s1")
        run = caught.value.run
        assert isinstance(run, Run)
        assert (await agent.asave_run(run)).run_count == 1
        assert (await agent.asave_run(run)).run_count == 1

    asyncio.run(scenario())
    assert [r.input for r in db.get_runs("s1")] == ["hello"]


def test_a_team_run_whose_write_failed_is_saved_later() -> None:
    db = _FailingOnce(applied=False)
    member = Agent(model=ScriptedModel("drafted"), id="writer")
    team = Team(model=ScriptedModel("the team's answer"), db=db, members=[member])
    db.fail = 1
    with pytest.raises(StoreUnavailableError) as caught:
        team.run("plan it", session_id="t1")
    run = caught.value.run
    assert isinstance(run, Run) and run.content == "the team's answer"
    info = team.save_run(run)
    assert info.session_type is SessionType.TEAM and info.run_count == 1
    assert team.save_run(run) == info
