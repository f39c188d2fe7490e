"""Storage operations written once, as generators, and the drivers that run them.

A backend that talks to its server with a sync client and with an asyncio one can write
each operation of the storage contract once, as a generator that *yields requests*
(whatever its drivers understand: a command, a script, a collection call) instead of
doing I/O. The driver performs each request and sends the reply back in, or throws the
exception it raised in at the same point, so the operation's own ``try``/``except``
works as in plain code::

    def _get_info_op(self, session_id, user_id):
        values = yield Command.of("hmget", key, fields)   # the reply comes back here
        return decode_info(session_id, values)

* :func:`drive_sync` runs an operation with a sync ``send``, :func:`drive_async` with
  an async one; :func:`run_whole` lets a write finish when its caller is cancelled.
* :class:`OperationStore` and :class:`AsyncOperationStore` are a
  :class:`~sessionary.Store` and an :class:`~sessionary.AsyncStore` whose ``_`` methods
  run the operations of :class:`StorageOperations`: the backend writes the operations
  once and gives each store its ``_run``, which is all that differs between them.

``sessionary-redis`` and ``sessionary-mongodb`` are built this way.

>>> def doubled(key):
...     value = yield ("get", key)
...     return value * 2
>>> drive_sync(doubled("a"), lambda request: {"a": 21}[request[1]])
42

The agent's flows (:mod:`sessionary.flow`) follow the same pattern one level up, with
drivers of their own (they also stream, and learn when their caller goes away).
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any, ClassVar, TypeVar

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import SchemaVersionError, StorageError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.backend import messages_by_runs
from sessionary.storage.base import MAX_LIST_LIMIT, ListFilters, SchemaStatus, Store

__all__ = [
    "AsyncOperationStore",
    "Operation",
    "OperationStore",
    "StorageOperations",
    "drive_async",
    "drive_sync",
    "run_whole",
]

T = TypeVar("T")
RequestT = TypeVar("RequestT")

#: An operation: yields requests, is sent their replies, returns a ``T``.
Operation = Generator[RequestT, Any, T]


def drive_sync(op: Operation[RequestT, T], send: Callable[[RequestT], Any]) -> T:
    """Run ``op`` to its end, ``send``-ing each request; its result.

    What ``send`` returns is sent back into ``op``; an ``Exception`` it raises is
    thrown into ``op`` where it asked, and leaves this driver only if ``op`` lets it.
    """
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        reply, error = None, None
        try:
            reply = send(request)
        except Exception as exc:  # handed to the operation where it asked
            error = exc


async def drive_async(op: Operation[RequestT, T], send: Callable[[RequestT], Awaitable[Any]]) -> T:
    """:func:`drive_sync` with an async ``send``, each request awaited in turn."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        reply, error = None, None
        try:
            reply = await send(request)
        except Exception as exc:  # handed to the operation where it asked
            error = exc


async def run_whole(
    op: Operation[RequestT, T],
    drive: Callable[[Operation[RequestT, T]], Awaitable[T]],
    log: logging.Logger,
) -> T:
    """``await drive(op)`` to its end even if the caller is cancelled; return its result.

    A write of several steps must not stop half-way because the task awaiting it was
    cancelled (a client went away, a timeout fired). The caller gets its
    ``CancelledError`` at once; if ``op`` had not yet asked for anything, it never runs,
    else it goes on in the background, whole. A failure it meets then has no caller left
    to raise to, so it is logged on ``log``.
    """
    task = asyncio.ensure_future(drive(op))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if inspect.getgeneratorstate(op) == inspect.GEN_CREATED:
            task.cancel()  # nothing was sent yet: nothing to finish
            raise
        _BACKGROUND.add(task)  # a strong reference until it ends

        def finished(done: asyncio.Future[T]) -> None:
            _BACKGROUND.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.warning(
                    "a write whose caller was cancelled failed in the background: %s",
                    done.exception(),
                )

        task.add_done_callback(finished)
        raise


_BACKGROUND: set[asyncio.Future[Any]] = set()


