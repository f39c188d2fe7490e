"""The tail operations of :class:`~sessionary.caching.CachingStore`: a replace written
through to the cached entry, and the last messages read from a current entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sessionary.caching.copies import detached_run, is_current
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.storage.backend import StoreBackend


class _Caching(Protocol):
    """What these functions use of a :class:`~sessionary.caching.CachingStore`."""

    @property
    def store(self) -> StoreBackend: ...

    @property
    def _passthrough(self) -> dict[tuple[str | None, str], None]: ...

    def _cache_get(
        self, user_id: str | None, session_id: str, last_n_runs: int | None = None
    ) -> Session | None: ...

    def _count(self, what: str) -> None: ...


__all__ = ["messages_through", "replacing"]


def replacing(
    count: int, runs: tuple[Run, ...]
) -> Callable[[Session, SessionInfo], Session | None]:
    """The change ``replace_last_runs(count, runs)`` makes to a cached session (``None``:
    the entry cannot take it, drop it)."""
    added = tuple(detached_run(run) for run in runs)

    def change(cached: Session, info: SessionInfo) -> Session | None:
        if count > len(cached.runs) or len(cached.runs) != cached.run_count:
            return None
        kept = cached.runs[: len(cached.runs) - count]
        if len(kept) + len(added) != info.run_count:
            return None
        return Session.from_info(info, (*kept, *added))

    return change


def messages_through(
    store: _Caching,
    session_id: str,
    user_id: str | None,
    last_n: int | None,
    skip_corrupt: bool,
) -> list[Message]:
    """The last messages from the cached session if it is current, else from the store
    (which reads only the runs it needs; the cache is not filled by this read)."""
    if not skip_corrupt and (user_id, session_id) not in store._passthrough:
        cached = store._cache_get(user_id, session_id)
        if cached is not None:
            info = store.store._get_session_info(session_id, user_id)
            if info is not None and is_current(cached, info):
                store._count("_hits")
                messages = cached.get_messages()
                return (
                    messages[max(0, len(messages) - last_n) :] if last_n is not None else messages
                )
    return store.store._get_messages(session_id, user_id, last_n, skip_corrupt)
