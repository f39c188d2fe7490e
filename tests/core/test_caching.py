"""Session caching in core: the agent's cached read path, write-through, bounds, users."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionary import Agent
from sessionary.caching import CachingStore, MemoryCache, approx_size
from sessionary.caching.conformance import new_session
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import SessionNotFoundError
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call
from sessionary.tools import tool

# --------------------------------------------------------------------------- helpers


class CountingDb(MemoryDb):
    """A memory store that counts how often runs and summaries are read."""

    def __init__(self) -> None:
        super().__init__()
        self.session_reads: list[int | None] = []
        self.info_reads = 0

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        self.session_reads.append(last_n_runs)
        if before_run is not None:
            return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt, before_run)
        return super()._get_session(session_id, user_id, last_n_runs, skip_corrupt)

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        self.info_reads += 1
        return super()._get_session_info(session_id, user_id)


def agent_on(db: Store, **options: Any) -> Agent:
    options.setdefault("add_history_to_context", True)
    return Agent(model=ScriptedModel(), db=db, cache_session=True, **options)


def seen_by_model(agent: Agent) -> list[str | None]:
    """What the model was sent on its last call (history and the new input)."""
    assert isinstance(agent.model, ScriptedModel)
    return [m.content for m in agent.model.requests[-1].messages]


# --------------------------------------------------------------------------- the spec


def test_the_spec_snippet_works_with_no_db() -> None:
    agent = Agent(model=ScriptedModel(), session_id="my_session", cache_session=True)
    agent.run("First message")
    agent.run("Second message")
    session = agent.get_session()
    assert session is not None
    assert [m.content for m in session.get_chat_history()] == [
        "First message",
        "echo: First message",
        "Second message",
        "echo: Second message",
    ]
    assert isinstance(agent.db, CachingStore)
    assert isinstance(agent.db.store, MemoryDb)


def test_without_cache_session_nothing_is_wrapped() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://")
    assert isinstance(agent.db, MemoryDb)
    assert agent.cache_stats is None


# --------------------------------------------------------------------------- reads


def test_later_runs_read_no_runs_from_the_store() -> None:
    db = CountingDb()
    seeded = Agent(model=ScriptedModel(), db=db)
    for index in range(5):
        seeded.run(f"old {index}", session_id="s1")
    agent = agent_on(db, num_history_runs=3)
    db.session_reads.clear()
    agent.run("first cached", session_id="s1")
    assert db.session_reads == [None]  # the first read hydrates the whole session
    for index in range(10):
        agent.run(f"turn {index}", session_id="s1")
    assert db.session_reads == [None]  # ...and later runs read no runs at all
    assert seen_by_model(agent)[-3:] == ["turn 8", "echo: turn 8", "turn 9"]
    session = agent.get_session("s1")
    assert session is not None and session.run_count == 16 and len(session.runs) == 16
    assert agent.get_chat_history("s1", last_n_runs=1)[-1].content == "echo: turn 9"
    assert db.session_reads == [None]
    stats = agent.cache_stats
    assert stats is not None
    assert (stats.misses, stats.hits, stats.stale) == (1, 12, 0)


def test_each_cached_read_checks_the_version_with_one_cheap_read() -> None:
    db = CountingDb()
    agent = agent_on(db, user_id="u1")  # unscoped runs read the summary once more
    agent.run("a", session_id="s1")
    before = db.info_reads
    agent.run("b", session_id="s1")
    agent.get_session("s1")
    assert db.info_reads - before == 2


def test_runs_that_read_nothing_leave_the_cache_alone() -> None:
    db = CountingDb()
    agent = agent_on(db, add_history_to_context=False, user_id="u1")
    for index in range(5):
        agent.run(f"turn {index}", session_id="s1")
    assert isinstance(agent.db, CachingStore) and isinstance(agent.db.cache, MemoryCache)
    assert len(agent.db.cache) == 0 and (db.info_reads, db.session_reads) == (0, [])
    session = agent.get_session("s1")  # the first read caches it; later runs write through
    assert session is not None and session.run_count == 5 and len(agent.db.cache) == 1
    agent.run("turn 5", session_id="s1")
    cached = agent.db.cache.get("u1", "s1")
    assert cached is not None and cached.run_count == 6


def test_a_run_appended_by_another_writer_is_seen_on_the_next_read() -> None:
    db = CountingDb()
    cached = agent_on(db)
    other = Agent(model=ScriptedModel(), db=db)  # e.g. another process, no cache
    cached.run("mine 1", session_id="s1")
    other.run("theirs 1", session_id="s1")
    other.run("theirs 2", session_id="s1")
    db.session_reads.clear()
    cached.run("mine 2", session_id="s1")
    assert "theirs 2" in seen_by_model(cached)
    assert db.session_reads == [2]  # caught up by reading only the two new runs
    session = cached.get_session("s1")
    assert session is not None
    assert [r.input for r in session.runs] == ["mine 1", "theirs 1", "theirs 2", "mine 2"]
    stats = cached.cache_stats
    assert stats is not None and stats.stale == 1


def test_a_rename_behind_the_cache_is_seen() -> None:
    db = MemoryDb()
    agent = agent_on(db)
    agent.run("hello", session_id="s1")
    db.update_session("s1", name="Renamed elsewhere")  # the raw store: the cache never saw it
    session = agent.get_session("s1")
    assert session is not None and session.name == "Renamed elsewhere"
    assert len(session.runs) == 1


def test_a_session_deleted_elsewhere_is_gone() -> None:
    db = MemoryDb()
    agent = agent_on(db)
    agent.run("hello", session_id="s1")
    db.delete_session("s1")
    assert agent.get_session("s1") is None
    agent.run("again", session_id="s1")
    session = agent.get_session("s1")
    assert session is not None and [r.input for r in session.runs] == ["again"]


def test_a_recreated_session_is_not_confused_with_the_old_one() -> None:
    db = MemoryDb()
    agent = agent_on(db)
    agent.run("old", session_id="s1")
    db.delete_session("s1")
    other = Agent(model=ScriptedModel(), db=db)
    other.run("new", session_id="s1")  # same ID, same version 1, another lifetime
    session = agent.get_session("s1")
    assert session is not None and [r.input for r in session.runs] == ["new"]


def test_a_returned_session_is_never_changed_by_a_later_run() -> None:
    agent = agent_on(MemoryDb())
    agent.run("one", session_id="s1")
    held = agent.get_session("s1")
    assert held is not None
    agent.run("two", session_id="s1")
    agent.db.update_session("s1", name="Named", state={"k": 1})
    assert len(held.runs) == 1 and held.run_count == 1 and held.name is None
    now = agent.get_session("s1")
    assert now is not None and now.run_count == 2 and now.name == "Named"
    assert now.state == {"k": 1}


# --------------------------------------------------------------------------- writes


def test_writes_through_the_agent_update_the_cache_without_rereading() -> None:
    db = CountingDb()
    agent = agent_on(db)
    agent.run("one", session_id="s1")
    agent.get_session("s1")
    db.session_reads.clear()
    agent.db.update_session("s1", name="Launch", state={"step": 2})
    session = agent.get_session("s1")
    assert session is not None and session.name == "Launch" and session.state == {"step": 2}
    assert db.session_reads == []


def test_an_updated_run_is_written_through() -> None:
    db = CountingDb()
    agent = agent_on(db)
    agent.run("one", session_id="s1")
    paused = Run(run_id="r-paused", session_id="s1", agent_id=agent.id, status=RunStatus.PAUSED)
    agent.db.append_run(paused)
    agent.db.update_run(attrs.evolve(paused, status=RunStatus.COMPLETED), expected_version=1)
    db.session_reads.clear()
    session = agent.get_session("s1")
    assert session is not None
    assert session.runs[-1].status is RunStatus.COMPLETED and session.runs[-1].version == 2
    assert db.session_reads == []
    assert session.runs == MemoryDb.get_session(db, "s1").runs  # type: ignore[union-attr]


def test_deleting_through_the_agent_drops_the_entry() -> None:
    agent = agent_on(MemoryDb())
    agent.run("one", session_id="s1", user_id="u1")
    assert agent.delete_session("s1", user_id="u1")
    assert agent.get_session("s1", user_id="u1") is None
    assert agent.get_session("s1") is None


def test_a_failed_write_leaves_the_cache_as_it_was() -> None:
    agent = agent_on(MemoryDb())
    agent.run("mine", session_id="s1", user_id="alice")
    with pytest.raises(SessionNotFoundError):
        agent.run("intruder", session_id="s1", user_id="mallory")
    session = agent.get_session("s1", user_id="alice")
    assert session is not None and [r.input for r in session.runs] == ["mine"]


# --------------------------------------------------------------------------- users


def test_a_cached_session_is_never_handed_to_another_user() -> None:
    db = CountingDb()
    agent = agent_on(db)
    agent.run("alice's secret", session_id="shared-id", user_id="alice")
    assert agent.get_session("shared-id", user_id="alice") is not None
    assert agent.get_session("shared-id", user_id="bob") is None
    assert agent.get_chat_history("shared-id", user_id="bob") == []
    with pytest.raises(SessionNotFoundError):
        agent.run("bob's turn", session_id="shared-id", user_id="bob")
    assert all("secret" not in (text or "") for text in seen_by_model(agent))
    alice = agent.get_session("shared-id", user_id="alice")
    assert alice is not None and alice.run_count == 1


def test_the_owner_and_the_no_user_view_stay_consistent() -> None:
    agent = agent_on(MemoryDb())
    agent.run("as alice", session_id="s1", user_id="alice")
    everyone = agent.get_session("s1")  # no user: sees every session, cached under None
    assert everyone is not None and everyone.run_count == 1
    agent.run("as alice again", session_id="s1", user_id="alice")
    everyone = agent.get_session("s1")
    assert everyone is not None and everyone.run_count == 2


# --------------------------------------------------------------------------- trust interval


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("sessionary.caching.store.time.monotonic", fake)
    return fake


def test_within_the_trust_interval_no_read_reaches_the_store(clock: Clock) -> None:
    db = CountingDb()
    agent = agent_on(db, cache_trust_seconds=5.0, user_id="u1")
    agent.run("one", session_id="s1")
    reads = (len(db.session_reads), db.info_reads)
    agent.run("two", session_id="s1")
    agent.get_session("s1")
    assert (len(db.session_reads), db.info_reads) == reads


def test_after_the_trust_interval_the_version_is_checked_again(clock: Clock) -> None:
    db = MemoryDb()
    agent = agent_on(db, cache_trust_seconds=5.0)
    agent.run("one", session_id="s1")
    Agent(model=ScriptedModel(), db=db).run("theirs", session_id="s1")
    session = agent.get_session("s1")
    assert session is not None and session.run_count == 1  # trusted: the documented trade-off
    clock.now += 5.0
    session = agent.get_session("s1")
    assert session is not None and session.run_count == 2


def test_trust_never_hides_this_processs_own_writes(clock: Clock) -> None:
    agent = agent_on(MemoryDb(), cache_trust_seconds=3600.0)
    agent.run("one", session_id="s1", user_id="alice")
    assert agent.get_session("s1") is not None  # the no-user entry, trusted now
    agent.run("two", session_id="s1", user_id="alice")
    everyone = agent.get_session("s1")
    assert everyone is not None and everyone.run_count == 2
    agent.db.update_session("s1", name="Named")
    alice = agent.get_session("s1", user_id="alice")
    assert alice is not None and alice.name == "Named"
    agent.db.erase_user("alice")
    assert agent.get_session("s1", user_id="alice") is None
    assert agent.get_session("s1") is None


# --------------------------------------------------------------------------- bounds


def test_the_lru_evicts_the_least_recently_used_session_beyond_max_sessions() -> None:
    cache = MemoryCache(max_sessions=2)
    db = CountingDb()
    agent = agent_on(db, session_cache=cache)
    for sid in ("a", "b"):
        agent.run("hi", session_id=sid)
    agent.get_session("a")  # a is now more recent than b
    agent.run("hi", session_id="c")
    assert len(cache) == 2
    assert cache.get(None, "b") is None and cache.get(None, "a") is not None
    stats = agent.cache_stats
    assert stats is not None and stats.evictions == 1
    db.session_reads.clear()
    session = agent.get_session("b")  # evicted: hydrated again, still correct
    assert session is not None and session.run_count == 1
    assert db.session_reads == [None]


def test_the_lru_stays_within_max_bytes() -> None:
    one = new_session("x", runs=4)
    cache = MemoryCache(max_bytes=int(approx_size(one) * 2.5))
    for index in range(6):
        cache.put("u1", new_session(f"s{index}", runs=4))
    assert cache.approx_bytes <= cache.max_bytes
    assert len(cache) == 2
    assert cache.stats().evictions == 4


def test_a_session_too_large_for_the_cache_is_read_from_the_store() -> None:
    db = CountingDb()
    agent = agent_on(db, session_cache=MemoryCache(max_bytes=20_000), num_history_runs=2)
    for index in range(30):
        agent.run("x" * 200 + str(index), session_id="big")
    session = agent.get_session("big")
    assert session is not None and session.run_count == 30
    db.session_reads.clear()
    agent.run("last", session_id="big")
    assert db.session_reads == [2]  # straight to the store, only the history it needs
    assert seen_by_model(agent)[-1] == "last"


def test_a_large_session_deleted_and_started_again_is_cached_again() -> None:
    db = CountingDb()
    agent = agent_on(db, session_cache=MemoryCache(max_bytes=20_000))
    for index in range(30):
        agent.run("x" * 200 + str(index), session_id="s1")
    agent.get_session("s1")
    assert agent.delete_session("s1")
    agent.run("small again", session_id="s1")
    db.session_reads.clear()
    agent.run("and again", session_id="s1")
    assert db.session_reads == []  # cached once more, not read from the store


def test_appending_keeps_the_size_and_the_sessions_handed_out_exact() -> None:
    db = MemoryDb()
    cache = MemoryCache()
    first = db.append_run(Run(run_id="r0", session_id="s1", input="run 0"))
    cache.put(None, db.get_session("s1"))  # type: ignore[arg-type]
    held = cache.get(None, "s1")
    assert held is not None and first.run_count == 1
    for index in range(1, 50):
        run = Run(run_id=f"r{index}", session_id="s1", input=f"run {index}")
        assert cache.append(None, run, db.append_run(run))
    whole = cache.get(None, "s1")
    assert whole is not None and whole == db.get_session("s1")
    assert cache.approx_bytes == approx_size(whole)  # counted run by run, exactly
    assert cache.get(None, "s1") is whole  # built once, until the next append
    tail = cache.get(None, "s1", last_n_runs=2)
    assert tail is not None and [r.input for r in tail.runs] == ["run 48", "run 49"]
    assert [r.input for r in held.runs] == ["run 0"]  # never changed behind its back
    behind = db.append_run(Run(run_id="e1", session_id="s1", input="from elsewhere"))
    skipped = Run(run_id="e2", session_id="s1", input="two versions on")
    assert not cache.append(None, skipped, db.append_run(skipped)) and behind.version == 51
    assert cache.get(None, "s1") is None and cache.approx_bytes == 0


def test_approx_size_grows_with_content() -> None:
    small = new_session(runs=1)
    bigger = attrs.evolve(small, runs=(attrs.evolve(small.runs[0], content="y" * 100_000),))
    assert approx_size(bigger) - approx_size(small) >= 99_000
    assert approx_size(new_session(runs=10)) > approx_size(small)


def test_team_sessions_are_cached_as_team_sessions() -> None:
    db = CachingStore(MemoryDb(), MemoryCache())
    run = Run(run_id="r1", session_id="t1", team_id="team-1")
    db.append_run(run, session_type=SessionType.TEAM)
    session = db.get_session("t1")
    assert session is not None and session.session_type is SessionType.TEAM
    assert type(session).__name__ == "TeamSession"


def test_the_first_snippet_of_the_caching_guide_runs_on_core_alone() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "guides" / "caching.md"
    first = re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)[0]
    assert "cache_session=True" in first and "db=" not in first
    exec(compile(first, str(page), "exec"), {"__name__": "docs_caching"})


def test_answering_a_paused_run_never_changes_the_cached_copy() -> None:
    @tool(requires_confirmation=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    db = MemoryDb()
    agent = Agent(
        model=ScriptedModel(tool_call("delete_file", path="/tmp/x"), "Deleted."),
        db=db,
        tools=[delete_file],
        cache_session=True,
    )
    paused = agent.run("Delete /tmp/x", session_id="s1")
    assert paused.is_paused
    held = agent.get_session("s1")
    assert held is not None
    held.runs[0].active_requirements[0].confirm()  # the answer lives on this caller's copy...
    paused.active_requirements[0].confirm()
    again = agent.get_session("s1")
    assert again is not None
    assert again.runs[0].active_requirements  # ...not on the cache's, nor anyone else's
    done = agent.continue_run(
        run_id=paused.run_id, session_id="s1", requirements=paused.requirements
    )
    assert done.content == "Deleted."
    session = agent.get_session("s1")
    assert session is not None and session.runs[0].status is RunStatus.COMPLETED
    assert session.runs == MemoryDb.get_session(db, "s1").runs  # type: ignore[union-attr]
