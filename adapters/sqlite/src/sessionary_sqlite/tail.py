"""The tail of a SQLite session: replacing its last runs, reading its last messages.

Both work inside a transaction the store opened (``BEGIN IMMEDIATE`` for the replace,
a read snapshot for the messages), newest run first, and read no further back than
they need: the run rows carry their status and tokens, so a replaced run is decoded
only to know whether it held the inbox preview.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run, RunMetrics, RunStatus
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    OwnershipError,
    SessionNotFoundError,
)
from sessionary.storage.base import check_owner, preview_of
from sessionary.storage.tails import (
    check_session_version,
    messages_tail,
    preview_after_replace,
    summary_after_replace,
    too_few_runs,
)
from sessionary_sqlite.connection import retry_busy
from sessionary_sqlite.rows import (
    INSERT_RUN,
    decode_run_row,
    load_run_text,
    run_params,
    session_row,
)
from sessionary_sqlite.schema import LATEST

__all__ = ["TAIL_ROWS", "last_messages", "read_messages", "replace_runs", "stand_in"]

#: A session's tail in one statement, so in one snapshot and without ``BEGIN``: the
#: file's schema version, the session's key if it exists and ``?2`` (when not NULL) owns
#: it, then its run rows newest first (read only as far as the caller steps the cursor).
#: One row of NULLs after the version for a missing (or another user's) session.
TAIL_ROWS = (
    "SELECT v.version, s.session_key, r.run_id, r.data FROM sessionary_schema v "
    "LEFT JOIN sessions s ON s.session_id = ?1 AND (?2 IS NULL OR s.user_id = ?2) "
    "LEFT JOIN runs r ON r.session_key = s.session_key "
    "WHERE v.id = 1 ORDER BY r.seq DESC"
)


def replace_runs(
    conn: sqlite3.Connection,
    found: tuple[str, tuple[Any, ...] | None, str | None],
    count: int,
    runs: tuple[Run, ...],
    encoded: list[str],
    expected_version: int | None,
) -> tuple[int, SessionInfo, int]:
    """Delete the last ``count`` run rows of a session and insert ``runs``.

    ``found`` is the session's ID, its row (``None``: missing) and the caller's user.

    The caller holds the write transaction and writes the summary returned, with the
    session's key and its new last seq. Raises (nothing written) for a session that is
    not ``user_id``'s, runs of another owner, a stale ``expected_version``.
    """
    session_id, row, user_id = found
    current = None if row is None else session_row(row)
    if current is None or not check_owner(current.info, user_id):
        raise SessionNotFoundError(session_id, user_id)
    info, key = current.info, current.key
    if any(run.user_id != info.user_id for run in runs):
        raise OwnershipError(session_id, user_id)
    check_session_version(info, session_id, expected_version, done="replaced")
    doomed = conn.execute(
        "SELECT seq, run_id, status, input_tokens, output_tokens, data FROM runs "
        "WHERE session_key = ? ORDER BY seq DESC LIMIT ?",
        (key, count),
    ).fetchall()
    if len(doomed) < count:
        raise too_few_runs(session_id, len(doomed), count)
    cut = doomed[-1][0] if doomed else current.last_seq + 1  # the first seq removed
    removed = [stand_in(session_id, *row[1:5]) for row in doomed]
    decoded = [_decoded(session_id, seq, data) for seq, *_, data in doomed]
    conn.execute("DELETE FROM runs WHERE session_key = ? AND seq >= ?", (key, cut))
    try:
        conn.executemany(
            INSERT_RUN,
            [
                run_params(key, current.last_seq + i, run, data)
                for i, (run, data) in enumerate(zip(runs, encoded, strict=True), start=1)
            ],
        )
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"a run of {session_id!r} to replace with is a kept run") from exc
    newest = conn.execute(
        "SELECT seq, status FROM runs WHERE session_key = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
        (key, cut),
    ).fetchone()
    preview = preview_after_replace(info, decoded, runs, lambda: _previews(conn, key, cut))
    info = summary_after_replace(
        info,
        removed,
        runs,
        remaining=info.run_count - count,
        last_status=None if newest is None else RunStatus(newest[1]),
        preview=preview,
        now=time.time(),
    )
    last_seq = current.last_seq + len(runs) if runs else (0 if newest is None else newest[0])
    return key, info, last_seq


def last_messages(
    conn: sqlite3.Connection,
    row: tuple[Any, ...] | None,
    user_id: str | None,
    last_n: int | None,
    skip_corrupt: bool,
) -> list[Message]:
    """The last ``last_n`` messages of the session ``row`` (if ``user_id`` may see it),
    reading its run rows newest first until there are enough."""
    current = None if row is None else session_row(row)
    if current is None or not check_owner(current.info, user_id) or last_n == 0:
        return []
    session_id = current.info.session_id
    rows = conn.execute(
        "SELECT run_id, data FROM runs WHERE session_key = ? ORDER BY seq DESC", (current.key,)
    )
    return messages_tail(
        session_id, rows, lambda data: load_run_text(session_id, data), last_n, skip_corrupt
    )


def read_messages(
    conn: sqlite3.Connection,
    found: tuple[str, str | None],
    last_n: int | None,
    skip_corrupt: bool,
    timeout: float,
) -> list[Message] | None:
    """The last ``last_n`` messages of session ``found[0]`` if user ``found[1]`` may see
    it, by :data:`TAIL_ROWS` alone: one statement, so one snapshot with no ``BEGIN``.

    ``None`` when the file is not at this package's schema version (or has no schema
    table): the caller then reads the long way, which names what is wrong. Raises
    ``sqlite3.Error`` for the caller to translate. The statement is reset before this
    returns, so no read snapshot stays open.
    """
    session_id, user_id = found

    def first_row() -> tuple[sqlite3.Cursor, tuple[Any, ...] | None]:
        cursor = conn.execute(TAIL_ROWS, (session_id, user_id))
        try:
            return cursor, cursor.fetchone()  # SQLite takes the snapshot here
        except BaseException:
            cursor.close()
            raise

    try:
        cursor, first = retry_busy(first_row, timeout)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc).lower():
            return None
        raise
    try:
        if first is None or first[0] != LATEST:
            return None
        if first[1] is None or last_n == 0:
            return []  # no such session, or not the caller's
        rows = ((r[2], r[3]) for r in itertools.chain((first,), cursor) if r[2] is not None)
        return messages_tail(
            session_id, rows, lambda data: load_run_text(session_id, data), last_n, skip_corrupt
        )
    finally:
        cursor.close()


def stand_in(session_id: str, run_id: str, status: str, tokens_in: int, tokens_out: int) -> Run:
    """A removed run as its row's columns tell it: enough for the summary arithmetic
    (tokens, status: the paused count)."""
    return Run(
        run_id=run_id,
        session_id=session_id,
        status=RunStatus(status),
        metrics=RunMetrics(input_tokens=tokens_in, output_tokens=tokens_out),
    )


def _decoded(session_id: str, seq: int, data: Any) -> Run | None:
    try:
        return decode_run_row(session_id, seq, data)
    except CorruptRecordError:
        return None  # it may have held the preview: the kept runs are looked at


def _previews(conn: sqlite3.Connection, key: int, before: int) -> Iterator[str | None]:
    rows = conn.execute(
        "SELECT seq, data FROM runs WHERE session_key = ? AND seq < ? ORDER BY seq DESC",
        (key, before),
    )
    for seq, data in rows:
        run = _decoded("", seq, data)
        yield None if run is None else preview_of(run)
