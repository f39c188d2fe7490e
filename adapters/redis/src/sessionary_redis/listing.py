"""Listing sessions for an inbox, and keeping the sorted-set indexes it walks up to date.

Listing walks one index, newest first, and never loads runs.

The most selective index the filters allow is walked (user, then agent, then team, then
every session); the other filters are applied to the summaries read back. An entry whose
session is gone (deleted, or expired with a TTL) is never returned, and is removed from
the index when met. With a TTL, entries older than the TTL are skipped by score and
trimmed from the index on the way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import StorageError
from sessionary.storage.base import ListFilters, encode_cursor
from sessionary_redis.records import decode_info, text
from sessionary_redis.scripts import INFO_FIELDS

if TYPE_CHECKING:
    from sessionary_redis.store import RedisDb

__all__ = ["list_page", "reindex", "unindex"]

log = logging.getLogger("sessionary_redis")


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
            replies = _read_infos(db, [sid for sid, _ in candidates])
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
        _forget_entry(db, index, session_id, score)
        return None
    return decoded[0]


def reindex(db: RedisDb, index_keys: Sequence[str], score: float, member: str) -> None:
    """Move a session in its indexes (a second step where a script could not)."""
    if not index_keys:
        return
    now = time.time()

    def send(_: int) -> None:
        pipe = db.client.pipeline(transaction=False)
        for key in index_keys:
            pipe.zadd(key, {member: score}, gt=True)
            if db.ttl is not None:
                pipe.zremrangebyscore(key, "-inf", now - db.ttl)
                pipe.pexpire(key, int(db._ttl_ms))
        pipe.execute()

    try:
        db._call(f"index session {member!r}", send, member, write=True)
    except StorageError as exc:
        # The session itself is stored; only its place in the listing lags until the
        # next write to it. Raising would invite a caller to store the run twice.
        log.warning("session %r is stored but its listing index was not updated: %s", member, exc)


def unindex(db: RedisDb, index_keys: Sequence[str], member: str) -> None:
    """Take a deleted session out of its indexes (listing cleans what this misses)."""
    if not index_keys:
        return

    def send(_: int) -> None:
        pipe = db.client.pipeline(transaction=False)
        for key in index_keys:
            pipe.zrem(key, member)
        pipe.execute()

    try:
        db._call(f"unindex session {member!r}", send, member, write=True)
    except StorageError as exc:
        log.warning(
            "session %r is deleted; its index entries are left for listing to clean: %s",
            member,
            exc,
        )


def _forget_entry(db: RedisDb, index: str, member: str, score: float) -> None:
    """Remove a dangling index entry, unless it moved since it was read."""
    db._call(
        f"clean a dangling index entry of session {member!r}",
        lambda _: db._forget(keys=[index], args=[member, repr(score)]),
        None,
        True,
    )


def _read_infos(db: RedisDb, session_ids: Sequence[str]) -> list[Any]:
    """The hash fields of many sessions in one pipelined round (per node)."""

    def send(_: int) -> list[Any]:
        pipe = db.client.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.hmget(db.keys.session(session_id), list(INFO_FIELDS))
        return list(pipe.execute(raise_on_error=False))

    return list(db._call("read session summaries", send, None))
