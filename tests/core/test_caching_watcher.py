"""The caching store with a store that offers a :class:`SessionWatcher`, and the strict check.

``PushingDb`` is a memory store that posts a change notice for every write, the way a
server with client tracking does; ``MirrorWatcher`` is a small watcher written against
the public interface only, as a third-party store would write one. Notices are queued
and delivered when the test says so, so a test can hold one "on the wire".
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sessionary import Agent
from sessionary.caching import CachingStore, MemoryCache
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import InvalidInputError, ModelError, OwnershipError
from sessionary.models.base import ModelRequest, ModelResponse
from sessionary.storage.base import DeferredCheck, SessionWatcher, Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, StorageConformance, tool_call
from sessionary.testing.storage_data import make_run

# --------------------------------------------------------------------------- a watching store


class MirrorWatcher(SessionWatcher):
    """Summaries read once, dropped on each notice; a write of this process drops too."""

    def __init__(self, store: PushingDb) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.mirror: dict[str, SessionInfo | None] = {}
        self.inbox: list[str | None] = []  # notices delivered, not yet applied
        self.local = self.reads = 0
        self.writes: list[tuple[str | None, int | None]] = []

    def session_info(self, session_id: str, user_id: str | None = None) -> SessionInfo | None:
        with self.lock:
            for notice in self.inbox:
                if notice is None:
                    self.mirror.clear()
                else:
                    self.mirror.pop(notice, None)
            self.inbox.clear()
            if session_id in self.mirror:
                self.local += 1
                info = self.mirror[session_id]
            else:
                self.reads += 1
                info = self.store._get_session_info(session_id, None)
                self.mirror[session_id] = info
        if info is None or (user_id is not None and info.user_id != user_id):
            return None
        return info

    def written(self, session_id: str | None, info: SessionInfo | None = None) -> None:
        with self.lock:
            self.writes.append((session_id, None if info is None else info.version))
            if session_id is None:
                self.mirror.clear()
            else:
                self.mirror.pop(session_id, None)


class PushingDb(MemoryDb):
    """A memory store that posts a notice of each write to its watcher.

    With ``hold=True`` notices wait in :attr:`wire` until :meth:`deliver`.
    """

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__()
        self.hold = hold
        self.wire: list[str | None] = []
        self.info_reads = 0
        self._watcher = MirrorWatcher(self)

    def session_watcher(self) -> MirrorWatcher:
        return self._watcher

    def deliver(self) -> None:
        self._watcher.inbox += self.wire
        self.wire.clear()

    def _notice(self, session_id: str | None) -> None:
        self.wire.append(session_id)
        if not self.hold:
            self.deliver()

    def get_session_info(
        self, session_id: str, *, user_id: str | None = None
    ) -> SessionInfo | None:
        self.info_reads += 1
        return super().get_session_info(session_id, user_id=user_id)

    def _append_run(self, run: Run, session_type: SessionType) -> SessionInfo:
        try:
            return super()._append_run(run, session_type)
        finally:
            self._notice(run.session_id)

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        try:
            return super()._update_run(run, expected_version)
        finally:
            self._notice(run.session_id)

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        try:
            return super()._update_session(session_id, user_id, expected_version, changes)
        finally:
            self._notice(session_id)

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        try:
            return super()._import_session(session, replace)
        finally:
            self._notice(session.session_id)

    def _delete_session(self, session_id: str, user_id: str | None) -> bool:
        try:
            return super()._delete_session(session_id, user_id)
        finally:
            self._notice(session_id)

    def _erase_user(self, user_id: str) -> int:
        try:
            return super()._erase_user(user_id)
        finally:
            self._notice(None)

    def _trim_runs(self, session_id: str, keep_last: int, user_id: str | None) -> int:
        try:
            return super()._trim_runs(session_id, keep_last, user_id)
        finally:
            self._notice(session_id)


def cached_agent(db: Store, **options: Any) -> Agent:
    options.setdefault("model", ScriptedModel())
    return Agent(
        db=db,
        cache_session=True,
        add_history_to_context=True,
        session_id="s1",
        user_id="alice",
        **options,
    )


# --------------------------------------------------------------------------- the check


def test_a_cached_session_is_checked_by_the_watcher_not_by_a_read() -> None:
    db = PushingDb()
    agent = cached_agent(db)
    for turn in range(5):
        agent.run(f"turn {turn}")
    watcher = db.session_watcher()
    assert db.info_reads == 0  # the store's summary was never read for a check
    assert agent.cache_stats is not None and agent.cache_stats.hits == 4
    # One read when the session did not exist yet, one after each run of this process
    # (the watcher forgets what this process wrote, and reads it again when asked).
    assert watcher.reads == 5
    assert [version for _, version in watcher.writes] == [1, 2, 3, 4, 5]


def test_strict_reads_the_store_and_never_asks_the_watcher() -> None:
    db = PushingDb()
    agent = cached_agent(db=CachingStore(db, MemoryCache(), strict=True))
    for turn in range(3):
        agent.run(f"turn {turn}")
    assert isinstance(agent.db, CachingStore) and agent.db.watcher is None
    assert db.info_reads == 3
    assert db.session_watcher().reads == 0 and db.session_watcher().writes == []


def test_a_change_from_elsewhere_is_seen_once_its_notice_arrives() -> None:
    db = PushingDb(hold=True)
    agent = cached_agent(db)
    agent.run("mine")
    db.deliver()
    agent.run("mine again")
    db.deliver()
    db.append_run(make_run("s1", user_id="alice", text="from another process"))
    db.deliver()  # the server's notice reaches the watcher
    runs = agent.db.get_runs("s1", user_id="alice")
    assert [r.input for r in runs] == ["mine", "mine again", "from another process"]
    stats = agent.cache_stats
    assert stats is not None and stats.stale == 1  # caught up by reading the new run only


def test_a_rename_and_a_delete_from_elsewhere_are_seen() -> None:
    db = PushingDb()
    agent = cached_agent(db)
    agent.run("hello")
    db.update_session("s1", name="Renamed elsewhere")
    assert agent.get_session_name("s1") == "Renamed elsewhere"
    session = agent.get_session("s1")
    assert session is not None and session.name == "Renamed elsewhere"
    db.delete_session("s1")
    assert agent.get_session("s1") is None


def test_another_users_view_through_the_watcher_finds_nothing() -> None:
    db = PushingDb()
    agent = cached_agent(db)
    agent.run("private")
    assert agent.get_session("s1", user_id="mallory") is None
    with pytest.raises(OwnershipError):
        agent.run("intrusion", user_id="mallory")
    session = agent.get_session("s1")
    assert session is not None and [r.input for r in session.runs] == ["private"]


# --------------------------------------------------------------------------- own writes


def test_every_write_of_this_process_is_told_to_the_watcher() -> None:
    db = PushingDb(hold=True)  # no notice arrives: only what the caching store says
    store = CachingStore(db, MemoryCache())
    watcher = db.session_watcher()
    store.append_run(make_run("s1", user_id="alice"))
    store.append_run(make_run("s1", user_id="alice"))
    store.update_session("s1", name="Named")
    store.trim_runs("s1", keep_last=1)
    store.import_session(Session.from_info(store.get_session("s1").info, ()), replace=True)  # type: ignore[union-attr]
    store.delete_session("s1")
    store.erase_user("alice")
    assert watcher.writes == [
        ("s1", 1),
        ("s1", 2),
        ("s1", 3),
        ("s1", None),  # trim returns a count, not a summary
        ("s1", None),
        ("s1", None),
        (None, None),  # erasing a user: any session may have changed
    ]


def test_this_process_never_reads_older_than_its_own_writes_before_any_notice() -> None:
    db = PushingDb(hold=True)
    agent = cached_agent(db)
    for turn in range(3):
        agent.run(f"turn {turn}")  # no notice is ever delivered
    agent.set_session_name("s1", session_name="Mine")
    session = agent.get_session("s1")
    assert session is not None and session.name == "Mine"
    assert [r.input for r in session.runs] == ["turn 0", "turn 1", "turn 2"]


def test_a_failed_write_is_told_to_the_watcher_too() -> None:
    db = PushingDb()
    store = CachingStore(db, MemoryCache())
    store.append_run(make_run("s1", user_id="alice"))
    with pytest.raises(OwnershipError):
        store.append_run(make_run("s1", user_id="mallory"))
    assert db.session_watcher().writes[-1] == ("s1", None)


class FailingWatcher(MirrorWatcher):
    def written(self, session_id: str | None, info: SessionInfo | None = None) -> None:
        raise RuntimeError("watcher lost its marbles")


def test_a_watcher_that_fails_to_note_a_write_never_fails_the_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = PushingDb()
    db._watcher = FailingWatcher(db)
    store = CachingStore(db, MemoryCache())
    with caplog.at_level(logging.WARNING, logger="sessionary.caching.store"):
        info = store.append_run(make_run("s1"))
    assert info.run_count == 1 and db.get_session_info("s1") is not None
    assert store.stats().errors == 1
    assert "watcher lost its marbles" in caplog.text


# --------------------------------------------------------------------------- configuration


class OddDb(MemoryDb):
    def session_watcher(self) -> Any:
        return object()


def test_a_store_that_offers_something_else_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match=r"OddDb.session_watcher\(\) must return"):
        CachingStore(OddDb(), MemoryCache())


@pytest.mark.parametrize("strict", [1, "yes", None])
def test_strict_must_be_true_or_false(strict: Any) -> None:
    with pytest.raises(InvalidInputError, match="strict must be True or False"):
        CachingStore(MemoryDb(), MemoryCache(), strict=strict)


def test_a_store_without_a_watcher_is_checked_with_a_read() -> None:
    store = CachingStore(MemoryDb(), MemoryCache())
    assert store.watcher is None and "strict=False" in repr(store)


# --------------------------------------------------------------------------- the contract


class TestCachingStoreWithWatcherConformance(StorageConformance):
    """With a watcher answering its checks, the caching store still keeps the contract."""

    @pytest.fixture(params=["watch", "watch-tiny", "strict"])
    def store(self, request: pytest.FixtureRequest) -> Iterator[Store]:
        cache = MemoryCache(max_sessions=1, max_bytes=3000) if "tiny" in request.param else None
        with CachingStore(
            PushingDb(), cache or MemoryCache(), strict=request.param == "strict"
        ) as store:
            yield store

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, CachingStore) and isinstance(store.store, MemoryDb)
        store.store._runs[session_id][0] = '{"run_id": 42'
        store.cache.clear()


# --------------------------------------------------------------------------- deferred checks


class WireCheck(DeferredCheck):
    """Confirms like a ``PING`` would: the notices on the wire arrive before the answer."""

    def __init__(self, watcher: DeferringWatcher, session_id: str, answer: SessionInfo | None):
        self.watcher, self.session_id, self.answer = watcher, session_id, answer

    def confirm(self) -> bool:
        watcher = self.watcher
        watcher.store.deliver()
        watcher.events.append("confirm")
        current = watcher.session_info(self.session_id) == self.answer
        watcher.confirms.append(current)
        return current


class DeferringWatcher(MirrorWatcher):
    """Answers from the mirror at once, with a check that delivers the wire when confirmed."""

    def __init__(self, store: PushingDb) -> None:
        super().__init__(store)
        self.events: list[str] = []
        self.confirms: list[bool] = []
        self.deferred = 0

    def session_info_deferred(
        self, session_id: str, user_id: str | None = None
    ) -> tuple[SessionInfo | None, DeferredCheck | None]:
        with self.lock:
            known = session_id in self.mirror and not self.inbox
            answer = self.mirror.get(session_id)
        if not known:
            return self.session_info(session_id, user_id), None
        self.deferred += 1
        self.events.append("read")
        info = answer if user_id is None or (answer and answer.user_id == user_id) else None
        return info, WireCheck(self, session_id, answer)


class DeferringDb(PushingDb):
    def __init__(self, *, hold: bool = False) -> None:
        super().__init__(hold=hold)
        self._watcher = DeferringWatcher(self)

    def session_watcher(self) -> DeferringWatcher:
        assert isinstance(self._watcher, DeferringWatcher)
        return self._watcher


class LoggingModel(ScriptedModel):
    """A scripted model that notes each call in the watcher's event log."""

    def __init__(self, events: list[str], *replies: Any) -> None:
        super().__init__(*replies)
        self.events = events

    def respond(self, request: ModelRequest) -> ModelResponse:
        self.events.append("model")
        return super().respond(request)