class StorageOperations(abc.ABC):
    """Every operation of the storage contract, one generator per ``_`` method of a store.

    A backend implements these once; :class:`OperationStore` and
    :class:`AsyncOperationStore` run them. The arguments are the ones the store's ``_``
    method gets, already checked.
    """

    @abc.abstractmethod
    def _append_op(
        self, run: Run, session_type: SessionType, expected_version: int | None
    ) -> Operation[Any, SessionInfo]:
        """``Store._append_run``."""

    def _replace_op(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> Operation[Any, SessionInfo]:
        """``Store._replace_last_runs``."""
        raise StorageError(f"the {type(self).__name__} store cannot replace runs")

    def _messages_op(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> Operation[Any, list[Message]]:
        """``Store._get_messages``; by default from whole runs (see ``messages_by_runs``)."""
        read: dict[int | None, Session | None] = {}
        if last_n != 0:
            first = yield from self._get_session_op(session_id, user_id, last_n, skip_corrupt)
            read[last_n] = first
            if first is not None and last_n is not None:
                seen = len(first.runs) + len(first.skipped_runs)
                if len(first.get_messages()) < last_n and first.run_count > seen:
                    whole = yield from self._get_session_op(session_id, user_id, None, skip_corrupt)
                    read[None] = whole
        return messages_by_runs(read.__getitem__, last_n)

    @abc.abstractmethod
    def _update_run_op(self, run: Run, expected_version: int) -> Operation[Any, SessionInfo]:
        """``Store._update_run``."""

    @abc.abstractmethod
    def _update_session_op(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> Operation[Any, SessionInfo]:
        """``Store._update_session``."""

    @abc.abstractmethod
    def _import_op(self, session: Session, replace: bool) -> Operation[Any, SessionInfo]:
        """``Store._import_session``."""

    @abc.abstractmethod
    def _delete_op(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> Operation[Any, bool]:
        """``Store._delete_session``."""

    @abc.abstractmethod
    def _erase_user_op(self, user_id: str) -> Operation[Any, int]:
        """``Store._erase_user``."""

    @abc.abstractmethod
    def _trim_op(
        self, session_id: str, keep_last: int, user_id: str | None, expected_version: int | None
    ) -> Operation[Any, int]:
        """``Store._trim_runs``."""

    @abc.abstractmethod
    def _get_session_op(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Operation[Any, Session | None]:
        """``Store._get_session`` (``before_run`` is passed only when set)."""

    @abc.abstractmethod
    def _get_info_op(
        self, session_id: str, user_id: str | None
    ) -> Operation[Any, SessionInfo | None]:
        """``Store._get_session_info``."""

    @abc.abstractmethod
    def _get_run_op(
        self, session_id: str, run_id: str, user_id: str | None
    ) -> Operation[Any, Run | None]:
        """``Store._get_run``."""

    @abc.abstractmethod
    def _list_op(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> Operation[Any, SessionPage]:
        """``Store._list_sessions``."""

    def _count_op(self, filters: ListFilters) -> Operation[Any, int]:
        """``Store._count_sessions``; by default, pages through :meth:`_list_op`."""
        total, after = 0, None
        while True:
            page = yield from self._list_op(filters, MAX_LIST_LIMIT, after)
            total += len(page.items)
            if page.next_cursor is None or not page.items:
                return total
            after = filters.sort_key(page.items[-1])

    @abc.abstractmethod
    def _schema_status_op(self) -> Operation[Any, SchemaStatus]:
        """``Store.schema_status``."""

    @abc.abstractmethod
    def _ping_op(self) -> Operation[Any, None]:
        """``Store.ping``."""

    def _session_op(
        self, sid: str, user: str | None, last_n: int | None, skip: bool, before_run: str | None
    ) -> Operation[Any, Session | None]:
        # before_run only when set: an operation written before it still serves the rest
        if before_run is not None:
            return self._get_session_op(sid, user, last_n, skip, before_run)
        return self._get_session_op(sid, user, last_n, skip)

    def _migrate_op(self) -> Operation[Any, list[str]]:
        """``Store.migrate`` of a store with one schema version: nothing to upgrade, and a
        store written by a newer schema (:meth:`_schema_status_op`) is refused."""
        status = yield from self._schema_status_op()
        if status.current > status.latest:
            raise SchemaVersionError(
                f"the store holds schema version {status.current}, newer than version "
                f"{status.latest} that this code writes; upgrade it instead of migrating"
            )
        return []


class OperationStore(StorageOperations, Store):
    """A :class:`~sessionary.Store` whose ``_`` methods run its operations with :meth:`_run`.

    A subclass implements the operations of :class:`StorageOperations` and :meth:`_run`
    (with :func:`drive_sync` and the sync client), and :meth:`from_url`.
    """

    @abc.abstractmethod
    def _run(self, op: Operation[Any, T]) -> T:
        """Perform every request of ``op`` with the sync client; ``op``'s result."""

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        return self._run(self._append_op(run, session_type, expected_version))

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        return self._run(self._replace_op(session_id, user_id, count, runs, expected_version))

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        return self._run(self._messages_op(session_id, user_id, last_n, skip_corrupt))

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        return self._run(self._update_run_op(run, expected_version))

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        return self._run(self._update_session_op(session_id, user_id, expected_version, changes))

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        return self._run(self._import_op(session, replace))

    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        return self._run(self._delete_op(session_id, user_id, expected_version))

    def _erase_user(self, user_id: str) -> int:
        return self._run(self._erase_user_op(user_id))

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        return self._run(self._trim_op(session_id, keep_last, user_id, expected_version))

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        return self._run(
            self._session_op(session_id, user_id, last_n_runs, skip_corrupt, before_run=before_run)
        )

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return self._run(self._get_info_op(session_id, user_id))

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return self._run(self._get_run_op(session_id, run_id, user_id))

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return self._run(self._list_op(filters, limit, after))

    def _count_sessions(self, filters: ListFilters) -> int:
        return self._run(self._count_op(filters))

    def schema_status(self) -> SchemaStatus:
        """The schema version the store holds against the one this code writes."""
        return self._run(self._schema_status_op())

    def migrate(self) -> list[str]:
        """Upgrade the stored schema to the latest; a line per step taken."""
        return self._run(self._migrate_op())

    def ping(self) -> None:
        """Check the server answers; raise ``StoreUnavailableError`` naming it if not."""
        self._run(self._ping_op())


class AsyncOperationStore(StorageOperations, AsyncStore):
    """An :class:`~sessionary.AsyncStore` whose ``_`` coroutines run its operations.

    A subclass implements the operations of :class:`StorageOperations` and :meth:`_run`
    (with :func:`drive_async` and the asyncio client). Writes go through :meth:`_write`,
    so a write whose caller is cancelled still finishes (:func:`run_whole`); a failure
    it meets then is logged on :attr:`background_log`.
    """

    #: Where a write that failed after its caller was cancelled is reported.
    background_log: ClassVar[logging.Logger] = logging.getLogger("sessionary.storage")

    @abc.abstractmethod
    async def _run(self, op: Operation[Any, T]) -> T:
        """Perform every request of ``op`` with the asyncio client; ``op``'s result."""

    async def _write(self, op: Operation[Any, T]) -> T:
        """Run a write to its end, even if its caller is cancelled (see :func:`run_whole`)."""
        return await run_whole(op, self._run, self.background_log)

    async def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        return await self._write(self._append_op(run, session_type, expected_version))

    async def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        return await self._write(
            self._replace_op(session_id, user_id, count, runs, expected_version)
        )

    async def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        return await self._run(self._messages_op(session_id, user_id, last_n, skip_corrupt))

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

    async def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        return await self._write(self._delete_op(session_id, user_id, expected_version))

    async def _erase_user(self, user_id: str) -> int:
        return await self._write(self._erase_user_op(user_id))

    async def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        return await self._write(self._trim_op(session_id, keep_last, user_id, expected_version))

    async def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        return await self._run(
            self._session_op(session_id, user_id, last_n_runs, skip_corrupt, before_run=before_run)
        )

    async def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return await self._run(self._get_info_op(session_id, user_id))

    async def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return await self._run(self._get_run_op(session_id, run_id, user_id))

    async def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        return await self._run(self._list_op(filters, limit, after))

    async def _count_sessions(self, filters: ListFilters) -> int:
        return await self._run(self._count_op(filters))

    async def schema_status(self) -> SchemaStatus:
        """The schema version the store holds against the one this code writes."""
        return await self._run(self._schema_status_op())

    async def migrate(self) -> list[str]:
        """Upgrade the stored schema to the latest; a line per step taken."""
        return await self._run(self._migrate_op())

    async def ping(self) -> None:
        """Check the server answers; raise ``StoreUnavailableError`` naming it if not."""
        await self._run(self._ping_op())
