"""The reads of both MongoDB stores, and the setup they share (indexes, schema record).

Written once, as operations that yield their calls (:mod:`sessionary_mongodb.calls`):
``MongoDb`` runs them with pymongo's sync client, ``AsyncMongoStore`` with its
``AsyncMongoClient``.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo import ReturnDocument

from sessionary.codec import SCHEMA_VERSION
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo, SessionPage
from sessionary.errors import CorruptRecordError, SchemaVersionError
from sessionary.storage.base import ListFilters, SchemaStatus, encode_cursor
from sessionary_mongodb.calls import ADMIN, META, RUNS, SESSIONS, SETUP, Op
from sessionary_mongodb.connection import SCHEMA_ID
from sessionary_mongodb.documents import info_from_doc, run_from_doc
from sessionary_mongodb.writes import MongoWrites

__all__ = ["MongoOperations"]


class MongoOperations(MongoWrites):
    """Every operation of the storage contract on MongoDB: the writes, the reads, setup."""

    # ------------------------------------------------------------------ setup

    def _setup_op(self) -> Op[None]:
        """Create the indexes and the schema record (idempotent); refuse a newer schema.

        The drivers run this once per store, before the first operation that needs it.
        """
        with self._do("creating indexes"):
            yield RUNS.create_index(
                [("session_key", 1), ("seq", 1)], unique=True, name="session_seq"
            )
            yield RUNS.create_index(
                [("session_key", 1), ("run_id", 1)], unique=True, name="session_run"
            )
            yield SESSIONS.create_index([("user_id", 1), ("updated_at", -1)], name="user")
            yield SESSIONS.create_index([("agent_id", 1), ("updated_at", -1)], name="agent")
            yield SESSIONS.create_index([("team_id", 1), ("updated_at", -1)], name="team")
            yield SESSIONS.create_index([("updated_at", -1), ("_id", -1)], name="updated")
            if self.ttl is not None:
                yield SESSIONS.create_index("expires_at", expireAfterSeconds=0, name="expires_at")
            schema = yield META.find_one_and_update(
                {"_id": SCHEMA_ID},
                {"$setOnInsert": {"version": SCHEMA_VERSION}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        self._refuse_newer(schema)

    def _refuse_newer(self, schema: dict[str, Any] | None) -> None:
        stored = schema.get("version") if schema else None
        if not isinstance(stored, int) or stored > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"MongoDB {self._where} holds sessionary schema version {stored!r}; this "
                f"sessionary writes version {SCHEMA_VERSION}: upgrade sessionary to use it"
            )

    def _schema_status_op(self) -> Op[SchemaStatus]:
        yield SETUP
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
        query: dict[str, Any] = dict(self._live())
        for field in ("user_id", "agent_id", "team_id"):
            value = getattr(filters, field)
            if value is not None:
                query[field] = value
        if filters.session_type is not None:
            query["session_type"] = filters.session_type.value
        if filters.name_contains is not None:
            query["name_folded"] = {"$regex": re.escape(filters.name_contains.casefold())}
        if after is not None:
            updated_at, session_id = after
            query["$or"] = [
                {"updated_at": {"$lt": updated_at}},
                {"updated_at": updated_at, "_id": {"$lt": session_id}},
            ]
        with self._do("listing sessions"):
            raw = yield SESSIONS.find(
                query, sort=[("updated_at", -1), ("_id", -1)], limit=limit + 1
            )
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
            cursor = encode_cursor(float(last.get("updated_at", 0.0)), str(last["_id"]))
        return SessionPage(items=tuple(items), next_cursor=cursor)