def warm(agent: Agent) -> None:
    """Read the session once, so the watcher holds its summary (as Redis's keeps its own)."""
    agent.db.get_runs("s1", user_id="alice")


def test_a_cached_history_is_confirmed_after_the_model_call_it_overlaps() -> None:
    db = DeferringDb()
    watcher = db.session_watcher()
    agent = cached_agent(db, model=LoggingModel(watcher.events))
    agent.run("first")
    warm(agent)
    watcher.events.clear()
    run = agent.run("second")
    assert watcher.events == ["read", "model", "confirm"]  # then the run is stored
    assert watcher.confirms == [True] and run.metrics.model_calls == 1
    session = agent.get_session("s1")
    assert session is not None and [r.input for r in session.runs] == ["first", "second"]


def test_a_write_still_on_its_way_when_the_history_was_read_makes_the_run_start_over() -> None:
    db = DeferringDb(hold=True)
    watcher = db.session_watcher()
    model = LoggingModel(watcher.events)
    agent = cached_agent(db, model=model)
    agent.run("mine")
    db.deliver()
    warm(agent)
    db.append_run(make_run("s1", user_id="alice", text="from another process"))  # on the wire
    watcher.events.clear()
    run = agent.run("next")
    assert watcher.events == ["read", "model", "confirm", "model"]
    assert watcher.confirms == [False]
    stale, fresh = ([m.content for m in r.messages] for r in model.requests[-2:])
    assert "from another process" not in stale  # the answer on it was dropped
    assert "from another process" in fresh
    assert run.metrics.model_calls == 2  # both calls were made, and count
    session = agent.get_session("s1")
    assert session is not None
    assert [r.input for r in session.runs] == ["mine", "from another process", "next"]
    assert session.runs[-1].messages[-1].content == run.content == "echo: next"


