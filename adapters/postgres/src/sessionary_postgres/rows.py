"""Rows to domain objects and back: session rows, run rows, and the errors of bad ones.

A session row keeps its summary in columns (so SQL can filter and order by them) and
its ``state`` and ``metadata`` as JSON text; a run row keeps the whole run as the core
codec's JSON text, plus the few fields the store needs without decoding it. Decoding
goes through :mod:`sessionary.codec`, so a damaged row fails as in any other store:
with a :class:`~sessionary.errors.CorruptRecordError` naming the session.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from sessionary.codec import CodecError, decode_run_json, decode_session_columns, encode_run
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import CorruptRecordError, InvalidInputError

__all__ = [
    "SESSION_COLUMNS",
    "SessionRow",
    "check_text",
    "decode_run_row",
    "dump_json",
    "encode_run_text",
    "run_params",
    "session_params",
    "session_row",
    "storable",
]

#: The columns of a session row, in the order :func:`session_row` reads them.
SESSION_COLUMNS = (
    "session_id, session_type, user_id, agent_id, team_id, name, name_source, state, "
    "metadata, created_at, updated_at, version, run_count, last_run_status, "
    "last_message_preview, input_tokens, output_tokens, last_run_at, paused_runs, last_seq"
)
#: How many columns :data:`SESSION_COLUMNS` names.
SESSION_WIDTH = 20


@attrs.frozen
class SessionRow:
    """A decoded session row: the summary and the sequence of its last run."""

    info: SessionInfo
    last_seq: int


def dump_json(value: Any, what: str) -> str:
    """JSON text for a value, or an :class:`InvalidInputError` naming ``what``.

    Text that cannot be stored as UTF-8 (a lone surrogate) is written with ASCII
    escapes instead, so it still comes back exactly.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    if not text.isascii() and not _encodable(text):
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text


def encode_run_text(run: Run) -> str:
    """The run as the codec's JSON text."""
    return dump_json(encode_run(run), f"run {run.run_id!r}")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: object, what: str) -> None:
    """Refuse text PostgreSQL cannot store in a ``text`` column (NUL, a lone surrogate)."""
    if not isinstance(value, str):
        return
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character, which PostgreSQL cannot store")
    if not value.isascii() and not _encodable(value):
        raise InvalidInputError(f"{what} is not valid Unicode text (a lone surrogate)")


def storable(info: SessionInfo) -> SessionInfo:
    """The summary with a preview PostgreSQL can store: NUL and lone surrogates become U+FFFD."""
    preview = info.last_message_preview
    if preview is None or ("\x00" not in preview and (preview.isascii() or _encodable(preview))):
        return info
    clean = preview.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return attrs.evolve(info, last_message_preview=clean.replace("\x00", "\ufffd"))


def session_row(row: tuple[Any, ...] | list[Any]) -> SessionRow:
    """Decode a row selected with :data:`SESSION_COLUMNS`."""
    session_id = row[0]
    try:
        info = decode_session_columns(row[:19])
        last_seq = row[19]
        if type(last_seq) is not int:
            raise CodecError(f"column 'last_seq' must be an integer, got {last_seq!r}")
    except CodecError as exc:
        raise CorruptRecordError(str(session_id), f"session row: {exc}") from exc
    return SessionRow(info, last_seq)


def session_params(info: SessionInfo, last_seq: int) -> tuple[Any, ...]:
    """The values of ``INSERT INTO sessionary_sessions`` (see ``operations``), in order."""
    return (
        info.session_id,
        info.session_type.value,
        info.user_id,
        info.agent_id,
        info.team_id,
        info.name,
        None if info.name is None else info.name.casefold(),
        info.name_source,
        dump_json(info.state, "state") if info.state else "{}",
        dump_json(info.metadata, "metadata") if info.metadata else "{}",
        info.created_at,
        info.updated_at,
        info.version,
        info.run_count,
        last_seq,
        info.last_run_status.value if info.last_run_status is not None else None,
        info.last_message_preview,
        info.input_tokens,
        info.output_tokens,
        info.last_run_at,
        info.paused_runs,
    )


def run_params(run: Run, seq: int, data: str) -> tuple[Any, ...]:
    """The values of ``INSERT INTO sessionary_runs``, in order."""
    return (
        run.session_id,
        seq,
        run.run_id,
        run.status.value,
        run.version,
        data,
        run.metrics.input_tokens,
        run.metrics.output_tokens,
    )


def decode_run_row(session_id: str, seq: Any, data: Any) -> Run:
    """Decode a run's JSON, or raise :class:`CorruptRecordError` naming the session."""
    try:
        if not isinstance(data, str):
            raise CodecError(f"holds {type(data).__name__}, not JSON text")
        return decode_run_json(data)
    except (CodecError, ValueError) as exc:
        raise CorruptRecordError(session_id, f"run #{seq}: {exc}") from exc
