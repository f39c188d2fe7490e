"""Listing sessions for an inbox, and keeping the sorted-set indexes it walks up to date.

Listing walks one index, newest first, and never loads runs. Like every operation of
the adapter, these are generators of requests that the sync and the async store drive
(see :mod:`sessionary_redis.calls`).

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
from typing import Any, Protocol

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import StorageError
from sessionary.storage.base import ListFilters, encode_cursor
from sessionary_redis.calls import Command, Op, Pipeline, Request, Script
from sessionary_redis.keys import KeyLayout
from sessionary_redis.records import decode_info, text
from sessionary_redis.scripts import INFO_FIELDS

__all__ = ["Indexed", "forget_entry", "list_page", "reindex", "unindex"]

log = logging.getLogger("sessionary_redis")


class Indexed(Protocol):
    """What listing needs of a store: its key layout and time to live."""

    keys: KeyLayout
    ttl: float | None
    #: ``ttl`` in milliseconds, as the scripts take it ("0": no time to live).
    _ttl_ms: str


def _index_for(db: Indexed, filters: ListFilters) -> tuple[str, str | None]:
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
    db: Indexed, filters: ListFilters, limit: int, after: tuple[float, str] | None
) -> Op[SessionPage]:
    """One page of :meth:`RedisDb.list_sessions`."""
    index, field = _index_for(db, filters)
    now = time.time()
    low: Any = "-inf" if db.ttl is None else f"({now - db.ttl!r}"
    high: Any = "+inf" if after is None else repr(after[0])
    # One row ahead of the page; more (doubling) only while filters the index cannot
    # apply, or dangling entries, leave the page short: a page reads what it returns.
    batch = min(1000, limit + 1)
    found: list[tuple[SessionInfo, float, str]] = []
    offset = 0
    while len(found) <= limit:
        scan = Command.of(
            "zrevrangebyscore", index, high, low, start=offset, num=batch, withscores=True
        )
        if db.ttl is None or offset:
            entries = yield Request.read("list sessions", scan)
        else:
            expired = Command.of("zremrangebyscore", index, "-inf", now - db.ttl)
            replies = yield Request.read("list sessions", Pipeline([expired, scan]))
            entries = replies[1]  # the expired entries went first
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
            infos = yield from _read_infos(db, [sid for sid, _ in candidates])
            for (session_id, score), values in zip(candidates, infos, strict=True):
                info = yield from _decode(db, index, session_id, score, values, field, filters)
                if info is not None and filters.matches(info):
                    found.append((info, score, session_id))
        if len(entries) < batch:
            break
        batch = min(1000, 2 * batch)
    page = found[:limit]
    cursor = None
    if len(found) > limit and page:
        cursor = encode_cursor(page[-1][1], page[-1][2])
    return SessionPage(items=tuple(info for info, _, _ in page), next_cursor=cursor)


def _decode(
    db: Indexed,
    index: str,
    session_id: str,
    score: float,
    values: Any,
    field: str | None,
    filters: ListFilters,
) -> Op[SessionInfo | None]:
    if isinstance(values, Exception):
        return None  # a key of the wrong type: a corrupt record hides only itself
    try:
        decoded = decode_info(session_id, values)
    except StorageError:
        return None  # one bad record must not hide every other session
    if decoded is None or not _belongs(decoded[0], field, filters):
        # Dangling (the session is gone) or stale (it was recreated for another owner).
        yield from forget_entry(index, session_id, score)
        return None
    return decoded[0]


def reindex(db: Indexed, index_keys: Sequence[str], score: float, member: str) -> Op[None]:
    """Move a session in its indexes (a second step where a script could not)."""
    if not index_keys:
        return
    now = time.time()
    commands: list[Command] = []
    for key in index_keys:
        commands.append(Command.of("zadd", key, {member: score}, gt=True))
        if db.ttl is not None:
            commands.append(Command.of("zremrangebyscore", key, "-inf", now - db.ttl))
            commands.append(Command.of("pexpire", key, int(db._ttl_ms)))
    try:
        yield Request.write_(f"index session {member!r}", Pipeline(commands), member)
    except StorageError as exc:
        # The session itself is stored; only its place in the listing lags until the
        # next write to it. Raising would invite a caller to store the run twice.
        log.warning("session %r is stored but its listing index was not updated: %s", member, exc)


def unindex(
    db: Indexed, index_keys: Sequence[str], member: str, score: float | None = None
) -> Op[None]:
    """Take a deleted session out of its indexes (listing cleans what this misses).

    With ``score`` (the deleted session's last update), an entry is removed only while
    it still has that score: a session made again under the ID since keeps its place.
    """
    if not index_keys:
        return
    try:
        if score is None:
            commands = [Command.of("zrem", key, member) for key in index_keys]
            yield Request.write_(f"unindex session {member!r}", Pipeline(commands), member)
        else:
            for key in index_keys:
                yield from forget_entry(key, member, score)
    except StorageError as exc:
        log.warning(
            "session %r is deleted; its index entries are left for listing to clean: %s",
            member,
            exc,
        )


def forget_entry(index: str, member: str, score: float) -> Op[None]:
    """Remove a dangling index entry, unless it moved since it was read."""
    yield Request.write_(
        f"clean a dangling index entry of session {member!r}",
        Script("_forget", [index], [member, repr(score)]),
    )


def _read_infos(db: Indexed, session_ids: Sequence[str]) -> Op[list[Any]]:
    """The hash fields of many sessions in one pipelined round (per node)."""
    fields = list(INFO_FIELDS)
    commands = [Command.of("hmget", db.keys.session(sid), fields) for sid in session_ids]
    replies = yield Request.read("read session summaries", Pipeline(commands, raise_on_error=False))
    return list(replies)
