"""``PostgresDb``: sessions in PostgreSQL, on psycopg 3 and a ``psycopg_pool.ConnectionPool``.

The SQL and the checks are in :mod:`sessionary_postgres.operations`, shared with the
async store; this module runs them on a connection of the pool. The pool is made on
first use in each process (a forked child makes its own, and never touches the
parent's connections), after one direct connection that tells an unreachable server
at once, by name, instead of after the pool's wait for a connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import psycopg
import psycopg_pool

from sessionary.errors import InvalidInputError, StoreUnavailableError
from sessionary.plugins.lazy import lazy
from sessionary.storage.base import Capability
from sessionary.storage.driving import Operation, OperationStore, drive_sync
from sessionary_postgres.connection import (
    CAPABILITIES,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    IN_TRANSACTION,
    check_pool_settings,
    connect_kwargs,
    is_stale,
    parse_url,
    translate,
)
from sessionary_postgres.operations import PostgresOperations
from sessionary_postgres.sql import BEGIN, Reply, Sql

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore

__all__ = ["Perform", "PostgresDb"]

T = TypeVar("T")

#: The async twin, named by its path and imported on the first ``to_async()``: it
#: imports this module's neighbours, so this module does not import it (no circle).
_ASYNC_TWIN = lazy("sessionary_postgres.aio:AsyncPostgresStore", name="postgres")


class Perform:
    """Executes one operation's requests on a connection; see :mod:`sessionary_postgres.sql`.

    ``BEGIN`` is held back and sent with the next statement, and a statement with
    ``commit`` is followed by ``COMMIT``, in one pipeline: one round trip for both.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.begin = False

    def __call__(self, request: Sql) -> Reply:
        conn = self.conn
        if request is BEGIN:
            self.begin = True
            return Reply([], 0)
        begin, self.begin = self.begin, False
        if request.many is not None:
            if begin:
                conn.execute("BEGIN")
            with conn.cursor() as many:
                many.executemany(request.query, request.many)
                return Reply([], many.rowcount)
        if not begin and not request.commit:
            cursor = conn.execute(request.query, request.params or None)
        else:
            with conn.pipeline():
                if begin:
                    conn.execute("BEGIN")
                cursor = conn.execute(request.query, request.params or None)
                if request.commit:
                    conn.execute("COMMIT")
        rows = cursor.fetchall() if cursor.description is not None else []
        return Reply(rows, cursor.rowcount)


class PostgresDb(PostgresOperations, OperationStore):
    """Sessions in a PostgreSQL database: one row per session, one row per run.

    ``db_url`` is a libpq URL (``postgresql://user:password@host:5432/dbname``, or
    ``postgres://``; any libpq parameter such as ``sslmode`` or ``connect_timeout``
    goes in its query string). The tables (``sessionary_*``) are created on first use.
    ``min_size`` and ``max_size`` bound the connection pool; ``timeout`` is how many
    seconds a call waits for a free connection.

    ``__init__`` does no I/O: the pool connects on first use.

    >>> db = PostgresDb(db_url="postgresql://postgres@127.0.0.1:5432/postgres")
    >>> str(db.server)
    '127.0.0.1:5432/postgres'
    """

    name: ClassVar[str] = "postgres"
    url_schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    capabilities: ClassVar[frozenset[Capability]] = CAPABILITIES

    def __init__(
        self,
        db_url: str | None = None,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url, self.server = parse_url(DEFAULT_URL if db_url is None else db_url)
        check_pool_settings(min_size, max_size, timeout)
        self.min_size, self.max_size, self.timeout = min_size, max_size, float(timeout)
        self._lock = threading.Lock()
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._pid = 0
        self._inherited: list[psycopg_pool.ConnectionPool[Any]] = []
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> PostgresDb:
        """Open the database a ``postgresql://`` URL names (connects now)."""
        store = cls(db_url=url)
        try:
            store.ping()
        except BaseException:
            store.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"PostgresDb({self.server})"

    def to_async(self) -> AsyncStore:
        """An :class:`~sessionary_postgres.aio.AsyncPostgresStore` on the same database.

        It has its own pool (psycopg's ``AsyncConnectionPool``), with this store's settings.
        """
        twin: Any = _ASYNC_TWIN.load()
        store: AsyncStore = twin(
            self.url, min_size=self.min_size, max_size=self.max_size, timeout=self.timeout
        )
        return store

    # ------------------------------------------------------------------ pool

    def _current_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        """This process's pool, made (and the server checked) on first use."""
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._lock:
            if self._closed:
                raise StoreUnavailableError(f"the store for {self.server} was closed")
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            if self._pool is not None:
                # Forked: the parent's connections are the parent's. Keep the old pool
                # referenced (never closed, never collected here) and make our own.
                self._inherited.append(self._pool)
                self._pool = None
            kwargs = connect_kwargs(self.url)
            try:
                psycopg.connect(self.url, **kwargs).close()  # unreachable? say so now
            except psycopg.Error as exc:
                raise translate(exc, self.server) from exc
            pool = psycopg_pool.ConnectionPool(
                self.url,
                kwargs=kwargs,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.timeout,
                open=False,
                name=f"sessionary-postgres {self.server}",
            )
            pool.open(wait=False)
            self._pool, self._pid = pool, os.getpid()
            return pool

    def _run(self, op: Operation[Any, T]) -> T:
        pool = self._current_pool()
        try:
            stale = 0
            while True:
                with pool.connection() as conn:
                    if is_stale(conn) and stale < self.max_size:
                        stale += 1
                        conn.close()  # the pool drops it; take the next one at once
                        continue
                    try:
                        return drive_sync(op, Perform(conn))
                    finally:
                        if conn.info.transaction_status in IN_TRANSACTION:
                            with contextlib.suppress(psycopg.Error):
                                conn.rollback()
        except psycopg_pool.PoolTimeout as exc:
            raise self._no_connection(exc) from exc
        except psycopg.Error as exc:
            raise translate(exc, self.server) from exc
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"text that is not valid UTF-8: {exc}") from exc

    def _no_connection(self, exc: psycopg_pool.PoolTimeout) -> StoreUnavailableError:
        try:
            psycopg.connect(self.url, **connect_kwargs(self.url)).close()
        except psycopg.Error as down:
            unavailable = translate(down, self.server)
            if isinstance(unavailable, StoreUnavailableError):
                return unavailable
        return StoreUnavailableError(
            f"no connection to the PostgreSQL server at {self.server} was free within "
            f"{self.timeout:g} s (max_size={self.max_size}): {exc}"
        )

    # ------------------------------------------------------------------ admin

    def migrate(self) -> list[str]:
        """Upgrade the database to the latest schema in one transaction; a line per step.

        A database already at the latest version is left alone (``[]``); one written
        by a newer version raises :class:`~sessionary.errors.SchemaVersionError`.
        """
        return self._run(self._migrate_op())

    def close(self) -> None:
        """Close this process's pool. The store cannot be used after this."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._closed = True
            if pool is not None and self._pid == os.getpid():
                pool.close()
