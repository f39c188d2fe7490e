"""AsyncPostgresStore: the PostgreSQL store on psycopg's async connections, for ``arun``.

It runs the same operations as :class:`~sessionary_postgres.PostgresDb`
(:mod:`sessionary_postgres.operations`: the same SQL, checks and errors) on a
``psycopg_pool.AsyncConnectionPool``, so no call ever waits on a socket in the event
loop. A pool belongs to the event loop it was opened on: the store keeps one per loop,
so it can be used from several loops, one after another or at once in several threads.
A write whose caller is cancelled still finishes, whole (see
:func:`sessionary.storage.driving.run_whole`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar, TypeVar

import psycopg
import psycopg_pool

from sessionary.errors import InvalidInputError, StoreUnavailableError
from sessionary.storage.base import Capability
from sessionary.storage.driving import AsyncOperationStore, Operation, drive_async
from sessionary.storage.per_loop import PerLoop
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

__all__ = ["AsyncPostgresStore"]

log = logging.getLogger("sessionary_postgres")

T = TypeVar("T")


class Perform:
    """:class:`sessionary_postgres.store.Perform` on an async connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.begin = False

    async def __call__(self, request: Sql) -> Reply:
        conn = self.conn
        if request is BEGIN:
            self.begin = True
            return Reply([], 0)
        begin, self.begin = self.begin, False
        if request.many is not None:
            if begin:
                await conn.execute("BEGIN")
            async with conn.cursor() as many:
                await many.executemany(request.query, request.many)
                return Reply([], many.rowcount)
        if not begin and not request.commit:
            cursor = await conn.execute(request.query, request.params or None)
        else:
            async with conn.pipeline():
                if begin:
                    await conn.execute("BEGIN")
                cursor = await conn.execute(request.query, request.params or None)
                if request.commit:
                    await conn.execute("COMMIT")
        rows = await cursor.fetchall() if cursor.description is not None else []
        return Reply(rows, cursor.rowcount)


class _LoopPool:
    """One event loop's pool, opened by the loop's first call."""

    def __init__(self) -> None:
        self.pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self.opening = asyncio.Lock()


class AsyncPostgresStore(PostgresOperations, AsyncOperationStore):
    """Sessions in PostgreSQL, the store's contract as coroutines, on psycopg's async API.

    Takes :class:`~sessionary_postgres.PostgresDb`'s arguments and reads and writes the
    same tables, so a session written by one is read by the other. Also obtained as
    ``PostgresDb(...).to_async()``. Construction does no I/O.

    >>> store = AsyncPostgresStore("postgresql://postgres@127.0.0.1:5432/postgres")
    >>> store.native
    True
    """

    name: ClassVar[str] = "postgres"
    capabilities: ClassVar[frozenset[Capability]] = CAPABILITIES
    background_log: ClassVar[logging.Logger] = log

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
        self._pools: PerLoop[_LoopPool] = PerLoop(_LoopPool)

    def __repr__(self) -> str:
        return f"AsyncPostgresStore({self.server})"

    async def _pool_here(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        """The running loop's pool, made (and the server checked) on the loop's first call."""
        here = self._pools.here()
        if here.pool is not None:
            return here.pool
        async with here.opening:
            if here.pool is None:
                kwargs = connect_kwargs(self.url)
                try:
                    probe = await psycopg.AsyncConnection.connect(self.url, **kwargs)
                except psycopg.Error as exc:
                    raise translate(exc, self.server) from exc
                await probe.close()
                pool = psycopg_pool.AsyncConnectionPool(
                    self.url,
                    kwargs=kwargs,
                    min_size=self.min_size,
                    max_size=self.max_size,
                    timeout=self.timeout,
                    open=False,
                    name=f"sessionary-postgres {self.server}",
                )
                # Wait for the first connections: a pool closed while it still connected
                # in the background was seen to leave the next pool's first read on this
                # loop waiting forever (test_a_closed_store_opens_a_new_pool_when_used_again).
                try:
                    await pool.open(wait=True, timeout=self.timeout)
                except psycopg_pool.PoolTimeout as exc:
                    await pool.close()
                    raise await self._no_connection(exc) from exc
                here.pool = pool
            return here.pool

    async def _run(self, op: Operation[Any, T]) -> T:
        pool = await self._pool_here()
        try:
            stale = 0
            while True:
                async with pool.connection() as conn:
                    if is_stale(conn) and stale < self.max_size:
                        stale += 1
                        await conn.close()  # the pool drops it; take the next one at once
                        continue
                    try:
                        return await drive_async(op, Perform(conn))
                    finally:
                        if conn.info.transaction_status in IN_TRANSACTION:
                            with contextlib.suppress(psycopg.Error):
                                await conn.rollback()
        except psycopg_pool.PoolTimeout as exc:
            raise await self._no_connection(exc) from exc
        except psycopg.Error as exc:
            raise translate(exc, self.server) from exc
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"text that is not valid UTF-8: {exc}") from exc

    async def _no_connection(self, exc: psycopg_pool.PoolTimeout) -> StoreUnavailableError:
        """Why no connection came: the server down (named), else a pool too small."""
        try:
            probe = await psycopg.AsyncConnection.connect(self.url, **connect_kwargs(self.url))
        except psycopg.Error as down:
            unavailable = translate(down, self.server)
            if isinstance(unavailable, StoreUnavailableError):
                return unavailable
        else:
            await probe.close()
        return StoreUnavailableError(
            f"no connection to the PostgreSQL server at {self.server} was free within "
            f"{self.timeout:g} s (max_size={self.max_size}): {exc}"
        )

    async def migrate(self) -> list[str]:
        """Upgrade the database to the latest schema; see :meth:`PostgresDb.migrate`."""
        return await self._run(self._migrate_op())

    async def close(self) -> None:
        """Close the running loop's pool. A store used in several loops: close it in each.

        The store opens a new pool if it is used again.
        """
        here = self._pools.release_here()
        if here is not None and here.pool is not None:
            await here.pool.close()
