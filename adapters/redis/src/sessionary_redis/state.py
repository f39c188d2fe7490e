"""A run's state changes on Redis: applied by the run's own script, guarded by the state read.

Lua's JSON library cannot round-trip every JSON value (empty arrays, long numbers), so
the merge is made here, not in the script: the store reads the session's ``state``
text, applies the run's :class:`~sessionary.domain.state.StateChanges` to it, and the
append (or update) script writes the result only if the state text is still the one
read; else it answers ``state`` with the current text and the store merges again. The
run and its state change are one script, so they are stored together or not at all,
and a concurrent writer's keys are never overwritten with what was read before them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from sessionary.codec import dump_json
from sessionary.domain.state import StateChanges
from sessionary.errors import CorruptRecordError, StorageError
from sessionary_redis.calls import Command, Op, Request
from sessionary_redis.records import text

__all__ = ["NO_GUARD", "STATE_RETRIES", "guarded", "read_guard", "state_guard"]

#: The two script arguments of a run without state changes: nothing read, nothing written.
NO_GUARD: Final = ("", "")
#: How often a run's state merge is redone because other writers changed the state.
STATE_RETRIES: Final = 100


def state_guard(session_id: str, raw: Any, changes: StateChanges) -> tuple[str, str]:
    """The script arguments (the state text read, the state text to write) for ``changes``."""
    if not changes:
        return NO_GUARD
    current = text(raw) or "{}"
    try:
        state = json.loads(current)
    except ValueError as exc:
        raise CorruptRecordError(session_id, f"session state is not JSON: {exc}") from exc
    if not isinstance(state, dict):
        raise CorruptRecordError(session_id, "session state is not a JSON object")
    return current, dump_json(changes.apply(state))


def read_guard(key: str, session_id: str, changes: StateChanges) -> Op[tuple[str, str]]:
    """Read the session's state and return :func:`state_guard` for it."""
    if not changes:
        return NO_GUARD
    raw = yield Request.read(
        f"read the state of session {session_id!r}", Command.of("hget", key, "state"), session_id
    )
    return state_guard(session_id, raw, changes)


def guarded(
    request: Callable[[tuple[str, str]], Request],
    session_id: str,
    guard: tuple[str, str],
    changes: StateChanges,
) -> Op[Any]:
    """Send ``request(guard)`` until its script does not answer ``state``; its reply.

    Each ``state`` answer carries the current state text, merged again for the next try.
    """
    for _ in range(STATE_RETRIES):
        reply = yield request(guard)
        if text(reply[0]) != "state":
            return reply
        guard = state_guard(session_id, reply[1], changes)
    raise StorageError(
        f"session {session_id!r}: its state changed {STATE_RETRIES} times while a run's "
        "state changes were being stored; the run was not stored"
    )
