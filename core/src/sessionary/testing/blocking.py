"""The sync bridge of the async storage conformance suite: :class:`BlockingStore`."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

import attrs

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import InvalidInputError
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Capability, ListFilters, SchemaStatus, Store, encode_cursor
from sessionary.testing.loop_thread import LoopThread

__all__ = ["BlockingStore"]

T = TypeVar("T")


def _filter_arguments(filters: ListFilters) -> dict[str, Any]:
    """The keyword arguments of ``list_sessions``/``count_sessions`` that give ``filters``."""
    arguments = attrs.asdict(filters, recurse=False)
    del arguments["order_by"]
    return arguments


class BlockingStore(Store):
    """A sync :class:`Store` whose every call is a coroutine of ``inner`` on ``loop``.

    It exists so the sync conformance suite can exercise an async store clause for
    clause; it calls the async store's *public* coroutines, so their checks run too.
    Attributes it does not have are looked up on the async store.
    """

    name: ClassVar[str] = "async-bridge"

    def __init__(self, inner: AsyncStore, loop: LoopThread | None = None) -> None:
        self.inner = inner
        self._own_loop = loop is None
        self.loop = loop if loop is not None else LoopThread()

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """The async store's capabilities."""
        return self.inner.capabilities

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Not openable by URL."""
        raise InvalidInputError("a BlockingStore wraps an async store; it has no URL")

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "loop") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coro)

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        version = expected_version
        return self._run(
            self.inner.append_run(run, session_type=session_type, expected_version=version)
        )

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        return self._run(
            self.inner.replace_last_runs(
                session_id, count, runs, user_id=user_id, expected_version=expected_version
            )
        )

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        return self._run(
            self.inner.get_messages(
                session_id, user_id=user_id, last_n=last_n, skip_corrupt=skip_corrupt
            )
        )

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        return self._run(self.inner.update_run(run, expected_version=expected_version))

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        return self._run(
            self.inner.update_session(
                session_id, user_id=user_id, expected_version=expected_version, **changes
            )
        )

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        return self._run(self.inner.import_session(session, replace=replace))

    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        return self._run(
            self.inner.delete_session(
                session_id, user_id=user_id, expected_version=expected_version
            )
        )

    def _erase_user(self, user_id: str) -> int:
        return self._run(self.inner.erase_user(user_id))

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        return self._run(
            self.inner.trim_runs(
                session_id,
                keep_last=keep_last,
                user_id=user_id,
                expected_version=expected_version,
            )
        )

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        return self._run(
            self.inner.get_session(
                session_id,
                user_id=user_id,
                last_n_runs=last_n_runs,
                skip_corrupt=skip_corrupt,
                before_run=before_run,
            )
        )

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        return self._run(self.inner.get_session_info(session_id, user_id=user_id))

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        return self._run(self.inner.get_run(session_id, run_id, user_id=user_id))

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        cursor = None if after is None else encode_cursor(*after, filters.order_by)
        return self._run(
            self.inner.list_sessions(
                **_filter_arguments(filters), order_by=filters.order_by, limit=limit, cursor=cursor
            )
        )

    def _count_sessions(self, filters: ListFilters) -> int:
        return self._run(self.inner.count_sessions(**_filter_arguments(filters)))

    def schema_status(self) -> SchemaStatus:
        """The async store's schema status."""
        return self._run(self.inner.schema_status())

    def migrate(self) -> list[str]:
        """Migrate the async store."""
        return self._run(self.inner.migrate())

    def ping(self) -> None:
        """Ping the async store."""
        self._run(self.inner.ping())

    def close(self) -> None:
        """Close the async store (and the loop, if this bridge made it)."""
        if self.loop.loop.is_closed():
            return
        try:
            self._run(self.inner.close())
        finally:
            if self._own_loop:
                self.loop.stop()
