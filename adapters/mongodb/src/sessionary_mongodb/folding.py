"""Counting a stored run in its session's summary on MongoDB: one guarded update.

Shared by the sync and async stores through :class:`~sessionary_mongodb.writes.MongoWrites`.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import ReturnDocument

from sessionary.codec import dump_json
from sessionary.domain.state import StateChanges
from sessionary.errors import StorageError
from sessionary_mongodb.calls import SESSIONS, Op
from sessionary_mongodb.connection import MongoSettings
from sessionary_mongodb.documents import CURRENT, state_of

__all__ = ["summary_update"]

#: How often a run's state merge is redone because other writers changed the state.
_STATE_RETRIES: Final = 100


def summary_update(
    db: MongoSettings,
    query: dict[str, Any],
    seq: int,
    increments: dict[str, int],
    latest: dict[str, Any],
    now: float,
    *,
    strict: bool,
    changes: StateChanges | None = None,
    counted: Any = None,
) -> Op[dict[str, Any] | None]:
    """Apply counters and mark activity (``last_run_at`` and the listing key
    ``active_at`` move up to ``now``); also ``latest`` (status, preview) if the run is
    the session's last.

    The first attempt is one atomic update guarded on ``last_seq``; when a later run
    already set the summary it is repeated without ``latest``. With state
    ``changes``, each update also writes the merged state, guarded on the state text
    it was merged from; a state another writer changed in between is merged again.
    ``counted``: an append's token, taken out of ``inflight`` by the same update.
    The session's expiry (``db``'s TTL) is set with it.
    """
    expiry = db._expiry(now)
    query = {**query, **CURRENT}
    for _ in range(_STATE_RETRIES):
        guard: dict[str, Any] = {}
        update: dict[str, Any] = {
            "$inc": increments,
            "$max": {"updated_at": now, "last_run_at": now, "active_at": now},
        }
        if counted is not None:
            update["$pull"] = {"inflight": counted}
        fields = {**expiry}
        if changes:
            found = yield SESSIONS.find_one(query, {"state": 1})
            if found is None:
                return None
            current = found.get("state", "{}")
            guard = {"state": current}
            fields["state"] = dump_json(changes.apply(state_of(query["_id"], current)))
        order = {"last_seq": seq} if strict else {"last_seq": {"$lt": seq}}
        doc: dict[str, Any] | None = yield SESSIONS.find_one_and_update(
            {**query, **guard, **order},
            {**update, "$set": {**latest, **fields}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            if fields:
                update["$set"] = fields
            doc = yield SESSIONS.find_one_and_update(
                {**query, **guard}, update, return_document=ReturnDocument.AFTER
            )
        if doc is not None or not changes:
            return doc
    raise StorageError(
        f"MongoDB {db._where}: the state of session {query['_id']!r} changed "
        f"{_STATE_RETRIES} times while a run's state changes were being stored"
    )