def test_no_tool_runs_on_a_history_that_did_not_confirm() -> None:
    db = DeferringDb(hold=True)
    watcher = db.session_watcher()
    bumped: list[int] = []

    def bump(n: int) -> str:
        """Bump the counter."""
        bumped.append(n)
        return "bumped"

    model = LoggingModel(watcher.events, "hello", tool_call("bump", n=1), tool_call("bump", n=2))
    agent = cached_agent(db, model=model, tools=[bump])
    agent.run("first")
    db.deliver()
    warm(agent)
    db.append_run(make_run("s1", user_id="alice", text="elsewhere"))
    run = agent.run("bump it")
    assert bumped == [2]  # the call made on the stale history never ran
    assert run.status.value == "completed" and watcher.confirms == [False]


def test_a_model_failure_on_a_history_that_did_not_confirm_is_retried_not_stored() -> None:
    db = DeferringDb(hold=True)
    watcher = db.session_watcher()
    model = LoggingModel(watcher.events, "hello", RuntimeError("model down"), "fine")
    agent = cached_agent(db, model=model)
    agent.run("first")
    db.deliver()
    warm(agent)
    db.append_run(make_run("s1", user_id="alice", text="elsewhere"))
    run = agent.run("again")
    assert run.content == "fine" and run.error is None
    session = agent.get_session("s1")
    assert session is not None and [r.status.value for r in session.runs] == ["completed"] * 3


