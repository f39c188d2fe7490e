"""The tail operations of :class:`~sessionary.AsyncStore`: replacing the last runs and
reading the last messages, as coroutines (the sync ones are on :class:`~sessionary.Store`).

Mixins of :class:`~sessionary.storage.aio.AsyncStore` and
:class:`~sessionary.storage.aio.DelegatingAsyncStore`, kept apart so each file stays
small; import them from :mod:`sessionary.storage.aio`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import OwnershipError, SessionNotFoundError, StorageError
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.backend import StoreBackend, messages_by_runs
from sessionary.storage.checks import (
    check_count,
    check_flag,
    check_optional_version,
    check_replacement,
)

__all__ = ["AsyncTailMethods", "DelegatingTailMethods"]

T = TypeVar("T")


class AsyncTailMethods(abc.ABC):
    """``replace_last_runs`` and ``get_messages`` of an async store, with their defaults."""

    name: ClassVar[str]

    async def replace_last_runs(
        self,
        session_id: str,
        count: int,
        runs: Sequence[Run] = (),
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> SessionInfo:
        """Replace the last ``count`` runs by ``runs`` in one write; see ``Store.replace_last_runs``."""  # noqa: E501
        checked = check_replacement(session_id, count, runs, user_id)
        check_optional_version(expected_version)
        try:
            return await self._replace_last_runs(
                session_id, user_id, count, checked, expected_version
            )
        except OwnershipError:
            raise SessionNotFoundError(session_id, user_id) from None

    async def get_messages(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n: int | None = None,
        skip_corrupt: bool = False,
    ) -> list[Message]:
        """The session's messages in order (the last ``last_n``); see ``Store.get_messages``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n, "last_n")
        check_flag(skip_corrupt, "skip_corrupt")
        return await self._get_messages(session_id, user_id, last_n, skip_corrupt)

    # ------------------------------------------------------------------ backend

    @abc.abstractmethod
    async def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None: ...

    async def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        raise StorageError(f"the {self.name} store cannot replace runs")

    async def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        # From whole runs, as StoreBackend._get_messages; a store that can pick runs overrides.
        read: dict[int | None, Session | None] = {}
        if last_n != 0:
            read[last_n] = first = await self._get_session(
                session_id, user_id, last_n, skip_corrupt
            )
            if first is not None and last_n is not None:
                seen = len(first.runs) + len(first.skipped_runs)
                if len(first.get_messages()) < last_n and first.run_count > seen:
                    read[None] = await self._get_session(session_id, user_id, None, skip_corrupt)
        return messages_by_runs(read.__getitem__, last_n)


class DelegatingTailMethods(AsyncTailMethods):
    """The tail operations of a :class:`~sessionary.storage.aio.DelegatingAsyncStore`."""

    @abc.abstractmethod
    async def _run_write(self, call: Callable[[StoreBackend], T]) -> T: ...

    @abc.abstractmethod
    async def _run_read(self, call: Callable[[StoreBackend], T]) -> T: ...

    async def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        return await self._run_write(
            lambda db: db._replace_last_runs(session_id, user_id, count, runs, expected_version)
        )

    async def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        return await self._run_read(
            lambda db: db._get_messages(session_id, user_id, last_n, skip_corrupt)
        )
