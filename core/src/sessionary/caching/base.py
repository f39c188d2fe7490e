"""The session-cache contract: what a cache backend implements.

A cache keeps hydrated sessions keyed by ``(user_id, session_id)``. It is never the
source of truth: :class:`~sessionary.caching.store.CachingStore` checks an entry
against the store's version before trusting it, so a backend only has to keep what it
is given, hand it back, and respect the version guards of :meth:`SessionCache.put`
and :meth:`SessionCache.append`.

A backend is registered through the ``sessionary_cache_backends`` hook and chosen by
name (``Agent(cache_session=True, session_cache="memory")``) or URL
(``session_cache="redis://localhost:6379/0"``, the scheme is the name).
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import attrs

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidInputError, PluginError

__all__ = [
    "CacheStats",
    "SessionCache",
    "appended",
    "check_trust_seconds",
    "is_newer",
    "same_lifetime",
]


@attrs.frozen
class CacheStats:
    """How a cache has fared.

    ``hits`` are reads served from the cache (after the version check, or within the
    trust interval); ``misses`` are reads that found nothing cached and hydrated the
    session from the store; ``stale`` are reads that found an entry older than the
    store (another process wrote) and brought it up to date; ``evictions`` are entries
    dropped to stay within the cache's bounds (sessions too large to keep included);
    ``errors`` are cache operations that failed (a cache server gone away) and were
    answered from the store instead.
    """

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    stale: int = 0
    errors: int = 0


class SessionCache(abc.ABC):
    """Keeps hydrated sessions keyed by ``(user_id, session_id)``.

    Entries are immutable :class:`~sessionary.Session` objects, so a session handed
    to a caller is never changed behind its back: an update makes a new object.
    A user's entry is never returned for another user's key (``None`` is a key of its
    own, the caller that acts for no particular user).

    Implementations must be safe to call from several threads.
    """

    #: Registry name of the cache backend (``"memory"``, ``"redis"``); also the URL
    #: scheme :func:`~sessionary.caching.resolve_cache` opens with :meth:`from_url`.
    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @classmethod
    def from_url(cls, url: str) -> SessionCache:
        """Open the cache a URL names; backends without URLs refuse."""
        raise PluginError(f"the {cls.name!r} cache backend cannot be opened from a URL ({url!r})")

    @abc.abstractmethod
    def get(
        self, user_id: str | None, session_id: str, *, last_n_runs: int | None = None
    ) -> Session | None:
        """The cached session (only its last ``last_n_runs`` runs if given), or ``None``.

        The session's summary fields (``version``, ``run_count``...) are the whole
        session's even when only the tail of its runs is returned.
        """

    @abc.abstractmethod
    def put(self, user_id: str | None, session: Session) -> bool:
        """Keep a session, unless the cache holds a newer version of it already.

        "Newer" means the same lifetime (:func:`same_lifetime`) and a higher version.
        Returns whether the session is now cached (``False`` also when it is too large
        for the cache's bounds).
        """

    def append(self, user_id: str | None, run: Run, info: SessionInfo) -> bool:
        """Write through one appended run; ``info`` is what the store returned.

        If the cached entry is exactly one write behind ``info`` (so nobody else wrote
        in between), it becomes the entry plus ``run``; a session that ``run`` just
        created is cached whole. Otherwise the entry is dropped. Returns whether the
        cache now holds the session at ``info.version``.

        This default is a read then a write; a backend shared between processes should
        do it atomically.
        """
        cached = self.get(user_id, info.session_id)
        new = appended(cached, run, info)
        if new is None:
            self.invalidate(user_id, info.session_id)
            return False
        return self.put(user_id, new)

    @abc.abstractmethod
    def invalidate(self, user_id: str | None, session_id: str) -> None:
        """Forget a session (no error if it was not cached)."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget every session this cache holds."""

    @abc.abstractmethod
    def stats(self) -> CacheStats:
        """What this cache counts itself: evictions and errors (hits are counted by users)."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections. The cache is not used after this."""


def same_lifetime(a: SessionInfo, b: SessionInfo) -> bool:
    """Whether two snapshots are of one session's lifetime (not deleted and recreated)."""
    return a.session_id == b.session_id and a.created_at == b.created_at


def is_newer(candidate: SessionInfo, than: SessionInfo) -> bool:
    """Whether ``candidate`` is a later state of the same session than ``than``."""
    return same_lifetime(candidate, than) and candidate.version > than.version


def appended(cached: Session | None, run: Run, info: SessionInfo) -> Session | None:
    """The cached session after ``run`` was appended (``info`` from the store), or ``None``.

    ``None`` when the result cannot be known without reading the store: nothing is
    cached and the run did not create the session, or another writer got in between.
    """
    if info.run_count == 1:
        return Session.from_info(info, (run,))  # the run is the whole session
    if (
        cached is None
        or not same_lifetime(cached, info)
        or cached.version + 1 != info.version
        or cached.run_count + 1 != info.run_count
    ):
        return None
    return Session.from_info(info, (*cached.runs, run))


def check_trust_seconds(value: object) -> float:
    """Validate a trust interval: a finite number of seconds, zero or more."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidInputError(
            f"cache_trust_seconds must be a finite number of seconds >= 0, got {value!r}"
        )
    return float(value)
