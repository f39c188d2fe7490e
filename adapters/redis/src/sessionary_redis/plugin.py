"""The sessionary-redis plugin: registers its classes through the sessionary hooks.

Nothing here imports redis: the store module loads when a backend is first asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import Store, hookimpl
from sessionary.caching.base import SessionCache


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store]]:
    """``RedisDb`` for ``redis://``, ``rediss://`` and ``unix://`` URLs."""
    from sessionary_redis.store import RedisDb

    return [RedisDb]


@hookimpl
def sessionary_cache_backends() -> Sequence[type[SessionCache]]:
    """``RedisSessionCache``, the ``redis`` cache shared between processes."""
    from sessionary_redis.cache import RedisSessionCache

    return [RedisSessionCache]
