"""The async storage conformance suite: the whole storage contract, run on an :class:`AsyncStore`.

:class:`AsyncStorageConformance` is :class:`~sessionary.testing.StorageConformance` with
the store under test reached through :class:`BlockingStore`, a sync bridge that runs
every call as a coroutine of the async store on an event loop of its own. So every
clause of the sync suite (IDs, ownership, versions, concurrency, durability, corrupt
records) runs on the async implementation, unchanged; then the async clauses add what
only an async store can get wrong: many calls in flight on one loop, cancellation, bad
arguments refused by the coroutines themselves, and the blocking check: every call of the
store and of ``Agent``/``Team``'s ``a*`` methods on it leaves the event loop free while its
I/O waits (decided by an :class:`~sessionary.testing.IoGate`, never by a stopwatch)::

    class TestMyAsyncStore(AsyncStorageConformance):
        capabilities = frozenset({Capability.PERSISTENT})

        @pytest.fixture
        def async_store(self, tmp_path):
            return MyAsyncStore(path=tmp_path / "db")

        @pytest.fixture
        def store_url(self, async_store):
            return async_store.url  # opens the same data with the SYNC store

        def corrupt_session(self, store, session_id):
            ...  # store.inner is the async store

        def make_gated_store(self, gate):
            ...  # an async store whose every I/O calls gate.wait() in the thread doing it

The async store is used only from the bridge's loop (drivers bind connections to the
loop they were first used on); the async clauses run their coroutines there too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar, TypeVar

import pytest

from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidIdError, InvalidInputError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.testing.blocking import BlockingStore
from sessionary.testing.io_gate import IoGate
from sessionary.testing.loop_thread import GatedMemoryDb as _GatedMemoryDb
from sessionary.testing.loop_thread import LoopThread
from sessionary.testing.storage import StorageConformance
from sessionary.testing.storage_data import BAD_IDS, make_run

__all__ = ["AsyncStorageConformance", "BlockingStore", "LoopThread"]

T = TypeVar("T")


class AsyncStorageConformance(StorageConformance):
    """The storage contract on an async store; see the module documentation."""

    #: Coroutines in flight at once in the concurrency clause.
    concurrent_calls: ClassVar[int] = 40

    # ------------------------------------------------------------------ to override

    @pytest.fixture
    def async_store(self) -> Iterator[AsyncStore]:
        """An empty async store. Override in the subclass."""
        raise NotImplementedError("override the 'async_store' fixture to return your backend")

    def make_gated_store(self, gate: IoGate) -> AsyncStore:
        """An async store (on its own, empty data) whose every I/O calls ``gate.wait()`` in
        the thread that does the I/O. Every adapter overrides this; the blocking clauses
        need it.

        For a store that runs a driver in threads, call ``gate.wait()`` where the driver is
        called (SQLite: a trace callback on the connection). For a native async client of a
        server, put the gate in a TCP proxy between the client and the server
        (:class:`~sessionary.testing.SlowProxy` takes ``gate=``), so a reply is held until
        the event loop is free to let it through."""
        raise NotImplementedError("override make_gated_store: the blocking clauses need it")

    # ------------------------------------------------------------------ the bridge

    @pytest.fixture
    def store(self, async_store: AsyncStore) -> Iterator[Store]:
        """The async store behind a :class:`BlockingStore`, so every sync clause runs on it."""
        bridge = BlockingStore(async_store)
        try:
            yield bridge
        finally:
            bridge.close()

    @staticmethod
    def _inner(store: Store) -> tuple[AsyncStore, LoopThread]:
        assert isinstance(store, BlockingStore)
        return store.inner, store.loop

    # ------------------------------------------------------------------ async clauses

    def test_async_store_is_an_async_store(self, store: Store) -> None:
        inner, _ = self._inner(store)
        assert isinstance(inner, AsyncStore)
        assert inner.name, "an async store has a name"

    @pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
    def test_async_calls_reject_bad_ids_before_io(self, store: Store, bad: Any) -> None:
        inner, loop = self._inner(store)

        async def each() -> list[str]:
            failures: list[str] = []
            calls: dict[str, Callable[[], Awaitable[object]]] = {
                "get_session": lambda: inner.get_session(bad),
                "get_session_info": lambda: inner.get_session_info(bad),
                "get_runs": lambda: inner.get_runs(bad),
                "get_run": lambda: inner.get_run("s", bad),
                "delete_session": lambda: inner.delete_session(bad),
                "erase_user": lambda: inner.erase_user(bad),
                "trim_runs": lambda: inner.trim_runs(bad, keep_last=1),
                "update_session": lambda: inner.update_session(bad, name="x"),
                "list_sessions": lambda: inner.list_sessions(user_id=bad),
                "append_run": lambda: inner.append_run(make_run(bad)),
            }
            for name, call in calls.items():
                try:
                    await call()
                except InvalidIdError:
                    continue
                except InvalidInputError as exc:  # a run that cannot be built counts too
                    if name != "append_run":
                        failures.append(f"{name}: {type(exc).__name__}: {exc}")
                else:
                    failures.append(f"{name} accepted {bad!r}")
            return failures

        try:
            failures = loop.run(each())
        except InvalidInputError:  # make_run itself refused the ID: nothing reached the store
            failures = []
        assert failures == []

    def test_async_concurrent_appends_on_one_loop(self, store: Store) -> None:
        inner, loop = self._inner(store)
        count = self.concurrent_calls

        async def append_all() -> list[SessionInfo]:
            runs = [make_run("crowded", user_id="u", text=f"turn {i}") for i in range(count)]
            return list(await asyncio.gather(*(inner.append_run(r) for r in runs)))

        infos = loop.run(append_all())
        assert sorted(i.run_count for i in infos) == list(range(1, count + 1))
        session = loop.run(inner.get_session("crowded", user_id="u"))
        assert session is not None
        assert session.run_count == len(session.runs) == count
        inputs = sorted(str(r.input) for r in session.runs)
        assert inputs == sorted(f"turn {i}" for i in range(count))
        assert session.input_tokens == sum(r.metrics.input_tokens for r in session.runs)

    def test_async_reads_in_flight_together(self, store: Store) -> None:
        inner, loop = self._inner(store)

        async def scenario() -> list[Session | None]:
            for i in range(5):
                await inner.append_run(make_run(f"s{i}", user_id="u", text=f"hello {i}"))
            return list(
                await asyncio.gather(
                    *(inner.get_session(f"s{i % 5}", user_id="u") for i in range(25))
                )
            )

        sessions = loop.run(scenario())
        assert [s.runs[0].input if s else None for s in sessions] == [
            f"hello {i % 5}" for i in range(25)
        ]

    def test_async_cancelled_call_loses_nothing_stored(self, store: Store) -> None:
        inner, loop = self._inner(store)

        async def settled() -> Session | None:
            # A write the cancel came too late for finishes in the background: wait until
            # the session is whole (bounded); a write stopped half-way never gets there.
            for _ in range(1000):
                session = await inner.get_session("kept", user_id="u")
                if session is not None and session.run_count == len(session.runs):
                    break
                await asyncio.sleep(0.01)
            return session

        async def scenario() -> Session | None:
            await inner.append_run(make_run("kept", user_id="u", text="first"))
            task = asyncio.ensure_future(inner.append_run(make_run("kept", user_id="u")))
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return await settled()

        session = loop.run(scenario())
        assert session is not None
        assert session.runs[0].input == "first"
        assert session.run_count == len(session.runs) in (1, 2)
        # The store still works after a cancelled call.
        loop.run(inner.append_run(make_run("kept", user_id="u", text="after")))
        after = loop.run(settled())
        assert after is not None and after.run_count == len(after.runs) in (2, 3)
        inputs = [r.input for r in after.runs]
        assert inputs[0] == "first" and "after" in inputs

    def test_store_calls_never_block_the_loop(self) -> None:
        gate = IoGate()
        gated = self.make_gated_store(gate)
        loop = LoopThread()
        try:

            async def check() -> None:
                run = make_run("gated", user_id="u", text="hello")
                await gate.check(gated.append_run(run), what="append_run")
                session = await gate.check(
                    gated.get_session("gated", user_id="u"), what="get_session"
                )
                assert session is not None and session.runs[0].input == "hello"
                await gate.check(gated.get_runs("gated", user_id="u", last_n=1), what="get_runs")
                await gate.check(gated.list_sessions(user_id="u"), what="list_sessions")
                await gated.close()

            loop.run(check())
        finally:
            loop.stop()

    def test_agent_async_methods_never_block_the_loop(self) -> None:
        """Every ``a*`` method of Agent and Team on this (gated) store, with a gated model."""
        from sessionary.agent.agent import Agent
        from sessionary.agent.team import Team
        from sessionary.models.scripted import ScriptedModel, tool_call
        from sessionary.tools import tool

        gate = IoGate()
        slow = self.make_gated_store(gate)

        @tool(requires_confirmation=True)
        def send_email(to: str) -> str:
            """Send an email."""
            return f"sent to {to}"

        model = ScriptedModel(
            "Hello!", tool_call("send_email", to="bob"), "Done.", "Greeting Chat", io=gate.wait
        )
        agent = Agent(
            model=model, db=_GatedMemoryDb(gate), tools=[send_email], add_history_to_context=True
        )
        agent.adb = slow
        member = Agent(model=ScriptedModel("42", io=gate.wait), db=_GatedMemoryDb(gate), id="calc")
        team = Team(
            members=[member],
            model=ScriptedModel(
                tool_call("delegate_task_to_member", member_id="calc", task="x"),
                "It is 42.",
                io=gate.wait,
            ),
            db=_GatedMemoryDb(gate),
        )
        team.adb = slow
        loop = LoopThread()

        async def check() -> None:
            async def probe(work: Awaitable[T], what: str) -> T:
                return await gate.check(work, what=what)

            run = await probe(agent.arun("Hi", session_id="lag", user_id="u"), "Agent.arun")
            assert run.content == "Hello!"
            paused = await probe(
                agent.arun("Email bob", session_id="lag", user_id="u"), "Agent.arun (pauses)"
            )
            assert paused.is_paused
            stored = await probe(
                agent.aget_run_output(paused.run_id, "lag", user_id="u"), "aget_run_output"
            )
            assert stored is not None
            for requirement in stored.active_requirements:
                requirement.confirm()
            done = await probe(agent.acontinue_run(stored, user_id="u"), "Agent.acontinue_run")
            assert done.content == "Done."
            session = await probe(agent.aget_session("lag", user_id="u"), "aget_session")
            assert session is not None and len(session.runs) == 2
            history = await probe(agent.aget_chat_history("lag", user_id="u"), "aget_chat_history")
            assert history[0].content == "Hi"
            named = await probe(
                agent.aset_session_name("lag", autogenerate=True, user_id="u"),
                "aset_session_name(autogenerate=True)",
            )
            assert named.name == "Greeting Chat"
            await probe(
                agent.aset_session_name("lag", "Manual Name", user_id="u"), "aset_session_name"
            )
            name = await probe(agent.aget_session_name("lag", user_id="u"), "aget_session_name")
            assert name == "Manual Name"
            page = await probe(agent.alist_sessions(user_id="u"), "alist_sessions")
            assert [i.session_id for i in page.items] == ["lag"]
            team_run = await probe(team.arun("What is 6x7?", session_id="team-lag"), "Team.arun")
            assert team_run.content == "It is 42."
            assert await probe(agent.adelete_session("lag", user_id="u"), "adelete_session")
            await slow.close()

        try:
            loop.run(check())
        finally:
            loop.stop()
