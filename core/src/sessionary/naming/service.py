"""Naming sessions in a store: a manual rename, and an auto-name that never beats one.

A manual rename is written unconditionally: it always wins. An auto-name is written
with compare-and-set on the session version it read; if the version moved, it looks
again: when someone named the session in between, their name stays, otherwise (a run
was appended, say) it retries on the new version.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import attrs

from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import ConflictError, InvalidInputError, SessionNotFoundError
from sessionary.flow import DbCall, Flow, run_async, run_sync
from sessionary.models.base import Model
from sessionary.naming.namer import NameDecision, decide_name_flow, naming_context
from sessionary.naming.pipeline import NamingPipeline
from sessionary.naming.policy import MANUAL, InvalidNameError, NameRejected, NamingContext
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store

__all__ = [
    "AutonameOutcome",
    "Outcome",
    "aautoname_session",
    "arename_session",
    "autoname_flow",
    "autoname_session",
    "rename_flow",
    "rename_session",
]

#: How often an auto-name retries a compare-and-set that lost to a write that was not a rename.
CAS_ATTEMPTS = 8

#: What happened to one session:
#: ``named`` (a new name was stored), ``unchanged`` (the name decided is the one it has),
#: ``skipped`` (already named, or named manually, and not to be renamed),
#: ``superseded`` (someone renamed it while the name was being decided; theirs stays),
#: ``unnamed`` (neither the model nor a fallback produced an acceptable name).
Outcome = Literal["named", "unchanged", "skipped", "superseded", "unnamed"]


@attrs.frozen
class AutonameOutcome:
    """What :func:`autoname_session` did, with the session as it stands afterwards."""

    session_id: str
    outcome: Outcome
    session: Session
    decision: NameDecision | None = None

    @property
    def source(self) -> str | None:
        """Where the decided name came from (``None`` if none was decided)."""
        return None if self.decision is None else self.decision.source


def rename_session(
    store: Store,
    session_id: str,
    session_name: object,
    *,
    user_id: str | None,
    pipeline: NamingPipeline,
    events: Any = None,
) -> SessionInfo:
    """Store a name a person chose, after the guardrails; returns the session's summary.

    A name the guardrails refuse raises :class:`InvalidNameError` and nothing is
    written; a missing session (or another user's) raises
    :class:`~sessionary.errors.SessionNotFoundError`.
    """
    flow = rename_flow(session_id, session_name, user_id=user_id, pipeline=pipeline, events=events)
    return run_sync(flow, store)


async def arename_session(
    store: AsyncStore,
    session_id: str,
    session_name: object,
    *,
    user_id: str | None,
    pipeline: NamingPipeline,
    events: Any = None,
) -> SessionInfo:
    """:func:`rename_session` on an async store."""
    flow = rename_flow(session_id, session_name, user_id=user_id, pipeline=pipeline, events=events)
    return await run_async(flow, store)


def rename_flow(
    session_id: str,
    session_name: object,
    *,
    user_id: str | None,
    pipeline: NamingPipeline,
    events: Any = None,
) -> Flow[SessionInfo]:
    """The flow of :func:`rename_session` (see :mod:`sessionary.flow`)."""
    if not isinstance(session_name, str):
        raise InvalidInputError(f"session_name must be a str, got {type(session_name).__name__}")
    info: SessionInfo | None = yield DbCall.of("get_session_info", session_id, user_id=user_id)
    if info is None:
        raise SessionNotFoundError(session_id, user_id)
    context = NamingContext(session=info, now=time.time(), source=MANUAL)
    try:
        name = pipeline.check(session_name, context)
    except NameRejected as exc:
        shown = session_name if len(session_name) <= 60 else session_name[:57] + "..."
        raise InvalidNameError(f"session name {shown!r} was refused: {exc}") from None
    updated: SessionInfo = yield DbCall.of(
        "update_session", session_id, user_id=user_id, name=name, name_source=MANUAL
    )
    if events is not None:
        events.sessionary_session_renamed(session=updated, old_name=info.name)
    return updated


def autoname_session(
    store: Store,
    session_id: str,
    *,
    user_id: str | None,
    model: Model | None,
    pipeline: NamingPipeline,
    strict: bool = False,
    only_unnamed: bool = False,
    keep_manual: bool = False,
    events: Any = None,
    now: float | None = None,
) -> AutonameOutcome:
    """Decide a name for the session from its first messages and store it.

    ``only_unnamed`` leaves a session that has a name alone; ``keep_manual`` leaves a
    manually named one alone. Whatever they say, a manual rename that lands while the
    name is being decided is never overwritten.
    """
    flow = autoname_flow(
        session_id,
        user_id=user_id,
        model=model,
        pipeline=pipeline,
        strict=strict,
        only_unnamed=only_unnamed,
        keep_manual=keep_manual,
        events=events,
        now=now,
    )
    return run_sync(flow, store)


async def aautoname_session(
    store: AsyncStore,
    session_id: str,
    *,
    user_id: str | None,
    model: Model | None,
    pipeline: NamingPipeline,
    strict: bool = False,
    only_unnamed: bool = False,
    keep_manual: bool = False,
    events: Any = None,
    now: float | None = None,
) -> AutonameOutcome:
    """:func:`autoname_session` on an async store, asking the model with ``arespond``."""
    flow = autoname_flow(
        session_id,
        user_id=user_id,
        model=model,
        pipeline=pipeline,
        strict=strict,
        only_unnamed=only_unnamed,
        keep_manual=keep_manual,
        events=events,
        now=now,
    )
    return await run_async(flow, store)


def autoname_flow(
    session_id: str,
    *,
    user_id: str | None,
    model: Model | None,
    pipeline: NamingPipeline,
    strict: bool = False,
    only_unnamed: bool = False,
    keep_manual: bool = False,
    events: Any = None,
    now: float | None = None,
) -> Flow[AutonameOutcome]:
    """The flow of :func:`autoname_session` (see :mod:`sessionary.flow`)."""
    session: Session | None = yield DbCall.of("get_session", session_id, user_id=user_id)
    if session is None:
        raise SessionNotFoundError(session_id, user_id)
    if (only_unnamed and session.name is not None) or (
        keep_manual and session.name_source == MANUAL
    ):
        return AutonameOutcome(session_id, "skipped", session)
    context = naming_context(session, pipeline.policy, time.time() if now is None else now)
    decision = yield from decide_name_flow(context, model, pipeline, strict=strict)
    if decision.name is None or decision.source is None:
        return AutonameOutcome(session_id, "unnamed", session, decision)
    if (decision.name, decision.source) == (session.name, session.name_source):
        return AutonameOutcome(session_id, "unchanged", session, decision)
    expected = session.version
    retried = False
    for _ in range(CAS_ATTEMPTS):
        try:
            info: SessionInfo = yield DbCall.of(
                "update_session",
                session_id,
                user_id=user_id,
                expected_version=expected,
                name=decision.name,
                name_source=decision.source,
            )
        except ConflictError:
            current: SessionInfo | None = yield DbCall.of(
                "get_session_info", session_id, user_id=user_id
            )
            if current is None:
                raise SessionNotFoundError(session_id, user_id) from None
            if (current.name, current.name_source) != (session.name, session.name_source):
                now_named = yield from _reread(current)
                return AutonameOutcome(session_id, "superseded", now_named, decision)
            expected = current.version
            retried = True
            continue
        if events is not None:
            events.sessionary_session_renamed(session=info, old_name=session.name)
        # Without a retry the version proves the runs are the ones read; else read again.
        named = (yield from _reread(info)) if retried else Session.from_info(info, session.runs)
        return AutonameOutcome(session_id, "named", named, decision)
    raise ConflictError(
        f"session {session_id!r} kept changing while it was being named; "
        f"gave up after {CAS_ATTEMPTS} attempts"
    )


def _reread(info: SessionInfo) -> Flow[Session]:
    session: Session | None = yield DbCall.of("get_session", info.session_id, user_id=info.user_id)
    if session is None:
        raise SessionNotFoundError(info.session_id, info.user_id)
    return session
