"""The sessionary-redis plugin: registers its classes through the sessionary hooks.

Nothing here imports redis: the store module loads when a backend is first asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import Store, hookimpl
from sessionary.plugins.lazy import LazyClass, lazy


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    # Registered by name: redis-py loads when redis://, rediss:// or unix:// is first opened.
    return [
        lazy(
            "sessionary_redis.store:RedisDb",
            name="redis",
            url_schemes=("redis", "rediss", "unix"),
        )
    ]
