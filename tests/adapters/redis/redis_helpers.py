"""Helpers the Redis tests share: cleaning a test's own prefix, building URLs."""

from __future__ import annotations

import redis

from sessionary_redis.keys import KeyLayout

__all__ = ["delete_prefix", "with_params"]


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under a test's own prefix (made and escaped by us, never an ID)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


def with_params(url: str, **params: object) -> str:
    """``url`` with extra query parameters."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
