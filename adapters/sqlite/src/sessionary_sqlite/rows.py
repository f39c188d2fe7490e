"""Rows to domain objects and back: session rows, run rows, and the errors of bad ones.

A session row keeps its summary in columns (so SQL can filter and order by them) and
its ``state`` and ``metadata`` as JSON text; a run row keeps the whole run as the core
codec's JSON, plus the few fields the store needs without decoding it. Decoding goes
through :mod:`sessionary.codec`, so a damaged row fails exactly as it would in any other
store: with a :class:`~sessionary.errors.CorruptRecordError` naming the session.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from sessionary.codec import CodecError, decode_run_json, decode_session_columns, encode_run
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import CorruptRecordError, InvalidInputError

__all__ = [
    "INSERT_RUN",
    "SESSION_COLUMNS",
    "STATE_COLUMN",
    "SessionRow",
    "decode_run_row",
    "dump_json",
    "encode_run_text",
    "info_params",
    "load_run_text",
    "run_params",
    "session_row",
]

_encode = msgspec.json.Encoder().encode

#: The columns of a session row, in the order :func:`session_row` reads them.
SESSION_COLUMNS = (
    "session_key, session_id, session_type, user_id, agent_id, team_id, name, name_source, "
    "state, metadata, created_at, updated_at, version, run_count, last_run_status, "
    "last_message_preview, input_tokens, output_tokens, last_run_at, paused_runs, last_seq"
)
#: Where the state's JSON text is in a row of :data:`SESSION_COLUMNS`.
STATE_COLUMN = 8


#: Inserts one run row; its values are :func:`run_params`.
INSERT_RUN = (
    "INSERT INTO runs (session_key, seq, run_id, status, version, data, input_tokens, "
    "output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def run_params(key: int | None, seq: int, run: Run, data: str) -> tuple[Any, ...]:
    """The values of :data:`INSERT_RUN` for ``run``, stored as ``data`` at ``seq``."""
    tokens = (run.metrics.input_tokens, run.metrics.output_tokens)
    return (key, seq, run.run_id, run.status.value, run.version, data, *tokens)


class SessionRow:
    """A decoded session row: the summary, the row's key and the last run's sequence."""

    __slots__ = ("info", "key", "last_seq")

    def __init__(self, info: SessionInfo, key: int, last_seq: int) -> None:
        self.info = info
        self.key = key
        self.last_seq = last_seq


def dump_json(value: Any, what: str) -> str:
    """JSON text for a value, or an :class:`InvalidInputError` naming ``what``.

    Text that cannot be stored as UTF-8 (a lone surrogate) is written with ASCII
    escapes instead, so it still comes back exactly.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text


def encode_run_text(run: Run) -> str:
    """The run as the codec's JSON text.

    For a run the store's checks passed (:func:`~sessionary.storage.checks.check_run`:
    finite numbers, string keys, valid text, JSON values only), msgspec writes the
    same JSON as :func:`dump_json`, ten times faster; anything it refuses (an integer
    beyond 64 bits, say) goes the standard way, with its errors.
    """
    encoded = encode_run(run)
    try:
        return _encode(encoded).decode()
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return dump_json(encoded, f"run {run.run_id!r}")


def session_row(row: tuple[Any, ...]) -> SessionRow:
    """Decode a row selected with :data:`SESSION_COLUMNS`."""
    session_id = row[1]
    try:
        info = decode_session_columns(row[1:20])
        key, last_seq = row[0], row[20]
        if type(last_seq) is not int:
            raise CodecError(f"column 'last_seq' must be an integer, got {last_seq!r}")
    except CodecError as exc:
        raise CorruptRecordError(str(session_id), f"session row: {exc}") from exc
    return SessionRow(info, key, last_seq)


def info_params(info: SessionInfo) -> tuple[Any, ...]:
    """The values of a session's columns, in the order of ``INSERT INTO sessions``."""
    return (
        info.session_id,
        info.session_type.value,
        info.user_id,
        info.agent_id,
        info.team_id,
        info.name,
        info.name_source,
        dump_json(info.state, "state") if info.state else "{}",
        dump_json(info.metadata, "metadata") if info.metadata else "{}",
        info.created_at,
        info.updated_at,
        info.version,
        info.run_count,
        info.last_run_status.value if info.last_run_status is not None else None,
        info.last_message_preview,
        info.input_tokens,
        info.output_tokens,
        info.last_run_at,
        info.paused_runs,
    )


def load_run_text(session_id: str, data: Any) -> Any:
    """A run row's JSON value, undecoded, or :class:`CorruptRecordError` naming the session."""
    try:
        if not isinstance(data, (str, bytes)):
            raise CodecError(f"holds {type(data).__name__}, not JSON text")
        return json.loads(data)
    except ValueError as exc:
        raise CorruptRecordError(session_id, f"run: {exc}") from exc


def decode_run_row(session_id: str, seq: Any, data: Any) -> Run:
    """Decode a run's JSON, or raise :class:`CorruptRecordError` naming the session."""
    try:
        if not isinstance(data, (str, bytes)):
            raise CodecError(f"holds {type(data).__name__}, not JSON text")
        return decode_run_json(data)
    except (CodecError, ValueError) as exc:
        raise CorruptRecordError(session_id, f"run #{seq}: {exc}") from exc
