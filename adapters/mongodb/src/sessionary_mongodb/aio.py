"""AsyncMongoStore: the MongoDB store on pymongo's ``AsyncMongoClient``, for ``arun``.

It runs the very operations :class:`~sessionary_mongodb.MongoDb` runs (the same
documents, indexes, write sequences, checks and error messages: see
:mod:`sessionary_mongodb.calls`), awaiting each call on pymongo's native asyncio client,
so no call ever waits on a socket in the event loop.

An ``AsyncMongoClient`` belongs to the event loop it first ran on. A store that makes
its own clients (from a URL) keeps one per event loop, so it can be used from several
loops, one after another (``asyncio.run`` twice) or at once in several threads; a
client an application passes in is used on one loop only, and a call from another loop
is a clear :class:`~sessionary.errors.StorageError`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, TypeVar

from pymongo import AsyncMongoClient

from sessionary.errors import InvalidInputError
from sessionary.storage.base import Capability
from sessionary.storage.driving import AsyncOperationStore, drive_async
from sessionary.storage.per_loop import PerLoop
from sessionary_mongodb.calls import Call, Op, Request
from sessionary_mongodb.connection import selection_timeout_ms
from sessionary_mongodb.reads import MongoOperations

__all__ = ["AsyncMongoStore"]

log = logging.getLogger("sessionary_mongodb")

T = TypeVar("T")


class _Bound:
    """One ``AsyncMongoClient`` (of one event loop) and its collections."""

    def __init__(self, client: Any, db_name: str, collections: tuple[str, str]) -> None:
        database = client[db_name]
        self.client = client
        self.targets: dict[str, Any] = {
            "sessions": database[collections[0]],
            "runs": database[collections[1]],
            "meta": database["sessionary_meta"],
            "admin": client.admin,
        }
        self._setup_lock: asyncio.Lock | None = None

    @property
    def setup_lock(self) -> asyncio.Lock:
        """Made in the loop that uses it (Python 3.10 binds a lock to a loop on creation)."""
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
        return self._setup_lock


class AsyncMongoStore(MongoOperations, AsyncOperationStore):
    """Sessions in MongoDB, the store's contract as coroutines, on ``AsyncMongoClient``.

    Takes the same arguments as :class:`~sessionary_mongodb.MongoDb` (``db_url``,
    ``db_name``, ``sessions_collection``, ``runs_collection``, ``ttl``,
    ``max_document_bytes``, ``server_selection_timeout_ms``) and reads and writes the
    same documents, so a session written by one is read by the other. ``client`` is an
    application's own ``pymongo.AsyncMongoClient`` (never closed by the store). Also
    obtained as ``MongoDb(...).to_async()``. Construction does no I/O.

    >>> store = AsyncMongoStore(db_url="mongodb://localhost:27017", db_name="app")
    >>> store.native, store.db_name
    (True, 'app')
    """

    name: ClassVar[str] = "mongodb"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )
    background_log: ClassVar[logging.Logger] = log

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._given: _Bound | None = None
        super().__init__(*args, **kwargs)
        self._clients = PerLoop(
            self._connect,
            given=self._given,
            given_name=f"the AsyncMongoClient given to this AsyncMongoStore {self._where}",
        )

    def __repr__(self) -> str:
        return f"AsyncMongoStore({self._where})"

    # ------------------------------------------------------------------ clients

    def _adopt(self, client: Any) -> None:
        if not isinstance(client, AsyncMongoClient):
            raise InvalidInputError(
                f"client must be a pymongo.AsyncMongoClient, got {type(client).__name__}"
            )
        self._given = _Bound(client, self.db_name, self._collection_names)

    def _connect(self) -> _Bound:
        """A client for a loop's first call (no I/O yet)."""
        with self._do("connecting"):
            client: Any = AsyncMongoClient(
                self._url,
                serverSelectionTimeoutMS=selection_timeout_ms(self._url, self._timeout_ms),
            )
        return _Bound(client, self.db_name, self._collection_names)

    def _bound_here(self) -> _Bound:
        """The client for the running event loop (made on first use in that loop)."""
        return self._clients.here()

    # ------------------------------------------------------------------ the driver

    async def _run(self, op: Op[T]) -> T:
        bound = self._bound_here()

        async def perform(request: Request) -> Any:
            if not isinstance(request, Call):
                await self._ensure(bound)
                return None
            target = bound.targets[request.target]
            if request.method == "find":
                return await target.find(*request.args, **request.kwargs).to_list()
            return await getattr(target, request.method)(*request.args, **request.kwargs)

        return await drive_async(op, perform)

    async def _ensure(self, bound: _Bound) -> None:
        """Create indexes and check the schema record once per store object (idempotent)."""
        if self._ready:
            return
        async with bound.setup_lock:
            if not self._ready:
                await self._run(self._setup_op())
                self._ready = True

    # ------------------------------------------------------------------ admin

    async def close(self) -> None:
        """Close the client this store made for the running event loop (never an application's).

        A store used in several event loops has a client in each: close it in each loop
        (clients of loops already closed are let go). The store makes a new client if
        it is used again.
        """
        bound = self._clients.release_here()
        if bound is not None:
            await bound.client.close()
