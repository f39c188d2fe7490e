"""Session caching: the cache contract."""

from sessionary.caching.base import CacheStats, SessionCache

__all__ = ["CacheStats", "SessionCache"]
