"""``migrate`` on MongoDB: bring every session document to the schema this code writes.

Version 2 (issue 19) added to each session document ``last_run_at`` (the newest run's
``created_at``; absent for a session without runs), ``paused_runs`` (how many of its
runs are paused) and ``active_at`` (``last_run_at``, else ``created_at``: the key of
the default listing order), and to each run document ``paused``. The migration creates
the new indexes, then converts each session document not stamped with this version:
it reads the session's counted runs once, marks the paused ones, and writes the three
fields and the new stamp in one update whose filter holds the version and last
sequence it read (so a write that landed meanwhile makes it read again, never leaves
a stale count). Only then does the ``sessionary_meta`` record say version 2, so a
store of this code refuses the database until every session is converted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from sessionary.errors import SchemaVersionError, StorageError
from sessionary_mongodb.calls import META, RUNS, SESSIONS, Op
from sessionary_mongodb.connection import SCHEMA_ID
from sessionary_mongodb.documents import SCHEMA_VERSION
from sessionary_mongodb.tail import counted_runs
from sessionary_mongodb.writes import MongoWrites

__all__ = ["MongoMigration", "fill_values"]

_ATTEMPTS: Final = 100


def fill_values(runs: list[dict[str, Any]]) -> tuple[float | None, list[Any]]:
    """The newest run's ``created_at`` (``None`` without runs, or if it cannot be read)
    and the IDs of the paused runs, from ``runs`` documents in sequence order."""
    last: float | None = None
    paused: list[Any] = []
    for position, doc in enumerate(runs):
        try:
            run = json.loads(doc.get("data"))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            run = None
        newest = position == len(runs) - 1
        if not isinstance(run, dict):
            last = None if newest else last
            continue
        if run.get("status") == "paused":
            paused.append(doc.get("run_id"))
        if newest:
            created = run.get("created_at")
            number = isinstance(created, (int, float)) and not isinstance(created, bool)
            last = float(created) if number and created is not None else None
    return last, paused


class MongoMigration(MongoWrites):
    """``migrate`` of both MongoDB stores (the schema record and the session documents)."""

    if TYPE_CHECKING:  # provided by MongoOperations

        def _prepare_op(self) -> Op[dict[str, Any] | None]: ...

        def _refuse_newer(self, schema: dict[str, Any] | None) -> None: ...

    def _migrate_op(self) -> Op[list[str]]:
        """``Store.migrate``: the indexes, every session document, then the schema record."""
        schema = yield from self._prepare_op()
        self._refuse_newer(schema)
        stored = schema.get("version") if schema else SCHEMA_VERSION
        converted = 0
        with self._do("migrating the sessions"):
            old = yield SESSIONS.find({"schema": {"$not": {"$gte": SCHEMA_VERSION}}}, {"_id": 1})
            for doc in old:
                converted += yield from self._migrate_session(doc["_id"])
            if isinstance(stored, int) and stored < SCHEMA_VERSION:
                yield META.update_one({"_id": SCHEMA_ID}, {"$set": {"version": SCHEMA_VERSION}})
        self._ready = False  # the next operation checks the record again
        if stored == SCHEMA_VERSION and not converted:
            return []
        return [f"version {SCHEMA_VERSION}: last_run_at and paused_runs of {converted} sessions"]

    def _migrate_session(self, session_id: Any) -> Op[int]:
        """Convert one session document; 1 if it was converted, 0 if it is gone."""
        for _ in range(_ATTEMPTS):
            doc = yield SESSIONS.find_one(
                {"_id": session_id},
                {
                    "key": 1,
                    "version": 1,
                    "last_seq": 1,
                    "schema": 1,
                    "created_at": 1,
                    "inflight": 1,
                },
            )
            if doc is None:
                return 0
            stamp = doc.get("schema")
            if isinstance(stamp, int) and stamp > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"session {session_id!r} was written by sessionary schema version "
                    f"{stamp}, newer than {SCHEMA_VERSION}: upgrade sessionary to use it"
                )
            key, last_seq = doc.get("key"), doc.get("last_seq")
            # The runs the summary counts: not one in flight, nor one reserved after
            # the last one counted (an append between its steps is counted by its own
            # last step, or, if that meets the new stamp, takes its run back).
            counted = counted_runs(str(key), doc)
            counted["seq"] = {"$lte": last_seq or 0}
            runs = yield RUNS.find(
                counted,
                {"seq": 1, "run_id": 1, "data": 1},
                sort=[("seq", 1)],
            )
            last, paused = fill_values(runs)
            if paused:
                yield RUNS.update_many(
                    {"session_key": key, "run_id": {"$in": paused}}, {"$set": {"paused": True}}
                )
            created = doc.get("created_at")
            fields: dict[str, Any] = {
                "paused_runs": len(paused),
                "active_at": created if last is None else last,
                "schema": SCHEMA_VERSION,
            }
            if last is not None:
                fields["last_run_at"] = last
            done = yield SESSIONS.update_one(
                {
                    "_id": session_id,
                    "key": key,
                    "version": doc.get("version"),
                    "last_seq": last_seq,
                    "schema": {"$not": {"$gte": SCHEMA_VERSION}},
                },
                {"$set": fields},
            )
            if done.matched_count:
                return 1
        raise StorageError(
            f"MongoDB {self._where}: session {session_id!r} changed {_ATTEMPTS} times "
            "while it was being migrated"
        )
