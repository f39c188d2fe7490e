"""RedisDb: sessions in Redis or Redis Cluster, one atomic script per write."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import redis
from redis.cluster import RedisCluster

from sessionary.codec import SCHEMA_VERSION
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
from sessionary.storage.base import (
    Capability,
    ListFilters,
    SchemaStatus,
    Store,
    preview_of,
)
from sessionary_redis import scripts
from sessionary_redis.connection import (
    DEFAULT_URL,
    RetryPolicy,
    client_from_url,
    describe_client,
    int_option,
    number_option,
    split_url,
)
from sessionary_redis.keys import KeyLayout
from sessionary_redis.listing import list_page, reindex, unindex
from sessionary_redis.records import (
    check_tokens,
    decode_info,
    decode_run_text,
    dump_json,
    dump_run,
    info_pairs,
    text,
)

__all__ = ["RedisDb"]

log = logging.getLogger("sessionary_redis")

_TRUE = ("1", "true", "yes", "on")
_UNCERTAIN_LIMIT = 10_000


class RedisDb(Store):
    """Sessions in Redis: one hash and one list per session, sorted-set indexes for listing.

    ``RedisDb()`` connects to ``redis://127.0.0.1:6379/0``; pass ``db_url`` (``redis://``,
    ``rediss://`` or ``unix://``) or an application's own ``client`` (a ``redis.Redis``
    or a ``redis.cluster.RedisCluster``, which the store then never closes). Keys start
    with ``prefix``. With ``ttl`` (seconds) a session and its index entries expire
    together that long after the session's last write. Connection errors and timeouts
    are retried ``retries`` times with exponential backoff from ``retry_backoff``
    seconds, then raised as :class:`~sessionary.errors.StoreUnavailableError`.

    The URL may carry the same options as query parameters:
    ``redis://host:6379/0?prefix=app&ttl=86400&retries=3&cluster=true``.

    >>> db = RedisDb("redis://127.0.0.1:6379/0", prefix="docs", ttl=3600)
    >>> db.ttl
    3600.0
    """

    name: ClassVar[str] = "redis"
    url_schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss", "unix")
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    def __init__(
        self,
        db_url: str | None = None,
        *,
        client: redis.Redis | RedisCluster | None = None,
        prefix: str | None = None,
        ttl: float | None = None,
        retries: int | None = None,
        retry_backoff: float | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        options: dict[str, str] = {}
        if client is not None:
            if db_url is not None:
                raise InvalidInputError("pass either db_url or client to RedisDb, not both")
            if not isinstance(client, (redis.Redis, RedisCluster)):
                raise InvalidInputError(
                    "client must be a redis.Redis or a redis.cluster.RedisCluster, "
                    f"got {type(client).__name__}"
                )
            self._owns_client = False
        else:
            url, options = split_url(DEFAULT_URL if db_url is None else db_url)
            timeout = number_option(socket_timeout, "socket_timeout", minimum=0.001)
            cluster = options.get("cluster", "").lower() in _TRUE
            client = client_from_url(url, cluster=cluster, socket_timeout=timeout)
            self._owns_client = True
        self.client: redis.Redis | RedisCluster = client
        self.is_cluster = isinstance(client, RedisCluster)
        self.prefix = prefix if prefix is not None else options.get("prefix", "sessionary")
        self.keys = KeyLayout(self.prefix)
        raw_ttl: Any = ttl if ttl is not None else options.get("ttl")
        self.ttl: float | None = (
            None if raw_ttl is None else number_option(raw_ttl, "ttl", minimum=0.001)
        )
        self._ttl_ms = "0" if self.ttl is None else str(max(1, round(self.ttl * 1000)))
        self.server = describe_client(client)
        self._policy = RetryPolicy(
            self.server,
            retries if retries is not None else int_option(options, "retries", 2),
            retry_backoff
            if retry_backoff is not None
            else number_option(options.get("retry_backoff", 0.05), "retry_backoff", minimum=0),
        )
        register = client.register_script
        self._append = register(scripts.APPEND)
        self._read = register(scripts.READ_SESSION)
        self._read_run = register(scripts.READ_RUN)
        self._update_run_script = register(scripts.UPDATE_RUN)
        self._update_session_script = register(scripts.UPDATE_SESSION)
        self._delete = register(scripts.DELETE)
        self._import = register(scripts.IMPORT)
        self._forget = register(scripts.FORGET_INDEX_ENTRY)
        self._trim = register(scripts.TRIM)
        # Runs whose append failed without a clear outcome: if one of them is found
        # stored, byte for byte, when it is appended again, that append succeeds.
        self._uncertain: set[tuple[str, str]] = set()
        self._uncertain_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> RedisDb:
        """Open ``redis://``, ``rediss://`` or ``unix://`` URLs (options as query parameters)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"RedisDb({self.server}, prefix={self.prefix!r}, ttl={self.ttl!r})"

    # ------------------------------------------------------------------ plumbing

    def _call(
        self, what: str, fn: Callable[[int], Any], session_id: str | None, write: bool = False
    ) -> Any:
        return self._policy.call(what, fn, session_id=session_id, is_write=write)

    def _session_keys(self, session_id: str) -> list[str]:
        return [self.keys.session(session_id), self.keys.runs(session_id)]

    def _cutoff(self, now: float) -> str:
        return "" if self.ttl is None else repr(now - self.ttl)

    def _info(self, session_id: str, values: Any) -> tuple[SessionInfo, list[str]]:
        decoded = decode_info(session_id, values)
        if decoded is None:
            raise CorruptRecordError(session_id, "the session hash vanished during a write")
        return decoded

    # ------------------------------------------------------------------ writes

    def _append_run(self, run: Run, session_type: SessionType) -> SessionInfo:
        check_tokens(run)
        encoded = dump_run(run)
        sid = run.session_id
        is_team = session_type is SessionType.TEAM
        agent = None if is_team else run.agent_id
        team = run.team_id if is_team else None
        index_keys = self.keys.indexes_of(session_type, run.user_id, agent, team)
        joined = "\n".join(index_keys)
        keys = self._session_keys(sid) + ([] if self.is_cluster else index_keys)
        preview = preview_of(run)
        attempts: list[int] = []

        def send(attempt: int) -> Any:
            attempts.append(attempt)
            now = time.time()
            return self._append(
                keys=keys,
                args=[
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
                    SCHEMA_VERSION,
                ],
            )

        marker = (sid, run.run_id)
        try:
            reply = self._call(f"append run {run.run_id!r} to session {sid!r}", send, sid, True)
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
        if status == "same" and not was_uncertain and attempts[-1] == 0:
            raise ConflictError(f"run {run.run_id!r} already exists in session {sid!r}")
        info, stored_keys = self._info(sid, reply[2])
        if not int(reply[1]):
            reindex(self, stored_keys, info.updated_at, sid)
        return info

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        check_tokens(run)
        new = attrs.evolve(run, version=expected_version + 1)
        encoded = dump_run(new)
        sid = run.session_id
        keys = self._session_keys(sid)
        found = self._call(
            f"read run {run.run_id!r} of session {sid!r}",
            lambda _: self._read_run(keys=keys, args=["", run.run_id]),
            sid,
        )
        status = text(found[0])
        if status == "corrupt":
            raise CorruptRecordError(sid, str(text(found[1])))
        if status != "ok":
            raise RunNotFoundError(sid, run.run_id)
        info, _ = self._info(sid, found[1])
        if run.user_id is not None and info.user_id != run.user_id:
            raise OwnershipError(sid, run.user_id)
        old = decode_run_text(sid, found[3])
        if old.version != expected_version:
            raise ConflictError(
                f"run {run.run_id!r} of session {sid!r} is at version {old.version}, "
                f"not {expected_version}: another writer updated it first"
            )
        preview = preview_of(new)
        op = new_id()
        reply = self._call(
            f"update run {run.run_id!r} of session {sid!r}",
            lambda _: self._update_run_script(
                keys=keys,
                args=[
                    run.user_id or "",
                    run.run_id,
                    found[3],
                    encoded,
                    repr(time.time()),
                    new.status.value,
                    "" if preview is None else "=" + preview,
                    new.metrics.input_tokens - old.metrics.input_tokens,
                    new.metrics.output_tokens - old.metrics.output_tokens,
                    self._ttl_ms,
                    op,
                ],
            ),
            sid,
            True,
        )
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
        reindex(self, index_keys, info.updated_at, sid)
        return info

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        if expected_version is not None and (
            not isinstance(expected_version, int) or isinstance(expected_version, bool)
        ):
            raise InvalidInputError("expected_version must be an int or None")
        pairs: list[str] = []
        for key, value in changes.items():
            pairs += [key, dump_json(value)]
        op = new_id()
        reply = self._call(
            f"update session {session_id!r}",
            lambda _: self._update_session_script(
                keys=self._session_keys(session_id),
                args=[
                    user_id or "",
                    "" if expected_version is None else str(expected_version),
                    repr(time.time()),
                    self._ttl_ms,
                    op,
                    *pairs,
                ],
            ),
            session_id,
            True,
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
        reindex(self, index_keys, info.updated_at, session_id)
        return info

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
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
            pairs += ["r:" + run.run_id, str(position)]
        keys = self._session_keys(sid) + ([] if self.is_cluster else index_keys)
        now = time.time()
        reply = self._call(
            f"import session {sid!r}",
            lambda _: self._import(
                keys=keys,
                args=[
                    "1" if replace else "0",
                    self._ttl_ms,
                    sid,
                    repr(info.updated_at),
                    self._cutoff(now),
                    len(pairs) // 2,
                    *pairs,
                    *encoded_runs,
                ],
            ),
            sid,
            True,
        )
        if text(reply[0]) == "exists":
            raise ConflictError(f"session {sid!r} already exists")
        old_keys = [k for k in (text(reply[1]) or "").split("\n") if k and k not in index_keys]
        unindex(self, old_keys, sid)
        if self.is_cluster:
            reindex(self, index_keys, info.updated_at, sid)
        return info

    def _delete_session(self, session_id: str, user_id: str | None) -> bool:
        op = new_id()
        reply = self._call(
            f"delete session {session_id!r}",
            lambda _: self._delete(
                keys=[*self._session_keys(session_id), self.keys.deleted(session_id)],
                args=[user_id or "", op],
            ),
            session_id,
            True,
        )
        if text(reply[0]) != "ok":
            return False
        unindex(self, [k for k in (text(reply[1]) or "").split("\n") if k], session_id)
        return True

    def _erase_user(self, user_id: str) -> int:
        index = self.keys.user_index(user_id)
        erased = 0
        while True:
            members = self._call(
                f"list the sessions of user {user_id!r}",
                lambda _: self.client.zrange(index, 0, 499),
                None,
            )
            if not members:
                return erased
            for member in members:
                session_id = text(member)
                assert session_id is not None
                if self._delete_session(session_id, user_id):
                    erased += 1
            self._call(
                f"clear the index of user {user_id!r}",
                functools.partial(_zrem, self.client, index, list(members)),
                None,
                True,
            )

    def _trim_runs(self, session_id: str, keep_last: int, user_id: str | None) -> int:
        reply = self._call(
            f"trim the runs of session {session_id!r}",
            lambda _: self._trim(
                keys=self._session_keys(session_id),
                args=[user_id or "", keep_last, repr(time.time()), self._ttl_ms],
            ),
            session_id,
            True,
        )
        status = text(reply[0])
        if status == "missing":
            raise SessionNotFoundError(session_id, user_id)
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        removed = int(reply[1])
        if removed:
            info, index_keys = self._info(session_id, reply[2])
            reindex(self, index_keys, info.updated_at, session_id)
        return removed

    # ------------------------------------------------------------------ reads

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        count = -1 if last_n_runs is None else last_n_runs
        reply = self._call(
            f"read session {session_id!r}",
            lambda _: self._read(keys=self._session_keys(session_id), args=[user_id or "", count]),
            session_id,
        )
        status = text(reply[0])
        if status == "missing":
            return None
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        info, _ = self._info(session_id, reply[1])
        runs = [decode_run_text(session_id, value) for value in reply[2]]
        return Session.from_info(info, runs)

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        values = self._call(
            f"read session {session_id!r}",
            lambda _: self.client.hmget(self.keys.session(session_id), list(scripts.INFO_FIELDS)),
            session_id,
        )
        decoded = decode_info(session_id, values)
        if decoded is None or (user_id is not None and decoded[0].user_id != user_id):
            return None
        return decoded[0]

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        reply = self._call(
            f"read run {run_id!r} of session {session_id!r}",
            lambda _: self._read_run(
                keys=self._session_keys(session_id), args=[user_id or "", run_id]
            ),
            session_id,
        )
        status = text(reply[0])
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        if status != "ok":
            return None
        return decode_run_text(session_id, reply[3])

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return list_page(self, filters, limit, after)

    # ------------------------------------------------------------------ admin

    def schema_status(self) -> SchemaStatus:
        """The storage schema of the most recently written sessions against this code's.

        Every session hash records the schema it was written with; the newest 100
        sessions are sampled (one pipelined read). A session from a newer schema shows
        as ``current > latest``, and reading it raises ``SchemaVersionError``.
        """
        newest = self._call(
            "read the newest sessions",
            lambda _: self.client.zrevrange(self.keys.all_index, 0, 99),
            None,
        )

        def send(_: int) -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for member in newest:
                pipe.hget(self.keys.session(str(text(member))), "schema")
            return list(pipe.execute(raise_on_error=False))

        found = [SCHEMA_VERSION]
        for value in self._call("read session schemas", send, None) if newest else []:
            raw = None if isinstance(value, Exception) else text(value)
            if raw is not None and raw.isdigit():
                found.append(int(raw))
        return SchemaStatus(current=max(found), latest=SCHEMA_VERSION)

    def ping(self) -> None:
        """Check the server answers; a :class:`StoreUnavailableError` names it if not."""
        self._call("ping", lambda _: self.client.ping(), None)

    def close(self) -> None:
        """Close the connections of a client this store made (never an application's)."""
        if self._owns_client:
            self.client.close()


def _zrem(client: Any, key: str, members: list[Any], _attempt: int) -> Any:
    return client.zrem(key, *members)
