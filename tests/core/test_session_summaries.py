"""Session summaries: made after the run is stored, off the caller's path, incrementally."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sessionary import Agent, Team
from sessionary.domain.messages import Role
from sessionary.errors import InvalidInputError
from sessionary.models.base import ModelRequest, ModelResponse
from sessionary.storage.memory import MemoryDb
from sessionary.summary import SessionSummary, SessionSummaryManager
from sessionary.testing import ScriptedModel


class GatedModel(ScriptedModel):
    """A summary model that answers only once the test opens its gate."""

    def __init__(self, *replies: str) -> None:
        super().__init__(*replies)
        self.gate = threading.Event()

    def respond(self, request: ModelRequest) -> ModelResponse:
        assert self.gate.wait(30), "the test never opened the gate"
        return super().respond(request)


def test_summary_is_made_after_the_run_off_the_callers_path_and_stored_in_the_info() -> None:
    summarizer = GatedModel("The user likes tea.")
    db = MemoryDb()
    agent = Agent(
        model=ScriptedModel("Noted."),
        db=db,
        enable_session_summaries=True,
        summary_model=summarizer,
    )
    out = agent.run("I like tea", session_id="s")  # returns while the summary model waits
    assert out.content == "Noted."
    info = db.get_session_info("s")
    assert info is not None and info.summary is None  # not made yet: the model waits
    summarizer.gate.set()
    summary = agent.get_session_summary(session_id="s")  # waits for the scheduled update
    assert summary is not None and summary.summary == "The user likes tea."
    assert summary.last_run_id == out.run_id
    listed = db.list_sessions().items[0]  # the inbox row carries it, no runs loaded
    assert listed.summary is not None and listed.summary.summary == "The user likes tea."


def test_summaries_are_incremental_and_bounded() -> None:
    summarizer = ScriptedModel(*[f"S{i}" for i in range(1, 20)])
    manager = SessionSummaryManager(model=summarizer, max_runs=2)
    agent = Agent(
        model=ScriptedModel(),
        enable_session_summaries=True,
        session_summary_manager=manager,
    )
    for text in ("one", "two", "three"):
        agent.run(text, session_id="s")
        agent.wait_for_pending()
    last = summarizer.requests[-1].messages[-1].content or ""
    assert "Previous summary: S2" in last
    assert "three" in last and "two" not in last  # only the run since the last summary
    for _ in range(5):
        agent.run("more", session_id="s")
    agent.wait_for_pending()
    for request in summarizer.requests:
        assert (request.messages[-1].content or "").count("user: ") <= 2


def test_add_session_summary_to_context() -> None:
    model = ScriptedModel("ok", "ok")
    agent = Agent(
        model=model,
        enable_session_summaries=True,
        add_session_summary_to_context=True,
        summary_model=ScriptedModel("User: Ann, likes tea."),
    )
    agent.run("hi", session_id="s")
    agent.wait_for_pending()
    agent.run("again", session_id="s")
    system = model.requests[-1].messages[0]
    assert system.role is Role.SYSTEM
    assert "User: Ann, likes tea." in (system.content or "")


def test_a_failing_summary_model_never_fails_the_run() -> None:
    agent = Agent(
        model=ScriptedModel("ok"),
        enable_session_summaries=True,
        summary_model=ScriptedModel(RuntimeError("down")),
    )
    assert agent.run("hi", session_id="s").content == "ok"
    agent.wait_for_pending()
    assert agent.get_session_summary(session_id="s") is None


def test_summary_keeps_other_metadata_and_team_and_async_work() -> None:
    db = MemoryDb()
    member = Agent(name="M", model=ScriptedModel("m"))
    team = Team(
        model=ScriptedModel("team answer"),
        members=[member],
        db=db,
        enable_session_summaries=True,
        summary_model=ScriptedModel("team summary"),
    )

    async def go() -> SessionSummary | None:
        await team.arun("hi", session_id="t")
        info = db.get_session_info("t")
        assert info is not None
        db.update_session("t", metadata={"ticket": "T-1", **info.metadata})
        return await team.aget_session_summary(session_id="t")  # the loop runs the update

    summary = asyncio.run(go())
    assert summary is not None and summary.summary == "team summary"
    info = db.get_session_info("t")
    assert info is not None and info.metadata["ticket"] == "T-1"


def test_bad_summary_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="session_summary_manager"):
        Agent(model=ScriptedModel(), session_summary_manager="cheap")
    with pytest.raises(InvalidInputError, match="max_runs"):
        SessionSummaryManager(max_runs=0)
