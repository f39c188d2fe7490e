"""The writes of both MongoDB stores: append, update, import, trim, delete, erase.

Each is a short sequence of single-document operations, each atomic on the server;
see the module documentation of :mod:`sessionary_mongodb.store` and
``docs/storage/mongodb.md`` for how they stay correct under concurrent writers. They
are written once, as operations that yield their calls (:mod:`sessionary_mongodb.calls`),
and run by ``MongoDb`` with pymongo's sync client and by ``AsyncMongoStore`` with its
``AsyncMongoClient``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any, Final

import attrs
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from sessionary.codec import dump_json, dump_run
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
    StorageError,
)
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import new_session_info, preview_of
from sessionary.storage.summaries import paused
from sessionary_mongodb.calls import RUNS, SESSIONS, SETUP, Op
from sessionary_mongodb.connection import as_int, expired
from sessionary_mongodb.documents import (
    CURRENT,
    check_run_size,
    check_session_size,
    fold_name,
    info_from_doc,
    refuse_newer,
    run_doc,
    session_doc,
    stored_changes,
)
from sessionary_mongodb.folding import summary_update
from sessionary_mongodb.tail import MongoTail, claim_seq

__all__ = ["MongoWrites"]

_RETRIES: Final = 5
#: Seconds after which an append that reserved a slot and never finished (its process
#: died between its two steps) no longer keeps a conditional delete from its session.
STALE_RESERVATION: Final = 300.0


class MongoWrites(MongoTail):
    """The write half of the storage contract on MongoDB, as operations."""

    def _find_session(self, session_id: str, user_id: str | None) -> Op[dict[str, Any] | None]:
        doc: dict[str, Any] | None = yield SESSIONS.find_one(
            self._session_filter(session_id, user_id)
        )
        return doc

    # ------------------------------------------------------------------ appending

    def _append_op(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> Op[SessionInfo]:
        text = dump_run(run)
        check_run_size(run, text, self.max_document_bytes)
        yield SETUP
        sid, rid = run.session_id, run.run_id
        action = f"appending run {rid!r} to session {sid!r}"
        with self._do(action):
            now = time.time()
            # The run document's _id, listed in the session's ``inflight`` from the
            # reservation until the run is counted: readers leave those runs out.
            token = ObjectId()
            if expected_version is None:
                key, seq = yield from self._reserve_seq(run, session_type, now, token)
            else:  # the version is claimed with the sequence number, in one update
                key, seq = yield from claim_seq(
                    self, run, session_type, now, expected_version, token
                )
            try:
                yield RUNS.insert_one({"_id": token, **run_doc(run, text, key, seq)})
            except DuplicateKeyError:
                yield from self._release(sid, key, token)
                yield from self._abandon_empty(sid, key, seq)
                if (yield RUNS.find_one({"session_key": key, "run_id": rid}, {"_id": 1})):
                    raise ConflictError(f"run {rid!r} already exists in session {sid!r}") from None
                raise
            except PyMongoError:
                yield from self._release(sid, key, token)
                yield from self._abandon_empty(sid, key, seq)
                raise
            try:
                doc = yield from self._fold_into_summary(
                    run, key, seq, now, token, claimed=expected_version is not None
                )
            except PyMongoError:
                # Stored whole or not at all: take the uncounted run back if we still can.
                with contextlib.suppress(PyMongoError):
                    yield RUNS.delete_one({"session_key": key, "seq": seq})
                yield from self._release(sid, key, token)
                raise
            if doc is None:
                yield RUNS.delete_one({"session_key": key, "seq": seq})
                refuse_newer((yield SESSIONS.find_one({"_id": sid}, {"schema": 1})))
                raise ConflictError(
                    f"session {sid!r} was deleted while run {rid!r} was being appended; "
                    "the run was not stored"
                )
        return info_from_doc(doc)

    def _reserve_seq(
        self, run: Run, session_type: SessionType, now: float, token: ObjectId
    ) -> Op[tuple[str, int]]:
        """Take the session's next sequence number, creating the session if it is new."""
        sid = run.session_id
        # A run goes only into its own user's session; one without a user only into a
        # session without one (None matches a null or missing user_id).
        query = {**self._session_filter(sid, None), "user_id": run.user_id, **CURRENT}
        fresh = session_doc(new_session_info(run, session_type, now), uuid.uuid4().hex, 0)
        on_insert = {k: v for k, v in fresh.items() if k not in ("_id", "seq") and k not in query}
        on_insert.update(self._expiry(now))
        for _ in range(_RETRIES):
            try:
                # ``pending`` counts appends between their two steps: a conditional delete
                # (prune) skips a session with one in flight (see _delete_op).
                doc = yield SESSIONS.find_one_and_update(
                    query,
                    {
                        "$inc": {"seq": 1, "pending": 1},
                        "$set": {"reserved_at": now},
                        "$push": {"inflight": token},
                        "$setOnInsert": on_insert,
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    projection={"key": 1, "seq": 1},
                )
            except DuplicateKeyError:
                # The _id exists but did not match: another user's session, an expired
                # one, or a concurrent creation that won the race.
                existing = yield SESSIONS.find_one({"_id": sid})
                if existing is None:
                    continue
                if expired(existing):
                    yield from self._purge(sid, existing)
                    continue
                refuse_newer(existing)
                if existing.get("user_id") != run.user_id:
                    raise OwnershipError(sid, run.user_id) from None
                continue
            seq = doc.get("seq") if doc else None
            if not isinstance(seq, int):
                raise CorruptRecordError(sid, f"session sequence is {seq!r}, not an int")
            return self._key_of(doc), seq
        raise StorageError(
            f"MongoDB {self._where}: could not reserve a run slot in session {sid!r} "
            f"after {_RETRIES} attempts (the session kept being created and deleted)"
        )

    def _fold_into_summary(
        self, run: Run, key: str, seq: int, now: float, token: ObjectId, *, claimed: bool = False
    ) -> Op[dict[str, Any] | None]:
        """Count the stored run in the session's summary; None if the session is gone.

        The run's ``token`` leaves ``inflight`` in the same update: readers see it from then.
        ``claimed``: the version was bumped already, when the sequence was reserved.
        """
        increments = {
            "version": 0 if claimed else 1,
            "pending": -1,
            "run_count": 1,
            "paused_runs": paused(run),
            "input_tokens": run.metrics.input_tokens,
            "output_tokens": run.metrics.output_tokens,
        }
        latest: dict[str, Any] = {"last_seq": seq, "last_run_status": run.status.value}
        preview = preview_of(run)
        if preview is not None:
            latest["last_message_preview"] = preview
        doc = yield from summary_update(
            self,
            {"_id": run.session_id, "key": key},
            seq,
            increments,
            latest,
            now,
            strict=False,
            changes=run.state_changes,
            counted=token,
        )
        return doc

    def _release(self, session_id: str, key: str, token: ObjectId) -> Op[None]:
        """Take back a failed append's ``pending`` mark and its ``inflight`` token (best
        effort: the mark also goes stale, and a token names a run that is not there)."""
        with contextlib.suppress(PyMongoError):
            yield SESSIONS.update_one(
                {"_id": session_id, "key": key},
                {"$inc": {"pending": -1}, "$pull": {"inflight": token}},
            )

    def _abandon_empty(self, session_id: str, key: str, seq: int) -> Op[None]:
        """Remove a session this append created, if nothing else was put in it since."""
        if seq == 1:
            # The original error is what the caller needs to see.
            with contextlib.suppress(PyMongoError):
                yield SESSIONS.delete_one({"_id": session_id, "key": key, "seq": 1})

    # ------------------------------------------------------------------ updating

    def _update_run_op(self, run: Run, expected_version: int) -> Op[SessionInfo]:
        new = attrs.evolve(run, version=expected_version + 1)
        text = dump_run(new)
        check_run_size(new, text, self.max_document_bytes)
        yield SETUP
        sid, rid = run.session_id, run.run_id
        with self._do(f"updating run {rid!r} of session {sid!r}"):
            session = yield from self._find_session(sid, None)
            if session is None:
                raise RunNotFoundError(sid, rid)
            refuse_newer(session)
            if session.get("user_id") != run.user_id:
                raise OwnershipError(sid, run.user_id)
            key = self._key_of(session)
            now = time.time()
            old = yield RUNS.find_one_and_update(
                {"session_key": key, "run_id": rid, "version": expected_version},
                {
                    "$set": {
                        "data": text,
                        "version": new.version,
                        "input_tokens": new.metrics.input_tokens,
                        "output_tokens": new.metrics.output_tokens,
                        "paused": bool(paused(new)),
                    }
                },
                projection={
                    "seq": 1,
                    "data": 1,
                    "input_tokens": 1,
                    "output_tokens": 1,
                    "paused": 1,
                },
                return_document=ReturnDocument.BEFORE,
            )
            if old is None:
                current = yield RUNS.find_one({"session_key": key, "run_id": rid}, {"version": 1})
                if current is None:
                    raise RunNotFoundError(sid, rid)
                raise ConflictError(
                    f"run {rid!r} of session {sid!r} is at version {current.get('version')}, "
                    f"not {expected_version}: another writer updated it first"
                )
            increments = {
                "version": 1,
                "input_tokens": new.metrics.input_tokens - as_int(old, "input_tokens"),
                "output_tokens": new.metrics.output_tokens - as_int(old, "output_tokens"),
                "paused_runs": paused(new) - (1 if old.get("paused") is True else 0),
            }
            latest: dict[str, Any] = {"last_run_status": new.status.value}
            preview = preview_of(new)
            if preview is not None:
                latest["last_message_preview"] = preview
            gained = new.state_changes.since(stored_changes(sid, old.get("data")))
            doc = yield from summary_update(
                self,
                {"_id": sid, "key": key},
                as_int(old, "seq"),
                increments,
                latest,
                now,
                strict=True,
                changes=gained,
            )
            if doc is None:
                # Take the run back: the session was deleted, or migrated to a newer schema.
                yield RUNS.update_one(
                    {"session_key": key, "run_id": rid, "version": new.version},
                    {
                        "$set": {
                            "data": old.get("data"),
                            "version": expected_version,
                            "input_tokens": as_int(old, "input_tokens"),
                            "output_tokens": as_int(old, "output_tokens"),
                            "paused": old.get("paused") is True,
                        }
                    },
                )
                refuse_newer((yield SESSIONS.find_one({"_id": sid}, {"schema": 1})))
                raise ConflictError(
                    f"session {sid!r} was deleted while run {rid!r} was being updated"
                )
        return info_from_doc(doc)

    def _update_session_op(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> Op[SessionInfo]:
        fields: dict[str, Any] = {}
        for field, value in changes.items():
            if field in ("state", "metadata"):
                fields[field] = dump_json(value)
            else:
                fields[field] = value
            if field == "name":
                fields["name_folded"] = fold_name(value)
        check_session_size(
            session_id, {"_id": session_id, **fields}, self.max_document_bytes, partial=True
        )
        yield SETUP
        query = {**self._session_filter(session_id, user_id), **CURRENT}
        if expected_version is not None:
            query["version"] = expected_version
        now = time.time()
        with self._do(f"updating session {session_id!r}"):
            doc = yield SESSIONS.find_one_and_update(
                query,
                {
                    "$set": {**fields, **self._expiry(now)},
                    "$inc": {"version": 1},
                    "$max": {"updated_at": now},
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                current = yield from self._find_session(session_id, user_id)
                if current is None:
                    raise SessionNotFoundError(session_id, user_id)
                refuse_newer(current)
                raise ConflictError(
                    f"session {session_id!r} is at version {current.get('version')}, "
                    f"not {expected_version}: it changed since it was read"
                )
        return info_from_doc(doc)

    def _import_op(self, session: Session, replace: bool) -> Op[SessionInfo]:
        texts = [dump_run(run) for run in session.runs]
        for run, text in zip(session.runs, texts, strict=True):
            check_run_size(run, text, self.max_document_bytes)
        key = uuid.uuid4().hex
        try:
            doc = session_doc(session.info, key, len(session.runs))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"session is not JSON-serialisable: {exc}") from exc
        check_session_size(session.session_id, doc, self.max_document_bytes)
        yield SETUP
        sid = session.session_id
        with self._do(f"importing session {sid!r}"):
            existing = yield SESSIONS.find_one(
                {"_id": sid}, {"key": 1, "expires_at": 1, "schema": 1}
            )
            refuse_newer(existing)
            if existing is not None and expired(existing):
                yield from self._purge(sid, existing)
            elif existing is not None:
                if not replace:
                    raise ConflictError(f"session {sid!r} already exists")
                yield from self._delete_op(sid, None, None)
            expiry = self._expiry(time.time())
            if session.runs:
                # Runs first, under a key nothing points at yet: a reader never sees the
                # session without its runs.
                yield RUNS.insert_many(
                    [
                        run_doc(run, text, key, seq)
                        for seq, (run, text) in enumerate(
                            zip(session.runs, texts, strict=True), start=1
                        )
                    ]
                )
            try:
                yield SESSIONS.insert_one({**doc, **expiry})
            except PyMongoError as exc:
                yield RUNS.delete_many({"session_key": key})
                if isinstance(exc, DuplicateKeyError):
                    raise ConflictError(f"session {sid!r} already exists") from None
                raise
        return session.info

    # ------------------------------------------------------------------ deleting

    def _delete_op(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> Op[bool]:
        yield SETUP
        with self._do(f"deleting session {session_id!r}"):
            query: dict[str, Any] = {"_id": session_id, **CURRENT}
            if user_id is not None:
                query["user_id"] = user_id
            if expected_version is not None:
                # The version is in the filter: a session that moved on is not matched, nor
                # one with an append between its reservation and its summary update.
                query["version"] = expected_version
                query["$or"] = [
                    {"pending": {"$not": {"$gt": 0}}},
                    {"reserved_at": {"$lt": time.time() - STALE_RESERVATION}},
                ]
            doc = yield SESSIONS.find_one_and_delete(query, projection={"key": 1, "expires_at": 1})
            if doc is None:
                for part in ("version", "$or", "schema"):
                    query.pop(part, None)
                kept = yield SESSIONS.find_one(query, {"version": 1, "expires_at": 1, "schema": 1})
                if kept is not None and not expired(kept):
                    refuse_newer(kept)
                    if expected_version is not None:
                        if kept.get("version") == expected_version:
                            raise ConflictError(
                                f"session {session_id!r} has a run being appended, "
                                "so it was not deleted"
                            )
                        raise stale_delete(session_id, kept.get("version"), expected_version)
                return False
            yield RUNS.delete_many({"session_key": doc.get("key")})
            return not expired(doc)

    def _purge(self, session_id: str, doc: dict[str, Any]) -> Op[None]:
        """Delete an expired session the TTL monitor has not removed yet."""
        gone = yield SESSIONS.find_one_and_delete(
            {"_id": session_id, "key": doc.get("key")}, projection={"key": 1}
        )
        if gone is not None:
            yield RUNS.delete_many({"session_key": gone.get("key")})

    def _erase_user_op(self, user_id: str) -> Op[int]:
        yield SETUP
        count = 0
        with self._do(f"erasing the sessions of user {user_id!r}"):
            docs = yield SESSIONS.find({"user_id": user_id}, {"key": 1, "schema": 1})
            for doc in docs:
                refuse_newer(doc)  # before deleting any
            for doc in docs:
                gone = yield SESSIONS.find_one_and_delete(
                    {"_id": doc["_id"], "key": doc.get("key"), **CURRENT},
                    projection={"key": 1, "expires_at": 1},
                )
                if gone is not None:
                    yield RUNS.delete_many({"session_key": gone.get("key")})
                    if not expired(gone):
                        count += 1
        return count
