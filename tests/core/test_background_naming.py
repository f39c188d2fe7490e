"""Automatic naming runs after the run is stored, off the caller's path (issue 19 item 8).

The naming model here is gated: it does not answer until the test releases it. A run
that waited for its naming could not return while the gate is shut; these runs do. No
assertion depends on how long anything took (the gates' timeouts only turn a hang into
a failure).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any, ClassVar

import pytest

from sessionary import Agent, Team
from sessionary.agent.background import Background, BackgroundStats
from sessionary.models.base import Model, ModelRequest, ModelResponse
from sessionary.naming import NamingPolicy, set_default_policy
from sessionary.testing import ScriptedModel, tool_call

HANG = 30.0  # seconds before a gate gives up: a hang becomes a failure, never a pass


@pytest.fixture(autouse=True)
def core_only_default() -> Generator[None, None, None]:
    set_default_policy(NamingPolicy(guardrails=[], fallbacks=[]))
    yield
    set_default_policy(None)


class GatedNamer(Model):
    """Answers ``name`` once released; records that a naming call is waiting."""

    provider: ClassVar[str] = "gated"

    def __init__(self, name: str = "Gated Name") -> None:
        self.id = "gated"
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()
        self.async_release: asyncio.Event | None = None

    def respond(self, request: ModelRequest) -> ModelResponse:
        self.entered.set()
        if not self.release.wait(HANG):
            raise TimeoutError("the test never released the naming model")
        return ScriptedModel(self.name).respond(request)

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        self.entered.set()
        assert self.async_release is not None
        await asyncio.wait_for(self.async_release.wait(), HANG)
        return ScriptedModel(self.name).respond(request)


def test_a_run_returns_while_its_automatic_naming_is_held() -> None:
    namer = GatedNamer()
    agent = Agent(model=ScriptedModel("reply"), naming_model=namer, db="memory://",
                  auto_name_after_runs=1)  # fmt: skip
    run = agent.run("hello", session_id="s1")  # with inline naming: stuck until HANG
    assert run.content == "reply"
    assert namer.entered.wait(HANG)  # the naming has started, in the background
    assert agent.background_stats.pending == 1
    assert agent.get_session_name(session_id="s1") is None
    assert agent.wait_for_pending(timeout=0) is False
    namer.release.set()
    assert agent.wait_for_pending()
    assert agent.get_session_name(session_id="s1") == "Gated Name"
    assert agent.background_stats == BackgroundStats(started=1, succeeded=1)


def test_an_arun_returns_while_its_automatic_naming_is_held() -> None:
    namer = GatedNamer()
    agent = Agent(model=ScriptedModel("reply"), naming_model=namer, db="memory://",
                  auto_name_after_runs=1)  # fmt: skip

    async def scenario() -> tuple[str | None, str | None, int]:
        namer.async_release = asyncio.Event()
        run = await agent.arun("hello", session_id="s1")
        pending = agent.background_stats.pending
        before = await agent.aget_session_name(session_id="s1")
        namer.async_release.set()
        assert await agent.await_pending()
        return run.content, before, pending

    content, before, pending = asyncio.run(scenario())
    assert (content, before, pending) == ("reply", None, 1)
    assert agent.get_session_name(session_id="s1") == "Gated Name"


def test_a_team_run_returns_while_its_automatic_naming_is_held() -> None:
    namer = GatedNamer("Team Chat")
    writer = Agent(name="Writer", model=ScriptedModel("A haiku."))
    team = Team(
        model=ScriptedModel(
            tool_call("delegate_task_to_member", member_id="Writer", task="haiku"), "Here."
        ),
        members=[writer],
        db="memory://",
        naming_model=namer,
        auto_name_after_runs=1,
    )
    assert team.run("A poem", session_id="t1").content == "Here."
    assert namer.entered.wait(HANG)
    assert team.get_session_name(session_id="t1") is None
    namer.release.set()
    assert team.wait_for_pending()
    assert team.get_session_name(session_id="t1") == "Team Chat"


def test_a_streamed_run_ends_while_its_automatic_naming_is_held() -> None:
    namer = GatedNamer()
    agent = Agent(model=ScriptedModel("reply"), naming_model=namer, db="memory://",
                  auto_name_after_runs=1)  # fmt: skip
    items = list(agent.run("hello", session_id="s1", stream=True))
    assert items[-1].content == "reply"
    assert namer.entered.wait(HANG)
    namer.release.set()
    assert agent.wait_for_pending()
    assert agent.get_session_name(session_id="s1") == "Gated Name"


def _held(release: threading.Event, ran: list[str]) -> Generator[Any, Any, None]:
    yield from ()
    release.wait(HANG)
    ran.append("done")


def test_background_work_is_bounded_and_what_is_dropped_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    background = Background(limit=1)
    release = threading.Event()
    ran: list[str] = []
    background.start_sync(_held(release, ran), None, "job one")
    background.start_sync(_held(release, ran), None, "job two")  # over the limit: dropped
    assert background.stats == BackgroundStats(started=1, dropped=1, pending=1)
    assert "job two dropped" in caplog.text
    release.set()
    assert background.wait()
    assert ran == ["done"]
    assert background.stats == BackgroundStats(started=1, succeeded=1, dropped=1)


def _fails() -> Generator[Any, Any, None]:
    yield from ()
    raise RuntimeError("naming bug")


def test_a_failing_job_is_logged_and_counted_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    background = Background()
    background.start_sync(_fails(), None, "automatic naming of session 's9'")
    assert background.wait()
    assert background.stats == BackgroundStats(started=1, failed=1)
    assert "automatic naming of session 's9' failed" in caplog.text
    assert "naming bug" in caplog.text


def test_a_task_cancelled_when_its_loop_ends_is_no_longer_pending() -> None:
    background = Background()

    async def forever() -> None:
        await asyncio.Event().wait()

    async def start() -> None:
        background.start_async(_awaits(forever), None, "held job")
        await asyncio.sleep(0)

    asyncio.run(start())  # asyncio.run cancels the task that is still waiting
    assert background.wait(timeout=HANG)
    assert background.stats == BackgroundStats(started=1, failed=1)


def _awaits(make: Any) -> Generator[Any, Any, None]:
    from sessionary.flow import Respond

    class Waits(Model):
        provider: ClassVar[str] = "waits"
        id = "waits"

        def respond(self, request: ModelRequest) -> ModelResponse:
            raise NotImplementedError

        async def arespond(self, request: ModelRequest) -> ModelResponse:
            await make()
            raise AssertionError("unreachable")

    yield Respond(Waits(), ModelRequest(messages=()))
