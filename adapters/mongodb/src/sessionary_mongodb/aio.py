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
import threading
from typing import Any, ClassVar, TypeVar

from pymongo import AsyncMongoClient

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import InvalidInputError, StorageError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Capability, ListFilters, SchemaStatus
from sessionary_mongodb.calls import Call, Op, Request, drive_async, run_whole
from sessionary_mongodb.connection import selection_timeout_ms
from sessionary_mongodb.reads import MongoOperations

__all__ = ["AsyncMongoStore"]

log = logging.getLogger("sessionary_mongodb")

T = TypeVar("T")


class _Bound:
    """One ``AsyncMongoClient``, the event loop it belongs to, and its collections."""

    def __init__(
        self,
        client: Any,
        loop: asyncio.AbstractEventLoop | None,
        db_name: str,
        collections: tuple[str, str],
    ) -> None:
        database = client[db_name]
        self.client = client
        self.loop = loop
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


class AsyncMongoStore(MongoOperations, AsyncStore):
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        self._bound: dict[asyncio.AbstractEventLoop, _Bound] = {}
        self._given: _Bound | None = None
        super().__init__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"AsyncMongoStore({self._where})"

    # ------------------------------------------------------------------ clients

    def _adopt(self, client: Any) -> None:
        if not isinstance(client, AsyncMongoClient):
            raise InvalidInputError(
                f"client must be a pymongo.AsyncMongoClient, got {type(client).__name__}"
            )
        self._given = _Bound(client, None, self.db_name, self._collection_names)

    def _bound_here(self) -> _Bound:
        """The client for the running event loop (made on first use in that loop)."""
        loop = asyncio.get_running_loop()
        given = self._given
        if given is not None:
            with self._lock:
                if given.loop is None:
                    given.loop = loop
            if given.loop is not loop:
                raise StorageError(
                    f"the AsyncMongoClient given to this AsyncMongoStore {self._where} belongs "
                    "to the event loop it was first used on, and this call runs in another "
                    "one; give each event loop a store (and client) of its own, or pass "
                    "db_url so that the store makes a client per event loop"
                )
            return given
        with self._lock:
            bound = self._bound.get(loop)
            if bound is None:
                # Clients of loops that are gone cannot be closed from here; let them go.
                for old in [old for old in self._bound if old.is_closed()]:
                    del self._bound[old]
                with self._do("connecting"):
                    client: Any = AsyncMongoClient(
                        self._url,
                        serverSelectionTimeoutMS=selection_timeout_ms(self._url, self._timeout_ms),
                    )
                bound = _Bound(client, loop, self.db_name, self._collection_names)
                self._bound[loop] = bound
            return bound

    # ------------------------------------------------------------------ the driver

    async def _write(self, op: Op[T]) -> T:
        """Run a write to its end, even if its caller is cancelled (see ``run_whole``)."""
        return await run_whole(op, self._run, log)

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
        """Create indexes and check the schema once per store object (idempotent)."""
        if self._ready:
            return
        async with bound.setup_lock:
            if not self._ready:
                await self._run(self._setup_op())
                self._ready = True

    # ------------------------------------------------------------------ writes

    async def _append_run(self, run: Run, session_type: SessionType) -> SessionInfo:
        return await self._write(self._append_op(run, session_type))

    async def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        return await self._write(self._update_run_op(run, expected_version))

    async def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        return await self._write(
            self._update_session_op(session_id, user_id, expected_version, changes)
        )

    async def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        return await self._write(self._import_op(session, replace))

    async def _delete_session(self, session_id: str, user_id: str | None) -> bool:
        return await self._write(self._delete_op(session_id, user_id))

    async def _erase_user(self, user_id: str) -> int:
        return await self._write(self._erase_user_op(user_id))

    async def _trim_runs(self, session_id: str, keep_last: int, user_id: str | None) -> int:
        return await self._write(self._trim_op(session_id, keep_last, user_id))

    # ------------------------------------------------------------------ reads

    async def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        return await self._run(self._get_session_op(session_id, user_id, last_n_runs))

    async def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return await self._run(self._get_info_op(session_id, user_id))

    async def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return await self._run(self._get_run_op(session_id, run_id, user_id))

    async def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return await self._run(self._list_op(filters, limit, after))

    # ------------------------------------------------------------------ admin

    async def schema_status(self) -> SchemaStatus:
        """The schema version stored in the database against the one this code writes."""
        return await self._run(self._schema_status_op())

    async def ping(self) -> None:
        """Ask the server to answer; raise StoreUnavailableError naming it if it does not."""
        await self._run(self._ping_op())

    async def close(self) -> None:
        """Close the client this store made for the running event loop (never an application's).

        A store used in several event loops has a client in each: close it in each loop
        (clients of loops already closed are let go). The store makes a new client if
        it is used again.
        """
        if self._given is not None:
            return
        here = asyncio.get_running_loop()
        with self._lock:
            bound = self._bound.pop(here, None)
            for old in [old for old in self._bound if old.is_closed()]:
                del self._bound[old]
        if bound is not None:
            await bound.client.close()
