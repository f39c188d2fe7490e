"""The storage contract for the event loop: :class:`AsyncStore`, beside the sync :class:`Store`.

An :class:`AsyncStore` has the same public methods as a :class:`~sessionary.Store`, as
coroutines, with the same arguments, checks, errors and guarantees (one contract, one
conformance suite: see ``docs/guides/async.md``). It validates its arguments before any
I/O, then awaits the backend's protected ``_`` coroutines.

Every sync store has an async twin, :meth:`Store.to_async() <sessionary.Store.to_async>`:

* stores with an async driver return a native one (``sessionary-redis`` on
  ``redis.asyncio``, ``sessionary-mongodb`` on pymongo's ``AsyncMongoClient``);
* ``sessionary-sqlite`` runs its queries on threads of its own;
* any other store is adapted automatically by :class:`ThreadedAsyncStore`, which runs
  each call of the sync store in a worker thread, so it never blocks the loop.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextvars
import functools
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.aio_inbox import AsyncInboxMethods, DelegatingInboxMethods
from sessionary.storage.aio_tail import AsyncTailMethods, DelegatingTailMethods
from sessionary.storage.backend import Capability, SchemaStatus, StoreBackend
from sessionary.storage.checks import (
    UNSET,
    _Unset,
    check_count,
    check_import,
    check_optional_version,
    check_run,
    check_version,
    session_changes,
)
from sessionary.storage.summaries import summary_of_import

__all__ = ["AsyncStore", "DelegatingAsyncStore", "ThreadedAsyncStore"]

T = TypeVar("T")


class AsyncStore(AsyncInboxMethods, AsyncTailMethods, abc.ABC):
    """Base class of async storage backends: :class:`~sessionary.Store`'s contract as coroutines.

    Subclasses set :attr:`name` and :attr:`capabilities` and implement the abstract
    ``_`` coroutines; the public coroutines check the arguments first, exactly as the
    sync store's methods do. A store is bound to nothing at construction: the first
    call on a running loop connects.
    """

    #: Registry name of the backend (``"sqlite"``, ``"redis"``, ...).
    name: ClassVar[str]
    #: Optional capabilities this backend has.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Whether the I/O is the driver's own async I/O (``False``: sync calls in threads).
    native: ClassVar[bool] = True

    # ------------------------------------------------------------------ writes

    async def append_run(
        self,
        run: Run,
        *,
        session_type: SessionType = SessionType.AGENT,
        expected_version: int | None = None,
    ) -> SessionInfo:
        """Append a run to its session; see :meth:`Store.append_run <sessionary.Store.append_run>`."""  # noqa: E501
        check_run(run)
        check_optional_version(expected_version)
        try:
            return await self._append_run(run, SessionType(session_type), expected_version)
        except OwnershipError:  # another user's session is not found, as in Store.append_run
            raise SessionNotFoundError(run.session_id, run.user_id) from None
        except ConflictError:  # the same run again is a no-op, as in Store.append_run
            stored = await self._get_run(run.session_id, run.run_id, run.user_id)
            info = await self._get_session_info(run.session_id, run.user_id)
            if stored != run or info is None:
                raise
            return info

    async def update_run(self, run: Run, *, expected_version: int) -> SessionInfo:
        """Replace a stored run if its version is ``expected_version``; see ``Store.update_run``."""
        check_run(run)
        check_version(expected_version)
        try:
            return await self._update_run(run, expected_version)
        except (OwnershipError, RunNotFoundError):  # as in Store.update_run
            raise RunNotFoundError(run.session_id, run.run_id, run.user_id) from None

    async def update_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
        name: str | _Unset | None = UNSET,
        name_source: str | _Unset | None = UNSET,
        state: Mapping[str, Any] | _Unset = UNSET,
        metadata: Mapping[str, Any] | _Unset = UNSET,
    ) -> SessionInfo:
        """Change a session's name, state or metadata; see ``Store.update_session``."""
        changes = session_changes(
            session_id,
            user_id,
            expected_version=expected_version,
            name=name,
            name_source=name_source,
            state=state,
            metadata=metadata,
        )
        return await self._update_session(session_id, user_id, expected_version, changes)

    async def import_session(self, session: Session, *, replace: bool = False) -> SessionInfo:
        """Write a whole session, runs in order; see ``Store.import_session``."""
        check_import(session)
        return await self._import_session(summary_of_import(session, time.time()), replace)

    async def delete_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> bool:
        """Delete a session and its runs; see ``Store.delete_session``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_optional_version(expected_version)
        return await self._delete_session(session_id, user_id, expected_version)

    async def erase_user(self, user_id: str) -> int:
        """Delete every session of a user, with their runs; returns how many."""
        validate_id(user_id, "user_id")
        return await self._erase_user(user_id)

    async def trim_runs(
        self,
        session_id: str,
        *,
        keep_last: int,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Delete all but the last ``keep_last`` runs of a session; see ``Store.trim_runs``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(keep_last, "keep_last")
        check_optional_version(expected_version)
        return await self._trim_runs(session_id, keep_last, user_id, expected_version)

    # ------------------------------------------------------------------ reads

    async def get_session_info(
        self, session_id: str, *, user_id: str | None = None
    ) -> SessionInfo | None:
        """The session's metadata and summary without runs, or ``None``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        return await self._get_session_info(session_id, user_id)

    async def get_runs(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n: int | None = None,
        skip_corrupt: bool = False,
    ) -> list[Run]:
        """The session's runs in order (the last ``last_n`` only); empty if no such session."""
        session = await self.get_session(
            session_id, user_id=user_id, last_n_runs=last_n, skip_corrupt=skip_corrupt
        )
        return [] if session is None else list(session.runs)

    async def get_run(
        self, session_id: str, run_id: str, *, user_id: str | None = None
    ) -> Run | None:
        """One run of a session, or ``None``."""
        validate_id(session_id, "session_id")
        validate_id(run_id, "run_id")
        validate_optional_id(user_id, "user_id")
        return await self._get_run(session_id, run_id, user_id)

    # ------------------------------------------------------------------ admin

    async def schema_status(self) -> SchemaStatus:
        """The stored schema version against the latest this backend writes."""
        return SchemaStatus(current=1, latest=1)

    async def migrate(self) -> list[str]:
        """Upgrade the stored schema to the latest; returns a line per step taken."""
        return []

    async def ping(self) -> None:
        """Check the store is reachable; raise a :class:`StorageError` saying why if not."""

    async def close(self) -> None:
        """Release connections. The store is not used after this."""

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ backend

    @abc.abstractmethod
    async def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo: ...

    @abc.abstractmethod
    async def _update_run(self, run: Run, expected_version: int) -> SessionInfo: ...

    @abc.abstractmethod
    async def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo: ...

    @abc.abstractmethod
    async def _import_session(self, session: Session, replace: bool) -> SessionInfo: ...

    @abc.abstractmethod
    async def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool: ...

    @abc.abstractmethod
    async def _erase_user(self, user_id: str) -> int: ...

    @abc.abstractmethod
    async def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int: ...

    @abc.abstractmethod
    async def _get_session_info(
        self, session_id: str, user_id: str | None
    ) -> SessionInfo | None: ...

    @abc.abstractmethod
    async def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None: ...


