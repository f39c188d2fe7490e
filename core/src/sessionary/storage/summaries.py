"""Summary and cursor arithmetic: what a write does to a session's summary, and the
listing cursor. Pure functions every backend that keeps summaries itself shares, so a
summary means the same on every store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Final

import attrs

from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import ConflictError, InvalidInputError, SessionNotFoundError
from sessionary.storage.listing import decode_cursor, encode_cursor

__all__ = [
    "PREVIEW_LENGTH",
    "check_owner",
    "check_run_version",
    "decode_cursor",
    "encode_cursor",
    "new_session_info",
    "paused",
    "preview_of",
    "session_after_update",
    "sort_key",
    "summary_after_append",
    "summary_after_trim",
    "summary_after_update",
    "summary_of_import",
]

#: Characters of the last message kept in a session's summary.
PREVIEW_LENGTH: Final = 120


def sort_key(info: SessionInfo) -> tuple[float, str]:
    """The ``"updated_at"`` listing order: newest update first, then session ID descending.

    Every order's key is :meth:`~sessionary.storage.listing.ListFilters.sort_key`.
    """
    return (info.updated_at, info.session_id)


def new_session_info(run: Run, session_type: SessionType, now: float) -> SessionInfo:
    """The summary of a session that the run is about to create (version 0, no runs)."""
    is_team = session_type is SessionType.TEAM
    return SessionInfo(
        session_id=run.session_id,
        session_type=session_type,
        user_id=run.user_id,
        agent_id=None if is_team else run.agent_id,
        team_id=run.team_id if is_team else None,
        created_at=now,
        updated_at=now,
        version=0,
    )


def preview_of(run: Run) -> str | None:
    """The inbox preview a run leaves: its last chat message, shortened."""
    for message in reversed(run.messages):
        if message.is_chat and message.content:
            text = " ".join(message.content.split())
            return text[:PREVIEW_LENGTH]
    return None


def paused(run: Run | None) -> int:
    """1 for a paused run, else 0: what a run adds to a summary's ``paused_runs``."""
    return 1 if run is not None and run.status is RunStatus.PAUSED else 0


def summary_after_append(info: SessionInfo, run: Run, now: float) -> SessionInfo:
    """The summary once ``run`` is appended: one more run, its status, tokens, preview,
    the last activity (``last_run_at``), the paused count, and the state with the
    run's :attr:`~sessionary.Run.state_changes` applied."""
    preview = preview_of(run)
    when = max(now, info.updated_at)
    return attrs.evolve(
        info,
        state=run.state_changes.apply(info.state) if run.state_changes else info.state,
        version=info.version + 1,
        updated_at=when,
        last_run_at=when,
        paused_runs=info.paused_runs + paused(run),
        run_count=info.run_count + 1,
        last_run_status=run.status,
        last_message_preview=preview if preview is not None else info.last_message_preview,
        input_tokens=info.input_tokens + run.metrics.input_tokens,
        output_tokens=info.output_tokens + run.metrics.output_tokens,
    )


def summary_after_trim(
    info: SessionInfo, removed: Iterable[Run], remaining: int, now: float
) -> SessionInfo:
    """The summary once ``removed`` runs are deleted and ``remaining`` runs are left;
    ``last_run_at`` stays (a trim is no activity)."""
    removed = list(removed)
    if not removed:
        return info
    return attrs.evolve(
        info,
        version=info.version + 1,
        updated_at=max(now, info.updated_at),
        run_count=remaining,
        paused_runs=info.paused_runs - sum(paused(r) for r in removed),
        input_tokens=info.input_tokens - sum(r.metrics.input_tokens for r in removed),
        output_tokens=info.output_tokens - sum(r.metrics.output_tokens for r in removed),
    )


def summary_after_update(
    info: SessionInfo, old: Run, new: Run, is_last: bool, now: float
) -> SessionInfo:
    """The summary once ``old`` is replaced by ``new`` in place (a run continued): the
    last activity is now, and the state gets the changes ``new`` carries that ``old``
    did not (:meth:`StateChanges.since`)."""
    gained = new.state_changes.since(old.state_changes)
    when = max(now, info.updated_at)
    changes: dict[str, Any] = {
        "version": info.version + 1,
        "updated_at": when,
        "last_run_at": when,
        "paused_runs": info.paused_runs + paused(new) - paused(old),
        "input_tokens": info.input_tokens + new.metrics.input_tokens - old.metrics.input_tokens,
        "output_tokens": info.output_tokens + new.metrics.output_tokens - old.metrics.output_tokens,
    }
    if gained:
        changes["state"] = gained.apply(info.state)
    if is_last:
        changes["last_run_status"] = new.status
        preview = preview_of(new)
        if preview is not None:
            changes["last_message_preview"] = preview
    return attrs.evolve(info, **changes)


