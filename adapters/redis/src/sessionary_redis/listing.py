"""Listing and counting sessions for an inbox, and keeping the sorted-set indexes they
walk up to date.

Listing walks one index, newest first, and never loads runs. Like every operation of
the adapter, these are generators of requests that the sync and the async store drive
(see :mod:`sessionary_redis.calls`).

The index walked is of the listing's order (the family: last update, last activity or
creation) and of the most selective scope the filters allow (user, then agent, then
team, then every session). A time bound on the order's own key narrows the walk by
score; every other filter (type, name, status, paused, the other time bounds) is
applied to the summaries read back, batch by batch: a scan of summaries in index
order, never of runs. An entry whose session is gone (deleted, or expired with a TTL)
is never returned, and is removed from the index when met. With a TTL, ``x:`` entries
older than the TTL are skipped by score and trimmed from the index on the way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import SchemaVersionError, StorageError
from sessionary.storage.base import ListFilters
from sessionary.storage.listing import encode_cursor
from sessionary_redis.calls import Command, Op, Pipeline, Request, Script
from sessionary_redis.keys import FAMILIES, KeyLayout
from sessionary_redis.records import decode_info, text
from sessionary_redis.scripts import INFO_FIELDS

__all__ = ["Indexed", "count_sessions", "forget_entry", "list_page", "reindex", "unindex"]

log = logging.getLogger("sessionary_redis")


class Indexed(Protocol):
    """What listing needs of a store: its key layout and time to live."""

    keys: KeyLayout
    ttl: float | None
    #: ``ttl`` in milliseconds, as the scripts take it ("0": no time to live).
    _ttl_ms: str
    #: Whether this store has seen the store migrated (see :func:`check_migrated`).
    _listing_checked: bool


def _scope_for(db: Indexed, filters: ListFilters) -> tuple[str, str | None]:
    """The ``x:`` index of the scope to walk, and which summary field its entries match."""
    if filters.user_id is not None:
        return db.keys.user_index(filters.user_id), "user_id"
    if filters.agent_id is not None:
        return db.keys.agent_index(filters.agent_id), "agent_id"
    if filters.team_id is not None:
        return db.keys.team_index(filters.team_id), "team_id"
    return db.keys.all_index, None


def _index_for(db: Indexed, filters: ListFilters) -> tuple[str, str | None]:
    """The index to walk (the scope, in the family of the order), and its owner field."""
    scope, field = _scope_for(db, filters)
    family = FAMILIES[filters.order_by]
    return (db.keys.family(scope, family) if family else scope), field


def _bounds(
    db: Indexed, filters: ListFilters, now: float, after: tuple[float, str] | None
) -> tuple[str, str]:
    """The score range ``(high, low)`` of a walk: the cursor, the TTL, and the time
    bounds on the order's own key (only a superset where that key is a fallback:
    sessions without runs are listed by creation, and filtered out of activity bounds
    by their summaries)."""
    lows: list[tuple[float, bool]] = []  # (score, exclusive)
    highs: list[tuple[float, bool]] = []
    if filters.order_by == "updated_at" and db.ttl is not None:
        lows.append((now - db.ttl, True))
    elif filters.order_by == "last_run_at":
        if filters.active_after is not None:
            lows.append((filters.active_after, False))
        if filters.active_before is not None:
            highs.append((filters.active_before, True))
    elif filters.order_by == "created_at":
        if filters.created_after is not None:
            lows.append((filters.created_after, False))
        if filters.created_before is not None:
            highs.append((filters.created_before, True))
    if after is not None:
        highs.append((after[0], False))  # ties with the cursor are filtered by ID
    low = "-inf" if not lows else _score(*max(lows))
    high = "+inf" if not highs else _score(*min(highs, key=lambda b: (b[0], not b[1])))
    return high, low


def _score(value: float, exclusive: bool) -> str:
    return f"({value!r}" if exclusive else repr(value)


def _belongs(info: SessionInfo, field: str | None, filters: ListFilters) -> bool:
    return field is None or getattr(info, field) == getattr(filters, field)


def list_page(
    db: Indexed, filters: ListFilters, limit: int, after: tuple[float, str] | None
) -> Op[SessionPage]:
    """One page of :meth:`RedisDb.list_sessions`."""
    yield from check_migrated(db, "list sessions")
    index, field = _index_for(db, filters)
    now = time.time()
    high, low = _bounds(db, filters, now, after)
    ttl = db.ttl if filters.order_by == "updated_at" else None  # x: entries expire by score
    # One row ahead of the page; more (doubling) only while filters the index cannot
    # apply, or dangling entries, leave the page short: a page reads what it returns.
    batch = min(1000, limit + 1)
    found: list[tuple[SessionInfo, float, str]] = []
    offset = 0
    while len(found) <= limit:
        scan = Command.of(
            "zrevrangebyscore", index, high, low, start=offset, num=batch, withscores=True
        )
        if ttl is None or offset:
            entries = yield Request.read("list sessions", scan)
        else:
            expired = Command.of("zremrangebyscore", index, "-inf", now - ttl)
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
        cursor = encode_cursor(page[-1][1], page[-1][2], filters.order_by)
    return SessionPage(items=tuple(info for info, _, _ in page), next_cursor=cursor)


def _only_scope(filters: ListFilters) -> bool:
    """Whether the filters name at most one owner and nothing else (a count of an index)."""
    owners = [filters.user_id, filters.agent_id, filters.team_id]
    rest = [
        filters.session_type,
        filters.name_contains,
        filters.status,
        filters.has_paused,
        filters.active_after,
        filters.active_before,
    ]
    return sum(o is not None for o in owners) <= 1 and all(r is None for r in rest)


def count_sessions(db: Indexed, filters: ListFilters) -> Op[int]:
    """:meth:`Store.count_sessions`: the size of an index when the filters are a scope
    (and a creation range, counted by score in the creation family); else the sessions
    of the scope's index whose summaries match, read in pipelined batches."""
    yield from check_migrated(db, "count sessions")
    scope, field = _scope_for(db, filters)
    now = time.time()
    if _only_scope(filters):
        if filters.created_after is None and filters.created_before is None:
            low = "-inf" if db.ttl is None else f"({now - db.ttl!r}"
            counted = yield Request.read("count sessions", Command.of("zcount", scope, low, "+inf"))
            return int(counted)
        if db.ttl is None:  # with a TTL, expired entries linger in the creation family
            created = db.keys.family(scope, "c")
            low = "-inf" if filters.created_after is None else repr(filters.created_after)
            high = "+inf" if filters.created_before is None else f"({filters.created_before!r}"
            counted = yield Request.read("count sessions", Command.of("zcount", created, low, high))
            return int(counted)
    low = "-inf" if db.ttl is None else f"({now - db.ttl!r}"
    total = 0
    offset = 0
    while True:
        entries = yield Request.read(
            "count sessions",
            Command.of("zrevrangebyscore", scope, "+inf", low, start=offset, num=1000),
        )
        if not entries:
            return total
        offset += len(entries)
        members = [str(text(member)) for member in entries]
        infos = yield from _read_infos(db, members)
        for session_id, values in zip(members, infos, strict=True):
            info = yield from _decode(db, scope, session_id, None, values, field, filters)
            if info is not None and filters.matches(info):
                total += 1
        if len(entries) < 1000:
            return total


