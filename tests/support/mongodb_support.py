"""mongomock made to behave like a server for concurrency, and an operation counter.

A MongoDB server executes each single-document operation atomically and enforces
unique indexes under any number of writers. mongomock does neither under threads:
its ``find_one_and_update`` is a find followed by an update in Python, so two threads
can both read sequence 7 and both write 8. :func:`server_like_mongomock` wraps a
mongomock client so that each collection operation runs under one lock: exactly the
guarantee a server gives, no more. Sequences of operations (what the adapter does
for one append) still interleave freely, so a race in the adapter still shows.

:class:`OperationLog` counts the operations and the documents each one read and
wrote; the benchmark and the cost tests use it. :class:`StoreFactory` opens fresh
stores on mongomock or on a real server, for test suites that run on either.
Requires ``mongomock`` (except :class:`StoreFactory` with a URL).

>>> client = server_like_mongomock()
>>> client["db"]["c"].insert_one({"_id": 1}).inserted_id
1
>>> client.log.total()
{'operations': 1, 'read': 0, 'written': 1}
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import attrs
from sessionary_mongodb.documents import SCHEMA_VERSION

from sessionary.errors import StoreUnavailableError

if TYPE_CHECKING:
    from sessionary_mongodb.store import MongoDb

__all__ = [
    "Operation",
    "OperationLog",
    "ServerLikeClient",
    "StoreFactory",
    "server_like_mongomock",
    "url_with_db",
]

# URL -> why it could not be reached, so later tests fail fast with the same reason.
_UNREACHABLE: dict[str, str] = {}

# Operations whose result is a cursor: materialised under the lock, like a server's batch.
_CURSORS = frozenset({"find", "aggregate", "list_indexes"})


@attrs.frozen
class Operation:
    """One collection operation and the documents it read and wrote."""

    collection: str
    method: str
    read: int
    written: int


@attrs.define
class OperationLog:
    """Every collection operation made through a :class:`ServerLikeClient`."""

    operations: list[Operation] = attrs.field(factory=list)

    def clear(self) -> None:
        """Forget what was recorded."""
        self.operations.clear()

    def total(self) -> dict[str, int]:
        """Operations, documents read and documents written since the last clear."""
        return {
            "operations": len(self.operations),
            "read": sum(op.read for op in self.operations),
            "written": sum(op.written for op in self.operations),
        }

    def record(self, collection: str, method: str, result: Any) -> None:
        """Count what one operation's result says it read and wrote."""
        read = written = 0
        if method in _CURSORS:
            read = len(result)
        elif method == "find_one":
            read = int(result is not None)
        elif method.startswith("find_one_and_"):
            read = int(result is not None)
            written = int(result is not None or method == "find_one_and_update")
        elif method == "insert_one":
            written = 1
        elif method == "insert_many":
            written = len(result.inserted_ids)
        elif method in ("update_one", "update_many", "replace_one"):
            written = result.modified_count + int(result.upserted_id is not None)
        elif method in ("delete_one", "delete_many"):
            written = result.deleted_count
        elif method in ("count_documents",):
            read = 0
        self.operations.append(Operation(collection, method, read, written))