def check_owner(info: SessionInfo, user_id: str | None) -> bool:
    """Whether a caller acting for ``user_id`` may see the session.

    With no ``user_id`` every session is visible; with one, only that user's sessions
    (a session with no owner is not that user's).
    """
    return user_id is None or info.user_id == user_id


def session_after_update(
    info: SessionInfo | None,
    session_id: str,
    user_id: str | None,
    expected_version: int | None,
    changes: dict[str, Any],
) -> SessionInfo:
    """The compare-and-set of :meth:`Store.update_session`, on the summary a store read.

    ``info`` is the stored summary (``None``: no such session), read in the same
    transaction or under the same lock as the write that follows. Raises
    :class:`~sessionary.errors.SessionNotFoundError` for a missing session or another
    user's, :class:`~sessionary.errors.ConflictError` when ``expected_version`` is given
    and is not the stored one; else returns the summary to store: the changes made, the
    version bumped.
    """
    if info is None or not check_owner(info, user_id):
        raise SessionNotFoundError(session_id, user_id)
    if expected_version is not None and info.version != expected_version:
        raise ConflictError(
            f"session {session_id!r} is at version {info.version}, "
            f"not {expected_version}: it changed since it was read"
        )
    return attrs.evolve(
        info,
        version=info.version + 1,
        updated_at=max(time.time(), info.updated_at),
        **changes,
    )


def check_run_version(old: Run, expected_version: int) -> None:
    """The compare-and-set of :meth:`Store.update_run`: ``old`` (the stored run) must be
    at ``expected_version``, else :class:`~sessionary.errors.ConflictError`."""
    if old.version != expected_version:
        raise ConflictError(
            f"run {old.run_id!r} of session {old.session_id!r} is at version "
            f"{old.version}, not {expected_version}: another writer updated it first"
        )


def summary_of_import(session: Session, now: float) -> Session:
    """The session :meth:`Store.import_session` stores: its summary recomputed from its runs.

    An exported line is input, not truth: the run count, the token totals, the last
    run's status and the preview are what the runs make, whatever the line claims, and
    ``updated_at`` lies between ``created_at`` (itself not after ``now``), the last run's
    update and ``now``. ``last_run_at`` is the given one, else the newest run's
    ``created_at``; ``paused_runs`` is counted. A run ID that appears twice, or a
    ``last_run_at`` that is not a finite number, is an
    :class:`~sessionary.errors.InvalidInputError` naming it.
    """
    active = session.last_run_at
    if active is not None and (
        isinstance(active, bool)
        or not isinstance(active, (int, float))
        or not math.isfinite(active)
    ):
        raise InvalidInputError(
            f"session {session.session_id!r} has last_run_at {active!r}: not a finite time"
        )
    if active is None and session.runs:
        active = max(run.created_at for run in session.runs)
    seen: set[str] = set()
    for run in session.runs:
        if run.run_id in seen:
            raise InvalidInputError(
                f"session {session.session_id!r} holds run {run.run_id!r} twice"
            )
        seen.add(run.run_id)
    previews = (preview_of(run) for run in reversed(session.runs))
    created_at = min(session.created_at, now)
    latest = max((run.updated_at for run in session.runs), default=created_at)
    return attrs.evolve(
        session,
        created_at=created_at,
        updated_at=min(max(session.updated_at, created_at, latest), now),
        run_count=len(session.runs),
        last_run_status=session.runs[-1].status if session.runs else None,
        last_message_preview=next((p for p in previews if p is not None), None),
        last_run_at=None if active is None else float(active),
        paused_runs=sum(paused(run) for run in session.runs),
        input_tokens=sum(run.metrics.input_tokens for run in session.runs),
        output_tokens=sum(run.metrics.output_tokens for run in session.runs),
    )