def check_migrated(db: Indexed, what: str) -> Op[None]:
    """Refuse to list a store not migrated to this schema (once per store object).

    The oldest and the newest session by last update are sampled (a store written by
    an older sessionary-redis has them on its old schema, and migrating converts every
    session); a session on an older schema raises ``SchemaVersionError``.
    """
    if getattr(db, "_listing_checked", False):
        return
    ends = yield Request.read(
        f"{what} (sample the store's schema)",
        Pipeline(
            [
                Command.of("zrange", db.keys.all_index, 0, 0),
                Command.of("zrevrange", db.keys.all_index, 0, 0),
            ]
        ),
    )
    members = {str(text(m)) for reply in ends for m in reply}
    if members:
        values = yield from _read_infos(db, sorted(members))
        for session_id, fields in zip(sorted(members), values, strict=True):
            if isinstance(fields, Exception):
                continue
            try:
                decode_info(session_id, fields)
            except SchemaVersionError:
                raise
            except StorageError:
                continue  # a damaged record is reported where it is read
    db._listing_checked = True


def _decode(
    db: Indexed,
    index: str,
    session_id: str,
    score: float | None,
    values: Any,
    field: str | None,
    filters: ListFilters,
) -> Op[SessionInfo | None]:
    if isinstance(values, Exception):
        return None  # a key of the wrong type: a corrupt record hides only itself
    try:
        decoded = decode_info(session_id, values)
    except SchemaVersionError:
        raise  # the store needs migrating (or upgrading): never a silent gap
    except StorageError:
        return None  # one bad record must not hide every other session
    if decoded is None or not _belongs(decoded[0], field, filters):
        # Dangling (the session is gone) or stale (it was recreated for another owner).
        if score is not None:
            yield from forget_entry(index, session_id, score)
        return None
    return decoded[0]


def activity(info: SessionInfo) -> float:
    """A session's score in the ``xa:`` family: its last run's time, else its creation."""
    return info.created_at if info.last_run_at is None else info.last_run_at


def reindex(db: Indexed, index_keys: Sequence[str], info: SessionInfo) -> Op[None]:
    """Move a session in its indexes of every family (a second step where a script
    could not): up to its last update and activity, into creation if not there."""
    if not index_keys:
        return
    now = time.time()
    member = info.session_id
    commands: list[Command] = []
    for key in index_keys:
        commands.append(Command.of("zadd", key, {member: info.updated_at}, gt=True))
        active = db.keys.family(key, "a")
        commands.append(Command.of("zadd", active, {member: activity(info)}, gt=True))
        created = db.keys.family(key, "c")
        commands.append(Command.of("zadd", created, {member: info.created_at}, nx=True))
        if db.ttl is not None:
            commands.append(Command.of("zremrangebyscore", key, "-inf", now - db.ttl))
            for each in (key, active, created):
                commands.append(Command.of("pexpire", each, int(db._ttl_ms)))
    try:
        yield Request.write_(f"index session {member!r}", Pipeline(commands), member)
    except StorageError as exc:
        # The session itself is stored; only its place in the listing lags until the
        # next write to it. Raising would invite a caller to store the run twice.
        log.warning("session %r is stored but its listing index was not updated: %s", member, exc)


def unindex(
    db: Indexed,
    index_keys: Sequence[str],
    member: str,
    scores: tuple[float, float, float] | None = None,
) -> Op[None]:
    """Take a deleted session out of its indexes of every family (listing cleans what
    this misses).

    With ``scores`` (the deleted session's last update, activity and creation), an
    entry is removed only while it still has that score: a session made again under the
    ID since keeps its place.
    """
    if not index_keys:
        return
    try:
        if scores is None:
            commands = [
                Command.of("zrem", db.keys.family(key, family) if family else key, member)
                for key in index_keys
                for family in ("", "a", "c")
            ]
            yield Request.write_(f"unindex session {member!r}", Pipeline(commands), member)
        else:
            for key in index_keys:
                for family, score in zip(("", "a", "c"), scores, strict=True):
                    family_key = db.keys.family(key, family) if family else key
                    yield from forget_entry(family_key, member, score)
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