class DelegatingAsyncStore(DelegatingInboxMethods, DelegatingTailMethods, AsyncStore):
    """An async store that runs a sync :class:`~sessionary.Store`'s ``_`` methods off the loop.

    Each ``_`` coroutine hands the same call of the sync store, as a function of that
    store, to :meth:`_run_write` (writes and the admin calls) or :meth:`_run_read`
    (reads), which run it where the subclass says (a worker thread, a thread of its
    own) and await it. The sync store's data, checks and errors are the caller's.
    """

    native: ClassVar[bool] = False

    @abc.abstractmethod
    async def _run_write(self, call: Callable[[StoreBackend], T]) -> T:
        """``call(store)`` for a write, off the event loop; its result."""

    async def _run_read(self, call: Callable[[StoreBackend], T]) -> T:
        """``call(store)`` for a read, off the event loop (by default where writes run)."""
        return await self._run_write(call)

    async def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        return await self._run_write(lambda db: db._append_run(run, session_type, expected_version))

    async def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        return await self._run_write(lambda db: db._update_run(run, expected_version))

    async def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        return await self._run_write(
            lambda db: db._update_session(session_id, user_id, expected_version, changes)
        )

    async def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        return await self._run_write(lambda db: db._import_session(session, replace))

    async def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        return await self._run_write(
            lambda db: db._delete_session(session_id, user_id, expected_version)
        )

    async def _erase_user(self, user_id: str) -> int:
        return await self._run_write(lambda db: db._erase_user(user_id))

    async def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        return await self._run_write(
            lambda db: db._trim_runs(session_id, keep_last, user_id, expected_version)
        )

    async def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return await self._run_read(lambda db: db._get_session_info(session_id, user_id))

    async def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return await self._run_read(lambda db: db._get_run(session_id, run_id, user_id))

    async def schema_status(self) -> SchemaStatus:
        """The sync store's :meth:`~sessionary.Store.schema_status`, where writes run."""
        return await self._run_write(lambda db: db.schema_status())

    async def migrate(self) -> list[str]:
        """The sync store's :meth:`~sessionary.Store.migrate`, where writes run."""
        return await self._run_write(lambda db: db.migrate())

    async def ping(self) -> None:
        """The sync store's :meth:`~sessionary.Store.ping`, where writes run."""
        await self._run_write(lambda db: db.ping())


class ThreadedAsyncStore(DelegatingAsyncStore):
    """A sync :class:`~sessionary.Store` made async: each call runs in a worker thread.

    This is how a store that has only a sync implementation is used from ``arun`` and the
    other ``a*`` methods: the loop never waits on its I/O, at the cost of a thread hop per
    call (tens of microseconds). ``executor`` is where the calls run: by default the
    loop's default executor; pass a ``ThreadPoolExecutor(max_workers=1)`` to give a
    store that is not thread-safe a thread of its own. The wrapped store's data,
    checks and errors are the ones the caller gets; closing this store closes it.

    >>> import asyncio
    >>> from sessionary.storage.memory import MemoryDb
    >>> store = ThreadedAsyncStore(MemoryDb())
    >>> asyncio.run(store.get_session("nobody")) is None
    True
    """

    def __init__(
        self, store: StoreBackend, *, executor: concurrent.futures.Executor | None = None
    ) -> None:
        if not isinstance(store, StoreBackend):
            raise InvalidInputError(f"store must be a Store, got {type(store).__name__}")
        self.store = store
        self.executor = executor

    @property
    def name(self) -> str:  # type: ignore[override]
        """The wrapped store's name."""
        return self.store.name

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """The wrapped store's capabilities."""
        return self.store.capabilities

    def __repr__(self) -> str:
        return f"ThreadedAsyncStore({self.store!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("store", "executor") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.store, name)

    async def _run_write(self, call: Callable[[StoreBackend], T]) -> T:
        loop = asyncio.get_running_loop()
        in_context = functools.partial(contextvars.copy_context().run, call, self.store)
        return await loop.run_in_executor(self.executor, in_context)

    async def close(self) -> None:
        """Close the wrapped store."""
        await self._run_write(lambda db: db.close())
