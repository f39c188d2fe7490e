"""The session-cache contract."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs

from sessionary.domain.sessions import Session

__all__ = ["CacheStats", "SessionCache"]


@attrs.frozen
class CacheStats:
    """How a cache has fared since it was made."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0


class SessionCache(abc.ABC):
    """Keeps hydrated sessions keyed by ``(user_id, session_id)``.

    Entries are immutable :class:`~sessionary.Session` objects, so a session handed
    to a caller is never changed behind its back.
    """

    #: Registry name of the cache backend (``"memory"``, ``"redis"``).
    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def get(self, user_id: str | None, session_id: str) -> Session | None:
        """The cached session, or ``None`` (a miss)."""

    @abc.abstractmethod
    def put(self, user_id: str | None, session: Session) -> None:
        """Keep (or replace) a session."""

    @abc.abstractmethod
    def invalidate(self, user_id: str | None, session_id: str) -> None:
        """Forget a session."""

    @abc.abstractmethod
    def stats(self) -> CacheStats:
        """Hits, misses and evictions so far."""
