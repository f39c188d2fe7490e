"""Checks of an async store outside the conformance bridge, for an adapter's own tests.

:class:`~sessionary.testing.async_storage.AsyncStorageConformance` runs the async store
on one event loop of its own. Stores built for applications are also used beside their
sync twin, and from more than one event loop; these checks do that with the real
system and assert that nothing is lost::

    def test_shared_with_the_sync_store(tmp_path):
        with MyStore(path=tmp_path / "db") as db:
            check_shared_with_sync(db, db.to_async())

    def test_several_event_loops(tmp_path):
        check_several_event_loops(MyAsyncStore(path=tmp_path / "db"))

Each runs its own event loops with ``asyncio.run``: call them from a plain test.
"""

from __future__ import annotations

import asyncio
import threading

from sessionary.domain.sessions import Session
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.testing.storage_data import make_run

__all__ = ["check_several_event_loops", "check_shared_with_sync"]


def check_shared_with_sync(db: Store, twin: AsyncStore) -> None:
    """What ``db`` writes, ``twin`` (its async twin) reads, and the other way round.

    Writes the session ``shared`` of user ``alice`` on both; closing ``twin`` must leave
    ``db`` open (the caller closes ``db``).
    """
    db.append_run(make_run("shared", user_id="alice", text="from sync"))

    async def scenario() -> None:
        session = await twin.get_session("shared", user_id="alice")
        assert session is not None and [r.input for r in session.runs] == ["from sync"]
        await twin.append_run(make_run("shared", user_id="alice", text="from async"))
        await twin.update_session("shared", name="Both ways", user_id="alice")
        await twin.close()

    asyncio.run(scenario())
    session = db.get_session("shared", user_id="alice")
    assert session is not None
    assert [r.input for r in session.runs] == ["from sync", "from async"]
    assert session.name == "Both ways" and session.version == 3
    assert [i.session_id for i in db.list_sessions(user_id="alice").items] == ["shared"]
    db.append_run(make_run("shared", user_id="alice"))  # closing the twin left db open


def check_several_event_loops(store: AsyncStore, *, close_in_each_loop: bool = True) -> None:
    """One store used from event loops one after another, then from two at once: all lands.

    Two ``asyncio.run`` in turn append to the session ``in-turn`` (the first loop's
    connections are left behind, unclosed); then two threads, each running a loop of its
    own, append ten runs each to ``at-once`` at the same time. With
    ``close_in_each_loop`` each of those loops closes the store when it is done (for a
    store whose ``close`` releases the running loop's connections only); leave it False
    for a store whose ``close`` is final. A last loop reads both sessions and closes it.
    """
    asyncio.run(store.append_run(make_run("in-turn", user_id="alice", text="first loop")))
    asyncio.run(store.append_run(make_run("in-turn", user_id="alice", text="second loop")))
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        async def appends() -> None:
            for turn in range(10):
                await store.append_run(make_run("at-once", user_id="alice", text=f"{index}:{turn}"))
            if close_in_each_loop:
                await store.close()

        try:
            asyncio.run(appends())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    async def read_and_close() -> tuple[Session | None, Session | None]:
        try:
            return await store.get_session("in-turn"), await store.get_session("at-once")
        finally:
            await store.close()

    in_turn, at_once = asyncio.run(read_and_close())
    assert in_turn is not None and [r.input for r in in_turn.runs] == ["first loop", "second loop"]
    assert at_once is not None and at_once.run_count == len(at_once.runs) == 20
    for index in range(2):
        turns = [str(r.input) for r in at_once.runs if str(r.input).startswith(f"{index}:")]
        assert turns == [f"{index}:{turn}" for turn in range(10)]
