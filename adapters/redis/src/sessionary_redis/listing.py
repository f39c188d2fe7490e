"""Listing sessions for an inbox: walk one sorted-set index, newest first, never loading runs.

The most selective index the filters allow is walked (user, then agent, then team, then
every session); the other filters are applied to the summaries read back. An entry whose
session is gone (deleted, or expired with a TTL) is never returned, and is removed from
the index when met. With a TTL, entries older than the TTL are skipped by score and
trimmed from the index on the way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import StorageError
from sessionary.storage.base import ListFilters, encode_cursor
from sessionary_redis.records import decode_info, text

if TYPE_CHECKING:
    from sessionary_redis.store import RedisDb

__all__ = ["list_page"]


def _index_for(db: RedisDb, filters: ListFilters) -> tuple[str, str | None]:
    """The index to walk, and which summary field its entries must match."""
    if filters.user_id is not None:
        return db.keys.user_index(filters.user_id), "user_id"
    if filters.agent_id is not None:
        return db.keys.agent_index(filters.agent_id), "agent_id"
    if filters.team_id is not None:
        return db.keys.team_index(filters.team_id), "team_id"
    return db.keys.all_index, None


def _belongs(info: SessionInfo, field: str | None, filters: ListFilters) -> bool:
    return field is None or getattr(info, field) == getattr(filters, field)


def list_page(
    db: RedisDb, filters: ListFilters, limit: int, after: tuple[float, str] | None
) -> SessionPage:
    """One page of :meth:`RedisDb.list_sessions`."""
    index, field = _index_for(db, filters)
    now = time.time()
    low: Any = "-inf" if db.ttl is None else f"({now - db.ttl!r}"
    high: Any = "+inf" if after is None else repr(after[0])
    batch = min(1000, max(64, 2 * (limit + 1)))
    found: list[tuple[SessionInfo, float, str]] = []
    offset = 0
    while len(found) <= limit:

        def scan(_: int, start: int = offset) -> Any:
            if db.ttl is None or start:
                return db.client.zrevrangebyscore(
                    index, high, low, start=start, num=batch, withscores=True
                )
            pipe = db.client.pipeline(transaction=False)
            pipe.zremrangebyscore(index, "-inf", now - db.ttl)  # expired entries go
            pipe.zrevrangebyscore(index, high, low, start=start, num=batch, withscores=True)
            return pipe.execute()[1]

        entries = db._call("list sessions", scan, None)
        if not entries:
            break
        offset += len(entries)
        candidates: list[tuple[str, float]] = []
        for member, score in entries:
            session_id = text(member)
            assert session_id is not None
            if after is not None and (score, session_id) >= after:
                continue
            candidates.append((session_id, float(score)))
        if candidates:
            replies = db._read_infos([sid for sid, _ in candidates])
            for (session_id, score), values in zip(candidates, replies, strict=True):
                info = _decode(db, index, session_id, score, values, field, filters)
                if info is not None and filters.matches(info):
                    found.append((info, score, session_id))
        if len(entries) < batch:
            break
    page = found[:limit]
    cursor = None
    if len(found) > limit and page:
        cursor = encode_cursor(page[-1][1], page[-1][2])
    return SessionPage(items=tuple(info for info, _, _ in page), next_cursor=cursor)


def _decode(
    db: RedisDb,
    index: str,
    session_id: str,
    score: float,
    values: Any,
    field: str | None,
    filters: ListFilters,
) -> SessionInfo | None:
    if isinstance(values, Exception):
        return None  # a key of the wrong type: a corrupt record hides only itself
    try:
        decoded = decode_info(session_id, values)
    except StorageError:
        return None  # one bad record must not hide every other session
    if decoded is None or not _belongs(decoded[0], field, filters):
        # Dangling (the session is gone) or stale (it was recreated for another owner).
        db._forget_entry(index, session_id, score)
        return None
    return decoded[0]
