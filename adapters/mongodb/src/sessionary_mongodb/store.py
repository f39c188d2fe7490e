"""MongoDb: sessions in one collection, runs in another, one document per run.

Writes are designed for MongoDB's real guarantees (each single-document operation is
atomic; unique indexes hold across concurrent writers), with no client-side locks:

- Appending a run is three single-document operations: reserve the next sequence
  number of the session (``find_one_and_update`` with ``$inc``, creating the session
  on its first run and refusing another user's session in the same step), insert the
  run document, then fold the run into the session's summary with ``$inc``/``$max``.
  Runs are ordered by that sequence, totally, under any number of writers. The
  reservation lists the run's ``_id`` in the session's ``inflight`` until the fold, and
  a read takes only the runs the session document it read counts: one snapshot.
- A paused run is updated with a conditional ``find_one_and_update`` on its version,
  so two writers continuing the same run cannot both win.
- Every session document carries a random ``key`` that its runs point to. A session
  deleted and created again under the same ID gets a new key, so runs left behind by
  an interrupted delete can never reappear in the new session.

The operations are written once (:mod:`sessionary_mongodb.writes`,
:mod:`sessionary_mongodb.reads`) for this store and its async twin,
:class:`~sessionary_mongodb.aio.AsyncMongoStore`; this module performs their calls with
pymongo's sync client. See ``docs/storage/mongodb.md`` for the layout, indexes, limits
and failure modes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sessionary.storage.base import Capability
from sessionary.storage.driving import OperationStore, drive_sync
from sessionary_mongodb.calls import Call, Op, Request
from sessionary_mongodb.connection import DEFAULT_SERVER_SELECTION_TIMEOUT_MS, MongoConnection
from sessionary_mongodb.reads import MongoOperations

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore

__all__ = ["DEFAULT_SERVER_SELECTION_TIMEOUT_MS", "MongoDb"]

T = TypeVar("T")


class MongoDb(MongoOperations, MongoConnection, OperationStore):
    """Sessions stored in MongoDB: ``mongodb://`` and ``mongodb+srv://``.

    >>> db = MongoDb(db_url="mongodb://localhost:27017", db_name="sessionary")  # no I/O yet

    Options: ``db_url`` (default ``mongodb://localhost:27017``), ``db_name`` (default
    the URL's path, else ``sessionary``), ``client`` (a ``pymongo.MongoClient`` you
    configured yourself instead of ``db_url``; :meth:`close` leaves it open),
    ``sessions_collection`` and ``runs_collection``, ``ttl`` (seconds after its last
    write at which a session expires), ``max_document_bytes`` (16 MiB) and
    ``server_selection_timeout_ms`` (3000).
    """

    name: ClassVar[str] = "mongodb"
    url_schemes: ClassVar[tuple[str, ...]] = ("mongodb", "mongodb+srv")
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    @classmethod
    def from_url(cls, url: str) -> MongoDb:
        """Open ``mongodb://HOST[:PORT]/DBNAME?options`` (database ``sessionary`` if none)."""
        return cls(db_url=url)

    def to_async(self) -> AsyncStore:
        """An :class:`~sessionary_mongodb.aio.AsyncMongoStore` on the same database and settings.

        It has an ``AsyncMongoClient`` of its own; closing it leaves this store open. A
        store made on an application's own sync ``client`` has no URL to open an async
        client from, so it is adapted in worker threads instead
        (:class:`~sessionary.storage.aio.ThreadedAsyncStore`); to go native, pass your
        ``AsyncMongoClient`` to ``AsyncMongoStore(client=...)``.
        """
        if self._url is None:
            return super().to_async()
        from sessionary_mongodb.aio import AsyncMongoStore

        return AsyncMongoStore(
            db_url=self._url,
            db_name=self.db_name,
            sessions_collection=self._collection_names[0],
            runs_collection=self._collection_names[1],
            ttl=self.ttl,
            max_document_bytes=self.max_document_bytes,
            server_selection_timeout_ms=self._timeout_ms,
        )

    # ------------------------------------------------------------------ the driver

    def _run(self, op: Op[T]) -> T:
        return drive_sync(op, self._perform)

    def _perform(self, request: Request) -> Any:
        if isinstance(request, Call):
            if request.target == "admin":
                target = self.client.admin
            else:
                self.client  # noqa: B018 - connects the collections on first use
                target = {"sessions": self._sessions, "runs": self._runs, "meta": self._meta}[
                    request.target
                ]
            result = getattr(target, request.method)(*request.args, **request.kwargs)
            return list(result) if request.method == "find" else result
        self._ensure()
        return None

    def _ensure(self) -> None:
        """Create indexes and check the schema record once per store object (idempotent).

        After that, each write checks the schema stamp of the session it writes, in the
        same atomic step (see :data:`sessionary_mongodb.documents.CURRENT`).
        """
        if self._ready:
            return
        self.client  # noqa: B018 - connects the collections on first use
        with self._ready_lock:
            if not self._ready:
                self._run(self._setup_op())
                self._ready = True
