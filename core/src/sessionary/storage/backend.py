"""The backend interface under the storage contract: what a store implements.

:class:`StoreBackend` is the protected half of :class:`~sessionary.Store`: the ``_``
methods a backend writes (called with arguments already checked), its name and
capabilities, and the admin calls. The public, validating half is
:class:`~sessionary.Store` (``sessionary.storage.base``); the async adapters
(:mod:`sessionary.storage.aio`) drive a backend through this interface alone, so the
two contracts do not import each other.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import ConflictError, StorageError
from sessionary.storage.listing import MAX_LIST_LIMIT, ListFilters

__all__ = [
    "Capability",
    "SchemaStatus",
    "StoreBackend",
    "count_by_listing",
    "messages_by_runs",
    "stale_delete",
]


class Capability(str, Enum):
    """Optional abilities a backend declares, so the conformance suite tests them."""

    #: Data survives the ``Store`` object; another ``Store`` on the same URL sees it.
    PERSISTENT = "persistent"
    #: Several processes may write to one store at once.
    MULTIPROCESS = "multiprocess"
    #: Sessions can expire after a time to live.
    TTL = "ttl"


@attrs.frozen
class SchemaStatus:
    """The schema version a store holds against the one this code writes."""

    current: int
    latest: int

    @property
    def needs_migration(self) -> bool:
        """True when ``sessionary migrate`` would upgrade the store."""
        return self.current < self.latest


def stale_delete(
    session_id: str, stored: object, expected: int, *, done: str = "deleted"
) -> ConflictError:
    """The error of a delete or trim whose ``expected_version`` is not the stored one."""
    return ConflictError(
        f"session {session_id!r} is at version {stored}, not {expected}: "
        f"it changed since it was read, so it was not {done}"
    )


def count_by_listing(
    filters: ListFilters, page: Callable[[tuple[float, str] | None], SessionPage]
) -> int:
    """The number of sessions a listing holds, counted page by page with ``page(after)``."""
    total, after = 0, None
    while True:
        listed = page(after)
        total += len(listed.items)
        if listed.next_cursor is None or not listed.items:
            return total
        after = filters.sort_key(listed.items[-1])


def messages_by_runs(
    read: Callable[[int | None], Session | None], last_n: int | None
) -> list[Message]:
    """The last ``last_n`` messages of a session, read as whole runs with ``read(last_n_runs)``.

    Reads the last ``last_n`` runs (most runs hold a message or more), and all of them
    only if those hold too few messages and the session has more runs.
    """
    if last_n == 0:
        return []
    session = read(last_n)
    if session is None:
        return []
    messages = session.get_messages()
    read_runs = len(session.runs) + len(session.skipped_runs)
    if last_n is not None and len(messages) < last_n and session.run_count > read_runs:
        whole = read(None)
        messages = [] if whole is None else whole.get_messages()
    return messages if last_n is None else messages[max(0, len(messages) - last_n) :]


class StoreBackend(abc.ABC):
    """What a storage backend implements; subclass :class:`~sessionary.Store`, not this."""

    #: Registry name of the backend (``"sqlite"``, ``"redis"``, ...).
    name: ClassVar[str]
    #: Optional capabilities this backend has.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    # ------------------------------------------------------------------ admin

    def schema_status(self) -> SchemaStatus:
        """The stored schema version against the latest this backend writes."""
        return SchemaStatus(current=1, latest=1)

    def migrate(self) -> list[str]:
        """Upgrade the stored schema to the latest; returns a line per step taken."""
        return []

    def ping(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Check the store is reachable; raise a :class:`StorageError` saying why if not."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections and files. The store is not used after this."""

    # ------------------------------------------------------------------ backend

    @abc.abstractmethod
    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo: ...

    @abc.abstractmethod
    def _update_run(self, run: Run, expected_version: int) -> SessionInfo: ...

    @abc.abstractmethod
    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo: ...

    @abc.abstractmethod
    def _import_session(self, session: Session, replace: bool) -> SessionInfo: ...

    @abc.abstractmethod
    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool: ...

    @abc.abstractmethod
    def _erase_user(self, user_id: str) -> int: ...

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        raise StorageError(f"the {self.name} store cannot trim runs")

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        raise StorageError(f"the {self.name} store cannot replace runs")

    @abc.abstractmethod
    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        """The session with its runs, the last ``last_n_runs`` of them (all with ``None``).

        With ``before_run``, only the runs stored before that run count (history
        paging); a run the session does not hold is
        :class:`~sessionary.errors.RunNotFoundError`. Callers pass ``skip_corrupt`` and
        ``before_run`` only when set, so a backend written before them still works
        for the calls that do not use them.
        """

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        """The last messages, from whole runs: a backend that can pick runs overrides this."""
        if skip_corrupt:
            return messages_by_runs(
                lambda n: self._get_session(session_id, user_id, n, True), last_n
            )
        return messages_by_runs(lambda n: self._get_session(session_id, user_id, n), last_n)

    @abc.abstractmethod
    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None: ...

    @abc.abstractmethod
    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None: ...

    @abc.abstractmethod
    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        """One page in ``filters.order_by`` order, greatest :meth:`ListFilters.sort_key`
        first, starting after the position ``after`` (``None``: from the start)."""

    def _count_sessions(self, filters: ListFilters) -> int:
        """How many sessions pass ``filters``. This default pages through
        :meth:`_list_sessions`; a backend that can count in its index overrides it."""
        return count_by_listing(
            filters, lambda after: self._list_sessions(filters, MAX_LIST_LIMIT, after)
        )
