"""The tail of a PostgreSQL session: reading runs (tolerantly), the last messages, and
replacing the last runs, written once for the sync and async stores.

A replace is one transaction holding the session's row lock, as every write is. A
message read takes the session row and its last ``last_n`` runs in one statement;
should those hold too few messages it reads older runs in batches, each with the
session's version in the same statement, and starts again if the version moved (so
the messages returned are of one version of the session).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import psycopg.errors

from sessionary.codec import CodecError, decode_runs_json
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run, RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.storage.base import check_owner, preview_of
from sessionary.storage.tails import (
    check_session_version,
    decode_each,
    messages_tail,
    preview_after_replace,
    summary_after_replace,
    too_few_runs,
)
from sessionary_postgres import sql
from sessionary_postgres.rows import (
    SESSION_WIDTH,
    SessionRow,
    decode_run_row,
    encode_run_text,
    run_params,
    session_row,
    storable,
)
from sessionary_postgres.sql import ROLLBACK, Reply, Sql

__all__ = ["TailOperations"]

Op = Generator[Sql, Reply, Any]
_BATCH = 64
_OLDER = (
    "SELECT s.version, r.seq, r.data FROM sessionary_runs r JOIN sessionary_sessions s "
    "ON s.session_id = r.session_id WHERE r.session_id = %s AND r.seq < %s "
    "ORDER BY r.seq DESC LIMIT %s"
)


def _load(session_id: str, data: Any) -> Any:
    try:
        return json.loads(data)
    except (ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"a run cannot be decoded: {exc}") from exc


def _decoded(session_id: str, seq: int, data: Any) -> Run | None:
    try:
        return decode_run_row(session_id, seq, data)
    except CorruptRecordError:
        return None  # it may have held the preview: the kept runs are looked at


class TailOperations:
    """The tail operations of :class:`~sessionary_postgres.operations.PostgresOperations`."""

    if TYPE_CHECKING:

        def _lock_session(self, session_id: str) -> Generator[Sql, Reply, SessionRow | None]: ...

        def _read(
            self, query: str, params: tuple[Any, ...], order: str | None = None
        ) -> Generator[Sql, Reply, list[tuple[Any, ...]]]: ...

        def _summary_sql(self, info: SessionInfo, last_seq: int) -> Sql: ...

    def _session_and_runs(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        before_run: str | None = None,
    ) -> Generator[Sql, Reply, tuple[SessionInfo, list[tuple[int, Any]]] | None]:
        """The session (if ``user_id`` may see it) and its last runs as ``(seq, data)``;
        with ``before_run``, the last of the runs stored before it (one statement)."""
        if before_run is None:
            rows = yield from self._read(sql.SELECT_SESSION, (session_id, session_id, last_n_runs))
        else:
            rows = yield from self._read(
                sql.SELECT_SESSION_BEFORE,
                (
                    session_id,
                    before_run,
                    session_id,
                    session_id,
                    session_id,
                    before_run,
                    last_n_runs,
                ),
            )
        heads = [row for row in rows if row[0] is not None]
        if not heads:
            return None
        info = session_row(heads[0][:SESSION_WIDTH]).info
        if not check_owner(info, user_id):
            return None
        if before_run is not None and heads[0][SESSION_WIDTH] is None:
            raise RunNotFoundError(session_id, before_run)
        runs = sorted(
            (row[SESSION_WIDTH], row[SESSION_WIDTH + 1]) for row in rows if row[0] is None
        )
        return info, runs

    def _get_session_op(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Op:
        found = yield from self._session_and_runs(session_id, user_id, last_n_runs, before_run)
        if found is None:
            return None
        info, rows = found
        if not skip_corrupt:
            try:
                return Session.from_info(info, decode_runs_json([data for _, data in rows]))
            except CodecError:
                pass  # one by one, to say which run is corrupt
        runs, skipped = decode_each(
            session_id,
            ((f"#{seq}", (seq, data)) for seq, data in rows),
            lambda row: decode_run_row(session_id, *row),
            skip_corrupt,
        )
        return Session.from_info(info, runs, skipped)

    def _messages_op(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> Op:
        if last_n == 0:
            return []
        load = partial(_load, session_id)

        def tail(newest: list[tuple[int, Any]]) -> list[Message]:
            labelled = ((f"#{seq}", data) for seq, data in newest)
            return messages_tail(session_id, labelled, load, last_n, skip_corrupt)

        while True:  # again if the session changed between two reads
            found = yield from self._session_and_runs(session_id, user_id, last_n)
            if found is None:
                return []
            info, rows = found
            newest = rows[::-1]
            messages = tail(newest)
            more = last_n is not None and len(rows) == last_n
            moved = False
            while more and last_n is not None and len(messages) < last_n:
                older = yield from self._read(_OLDER, (session_id, newest[-1][0], _BATCH))
                moved = any(row[0] != info.version for row in older)
                if moved:
                    break
                newest += [(seq, data) for _, seq, data in older]
                more = len(older) == _BATCH
                messages = tail(newest)
            if not moved:
                return messages

    def _replace_op(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> Op:
        encoded = [encode_run_text(run) for run in runs]
        current = yield from self._lock_session(session_id)
        if current is None or not check_owner(current.info, user_id):
            raise SessionNotFoundError(session_id, user_id)
        info = current.info
        if any(run.user_id != info.user_id for run in runs):
            raise OwnershipError(session_id, user_id)
        check_session_version(info, session_id, expected_version, done="replaced")
        doomed = (
            yield Sql(
                "SELECT seq, run_id, status, input_tokens, output_tokens, data "
                "FROM sessionary_runs WHERE session_id = %s ORDER BY seq DESC LIMIT %s",
                (session_id, count),
            )
        ).rows
        if len(doomed) < count:
            raise too_few_runs(session_id, len(doomed), count)
        if not doomed and not runs:
            yield ROLLBACK
            return info
        cut = doomed[-1][0] if doomed else current.last_seq + 1  # the first seq removed
        removed = [
            Run(
                run_id=run_id,
                session_id=session_id,
                status=RunStatus(status),
                metrics=RunMetrics(input_tokens=tokens_in, output_tokens=tokens_out),
            )
            for _, run_id, status, tokens_in, tokens_out, _ in doomed
        ]
        decoded = [_decoded(session_id, seq, data) for seq, *_, data in doomed]
        yield Sql(
            "DELETE FROM sessionary_runs WHERE session_id = %s AND seq >= %s", (session_id, cut)
        )
        params = [
            run_params(run, current.last_seq + i, data)
            for i, (run, data) in enumerate(zip(runs, encoded, strict=True), start=1)
        ]
        if params:
            try:
                yield Sql(sql.INSERT_RUN, many=params)
            except psycopg.errors.UniqueViolation as exc:
                raise ConflictError(
                    f"a run of {session_id!r} to replace with is a kept run"
                ) from exc
        kept: list[str | None] = []
        newest_seq, status = 0, None
        # The preview must come from a kept run if no new run has one and a removed run
        # may have had it: then read back (in batches) until a kept run has one.
        need = not any(preview_of(r) for r in runs) and not all(
            run is not None and preview_of(run) is None for run in decoded
        )
        before = cut
        while True:
            batch = (
                yield Sql(
                    "SELECT seq, status, data FROM sessionary_runs WHERE session_id = %s "
                    "AND seq < %s ORDER BY seq DESC LIMIT %s",
                    (session_id, before, 1 if not need else _BATCH),
                )
            ).rows
            for seq, run_status, data in batch:
                if not newest_seq:
                    newest_seq, status = seq, RunStatus(run_status)
                run = _decoded(session_id, seq, data) if need else None
                kept.append(None if run is None else preview_of(run))
                if need and kept[-1] is not None:
                    need = False
            if not need or not batch or len(batch) < _BATCH:
                break
            before = batch[-1][0]
        new = summary_after_replace(
            info,
            removed,
            runs,
            remaining=info.run_count - count,
            last_status=status,
            preview=preview_after_replace(info, decoded, runs, partial(iter, kept)),
            now=time.time(),
        )
        new = storable(new)
        last_seq = current.last_seq + len(runs) if runs else newest_seq
        yield self._summary_sql(new, last_seq)
        return new
