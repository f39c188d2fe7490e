"""``CachingStore``: a store seen through a session cache.

``Agent(cache_session=True)`` wraps its store in one, so every read and every write
of the agent (and of anything else that uses ``agent.db``) goes through the cache:

- a read looks the session up in the cache, then checks the entry against the store's
  version of the session before trusting it, with one cheap read
  (:meth:`~sessionary.Store.get_session_info`). An entry that is behind because
  another process appended runs is caught up by reading only the runs it lacks;
  anything else is hydrated again. With ``trust_seconds`` the check is skipped for
  that long after the last one.
- a write goes to the store first, then updates the cached entry from what the store
  returned, if the entry was exactly one version behind (nobody else wrote in between);
  otherwise the entry is dropped. A session's first run is cached only if a read
  through this store looked for the session first (a run that reads its history
  does), so an agent that never reads pays the cache nothing. Every write also
  withdraws this process's trust in the session's other entries, so this process
  never reads older than its own writes.

Reads that need no session (``get_session_info``, ``get_run``, listing) go straight to
the store; so do ``get_messages`` (unless the entry is current) and tolerant reads. The
wrapped store is called through its ``_`` methods: this store's public ones checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from sessionary.caching import tail_ops
from sessionary.caching.base import CacheStats, SessionCache, check_trust_seconds, same_lifetime
from sessionary.caching.copies import detached, detached_run, is_current
from sessionary.caching.memory import tail
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import InvalidInputError
from sessionary.storage.base import ListFilters, SchemaStatus, Store

__all__ = ["CachingStore"]

log = logging.getLogger(__name__)

_LOCK_STRIPES = 64
#: Sessions whose trust is remembered; past this it is cleared (costing a check each).
_MAX_TRUSTED = 10_000
_MAX_PASSTHROUGH = 4096


def _session_fields(info: SessionInfo) -> dict[str, Any]:
    return {f.name: getattr(info, f.name) for f in attrs.fields(SessionInfo)}


class CachingStore(Store):
    """Wraps ``store`` so sessions are read from ``cache`` once checked, and written through it.

    It is a :class:`~sessionary.Store` itself and passes the storage conformance suite,
    so code that holds ``agent.db`` needs no change. Attributes it does not have are
    looked up on the wrapped store (``agent.db.db_file`` still works).

    A cached session is checked with one :meth:`~sessionary.Store.get_session_info`
    read, or trusted for ``trust_seconds`` after the last check.

    >>> from sessionary.caching import CachingStore, MemoryCache
    >>> from sessionary.storage.memory import MemoryDb
    >>> db = CachingStore(MemoryDb(), MemoryCache())
    >>> db.get_session("s1") is None
    True
    """

    name: ClassVar[str] = "cached"

    def __init__(
        self,
        store: Store,
        cache: SessionCache,
        *,
        trust_seconds: float = 0.0,
    ) -> None:
        if not isinstance(store, Store):
            raise InvalidInputError(f"store must be a Store, got {type(store).__name__}")
        if isinstance(store, CachingStore):
            raise InvalidInputError("the store is already cached; wrap the store itself")
        if not isinstance(cache, SessionCache):
            raise InvalidInputError(f"cache must be a SessionCache, got {type(cache).__name__}")
        self.store = store
        self.cache = cache
        self.trust_seconds = check_trust_seconds(trust_seconds)
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._counts_lock = threading.Lock()
        self._hits = self._misses = self._stale = self._errors = 0
        # session_id -> user_id -> (version, created_at, monotonic time of the check)
        self._trusted: dict[str, dict[str | None, tuple[int, float, float]]] = {}
        # Sessions too large for the cache: read straight from the store.
        self._passthrough: dict[tuple[str | None, str], None] = {}
        # Sessions a read through this store found missing: their first run is cached.
        self._awaited: dict[tuple[str | None, str], None] = {}

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Not openable by URL: wrap an opened store instead."""
        raise InvalidInputError("a CachingStore wraps a store; it cannot be opened from a URL")

    def __getattr__(self, name: str) -> Any:
        if name in ("store", "cache") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"CachingStore({self.store!r}, {self.cache!r}, trust_seconds={self.trust_seconds})"

    # ------------------------------------------------------------------ stats

    def stats(self) -> CacheStats:
        """Hits, misses and stale entries of reads through this store; the cache's evictions."""
        own = self.cache.stats()
        with self._counts_lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                stale=self._stale,
                evictions=own.evictions,
                errors=self._errors + own.errors,
            )

    def _count(self, what: str) -> None:
        with self._counts_lock:
            setattr(self, what, getattr(self, what) + 1)

    # ------------------------------------------------------------------ reads

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        if before_run is not None:  # a history page: the store reads only those runs
            return self.store._get_session(
                session_id, user_id, last_n_runs, skip_corrupt, before_run
            )
        if skip_corrupt:  # a cached session has nothing to skip: the store reads
            return self.store._get_session(session_id, user_id, last_n_runs, True)
        if (user_id, session_id) in self._passthrough:
            return self.store._get_session(session_id, user_id, last_n_runs)
        session = self._trusted_entry(user_id, session_id, last_n_runs)
        if session is None:
            with self._lock_for(session_id):
                session = self._current(user_id, session_id, last_n_runs)
        return None if session is None else detached(session)

    def _trusted_entry(
        self, user_id: str | None, session_id: str, last_n_runs: int | None
    ) -> Session | None:
        """The cached session if this process checked it less than ``trust_seconds`` ago."""
        if not self.trust_seconds:
            return None
        mark = self._trusted.get(session_id, {}).get(user_id)
        if mark is None or time.monotonic() - mark[2] >= self.trust_seconds:
            return None
        cached = self._cache_get(user_id, session_id, last_n_runs)
        if cached is None or (cached.version, cached.created_at) != mark[:2]:
            return None
        self._count("_hits")
        return cached

    def _current(
        self, user_id: str | None, session_id: str, last_n_runs: int | None
    ) -> Session | None:
        """The session as the store has it now, from the cache when the cache is current.

        Only the runs asked for are read from the cache (a shared cache sends no more
        than that over the network); the summary an entry carries is the whole
        session's, so it is checked against the store's all the same.
        """
        cached = self._cache_get(user_id, session_id, last_n_runs)
        info = self.store._get_session_info(session_id, user_id)
        if info is None:
            if cached is not None:
                self._cache_invalidate(user_id, session_id)
            self._distrust(session_id)
            self._count("_misses")
            if len(self._awaited) >= _MAX_PASSTHROUGH:
                self._awaited.clear()
            self._awaited[(user_id, session_id)] = None
            return None
        if cached is not None:
            if is_current(cached, info):
                self._count("_hits")
                self._trust(user_id, cached)
                return cached
            self._count("_stale")
            whole = cached if last_n_runs is None else self._cache_get(user_id, session_id)
            caught_up = None if whole is None else self._catch_up(whole, info, user_id)
            if caught_up is not None:
                self._keep(user_id, caught_up)
                return tail(caught_up, last_n_runs)
        else:
            self._count("_misses")
        session = self.store._get_session(session_id, user_id, None)
        if session is None:  # deleted since the version check
            self._cache_invalidate(user_id, session_id)
            return None
        self._keep(user_id, session)
        return tail(session, last_n_runs)

    def _catch_up(self, cached: Session, info: SessionInfo, user_id: str | None) -> Session | None:
        """The cached session plus the runs other writers appended, if appends are all they did.

        Every write bumps the version by one and only appends add a run, so when the
        version and the run count grew by the same amount only runs were appended, and
        reading the last ``delta`` runs brings the entry up to date.
        """
        delta = info.run_count - cached.run_count
        if not same_lifetime(cached, info) or delta <= 0 or info.version - cached.version != delta:
            return None
        fresh = self.store._get_session(info.session_id, user_id, delta)
        if (
            fresh is None
            or not same_lifetime(cached, fresh)
            or fresh.run_count - cached.run_count != delta
            or fresh.version - cached.version != delta
            or len(fresh.runs) != delta
        ):
            return None  # more writes landed meanwhile: hydrate instead
        return attrs.evolve(fresh, runs=(*cached.runs, *fresh.runs))

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return self.store._get_session_info(session_id, user_id)

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return self.store._get_run(session_id, run_id, user_id)

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return self.store._list_sessions(filters, limit, after)

    def _count_sessions(self, filters: ListFilters) -> int:
        return self.store._count_sessions(filters)

    # ------------------------------------------------------------------ writes

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:  # from a current entry, else from the store (not cached)
        return tail_ops.messages_through(self, session_id, user_id, last_n, skip_corrupt)

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        user_id, session_id = run.user_id, run.session_id
        with self._lock_for(session_id):
            self._distrust(session_id)
            info = self.store._append_run(run, session_type, expected_version)
            if (user_id, session_id) in self._passthrough:
                return info
            key = (user_id, session_id)
            awaited = self._awaited.pop(key, False) is None  # present: its value is None
            if info.run_count == 1 and not awaited:
                # Nobody read this new session through the cache (an agent without
                # history in its context never does): leave it uncached, so such runs
                # cost the cache nothing. An entry under its ID is of an older lifetime.
                self._cache_invalidate(user_id, session_id)
                return info
            try:
                kept = self.cache.append(user_id, detached_run(run), info)
            except Exception as exc:
                kept = self._cache_failed("append", exc)
            if kept:
                self._trust_info(user_id, info)
            self._invalidate_other(user_id, info)
            return info

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        stored = detached_run(attrs.evolve(run, version=expected_version + 1))

        def replace(cached: Session, info: SessionInfo) -> Session | None:
            ids = [r.run_id for r in cached.runs]
            if run.run_id not in ids:
                return None
            runs = list(cached.runs)
            runs[ids.index(run.run_id)] = stored
            return Session.from_info(info, runs)

        with self._lock_for(run.session_id):
            self._distrust(run.session_id)
            info = self.store._update_run(run, expected_version)
            self._write_through(run.user_id, info, replace)
            return info

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        with self._lock_for(session_id):
            self._distrust(session_id)
            info = self.store._replace_last_runs(session_id, user_id, count, runs, expected_version)
            self._write_through(user_id, info, tail_ops.replacing(count, runs))
            return info

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        with self._lock_for(session_id):
            self._distrust(session_id)
            info = self.store._update_session(session_id, user_id, expected_version, changes)
            self._write_through(
                user_id, info, lambda cached, new: Session.from_info(new, cached.runs)
            )
            return info

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        with self._lock_for(session.session_id):
            self._distrust(session.session_id)
            try:
                return self.store._import_session(session, replace)
            finally:
                self._forget(session.session_id, {None, session.user_id})

    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        with self._lock_for(session_id):
            self._distrust(session_id)
            try:
                return self.store._delete_session(session_id, user_id, expected_version)
            finally:
                self._forget(session_id, {None, user_id})

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        with self._lock_for(session_id):
            self._distrust(session_id)
            try:
                return self.store._trim_runs(session_id, keep_last, user_id, expected_version)
            finally:
                self._forget(session_id, {None, user_id})

    def _erase_user(self, user_id: str) -> int:
        try:
            return self.store._erase_user(user_id)
        finally:
            # Which sessions were the user's is not known here; trust nothing until checked.
            self._trusted.clear()

    def _write_through(
        self,
        user_id: str | None,
        info: SessionInfo,
        change: Callable[[Session, SessionInfo], Session | None],
    ) -> None:
        """Apply a write the store acknowledged with ``info`` to the cached entry, or drop it."""
        session_id = info.session_id
        if (user_id, session_id) not in self._passthrough:
            cached = self._cache_get(user_id, session_id)
            new = None
            if (
                cached is not None
                and same_lifetime(cached, info)
                and cached.version + 1 == info.version
            ):
                new = change(cached, info)
            if new is not None and self._cache_put(user_id, new):
                self._trust(user_id, new)
            else:
                self._cache_invalidate(user_id, session_id)
        self._invalidate_other(user_id, info)

    def _forget(self, session_id: str, users: set[str | None]) -> None:
        """Drop the entries of a session that was deleted, trimmed or replaced."""
        for user in users:
            self._passthrough.pop((user, session_id), None)  # it may fit the cache now
            self._cache_invalidate(user, session_id)

    def _invalidate_other(self, user_id: str | None, info: SessionInfo) -> None:
        """Drop the entry of the session's other key: the owner's for ``None``, else ``None``'s."""
        other = info.user_id if user_id is None else None
        if other != user_id:
            self._cache_invalidate(other, info.session_id)

    # ------------------------------------------------------------------ admin

    def schema_status(self) -> SchemaStatus:
        """The wrapped store's schema status."""
        return self.store.schema_status()

    def migrate(self) -> list[str]:
        """Migrate the wrapped store; the cache is cleared, as entries predate the migration."""
        steps = self.store.migrate()
        self._clear_cache()
        return steps

    def ping(self) -> None:
        """Ping the wrapped store."""
        self.store.ping()

    def close(self) -> None:
        """Close the wrapped store (the cache may be shared, so it is left open)."""
        self.store.close()

    # ------------------------------------------------------------------ cache calls

    def _keep(self, user_id: str | None, session: Session) -> None:
        key = (user_id, session.session_id)
        try:
            kept = self.cache.put(user_id, session)
        except Exception as exc:
            self._cache_failed("put", exc)
            return
        if kept:
            self._trust(user_id, session)
        elif self._cache_get(user_id, session.session_id, 0) is None:
            # Refused and nothing newer is there: too large, so stop hydrating it whole.
            if len(self._passthrough) >= _MAX_PASSTHROUGH:
                self._passthrough.clear()
            self._passthrough[key] = None

    def _cache_get(
        self, user_id: str | None, session_id: str, last_n_runs: int | None = None
    ) -> Session | None:
        try:
            return self.cache.get(user_id, session_id, last_n_runs=last_n_runs)
        except Exception as exc:
            self._cache_failed("get", exc)
            return None

    def _cache_put(self, user_id: str | None, session: Session) -> bool:
        try:
            return self.cache.put(user_id, session)
        except Exception as exc:
            return self._cache_failed("put", exc)

    def _cache_invalidate(self, user_id: str | None, session_id: str) -> None:
        try:
            self.cache.invalidate(user_id, session_id)
        except Exception as exc:
            self._cache_failed("invalidate", exc)

    def _clear_cache(self) -> None:
        self._trusted.clear()
        try:
            self.cache.clear()
        except Exception as exc:
            self._cache_failed("clear", exc)

    def _cache_failed(self, operation: str, exc: Exception) -> bool:
        # A cache is never the source of truth: answer from the store, and log why.
        self._count("_errors")
        log.warning(
            "session cache %s failed (%s: %s); using the store", operation, type(exc).__name__, exc
        )
        return False

    # ------------------------------------------------------------------ trust

    def _trust(self, user_id: str | None, session: SessionInfo) -> None:
        self._trust_info(user_id, session)

    def _trust_info(self, user_id: str | None, info: SessionInfo) -> None:
        if not self.trust_seconds:
            return
        if len(self._trusted) >= _MAX_TRUSTED:
            self._trusted.clear()
        marks = self._trusted.setdefault(info.session_id, {})
        marks[user_id] = (info.version, info.created_at, time.monotonic())

    def _distrust(self, session_id: str) -> None:
        if self.trust_seconds:
            self._trusted.pop(session_id, None)

    def _lock_for(self, session_id: str) -> threading.Lock:
        return self._locks[hash(session_id) % _LOCK_STRIPES]
