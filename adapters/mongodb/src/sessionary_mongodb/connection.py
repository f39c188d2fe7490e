"""What every part of MongoDb shares: options, the client, setup, and error context.

:class:`MongoConnection` is the base of :class:`~sessionary_mongodb.store.MongoDb`; it
holds no storage logic of its own (writes are in :mod:`sessionary_mongodb.writes`,
reads in :mod:`sessionary_mongodb.store`).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from sessionary.codec import SCHEMA_VERSION
from sessionary.errors import CorruptRecordError, InvalidInputError, SchemaVersionError
from sessionary.storage.base import SchemaStatus, Store
from sessionary_mongodb.documents import DEFAULT_MAX_DOCUMENT_BYTES
from sessionary_mongodb.errors import describe_url, split_url, translate_errors

__all__ = [
    "DEFAULT_DB_NAME",
    "DEFAULT_SERVER_SELECTION_TIMEOUT_MS",
    "MongoConnection",
    "as_int",
    "expired",
]

#: How long pymongo looks for a server before failing (pymongo's own default is 30 s).
DEFAULT_SERVER_SELECTION_TIMEOUT_MS: Final = 3000
DEFAULT_DB_NAME: Final = "sessionary"
_INVALID_DB_CHARS: Final = frozenset('/\\. "$\x00')
_SCHEMA_ID: Final = "schema"
_URL_PREFIXES: Final = ("mongodb://", "mongodb+srv://")


class MongoConnection(Store):
    """Options, the lazily created client, the collections, indexes and schema check."""

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


def expired(doc: Mapping[str, Any]) -> bool:
    moment = doc.get("expires_at")
    if not isinstance(moment, datetime.datetime):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment <= datetime.datetime.now(tz=datetime.timezone.utc)


def as_int(doc: Mapping[str, Any], field: str) -> int:
    value = doc.get(field, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
