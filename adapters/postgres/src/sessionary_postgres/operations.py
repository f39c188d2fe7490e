"""Every storage operation of the PostgreSQL store, written once for the sync and async stores.

Each operation is a generator that yields :class:`~sessionary_postgres.sql.Sql` requests
(see :mod:`sessionary.storage.driving`): :class:`~sessionary_postgres.PostgresDb` runs it
on a connection of its ``psycopg_pool.ConnectionPool``, the async store on one of its
``AsyncConnectionPool``, so both have the same SQL, checks and errors.

A write is one short transaction on one session: it locks the session's row
(``SELECT ... FOR UPDATE``, together with the schema version: one round trip), appends
or changes one run row, rewrites the summary columns, and commits. Writers of one
session queue on the row lock, in this process or another; writers of other sessions
never wait for each other. Earlier runs are never read or rewritten, so an append costs
the same at run 10 and at run 10,000. An append to a session whose row the store wrote
last skips the lock: one statement writes the summary computed from that row only if
the row is unchanged (see :meth:`PostgresOperations._append_unchanged`). Reads are
single statements (one snapshot each).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import attrs
import psycopg.errors

from sessionary.domain.runs import Run, RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    OwnershipError,
    RunNotFoundError,
    SchemaVersionError,
    SessionNotFoundError,
)
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import (
    SchemaStatus,
    check_owner,
    check_run_version,
    new_session_info,
    session_after_update,
    summary_after_append,
    summary_after_trim,
    summary_after_update,
)
from sessionary.storage.driving import StorageOperations
from sessionary.storage.tails import check_session_version
from sessionary_postgres import schema, sql
from sessionary_postgres.connection import Server
from sessionary_postgres.listing import ListingOperations
from sessionary_postgres.rows import (
    SessionRow,
    check_text,
    decode_run_row,
    dump_json,
    encode_run_text,
    run_params,
    session_params,
    session_row,
    storable,
)
from sessionary_postgres.seen import SeenRows, twin
from sessionary_postgres.sql import BEGIN, COMMIT, ROLLBACK, Reply, Sql
from sessionary_postgres.tail import TailOperations

__all__ = ["PostgresOperations"]

Op = Generator[Sql, Reply, Any]


def _writer() -> str:
    from sessionary_postgres import __version__

    return f"sessionary-postgres {__version__}"


class PostgresOperations(ListingOperations, TailOperations, SeenRows, StorageOperations):
    """The operations; a store sets :attr:`server` and runs them (see the module docs)."""

    server: Server
    #: Whether this store has seen the latest schema in the database (then reads trust it).
    _schema_ready: bool = False

    # ------------------------------------------------------------------ schema

    def _version_error(self, version: int) -> SchemaVersionError:
        where = f"the PostgreSQL database {self.server}"
        if version < 1:
            return SchemaVersionError(
                f"{where} has a damaged sessionary_schema table (no valid version; this "
                f"{_writer()} uses version {schema.LATEST}); restore it from a backup"
            )
        if version > schema.LATEST:
            return SchemaVersionError(
                f"{where} has schema version {version}, newer than version {schema.LATEST} "
                f"that this {_writer()} reads; upgrade it ('pip install -U sessionary-postgres')"
            )
        return SchemaVersionError(
            f"{where} has schema version {version}; this {_writer()} uses version "
            f"{schema.LATEST}. Upgrade it with 'sessionary migrate --db <url>' (back it up first)"
        )

    def _check_version(self, version: Any) -> None:
        if version != schema.LATEST:
            self._schema_ready = False
            raise self._version_error(version if isinstance(version, int) else 0)

    def _ensure_schema(self, *, refuse: bool = True) -> Generator[Sql, Reply, int]:
        """Create the tables in a database that has none; the schema version it holds.

        With ``refuse``, a version other than :data:`~schema.LATEST` is a
        :class:`SchemaVersionError`. Once the latest was seen, this does no I/O.
        """
        if self._schema_ready:
            return schema.LATEST
        exists = yield Sql(sql.SCHEMA_EXISTS)
        if exists.rows[0][0]:
            version = _version_of((yield Sql(sql.READ_VERSION)))
        else:
            yield BEGIN
            yield Sql(sql.SCHEMA_LOCK, (schema.SCHEMA_LOCK,))
            # Made by another caller while this one waited for the lock? Then leave them:
            # CREATE INDEX IF NOT EXISTS still locks the table against the writers that
            # are already using it. Every statement is IF NOT EXISTS all the same.
            if not (yield Sql(sql.SCHEMA_MADE)).rows[0][0]:
                for statement in schema.CREATE_LATEST:
                    yield Sql(statement)
                yield Sql(sql.CREATE_VERSION, (schema.LATEST, _writer(), time.time()))
            version = _version_of((yield Sql(sql.READ_VERSION)))
            yield COMMIT
        if version == schema.LATEST:
            self._schema_ready = True
        elif refuse:
            raise self._version_error(version)
        return version

    def _lock_session(self, session_id: str) -> Generator[Sql, Reply, SessionRow | None]:
        """Begin a write: lock the session's row; its decoded row, or ``None`` if missing."""
        yield from self._ensure_schema()
        yield BEGIN
        reply = yield Sql(sql.LOCK_SESSION, (session_id,))
        row = reply.rows[0]
        self._check_version(row[0])
        if row[1] is None:
            return None
        return session_row(row[1:])

    def _read(
        self, query: str, params: tuple[Any, ...], order: str | None = None
    ) -> Generator[Sql, Reply, list[tuple[Any, ...]]]:
        """Run a read with the schema version folded in (one round trip); its rows.

        Every read checks the version, so an open store refuses to read a database that
        another process migrated to a newer schema, at no extra cost.
        """
        yield from self._ensure_schema()
        rows = (yield Sql(sql.with_version(query, order), params)).rows
        self._check_version(rows[0][0])
        # No matching row gives one row of NULLs (every read selects a NOT NULL column).
        return [row[1:] for row in rows if any(value is not None for value in row[1:])]

    def _summary_sql(self, info: SessionInfo, last_seq: int) -> Sql:
        """The statement that writes ``info`` as the summary and commits."""
        return Sql(sql.UPDATE_SUMMARY, _summary(info, last_seq), commit=True)

    def _schema_status_op(self) -> Generator[Sql, Reply, SchemaStatus]:
        # Read the stored version every time: another process may have migrated since.
        yield from self._ensure_schema(refuse=False)
        version = _version_of((yield Sql(sql.READ_VERSION)))
        if version != schema.LATEST:
            self._schema_ready = False
        return SchemaStatus(current=version, latest=schema.LATEST)

    def _migrate_op(self) -> Generator[Sql, Reply, list[str]]:
        """``Store.migrate``: upgrade to the latest version in one transaction."""
        yield from self._ensure_schema(refuse=False)
        yield BEGIN
        yield Sql(sql.SCHEMA_LOCK, (schema.SCHEMA_LOCK,))
        version = _version_of((yield Sql(sql.READ_VERSION + " FOR UPDATE")))
        if version > schema.LATEST or version < 1:
            self._schema_ready = False
            raise self._version_error(version)
        steps: list[str] = []
        for target in range(version + 1, schema.LATEST + 1):
            for statement in schema.MIGRATIONS[target]():
                yield Sql(statement)
            if target in schema.FILLS:
                yield from _fill_last_run_at()
            steps.append(f"version {target}")
        if steps:
            yield Sql(sql.WRITE_VERSION, (schema.LATEST, _writer(), time.time()))
        yield COMMIT
        self._schema_ready = True
        return steps

    def _ping_op(self) -> Generator[Sql, Reply, None]:
        yield from self._ensure_schema(refuse=False)
        yield Sql("SELECT 1")

    # ------------------------------------------------------------------ writes

    def _append_op(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> Op:
        data = encode_run_text(run)
        session_id = run.session_id
        fast = yield from self._append_unchanged(run, data, expected_version)
        if fast is not None:
            return fast
        while True:
            current = yield from self._lock_session(session_id)
            now = time.time()
            if current is not None:
                break
            check_session_version(None, session_id, expected_version, done="appended")
            info = storable(
                summary_after_append(new_session_info(run, session_type, now), run, now)
            )
            created = yield Sql(sql.INSERT_NEW_SESSION, session_params(info, 1))
            if created.rowcount == 1:
                yield Sql(sql.INSERT_RUN, run_params(run, 1, data), commit=True)
                self._saw(created.rows[0])
                return info
            yield ROLLBACK  # another writer created the session first: lock its row
        if current.info.user_id != run.user_id:
            raise OwnershipError(session_id, run.user_id)
        check_session_version(current.info, session_id, expected_version, done="appended")
        info = storable(summary_after_append(current.info, run, now))
        seq = current.last_seq + 1
        try:
            reply = yield Sql(
                sql.APPEND_RUN, (*run_params(run, seq, data), *_summary(info, seq)), commit=True
            )
        except psycopg.errors.UniqueViolation as exc:
            raise twin(run) from exc
        self._saw(reply.rows[0])
        return info

    def _append_unchanged(
        self, run: Run, data: str, expected_version: int | None
    ) -> Generator[Sql, Reply, SessionInfo | None]:
        """Append in one statement if the session's row is the one this store saw last
        (its own last append to the session, typically); ``None`` if it is not.

        The summary is computed from the row seen, and written only if every column of
        the row is still the same (compared by the server, under the row's lock): the
        same result as locking the row and reading it, without that round trip.
        """
        seen = self._seen().pop(run.session_id, None)
        if seen is None:
            return None
        try:
            known = session_row(seen)
        except CorruptRecordError:
            return None
        if known.info.user_id != run.user_id or expected_version not in (
            None,
            known.info.version,
        ):
            return None  # the locking way says why
        yield from self._ensure_schema()
        info = storable(summary_after_append(known.info, run, time.time()))
        seq = known.last_seq + 1
        params = (*_summary(info, seq), schema.LATEST, *seen, *run_params(run, seq, data))
        try:
            reply = yield Sql(sql.APPEND_IF_UNCHANGED, params)
        except psycopg.errors.UniqueViolation as exc:
            raise twin(run) from exc
        if not reply.rows:
            return None
        self._saw(reply.rows[0])
        return info

    def _update_run_op(self, run: Run, expected_version: int) -> Op:
        new = attrs.evolve(run, version=expected_version + 1)
        data = encode_run_text(new)
        session_id = run.session_id
        current = yield from self._lock_session(session_id)
        if current is None:
            raise RunNotFoundError(session_id, run.run_id)
        found = (yield Sql(sql.FIND_RUN, (session_id, run.run_id))).rows
        if not found:
            raise RunNotFoundError(session_id, run.run_id)
        if current.info.user_id != run.user_id:
            raise OwnershipError(session_id, run.user_id)
        seq, old_data = found[0]
        old = decode_run_row(session_id, seq, old_data)
        check_run_version(old, expected_version)
        is_last = seq == current.last_seq
        info = storable(summary_after_update(current.info, old, new, is_last, time.time()))
        metrics = new.metrics
        yield Sql(
            sql.UPDATE_RUN,
            (
                new.status.value,
                new.version,
                data,
                metrics.input_tokens,
                metrics.output_tokens,
                session_id,
                seq,
                *_summary(info, current.last_seq),
            ),
            commit=True,
        )
        return info

    def _update_session_op(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> Op:
        for key in ("name", "name_source"):
            check_text(changes.get(key), key)
        state = dump_json(changes["state"], "state") if "state" in changes else None
        metadata = dump_json(changes["metadata"], "metadata") if "metadata" in changes else None
        current = yield from self._lock_session(session_id)
        info = session_after_update(
            None if current is None else current.info,
            session_id,
            user_id,
            expected_version,
            changes,
        )
        folded = None if info.name is None else info.name.casefold()
        yield Sql(
            sql.UPDATE_SESSION,
            (
                info.name,
                folded,
                info.name_source,
                state,
                metadata,
                info.updated_at,
                info.version,
                session_id,
            ),
            commit=True,
        )
        return info

    def _import_op(self, session: Session, replace: bool) -> Op:
        check_text(session.info.name, "name")
        rows = [
            run_params(run, seq, encode_run_text(run))
            for seq, run in enumerate(session.runs, start=1)
        ]
        info = storable(session.info)
        params = session_params(info, len(rows))
        current = yield from self._lock_session(session.session_id)
        if current is not None:
            if not replace:
                raise ConflictError(f"session {session.session_id!r} already exists")
            yield Sql(sql.DELETE_SESSION, (session.session_id,))
        try:
            yield Sql(sql.INSERT_SESSION, params)
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(f"session {session.session_id!r} already exists") from exc
        if rows:
            yield Sql(sql.INSERT_RUN, many=rows)
        yield COMMIT
        return info

    def _delete_op(self, session_id: str, user_id: str | None, expected_version: int | None) -> Op:
        current = yield from self._lock_session(session_id)
        if current is None or not check_owner(current.info, user_id):
            return False
        if expected_version is not None and current.info.version != expected_version:
            raise stale_delete(session_id, current.info.version, expected_version)
        yield Sql(sql.DELETE_SESSION, (session_id,))
        yield COMMIT
        return True

    def _erase_user_op(self, user_id: str) -> Op:
        yield from self._ensure_schema()
        yield BEGIN
        self._check_version(_version_of((yield Sql(sql.LOCK_VERSION))))
        deleted = yield Sql(sql.ERASE_USER, (user_id,))
        yield COMMIT
        return deleted.rowcount

    def _trim_op(
        self, session_id: str, keep_last: int, user_id: str | None, expected_version: int | None
    ) -> Op:
        current = yield from self._lock_session(session_id)
        if current is None or not check_owner(current.info, user_id):
            raise SessionNotFoundError(session_id, user_id)
        if expected_version is not None and current.info.version != expected_version:
            raise stale_delete(session_id, current.info.version, expected_version, done="trimmed")
        doomed = (yield Sql(sql.TRIM_RUNS, (session_id, session_id, keep_last))).rows
        if not doomed:
            return 0
        # The token columns stand in for the runs: no need to decode what is deleted.
        removed = [
            Run(
                run_id=run_id,
                session_id=session_id,
                status=RunStatus(status),
                metrics=RunMetrics(input_tokens=tokens_in, output_tokens=tokens_out),
            )
            for run_id, status, tokens_in, tokens_out in doomed
        ]
        info = summary_after_trim(current.info, removed, keep_last, time.time())
        yield Sql(sql.UPDATE_SUMMARY, _summary(info, current.last_seq))
        yield COMMIT
        return len(removed)

    # ------------------------------------------------------------------ reads

    def _get_info_op(self, session_id: str, user_id: str | None) -> Op:
        rows = yield from self._read(sql.SELECT_INFO, (session_id,))
        if not rows:
            return None
        info = session_row(rows[0]).info
        return info if check_owner(info, user_id) else None

    def _get_run_op(self, session_id: str, run_id: str, user_id: str | None) -> Op:
        rows = yield from self._read(sql.SELECT_RUN, (session_id, run_id))
        if not rows or (user_id is not None and rows[0][0] != user_id):
            return None
        return decode_run_row(session_id, rows[0][1], rows[0][2])


_NEWEST_RUNS = (
    "SELECT s.session_id, r.data FROM sessionary_sessions s JOIN LATERAL (SELECT data "
    "FROM sessionary_runs WHERE session_id = s.session_id ORDER BY seq DESC LIMIT 1) r "
    "ON true WHERE s.session_id > %s ORDER BY s.session_id LIMIT %s"
)
_FILL_BATCH = 1000


def _fill_last_run_at() -> Generator[Sql, Reply, None]:
    """Set ``last_run_at`` to each session's newest run's ``created_at`` (the migration
    to version 2), in batches of sessions in ID order; sessions without runs keep NULL.

    A newest run whose JSON cannot be read (a damaged row) leaves NULL too: the session
    then lists by its creation time, and reading it reports the damage as before.
    """
    after = ""
    while True:
        rows = (yield Sql(_NEWEST_RUNS, (after, _FILL_BATCH))).rows
        if not rows:
            return
        values = []
        for session_id, data in rows:
            created = _created_at(data)
            if created is not None:
                values.append((created, session_id))
        if values:
            yield Sql(
                "UPDATE sessionary_sessions SET last_run_at = %s WHERE session_id = %s",
                many=values,
            )
        after = rows[-1][0]


def _created_at(data: Any) -> float | None:
    try:
        value = json.loads(data)["created_at"]
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _version_of(reply: Reply) -> int:
    if not reply.rows or type(reply.rows[0][0]) is not int:
        return 0
    return int(reply.rows[0][0])


def _summary(info: SessionInfo, last_seq: int) -> tuple[Any, ...]:
    status = info.last_run_status.value if info.last_run_status is not None else None
    return (
        info.updated_at,
        info.version,
        info.run_count,
        last_seq,
        status,
        info.last_message_preview,
        info.input_tokens,
        info.output_tokens,
        dump_json(info.state, "state") if info.state else "{}",  # a run's state changes
        info.last_run_at,
        info.paused_runs,
        info.session_id,
    )
