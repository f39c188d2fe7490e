"""The reads of both MongoDB stores, and the setup they share (indexes, schema record).

Written once, as operations that yield their calls (:mod:`sessionary_mongodb.calls`):
``MongoDb`` runs them with pymongo's sync client, ``AsyncMongoStore`` with its
``AsyncMongoClient``.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo import ReturnDocument

from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import CorruptRecordError, SchemaVersionError
from sessionary.storage.base import ListFilters, SchemaStatus, encode_cursor
from sessionary_mongodb.calls import ADMIN, META, RUNS, SESSIONS, SETUP, Op
from sessionary_mongodb.connection import SCHEMA_ID
from sessionary_mongodb.documents import SCHEMA_VERSION, info_from_doc, run_from_doc
from sessionary_mongodb.migration import MongoMigration

__all__ = ["MongoOperations"]


class MongoOperations(MongoMigration):
    """Every operation of the storage contract on MongoDB: the writes, the reads, setup."""

    # ------------------------------------------------------------------ setup

    def _setup_op(self) -> Op[None]:
        """Create the indexes and the schema record (idempotent); refuse another schema.

        The drivers run this once per store, before the first operation that needs it;
        a database of an older schema is refused until ``migrate`` (then again here).
        """
        schema = yield from self._prepare_op()
        self._refuse_other(schema)

    def _prepare_op(self) -> Op[dict[str, Any] | None]:
        """Create the indexes and the schema record if missing; the schema record."""
        with self._do("creating indexes"):
            yield RUNS.create_index(
                [("session_key", 1), ("seq", 1)], unique=True, name="session_seq"
            )
            yield RUNS.create_index(
                [("session_key", 1), ("run_id", 1)], unique=True, name="session_run"
            )
            # One index per listing order (``_id`` breaks ties), whole and per owner.
            for key, suffix in (
                ("updated_at", ""),
                ("active_at", "_activity"),
                ("created_at", "_creation"),
            ):
                for owner in ("user", "agent", "team"):
                    fields = [(f"{owner}_id", 1), (key, -1)] + ([] if not suffix else [("_id", -1)])
                    yield SESSIONS.create_index(fields, name=owner + suffix)
                yield SESSIONS.create_index([(key, -1), ("_id", -1)], name=suffix[1:] or "updated")
            if self.ttl is not None:
                yield SESSIONS.create_index("expires_at", expireAfterSeconds=0, name="expires_at")
            schema: dict[str, Any] | None = yield META.find_one_and_update(
                {"_id": SCHEMA_ID},
                {"$setOnInsert": {"version": SCHEMA_VERSION}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        return schema

    def _refuse_other(self, schema: dict[str, Any] | None) -> None:
        stored = schema.get("version") if schema else None
        if not isinstance(stored, int) or stored > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"MongoDB {self._where} holds sessionary schema version {stored!r}; this "
                f"sessionary writes version {SCHEMA_VERSION}: upgrade sessionary to use it"
            )
        if stored < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"MongoDB {self._where} holds sessionary schema version {stored}; this "
                f"sessionary uses version {SCHEMA_VERSION}. Upgrade it with "
                "'sessionary migrate --db <url>' (back it up first)"
            )

    def _refuse_newer(self, schema: dict[str, Any] | None) -> None:
        stored = schema.get("version") if schema else None
        if not isinstance(stored, int) or stored > SCHEMA_VERSION:
            self._refuse_other(schema)

    def _schema_status_op(self) -> Op[SchemaStatus]:
        with self._do("reading the schema version"):
            doc = yield META.find_one({"_id": SCHEMA_ID})
        current = doc.get("version", SCHEMA_VERSION) if doc else SCHEMA_VERSION
        return SchemaStatus(current=current, latest=SCHEMA_VERSION)

    def _ping_op(self) -> Op[None]:
        with self._do("pinging the server"):
            yield ADMIN.command("ping")

    # ------------------------------------------------------------------ reading

    def _get_info_op(self, session_id: str, user_id: str | None) -> Op[SessionInfo | None]:
        yield SETUP
        with self._do(f"reading session {session_id!r}"):
            doc = yield from self._find_session(session_id, user_id)
        return None if doc is None else info_from_doc(doc)

    def _get_run_op(self, session_id: str, run_id: str, user_id: str | None) -> Op[Run | None]:
        yield SETUP
        with self._do(f"reading run {run_id!r} of session {session_id!r}"):
            doc = yield SESSIONS.find_one(
                self._session_filter(session_id, user_id), {"key": 1, "schema": 1}
            )
            if doc is None:
                return None
            found = yield RUNS.find_one({"session_key": self._key_of(doc), "run_id": run_id})
        return None if found is None else run_from_doc(session_id, found)

    def _list_op(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> Op[SessionPage]:
        yield SETUP
        query = self._list_query(filters)
        key = _ORDER_FIELDS[filters.order_by]
        if after is not None:
            value, session_id = after
            query = {
                "$and": [
                    query,
                    {"$or": [{key: {"$lt": value}}, {key: value, "_id": {"$lt": session_id}}]},
                ]
            }
        with self._do("listing sessions"):
            raw = yield SESSIONS.find(query, sort=[(key, -1), ("_id", -1)], limit=limit + 1)
        more = len(raw) > limit
        raw = raw[:limit]
        items = []
        for doc in raw:
            try:
                items.append(info_from_doc(doc))
            except CorruptRecordError:
                continue  # one bad record must not hide every other session
        cursor = None
        if more and raw:
            last = raw[-1]
            cursor = encode_cursor(float(last.get(key, 0.0)), str(last["_id"]), filters.order_by)
        return SessionPage(items=tuple(items), next_cursor=cursor)

    def _count_op(self, filters: ListFilters) -> Op[int]:
        yield SETUP
        with self._do("counting sessions"):
            counted = yield SESSIONS.count_documents(self._list_query(filters))
        return int(counted)

    def _list_query(self, filters: ListFilters) -> dict[str, Any]:
        """The ``sessions`` filter of every filter of a listing (its order aside)."""
        query: dict[str, Any] = dict(self._live())
        for field in ("user_id", "agent_id", "team_id"):
            value = getattr(filters, field)
            if value is not None:
                query[field] = value
        if filters.session_type is not None:
            query["session_type"] = filters.session_type.value
        if filters.name_contains is not None:
            query["name_folded"] = {"$regex": re.escape(filters.name_contains.casefold())}
        if filters.status is not None:
            query["last_run_status"] = filters.status.value
        if filters.has_paused is not None:
            query["paused_runs"] = {"$gt": 0} if filters.has_paused else {"$not": {"$gt": 0}}
        for field, after, before in (
            ("last_run_at", filters.active_after, filters.active_before),
            ("created_at", filters.created_after, filters.created_before),
        ):
            bounds: dict[str, float] = {}
            if after is not None:
                bounds["$gte"] = after
            if before is not None:
                bounds["$lt"] = before
            if bounds:  # a session without runs has no last_run_at: never matched
                query[field] = bounds
        return query


#: The field each listing order sorts by (``active_at``: ``last_run_at``, or
#: ``created_at`` for a session without runs).
_ORDER_FIELDS = {"last_run_at": "active_at", "updated_at": "updated_at", "created_at": "created_at"}
