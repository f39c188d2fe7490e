"""Copies the caching store hands out, and when a cached copy is the store's.

A session returned to a caller is never changed behind its back: sessions are frozen,
and the one part of a run a caller changes in place (a paused run's requirements) is
copied for each caller.
"""

from __future__ import annotations

import attrs

from sessionary.caching.base import same_lifetime
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo

__all__ = ["detached", "detached_run", "is_current"]


def detached_run(run: Run) -> Run:
    """``run`` with requirements of its own: answering one must not change another copy.

    Requirements are the one part of a run a caller changes in place (``confirm()``,
    ``reject()``...), so the cache and each caller hold their own.
    """
    if not run.requirements:
        return run
    return attrs.evolve(run, requirements=tuple(attrs.evolve(r) for r in run.requirements))


def detached(session: Session) -> Session:
    """The session with every run that has requirements detached (see :func:`detached_run`)."""
    if not any(run.requirements for run in session.runs):
        return session
    return attrs.evolve(session, runs=tuple(detached_run(run) for run in session.runs))


def is_current(cached: SessionInfo, info: SessionInfo) -> bool:
    """Whether a cached summary is the store's: same lifetime, version and run count."""
    return (
        same_lifetime(cached, info)
        and cached.version == info.version
        and cached.run_count == info.run_count
    )
