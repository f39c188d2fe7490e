"""Session caching in core: configuration, third-party caches, failing caches, contracts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sessionary import Agent
from sessionary.caching import CacheStats, CachingStore, MemoryCache, SessionCache
from sessionary.caching.conformance import SessionCacheConformance
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidInputError, PluginError
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, StorageConformance


def agent_on(db: Store, **options: Any) -> Agent:
    options.setdefault("add_history_to_context", True)
    return Agent(model=ScriptedModel(), db=db, cache_session=True, **options)


def seen_by_model(agent: Agent) -> list[str | None]:
    """What the model was sent on its last call (history and the new input)."""
    assert isinstance(agent.model, ScriptedModel)
    return [m.content for m in agent.model.requests[-1].messages]


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache_session": "yes"}, "cache_session must be True or False"),
        ({"cache_session": True, "session_cache": 42}, "session_cache must be"),
        ({"cache_session": True, "cache_trust_seconds": -1}, "cache_trust_seconds"),
        ({"cache_session": True, "cache_trust_seconds": float("nan")}, "cache_trust_seconds"),
        ({"cache_session": True, "cache_trust_seconds": True}, "cache_trust_seconds"),
        ({"session_cache": "memory"}, "cache_session is False"),
        ({"cache_trust_seconds": 2.0}, "cache_session is False"),
    ],
)
def test_bad_configuration_is_a_clear_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Agent(model=ScriptedModel(), **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_sessions": 0}, "max_sessions"), ({"max_bytes": "big"}, "max_bytes")],
)
def test_bad_bounds_are_a_clear_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MemoryCache(**options)


def test_an_unknown_cache_name_lists_the_known_ones() -> None:
    with pytest.raises(PluginError, match=r"no cache backend named 'nope' \(known: .*memory"):
        Agent(model=ScriptedModel(), cache_session=True, session_cache="nope")


def test_caches_are_chosen_by_name_or_url() -> None:
    by_name = Agent(model=ScriptedModel(), cache_session=True, session_cache="memory")
    by_url = Agent(model=ScriptedModel(), cache_session=True, session_cache="memory://")
    for agent in (by_name, by_url):
        assert isinstance(agent.db, CachingStore)
        assert isinstance(agent.db.cache, MemoryCache)


def test_one_cache_object_can_be_shared_by_agents_on_one_store() -> None:
    db, cache = MemoryDb(), MemoryCache()
    first = agent_on(db, session_cache=cache)
    second = agent_on(db, session_cache=cache)
    first.run("from first", session_id="s1")
    second.run("from second", session_id="s1")
    assert "from first" in seen_by_model(second)
    session = first.get_session("s1")
    assert session is not None and session.run_count == 2


def test_the_wrapped_store_stays_reachable() -> None:
    agent = agent_on(MemoryDb())
    assert isinstance(agent.db, CachingStore)
    assert agent.db._positions == {}  # unknown attributes come from the wrapped store
    with pytest.raises(InvalidInputError, match="already cached"):
        CachingStore(agent.db, MemoryCache())


THIRD_PARTY_CACHE = """
from sessionary import hookimpl
from sessionary.caching import MemoryCache

class TinyCache(MemoryCache):
    name = "tiny"

    def __init__(self, **options):
        super().__init__(max_sessions=1)

@hookimpl
def sessionary_cache_backends():
    return [TinyCache]
"""


def test_a_third_party_cache_is_found_through_the_hook(install_plugin: Any) -> None:
    install_plugin("tinycache", THIRD_PARTY_CACHE)
    agent = agent_on(MemoryDb(), session_cache="tiny")
    assert isinstance(agent.db, CachingStore)
    assert type(agent.db.cache).__name__ == "TinyCache"
    agent.run("a", session_id="s1")
    agent.run("b", session_id="s2")
    assert agent.cache_stats is not None and agent.cache_stats.evictions == 1


# --------------------------------------------------------------------------- a failing cache


class BrokenCache(SessionCache):
    """A cache whose server has gone away."""

    name = "broken"

    def get(
        self, user_id: str | None, session_id: str, *, last_n_runs: int | None = None
    ) -> Session | None:
        raise ConnectionError("cache server gone")

    def put(self, user_id: str | None, session: Session) -> bool:
        raise ConnectionError("cache server gone")

    def append(self, user_id: str | None, run: Run, info: SessionInfo) -> bool:
        raise ConnectionError("cache server gone")

    def invalidate(self, user_id: str | None, session_id: str) -> None:
        raise ConnectionError("cache server gone")

    def clear(self) -> None:
        raise ConnectionError("cache server gone")

    def stats(self) -> CacheStats:
        return CacheStats()


def test_a_cache_that_fails_falls_back_to_the_store(caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_on(MemoryDb(), session_cache=BrokenCache())
    with caplog.at_level(logging.WARNING, logger="sessionary.caching.store"):
        agent.run("one", session_id="s1")
        agent.run("two", session_id="s1")
    assert "one" in seen_by_model(agent)
    session = agent.get_session("s1")
    assert session is not None and session.run_count == 2
    stats = agent.cache_stats
    assert stats is not None and stats.errors >= 3
    assert "cache server gone" in caplog.text


# --------------------------------------------------------------------------- contracts


class TestMemoryCacheConformance(SessionCacheConformance):
    @pytest.fixture
    def cache(self) -> Iterator[SessionCache]:
        cache = MemoryCache()
        yield cache
        cache.clear()


class TestCachingStoreConformance(StorageConformance):
    """The caching store is a store: it passes the whole storage contract."""

    @pytest.fixture(params=["check", "trust", "tiny"])
    def store(self, request: pytest.FixtureRequest) -> Iterator[Store]:
        variants: dict[str, dict[str, Any]] = {
            "check": {"cache": MemoryCache()},
            "trust": {"cache": MemoryCache(), "trust_seconds": 3600.0},
            "tiny": {"cache": MemoryCache(max_sessions=1, max_bytes=3000)},
        }
        with CachingStore(MemoryDb(), **variants[request.param]) as store:
            yield store

    def corrupt_session(self, store: Store, session_id: str) -> None:
        # The damage a broken disk does after the cache's copy is gone (evicted, or a
        # process restarted): the store underneath holds a record that cannot be decoded.
        assert isinstance(store, CachingStore) and isinstance(store.store, MemoryDb)
        store.store._runs[session_id][0] = '{"run_id": 42'
        store.cache.clear()
