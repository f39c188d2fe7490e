"""The session-cache conformance suite: the :class:`SessionCache` contract as pytest tests.

Subclass :class:`SessionCacheConformance` in your cache backend's tests and give it a
``cache`` fixture that yields an empty cache::

    class TestMyCache(SessionCacheConformance):
        @pytest.fixture
        def cache(self):
            cache = MyCache(...)
            yield cache
            cache.clear()
            cache.close()

Importing this module needs pytest; the rest of :mod:`sessionary.caching` does not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import attrs
import pytest

from sessionary.caching.base import CacheStats, SessionCache
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Run, RunMetrics
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.ids import new_id
from sessionary.storage.base import summary_after_append

__all__ = ["SessionCacheConformance", "grow", "new_session"]

_CREATED = 1_700_000_000.0


def _run(session_id: str, user_id: str | None, text: str) -> Run:
    return Run(
        run_id=new_id(),
        session_id=session_id,
        user_id=user_id,
        agent_id="agent-1",
        input=text,
        messages=(
            Message(role=Role.USER, content=text, created_at=1.0),
            Message(
                role=Role.ASSISTANT,
                tool_calls=(ToolCall(id="c1", name="lookup", arguments={"q": text}),),
                created_at=2.0,
                metadata={"response_id": "r1"},
            ),
            Message(role=Role.ASSISTANT, content=f"re: {text}", created_at=3.0),
        ),
        content=f"re: {text}",
        metrics=RunMetrics(input_tokens=1, output_tokens=2),
        created_at=1.0,
        updated_at=3.0,
        metadata={"k": [1, "two"]},
    )


def new_session(
    session_id: str = "s1",
    user_id: str | None = "u1",
    runs: int = 2,
    *,
    created_at: float = _CREATED,
    session_type: SessionType = SessionType.AGENT,
) -> Session:
    """A session of ``runs`` runs whose summary is what a store would report."""
    info = SessionInfo(
        session_id=session_id,
        session_type=session_type,
        user_id=user_id,
        agent_id="agent-1",
        created_at=created_at,
        updated_at=created_at,
        state={"step": 1},
        metadata={"ticket": "T-1"},
    )
    session = Session.from_info(info, ())
    for index in range(runs):
        session = grow(session, f"m{index}")[0]
    return session


def grow(session: Session, text: str = "more") -> tuple[Session, Run, SessionInfo]:
    """The session after one more run, the run, and the summary a store would return."""
    run = _run(session.session_id, session.user_id, text)
    info = summary_after_append(session.info, run, session.updated_at + 1)
    return Session.from_info(info, (*session.runs, run)), run, info


class SessionCacheConformance:
    """The cache contract as tests; see the module documentation for how to use it."""

    @pytest.fixture
    def cache(self) -> Iterator[SessionCache]:
        """An empty cache. Override in the subclass."""
        raise NotImplementedError("override the 'cache' fixture to return your cache")

    # ------------------------------------------------------------------ get and put

    def test_a_missing_session_is_none(self, cache: SessionCache) -> None:
        assert cache.get("u1", "nope") is None
        assert cache.get(None, "nope", last_n_runs=3) is None

    def test_put_then_get_returns_an_equal_session(self, cache: SessionCache) -> None:
        session = new_session(runs=3)
        assert cache.put("u1", session) is True
        got = cache.get("u1", "s1")
        assert got == session
        assert type(got) is type(session)

    def test_team_sessions_keep_their_type(self, cache: SessionCache) -> None:
        session = new_session("t1", session_type=SessionType.TEAM)
        cache.put("u1", session)
        got = cache.get("u1", "t1")
        assert got is not None and got.session_type is SessionType.TEAM
        assert type(got) is type(session)

    def test_last_n_runs_returns_the_tail_with_the_whole_summary(self, cache: SessionCache) -> None:
        session = new_session(runs=5)
        cache.put("u1", session)
        tail = cache.get("u1", "s1", last_n_runs=2)
        assert tail is not None
        assert tail.runs == session.runs[-2:]
        assert (tail.run_count, tail.version) == (5, 5)
        none = cache.get("u1", "s1", last_n_runs=0)
        assert none is not None and none.runs == ()
        every = cache.get("u1", "s1", last_n_runs=50)
        assert every is not None and every.runs == session.runs

    def test_an_entry_is_never_handed_to_another_user(self, cache: SessionCache) -> None:
        cache.put("alice", new_session(user_id="alice"))
        assert cache.get("bob", "s1") is None
        assert cache.get(None, "s1") is None
        cache.put(None, new_session(user_id="alice", runs=1))
        alice = cache.get("alice", "s1")
        assert alice is not None and alice.run_count == 2

    def test_ids_are_data_not_syntax(self, cache: SessionCache) -> None:
        pairs = [("a:b", "c"), ("a", "b:c"), ("*", "?"), ("{x}", "[a-z]"), (None, "None")]
        for index, (user, session_id) in enumerate(pairs):
            cache.put(user, new_session(session_id, user, runs=index + 1))
        for index, (user, session_id) in enumerate(pairs):
            got = cache.get(user, session_id)
            assert got is not None and got.run_count == index + 1, (user, session_id)
        assert cache.get("None", "None") is None

    def test_put_keeps_the_newer_version(self, cache: SessionCache) -> None:
        old = new_session(runs=2)
        new, _, _ = grow(old)
        assert cache.put("u1", new)
        assert cache.put("u1", old) is False
        got = cache.get("u1", "s1")
        assert got is not None and got.version == new.version

    def test_a_recreated_session_replaces_the_old_one(self, cache: SessionCache) -> None:
        cache.put("u1", new_session(runs=3))
        reborn = new_session(runs=1, created_at=_CREATED + 60)
        assert cache.put("u1", reborn)
        got = cache.get("u1", "s1")
        assert got is not None and got.created_at == reborn.created_at and got.run_count == 1

    # ------------------------------------------------------------------ write-through

    def test_append_extends_an_entry_one_version_behind(self, cache: SessionCache) -> None:
        session = new_session(runs=2)
        cache.put("u1", session)
        after, run, info = grow(session)
        assert cache.append("u1", run, info) is True
        assert cache.get("u1", "s1") == after

    def test_append_drops_an_entry_another_writer_got_ahead_of(self, cache: SessionCache) -> None:
        session = new_session(runs=2)
        cache.put("u1", session)
        skipped, _, _ = grow(session, "someone else's")
        _, run, info = grow(skipped)
        assert cache.append("u1", run, info) is False
        assert cache.get("u1", "s1") is None

    def test_append_of_a_first_run_caches_the_new_session(self, cache: SessionCache) -> None:
        empty = new_session(runs=0)
        after, run, info = grow(empty)
        assert cache.append("u1", run, info) is True
        assert cache.get("u1", "s1") == after

    def test_append_without_an_entry_caches_nothing(self, cache: SessionCache) -> None:
        _, run, info = grow(new_session(runs=3))
        assert cache.append("u1", run, info) is False
        assert cache.get("u1", "s1") is None

    def test_a_session_handed_out_never_changes(self, cache: SessionCache) -> None:
        session = new_session(runs=2)
        cache.put("u1", session)
        held = cache.get("u1", "s1")
        assert held is not None
        snapshot = attrs.evolve(held)
        _, run, info = grow(session)
        cache.append("u1", run, info)
        assert held == snapshot and len(held.runs) == 2

    def test_concurrent_appends_never_leave_a_wrong_entry(self, cache: SessionCache) -> None:
        session = new_session(runs=1)
        cache.put("u1", session)
        chain = [grow(session, "0")]
        for index in range(1, 24):
            chain.append(grow(chain[-1][0], str(index)))
        barrier = threading.Barrier(4)

        def write(start: int) -> None:
            barrier.wait()
            for after, run, info in chain[start::4]:
                cache.append("u1", run, info)
                cache.put("u1", after)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = cache.get("u1", "s1")
        # Whatever survived is one of the real states, never a mix of two.
        assert got is None or got == next(s for s, _, _ in chain if s.version == got.version)

    # ------------------------------------------------------------------ forgetting

    def test_invalidate_forgets_one_key(self, cache: SessionCache) -> None:
        cache.put("u1", new_session("s1"))
        cache.put("u1", new_session("s2"))
        cache.invalidate("u1", "s1")
        cache.invalidate("u1", "never-cached")
        assert cache.get("u1", "s1") is None
        assert cache.get("u1", "s2") is not None

    def test_clear_forgets_everything(self, cache: SessionCache) -> None:
        cache.put("u1", new_session("s1"))
        cache.put(None, new_session("s2", None))
        cache.clear()
        assert cache.get("u1", "s1") is None
        assert cache.get(None, "s2") is None

    def test_stats_are_cache_stats(self, cache: SessionCache) -> None:
        stats = cache.stats()
        assert isinstance(stats, CacheStats)
        assert stats.evictions >= 0 and stats.errors >= 0
