"""``SqliteDb``: sessions in one SQLite file, runs appended one row each.

Appending a run is one short ``BEGIN IMMEDIATE`` transaction that reads the session
row, inserts the run row with the next per-session sequence number and updates the
summary; earlier runs are never read or rewritten. The write lock is taken at
``BEGIN``, so writers in other processes queue on SQLite's busy timeout instead of
failing, and the sequence, the run count and the token totals never race.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from sessionary.codec import CodecError, decode_runs_json
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.plugins.lazy import lazy
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import (
    Capability,
    ListFilters,
    Store,
    check_owner,
    check_run_version,
    new_session_info,
    session_after_update,
    summary_after_append,
    summary_after_trim,
    summary_after_update,
)
from sessionary.storage.tails import check_session_version, decode_each
from sessionary_sqlite import inbox, tail
from sessionary_sqlite.connection import parse_url, retry_busy, translate
from sessionary_sqlite.database import SqliteDatabase
from sessionary_sqlite.rows import INSERT_RUN as _INSERT_RUN
from sessionary_sqlite.rows import (
    SESSION_COLUMNS,
    STATE_COLUMN,
    decode_run_row,
    dump_json,
    encode_run_text,
    info_params,
    session_row,
)
from sessionary_sqlite.rows import run_params as _run_params

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore

__all__ = ["SqliteDb"]

#: The async twin, named by its path and imported on the first ``to_async()``: it
#: imports this module, so this module does not import it (no circle).
_ASYNC_TWIN = lazy("sessionary_sqlite.aio:AsyncSqliteStore", name="sqlite")

_SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?"
#: The schema version and the session row (all NULL if there is none) in one statement.
_SELECT_VERSION_AND_SESSION = (
    "SELECT v.version, "
    + ", ".join(f"s.{column.strip()}" for column in SESSION_COLUMNS.split(","))
    + " FROM sessionary_schema v LEFT JOIN sessions s ON s.session_id = ? WHERE v.id = 1"
)
_INSERT_SESSION = (
    "INSERT INTO sessions (session_id, session_type, user_id, agent_id, team_id, name, "
    "name_source, state, metadata, created_at, updated_at, version, run_count, "
    "last_run_status, last_message_preview, input_tokens, output_tokens, last_run_at, "
    "paused_runs, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_SUMMARY = (
    "UPDATE sessions SET updated_at = ?, version = ?, run_count = ?, last_seq = ?, "
    "last_run_status = ?, last_message_preview = ?, input_tokens = ?, output_tokens = ?, "
    "state = ?, last_run_at = ?, paused_runs = ? WHERE session_key = ?"
)


class SqliteDb(SqliteDatabase, Store):
    """Sessions in a SQLite file: the embedded default store.

    Give exactly one of ``db_file`` (a path; its parent folders are created) or
    ``db_url`` (``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``sqlite:///:memory:``). ``synchronous`` is the durability of a commit:
    ``"full"`` (the default: a run reported stored survives a power cut) or
    ``"normal"`` (about four times cheaper per commit; survives a crash of the
    process, but a power cut can lose the last commits). ``timeout`` is how many
    seconds a write waits for another process's write.

    The file is opened on first use; ``__init__`` does no I/O.

    >>> db = SqliteDb(db_url="sqlite:///:memory:")
    >>> db.get_session("nope") is None
    True
    """

    name: ClassVar[str] = "sqlite"
    url_schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS}
    )

    @classmethod
    def from_url(cls, url: str) -> SqliteDb:
        """Open the database a ``sqlite://`` URL names (the file is opened now)."""
        store = cls(db_url=url)
        store.ping()
        return store

    @classmethod
    def exists_at(cls, url: str) -> bool | None:
        """Whether the URL's file exists (an in-memory database always does)."""
        location = parse_url(url)
        return location.is_memory or os.path.exists(location.path)

    def to_async(self) -> AsyncStore:
        """An :class:`~sessionary_sqlite.aio.AsyncSqliteStore` on the same file.

        Its queries run on threads of its own (a writer, and readers for a file), with
        connections of its own; closing it leaves this store open. For ``:memory:`` it
        uses this store's connection, the only one that holds that database.
        """
        twin: Any = _ASYNC_TWIN.load()
        store: AsyncStore = twin.sharing(self)
        return store

    # ------------------------------------------------------------------ writes

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        data = encode_run_text(run)
        session_id = run.session_id
        with self._writing(session_id, version_read=True) as conn:
            now = time.time()
            found: tuple[Any, ...] | None = conn.execute(
                _SELECT_VERSION_AND_SESSION, (session_id,)
            ).fetchone()
            self._check_version(None if found is None else found[0])
            row = None if found is None or found[1] is None else found[1:]
            if row is None:
                check_session_version(None, session_id, expected_version, done="appended")
                info = summary_after_append(new_session_info(run, session_type, now), run, now)
                info = _storable(info)
                key = conn.execute(_INSERT_SESSION, (*info_params(info), 1)).lastrowid
                seq = 1
            else:
                current = session_row(row)
                if current.info.user_id != run.user_id:
                    raise OwnershipError(session_id, run.user_id)
                check_session_version(current.info, session_id, expected_version, done="appended")
                info = _storable(summary_after_append(current.info, run, now))
                key, seq = current.key, current.last_seq + 1
                # A run without state changes leaves the state text as it is stored.
                state = None if run.state_changes else row[STATE_COLUMN]
                conn.execute(
                    _UPDATE_SUMMARY, (*_summary_params(info), seq, *_last(info, state), key)
                )
            try:
                conn.execute(_INSERT_RUN, _run_params(key, seq, run, data))
            except sqlite3.IntegrityError as exc:
                raise ConflictError(
                    f"run {run.run_id!r} already exists in session {session_id!r}"
                ) from exc
        return info

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        new = attrs.evolve(run, version=expected_version + 1)
        data = encode_run_text(new)
        session_id = run.session_id
        with self._writing(session_id) as conn:
            row = conn.execute(_SELECT_SESSION, (session_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(session_id, run.run_id)
            current = session_row(row)
            found = conn.execute(
                "SELECT run_key, seq, data FROM runs WHERE session_key = ? AND run_id = ?",
                (current.key, run.run_id),
            ).fetchone()
            if found is None:
                raise RunNotFoundError(session_id, run.run_id)
            if current.info.user_id != run.user_id:
                raise OwnershipError(session_id, run.user_id)
            run_key, seq, old_data = found
            old = decode_run_row(session_id, seq, old_data)
            check_run_version(old, expected_version)
            is_last = seq == current.last_seq
            info = _storable(summary_after_update(current.info, old, new, is_last, time.time()))
            conn.execute(
                "UPDATE runs SET status = ?, version = ?, data = ?, input_tokens = ?, "
                "output_tokens = ? WHERE run_key = ?",
                (
                    new.status.value,
                    new.version,
                    data,
                    new.metrics.input_tokens,
                    new.metrics.output_tokens,
                    run_key,
                ),
            )
            conn.execute(
                _UPDATE_SUMMARY,
                (*_summary_params(info), current.last_seq, *_last(info), current.key),
            )
        return info

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        for key in ("name", "name_source"):
            if isinstance(changes.get(key), str) and _unstorable(changes[key]):
                raise InvalidInputError(f"{key} is not valid Unicode text (a lone surrogate)")
        state = dump_json(changes["state"], "state") if "state" in changes else None
        metadata = dump_json(changes["metadata"], "metadata") if "metadata" in changes else None
        with self._writing(session_id) as conn:
            row = conn.execute(_SELECT_SESSION, (session_id,)).fetchone()
            current = None if row is None else session_row(row)
            info = session_after_update(
                None if current is None else current.info,
                session_id,
                user_id,
                expected_version,
                changes,
            )
            assert current is not None
            conn.execute(
                "UPDATE sessions SET name = ?, name_source = ?, "
                "state = coalesce(?, state), metadata = coalesce(?, metadata), "
                "updated_at = ?, version = ? WHERE session_key = ?",
                (
                    info.name,
                    info.name_source,
                    state,
                    metadata,
                    info.updated_at,
                    info.version,
                    current.key,
                ),
            )
        return info

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        seen: set[str] = set()
        for run in session.runs:
            if run.run_id in seen:
                raise InvalidInputError(
                    f"session {session.session_id!r} holds run {run.run_id!r} twice"
                )
            seen.add(run.run_id)
        encoded = [encode_run_text(run) for run in session.runs]
        info = session.info
        params = (*info_params(info), len(encoded))
        with self._writing(session.session_id) as conn:
            exists = conn.execute(
                "SELECT session_key FROM sessions WHERE session_id = ?", (session.session_id,)
            ).fetchone()
            if exists is not None:
                if not replace:
                    raise ConflictError(f"session {session.session_id!r} already exists")
                conn.execute("DELETE FROM sessions WHERE session_key = ?", (exists[0],))
            key = conn.execute(_INSERT_SESSION, params).lastrowid
            conn.executemany(
                _INSERT_RUN,
                [
                    _run_params(key, seq, run, data)
                    for seq, (run, data) in enumerate(
                        zip(session.runs, encoded, strict=True), start=1
                    )
                ],
            )
        return info

    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        where, params = "session_id = ?", [session_id]
        if user_id is not None:
            where, params = where + " AND user_id = ?", [*params, user_id]
        with self._writing(session_id) as conn:
            if expected_version is None:
                return conn.execute(f"DELETE FROM sessions WHERE {where}", params).rowcount > 0
            # One write transaction: the version read and the conditional delete agree.
            row = conn.execute(f"SELECT version FROM sessions WHERE {where}", params).fetchone()
            if row is None:
                return False
            if row[0] != expected_version:
                raise stale_delete(session_id, row[0], expected_version)
            conn.execute(f"DELETE FROM sessions WHERE {where} AND version = ?", [*params, row[0]])
            return True

    def _erase_user(self, user_id: str) -> int:
        with self._writing(None) as conn:
            return conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        with self._writing(session_id) as conn:
            row = conn.execute(_SELECT_SESSION, (session_id,)).fetchone()
            current = None if row is None else session_row(row)
            if current is None or not check_owner(current.info, user_id):
                raise SessionNotFoundError(session_id, user_id)
            stored = current.info.version
            if expected_version is not None and stored != expected_version:
                raise stale_delete(session_id, stored, expected_version, done="trimmed")
            doomed = conn.execute(
                "SELECT run_id, status, input_tokens, output_tokens FROM runs "
                "WHERE session_key = ? ORDER BY seq DESC LIMIT -1 OFFSET ?",
                (current.key, keep_last),
            ).fetchall()
            if not doomed:
                return 0
            # The columns stand in for the runs: no need to decode what is deleted.
            removed = [tail.stand_in(session_id, *row) for row in doomed]
            conn.execute(
                "DELETE FROM runs WHERE session_key = ? AND seq <= "
                "(SELECT seq FROM runs WHERE session_key = ? ORDER BY seq DESC "
                "LIMIT 1 OFFSET ?)",
                (current.key, current.key, keep_last),
            )
            info = summary_after_trim(current.info, removed, keep_last, time.time())
            conn.execute(
                _UPDATE_SUMMARY,
                (*_summary_params(info), current.last_seq, *_last(info), current.key),
            )
        return len(removed)

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        encoded = [encode_run_text(run) for run in runs]
        with self._writing(session_id) as conn:
            row = conn.execute(_SELECT_SESSION, (session_id,)).fetchone()
            found = (session_id, row, user_id)
            key, info, seq = tail.replace_runs(conn, found, count, runs, encoded, expected_version)
            info = _storable(info)
            conn.execute(_UPDATE_SUMMARY, (*_summary_params(info), seq, *_last(info), key))
        return info

    # ------------------------------------------------------------------ reads

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        with self._lock:
            conn = self._checked_for(session_id)
            try:
                found = (session_id, user_id)
                fast = tail.read_messages(conn, found, last_n, skip_corrupt, self.location.timeout)
            except sqlite3.Error as exc:
                raise translate(exc, self.location, session_id) from exc
            if fast is not None:
                return fast
            # Another schema version, or none: the long way says what is wrong.
            with self._reading(session_id) as reading:
                row = reading.execute(_SELECT_SESSION, (session_id,)).fetchone()
                return tail.last_messages(reading, row, user_id, last_n, skip_corrupt)

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        return self._read(session_id, user_id, last_n_runs, skip_corrupt, before_run, skip_corrupt)

    def _read(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool,
        before_run: str | None,
        labelled: bool,
    ) -> Session | None:
        # A strict read decodes the run texts alone, as bytes, in one pass; a tolerant one
        # (or one that must name a corrupt run) reads each run's sequence and ID too.
        columns = "seq, data, run_id" if labelled else "CAST(data AS BLOB)"
        with self._reading(session_id) as conn:
            row = conn.execute(_SELECT_SESSION, (session_id,)).fetchone()
            if row is None:
                return None
            current = session_row(row)
            if not check_owner(current.info, user_id):
                return None
            rows = inbox.run_rows(conn, current, last_n_runs, before_run, user_id, columns)
        if not labelled:
            try:
                return Session.from_info(current.info, decode_runs_json([t for (t,) in rows]))
            except CodecError:  # read again, to say which run is corrupt
                return self._read(session_id, user_id, last_n_runs, False, before_run, True)
        runs, skipped = decode_each(
            session_id,
            ((run_id, (seq, data)) for seq, data, run_id in rows),
            lambda row: decode_run_row(session_id, *row),
            skip_corrupt,
        )
        return Session.from_info(current.info, runs, skipped)

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        with self._lock:
            conn = self._checked_for(session_id)
            try:
                row = retry_busy(
                    lambda: conn.execute(_SELECT_SESSION, (session_id,)).fetchone(),
                    self.location.timeout,
                )
            except sqlite3.Error as exc:
                raise translate(exc, self.location, session_id) from exc
        if row is None:
            return None
        info = session_row(row).info
        return info if check_owner(info, user_id) else None

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        with self._lock:
            conn = self._checked_for(session_id)
            try:
                row = retry_busy(
                    lambda: conn.execute(
                        "SELECT s.user_id, r.seq, r.data FROM sessions s "
                        "JOIN runs r ON r.session_key = s.session_key "
                        "WHERE s.session_id = ? AND r.run_id = ?",
                        (session_id, run_id),
                    ).fetchone(),
                    self.location.timeout,
                )
            except sqlite3.Error as exc:
                raise translate(exc, self.location, session_id) from exc
        if row is None or (user_id is not None and row[0] != user_id):
            return None
        return decode_run_row(session_id, row[1], row[2])

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        with self._reading(None) as conn:
            return inbox.list_page(conn, filters, limit, after)

    def _count_sessions(self, filters: ListFilters) -> int:
        with self._reading(None) as conn:
            return inbox.count(conn, filters)


def _summary_params(info: SessionInfo) -> tuple[Any, ...]:
    return (info.updated_at, info.version, info.run_count)


def _last(info: SessionInfo, state: str | None = None) -> tuple[Any, ...]:
    """The summary's last-run columns; ``state`` is the state's JSON when it is known."""
    status = info.last_run_status.value if info.last_run_status is not None else None
    if state is None:
        state = dump_json(info.state, "state")  # with the state changes of the run
    tokens = (info.input_tokens, info.output_tokens)
    return (status, info.last_message_preview, *tokens, state, info.last_run_at, info.paused_runs)


def _unstorable(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _storable(info: SessionInfo) -> SessionInfo:
    """The summary with a preview SQLite can store: lone surrogates become U+FFFD."""
    preview = info.last_message_preview
    if preview is None or not _unstorable(preview):
        return info
    clean = preview.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return attrs.evolve(info, last_message_preview=clean)
