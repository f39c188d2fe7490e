"""Every storage operation of the Redis adapter, written once for the sync and async stores.

An operation is a generator that *yields requests* instead of doing I/O: a script to
run, a command, a pipeline of commands. A driver sends each one to the server (through
:class:`~sessionary_redis.connection.RetryPolicy`, so retries and error messages are
the same everywhere) and sends the reply back into the generator, or throws the
:class:`~sessionary.errors.StorageError` it became in at the same point:

* :class:`~sessionary_redis.store.RedisDb` drives them with ``redis.Redis`` (or
  ``RedisCluster``);
* :class:`~sessionary_redis.aio.AsyncRedisStore` awaits them with ``redis.asyncio``.

So the key layout, the Lua scripts, the records codec, the error translation and every
decision between two round trips are one piece of code, and the sync tests cover the
async store's logic too. Listing and index upkeep live in :mod:`sessionary_redis.listing`,
built the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs

from sessionary.codec import dump_json, dump_run
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
    StoreUnavailableError,
)
from sessionary.ids import new_id
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import ListFilters, check_run_version, preview_of
from sessionary.storage.summaries import paused
from sessionary.storage.tails import stale_version
from sessionary_redis import scripts
from sessionary_redis.calls import SCRIPTS, Action, Command, Op, Request, Script
from sessionary_redis.connection import RetryPolicy, int_option, number_option
from sessionary_redis.keys import KeyLayout
from sessionary_redis.listing import (
    activity,
    count_sessions,
    forget_entry,
    list_page,
    reindex,
    unindex,
)
from sessionary_redis.migration import MigrationOperations
from sessionary_redis.records import (
    check_tokens,
    decode_info,
    decode_run_text,
    info_pairs,
    text,
)
from sessionary_redis.scripts import STORE_SCHEMA
from sessionary_redis.state import guarded, read_guard, state_guard
from sessionary_redis.tail import TailOperations

__all__ = ["RedisOperations"]

_UNCERTAIN_LIMIT: Final = 10_000

# --------------------------------------------------------------------------- operations


class RedisOperations(MigrationOperations, TailOperations):
    """What :class:`RedisDb` and :class:`AsyncRedisStore` share: settings and every operation.

    The stores differ only in their client and in how they send a :class:`Request`.
    """

    prefix: str
    keys: KeyLayout
    ttl: float | None
    is_cluster: bool
    server: str
    _ttl_ms: str
    _policy: RetryPolicy
    _uncertain: set[tuple[str, str]]
    _uncertain_lock: threading.Lock
    _listing_checked: bool = False
    # The registered Lua scripts (named in SCRIPTS); the async store keeps them per client.
    _append: Any
    _read: Any
    _read_run: Any
    _update_run_script: Any
    _update_session_script: Any
    _delete: Any
    _import: Any
    _forget: Any
    _trim: Any
    _read_messages: Any
    _replace: Any
    _migrate_script: Any

    def _configure(
        self,
        client: Any,
        options: Mapping[str, str],
        *,
        is_cluster: bool,
        server: str,
        prefix: str | None,
        ttl: float | None,
        retries: int | None,
        retry_backoff: float | None,
    ) -> None:
        """Read the settings (arguments first, then the URL's ``options``); register scripts."""
        self.is_cluster = is_cluster
        self.prefix = prefix if prefix is not None else options.get("prefix", "sessionary")
        self.keys = KeyLayout(self.prefix)
        raw_ttl: Any = ttl if ttl is not None else options.get("ttl")
        self.ttl = None if raw_ttl is None else number_option(raw_ttl, "ttl", minimum=0.001)
        self._ttl_ms = "0" if self.ttl is None else str(max(1, round(self.ttl * 1000)))
        self.server = server
        self._policy = RetryPolicy(
            server,
            retries if retries is not None else int_option(dict(options), "retries", 2),
            retry_backoff
            if retry_backoff is not None
            else number_option(options.get("retry_backoff", 0.05), "retry_backoff", minimum=0),
        )
        self._register_scripts(client)
        # Runs whose append failed without a clear outcome: if one of them is found
        # stored, byte for byte, when it is appended again, that append succeeds.
        self._uncertain = set()
        self._uncertain_lock = threading.Lock()

    def _register_scripts(self, client: Any) -> None:
        for attribute, source in SCRIPTS.items():
            setattr(self, attribute, client.register_script(source))

    # ------------------------------------------------------------------ plumbing

    def _session_keys(self, session_id: str) -> list[str]:
        return [self.keys.session(session_id), self.keys.runs(session_id)]

    def _families(self, index_keys: list[str]) -> list[str]:
        """The ``x:`` keys, then the same scopes' ``xa:`` and ``xc:`` keys (script order)."""
        if self.is_cluster:
            return []  # other slots: a second step indexes them (see ``reindex``)
        return [
            *index_keys,
            *(self.keys.family(key, "a") for key in index_keys),
            *(self.keys.family(key, "c") for key in index_keys),
        ]

    def _cutoff(self, now: float) -> str:
        return "" if self.ttl is None else repr(now - self.ttl)

    def _info(self, session_id: str, values: Any) -> tuple[SessionInfo, list[str]]:
        decoded = decode_info(session_id, values)
        if decoded is None:
            raise CorruptRecordError(session_id, "the session hash vanished during a write")
        return decoded

    # ------------------------------------------------------------------ writes

    def _append_op(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> Op[SessionInfo]:
        check_tokens(run)
        encoded = dump_run(run)
        sid = run.session_id
        is_team = session_type is SessionType.TEAM
        agent = None if is_team else run.agent_id
        team = run.team_id if is_team else None
        index_keys = self.keys.indexes_of(session_type, run.user_id, agent, team)
        joined = "\n".join(index_keys)
        keys = self._session_keys(sid) + self._families(index_keys)
        preview = preview_of(run)
        attempts: list[int] = []
        guard = yield from read_guard(keys[0], sid, run.state_changes)

        def build(attempt: int, guard: tuple[str, str]) -> Action:
            attempts.append(attempt)
            now = time.time()
            return Script(
                "_append",
                keys,
                [
                    repr(now),
                    run.run_id,
                    encoded,
                    run.user_id or "",
                    session_type.value,
                    agent or "",
                    team or "",
                    run.status.value,
                    "" if preview is None else "=" + preview,
                    run.metrics.input_tokens,
                    run.metrics.output_tokens,
                    self._ttl_ms,
                    joined,
                    sid,
                    self._cutoff(now),
                    STORE_SCHEMA,
                    "" if expected_version is None else expected_version,
                    *guard,
                    len(run.messages),
                ],
            )

        marker = (sid, run.run_id)
        try:
            what = f"append run {run.run_id!r} to session {sid!r}"
            send = lambda g: Request(what, lambda attempt: build(attempt, g), sid, True)
            reply = yield from guarded(send, sid, guard, run.state_changes)
        except StoreUnavailableError:
            with self._uncertain_lock:
                if len(self._uncertain) < _UNCERTAIN_LIMIT:
                    self._uncertain.add(marker)
            raise
        with self._uncertain_lock:  # the outcome is known now
            was_uncertain = marker in self._uncertain
            self._uncertain.discard(marker)
        status = text(reply[0])
        if status == "owner":
            raise OwnershipError(sid, run.user_id)
        if status == "duplicate":
            raise ConflictError(f"run {run.run_id!r} already exists in session {sid!r}")
        if status == "corrupt":
            raise CorruptRecordError(sid, str(text(reply[1])))
        if status == "stale":
            stored = text(reply[1])
            version = None if stored == "none" else int(str(stored))
            raise stale_version(sid, version, int(expected_version or 0), done="appended")
        if status == "same" and not was_uncertain and attempts[-1] == 0:
            raise ConflictError(f"run {run.run_id!r} already exists in session {sid!r}")
        info, stored_keys = self._info(sid, reply[2])
        if not int(reply[1]):
            yield from reindex(self, stored_keys, info)
        return info

    def _update_run_op(self, run: Run, expected_version: int) -> Op[SessionInfo]:
        check_tokens(run)
        new = attrs.evolve(run, version=expected_version + 1)
        encoded = dump_run(new)
        sid = run.session_id
        keys = self._session_keys(sid)
        found = yield Request.read(
            f"read run {run.run_id!r} of session {sid!r}",
            Script("_read_run", keys, ["", run.run_id]),
            sid,
        )
        status = text(found[0])
        if status == "corrupt":
            raise CorruptRecordError(sid, str(text(found[1])))
        if status != "ok":
            raise RunNotFoundError(sid, run.run_id)
        info, _ = self._info(sid, found[1])
        if info.user_id != run.user_id:
            raise OwnershipError(sid, run.user_id)
        old = decode_run_text(sid, found[3])
        check_run_version(old, expected_version)
        preview = preview_of(new)
        gained = new.state_changes.since(old.state_changes)
        op, what = new_id(), f"update run {run.run_id!r} of session {sid!r}"
        delta = (
            new.metrics.input_tokens - old.metrics.input_tokens,
            new.metrics.output_tokens - old.metrics.output_tokens,
        )

        def request(guard: tuple[str, str]) -> Request:
            shown = "" if preview is None else "=" + preview
            arguments = [run.user_id or "", run.run_id, found[3], encoded, repr(time.time())]
            arguments += [new.status.value, shown, *delta, self._ttl_ms, op, *guard]
            arguments += [paused(new) - paused(old), len(new.messages)]
            return Request.write_(what, Script("_update_run_script", keys, arguments), sid)

        reply = yield from guarded(request, sid, state_guard(sid, found[1][7], gained), gained)
        status = text(reply[0])
        if status == "conflict":
            raise ConflictError(
                f"run {run.run_id!r} of session {sid!r} changed since it was read: "
                "another writer updated it first"
            )
        if status == "owner":
            raise OwnershipError(sid, run.user_id)
        if status == "corrupt":
            raise CorruptRecordError(sid, str(text(reply[1])))
        if status != "ok":
            raise RunNotFoundError(sid, run.run_id)
        info, index_keys = self._info(sid, reply[1])
        yield from reindex(self, index_keys, info)
        return info

    def _update_session_op(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> Op[SessionInfo]:
        pairs: list[str] = []
        for key, value in changes.items():
            pairs += [key, dump_json(value)]
        op = new_id()
        reply = yield Request.write_(
            f"update session {session_id!r}",
            Script(
                "_update_session_script",
                self._session_keys(session_id),
                [
                    user_id or "",
                    "" if expected_version is None else str(expected_version),
                    repr(time.time()),
                    self._ttl_ms,
                    op,
                    *pairs,
                ],
            ),
            session_id,
        )
        status = text(reply[0])
        if status == "missing":
            raise SessionNotFoundError(session_id, user_id)
        if status == "conflict":
            raise ConflictError(
                f"session {session_id!r} is at version {text(reply[1])}, "
                f"not {expected_version}: it changed since it was read"
            )
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        info, index_keys = self._info(session_id, reply[1])
        yield from reindex(self, index_keys, info)
        return info

    def _import_op(self, session: Session, replace: bool) -> Op[SessionInfo]:
        for run in session.runs:
            check_tokens(run)
        encoded_runs = [dump_run(run) for run in session.runs]
        info = session.info
        sid = info.session_id
        try:
            index_keys = self.keys.indexes_of(
                info.session_type, info.user_id, info.agent_id, info.team_id
            )
            pairs = info_pairs(info, index_keys)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"session {sid!r} is not JSON-serialisable: {exc}") from exc
        for position, run in enumerate(session.runs):
            pairs += ["r:" + run.run_id, str(position), f"m:{position}", str(len(run.messages))]
        keys = self._session_keys(sid) + self._families(index_keys)
        now = time.time()
        reply = yield Request.write_(
            f"import session {sid!r}",
            Script(
                "_import",
                keys,
                [
                    "1" if replace else "0",
                    self._ttl_ms,
                    sid,
                    repr(info.updated_at),
                    self._cutoff(now),
                    repr(activity(info)),
                    repr(info.created_at),
                    len(pairs) // 2,
                    *pairs,
                    *encoded_runs,
                ],
            ),
            sid,
        )
        if text(reply[0]) == "exists":
            raise ConflictError(f"session {sid!r} already exists")
        old_keys = [k for k in (text(reply[1]) or "").split("\n") if k and k not in index_keys]
        yield from unindex(self, old_keys, sid)
        if self.is_cluster:
            yield from reindex(self, index_keys, info)
        return info

    def _delete_op(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> Op[bool]:
        op = new_id()
        reply = yield Request.write_(
            f"delete session {session_id!r}",
            Script(
                "_delete",
                [*self._session_keys(session_id), self.keys.deleted(session_id)],
                [user_id or "", op, "" if expected_version is None else str(expected_version)],
            ),
            session_id,
        )
        status = text(reply[0])
        if status == "conflict":
            assert expected_version is not None
            raise stale_delete(session_id, text(reply[1]), expected_version)
        if status != "ok":
            return False
        keys = [k for k in (text(reply[1]) or "").split("\n") if k]
        scores = [text(value) for value in reply[2:5]]
        known = None
        if len(scores) == 3 and all(scores):
            known = (float(str(scores[0])), float(str(scores[1])), float(str(scores[2])))
        yield from unindex(self, keys, session_id, known)
        return True

    def _erase_user_op(self, user_id: str) -> Op[int]:
        index = self.keys.user_index(user_id)
        erased = 0
        while True:
            # A run the user appends meanwhile makes its session again, listed with a
            # new score: the next page finds it, so it is erased too, never left unlisted.
            members = yield Request.read(
                f"list the sessions of user {user_id!r}",
                Command.of("zrange", index, 0, 499, withscores=True),
            )
            if not members:
                return erased
            for member, score in members:
                session_id = text(member)
                assert session_id is not None
                if (yield from self._delete_op(session_id, user_id, None)):
                    erased += 1
                yield from forget_entry(index, session_id, float(score))

    def _trim_op(
        self, session_id: str, keep_last: int, user_id: str | None, expected_version: int | None
    ) -> Op[int]:
        expected = "" if expected_version is None else str(expected_version)
        reply = yield Request(
            f"trim the runs of session {session_id!r}",
            lambda _: Script(
                "_trim",
                self._session_keys(session_id),
                [user_id or "", keep_last, repr(time.time()), self._ttl_ms, expected],
            ),
            session_id,
            True,
        )
        status = text(reply[0])
        if status == "missing":
            raise SessionNotFoundError(session_id, user_id)
        if status == "conflict":
            assert expected_version is not None
            raise stale_delete(session_id, text(reply[1]), expected_version, done="trimmed")
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        removed = int(reply[1])
        if removed:
            info, index_keys = self._info(session_id, reply[2])
            yield from reindex(self, index_keys, info)
        return removed

    # ------------------------------------------------------------------ reads

    def _get_info_op(self, session_id: str, user_id: str | None) -> Op[SessionInfo | None]:
        values = yield Request.read(
            f"read session {session_id!r}",
            Command.of("hmget", self.keys.session(session_id), list(scripts.INFO_FIELDS)),
            session_id,
        )
        decoded = decode_info(session_id, values)
        if decoded is None or (user_id is not None and decoded[0].user_id != user_id):
            return None
        return decoded[0]

    def _get_run_op(self, session_id: str, run_id: str, user_id: str | None) -> Op[Run | None]:
        reply = yield Request.read(
            f"read run {run_id!r} of session {session_id!r}",
            Script("_read_run", self._session_keys(session_id), [user_id or "", run_id]),
            session_id,
        )
        status = text(reply[0])
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        if status != "ok":
            return None
        return decode_run_text(session_id, reply[3])

    def _list_op(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> Op[SessionPage]:
        return (yield from list_page(self, filters, limit, after))

    def _count_op(self, filters: ListFilters) -> Op[int]:
        return (yield from count_sessions(self, filters))

    # ------------------------------------------------------------------ admin

    def _ping_op(self) -> Op[None]:
        yield Request.read("ping", Command.of("ping"))
