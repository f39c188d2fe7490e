"""Redis storage adapter for Sessionary.

>>> from sessionary_redis import RedisDb
>>> RedisDb.url_schemes
('redis', 'rediss', 'unix')

Names load on first use, so loading the plugin does not import redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["AsyncRedisStore", "RedisDb"]

_LAZY = {"RedisDb": "sessionary_redis.store", "AsyncRedisStore": "sessionary_redis.aio"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionary_redis' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from sessionary_redis.aio import AsyncRedisStore
    from sessionary_redis.store import RedisDb
