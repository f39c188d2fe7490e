"""The tail of a session: conditional appends, replacing the last runs, tolerant reads.

Pure helpers every backend shares, so these operations mean the same on every store:

* :func:`check_session_version`: the ``expected_version`` precondition of
  :meth:`Store.append_run <sessionary.Store.append_run>` and
  :meth:`Store.replace_last_runs <sessionary.Store.replace_last_runs>`;
* :func:`summary_after_replace` and :func:`preview_after_replace`: the summary once the
  last runs are replaced, recomputed exactly;
* :func:`decode_each` and :func:`messages_tail`: reading runs or the last messages,
  skipping (and logging) a corrupt record when asked to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import attrs

from sessionary.codec import decode_messages
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import ConflictError, CorruptRecordError
from sessionary.storage.summaries import paused, preview_of

__all__ = [
    "check_session_version",
    "decode_each",
    "messages_tail",
    "preview_after_replace",
    "stale_version",
    "summary_after_replace",
    "too_few_runs",
]

log = logging.getLogger("sessionary.storage")

T = TypeVar("T")
R = TypeVar("R")


def check_session_version(
    info: SessionInfo | None, session_id: str, expected_version: int | None, *, done: str
) -> None:
    """The session-version precondition of a write, on the summary read with the write.

    ``None`` checks nothing. Else the stored version must be ``expected_version``; a
    session that does not exist yet counts as version 0 (so ``0`` means "must not
    exist"). Raises :class:`~sessionary.errors.ConflictError` saying what was not
    ``done``, before anything is written.
    """
    if expected_version is None:
        return
    stored = None if info is None else info.version
    if (stored or 0) != expected_version:
        raise stale_version(session_id, stored, expected_version, done=done)


def stale_version(
    session_id: str, stored: int | None, expected_version: int, *, done: str
) -> ConflictError:
    """The error of a write whose ``expected_version`` is not the stored one (``None``:
    the session does not exist)."""
    state = "does not exist" if stored is None else f"is at version {stored}"
    return ConflictError(
        f"session {session_id!r} {state}, not at version {expected_version}: "
        f"it changed since it was read, so nothing was {done}"
    )


def too_few_runs(session_id: str, stored: int, count: int) -> ConflictError:
    """The error of a replace that would remove more runs than the session holds."""
    return ConflictError(
        f"session {session_id!r} holds {stored} run(s), fewer than the {count} to replace: "
        "it changed since it was read, so nothing was replaced"
    )


def preview_after_replace(
    info: SessionInfo,
    removed: Sequence[Run | None],
    added: Sequence[Run],
    kept_previews: Callable[[], Iterable[str | None]],
) -> str | None:
    """The inbox preview once ``removed`` runs are replaced by ``added`` ones.

    The newest preview among ``added``; else, if no removed run can have left the
    current one (``None`` stands for a run that could not be decoded), the current
    one; else the newest among the kept runs, which ``kept_previews`` yields newest
    first (a store decodes them lazily, so usually one run is read).
    """
    for run in reversed(added):
        preview = preview_of(run)
        if preview is not None:
            return preview
    if all(run is not None and preview_of(run) is None for run in removed):
        return info.last_message_preview
    return next((p for p in kept_previews() if p is not None), None)


def summary_after_replace(
    info: SessionInfo,
    removed: Sequence[Run],
    added: Sequence[Run],
    *,
    remaining: int,
    last_status: RunStatus | None,
    preview: str | None,
    now: float,
) -> SessionInfo:
    """The summary once the last ``removed`` runs are replaced by ``added``.

    ``remaining`` is how many stored runs are kept, ``last_status`` the status of the
    newest of them (``None`` if none is kept), ``preview`` what
    :func:`preview_after_replace` gave. ``removed`` need only carry their metrics and
    status. Nothing removed and nothing added leaves the summary as it is. The last
    activity (``last_run_at``) stays; a session that had none gets ``now`` with the
    first run added.
    """
    if not removed and not added:
        return info
    when = max(now, info.updated_at)
    active = info.last_run_at
    return attrs.evolve(
        info,
        version=info.version + 1,
        updated_at=when,
        last_run_at=active if active is not None or not added else when,
        paused_runs=info.paused_runs
        - sum(paused(r) for r in removed)
        + sum(paused(r) for r in added),
        run_count=remaining + len(added),
        last_run_status=added[-1].status if added else last_status,
        last_message_preview=preview,
        input_tokens=info.input_tokens
        - sum(r.metrics.input_tokens for r in removed)
        + sum(r.metrics.input_tokens for r in added),
        output_tokens=info.output_tokens
        - sum(r.metrics.output_tokens for r in removed)
        + sum(r.metrics.output_tokens for r in added),
    )


def _skipped(session_id: str, label: str, exc: CorruptRecordError) -> None:
    log.warning("session %r: skipped corrupt run %s: %s", session_id, label, exc)


def decode_each(
    session_id: str,
    records: Iterable[tuple[str, R]],
    decode: Callable[[R], T],
    skip_corrupt: bool,
) -> tuple[list[T], tuple[str, ...]]:
    """Decode each ``(label, record)``; with ``skip_corrupt``, leave out the corrupt ones.

    ``decode`` raises :class:`~sessionary.errors.CorruptRecordError` for a record it
    cannot decode. Without ``skip_corrupt`` that error goes to the caller (for a run's
    messages, which the codec builds when first read, at that read); with it, each
    record is checked whole at once, a corrupt one is left out, logged as a warning, and
    its label (a run ID, or ``"#n"``) is in the labels returned beside the decoded
    records.
    """
    if not skip_corrupt:
        return [decode(record) for _, record in records], ()
    decoded: list[T] = []
    skipped: list[str] = []
    for label, record in records:
        try:
            item = decode(record)
            if isinstance(item, Run):
                item.messages  # noqa: B018 (checks the messages a decoder left for later)
            decoded.append(item)
        except CorruptRecordError as exc:
            _skipped(session_id, label, exc)
            skipped.append(label)
    return decoded, tuple(skipped)


def messages_tail(
    session_id: str,
    newest_first: Iterable[tuple[str, R]],
    load: Callable[[R], Any],
    last_n: int | None,
    skip_corrupt: bool,
) -> list[Message]:
    """The last ``last_n`` messages (all with ``None``) of runs read newest first.

    ``newest_first`` yields ``(label, record)`` of the session's runs, newest first,
    and is read only as far as needed; a record that is JSON text is decoded as it is,
    any other is first turned into the run's JSON value by ``load`` (which raises
    :class:`~sessionary.errors.CorruptRecordError` if it cannot).
    Only the messages returned are decoded, not the rest of their runs.
    """
    if last_n == 0:
        return []
    chunks: list[list[Message]] = []
    wanted = last_n
    for label, record in newest_first:
        try:
            try:
                # JSON text goes to the codec as it is: it decodes only the messages
                # wanted, skipping the rest of the run unparsed.
                text = isinstance(record, (str, bytes))
                messages = decode_messages(record if text else load(record), wanted)
            except ValueError as exc:  # a CodecError, or what load let through
                raise CorruptRecordError(session_id, f"run {label}: {exc}") from exc
        except CorruptRecordError as exc:
            if not skip_corrupt:
                raise
            _skipped(session_id, label, exc)
            continue
        chunks.append(messages)
        if wanted is not None:
            wanted -= len(messages)
            if wanted <= 0:
                break
    return [message for chunk in reversed(chunks) for message in chunk]
