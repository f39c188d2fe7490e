"""How sessions and runs are laid out as MongoDB documents, and read back.

A session is one document in ``sessions`` (``_id`` is the session ID); each run is one
document in ``runs``. Everything a caller controls that could look like query syntax
is stored as data MongoDB never interprets:

- IDs are only ever compared by equality with a ``str`` (the core rejects anything
  else before any I/O), so ``"$gt"`` or ``"a.b"`` are plain values.
- ``state`` and ``metadata`` of a session and the whole run record are stored as JSON
  text produced by the core codec, so keys beginning with ``$`` or containing ``.``
  round-trip exactly and are never field paths or operators.

The fields kept native are the ones the store queries, sorts or updates atomically
(owner IDs, ``updated_at``, counters, the run sequence, the run version).
"""

from __future__ import annotations

import json
from typing import Any, Final

import bson
import bson.errors

from sessionary.codec import (
    CodecError,
    decode_run,
    decode_session_info,
    dump_json,
)
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SessionInfo
from sessionary.domain.state import StateChanges
from sessionary.errors import CorruptRecordError, InvalidInputError, SchemaVersionError

__all__ = [
    "CURRENT",
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "SCHEMA_VERSION",
    "DocumentTooLargeError",
    "activity",
    "check_run_size",
    "check_session_size",
    "fold_name",
    "info_from_doc",
    "refuse_newer",
    "run_doc",
    "run_from_doc",
    "session_doc",
    "state_of",
    "stored_changes",
]

#: The schema this code writes: in ``sessionary_meta`` and stamped on each session
#: document. Version 2 (issue 19) added ``last_run_at``, ``paused_runs`` and
#: ``active_at`` to sessions and ``paused`` to runs; ``migrate`` fills them.
SCHEMA_VERSION: Final = 2

#: MongoDB's largest BSON document, 16 MiB.
DEFAULT_MAX_DOCUMENT_BYTES: Final = 16 * 1024 * 1024
#: The largest sequence number, so the size check sees the widest encoding.
_WIDEST_SEQ: Final = 2**62

# Fields of SessionInfo stored natively under the same name.
_NATIVE_INFO_FIELDS: Final = (
    "session_type",
    "user_id",
    "agent_id",
    "team_id",
    "name",
    "name_source",
    "created_at",
    "updated_at",
    "version",
    "run_count",
    "last_run_status",
    "last_message_preview",
    "input_tokens",
    "output_tokens",
    "last_run_at",
    "paused_runs",
)


class DocumentTooLargeError(InvalidInputError):
    """A run (or session) would exceed MongoDB's document size limit; nothing was written."""

    def __init__(
        self, session_id: str, run_id: str | None, size: int, limit: int, what: str = "run"
    ) -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.size = size
        self.limit = limit
        subject = (
            f"run {run_id!r} of session {session_id!r}" if run_id else f"session {session_id!r}"
        )
        super().__init__(
            f"{what} document for {subject} is {size:,} bytes, over MongoDB's limit of "
            f"{limit:,} bytes; it was refused and nothing was written"
        )


def run_doc(run: Run, text: str, session_key: str, seq: int) -> dict[str, Any]:
    """The ``runs`` document of a run whose codec JSON is ``text``."""
    return {
        "session_key": session_key,
        "session_id": run.session_id,
        "seq": seq,
        "run_id": run.run_id,
        "version": run.version,
        "input_tokens": run.metrics.input_tokens,
        "output_tokens": run.metrics.output_tokens,
        # Whether it counts in the session's paused_runs (a trim reads only this).
        "paused": run.status is RunStatus.PAUSED,
        "data": text,
    }


def check_run_size(run: Run, text: str, limit: int) -> int:
    """The BSON size of the run's document; refuses one over ``limit`` before any write.

    Also refuses, as InvalidInputError, what BSON cannot hold at all: integers wider
    than 8 bytes, and text with lone surrogates.
    """
    doc = {"_id": bson.ObjectId(), **run_doc(run, text, "0" * 32, _WIDEST_SEQ)}
    size = len(_encode(doc, f"run {run.run_id!r} of session {run.session_id!r}"))
    if size > limit:
        raise DocumentTooLargeError(run.session_id, run.run_id, size, limit)
    return size


#: The filter part every write to a ``sessions`` document carries: the document is not
#: stamped with a newer schema. The stamp is checked in the same atomic step as the
#: write (a document with no stamp predates stamping and is of this schema).
CURRENT: Final = {"schema": {"$not": {"$gt": SCHEMA_VERSION}}}