class _Collection:
    def __init__(self, collection: Any, lock: threading.RLock, log: OperationLog) -> None:
        self._collection = collection
        self._lock = lock
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def atomic(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = attr(*args, **kwargs)
                if name in _CURSORS:
                    result = list(result)
                self._log.record(self._collection.name, name, result)
            return result

        return atomic


class _Database:
    def __init__(self, database: Any, lock: threading.RLock, log: OperationLog) -> None:
        self._database = database
        self._lock = lock
        self._log = log

    def __getitem__(self, name: str) -> _Collection:
        return _Collection(self._database[name], self._lock, self._log)

    def get_collection(self, name: str, **options: Any) -> _Collection:
        return _Collection(self._database.get_collection(name, **options), self._lock, self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


class ServerLikeClient:
    """A mongomock client whose collection operations are each atomic, as on a server."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.RLock()
        #: What went through this client (see :class:`OperationLog`).
        self.log = OperationLog()

    def __getitem__(self, name: str) -> _Database:
        return _Database(self._client[name], self._lock, self.log)

    def get_database(self, name: str, **options: Any) -> _Database:
        return _Database(self._client.get_database(name, **options), self._lock, self.log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def server_like_mongomock(client: Any = None) -> ServerLikeClient:
    """Wrap ``client`` (a new ``mongomock.MongoClient()`` by default)."""
    if client is None:
        try:
            import mongomock
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "server_like_mongomock needs mongomock: pip install mongomock"
            ) from exc
        client = mongomock.MongoClient()
    return ServerLikeClient(client)


def url_with_db(url: str, db_name: str) -> str:
    """``url`` with its database path replaced by ``db_name`` (options kept).

    >>> url_with_db("mongodb://u:p@h1,h2:27018/old?replicaSet=rs", "new")
    'mongodb://u:p@h1,h2:27018/new?replicaSet=rs'
    """
    scheme, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    query = path.partition("?")[2]
    if "?" in authority:  # mongodb://host?opts, with no path
        authority, _, query = authority.partition("?")
    return f"{scheme}://{authority}/{db_name}" + (f"?{query}" if query else "")


class StoreFactory:
    """Fresh, empty stores for tests: on mongomock, or on the server at ``url``.

    On a server each store gets a database of its own, dropped by :meth:`cleanup`;
    a server that does not answer raises StoreUnavailableError at once, so a test
    that needs it fails instead of passing vacuously.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.stores: list[MongoDb] = []
        self.databases: list[str] = []

    @property
    def mode(self) -> str:
        """``"real"`` with a URL, else ``"mongomock"``."""
        return "mongomock" if self.url is None else "real"

    def url_for(self, db_name: str) -> str:
        """The URL of one of this factory's databases (real server only)."""
        if self.url is None:
            raise ValueError("a mongomock store has no URL")
        return url_with_db(self.url, db_name)

    def new_store(self, **options: Any) -> MongoDb:
        """An empty store in a new database; ``options`` go to :class:`MongoDb`."""
        from sessionary_mongodb.store import MongoDb

        db_name = f"sessionary_test_{uuid.uuid4().hex[:12]}"
        if self.url is None:
            store = MongoDb(client=server_like_mongomock(), db_name=db_name, **options)
        else:
            known = _UNREACHABLE.get(self.url)
            if known is not None:  # fail at once, not after another selection timeout
                raise StoreUnavailableError(known)
            store = MongoDb(db_url=self.url_for(db_name), **options)
            try:
                store.ping()
            except StoreUnavailableError as exc:
                store.close()
                message = (
                    "a real MongoDB server was asked for (SESSIONARY_MONGODB_URL) but "
                    f"cannot be reached: {exc}"
                )
                _UNREACHABLE[self.url] = message
                raise StoreUnavailableError(message) from exc
            self.databases.append(db_name)
        self.stores.append(store)
        return store

    def cleanup(self) -> None:
        """Drop the databases made on a real server and close every store."""
        from sessionary_mongodb.store import MongoDb

        if self.url is not None and self.databases:
            cleaner = MongoDb(db_url=self.url)
            try:
                for name in self.databases:
                    cleaner.client.drop_database(name)
            finally:
                cleaner.close()
        for store in self.stores:
            store.close()
        self.stores.clear()
        self.databases.clear()


def damage_session_doc(collection: Any, session_id: str) -> None:
    """Make the session document's run count a string, as a bad hand edit would."""
    result = collection.update_one({"_id": session_id}, {"$set": {"run_count": "many"}})
    assert result.modified_count == 1


def stamp_schema(meta: Any, sessions: Any, session_id: str, *, newer: bool) -> None:
    """Do to the data what a newer sessionary's migration does: stamp the schema record
    and the session's document with the next schema version (``newer=False`` undoes it)."""
    version = SCHEMA_VERSION + newer
    meta.update_one({"_id": "schema"}, {"$set": {"version": version}}, upsert=True)
    sessions.update_one({"_id": session_id}, {"$set": {"schema": version}})
