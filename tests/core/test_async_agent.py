"""The async API: arun, acontinue_run, aget_*, aset_session_name, on Agent and Team.

The flows are the sync API's own (see sessionary.flow), so these tests check what is
async about them: the async store, model and tools are what get called, streams are
async iterators, several runs share one loop, and nothing blocks it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sessionary import Agent, Run, RunStatus, Team, tool
from sessionary.errors import InvalidInputError, ModelError, RunAlreadyContinuedError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.storage.aio import AsyncStore, ThreadedAsyncStore
from sessionary.storage.memory import MemoryDb
from sessionary.testing import IoGate, ScriptedModel, tool_call


class SyncOnlyModel(Model):
    """A provider with no async client: its ``respond`` does its I/O at ``gate``."""

    provider = "synconly"

    def __init__(self, answer: str, gate: IoGate | None = None) -> None:
        self.id = "sync"
        self.answer = answer
        self.gate = gate
        self.threads: list[str] = []

    def respond(self, request: ModelRequest) -> ModelResponse:
        self.threads.append(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait()
        return ScriptedModel(self.answer).respond(request)


class AsyncStreamModel(Model):
    """Streams three words through ``astream``; its sync side must never be used."""

    provider = "asyncstream"
    native_async = True

    def __init__(self, fail_after: int | None = None) -> None:
        self.id = "a"
        self.fail_after = fail_after
        self.closed = False

    def respond(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("the sync respond was called from arun")

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        return await ScriptedModel("one two three").arespond(request)

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        try:
            for index, word in enumerate(["one ", "two ", "three"]):
                if self.fail_after is not None and index == self.fail_after:
                    raise ConnectionError("stream broke")
                await asyncio.sleep(0)
                yield ContentDelta(word)
            yield await self.arespond(request)
        finally:
            self.closed = True


def test_arun_stores_the_same_run_as_run() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel("A", "B"), db=db, add_history_to_context=True)
    first = agent.run("one", session_id="s")
    second = asyncio.run(agent.arun("two", session_id="s"))
    assert (first.content, second.content) == ("A", "B")
    runs = db.get_runs("s")
    assert [r.input for r in runs] == ["one", "two"]
    assert runs[1] == second
    # The history of the sync run reached the async run's model call.
    assert [m.content for m in agent.model.requests[1].messages] == ["one", "A", "two"]  # type: ignore[union-attr]


def test_arun_checks_its_arguments_at_the_call() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://")
    with pytest.raises(InvalidInputError, match="input must be a str, got int"):
        agent.arun(42, session_id="s")  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="session_id"):
        agent.arun("hi", session_id="")  # type: ignore[unused-coroutine]
    with pytest.raises(InvalidInputError, match="this agent has no model"):
        Agent(db="memory://").arun("hi")  # type: ignore[unused-coroutine]


def test_arun_uses_the_async_store_and_the_async_model() -> None:
    calls: list[str] = []

    class Recording(ThreadedAsyncStore):
        async def _append_run(
            self, run: Any, session_type: Any, expected_version: int | None = None
        ) -> Any:
            calls.append("append_run")
            return await super()._append_run(run, session_type, expected_version)

    db = MemoryDb()
    agent = Agent(model=AsyncStreamModel(), db=db)
    agent.adb = Recording(db)
    run = asyncio.run(agent.arun("hi", session_id="s"))
    assert run.content == "one two three" and calls == ["append_run"]
    assert db.get_runs("s")[0].content == "one two three"


def test_adb_defaults_to_the_stores_async_twin_and_refuses_other_things() -> None:
    agent = Agent(model=ScriptedModel(), db=MemoryDb())
    assert isinstance(agent.adb, AsyncStore)
    assert agent.adb is agent.adb
    with pytest.raises(InvalidInputError, match="adb must be an AsyncStore, got MemoryDb"):
        agent.adb = MemoryDb()  # type: ignore[assignment]


def test_arun_stream_is_an_async_iterator_of_deltas_then_the_run() -> None:
    agent = Agent(model=AsyncStreamModel(), db="memory://")

    async def collect() -> list[Any]:
        return [item async for item in agent.arun("hi", session_id="s", stream=True)]

    items = asyncio.run(collect())
    assert items[:-1] == [ContentDelta("one "), ContentDelta("two "), ContentDelta("three")]
    assert isinstance(items[-1], Run) and items[-1].content == "one two three"
    assert agent.get_session("s").runs[0].content == "one two three"  # type: ignore[union-attr]


def test_an_abandoned_async_stream_is_stored_as_cancelled_and_the_model_stream_closed() -> None:
    model = AsyncStreamModel()
    agent = Agent(model=model, db="memory://")

    async def abandon() -> None:
        stream = agent.arun("hi", session_id="s", stream=True)
        assert await stream.__anext__() == ContentDelta("one ")
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(abandon())
    [run] = agent.get_session("s").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.CANCELLED
    assert run.error == "the caller abandoned the stream"
    assert run.content == "one "  # what arrived is kept
    assert model.closed


def test_a_broken_async_stream_is_stored_as_error() -> None:
    agent = Agent(model=AsyncStreamModel(fail_after=1), db="memory://")

    async def consume() -> None:
        async for _ in agent.arun("hi", session_id="s", stream=True):
            pass

    with pytest.raises(ModelError, match="stream broke"):
        asyncio.run(consume())
    [run] = agent.get_session("s").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.ERROR and run.content == "one "


def test_a_sync_only_model_runs_in_a_worker_thread_not_on_the_loop() -> None:
    gate = IoGate()
    model = SyncOnlyModel("fine", gate=gate)
    agent = Agent(model=model, db="memory://")

    async def check() -> Run:
        return await gate.check(agent.arun("hi", session_id="s"), what="arun on a sync-only model")

    assert asyncio.run(check()).content == "fine"
    assert model.threads and model.threads[0] != threading.main_thread().name


def test_async_tools_are_awaited_and_sync_tools_leave_the_loop_free() -> None:
    seen: list[str] = []

    gate = IoGate()

    @tool
    async def lookup(city: str) -> str:
        """Look a city up."""
        await asyncio.to_thread(gate.wait)  # an async client's I/O leaves the loop free
        seen.append(f"async {city}")
        return f"{city}: sunny"

    @tool
    def blocking(city: str) -> str:
        """A tool with a blocking client."""
        gate.wait()  # a sync client's I/O, in whatever thread calls the tool
        seen.append(f"sync {city}")
        return f"{city}: rainy"

    model = ScriptedModel(
        [tool_call("lookup", city="Paris"), tool_call("blocking", city="Lima")], "Done."
    )
    agent = Agent(model=model, db="memory://", tools=[lookup, blocking])

    async def check() -> Run:
        return await gate.check(agent.arun("weather?", session_id="s"), what="arun with tools")

    run = asyncio.run(check())
    assert run.content == "Done." and seen == ["async Paris", "sync Lima"]
    results = [m.content for m in run.messages if m.role.value == "tool"]
    assert results == ["Paris: sunny", "Lima: rainy"]


def test_an_async_tool_also_works_from_the_sync_api() -> None:
    @tool
    async def double(n: int) -> int:
        """Double a number."""
        await asyncio.sleep(0)
        return n * 2

    agent = Agent(model=ScriptedModel(tool_call("double", n=21), "42"), tools=[double])
    run = agent.run("double 21", session_id="s")
    assert [m.content for m in run.messages if m.role.value == "tool"] == ["42"]


def test_many_sessions_run_concurrently_on_one_loop() -> None:
    db = MemoryDb()
    agent = Agent(model=ScriptedModel(delay=0.05), db=db, add_history_to_context=True)

    async def session(index: int) -> None:
        for turn in range(3):
            await agent.arun(f"{index}-{turn}", session_id=f"s{index}", user_id=f"u{index}")

    async def all_sessions() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(session(i) for i in range(20)))
        return time.perf_counter() - started

    asyncio.run(all_sessions())
    for index in range(20):
        runs = db.get_runs(f"s{index}", user_id=f"u{index}")
        assert [r.input for r in runs] == [f"{index}-{t}" for t in range(3)]
        assert [r.content for r in runs] == [f"echo: {index}-{t}" for t in range(3)]


def test_acontinue_run_confirms_and_exactly_one_of_two_racing_callers_wins() -> None:
    sent: list[str] = []

    @tool(requires_confirmation=True)
    def send_email(to: str) -> str:
        """Send an email."""
        sent.append(to)
        return "sent"

    db = MemoryDb()
    agent = Agent(
        model=ScriptedModel(tool_call("send_email", to="bob"), "Sent.", delay=0.01),
        db=db,
        tools=[send_email],
    )

    async def scenario() -> list[Any]:
        paused = await agent.arun("email bob", session_id="s", user_id="u")
        assert paused.is_paused
        stored = await agent.aget_run_output(paused.run_id, "s", user_id="u")
        assert stored is not None
        stored.active_requirements[0].confirm()
        return list(
            await asyncio.gather(
                agent.acontinue_run(stored, user_id="u"),
                agent.acontinue_run(stored, user_id="u"),
                return_exceptions=True,
            )
        )

    results = asyncio.run(scenario())
    winners = [r for r in results if isinstance(r, Run)]
    losers = [r for r in results if isinstance(r, RunAlreadyContinuedError)]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0].content == "Sent." and sent == ["bob"]
    assert db.get_runs("s", user_id="u")[0].status is RunStatus.COMPLETED


def test_async_session_reads_and_naming() -> None:
    model = ScriptedModel("Hi!", "Greeting Exchange")
    agent = Agent(model=model, db="memory://")

    async def scenario() -> None:
        await agent.arun("Hello", session_id="s", user_id="u")
        session = await agent.aget_session("s", user_id="u")
        assert session is not None and session.runs[0].content == "Hi!"
        assert await agent.aget_session("s", user_id="someone-else") is None
        history = await agent.aget_chat_history("s", user_id="u")
        assert [m.content for m in history] == ["Hello", "Hi!"]
        assert [m.content for m in await agent.aget_messages("s", user_id="u")] == [
            "Hello",
            "Hi!",
        ]
        named = await agent.aset_session_name("s", autogenerate=True, user_id="u")
        assert (named.name, named.name_source) == ("Greeting Exchange", "model")
        manual = await agent.aset_session_name("s", "Product Launch Planning", user_id="u")
        assert (manual.name, manual.name_source) == ("Product Launch Planning", "manual")
        assert await agent.aget_session_name("s", user_id="u") == "Product Launch Planning"
        page = await agent.alist_sessions(user_id="u")
        assert [i.session_id for i in page.items] == ["s"]
        assert await agent.adelete_session("s", user_id="u") is True
        assert await agent.aget_session("s", user_id="u") is None

    asyncio.run(scenario())


def test_async_autonaming_calls_arespond_never_respond() -> None:
    class AsyncOnly(ScriptedModel):
        def respond(self, request: ModelRequest) -> ModelResponse:
            raise AssertionError("a sync model call from the async API")

    agent = Agent(model=AsyncOnly("Hi!", "Trip Planning"), db="memory://")

    async def scenario() -> str | None:
        await agent.arun("Plan a trip", session_id="s")
        await agent.aset_session_name("s", autogenerate=True)
        return await agent.aget_session_name("s")

    assert asyncio.run(scenario()) == "Trip Planning"


def test_async_naming_times_out_with_the_policy_timeout_and_falls_back() -> None:
    from sessionary.naming import NamingPolicy

    answer = threading.Event()  # the naming model answers only when the test says so
    agent = Agent(
        model=ScriptedModel("Hi!"),
        naming_model=ScriptedModel("Too Late", io=answer.wait),
        naming=NamingPolicy(timeout=0.1),
        db="memory://",
    )

    async def scenario() -> Any:
        await agent.arun("Plan a trip to Lisbon", session_id="s")
        session = await agent.aset_session_name("s", autogenerate=True)
        waited = answer.is_set()
        answer.set()  # let the abandoned call's worker thread finish
        return session, waited

    session, waited = asyncio.run(scenario())
    assert not waited  # named while the model had not answered: its answer was not waited for
    assert session.name_source != "model"


def test_team_arun_and_acontinue_run() -> None:
    done: list[str] = []

    @tool(requires_confirmation=True)
    def deploy(env: str) -> str:
        """Deploy."""
        done.append(env)
        return f"deployed to {env}"

    db = MemoryDb()

    def ops(*replies: Any) -> Agent:
        return Agent(id="ops", model=ScriptedModel(*replies), tools=[deploy])

    team = Team(
        model=ScriptedModel(
            tool_call("delegate_task_to_member", member_id="ops", task="ship"), "Shipped."
        ),
        members=[ops(tool_call("deploy", env="prod"), "Deployed.")],
        db=db,
        id="t",
    )

    async def scenario() -> Run:
        paused = await team.arun("Ship it", session_id="s1")
        assert paused.is_paused and done == []
        stored = await team.aget_run_output(paused.run_id, "s1")
        assert stored is not None
        stored.active_requirements[0].confirm()
        return await team.acontinue_run(stored)

    finished = asyncio.run(scenario())
    assert finished.content == "Shipped." and done == ["prod"]
    member_run, team_run = db.get_runs("s1")
    assert member_run.parent_run_id == team_run.run_id
    assert member_run.content == "Deployed." and team_run.status is RunStatus.COMPLETED


def test_a_cancelled_arun_is_stored_as_cancelled_and_the_cancel_goes_on() -> None:
    db = MemoryDb()
    calling, answer = threading.Event(), threading.Event()

    def model_io() -> None:
        calling.set()
        answer.wait()

    agent = Agent(model=ScriptedModel("too late", io=model_io), db=db)

    async def scenario() -> None:
        task = asyncio.ensure_future(agent.arun("hi", session_id="s"))
        await asyncio.to_thread(calling.wait)  # the run is waiting for its model
        task.cancel()
        try:
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            answer.set()

    asyncio.run(scenario())
    [run] = db.get_runs("s")
    assert run.status is RunStatus.CANCELLED
    assert run.error == "the run's task was cancelled"


def test_a_cancelled_acontinue_run_does_not_leave_the_run_claimed() -> None:
    @tool(requires_confirmation=True)
    async def slow_action() -> str:
        """Takes long."""
        await asyncio.sleep(5)
        return "done"

    db = MemoryDb()
    agent = Agent(model=ScriptedModel(tool_call("slow_action"), "ok"), db=db, tools=[slow_action])

    async def scenario() -> None:
        paused = await agent.arun("go", session_id="s")
        paused.active_requirements[0].confirm()
        task = asyncio.ensure_future(agent.acontinue_run(paused))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    [run] = db.get_runs("s")
    assert run.status is RunStatus.CANCELLED
    assert run.error == "the run's task was cancelled"