def refuse_newer(doc: dict[str, Any] | None) -> None:
    """Raise :class:`SchemaVersionError` if ``doc`` is stamped with a newer schema."""
    if doc is None:
        return
    stamp = doc.get("schema")
    if isinstance(stamp, int) and stamp > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"session {doc.get('_id')!r} was written by sessionary schema version {stamp}; "
            f"this sessionary writes version {SCHEMA_VERSION}: upgrade sessionary to use it"
        )


def session_doc(info: SessionInfo, session_key: str, seq: int) -> dict[str, Any]:
    """The whole ``sessions`` document of a session (for creation and import)."""
    doc: dict[str, Any] = {"_id": info.session_id, "key": session_key, "schema": SCHEMA_VERSION}
    for field in _NATIVE_INFO_FIELDS:
        doc[field] = getattr(info, field)
    if info.last_run_at is None:
        del doc["last_run_at"]  # absent, not null: ``$max`` then sets it on the first run
    doc["active_at"] = activity(info)
    doc["session_type"] = info.session_type.value
    doc["last_run_status"] = info.last_run_status.value if info.last_run_status else None
    doc["name_folded"] = fold_name(info.name)
    doc["state"] = dump_json(info.state)
    doc["metadata"] = dump_json(info.metadata)
    doc["seq"] = seq
    doc["last_seq"] = seq
    return doc


#: Room left for the session fields an update does not rewrite (IDs, summary, counters).
SESSION_FIELDS_ALLOWANCE: Final = 8 * 1024


def check_session_size(
    session_id: str, doc: dict[str, Any], limit: int, *, partial: bool = False
) -> None:
    """Refuse a session document over ``limit`` (huge state or metadata).

    With ``partial``, ``doc`` holds only the fields being changed, and the size counts
    :data:`SESSION_FIELDS_ALLOWANCE` for the rest.
    """
    size = len(_encode(doc, f"session {session_id!r}"))
    if partial:
        size += SESSION_FIELDS_ALLOWANCE
    if size > limit:
        raise DocumentTooLargeError(session_id, None, size, limit, what="session")


def _encode(doc: dict[str, Any], what: str) -> bytes:
    try:
        return bson.encode(doc)
    except (OverflowError, ValueError, bson.errors.InvalidDocument) as exc:
        raise InvalidInputError(f"{what} cannot be stored in MongoDB: {exc}") from exc


def activity(info: SessionInfo) -> float:
    """The listing key by activity (``active_at``): the last run's time, else creation."""
    return info.created_at if info.last_run_at is None else info.last_run_at


def fold_name(name: str | None) -> str | None:
    """The name as ``name_contains`` matches it: case-folded."""
    return None if name is None else name.casefold()


def info_from_doc(doc: dict[str, Any]) -> SessionInfo:
    """The SessionInfo a ``sessions`` document holds; a bad one is a CorruptRecordError."""
    session_id = doc.get("_id")
    if not isinstance(session_id, str):
        raise CorruptRecordError(repr(session_id), "session document has no string _id")
    refuse_newer(doc)
    data: dict[str, Any] = {"session_id": session_id}
    for field in _NATIVE_INFO_FIELDS:
        if field in doc:
            data[field] = doc[field]
    try:
        for field in ("state", "metadata"):
            text = doc.get(field, "{}")
            if not isinstance(text, str):
                raise CodecError(f"field {field!r} must be JSON text, got {type(text).__name__}")
            data[field] = json.loads(text)
        return decode_session_info(data)
    except (CodecError, ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, str(exc)) from exc


def run_from_doc(session_id: str, doc: dict[str, Any]) -> Run:
    """The Run a ``runs`` document holds; a bad one is a CorruptRecordError."""
    text = doc.get("data")
    try:
        if not isinstance(text, str):
            raise CodecError(f"run field 'data' must be JSON text, got {type(text).__name__}")
        return decode_run(json.loads(text))
    except (CodecError, ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"run {doc.get('run_id')!r}: {exc}") from exc


def state_of(session_id: str, text: Any) -> dict[str, Any]:
    """A session document's ``state`` JSON text, decoded."""
    try:
        state = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CorruptRecordError(session_id, f"session state is not JSON: {exc}") from exc
    if not isinstance(state, dict):
        raise CorruptRecordError(session_id, "session state is not a JSON object")
    return state


def stored_changes(session_id: str, text: Any) -> StateChanges:
    """The state changes of a stored run's JSON text."""
    try:
        return decode_run(json.loads(text)).state_changes
    except (TypeError, ValueError) as exc:
        raise CorruptRecordError(session_id, f"stored run is not a run: {exc}") from exc
