"""What both MongoDB stores share: options, error context, the filters they query with.

:class:`MongoSettings` is the base of ``MongoDb`` and ``AsyncMongoStore``: it checks the
options and builds the filters every operation uses, and holds neither storage logic
(writes are in :mod:`sessionary_mongodb.writes`, reads and setup in
:mod:`sessionary_mongodb.reads`) nor a client: :class:`MongoConnection` adds the sync
``pymongo.MongoClient``, :mod:`sessionary_mongodb.aio` the ``AsyncMongoClient``.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final

import pymongo
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from sessionary.errors import CorruptRecordError, InvalidInputError
from sessionary.storage.base import Store
from sessionary_mongodb.documents import DEFAULT_MAX_DOCUMENT_BYTES, refuse_newer
from sessionary_mongodb.errors import describe_url, split_url, translate_errors

__all__ = [
    "DEFAULT_DB_NAME",
    "DEFAULT_SERVER_SELECTION_TIMEOUT_MS",
    "SCHEMA_ID",
    "MongoConnection",
    "MongoSettings",
    "as_int",
    "expired",
    "selection_timeout_ms",
]

#: How long pymongo looks for a server before failing (pymongo's own default is 30 s).
DEFAULT_SERVER_SELECTION_TIMEOUT_MS: Final = 3000
DEFAULT_DB_NAME: Final = "sessionary"
#: The ``_id`` of the schema record in ``sessionary_meta``.
SCHEMA_ID: Final = "schema"
_INVALID_DB_CHARS: Final = frozenset('/\\. "$\x00')
_URL_PREFIXES: Final = ("mongodb://", "mongodb+srv://")


class MongoSettings:
    """The options of a MongoDB store, its name in messages, and its query filters."""

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
            raise InvalidInputError(
                f"pass either db_url or client to {type(self).__name__}, not both"
            )
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
        self._ready = False  # indexes made and schema checked (see calls.SETUP)
        if client is None:
            assert db_url is not None
            if db_url.startswith("mongodb://"):
                _check_url(db_url)  # mongodb+srv:// cannot be parsed without a DNS lookup
            self._where = f"at {describe_url(db_url)} (database {self.db_name!r})"
        else:
            self._where = f"(database {self.db_name!r})"
            self._adopt(client)

    def _adopt(self, client: Any) -> None:
        """Use an application's own ``client`` (``__init__`` calls this)."""
        raise NotImplementedError

    def _do(self, action: str) -> AbstractContextManager[None]:
        return translate_errors(self._where, action)

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

    @staticmethod
    def _key_of(doc: dict[str, Any]) -> str:
        """The key a session's runs carry; refuses a document of a newer schema."""
        refuse_newer(doc)
        key = doc.get("key")
        if not isinstance(key, str):
            raise CorruptRecordError(str(doc.get("_id")), "session document has no run key")
        return key


class MongoConnection(MongoSettings, Store):
    """The sync side: a ``pymongo.MongoClient`` (made on first use) and its collections."""

    _sessions: Any
    _runs: Any
    _meta: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._client_lock = threading.Lock()
        self._client: Any = None
        self._ready_lock = threading.Lock()
        super().__init__(*args, **kwargs)

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
                            serverSelectionTimeoutMS=selection_timeout_ms(
                                self._url, self._timeout_ms
                            ),
                        )
                    self._bind(client)
        return self._client

    def _adopt(self, client: Any) -> None:
        self._bind(client)

    def _bind(self, client: Any) -> None:
        database = client[self.db_name]
        self._sessions = database[self._collection_names[0]]
        self._runs = database[self._collection_names[1]]
        self._meta = database["sessionary_meta"]
        self._client = client

    def close(self) -> None:
        """Close the client if this store created it (a client you passed stays open)."""
        if self._owns_client and self._client is not None:
            self._client.close()


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


def selection_timeout_ms(url: str | None, default: int) -> int:
    """``serverSelectionTimeoutMS`` from the URL's query string, else ``default``."""
    query = (url or "").partition("?")[2]
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key.lower() == "serverselectiontimeoutms" and value.isdigit():
            return int(value)
    return default


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
