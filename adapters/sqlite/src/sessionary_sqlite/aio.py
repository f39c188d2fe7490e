"""AsyncSqliteStore: the SQLite store for the event loop, on threads the store owns.

Python's ``sqlite3`` driver blocks, so no query ever runs on the event loop: each call
runs :class:`~sessionary_sqlite.SqliteDb`'s own code (the same SQL, transactions,
checks and error messages) on one of the store's threads, and the coroutine waits for
it without holding the loop. The threads and connections are laid out after SQLite's
concurrency model:

* **one writer thread**, with its own connection, for every write. SQLite lets one
  connection write at a time (each write takes the lock at ``BEGIN IMMEDIATE``), so
  more writer threads would only queue on the lock; one thread queues them in memory
  instead, and a write waiting for another *process* to release the lock (up to
  ``timeout`` seconds) waits there, not on the loop.
* **reader threads** (``readers``, 2 by default), each with its own connection. In WAL
  mode readers never wait for a writer, so reads (an inbox listing, loading a session)
  keep answering while a write waits for the lock, and run beside each other
  (``sqlite3`` releases the GIL while SQLite works).

The store's threads are its own, not the loop's default executor: a locked file or a
slow disk then ties up only this store, never the threads that ``asyncio.to_thread``,
DNS lookups and other libraries share. A private ``:memory:`` database exists in one
connection only, so it has the writer thread alone.

A write is visible to every read that starts after it returns, as with ``SqliteDb``.
A call cancelled before its query started never runs; one already running finishes
(and is stored whole or not at all).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from sessionary.errors import InvalidInputError, StoreUnavailableError
from sessionary.storage.aio import DelegatingAsyncStore
from sessionary.storage.base import Capability, Store
from sessionary_sqlite.store import SqliteDb

__all__ = ["DEFAULT_READERS", "AsyncSqliteStore"]

T = TypeVar("T")

#: Reader threads (and connections) of a file database.
DEFAULT_READERS = 2
_MAX_READERS = 64


class AsyncSqliteStore(DelegatingAsyncStore):
    """Sessions in a SQLite file, the store's contract as coroutines; see the module docs.

    Takes :class:`~sessionary_sqlite.SqliteDb`'s arguments (exactly one of ``db_file``
    or ``db_url``; ``synchronous``; ``timeout``), plus ``readers``: how many reader
    threads a file database has (0: every call on the writer thread). It reads and
    writes the same file as a ``SqliteDb`` on that path, in this process or another.
    Also obtained as ``SqliteDb(...).to_async()``. Construction does no I/O and starts
    no thread.

    >>> import asyncio
    >>> store = AsyncSqliteStore(db_url="sqlite:///:memory:")
    >>> asyncio.run(store.get_session("nope")) is None
    True
    """

    name: ClassVar[str] = "sqlite"
    capabilities: ClassVar[frozenset[Capability]] = SqliteDb.capabilities
    #: The queries are sqlite3's blocking calls, on the store's own threads.
    native: ClassVar[bool] = False
    #: What each thread opens the file with (tests substitute a slower one).
    database_class: ClassVar[type[SqliteDb]] = SqliteDb

    def __init__(
        self,
        db_file: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        *,
        synchronous: str | None = None,
        timeout: float | None = None,
        readers: int = DEFAULT_READERS,
    ) -> None:
        if isinstance(readers, bool) or not isinstance(readers, int):
            raise InvalidInputError(f"readers must be an int, got {type(readers).__name__}")
        if not 0 <= readers <= _MAX_READERS:
            raise InvalidInputError(f"readers must be from 0 to {_MAX_READERS}, got {readers}")
        writer = self.database_class(db_file, db_url, synchronous=synchronous, timeout=timeout)
        self._setup(writer, owns_writer=True, readers=readers)

    @classmethod
    def sharing(cls, db: SqliteDb, *, readers: int = DEFAULT_READERS) -> AsyncSqliteStore:
        """The async twin of ``db`` (what :meth:`SqliteDb.to_async` returns).

        A file database gets connections of its own: closing the twin leaves ``db``
        open. A ``:memory:`` database exists only in ``db``'s connection, so the twin
        runs ``db``'s calls on its writer thread, and closing it leaves ``db`` open too.
        """
        store = cls.__new__(cls)
        if db.location.is_memory:
            store._setup(db, owns_writer=False, readers=0)
        else:
            writer = cls.database_class(
                db.location.path,
                synchronous=db.location.synchronous,
                timeout=db.location.timeout,
            )
            store._setup(writer, owns_writer=True, readers=readers)
        return store

    def _setup(self, writer: SqliteDb, *, owns_writer: bool, readers: int) -> None:
        self.location = writer.location
        self._writer_db = writer
        self._owns_writer = owns_writer
        self._readers = 0 if writer.location.is_memory else readers
        self._lock = threading.Lock()
        self._pid = 0
        self._writer_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader_dbs: list[SqliteDb] = []
        self._local = threading.local()
        self._closed = False

    @property
    def url(self) -> str:
        """A URL that opens this database again (with ``SqliteDb`` or this class)."""
        return self.location.url

    @property
    def path(self) -> str:
        """The database file's path (``":memory:"`` for an in-memory database)."""
        return self.location.path

    @property
    def readers(self) -> int:
        """How many reader threads this store has (0 for ``:memory:``)."""
        return self._readers

    def __repr__(self) -> str:
        return f"AsyncSqliteStore(db_url={self.url!r}, readers={self._readers})"

    # ------------------------------------------------------------------ threads

    def _pools(
        self,
    ) -> tuple[concurrent.futures.ThreadPoolExecutor, concurrent.futures.ThreadPoolExecutor | None]:
        """The writer and reader thread pools, started on first use (and after a fork)."""
        with self._lock:
            if self._closed:
                raise StoreUnavailableError(f"the async store for {self.url!r} was closed")
            if self._writer_pool is None or self._pid != os.getpid():
                # A forked child has none of its parent's threads: start its own.
                self._pid = os.getpid()
                self._writer_pool = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="sessionary-sqlite-writer"
                )
                self._reader_pool = None
                self._reader_dbs = []
                self._local = threading.local()
                if self._readers:
                    self._reader_pool = concurrent.futures.ThreadPoolExecutor(
                        self._readers, thread_name_prefix="sessionary-sqlite-reader"
                    )
            return self._writer_pool, self._reader_pool

    def _reader_db(self) -> SqliteDb:
        """This reader thread's own connection to the file (opened on its first read)."""
        db: SqliteDb | None = getattr(self._local, "db", None)
        if db is None:
            location = self.location
            db = self.database_class(
                location.path, synchronous=location.synchronous, timeout=location.timeout
            )
            with self._lock:
                self._reader_dbs.append(db)
            self._local.db = db
        return db

    async def _submit(
        self, pool: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., T], *args: Any
    ) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.wrap_future(pool.submit(call))

    async def _run_write(self, call: Callable[[Store], T]) -> T:
        writer, _ = self._pools()
        return await self._submit(writer, call, self._writer_db)

    async def _run_read(self, call: Callable[[Store], T]) -> T:
        writer, readers = self._pools()
        if readers is None:
            return await self._submit(writer, call, self._writer_db)
        return await self._submit(readers, self._read_here, call)

    def _read_here(self, call: Callable[[Store], T]) -> T:
        db = self._reader_db()
        db._follow_file()  # a file replaced under the store: read what the writer writes
        return call(db)

    # ------------------------------------------------------------------ admin

    async def close(self) -> None:
        """Finish the calls under way, close this store's connections, end its threads.

        A store made by :meth:`sharing` a ``:memory:`` database leaves that
        ``SqliteDb`` open. The store cannot be used after this.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer, readers = self._writer_pool, self._reader_pool
            mine = os.getpid() == self._pid
        if writer is None or not mine:
            if self._owns_writer:
                self._writer_db.close()  # nothing was opened in this process: no I/O
            return
        # On the writer thread, after the writes queued before it: the loop never waits.
        await asyncio.wrap_future(writer.submit(self._close_everything, readers))
        writer.shutdown(wait=False)

    def _close_everything(self, readers: concurrent.futures.ThreadPoolExecutor | None) -> None:
        if readers is not None:
            readers.shutdown(wait=True)  # the reads under way finish first
        with self._lock:
            dbs, self._reader_dbs = self._reader_dbs, []
        for db in dbs:
            db.close()
        if self._owns_writer:
            self._writer_db.close()
