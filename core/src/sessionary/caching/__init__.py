"""Session caching: the cache contract, the in-process LRU, and the caching store.

See ``docs/guides/caching.md`` for when caching helps and what it guarantees.
"""

from sessionary.caching.base import CacheStats, SessionCache
from sessionary.caching.memory import MemoryCache, approx_size
from sessionary.caching.resolve import cached_store, resolve_cache
from sessionary.caching.store import CachingStore

__all__ = [
    "CacheStats",
    "CachingStore",
    "MemoryCache",
    "SessionCache",
    "approx_size",
    "cached_store",
    "resolve_cache",
]