def test_a_model_failure_on_a_confirmed_history_is_stored_as_before() -> None:
    db = DeferringDb()
    watcher = db.session_watcher()
    agent = cached_agent(db, model=LoggingModel(watcher.events, "hello", RuntimeError("down")))
    agent.run("first")
    warm(agent)
    with pytest.raises(ModelError, match="down"):
        agent.run("again")
    assert watcher.confirms == [True]
    session = agent.get_session("s1")
    assert session is not None and session.runs[-1].status.value == "error"


def test_streaming_and_async_runs_read_a_checked_history() -> None:
    db = DeferringDb()
    watcher = db.session_watcher()
    agent = cached_agent(db)
    agent.run("first")
    warm(agent)
    deferred = watcher.deferred
    last = list(agent.run("streamed", stream=True))[-1]
    assert isinstance(last, Run) and last.content == "echo: streamed"
    warm(agent)
    assert asyncio.run(agent.arun("awaited")).content == "echo: awaited"
    assert watcher.deferred == deferred  # deltas reach the caller at once; arun checks first


def test_without_a_watcher_the_deferred_read_is_the_checked_read() -> None:
    store = CachingStore(MemoryDb(), MemoryCache())
    store.append_run(make_run("s1"))
    runs, check = store.get_runs_deferred("s1", last_n=1)
    assert check is None and [r.input for r in runs] == ["hello"]
    with pytest.raises(InvalidInputError, match="session_id"):
        store.get_runs_deferred("")
    with pytest.raises(InvalidInputError, match="check must be a DeferredCheck"):
        store.confirm_read("not a check")  # type: ignore[arg-type]
