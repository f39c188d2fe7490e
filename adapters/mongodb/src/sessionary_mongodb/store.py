"""MongoDb: sessions in one collection, runs in another, one document per run.

Writes are designed for MongoDB's real guarantees (each single-document operation is
atomic; unique indexes hold across concurrent writers), with no client-side locks:

- Appending a run is three single-document operations: reserve the next sequence
  number of the session (``find_one_and_update`` with ``$inc``, creating the session
  on its first run and refusing another user's session in the same step), insert the
  run document, then fold the run into the session's summary with ``$inc``/``$max``.
  Runs are ordered by that sequence, totally, under any number of writers.
- A paused run is updated with a conditional ``find_one_and_update`` on its version,
  so two writers continuing the same run cannot both win.
- Every session document carries a random ``key`` that its runs point to. A session
  deleted and created again under the same ID gets a new key, so runs left behind by
  an interrupted delete can never reappear in the new session.

See ``docs/storage/mongodb.md`` for the layout, indexes, limits and failure modes.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Final

import attrs
import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.uri_parser import parse_uri

from sessionary.codec import SCHEMA_VERSION
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SchemaVersionError,
    SessionNotFoundError,
    StorageError,
)
from sessionary.storage.base import (
    Capability,
    ListFilters,
    SchemaStatus,
    Store,
    encode_cursor,
    new_session_info,
    preview_of,
)
from sessionary_mongodb.documents import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    check_run_size,
    check_session_size,
    dump_json,
    encode_run_text,
    fold_name,
    info_from_doc,
    run_doc,
    run_from_doc,
    session_doc,
)
from sessionary_mongodb.errors import describe_url, split_url, translate_errors

__all__ = ["DEFAULT_SERVER_SELECTION_TIMEOUT_MS", "MongoDb"]

#: How long pymongo looks for a server before failing (pymongo's own default is 30 s).
DEFAULT_SERVER_SELECTION_TIMEOUT_MS: Final = 3000
DEFAULT_DB_NAME: Final = "sessionary"
_INVALID_DB_CHARS: Final = frozenset('/\\. "$\x00')
_SCHEMA_ID: Final = "schema"
_RETRIES: Final = 5
_URL_PREFIXES: Final = ("mongodb://", "mongodb+srv://")


class MongoDb(Store):
    """Sessions stored in MongoDB: ``mongodb://`` and ``mongodb+srv://``.

    >>> db = MongoDb(db_url="mongodb://localhost:27017", db_name="sessionary")  # no I/O yet

    Pass ``client=`` to use a ``pymongo.MongoClient`` you configured yourself (it is
    not closed by :meth:`close`); ``ttl`` (seconds) makes sessions expire that long
    after their last write.
    """

    name: ClassVar[str] = "mongodb"
    url_schemes: ClassVar[tuple[str, ...]] = ("mongodb", "mongodb+srv")
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    _sessions: Any
    _runs: Any
    _meta: Any

    def __init__(
        self,
        db_url: str | None = None,
        db_name: str | None = None,
        *,
        client: Any = None,
        sessions_collection: str = "sessions",
        runs_collection: str = "runs",
        ttl: float | None = None,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        server_selection_timeout_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    ) -> None:
        if client is not None and db_url is not None:
            raise InvalidInputError("pass either db_url or client to MongoDb, not both")
        if db_url is None and client is None:
            db_url = "mongodb://localhost:27017"
        url_db: str | None = None
        if db_url is not None:
            if not isinstance(db_url, str) or not db_url.startswith(_URL_PREFIXES):
                raise InvalidInputError(
                    f"db_url must be a mongodb:// or mongodb+srv:// URL, got {db_url!r}"
                )
            url_db = split_url(db_url)[1]
        self.db_name = _validate_db_name(
            db_name if db_name is not None else (url_db or DEFAULT_DB_NAME)
        )
        for what, value in (
            ("sessions_collection", sessions_collection),
            ("runs_collection", runs_collection),
        ):
            if not isinstance(value, str) or not value or "$" in value or "\x00" in value:
                raise InvalidInputError(f"{what} must be a non-empty collection name")
        if ttl is not None and (
            not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not ttl > 0
        ):
            raise InvalidInputError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if not isinstance(max_document_bytes, int) or max_document_bytes < 1024:
            raise InvalidInputError("max_document_bytes must be an int of at least 1024")
        self.ttl = None if ttl is None else float(ttl)
        self.max_document_bytes = max_document_bytes
        self._owns_client = client is None
        self._url = db_url
        self._timeout_ms = server_selection_timeout_ms
        self._collection_names = (sessions_collection, runs_collection)
        self._client_lock = threading.Lock()
        self._client: Any = None
        if client is None:
            assert db_url is not None
            if db_url.startswith("mongodb://"):
                _check_url(db_url)  # mongodb+srv:// cannot be parsed without a DNS lookup
            self._where = f"at {describe_url(db_url)} (database {self.db_name!r})"
        else:
            self._where = f"(database {self.db_name!r})"
            self._bind(client)
        self._ready = threading.Event()
        self._ready_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The pymongo (or mongomock) client, created on first use from ``db_url``."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    with self._do("connecting"):
                        client: Any = pymongo.MongoClient(
                            self._url,
                            connect=False,
                            serverSelectionTimeoutMS=_option(
                                self._url or "", "serverSelectionTimeoutMS"
                            )
                            or self._timeout_ms,
                        )
                    self._bind(client)
        return self._client

    def _bind(self, client: Any) -> None:
        database = client[self.db_name]
        self._sessions = database[self._collection_names[0]]
        self._runs = database[self._collection_names[1]]
        self._meta = database["sessionary_meta"]
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> MongoDb:
        """Open ``mongodb://HOST[:PORT]/DBNAME?options`` (database ``sessionary`` if none)."""
        return cls(db_url=url)

    # ------------------------------------------------------------------ setup

    def _do(self, action: str) -> AbstractContextManager[None]:
        return translate_errors(self._where, action)

    def _ensure(self) -> None:
        """Create indexes and check the schema once per store object (idempotent)."""
        if self._ready.is_set():
            return
        self.client  # noqa: B018 - connects the collections on first use
        with self._ready_lock:
            if self._ready.is_set():
                return
            with self._do("creating indexes"):
                self._runs.create_index(
                    [("session_key", 1), ("seq", 1)], unique=True, name="session_seq"
                )
                self._runs.create_index(
                    [("session_key", 1), ("run_id", 1)], unique=True, name="session_run"
                )
                self._sessions.create_index([("user_id", 1), ("updated_at", -1)], name="user")
                self._sessions.create_index([("agent_id", 1), ("updated_at", -1)], name="agent")
                self._sessions.create_index([("team_id", 1), ("updated_at", -1)], name="team")
                self._sessions.create_index([("updated_at", -1), ("_id", -1)], name="updated")
                if self.ttl is not None:
                    self._sessions.create_index(
                        "expires_at", expireAfterSeconds=0, name="expires_at"
                    )
                schema = self._meta.find_one_and_update(
                    {"_id": _SCHEMA_ID},
                    {"$setOnInsert": {"version": SCHEMA_VERSION}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            stored = schema.get("version") if schema else None
            if not isinstance(stored, int) or stored > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"MongoDB {self._where} holds sessionary schema version {stored!r}; this "
                    f"sessionary writes version {SCHEMA_VERSION}: upgrade sessionary to use it"
                )
            self._ready.set()

    def schema_status(self) -> SchemaStatus:
        """The schema version stored in the database against the one this code writes."""
        self._ensure()
        with self._do("reading the schema version"):
            doc = self._meta.find_one({"_id": _SCHEMA_ID})
        current = doc.get("version", SCHEMA_VERSION) if doc else SCHEMA_VERSION
        return SchemaStatus(current=current, latest=SCHEMA_VERSION)

    def ping(self) -> None:
        """Ask the server to answer; raise StoreUnavailableError naming it if it does not."""
        with self._do("pinging the server"):
            self.client.admin.command("ping")

    def close(self) -> None:
        """Close the client if this store created it (a client you passed stays open)."""
        if self._owns_client and self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ helpers

    def _expiry(self, now: float) -> dict[str, Any]:
        if self.ttl is None:
            return {}
        moment = datetime.datetime.fromtimestamp(now + self.ttl, tz=datetime.timezone.utc)
        return {"expires_at": moment}

    def _live(self) -> dict[str, Any]:
        """A filter that hides sessions past their expiry before the TTL monitor runs.

        Applied whether or not this store has a TTL: a session another store wrote
        with an expiry is gone for every reader once it passes.
        """
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        return {"expires_at": {"$not": {"$lte": now}}}

    def _session_filter(self, session_id: str, user_id: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {"_id": session_id, **self._live()}
        if user_id is not None:
            query["user_id"] = user_id
        return query

    def _find_session(self, session_id: str, user_id: str | None) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = self._sessions.find_one(
            self._session_filter(session_id, user_id)
        )
        return doc

    @staticmethod
    def _key_of(doc: dict[str, Any]) -> str:
        key = doc.get("key")
        if not isinstance(key, str):
            raise CorruptRecordError(str(doc.get("_id")), "session document has no run key")
        return key

    # ------------------------------------------------------------------ appending

    def _append_run(self, run: Run, session_type: SessionType) -> SessionInfo:
        text = encode_run_text(run)
        check_run_size(run, text, self.max_document_bytes)
        self._ensure()
        sid, rid = run.session_id, run.run_id
        action = f"appending run {rid!r} to session {sid!r}"
        with self._do(action):
            now = time.time()
            key, seq = self._reserve_seq(run, session_type, now)
            try:
                self._runs.insert_one(run_doc(run, text, key, seq))
            except DuplicateKeyError:
                self._abandon_empty(sid, key, seq)
                if self._runs.find_one({"session_key": key, "run_id": rid}, {"_id": 1}):
                    raise ConflictError(f"run {rid!r} already exists in session {sid!r}") from None
                raise
            except PyMongoError:
                self._abandon_empty(sid, key, seq)
                raise
            try:
                doc = self._fold_into_summary(run, key, seq, now)
            except PyMongoError:
                # Stored whole or not at all: take the uncounted run back if we still can.
                with contextlib.suppress(PyMongoError):
                    self._runs.delete_one({"session_key": key, "seq": seq})
                raise
            if doc is None:
                self._runs.delete_one({"session_key": key, "seq": seq})
                raise ConflictError(
                    f"session {sid!r} was deleted while run {rid!r} was being appended; "
                    "the run was not stored"
                )
        return info_from_doc(doc)

    def _reserve_seq(self, run: Run, session_type: SessionType, now: float) -> tuple[str, int]:
        """Take the session's next sequence number, creating the session if it is new."""
        sid = run.session_id
        query = self._session_filter(sid, run.user_id)
        fresh = session_doc(new_session_info(run, session_type, now), uuid.uuid4().hex, 0)
        on_insert = {k: v for k, v in fresh.items() if k not in ("_id", "seq") and k not in query}
        on_insert.update(self._expiry(now))
        for _ in range(_RETRIES):
            try:
                doc = self._sessions.find_one_and_update(
                    query,
                    {"$inc": {"seq": 1}, "$setOnInsert": on_insert},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    projection={"key": 1, "seq": 1},
                )
            except DuplicateKeyError:
                # The _id exists but did not match: another user's session, an expired
                # one, or a concurrent creation that won the race.
                existing = self._sessions.find_one({"_id": sid})
                if existing is None:
                    continue
                if _expired(existing):
                    self._purge(sid, existing)
                    continue
                if run.user_id is not None and existing.get("user_id") != run.user_id:
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

    def _fold_into_summary(self, run: Run, key: str, seq: int, now: float) -> dict[str, Any] | None:
        """Count the stored run in the session's summary; None if the session is gone."""
        increments = {
            "version": 1,
            "run_count": 1,
            "input_tokens": run.metrics.input_tokens,
            "output_tokens": run.metrics.output_tokens,
        }
        latest: dict[str, Any] = {"last_seq": seq, "last_run_status": run.status.value}
        preview = preview_of(run)
        if preview is not None:
            latest["last_message_preview"] = preview
        return self._summary_update(
            {"_id": run.session_id, "key": key}, seq, increments, latest, now, strict=False
        )

    def _summary_update(
        self,
        query: dict[str, Any],
        seq: int,
        increments: dict[str, int],
        latest: dict[str, Any],
        now: float,
        *,
        strict: bool,
    ) -> dict[str, Any] | None:
        """Apply counters; also ``latest`` (status, preview) if the run is the session's last.

        The first attempt is one atomic update guarded on ``last_seq``; when a later run
        already set the summary it is repeated without ``latest``.
        """
        update: dict[str, Any] = {"$inc": increments, "$max": {"updated_at": now}}
        expiry = self._expiry(now)
        guard = {"last_seq": seq} if strict else {"last_seq": {"$lt": seq}}
        doc: dict[str, Any] | None = self._sessions.find_one_and_update(
            {**query, **guard},
            {**update, "$set": {**latest, **expiry}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            if expiry:
                update["$set"] = expiry
            doc = self._sessions.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        return doc

    def _abandon_empty(self, session_id: str, key: str, seq: int) -> None:
        """Remove a session this append created, if nothing else was put in it since."""
        if seq == 1:
            # The original error is what the caller needs to see.
            with contextlib.suppress(PyMongoError):
                self._sessions.delete_one({"_id": session_id, "key": key, "seq": 1})

    # ------------------------------------------------------------------ updating

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        new = attrs.evolve(run, version=expected_version + 1)
        text = encode_run_text(new)
        check_run_size(new, text, self.max_document_bytes)
        self._ensure()
        sid, rid = run.session_id, run.run_id
        with self._do(f"updating run {rid!r} of session {sid!r}"):
            session = self._find_session(sid, None)
            if session is None:
                raise RunNotFoundError(sid, rid)
            if run.user_id is not None and session.get("user_id") != run.user_id:
                raise OwnershipError(sid, run.user_id)
            key = self._key_of(session)
            now = time.time()
            old = self._runs.find_one_and_update(
                {"session_key": key, "run_id": rid, "version": expected_version},
                {
                    "$set": {
                        "data": text,
                        "version": new.version,
                        "input_tokens": new.metrics.input_tokens,
                        "output_tokens": new.metrics.output_tokens,
                    }
                },
                projection={"seq": 1, "input_tokens": 1, "output_tokens": 1},
                return_document=ReturnDocument.BEFORE,
            )
            if old is None:
                current = self._runs.find_one({"session_key": key, "run_id": rid}, {"version": 1})
                if current is None:
                    raise RunNotFoundError(sid, rid)
                raise ConflictError(
                    f"run {rid!r} of session {sid!r} is at version {current.get('version')}, "
                    f"not {expected_version}: another writer updated it first"
                )
            increments = {
                "version": 1,
                "input_tokens": new.metrics.input_tokens - _int(old, "input_tokens"),
                "output_tokens": new.metrics.output_tokens - _int(old, "output_tokens"),
            }
            latest: dict[str, Any] = {"last_run_status": new.status.value}
            preview = preview_of(new)
            if preview is not None:
                latest["last_message_preview"] = preview
            doc = self._summary_update(
                {"_id": sid, "key": key}, _int(old, "seq"), increments, latest, now, strict=True
            )
            if doc is None:
                raise ConflictError(
                    f"session {sid!r} was deleted while run {rid!r} was being updated"
                )
        return info_from_doc(doc)

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
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
        self._ensure()
        query = self._session_filter(session_id, user_id)
        if expected_version is not None:
            query["version"] = expected_version
        now = time.time()
        with self._do(f"updating session {session_id!r}"):
            doc = self._sessions.find_one_and_update(
                query,
                {
                    "$set": {**fields, **self._expiry(now)},
                    "$inc": {"version": 1},
                    "$max": {"updated_at": now},
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                current = self._find_session(session_id, user_id)
                if current is None:
                    raise SessionNotFoundError(session_id, user_id)
                raise ConflictError(
                    f"session {session_id!r} is at version {current.get('version')}, "
                    f"not {expected_version}: it changed since it was read"
                )
        return info_from_doc(doc)

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        texts = [encode_run_text(run) for run in session.runs]
        for run, text in zip(session.runs, texts, strict=True):
            check_run_size(run, text, self.max_document_bytes)
        key = uuid.uuid4().hex
        try:
            doc = session_doc(session.info, key, len(session.runs))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"session is not JSON-serialisable: {exc}") from exc
        check_session_size(session.session_id, doc, self.max_document_bytes)
        self._ensure()
        sid = session.session_id
        with self._do(f"importing session {sid!r}"):
            existing = self._sessions.find_one({"_id": sid}, {"key": 1, "expires_at": 1})
            if existing is not None and _expired(existing):
                self._purge(sid, existing)
            elif existing is not None:
                if not replace:
                    raise ConflictError(f"session {sid!r} already exists")
                self._delete_session(sid, None)
            expiry = self._expiry(time.time())
            if session.runs:
                # Runs first, under a key nothing points at yet: a reader never sees the
                # session without its runs.
                self._runs.insert_many(
                    [
                        run_doc(run, text, key, seq)
                        for seq, (run, text) in enumerate(
                            zip(session.runs, texts, strict=True), start=1
                        )
                    ]
                )
            try:
                self._sessions.insert_one({**doc, **expiry})
            except PyMongoError as exc:
                self._runs.delete_many({"session_key": key})
                if isinstance(exc, DuplicateKeyError):
                    raise ConflictError(f"session {sid!r} already exists") from None
                raise
        return session.info

    # ------------------------------------------------------------------ deleting

    def _delete_session(self, session_id: str, user_id: str | None) -> bool:
        self._ensure()
        with self._do(f"deleting session {session_id!r}"):
            query: dict[str, Any] = {"_id": session_id}
            if user_id is not None:
                query["user_id"] = user_id
            doc = self._sessions.find_one_and_delete(query, projection={"key": 1, "expires_at": 1})
            if doc is None:
                return False
            self._runs.delete_many({"session_key": doc.get("key")})
            return not _expired(doc)

    def _trim_runs(self, session_id: str, keep_last: int, user_id: str | None) -> int:
        self._ensure()
        with self._do(f"trimming the runs of session {session_id!r}"):
            doc = self._find_session(session_id, user_id)
            if doc is None:
                raise SessionNotFoundError(session_id, user_id)
            key = self._key_of(doc)
            doomed = list(
                self._runs.find(
                    {"session_key": key},
                    {"_id": 1},
                    sort=[("seq", -1)],
                    skip=keep_last,
                )
            )
            removed = input_tokens = output_tokens = 0
            for run in doomed:
                # One at a time, so a concurrent trim never makes us subtract a run twice.
                gone = self._runs.find_one_and_delete(
                    {"_id": run["_id"]}, projection={"input_tokens": 1, "output_tokens": 1}
                )
                if gone is not None:
                    removed += 1
                    input_tokens += _int(gone, "input_tokens")
                    output_tokens += _int(gone, "output_tokens")
            if removed:
                self._sessions.update_one(
                    {"_id": session_id, "key": key},
                    {
                        "$inc": {
                            "version": 1,
                            "run_count": -removed,
                            "input_tokens": -input_tokens,
                            "output_tokens": -output_tokens,
                        },
                        "$max": {"updated_at": time.time()},
                    },
                )
        return removed

    def _purge(self, session_id: str, doc: dict[str, Any]) -> None:
        """Delete an expired session the TTL monitor has not removed yet."""
        gone = self._sessions.find_one_and_delete(
            {"_id": session_id, "key": doc.get("key")}, projection={"key": 1}
        )
        if gone is not None:
            self._runs.delete_many({"session_key": gone.get("key")})

    def _erase_user(self, user_id: str) -> int:
        self._ensure()
        count = 0
        with self._do(f"erasing the sessions of user {user_id!r}"):
            for doc in list(self._sessions.find({"user_id": user_id}, {"key": 1})):
                gone = self._sessions.find_one_and_delete(
                    {"_id": doc["_id"], "key": doc.get("key")},
                    projection={"key": 1, "expires_at": 1},
                )
                if gone is not None:
                    self._runs.delete_many({"session_key": gone.get("key")})
                    if not _expired(gone):
                        count += 1
        return count

    # ------------------------------------------------------------------ reading

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        self._ensure()
        with self._do(f"reading session {session_id!r}"):
            doc = self._find_session(session_id, user_id)
            if doc is None:
                return None
            info = info_from_doc(doc)
            if last_n_runs == 0:
                return Session.from_info(info, ())
            query = {"session_key": self._key_of(doc)}
            if last_n_runs is None:
                docs = list(self._runs.find(query, sort=[("seq", 1)]))
            else:
                docs = list(self._runs.find(query, sort=[("seq", -1)], limit=last_n_runs))
                docs.reverse()
        return Session.from_info(info, [run_from_doc(session_id, d) for d in docs])

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        self._ensure()
        with self._do(f"reading session {session_id!r}"):
            doc = self._find_session(session_id, user_id)
        return None if doc is None else info_from_doc(doc)

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        self._ensure()
        with self._do(f"reading run {run_id!r} of session {session_id!r}"):
            doc = self._sessions.find_one(self._session_filter(session_id, user_id), {"key": 1})
            if doc is None:
                return None
            found = self._runs.find_one({"session_key": self._key_of(doc), "run_id": run_id})
        return None if found is None else run_from_doc(session_id, found)

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        self._ensure()
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
            raw = list(
                self._sessions.find(query, sort=[("updated_at", -1), ("_id", -1)], limit=limit + 1)
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


# --------------------------------------------------------------------------- helpers


def _validate_db_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"db_name must be a non-empty str, got {name!r}")
    bad = sorted(set(name) & _INVALID_DB_CHARS)
    if bad or len(name.encode()) > 63:
        raise InvalidInputError(
            f"db_name {name!r} is not a valid MongoDB database name "
            f'(at most 63 bytes, none of / \\ . space " $ or NUL)'
        )
    return name


def _check_url(url: str) -> None:
    """Refuse a malformed ``mongodb://`` URL now, naming no credentials."""
    try:
        parse_uri(url)
    except (PyMongoError, ValueError) as exc:
        message = str(exc).replace(url, describe_url(url))
        raise InvalidInputError(
            f"{describe_url(url)} is not a valid MongoDB URL: {message}"
        ) from exc


def _option(url: str, name: str) -> int | None:
    """An integer option given in the URL's query string, if any."""
    query = url.partition("?")[2]
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key.lower() == name.lower() and value.isdigit():
            return int(value)
    return None


def _expired(doc: Mapping[str, Any]) -> bool:
    moment = doc.get("expires_at")
    if not isinstance(moment, datetime.datetime):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment <= datetime.datetime.now(tz=datetime.timezone.utc)


def _int(doc: Mapping[str, Any], field: str) -> int:
    value = doc.get(field, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
