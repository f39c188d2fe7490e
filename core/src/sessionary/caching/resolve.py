"""Choosing a session cache: by object, by registered name, or by URL."""

from __future__ import annotations

from sessionary.caching.base import SessionCache, check_trust_seconds
from sessionary.caching.memory import MemoryCache
from sessionary.caching.store import CachingStore
from sessionary.errors import InvalidInputError
from sessionary.storage.base import Store

__all__ = ["cached_store", "resolve_cache"]


def resolve_cache(spec: SessionCache | str | None) -> SessionCache:
    """A cache from a cache, a registered name (``"memory"``), a URL, or ``None``.

    ``None`` is a fresh :class:`~sessionary.caching.MemoryCache` with the default
    bounds. A URL's scheme names the backend (``"redis://localhost:6379/0"`` opens the
    ``redis`` cache of ``sessionary-redis`` with that URL).

    >>> resolve_cache("memory").name
    'memory'
    """
    if spec is None:
        return MemoryCache()
    if isinstance(spec, SessionCache):
        return spec
    if not isinstance(spec, str):
        raise InvalidInputError(
            f"session_cache must be a SessionCache, a cache name or a URL, "
            f"got {type(spec).__name__}"
        )
    from sessionary.plugins.manager import get_plugin_host

    scheme, sep, _ = spec.partition("://")
    caches = get_plugin_host().caches()
    if sep:
        opened: SessionCache = caches.get(scheme.lower()).from_url(spec)
        return opened
    made: SessionCache = caches.get(spec)()
    return made


def cached_store(
    store: Store,
    *,
    cache_session: object,
    session_cache: SessionCache | str | None,
    trust_seconds: object,
) -> Store:
    """``store`` wrapped in a :class:`CachingStore` when ``cache_session`` is true.

    This is what ``Agent(cache_session=..., session_cache=..., cache_trust_seconds=...)``
    calls; the arguments are checked here so the agent's errors name them.
    """
    if not isinstance(cache_session, bool):
        raise InvalidInputError(
            f"cache_session must be True or False, got {type(cache_session).__name__}"
        )
    if not cache_session:
        if session_cache is not None:
            raise InvalidInputError("session_cache was given but cache_session is False")
        if trust_seconds != 0:
            raise InvalidInputError("cache_trust_seconds was given but cache_session is False")
        return store
    if isinstance(store, CachingStore):
        return store
    trust = check_trust_seconds(trust_seconds)
    return CachingStore(store, resolve_cache(session_cache), trust_seconds=trust)
